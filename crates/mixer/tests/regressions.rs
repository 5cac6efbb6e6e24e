//! Fuzz crash reproducers, kept as tests (DESIGN.md: "crash reproducers become regression
//! tests"). Each input runs through the very harness its fuzz target runs
//! (`crates/fuzz/src/mixer.rs`, included below), so a reproducer fails here exactly as it
//! crashed there, under plain `cargo test -p sluice-mixer`.

#[allow(dead_code)]
#[path = "../../fuzz/src/mixer.rs"]
mod harness;

/// Empty input, garbage, and a real stream: an IDR picture and AAC frames from the crate's own
/// encoders, framed as the harness reads records.
#[test]
fn harness_accepts_trivial_and_real_input() {
    harness::mixer_inputs(&[]);
    harness::mixer_inputs(&[0xFF; 64]);
    harness::mixer_inputs(&[
        0x0D, 0x00, 0x05, 0x65, 0x88, 0x84, 0x00, 0x33, 0x0C, 0x00, 0x02, 0x21, 0x10,
    ]);
    use sluice_mixer::h264::{EncoderSettings, H264Encoder};
    let mut e = H264Encoder::new(&EncoderSettings {
        width: 64,
        height: 48,
        frame_rate: 30.0,
        bitrate: 100_000,
        keyframe_interval: 30,
    })
    .unwrap();
    let mut data = Vec::new();
    for k in 0..10 {
        let au = e
            .encode(
                &sluice_mixer::Picture::filled(64, 48, [81, 90, 240]),
                k * 33,
            )
            .unwrap()
            .unwrap()
            .access_unit;
        // Video, input 0 and 1 in turn, frame header added, 35 ms apart.
        for input in 0..2u8 {
            data.push(0x05 | (input << 1) | (5 << 3));
            data.extend_from_slice(&(au.len() as u16).to_be_bytes());
            data.extend_from_slice(&au);
        }
    }
    harness::mixer_inputs(&data);
}
