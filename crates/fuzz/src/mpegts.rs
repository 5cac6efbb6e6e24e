//! Fuzz harness of the MPEG-TS demuxer (sluice-mpegts), which reads what an SRT publisher sends
//! (untrusted, after SRT decryption).
//!
//! Plain Rust with no libFuzzer dependency: `crates/mpegts/tests/regressions.rs` includes this
//! file with `#[path]` and replays crash inputs under `cargo test -p sluice-mpegts`. So it names
//! crates only by absolute paths (`sluice_mpegts::…`), never `crate::`.

// ------------------------------------------------------------------ mpegts_demux

/// Byte 0 picks how the rest is cut into pieces (1 + its low 6 bits bytes each, so a packet may
/// arrive in parts); the rest is a transport stream, usually mutated from a real one (a valid
/// PAT/PMT at the start helps reach the PES paths: the harness prepends one when bit 7 of byte 0
/// is set, with AAC audio, or Opus when bit 6 is set too).
/// Checks: never panics; the events are the same whether the stream comes whole or in pieces;
/// video units follow a VideoConfig with the codec's parameter sets, are length-prefixed NAL
/// units tiling the data and never hold a parameter set, delimiter or filler; every
/// unit stays under the PES bound; decode times per kind never go back by more than 10 s
/// (the unwrapper splices jumps); pts ≥ dts for audio.
pub fn mpegts_demux(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let mut input = Vec::new();
    if control & 0x80 != 0 {
        // PAT (program 1 → PMT PID 0x1000) and PMT (H.264 on 0x100, AAC on 0x101), as ffmpeg writes them.
        let mut m = sluice_mpegts::TsMuxer::new();
        m.set_avc_config(&[0x67, 0x42, 0, 0x1E], &[0x68, 0xCE], 4);
        if control & 0x40 != 0 {
            m.set_opus_config(2);
        } else {
            m.set_aac_config(&[0x12, 0x10]);
        }
        m.video(&[0, 0, 0, 2, 0x65, 0x88], 0, 0, true, &mut input);
    }
    input.extend_from_slice(rest);
    const MAX_PES: usize = 1 << 16;

    let whole = {
        let mut d = sluice_mpegts::TsDemuxer::new(MAX_PES);
        let mut out = Vec::new();
        d.push(&input, &mut out);
        d.flush(&mut out);
        out
    };
    let pieces = {
        let step = 1 + usize::from(control & 0x3F);
        let mut d = sluice_mpegts::TsDemuxer::new(MAX_PES);
        let mut out = Vec::new();
        for piece in input.chunks(step) {
            d.push(piece, &mut out);
        }
        d.flush(&mut out);
        out
    };
    assert_eq!(whole, pieces, "the split changed the events");

    let mut last = [i64::MIN; 2];
    for e in &whole {
        let sluice_mpegts::DemuxEvent::Unit(u) = e else {
            continue;
        };
        assert!(u.data.len() <= MAX_PES);
        let video = u.kind == sluice_mpegts::UnitKind::Video;
        if video {
            let mut at = 0;
            while at < u.data.len() {
                let len = u32::from_be_bytes(u.data[at..at + 4].try_into().unwrap()) as usize;
                assert!(len > 0, "empty NAL unit");
                let t = u.data[at + 4] & 0x1F;
                assert!(
                    !matches!(t, 7 | 8 | 9 | 12),
                    "NAL type {t} left in an access unit"
                );
                at += 4 + len;
                assert!(at <= u.data.len(), "NAL lengths run past the unit");
            }
        } else {
            assert_eq!(u.pts, u.dts);
        }
        let slot = &mut last[usize::from(video)];
        if *slot != i64::MIN {
            assert!(
                u.dts >= *slot - 10 * 90_000 - 100_000,
                "dts went back {} ticks",
                *slot - u.dts
            );
        }
        *slot = (*slot).max(u.dts);
    }
}
