//! Test peers and measurements shared by the integration tests and the cost example: AAC made
//! by Debian's ffmpeg, ADTS split into raw frames, Opus decoded by libopus, tone analysis.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use sluice_audio::{AacToOpus, AudioError, OpusPacket};

/// A scratch directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir =
            std::env::temp_dir().join(format!("sluice-audio-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs ffmpeg (a required test peer: `apt-get install ffmpeg`) with `args`, panicking with its
/// stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is a required test peer here: apt-get install -y ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `seconds` of AAC-LC in ADTS made by ffmpeg's native encoder from lavfi sine sources: a
/// 1 kHz tone on the left (or only) channel and `right_hz` on the right channel of stereo.
/// Amplitude 1/8 (lavfi's default), so the RMS of each channel is 0.125/√2 ≈ 0.088.
pub fn make_aac(dir: &TempDir, rate: u32, channels: u32, seconds: f64, right_hz: u32) -> Vec<u8> {
    let path = dir.0.join(format!("tone-{rate}-{channels}.aac"));
    let path_s = path.to_str().expect("utf-8 temp path");
    let left = format!("sine=frequency=1000:sample_rate={rate}");
    let right = format!("sine=frequency={right_hz}:sample_rate={rate}");
    let t = format!("{seconds}");
    if channels == 1 {
        ffmpeg(&[
            "-f", "lavfi", "-i", &left, "-t", &t, "-c:a", "aac", "-b:a", "96k", "-f", "adts",
            path_s,
        ]);
    } else {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &left,
            "-f",
            "lavfi",
            "-i",
            &right,
            "-filter_complex",
            "[0:a][1:a]amerge=inputs=2[a]",
            "-map",
            "[a]",
            "-t",
            &t,
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-f",
            "adts",
            path_s,
        ]);
    }
    std::fs::read(&path).expect("read ffmpeg output")
}

/// Decodes an ADTS file with ffmpeg to interleaved f32 at its own rate: the reference time line
/// (ADTS has no edit list, so the encoder's priming samples are kept, as they are over RTMP).
pub fn ffmpeg_decode(dir: &TempDir, adts: &[u8]) -> Vec<f32> {
    let input = dir.0.join("ref.aac");
    let output = dir.0.join("ref.f32");
    std::fs::write(&input, adts).expect("write");
    ffmpeg(&[
        "-i",
        input.to_str().unwrap(),
        "-f",
        "f32le",
        "-c:a",
        "pcm_f32le",
        output.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&output).expect("read");
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// An ADTS stream split into what an RTMP publisher sends: the AudioSpecificConfig (FLV AAC
/// sequence header body) and raw_data_blocks (FLV AAC raw bodies minus the 2-byte header).
pub struct Adts {
    pub asc: Vec<u8>,
    pub sample_rate: u32,
    pub channels: u32,
    pub frames: Vec<Vec<u8>>,
}

/// Splits ADTS (ISO/IEC 13818-7 §6.2 / ISO/IEC 14496-3 §1.A.2): 0xFFF sync, 7-byte header or
/// 9 with CRC, one raw_data_block per frame (as ffmpeg writes).
pub fn split_adts(data: &[u8]) -> Adts {
    const RATES: [u32; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    let mut pos = 0;
    let mut frames = Vec::new();
    let mut asc = Vec::new();
    let (mut sample_rate, mut channels) = (0, 0);
    while pos + 7 <= data.len() {
        let h = &data[pos..pos + 7];
        assert!(
            h[0] == 0xFF && h[1] & 0xF0 == 0xF0,
            "ADTS sync lost at {pos}"
        );
        let protection_absent = h[1] & 1 == 1;
        let profile = h[2] >> 6; // object type - 1
        let sfi = (h[2] >> 2) & 0xF;
        let cc = ((h[2] & 1) << 2) | (h[3] >> 6);
        let len = (((h[3] & 3) as usize) << 11) | ((h[4] as usize) << 3) | ((h[5] as usize) >> 5);
        let blocks = (h[6] & 3) + 1;
        assert_eq!(blocks, 1, "one raw_data_block per ADTS frame");
        let header = if protection_absent { 7 } else { 9 };
        assert!(len > header && pos + len <= data.len(), "ADTS frame length");
        if asc.is_empty() {
            let aot = profile + 1;
            asc = vec![(aot << 3) | (sfi >> 1), ((sfi & 1) << 7) | (cc << 3)];
            sample_rate = RATES[sfi as usize];
            channels = cc as u32;
        }
        frames.push(data[pos + header..pos + len].to_vec());
        pos += len;
    }
    Adts {
        asc,
        sample_rate,
        channels,
        frames,
    }
}

/// FLV-style ms timestamp of AAC frame `i` (1024 samples per frame), truncated as muxers do.
pub fn pts_ms(i: usize, rate: u32) -> i64 {
    (i as i64 * 1024 * 1000) / rate as i64
}

/// Transcodes every frame, then flushes.
pub fn transcode(adts: &Adts, bitrate: u32) -> Result<Vec<OpusPacket>, AudioError> {
    let mut t = AacToOpus::new(&adts.asc, bitrate)?;
    let mut out = Vec::new();
    for (i, f) in adts.frames.iter().enumerate() {
        t.push(f, pts_ms(i, adts.sample_rate), &mut out)?;
    }
    t.flush(&mut out)?;
    Ok(out)
}

/// Decodes packets with libopus (the same build the encoder came from) to interleaved f32 at
/// 48 kHz, checking every packet is one 20 ms frame.
pub fn decode_opus(packets: &[OpusPacket], channels: u32) -> Vec<f32> {
    let ch = if channels == 1 {
        opus::Channels::Mono
    } else {
        opus::Channels::Stereo
    };
    let mut dec = opus::Decoder::new(48_000, ch).expect("opus decoder");
    let mut pcm = Vec::new();
    let mut buf = vec![0f32; 5760 * channels as usize];
    for p in packets {
        let n = dec
            .decode_float(&p.data, &mut buf, false)
            .expect("valid Opus packet");
        assert_eq!(n, 960, "20 ms per packet");
        pcm.extend_from_slice(&buf[..n * channels as usize]);
    }
    pcm
}

/// One channel of interleaved samples.
pub fn channel(pcm: &[f32], channels: u32, c: usize) -> Vec<f32> {
    pcm.iter()
        .skip(c)
        .step_by(channels as usize)
        .copied()
        .collect()
}

/// Frequency in Hz from rising zero crossings (linearly interpolated) of a steady tone.
pub fn tone_hz(x: &[f32], rate: u32) -> f64 {
    let mut first = None;
    let mut last = 0.0;
    let mut count = 0usize;
    for i in 1..x.len() {
        if x[i - 1] < 0.0 && x[i] >= 0.0 {
            let frac = x[i - 1] as f64 / (x[i - 1] as f64 - x[i] as f64);
            let t = (i - 1) as f64 + frac;
            if first.is_none() {
                first = Some(t);
            } else {
                count += 1;
            }
            last = t;
        }
    }
    match first {
        Some(f) if count > 0 => count as f64 * rate as f64 / (last - f),
        _ => 0.0,
    }
}

/// Root mean square.
pub fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
}

/// Index of the first sample whose magnitude reaches `threshold`.
pub fn onset(x: &[f32], threshold: f32) -> Option<usize> {
    x.iter().position(|v| v.abs() >= threshold)
}
