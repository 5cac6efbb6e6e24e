//! Fuzz harness of the MCU mixer's input side (sluice-mixer): FLV video and audio tag bodies of
//! any publisher reach OpenH264's decoder, Symphonia's AAC decoder and libopus when their
//! stream is mixed (untrusted).
//!
//! Plain Rust with no libFuzzer dependency: `crates/mixer/tests/regressions.rs` includes this
//! file with `#[path]` and replays crash inputs under `cargo test -p sluice-mixer`. So it names
//! crates only by absolute paths (`sluice_mixer::…`), never `crate::`.

// ------------------------------------------------------------------ mixer_inputs

/// A valid AVC sequence header body (Baseline 64x64, SPS and PPS from OpenH264) so that the
/// decoder gets past its configuration and meets the fuzzed access units.
const AVC_SEQUENCE_HEADER: &[u8] = &[
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x42, 0xD0, 0x0B, 0xFF, 0xE1, 0x00, 0x0C, 0x67, 0x42, 0xD0,
    0x0B, 0x8C, 0x68, 0x47, 0x20, 0x1E, 0x11, 0x08, 0xD4, 0x01, 0x00, 0x04, 0x68, 0xCE, 0x3C, 0x80,
];
/// An AAC-LC 48 kHz stereo sequence header body.
const AAC_SEQUENCE_HEADER: &[u8] = &[0xAF, 0x00, 0x11, 0x90];
/// An Enhanced RTMP Opus sequence header body (`ExAudioTagHeader` packet type 0, `Opus`).
const OPUS_SEQUENCE_HEADER: &[u8] = &[0x90, b'O', b'p', b'u', b's'];

/// The mixer never panics on input and keeps producing output: records of
/// `[control][len u16 BE][body]`; control bit 0: video or audio, bit 1: input 0 or 1, bit 2:
/// prefix the body with a video (`17 01 000000`) or audio (`AF 01`) frame header, bits 3–7: how
/// far the timestamp and the clock move (0–31 × 7 ms). Both inputs start configured (AVC; AAC
/// on input 0, Opus on input 1), then anything goes, sequence headers included.
pub fn mixer_inputs(data: &[u8]) {
    let config = sluice_mixer::MixConfig {
        width: 64,
        height: 48,
        latency_ms: 0,
        input_timeout_ms: 500,
        ..sluice_mixer::MixConfig::default()
    };
    let Ok(mut mixer) = sluice_mixer::Mixer::new(config) else {
        return; // a build without an AAC encoder
    };
    let mut out = Vec::new();
    for id in 0..2 {
        let _ = mixer.add_input(id, 1.0, id == 0);
        let _ = mixer.push_video(id, AVC_SEQUENCE_HEADER, 0, 0);
        let audio = if id == 0 {
            AAC_SEQUENCE_HEADER
        } else {
            OPUS_SEQUENCE_HEADER
        };
        let _ = mixer.push_audio(id, audio, 0, 0);
    }
    let (mut now, mut ts) = (0i64, 0i64);
    let mut rest = data;
    while rest.len() >= 3 {
        let control = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let body = &rest[3..3 + len];
        rest = &rest[3 + len..];
        let step = i64::from(control >> 3) * 7;
        now += step;
        ts += step;
        let id = u32::from(control >> 1 & 1);
        let video = control & 1 == 1;
        let framed;
        let body = if control & 4 != 0 {
            framed = [
                if video {
                    &[0x17u8, 1, 0, 0, 0][..]
                } else {
                    &[0xAF, 1][..]
                },
                body,
            ]
            .concat();
            &framed[..]
        } else {
            body
        };
        let r = if video {
            mixer.push_video(id, body, ts, now)
        } else {
            mixer.push_audio(id, body, ts, now)
        };
        if let Err(e) = r {
            assert!(e.code().starts_with("MIX_"));
        }
        let before = out.len();
        if mixer.poll(now, &mut out).is_ok() {
            for f in &out[before..] {
                assert!(f.body.len() >= 2, "an empty output body");
            }
        }
    }
    let _ = mixer.poll(now + 200, &mut out);
    assert!(mixer.visible_inputs(now + 200) <= 2);
}
