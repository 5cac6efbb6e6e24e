//! CPU cost of Opus → AAC transcoding, in CPU ms per second of audio (one core).
//!
//! `cargo run --release -p sluice-audio --example opus_to_aac_cost`. Each case is 60 s of
//! Opus made by libopus from a synthetic signal (tones, or noise filtered to a pinkish
//! spectrum, independent per channel: a hard case for both codecs), in 20 ms packets as a
//! WebRTC publisher sends them; the whole stream is pushed packet by packet and the thread's
//! CPU time is read from /proc/thread-self/schedstat (wall time elsewhere). A decode-only row
//! shows libopus' share.

mod cpu_clock;
use cpu_clock::cpu_ns;

use sluice_audio::OpusToAac;


const RATE: usize = 48_000;
const SECONDS: usize = 60;

/// Interleaved PCM: "tone" (1 kHz left, 1.5 kHz right, amplitude 0.25) or "noise" (white noise
/// through a one-pole low-pass, amplitude ~0.3).
fn signal(kind: &str, channels: usize) -> Vec<f32> {
    let mut state = [0f32; 2];
    let mut seed: u32 = 0x1234_5678;
    let mut pcm = Vec::with_capacity(RATE * SECONDS * channels);
    for i in 0..RATE * SECONDS {
        for (c, s) in state.iter_mut().enumerate().take(channels) {
            let v = if kind == "tone" {
                let hz = if c == 0 { 1000.0 } else { 1500.0 };
                0.25 * (2.0 * std::f32::consts::PI * hz * i as f32 / RATE as f32).sin()
            } else {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let white = seed as f32 / u32::MAX as f32 * 2.0 - 1.0;
                *s = 0.9 * *s + 0.1 * white;
                (*s * 3.0).clamp(-1.0, 1.0)
            };
            pcm.push(v);
        }
    }
    pcm
}

fn main() {
    println!(
        "{} (static, from opusic-sys) decoder, FDK AAC (fdk-aac-sys 0.5, bundled) AAC-LC CBR",
        opus::version()
    );
    println!("case                                   | CPU ms per s of audio | decode only | units | mean bytes");
    for (kind, opus_ch, opus_bitrate, app, aac_ch, aac_bitrate) in [
        ("tone", 2, 96_000, opus::Application::Audio, 2, 128_000),
        ("noise", 2, 96_000, opus::Application::Audio, 2, 128_000),
        ("noise", 1, 32_000, opus::Application::Voip, 2, 128_000),
        ("noise", 1, 32_000, opus::Application::Voip, 1, 64_000),
    ] {
        let pcm = signal(kind, opus_ch);
        let ch = if opus_ch == 1 {
            opus::Channels::Mono
        } else {
            opus::Channels::Stereo
        };
        let mut enc = opus::Encoder::new(RATE as u32, ch, app).unwrap();
        enc.set_bitrate(opus::Bitrate::Bits(opus_bitrate)).unwrap();
        let mut buf = vec![0u8; 4000];
        let packets: Vec<(Vec<u8>, u32)> = pcm
            .chunks_exact(960 * opus_ch)
            .enumerate()
            .map(|(i, f)| {
                let n = enc.encode_float(f, &mut buf).unwrap();
                (buf[..n].to_vec(), (i * 960) as u32)
            })
            .collect();

        let out_ch = if aac_ch == 1 {
            opus::Channels::Mono
        } else {
            opus::Channels::Stereo
        };
        let mut dec = opus::Decoder::new(RATE as u32, out_ch).unwrap();
        let mut samples = vec![0i16; 5760 * aac_ch];
        let start = cpu_ns();
        for (p, _) in &packets {
            std::hint::black_box(dec.decode(p, &mut samples, false).unwrap());
        }
        let decode_ms = (cpu_ns() - start) as f64 / 1e6;

        let mut t = OpusToAac::new(aac_ch as u32, aac_bitrate).unwrap();
        let mut out = Vec::with_capacity(4);
        let (mut units, mut bytes) = (0usize, 0usize);
        let start = cpu_ns();
        for (p, ts) in &packets {
            t.push(p, *ts, &mut out).unwrap();
            units += out.len();
            bytes += out.iter().map(|f| f.data.len()).sum::<usize>();
            out.clear();
        }
        t.flush(&mut out).unwrap();
        let total_ms = (cpu_ns() - start) as f64 / 1e6;
        units += out.len();
        println!(
            "{:>5} Opus x{} {:>3} kb/s → AAC x{} {:>3} kb/s | {:>21.2} | {:>11.2} | {:>5} | {:>10.0}",
            kind,
            opus_ch,
            opus_bitrate / 1000,
            aac_ch,
            aac_bitrate / 1000,
            total_ms / SECONDS as f64,
            decode_ms / SECONDS as f64,
            units,
            bytes as f64 / units.max(1) as f64
        );
    }
}
