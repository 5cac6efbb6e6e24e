//! CPU cost of AAC → Opus transcoding, in CPU ms per second of audio (one core).
//!
//! `cargo run --release -p sluice-audio --example transcode_cost` (needs ffmpeg: it makes the
//! AAC). Each case is 60 s of AAC made by ffmpeg's native encoder; the whole stream is pushed
//! frame by frame as an RTMP publisher would send it, and the thread's CPU time is read from
//! /proc/thread-self/schedstat (wall time elsewhere). A decode-only row shows the AAC decoder's
//! share.

mod cpu_clock;
use cpu_clock::cpu_ns;

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use sluice_audio::AacToOpus;
use symphonia_codec_aac::AacDecoder;
use symphonia_core::codecs::audio::well_known::CODEC_ID_AAC;
use symphonia_core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia_core::packet::PacketRef;
use symphonia_core::units::{Duration, Timestamp};


/// 60 s of `kind` ("tone": 1 kHz / 1.5 kHz sines; "noise": pink noise, independent per
/// channel — a hard case for both codecs) as ADTS.
fn make(dir: &TempDir, rate: u32, channels: u32, kind: &str) -> Adts {
    if kind == "tone" {
        return split_adts(&make_aac(dir, rate, channels, 60.0, 1500));
    }
    let path = dir.0.join(format!("noise-{rate}-{channels}.aac"));
    let src =
        |seed: u32| format!("anoisesrc=color=pink:amplitude=0.3:sample_rate={rate}:seed={seed}");
    let (a, b) = (src(1), src(2));
    let p = path.to_str().unwrap();
    if channels == 1 {
        ffmpeg(&[
            "-f", "lavfi", "-i", &a, "-t", "60", "-c:a", "aac", "-b:a", "96k", "-f", "adts", p,
        ]);
    } else {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &a,
            "-f",
            "lavfi",
            "-i",
            &b,
            "-filter_complex",
            "[0:a][1:a]amerge=inputs=2[a]",
            "-map",
            "[a]",
            "-t",
            "60",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-f",
            "adts",
            p,
        ]);
    }
    split_adts(&std::fs::read(&path).unwrap())
}

fn main() {
    let dir = TempDir::new("cost");
    println!(
        "{} (static, from opusic-sys), Symphonia AAC 0.6, rubato 5 Fft",
        opus::version()
    );
    println!(
        "case                         | CPU ms per s of audio | decode only | packets | mean bytes"
    );
    for (rate, channels, bitrate) in [
        (44_100, 2, 96_000),
        (48_000, 1, 48_000),
        (22_050, 2, 96_000),
    ] {
        for kind in ["tone", "noise"] {
            let adts = make(&dir, rate, channels, kind);
            let seconds = adts.frames.len() as f64 * 1024.0 / rate as f64;

            let mut params = AudioCodecParameters::new();
            params
                .for_codec(CODEC_ID_AAC)
                .with_extra_data(adts.asc.clone().into_boxed_slice());
            let mut decoder =
                AacDecoder::try_new(&params, &AudioDecoderOptions::default()).unwrap();
            let start = cpu_ns();
            for f in &adts.frames {
                let p = PacketRef::new(0, Timestamp::new(0), Duration::from(1024u64), f);
                std::hint::black_box(decoder.decode_ref(&p).unwrap().frames());
            }
            let decode_ms = (cpu_ns() - start) as f64 / 1e6;

            let mut t = AacToOpus::new(&adts.asc, bitrate).unwrap();
            let mut out = Vec::with_capacity(4);
            let mut packets = 0usize;
            let mut bytes = 0usize;
            let start = cpu_ns();
            for (i, f) in adts.frames.iter().enumerate() {
                t.push(f, pts_ms(i, rate), &mut out).unwrap();
                packets += out.len();
                bytes += out.iter().map(|p| p.data.len()).sum::<usize>();
                out.clear();
            }
            t.flush(&mut out).unwrap();
            let total_ms = (cpu_ns() - start) as f64 / 1e6;
            packets += out.len();
            println!(
                "{:>6} Hz x{} {:>5} {:>3} kb/s | {:>21.2} | {:>11.2} | {:>7} | {:>10.0}",
                rate,
                channels,
                kind,
                bitrate / 1000,
                total_ms / seconds,
                decode_ms / seconds,
                packets,
                bytes as f64 / packets.max(1) as f64
            );
        }
    }
}
