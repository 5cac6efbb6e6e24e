//! Fuzz harness of the AudioSpecificConfig parser (sluice-audio), which reads what an RTMP
//! publisher's AAC sequence header or an RTP ingest's SDP `config=` carries (untrusted).
//!
//! Plain Rust with no libFuzzer dependency: `crates/audio/tests/regressions.rs` includes this
//! file with `#[path]` and replays crash inputs under `cargo test -p sluice-audio`. So it names
//! crates only by absolute paths (`sluice_audio::…`), never `crate::`.

// ------------------------------------------------------------------ audio_specific_config

/// AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1): never panics; a config that parses has a
/// sampling rate from Table 1.18 (or an explicit 24-bit one), a channel configuration of 0–7, a
/// frame length of 1024 or 960, PS only with SBR; and parsing is a function of a prefix (extra
/// trailing bytes change nothing but what the sync extensions may read).
pub fn audio_specific_config(data: &[u8]) {
    let Ok(asc) = sluice_audio::asc::AudioSpecificConfig::parse(data) else {
        return;
    };
    assert!(asc.sample_rate > 0 && asc.sample_rate < 1 << 24);
    assert!(asc.channel_configuration <= 7);
    assert!(asc.frame_length == 1024 || asc.frame_length == 960);
    assert!(!asc.ps || asc.sbr, "PS implies SBR");
    if let Some(rate) = asc.extension_sample_rate {
        assert!(rate > 0 && rate < 1 << 24);
    }
    assert!(asc.channels() <= 8);
    let _ = asc.sampling_frequency_index();
}
