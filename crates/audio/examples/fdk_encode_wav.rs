//! Encodes a 48 kHz 16-bit PCM WAV (mono or stereo) to an ADTS `.aac` file with FDK AAC and the
//! settings [`sluice_audio::OpusToAac`] uses (AAC-LC, 48 kHz, CBR, SBR off, raw transport,
//! 1 024-sample access units). Each raw access unit is then given a 7-byte ADTS header here so
//! the file plays: FDK's own ADTS transport would count those headers in its CBR budget
//! (2.6 kb/s less for audio than Sluice's raw units get). For the encoder comparison in
//! `bench/aac-quality/run.sh`.
//!
//! `cargo run --release -p sluice-audio --example fdk_encode_wav -- in.wav out.aac [bitrate]`
//! (bitrate in bits/s, default 128000). Prints one line to stdout:
//! `encoded <seconds of audio> s in <encode CPU s> s: <x> x realtime, delay <n> samples`.
//! The encode time counts only the encoder calls (this thread's CPU time on Linux).

mod cpu_clock;
use cpu_clock::cpu_ns;

use std::error::Error;

use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, Encoder, EncoderParams, Transport};
use sluice_audio::AAC_SAMPLE_RATE;

/// The 7-byte ADTS header (ISO/IEC 13818-7 §6.2, no CRC) of one AAC-LC 48 kHz unit of
/// `payload` bytes.
fn adts_header(channels: usize, payload: usize) -> [u8; 7] {
    let len = payload + 7;
    let (profile, freq_index) = (1u8, 3u8); // AAC LC (object type 2 − 1), 48 kHz
    let ch = channels as u8;
    [
        0xFF,
        0xF1, // sync, MPEG-4, layer 0, protection absent
        (profile << 6) | (freq_index << 2) | (ch >> 2),
        ((ch & 3) << 6) | ((len >> 11) as u8 & 3),
        (len >> 3) as u8,
        ((len as u8 & 7) << 5) | 0x1F, // buffer fullness 0x7FF: variable
        0xFC,                          // … and one raw data block
    ]
}


/// Channels, sample rate and interleaved samples of a 16-bit PCM WAV (RIFF, `fmt ` tag 1 or
/// WAVE_FORMAT_EXTENSIBLE).
fn read_wav(bytes: &[u8]) -> Result<(usize, u32, Vec<i16>), Box<dyn Error>> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let u16_at = |p: usize| u16::from_le_bytes([bytes[p], bytes[p + 1]]);
    let u32_at =
        |p: usize| u32::from_le_bytes([bytes[p], bytes[p + 1], bytes[p + 2], bytes[p + 3]]);
    let mut fmt = None;
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32_at(pos + 4) as usize;
        let body = pos + 8;
        let end = body.saturating_add(len).min(bytes.len());
        if id == b"fmt " && len >= 16 {
            let tag = u16_at(body);
            let channels = u16_at(body + 2) as usize;
            let rate = u32_at(body + 4);
            let bits = u16_at(body + 14);
            if !(tag == 1 || tag == 0xFFFE) || bits != 16 {
                return Err(format!("need 16-bit PCM (format tag {tag}, {bits} bits)").into());
            }
            fmt = Some((channels, rate));
        } else if id == b"data" {
            let (channels, rate) = fmt.ok_or("data chunk before fmt chunk")?;
            // ffmpeg writes 0xFFFFFFFF (or a wrong length) when it cannot seek back: take the rest.
            let samples = bytes[body..end]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            return Ok((channels, rate, samples));
        }
        pos = body.saturating_add(len + (len & 1));
    }
    Err("no data chunk".into())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: fdk_encode_wav in.wav out.aac [bitrate bits/s]".into());
    }
    let bitrate: u32 = args.get(3).map_or(Ok(128_000), |s| s.parse())?;
    let (channels, rate, pcm) = read_wav(&std::fs::read(&args[1])?)?;
    if rate != AAC_SAMPLE_RATE || !(1..=2).contains(&channels) {
        return Err(format!(
            "need {AAC_SAMPLE_RATE} Hz mono or stereo, got {rate} Hz x {channels}"
        )
        .into());
    }
    let encoder = Encoder::new(EncoderParams {
        bit_rate: BitRate::Cbr(bitrate),
        sample_rate: AAC_SAMPLE_RATE,
        transport: Transport::Raw,
        channels: if channels == 1 {
            ChannelMode::Mono
        } else {
            ChannelMode::Stereo
        },
        audio_object_type: AudioObjectType::Mpeg4LowComplexity,
    })
    .map_err(|e| format!("encoder setup: {e}"))?;
    let info = encoder.info().map_err(|e| format!("encoder info: {e}"))?;
    let delay = info.nDelay as usize;
    let mut au = vec![0u8; (info.maxOutBufBytes as usize).max(768 * channels)];
    let frame = sluice_audio::AAC_FRAME_SAMPLES * channels;

    // As OpusToAac does: 1 024 samples per call; at the end, silence until the encoder delay
    // and the last partial unit are out.
    let mut input = pcm.clone();
    let padded = input.len().div_ceil(frame) * frame
        + delay.div_ceil(sluice_audio::AAC_FRAME_SAMPLES) * frame;
    input.resize(padded, 0);
    let mut out = Vec::with_capacity(pcm.len() / 4);
    let start = cpu_ns();
    for chunk in input.chunks_exact(frame) {
        let mut offset = 0;
        while offset < chunk.len() {
            let r = encoder
                .encode(&chunk[offset..], &mut au)
                .map_err(|e| format!("encode: {e}"))?;
            if r.output_size > 0 {
                out.extend_from_slice(&adts_header(channels, r.output_size));
                out.extend_from_slice(&au[..r.output_size]);
            }
            if r.input_consumed == 0 && r.output_size == 0 {
                break;
            }
            offset += r.input_consumed;
        }
    }
    let secs = (cpu_ns() - start) as f64 / 1e9;
    std::fs::write(&args[2], &out)?;
    let audio = pcm.len() as f64 / channels as f64 / rate as f64;
    println!(
        "encoded {audio:.3} s in {secs:.4} s: {:.1} x realtime, delay {delay} samples",
        audio / secs
    );
    Ok(())
}
