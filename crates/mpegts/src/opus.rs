//! Opus in MPEG-TS (ETSI TS 102 366 style mapping as ffmpeg, GStreamer and SRT encoders write
//! it): a private data stream (stream type 0x06, PES stream id 0xBD private_stream_1) with a
//! registration descriptor `Opus` and a DVB extension descriptor (tag 0x7F, extension tag 0x80)
//! whose `channel_config_code` is the channel count for mono/stereo (mapping family 0).
//!
//! Each Opus access unit in a PES is preceded by a control header:
//!
//! ```text
//! prefix 0x3FF:11 | start_trim_flag:1 | end_trim_flag:1 | control_extension_flag:1 | reserved:2
//! au_size: 0xFF bytes, each adding 255, then one byte < 0xFF adding its value
//! [start_trim: reserved:3 value:13] [end_trim: reserved:3 value:13]
//! [control_extension_length:8, that many bytes]
//! the Opus packet (RFC 6716 §3), au_size bytes
//! ```
//!
//! Durations come from the packet's TOC byte (RFC 6716 §3.1) in 48 kHz samples.

use crate::TsError;

/// Opus's clock, Hz (RFC 7587 §4.1; every Opus duration is counted at 48 kHz).
pub const OPUS_CLOCK_HZ: u32 = 48_000;

/// One access unit of a PES payload: the Opus packet, without its control header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusAccessUnit<'a> {
    /// The Opus packet (RFC 6716 §3).
    pub packet: &'a [u8],
    /// Samples (48 kHz) to discard at the start, from `start_trim`.
    pub start_trim: u16,
    /// Samples (48 kHz) to discard at the end, from `end_trim`.
    pub end_trim: u16,
}

/// Splits a PES payload into its access units. Errors on a missing 0x7FE prefix, or an
/// `au_size` or trim field past the end of the payload.
pub fn access_units(mut b: &[u8]) -> impl Iterator<Item = Result<OpusAccessUnit<'_>, TsError>> {
    std::iter::from_fn(move || {
        if b.is_empty() {
            return None;
        }
        let r = read_access_unit(b);
        match r {
            Ok((au, used)) => {
                b = &b[used..];
                Some(Ok(au))
            }
            Err(e) => {
                b = &[];
                Some(Err(e))
            }
        }
    })
}

fn read_access_unit(b: &[u8]) -> Result<(OpusAccessUnit<'_>, usize), TsError> {
    if b.len() < 3 || b[0] != 0x7F || b[1] & 0xE0 != 0xE0 {
        return Err(TsError::Truncated("Opus control header prefix"));
    }
    let (start_flag, end_flag, ext_flag) = (b[1] & 0x10 != 0, b[1] & 0x08 != 0, b[1] & 0x04 != 0);
    let mut at = 2;
    let mut size = 0usize;
    loop {
        let v = *b.get(at).ok_or(TsError::Truncated("Opus au_size"))?;
        at += 1;
        size += usize::from(v);
        if v != 0xFF {
            break;
        }
    }
    let trim = |flag: bool, at: &mut usize| -> Result<u16, TsError> {
        if !flag {
            return Ok(0);
        }
        let v = b
            .get(*at..*at + 2)
            .ok_or(TsError::Truncated("Opus trim"))?;
        *at += 2;
        Ok(u16::from_be_bytes([v[0], v[1]]) & 0x1FFF)
    };
    let start_trim = trim(start_flag, &mut at)?;
    let end_trim = trim(end_flag, &mut at)?;
    if ext_flag {
        let n = usize::from(*b.get(at).ok_or(TsError::Truncated("Opus control extension"))?);
        at += 1 + n;
    }
    let packet = b
        .get(at..at + size)
        .ok_or(TsError::Truncated("Opus access unit"))?;
    Ok((
        OpusAccessUnit {
            packet,
            start_trim,
            end_trim,
        },
        at + size,
    ))
}

/// Appends the control header of an access unit of `size` bytes, without trims or extension.
pub fn write_control_header(out: &mut Vec<u8>, size: usize) {
    out.extend_from_slice(&[0x7F, 0xE0]);
    let mut n = size;
    while n >= 0xFF {
        out.push(0xFF);
        n -= 0xFF;
    }
    out.push(n as u8);
}

/// The duration of an Opus packet in 48 kHz samples from its TOC byte and, for code 3, its
/// frame count byte (RFC 6716 §3.1, §3.2.5); `None` for an empty or truncated packet.
pub fn packet_duration(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame sizes in 48 kHz samples: SILK-only 10/20/40/60 ms, hybrid 10/20 ms, CELT-only
    // 2.5/5/10/20 ms.
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config & 3)],
        12..=15 => [480, 960][usize::from(config & 1)],
        _ => [120, 240, 480, 960][usize::from(config & 3)],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3F),
    };
    Some(frame * frames)
}

/// The RFC 7845 §5.1 identification header for `channels` (1 or 2, channel mapping family 0),
/// pre-skip 0, input rate 48 kHz, gain 0: what the Enhanced RTMP Opus sequence start carries.
pub fn opus_head(channels: u8) -> [u8; 19] {
    let mut h = [0u8; 19];
    h[..8].copy_from_slice(b"OpusHead");
    h[8] = 1; // version
    h[9] = channels;
    h[12..16].copy_from_slice(&OPUS_CLOCK_HZ.to_le_bytes());
    h
}

/// The channel count of an RFC 7845 §5.1 identification header; `None` when it is not one.
pub fn opus_head_channels(head: &[u8]) -> Option<u8> {
    (head.len() >= 19 && head.starts_with(b"OpusHead")).then(|| head[9])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_header_round_trip_with_long_sizes() {
        for size in [0usize, 1, 254, 255, 256, 509, 510, 1275] {
            let packet: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let mut pes = Vec::new();
            write_control_header(&mut pes, size);
            assert_eq!(pes.len(), 2 + size / 255 + 1);
            pes.extend_from_slice(&packet);
            write_control_header(&mut pes, 3);
            pes.extend_from_slice(&[0xF8, 1, 2]);
            let units: Vec<_> = access_units(&pes).collect::<Result<_, _>>().unwrap();
            assert_eq!(units.len(), 2);
            assert_eq!(units[0].packet, &packet[..]);
            assert_eq!(units[1].packet, &[0xF8, 1, 2]);
        }
    }

    #[test]
    fn trims_and_extension_as_ffmpeg_writes_them() {
        // Start trim 312 (ffmpeg's libopus pre-skip on the first packet), end trim 7, a 2-byte
        // control extension, then a 2-byte packet.
        let pes = [0x7F, 0xFC, 2, 0x01, 0x38, 0x00, 0x07, 2, 0xAA, 0xBB, 0xFC, 0xFF];
        let au = access_units(&pes).next().unwrap().unwrap();
        assert_eq!((au.start_trim, au.end_trim, au.packet), (312, 7, &[0xFC, 0xFF][..]));
    }

    #[test]
    fn malformed_headers_are_errors_not_panics() {
        for bad in [&[0x7F][..], &[0x7F, 0xE0], &[0x00, 0xE0, 1, 0], &[0x7F, 0xE0, 0xFF], &[0x7F, 0xE0, 5, 1], &[0x7F, 0xF0, 1]] {
            assert!(access_units(bad).any(|r| r.is_err()), "{bad:?}");
        }
    }

    #[test]
    fn durations_from_the_toc() {
        // RFC 6716 §3.1: config 31 (CELT 20 ms) code 0; config 15 (hybrid 20 ms) code 1;
        // config 3 (SILK 60 ms) code 0; config 16 (CELT 2.5 ms) code 3 with 4 frames.
        assert_eq!(packet_duration(&[0xF8]), Some(960));
        assert_eq!(packet_duration(&[0x79]), Some(1920));
        assert_eq!(packet_duration(&[0x18]), Some(2880));
        assert_eq!(packet_duration(&[0x83, 0x04]), Some(480));
        assert_eq!(packet_duration(&[0x83]), None);
        assert_eq!(packet_duration(&[]), None);
    }

    #[test]
    fn id_header() {
        let h = opus_head(2);
        assert_eq!(&h[..8], b"OpusHead");
        assert_eq!(opus_head_channels(&h), Some(2));
        assert_eq!(opus_head_channels(b"OpusHea"), None);
    }
}
