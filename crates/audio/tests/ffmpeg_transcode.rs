//! AAC made by Debian's ffmpeg (a required test peer) → AacToOpus → libopus decoder: duration,
//! tone frequency, level and timing of what a browser would play.

mod common;

use common::*;
use sluice_audio::{AacToOpus, AudioError, OpusPacket, FRAME_SAMPLES};

/// Encodes a tone with ffmpeg, transcodes it, decodes the Opus and checks it.
fn check_tone(rate: u32, channels: u32, seconds: f64) {
    let right_hz = 1500;
    let dir = TempDir::new(&format!("tone{rate}x{channels}"));
    let adts_bytes = make_aac(&dir, rate, channels, seconds, right_hz);
    let adts = split_adts(&adts_bytes);
    assert_eq!((adts.sample_rate, adts.channels), (rate, channels));

    let t = AacToOpus::new(&adts.asc, 64_000).unwrap();
    assert_eq!((t.sample_rate(), t.channels() as u32), (rate, channels));
    let bitrate = if channels == 1 { 48_000 } else { 96_000 };
    let packets = transcode(&adts, bitrate).unwrap();

    // RFC 7587 §4.1: continuous 48 kHz timestamps from the first frame's pts (0 ms here).
    for (n, p) in packets.iter().enumerate() {
        assert_eq!(p.timestamp, (n * FRAME_SAMPLES) as u64);
    }

    // Duration within one Opus frame of the AAC stream's (frames × 1024 / rate).
    let pcm = decode_opus(&packets, channels);
    let aac_s = adts.frames.len() as f64 * 1024.0 / rate as f64;
    let opus_s = packets.len() as f64 * 0.020;
    assert!(
        (opus_s - aac_s).abs() <= 0.020 + 1e-9,
        "{rate} Hz x{channels}: Opus {opus_s} s vs AAC {aac_s} s"
    );
    assert_eq!(pcm.len(), packets.len() * FRAME_SAMPLES * channels as usize);

    // The tone: steady middle part (skip priming and the ends), per channel.
    let from = (0.3 * 48_000.0) as usize;
    let to = ((seconds - 0.3) * 48_000.0) as usize;
    for c in 0..channels as usize {
        let x = channel(&pcm, channels, c);
        let mid = &x[from..to];
        let want = if c == 0 { 1000.0 } else { right_hz as f64 };
        let hz = tone_hz(mid, 48_000);
        assert!(
            (hz - want).abs() < 2.0,
            "{rate} Hz x{channels} ch{c}: tone {hz} Hz, want {want}"
        );
        let level = rms(mid);
        eprintln!("{rate} Hz x{channels} ch{c}: {hz:.2} Hz, RMS {level:.4}");
        assert!(
            (0.07..0.105).contains(&level),
            "{rate} Hz x{channels} ch{c}: RMS {level}, want ≈ 0.088"
        );
    }

    // Timing: the tone starts where ffmpeg's own decode of the same ADTS starts it (both keep
    // the encoder's priming), so the trimmed delay left the time line exact.
    let reference = ffmpeg_decode(&dir, &adts_bytes);
    let ref_onset = onset(&channel(&reference, channels, 0), 0.06).unwrap() as f64 / rate as f64;
    let our_onset = onset(&channel(&pcm, channels, 0), 0.06).unwrap() as f64 / 48_000.0;
    eprintln!(
        "{rate} Hz x{channels}: {} packets ({opus_s} s) for {aac_s} s of AAC; onset {:.2} ms \
         (ffmpeg {:.2} ms)",
        packets.len(),
        our_onset * 1e3,
        ref_onset * 1e3
    );
    assert!(
        (our_onset - ref_onset).abs() < 0.0015,
        "{rate} Hz x{channels}: onset {our_onset} s, ffmpeg's {ref_onset} s"
    );
}

#[test]
fn aac_lc_44100_stereo_to_opus() {
    check_tone(44_100, 2, 2.0);
}

#[test]
fn aac_lc_48000_mono_to_opus() {
    check_tone(48_000, 1, 2.0);
}

#[test]
fn aac_lc_22050_stereo_to_opus() {
    check_tone(22_050, 2, 2.0);
}

/// ISO/IEC 14496-3 Table 1.18: every sampling frequency, 7.35 to 96 kHz.
#[test]
fn iso14496_3_table_1_18_every_sampling_frequency_to_opus() {
    for rate in [
        7_350, 8_000, 11_025, 12_000, 16_000, 24_000, 32_000, 64_000, 88_200, 96_000,
    ] {
        check_tone(rate, 1, 1.2);
    }
}

#[test]
fn timestamps_start_at_the_first_frame_pts() {
    let dir = TempDir::new("anchor");
    let adts = split_adts(&make_aac(&dir, 44_100, 2, 0.5, 1500));
    let mut t = AacToOpus::new(&adts.asc, 96_000).unwrap();
    let mut out = Vec::new();
    for (i, f) in adts.frames.iter().enumerate() {
        t.push(f, 1_000 + pts_ms(i, 44_100), &mut out).unwrap();
    }
    assert_eq!(out[0].timestamp, 48_000);
    assert!(out
        .windows(2)
        .all(|w| w[1].timestamp == w[0].timestamp + 960));
    // Algorithmic delay: rubato's half FFT block (160) + libopus lookahead (312).
    assert_eq!(t.delay_samples(), 160 + 312);
}

/// A frame that cannot be decoded is an error; the transcoder goes on with the next one, and
/// the hole is filled with silence so the rest stays on the time line.
#[test]
fn malformed_frame_is_an_error_and_the_next_frame_still_works() {
    let dir = TempDir::new("garbage");
    let adts = split_adts(&make_aac(&dir, 44_100, 2, 2.0, 1500));
    let clean = transcode(&adts, 96_000).unwrap();

    // ID_PCE (3 bits = 5) is refused by the decoder; a truncated frame runs out of bits.
    let pce = vec![0xA0, 0x12, 0x34, 0x56];
    let truncated = adts.frames[11][..adts.frames[11].len() / 3].to_vec();
    for garbage in [pce, truncated] {
        let mut t = AacToOpus::new(&adts.asc, 96_000).unwrap();
        let mut out: Vec<OpusPacket> = Vec::new();
        for (i, f) in adts.frames.iter().enumerate() {
            let pts = pts_ms(i, 44_100);
            if i == 10 || i == 40 {
                // Frame i replaced by garbage: the caller sees the error and drops it.
                let before = out.len();
                let err = t.push(&garbage, pts, &mut out).unwrap_err();
                assert!(matches!(err, AudioError::MalformedFrame(_)), "{err:?}");
                assert_eq!(err.code(), "AUDIO_FRAME_MALFORMED");
                assert_eq!(out.len(), before, "nothing output for a bad frame");
                continue;
            }
            t.push(f, pts, &mut out).unwrap();
        }
        t.flush(&mut out).unwrap();
        assert_eq!(
            out.len(),
            clean.len(),
            "holes filled: same duration as the clean run"
        );
        assert!(out
            .iter()
            .enumerate()
            .all(|(n, p)| p.timestamp == (n * 960) as u64));
        let pcm = decode_opus(&out, 2);
        let left = channel(&pcm, 2, 0);
        // After the second hole (frame 40 ends at 0.95 s) the tone is intact.
        let tail = &left[(1.0 * 48_000.0) as usize..(1.7 * 48_000.0) as usize];
        assert!((tone_hz(tail, 48_000) - 1000.0).abs() < 2.0);
        assert!(rms(tail) > 0.07);
    }
}

#[test]
fn frames_never_pushed_are_filled_with_silence() {
    let dir = TempDir::new("lost");
    let adts = split_adts(&make_aac(&dir, 22_050, 2, 2.0, 1500));
    let clean = transcode(&adts, 96_000).unwrap();
    let mut t = AacToOpus::new(&adts.asc, 96_000).unwrap();
    let mut out = Vec::new();
    for (i, f) in adts.frames.iter().enumerate() {
        if (20..23).contains(&i) {
            continue; // three frames (139 ms) lost upstream
        }
        t.push(f, pts_ms(i, 22_050), &mut out).unwrap();
    }
    t.flush(&mut out).unwrap();
    assert_eq!(out.len(), clean.len());
    // The hole is silent in the middle: frames 20..23 span 0.929–1.068 s.
    let pcm = decode_opus(&out, 2);
    let hole = &channel(&pcm, 2, 0)[(0.96 * 48_000.0) as usize..(1.04 * 48_000.0) as usize];
    assert!(rms(hole) < 0.01, "hole RMS {}", rms(hole));
}

/// Mutated and random frames never panic (debug build: overflow checks on), whatever the
/// decoder makes of them, and a good frame still decodes afterwards.
#[test]
fn mutated_frames_never_panic() {
    let dir = TempDir::new("fuzz");
    for (rate, channels) in [(44_100, 2), (48_000, 1)] {
        let adts = split_adts(&make_aac(&dir, rate, channels, 1.0, 1500));
        let mut t = AacToOpus::new(&adts.asc, 64_000).unwrap();
        let mut out = Vec::new();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut ok, mut err) = (0, 0);
        // SLUICE_AUDIO_FUZZ_ROUNDS raises the count for a longer campaign.
        let rounds = std::env::var("SLUICE_AUDIO_FUZZ_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000usize);
        for round in 0..rounds {
            let good = &adts.frames[round % adts.frames.len()];
            let mut f = good.clone();
            match round % 4 {
                0 => {
                    for _ in 0..1 + next() % 8 {
                        let bit = (next() % (f.len() as u64 * 8)) as usize;
                        f[bit / 8] ^= 0x80 >> (bit % 8);
                    }
                }
                1 => f.truncate((next() % f.len() as u64) as usize),
                2 => {
                    let len = 1 + (next() % 800) as usize;
                    f = (0..len).map(|_| next() as u8).collect();
                }
                _ => {
                    let at = (next() % f.len() as u64) as usize;
                    for b in &mut f[at..] {
                        *b = next() as u8;
                    }
                }
            }
            match t.push(&f, (round as i64) * 21, &mut out) {
                Ok(()) => ok += 1,
                Err(_) => err += 1,
            }
            out.clear();
        }
        eprintln!("{rate} Hz x{channels}: {ok} mutated frames decoded, {err} refused");
        t.push(&adts.frames[5], rounds as i64 * 21, &mut out)
            .unwrap();
    }
}

#[test]
fn invalid_inputs_are_errors() {
    // ISO/IEC 14496-3 §1.6.2.1 configs the transcoder refuses.
    let cases: [(&[u8], AudioError); 5] = [
        // AAC Main (1), 44.1 kHz, stereo
        (
            &[0x0A, 0x10],
            AudioError::UnsupportedObjectType { object_type: 1 },
        ),
        // AAC LC, 44.1 kHz, 5.1 (channelConfiguration 6)
        (
            &[0x12, 0x30],
            AudioError::UnsupportedChannelConfiguration {
                channel_configuration: 6,
            },
        ),
        // AAC LC, 44.1 kHz, channels from a PCE (0)
        (
            &[0x12, 0x00],
            AudioError::UnsupportedChannelConfiguration {
                channel_configuration: 0,
            },
        ),
        // AAC LC, 44.1 kHz, stereo, frameLengthFlag 1
        (
            &[0x12, 0x14],
            AudioError::UnsupportedFrameLength { frame_length: 960 },
        ),
        // AAC LC, escape frequency 44 056 Hz (not in Table 1.18), stereo
        (
            &[0x17, 0x80, 0x56, 0x0C, 0x10],
            AudioError::UnsupportedSampleRate {
                sample_rate: 44_056,
            },
        ),
    ];
    for (asc, want) in cases {
        assert_eq!(AacToOpus::new(asc, 64_000).unwrap_err(), want, "{asc:02x?}");
    }
    assert!(matches!(
        AacToOpus::new(&[0x12], 64_000),
        Err(AudioError::MalformedAudioSpecificConfig(_))
    ));
    for bitrate in [0, 5_999, 510_001] {
        assert_eq!(
            AacToOpus::new(&[0x12, 0x10], bitrate).unwrap_err(),
            AudioError::InvalidBitrate { bitrate }
        );
    }

    let mut t = AacToOpus::new(&[0x12, 0x10], 64_000).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        t.push(&[], 0, &mut out),
        Err(AudioError::FrameSize { length: 0 })
    );
    assert_eq!(
        t.push(&vec![0x21; 8193], 0, &mut out),
        Err(AudioError::FrameSize { length: 8193 })
    );
    assert_eq!(
        t.push(&[0x21, 0x00], -1, &mut out),
        Err(AudioError::InvalidTimestamp { pts_ms: -1 })
    );
    assert_eq!(
        t.push(&[0x21, 0x00], (1 << 40) + 1, &mut out),
        Err(AudioError::InvalidTimestamp {
            pts_ms: (1 << 40) + 1
        })
    );
    assert!(out.is_empty());
}

/// HE-AAC (explicit signalling, ISO/IEC 14496-3 §1.6.5.2) is decoded through its AAC-LC core.
#[test]
fn he_aac_config_decodes_its_core() {
    // AOT 5, core 24 kHz stereo, SBR 48 kHz, core AOT 2.
    let t = AacToOpus::new(&[0x2B, 0x11, 0x88, 0x00], 64_000).unwrap();
    assert_eq!((t.sample_rate(), t.channels()), (24_000, 2));
    assert!(t.config().sbr);
    assert_eq!(t.config().extension_sample_rate, Some(48_000));
}

#[test]
fn flush_resets_and_a_new_time_line_starts() {
    let dir = TempDir::new("flush");
    let adts = split_adts(&make_aac(&dir, 48_000, 1, 0.5, 1500));
    let mut t = AacToOpus::new(&adts.asc, 48_000).unwrap();
    let mut out = Vec::new();
    t.flush(&mut out).unwrap();
    assert!(out.is_empty(), "flush before any frame does nothing");
    for (i, f) in adts.frames.iter().enumerate() {
        t.push(f, pts_ms(i, 48_000), &mut out).unwrap();
    }
    t.flush(&mut out).unwrap();
    let first_run = out.len();
    // 0.5 s of input (24 frames of 1024 = 24 576 samples) → ceil(24 576 / 960) = 26 packets.
    assert_eq!(first_run, (adts.frames.len() * 1024).div_ceil(960));
    t.push(&adts.frames[3], 10_000, &mut out).unwrap();
    t.push(&adts.frames[4], 10_021, &mut out).unwrap();
    assert_eq!(out[first_run].timestamp, 480_000);
}
