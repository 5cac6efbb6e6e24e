//! Fuzz crash reproducers, kept as tests (DESIGN.md: "crash reproducers become regression
//! tests"). Each input runs through the very harness its fuzz target runs
//! (`crates/fuzz/src/mp4.rs`, included below), so a reproducer fails here exactly as it
//! crashed there, under plain `cargo test -p sluice-mp4`.

#[allow(dead_code)]
#[path = "../../fuzz/src/mp4.rs"]
mod harness;

/// Empty input, the sequence headers alone, and a few frames with cuts and init segments.
#[test]
fn harness_accepts_trivial_and_broken_input() {
    harness::mp4_mux(&[]);
    harness::mp4_mux(&[1]);
    harness::mp4_mux(&[
        1, 0x0B, 0x40, 40, 0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65, 0x0F, 0x40, 48, 0x27, 1, 0, 0, 0,
    ]);
    harness::mp4_mux(&[
        1, 0x02, 0x40, 30, 0xAF, 1, 0x21, 0x00, 0x06, 0x40, 10, 0xAF, 1, 0x21, 0x00, 0x08, 0, 0,
    ]);
    harness::mp4_mux(&[0, 0x09, 0xFF, 0, 0x17, 0, 0, 0, 0, 1, 2, 3]);
}

/// The harness's sequence headers configure both tracks, so fuzzing reaches the frame paths.
#[test]
fn harness_sequence_headers_configure_tracks() {
    let video = sluice_mp4::Track::video(harness::AVC_SEQUENCE_HEADER).expect("avcC parses");
    assert_eq!(
        (video.width, video.height, video.codec_string.as_str()),
        (320, 240, "avc1.42c00d")
    );
    sluice_mp4::Track::audio(harness::AAC_SEQUENCE_HEADER).expect("ASC parses");
}

/// Fuzz crash (mp4_mux, 2026-12-06): decode times going back across a fragment made its end
/// before its start; the muxer now clamps a sample's ms time as it clamps its ticks.
#[test]
fn crash_time_going_back_in_a_fragment() {
    harness::mp4_mux(&[
        0x23, 0x7B, 0x01, 0x00, 0x02, 0x85, 0x0F, 0x11, 0xFF, 0x7B, 0x01, 0x00, 0x02, 0x85, 0x3F, 0x0F
    ]);
}

/// Fuzz crash (mp4_mux, 2026-12-06): an avcC whose SPS is one byte made h264-reader's
/// `decode_nal` subtract past 0; SPS shorter than 4 bytes are not parsed now, and the SPS
/// parsers run under `catch_unwind`.
#[test]
fn crash_one_byte_sps() {
    harness::mp4_mux(&[0x4A, 0x65, 0x6D, 0x17, 0x17, 0x00, 0x21, 0x3F, 0x01, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00]);
}

/// An Enhanced RTMP `ac-3` frame configures the audio track (flag 16: `configure`), then the
/// same frames are queued and cut into fragments; the init segment has the `ac-3` entry.
#[test]
fn harness_configures_ac3_from_a_frame() {
    let tag = [0x91, b'a', b'c', b'-', b'3', 0x0B, 0x77, 0x12, 0x34, 0x14, 0x40, 0x40, 0, 0, 0, 0];
    let mut input = vec![0];
    for flags in [16u8, 0, 2, 8, 0, 2] {
        input.extend_from_slice(&[flags, 4, 40]);
        input.extend_from_slice(&tag);
    }
    harness::mp4_mux(&input);
    let mut m = sluice_mp4::Fmp4Muxer::new();
    assert_eq!(m.configure(sluice_mp4::TrackKind::Audio, &tag).unwrap(), sluice_mp4::Pushed::Config { changed: false });
    assert_eq!(m.configure(sluice_mp4::TrackKind::Audio, &tag).unwrap(), sluice_mp4::Pushed::Ignored);
    assert_eq!(m.audio_track().unwrap().codec_string, "ac-3");
}
