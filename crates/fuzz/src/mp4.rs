//! Fuzz harness of the fragmented-MP4 muxer (sluice-mp4), which takes the hub's frames: FLV tag
//! bodies from publishers (untrusted: sequence headers with avcC/hvcC records, SPS, AAC and
//! Opus configurations, coded frames).
//!
//! Plain Rust with no libFuzzer dependency: `crates/mp4/tests/regressions.rs` includes this file
//! with `#[path]` and replays crash inputs under `cargo test -p sluice-mp4`. So it names crates
//! only by absolute paths (`sluice_mp4::…`), never `crate::`.

// ------------------------------------------------------------------ mp4_mux

/// A real H.264 sequence header (x264 Baseline 320×240: avcC with one SPS and one PPS) and an AAC-LC
/// 44.1 kHz stereo one, pushed first when bit 0 of byte 0 is set, so the frame paths are reached.
pub const AVC_SEQUENCE_HEADER: &[u8] = &[
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x42, 0xC0, 0x0D, 0xFF, 0xE1, 0x00, 0x16, 0x67, 0x42, 0xC0,
    0x0D, 0xDA, 0x05, 0x07, 0xEC, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0C, 0x83,
    0xC5, 0x0A, 0xA8, 0x01, 0x00, 0x04, 0x68, 0xCE, 0x0F, 0xC8,
];
pub const AAC_SEQUENCE_HEADER: &[u8] = &[0xAF, 0x00, 0x12, 0x10];

/// Byte 0: bit 0 pushes the sequence headers above first; bit 1 makes a muxer of Enhanced RTMP
/// video track `(byte 0 >> 2) & 3` only (`Fmp4Muxer::with_video_track`). Then records: `[flags][len][dts
/// delta][body: len bytes]` — flags bit 0 video/audio, bit 1 cut a fragment after it (bit 2:
/// before its decode time, else everything), bit 3 ask for the init segment, bit 4 configure
/// instead of push (`Fmp4Muxer::configure`: AC-3/E-AC-3 frames make their track).
/// Checks: never panics; every init segment decodes as `ftyp` + `moov`, every fragment as
/// `moof` + `mdat` with `mp4-atom`, its `trun` data offsets inside the fragment, sequence
/// numbers increasing; fragments' times never go back per track.
pub fn mp4_mux(data: &[u8]) {
    use mp4_atom::{Decode, Ftyp, Mdat, Moof, Moov};
    use sluice_mp4::TrackKind;
    let Some((&control, mut rest)) = data.split_first() else {
        return;
    };
    // bit 1: a muxer of one video track (an HLS rendition of a multitrack ladder), the id in bits 2–3
    let mut m = if control & 2 != 0 { sluice_mp4::Fmp4Muxer::with_video_track((control >> 2) & 3) } else { sluice_mp4::Fmp4Muxer::new() };
    if control & 1 != 0 {
        let _ = m.push_video(AVC_SEQUENCE_HEADER, 0.0);
        let _ = m.push_audio(AAC_SEQUENCE_HEADER, 0.0);
    }
    let mut dts = 0.0;
    let mut last_sequence = 0;
    let mut check_fragment = |f: &sluice_mp4::Fragment| {
        let mut cursor = std::io::Cursor::new(f.bytes.as_slice());
        let moof = Moof::decode(&mut cursor).expect("moof decodes");
        let moof_len = cursor.position() as usize;
        let mdat = Mdat::decode(&mut cursor).expect("mdat decodes");
        assert_eq!(
            cursor.position() as usize,
            f.bytes.len(),
            "nothing after the mdat"
        );
        assert!(
            moof.mfhd.sequence_number > last_sequence,
            "sequence numbers increase"
        );
        last_sequence = moof.mfhd.sequence_number;
        for traf in &moof.traf {
            for trun in &traf.trun {
                let offset = trun.data_offset.expect("data offset") as usize;
                let len: u64 = trun
                    .samples
                    .iter()
                    .map(|s| u64::from(s.size.unwrap_or(0)))
                    .sum();
                assert!(
                    offset >= moof_len + 8 && offset as u64 + len <= f.bytes.len() as u64,
                    "samples inside the mdat"
                );
            }
        }
        assert_eq!(
            f.samples as usize,
            moof.traf
                .iter()
                .map(|t| t.trun.iter().map(|r| r.samples.len()).sum::<usize>())
                .sum::<usize>()
        );
        assert!(!mdat.data.is_empty() || f.samples > 0);
        assert!(f.end_ms >= f.start_ms);
    };
    while rest.len() >= 4 {
        let flags = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], 0])) >> 6; // 0..=1020
        dts += f64::from(rest[2]) - 8.0; // may go back a little
        let body = &rest[3..rest.len().min(3 + len)];
        rest = &rest[3 + body.len()..];
        let _ = if flags & 16 != 0 {
            // configure: a sequence header, or an AC-3/E-AC-3 frame describing its track
            m.configure(if flags & 1 != 0 { TrackKind::Video } else { TrackKind::Audio }, body)
        } else if flags & 1 != 0 {
            m.push_video(body, dts)
        } else {
            m.push_audio(body, dts)
        };
        if flags & 2 != 0 {
            if let Ok(Some(f)) = m.fragment((flags & 4 != 0).then_some(dts)) {
                check_fragment(&f);
            }
        }
        if flags & 8 != 0 {
            if let Ok(init) = m.init_segment() {
                let mut cursor = std::io::Cursor::new(init.as_slice());
                Ftyp::decode(&mut cursor).expect("ftyp decodes");
                Moov::decode(&mut cursor).expect("moov decodes");
            }
        }
    }
    if let Ok(Some(f)) = m.finish() {
        check_fragment(&f);
    }
}
