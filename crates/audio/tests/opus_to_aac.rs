//! Opus made by libopus (the WebRTC publisher's side) → OpusToAac → Symphonia's AAC decoder
//! (the RTMP player's side): tone frequency, level, timing and timestamps, with packet loss,
//! DTX, long gaps, wraps and garbage. Needs the AAC encoder (the default `fdk-aac` feature).
#![cfg(feature = "fdk-aac")]

mod common;

use common::{channel, onset, rms, tone_hz};
use sluice_audio::asc::AudioSpecificConfig;
use sluice_audio::{AacFrame, AudioError, OpusToAac, DEFAULT_AAC_BITRATE, MAX_OPUS_PACKET_BYTES};
use symphonia_codec_aac::AacDecoder;
use symphonia_core::codecs::audio::well_known::CODEC_ID_AAC;
use symphonia_core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia_core::packet::PacketRef;
use symphonia_core::units::{Duration, Timestamp};

const RATE: u32 = 48_000;
/// 20 ms Opus frames, as WebRTC sends.
const OPUS_FRAME: usize = 960;
/// Tone amplitude: RMS 0.25/√2 ≈ 0.177.
const AMPLITUDE: f32 = 0.25;
const LEFT_HZ: f64 = 1000.0;
const RIGHT_HZ: f64 = 1500.0;

/// Interleaved PCM: `lead` s of silence, then a tone (1 kHz left or mono, 1.5 kHz right) until
/// `seconds`.
fn tone_pcm(channels: usize, seconds: f64, lead: f64) -> Vec<f32> {
    let n = (seconds * RATE as f64) as usize;
    let start = (lead * RATE as f64) as usize;
    let mut pcm = Vec::with_capacity(n * channels);
    for i in 0..n {
        for c in 0..channels {
            let hz = if c == 0 { LEFT_HZ } else { RIGHT_HZ };
            let t = i as f64 / RATE as f64;
            let v = if i >= start {
                AMPLITUDE * (2.0 * std::f64::consts::PI * hz * t).sin() as f32
            } else {
                0.0
            };
            pcm.push(v);
        }
    }
    pcm
}

/// Encodes interleaved PCM with libopus into 20 ms packets with RTP timestamps from
/// `first_ts` (+960 each, wrapping).
fn opus_packets(
    pcm: &[f32],
    channels: usize,
    encoder: &mut opus::Encoder,
    first_ts: u32,
) -> Vec<(Vec<u8>, u32)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4000];
    for (i, frame) in pcm.chunks_exact(OPUS_FRAME * channels).enumerate() {
        let len = encoder.encode_float(frame, &mut buf).expect("opus encode");
        out.push((
            buf[..len].to_vec(),
            first_ts.wrapping_add((i * OPUS_FRAME) as u32),
        ));
    }
    out
}

fn opus_encoder(channels: usize, bitrate: i32, app: opus::Application) -> opus::Encoder {
    let ch = if channels == 1 {
        opus::Channels::Mono
    } else {
        opus::Channels::Stereo
    };
    let mut e = opus::Encoder::new(RATE, ch, app).unwrap();
    e.set_bitrate(opus::Bitrate::Bits(bitrate)).unwrap();
    e
}

fn tone_packets(channels: usize, seconds: f64, lead: f64, first_ts: u32) -> Vec<(Vec<u8>, u32)> {
    let pcm = tone_pcm(channels, seconds, lead);
    let mut enc = opus_encoder(
        channels,
        32_000 * channels as i32 + 32_000,
        opus::Application::Audio,
    );
    opus_packets(&pcm, channels, &mut enc, first_ts)
}

/// What a player does: the reference decoder for the Opus side (libopus, straight).
fn decode_opus(packets: &[(Vec<u8>, u32)], channels: usize) -> Vec<f32> {
    let ch = if channels == 1 {
        opus::Channels::Mono
    } else {
        opus::Channels::Stereo
    };
    let mut dec = opus::Decoder::new(RATE, ch).unwrap();
    let mut buf = vec![0f32; 5760 * channels];
    let mut pcm = Vec::new();
    for (p, _) in packets {
        let n = dec.decode_float(p, &mut buf, false).unwrap();
        pcm.extend_from_slice(&buf[..n * channels]);
    }
    pcm
}

/// Decodes raw AAC access units with Symphonia (the ASC from the transcoder), checking each
/// gives 1 024 samples of `channels`.
fn decode_aac(asc: &[u8], frames: &[AacFrame], channels: usize) -> Vec<f32> {
    let mut params = AudioCodecParameters::new();
    params
        .for_codec(CODEC_ID_AAC)
        .with_extra_data(asc.to_vec().into_boxed_slice());
    let mut dec = AacDecoder::try_new(&params, &AudioDecoderOptions::default()).unwrap();
    let mut pcm = Vec::new();
    let mut one = Vec::new();
    for f in frames {
        let p = PacketRef::new(0, Timestamp::new(0), Duration::from(1024u64), &f.data);
        let buf = dec.decode_ref(&p).expect("AAC access unit decodes");
        assert_eq!((buf.frames(), buf.num_planes()), (1024, channels));
        buf.copy_to_vec_interleaved(&mut one);
        pcm.extend_from_slice(&one);
    }
    pcm
}

fn transcode(t: &mut OpusToAac, packets: &[(Vec<u8>, u32)]) -> Vec<AacFrame> {
    let mut out = Vec::new();
    for (p, ts) in packets {
        t.push(p, *ts, &mut out).expect("valid packet");
    }
    t.flush(&mut out).unwrap();
    out
}

/// Units are 1 024 ticks apart from `first`.
fn assert_continuous(frames: &[AacFrame], first: u64) {
    for (k, f) in frames.iter().enumerate() {
        assert_eq!(f.timestamp, first + 1024 * k as u64, "unit {k}");
        assert!((f.pts_ms() - f.timestamp as f64 / 48.0).abs() < 1e-9);
    }
}

/// Tone frequency and level of each channel between `from` and `to` seconds.
fn check_tone(pcm: &[f32], channels: usize, tones: &[f64], from: f64, to: f64, what: &str) {
    let (a, b) = ((from * RATE as f64) as usize, (to * RATE as f64) as usize);
    for (c, &want) in tones.iter().enumerate().take(channels) {
        let x = channel(pcm, channels as u32, c);
        let mid = &x[a..b];
        let hz = tone_hz(mid, RATE);
        let level = rms(mid);
        eprintln!("{what} ch{c}: {hz:.2} Hz, RMS {level:.4}");
        assert!(
            (hz - want).abs() < 2.0,
            "{what} ch{c}: {hz} Hz, want {want}"
        );
        assert!(
            (0.15..0.20).contains(&level),
            "{what} ch{c}: RMS {level}, want ≈ 0.177"
        );
    }
}

fn check(opus_channels: usize, aac_channels: u32, tones: &[f64]) {
    let what = format!("opus x{opus_channels} → aac x{aac_channels}");
    let first_ts = 123_456_789;
    let seconds = 2.0;
    let packets = tone_packets(opus_channels, seconds, 0.1, first_ts);
    let mut t = OpusToAac::new(aac_channels, DEFAULT_AAC_BITRATE).unwrap();
    assert_eq!(t.delay_samples(), 2048);

    // ISO/IEC 14496-3 §1.6.2.1: AAC LC, 48 kHz (index 3), the channel count.
    let asc = AudioSpecificConfig::parse(t.audio_specific_config()).unwrap();
    assert_eq!(
        (
            asc.object_type,
            asc.sample_rate,
            asc.channel_configuration,
            asc.frame_length
        ),
        (2, 48_000, aac_channels as u8, 1024)
    );
    let want_asc: &[u8] = if aac_channels == 1 {
        &[0x11, 0x88]
    } else {
        &[0x11, 0x90]
    };
    assert_eq!(t.audio_specific_config(), want_asc);

    let frames = transcode(&mut t, &packets);
    assert_continuous(&frames, first_ts as u64);
    // The units cover the Opus time line (packets × 960), rounded up to 1 024.
    let span = packets.len() * OPUS_FRAME;
    assert_eq!(frames.len(), span.div_ceil(1024), "{what}: units");
    let stats = t.stats();
    assert_eq!(
        (stats.packets, stats.concealed_samples),
        (packets.len() as u64, 0)
    );

    let ch = aac_channels as usize;
    let pcm = decode_aac(t.audio_specific_config(), &frames, ch);
    check_tone(&pcm, ch, tones, 0.4, seconds - 0.3, &what);

    // Timing: the tone starts where a straight Opus decode starts it (both include the Opus
    // encoder's lookahead): the trimmed AAC delay left the time line exact.
    let reference = decode_opus(&packets, opus_channels);
    let ref_onset = onset(&channel(&reference, opus_channels as u32, 0), 0.05).unwrap();
    let our_onset = onset(&channel(&pcm, aac_channels, 0), 0.05).unwrap();
    eprintln!(
        "{what}: {} units, {:.1} kB/s, onset {:.2} ms (Opus decode {:.2} ms)",
        frames.len(),
        frames.iter().map(|f| f.data.len()).sum::<usize>() as f64 / seconds / 1e3,
        our_onset as f64 / 48.0,
        ref_onset as f64 / 48.0
    );
    assert!(
        (our_onset as i64 - ref_onset as i64).abs() <= 48,
        "{what}: onset at {our_onset}, Opus decode's at {ref_onset}"
    );
}

#[test]
fn stereo_opus_to_stereo_aac() {
    check(2, 2, &[LEFT_HZ, RIGHT_HZ]);
}

#[test]
fn mono_opus_to_mono_aac() {
    check(1, 1, &[LEFT_HZ]);
}

#[test]
fn mono_opus_to_stereo_aac_plays_on_both_channels() {
    check(1, 2, &[LEFT_HZ, LEFT_HZ]);
}

#[test]
fn stereo_opus_to_mono_aac_is_mixed_down() {
    let packets = tone_packets(2, 1.0, 0.0, 0);
    let mut t = OpusToAac::new(1, 64_000).unwrap();
    let frames = transcode(&mut t, &packets);
    let pcm = decode_aac(t.audio_specific_config(), &frames, 1);
    // (sin 1 kHz + sin 1.5 kHz) / 2: RMS 0.25 × ½ ≈ 0.125.
    let level = rms(&pcm[RATE as usize / 4..3 * RATE as usize / 4]);
    assert!((0.10..0.15).contains(&level), "RMS {level}");
}

#[test]
fn lost_packets_are_concealed_on_a_continuous_time_line() {
    let first_ts = 4_000_000_000; // wraps 2^32 after ~6 s: not reached here
    let packets = tone_packets(2, 2.0, 0.0, first_ts);
    // Packets 50..53 lost (60 ms), and 80 (one 20 ms frame).
    let kept: Vec<_> = packets
        .iter()
        .enumerate()
        .filter(|(i, _)| !(50..53).contains(i) && *i != 80)
        .map(|(_, p)| p.clone())
        .collect();
    let mut t = OpusToAac::new(2, DEFAULT_AAC_BITRATE).unwrap();
    let frames = transcode(&mut t, &kept);
    assert_continuous(&frames, first_ts as u64);
    assert_eq!(frames.len(), (packets.len() * OPUS_FRAME).div_ceil(1024));
    let stats = t.stats();
    assert_eq!(stats.concealed_samples, 4 * OPUS_FRAME as u64);
    assert_eq!((stats.discontinuities, stats.late_packets), (0, 0));
    let pcm = decode_aac(t.audio_specific_config(), &frames, 2);
    // The tone carries on after the losses, in time (same frequency, same level).
    check_tone(&pcm, 2, &[LEFT_HZ, RIGHT_HZ], 1.75, 1.95, "after loss");
    // Concealment keeps sound going through the gap (libopus extrapolates the tone).
    let gap = channel(&pcm, 2, 0);
    let level = rms(&gap[50 * OPUS_FRAME..53 * OPUS_FRAME]);
    eprintln!("concealed 60 ms: RMS {level:.4}");
    assert!(level > 0.02, "concealed RMS {level}");
}

#[test]
fn late_and_duplicate_packets_are_dropped() {
    let packets = tone_packets(1, 0.5, 0.0, 1000);
    let mut t = OpusToAac::new(1, 64_000).unwrap();
    let mut out = Vec::new();
    for (i, (p, ts)) in packets.iter().enumerate() {
        if i == 10 {
            continue; // arrives late, after 11
        }
        t.push(p, *ts, &mut out).unwrap();
        if i == 11 {
            let before = out.len();
            t.push(&packets[10].0, packets[10].1, &mut out).unwrap();
            t.push(p, *ts, &mut out).unwrap(); // duplicate
            assert_eq!(out.len(), before);
        }
    }
    t.flush(&mut out).unwrap();
    assert_continuous(&out, 1000);
    let stats = t.stats();
    assert_eq!(stats.late_packets, 2);
    assert_eq!(stats.concealed_samples, OPUS_FRAME as u64);
}

#[test]
fn long_gap_restarts_the_time_line_at_the_new_timestamp() {
    let first_ts = 10_000;
    let a = tone_packets(2, 1.0, 0.0, first_ts);
    // 5 s later (beyond the 1 s concealment limit).
    let second_ts = first_ts + 6 * RATE;
    let b = tone_packets(2, 1.0, 0.0, second_ts);
    let mut t = OpusToAac::new(2, DEFAULT_AAC_BITRATE).unwrap();
    let mut out = Vec::new();
    for (p, ts) in &a {
        t.push(p, *ts, &mut out).unwrap();
    }
    let before = out.len();
    t.push(&b[0].0, b[0].1, &mut out).unwrap();
    // The first time line was flushed whole by the jump.
    assert_eq!(out.len(), (a.len() * OPUS_FRAME).div_ceil(1024));
    assert!(out.len() > before);
    for (p, ts) in &b[1..] {
        t.push(p, *ts, &mut out).unwrap();
    }
    t.flush(&mut out).unwrap();
    let (first, second) = out.split_at((a.len() * OPUS_FRAME).div_ceil(1024));
    assert_continuous(first, first_ts as u64);
    assert_continuous(second, second_ts as u64);
    assert_eq!(second.len(), (b.len() * OPUS_FRAME).div_ceil(1024));
    assert_eq!(t.stats().discontinuities, 1);
    assert_eq!(t.stats().concealed_samples, 0);
    // Both parts decode to the tone (the decoder restarts with the stream's time line).
    let pcm = decode_aac(t.audio_specific_config(), second, 2);
    check_tone(&pcm, 2, &[LEFT_HZ, RIGHT_HZ], 0.2, 0.9, "after the jump");

    // A jump back by more than 1 s also restarts (timestamps then go back).
    let c = tone_packets(2, 0.2, 0.0, first_ts);
    let mut out2 = Vec::new();
    for (p, ts) in &c {
        t.push(p, *ts, &mut out2).unwrap();
    }
    t.flush(&mut out2).unwrap();
    assert_eq!(
        t.stats().discontinuities,
        1,
        "flush started afresh: no jump seen"
    );
    assert_continuous(&out2, first_ts as u64);
}

#[test]
fn backward_jump_mid_stream_is_a_discontinuity() {
    let a = tone_packets(1, 0.6, 0.0, 500_000);
    let b = tone_packets(1, 0.6, 0.0, 100_000);
    let mut t = OpusToAac::new(1, 64_000).unwrap();
    let mut out = Vec::new();
    for (p, ts) in a.iter().chain(&b) {
        t.push(p, *ts, &mut out).unwrap();
    }
    t.flush(&mut out).unwrap();
    let n = (a.len() * OPUS_FRAME).div_ceil(1024);
    assert_continuous(&out[..n], 500_000);
    assert_continuous(&out[n..], 100_000);
    assert_eq!(t.stats().discontinuities, 1);
}

#[test]
fn rtp_timestamps_are_extended_across_the_2_32_wrap() {
    let first_ts = u32::MAX - 10 * OPUS_FRAME as u32;
    let packets = tone_packets(2, 1.0, 0.0, first_ts);
    let mut t = OpusToAac::new(2, DEFAULT_AAC_BITRATE).unwrap();
    let frames = transcode(&mut t, &packets);
    assert_continuous(&frames, first_ts as u64);
    assert!(frames.last().unwrap().timestamp > u32::MAX as u64);
    assert_eq!(t.stats().discontinuities, 0);
}

#[test]
fn dtx_gaps_are_filled_without_discontinuity() {
    // Speech-like: 0.5 s tone, 1.5 s digital silence, 0.5 s tone, SILK with DTX. A WebRTC
    // sender does not send the DTX frames (≤ 2 bytes) but one every 400 ms.
    let mut pcm = tone_pcm(1, 0.5, 0.0);
    pcm.extend(std::iter::repeat_n(0.0, (1.5 * RATE as f64) as usize));
    pcm.extend(tone_pcm(1, 0.5, 0.0));
    let mut enc = opus_encoder(1, 24_000, opus::Application::Voip);
    enc.set_dtx(true).unwrap();
    let packets = opus_packets(&pcm, 1, &mut enc, 777);
    let mut sent = Vec::new();
    let mut dtx = 0;
    for (i, p) in packets.iter().enumerate() {
        if p.0.len() <= 2 {
            dtx += 1;
            if i % 20 != 0 {
                continue;
            }
        }
        sent.push(p.clone());
    }
    eprintln!(
        "DTX: {dtx} of {} packets, {} sent",
        packets.len(),
        sent.len()
    );
    assert!(dtx > 40, "libopus went into DTX");
    let mut t = OpusToAac::new(1, 64_000).unwrap();
    let frames = transcode(&mut t, &sent);
    // The DTX period becomes comfort noise/silence on the same time line.
    assert_continuous(&frames, 777);
    assert_eq!(frames.len(), (packets.len() * OPUS_FRAME).div_ceil(1024));
    assert_eq!(t.stats().discontinuities, 0);
    assert!(t.stats().concealed_samples > RATE as u64);
    let out = decode_aac(t.audio_specific_config(), &frames, 1);
    let quiet = rms(&out[RATE as usize..(1.8 * RATE as f64) as usize]);
    let hz = tone_hz(
        &out[(2.15 * RATE as f64) as usize..(2.45 * RATE as f64) as usize],
        RATE,
    );
    eprintln!("DTX period RMS {quiet:.5}, tone after it {hz:.1} Hz");
    assert!(quiet < 0.01);
    assert!((hz - LEFT_HZ).abs() < 3.0);
}

#[test]
fn bad_configuration_is_refused() {
    assert_eq!(
        OpusToAac::new(0, 64_000).unwrap_err(),
        AudioError::InvalidChannels { channels: 0 }
    );
    assert_eq!(
        OpusToAac::new(3, 64_000).unwrap_err().code(),
        "AUDIO_CONFIG_UNSUPPORTED"
    );
    for b in [0, 7_999, 320_001, u32::MAX] {
        assert_eq!(
            OpusToAac::new(2, b).unwrap_err(),
            AudioError::InvalidAacBitrate { bitrate: b }
        );
    }
    for b in [8_000, 320_000] {
        OpusToAac::new(1, b).unwrap();
        OpusToAac::new(2, b).unwrap();
    }
}

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn garbage_packets_are_errors_or_noise_never_panics() {
    let good = tone_packets(2, 1.0, 0.0, 0);
    let mut t = OpusToAac::new(2, DEFAULT_AAC_BITRATE).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        t.push(&[], 0, &mut out).unwrap_err(),
        AudioError::OpusPacketSize { length: 0 }
    );
    let huge = vec![0u8; MAX_OPUS_PACKET_BYTES + 1];
    assert_eq!(
        t.push(&huge, 0, &mut out).unwrap_err().code(),
        "AUDIO_FRAME_MALFORMED"
    );
    // Code 3 (0x03) with a frame count byte of 0, and a code 2 packet whose first frame is
    // longer than the packet: RFC 6716 §3.4 R5/R4.
    for bad in [&[0x03u8, 0x00][..], &[0x02, 0xFB, 0x00]] {
        let e = t.push(bad, 0, &mut out).unwrap_err();
        assert!(matches!(e, AudioError::MalformedOpusPacket(_)), "{e:?}");
    }
    assert!(out.is_empty());
    assert!(t.stats().packets == 0);

    // Interleave random packets with the good stream, at the right timestamps: each is an
    // error (dropped, concealed later) or decodes to something; the stream goes on.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut errors, mut decoded) = (0, 0);
    for (i, (p, ts)) in good.iter().enumerate() {
        if i % 3 == 1 {
            let len = (rng.next() % 400) as usize + 1;
            let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            match t.push(&junk, *ts, &mut out) {
                Ok(()) => decoded += 1,
                Err(e) => {
                    assert_eq!(e.code(), "AUDIO_FRAME_MALFORMED", "{e}");
                    errors += 1;
                }
            }
        } else {
            t.push(p, *ts, &mut out).unwrap();
        }
    }
    // Every short packet, one byte and two bytes.
    let mut ts = good.last().unwrap().1;
    for a in 0..=255u8 {
        for b in [None, Some(0u8), Some(0x55), Some(0xFF)] {
            let pkt: Vec<u8> = std::iter::once(a).chain(b).collect();
            ts = ts.wrapping_add(OPUS_FRAME as u32);
            let _ = t.push(&pkt, ts, &mut out);
        }
    }
    // Random timestamps too.
    for _ in 0..200 {
        let junk: Vec<u8> = (0..(rng.next() % 64 + 1))
            .map(|_| rng.next() as u8)
            .collect();
        let _ = t.push(&junk, rng.next() as u32, &mut out);
    }
    t.flush(&mut out).unwrap();
    eprintln!(
        "garbage: {errors} errors, {decoded} decoded as noise; {} units",
        out.len()
    );
    assert!(errors > 0);
    // Still usable: a clean stream afterwards transcodes as usual.
    let frames = transcode(&mut t, &good);
    assert_continuous(&frames, 0);
    let pcm = decode_aac(t.audio_specific_config(), &frames, 2);
    check_tone(&pcm, 2, &[LEFT_HZ, RIGHT_HZ], 0.3, 0.9, "after garbage");
}
