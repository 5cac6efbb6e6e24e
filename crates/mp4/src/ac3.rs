//! AC-3 and E-AC-3 tracks from their first frame. Enhanced RTMP v2 `ac-3`/`ec-3` audio has no
//! sequence start (the frames describe themselves), so the `dac3`/`dec3` box (ETSI TS 102 366
//! Annex F.4, F.6) is made from a sync frame's header:
//!
//! ```text
//! AC-3 (§5.3):   syncword 0x0B77 | crc1 (16) | fscod (2) frmsizecod (6) | bsid (5) bsmod (3) |
//!                acmod (3) [cmixlev (2)] [surmixlev (2)] [dsurmod (2)] lfeon (1) …
//! E-AC-3 (E.1):  syncword 0x0B77 | strmtyp (2) substreamid (3) frmsiz (11) | fscod (2)
//!                fscod2 or numblkscod (2) acmod (3) lfeon (1) | bsid (5) …
//! ```
//!
//! One independent substream (substreamid 0) is described: what encoders and OBS send.

use mp4_atom::{Ac3, Ac3SpecificBox, Audio, Codec, Eac3, Ec3IndependentSubstream, Ec3SpecificBox};

use crate::Mp4Error;

/// What a track needs from a frame: the sample entry, its sample rate (the timescale), samples
/// per frame, the RFC 6381 codec string, and the configuration's bytes (for change detection).
pub struct FrameConfig {
    /// The sample entry (`ac-3` + `dac3`, or `ec-3` + `dec3`).
    pub codec: Codec,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Samples per frame (1536 for AC-3; 256 × blocks for E-AC-3).
    pub samples_per_frame: u32,
    /// `ac-3` or `ec-3`.
    pub codec_string: &'static str,
    /// The specific box's fields as bytes.
    pub config: Vec<u8>,
}

struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.at / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.at % 8)) & 1);
            self.at += 1;
        }
        Some(v)
    }
}

fn channels(acmod: u8, lfeon: bool) -> u16 {
    [2u16, 1, 2, 3, 3, 4, 4, 5][usize::from(acmod & 7)] + u16::from(lfeon)
}

fn audio(channels: u16, sample_rate: u32) -> Audio {
    Audio {
        data_reference_index: 1,
        channel_count: channels,
        sample_size: 16,
        sample_rate: (sample_rate.min(65_535) as u16).into(),
    }
}

/// The configuration of an AC-3 (`e_ac3` false) or E-AC-3 sync frame. Errors:
/// [`Mp4Error::MalformedTag`] when the frame does not start with a valid sync frame header.
pub fn frame_config(frame: &[u8], e_ac3: bool) -> Result<FrameConfig, Mp4Error> {
    let bad = |what: &str| Mp4Error::MalformedTag(format!("{} frame: {what}", if e_ac3 { "E-AC-3" } else { "AC-3" }));
    if frame.len() < 8 || frame[0] != 0x0B || frame[1] != 0x77 {
        return Err(bad("no sync word"));
    }
    let mut b = Bits { data: &frame[2..], at: 0 };
    if !e_ac3 {
        b.read(16).ok_or_else(|| bad("truncated"))?; // crc1
        let fscod = b.read(2).ok_or_else(|| bad("truncated"))? as u8;
        let frmsizecod = b.read(6).ok_or_else(|| bad("truncated"))? as u8;
        let bsid = b.read(5).ok_or_else(|| bad("truncated"))? as u8;
        let bsmod = b.read(3).ok_or_else(|| bad("truncated"))? as u8;
        let acmod = b.read(3).ok_or_else(|| bad("truncated"))? as u8;
        if fscod == 3 || frmsizecod >= 38 || bsid > 8 {
            return Err(bad("reserved sample rate, frame size or bsid"));
        }
        if acmod & 1 != 0 && acmod != 1 {
            b.read(2); // cmixlev
        }
        if acmod & 4 != 0 {
            b.read(2); // surmixlev
        }
        if acmod == 2 {
            b.read(2); // dsurmod
        }
        let lfeon = b.read(1).ok_or_else(|| bad("truncated"))? == 1;
        let sample_rate = [48_000, 44_100, 32_000][usize::from(fscod)];
        let bit_rate_code = frmsizecod >> 1;
        let dac3 = Ac3SpecificBox { fscod, bsid, bsmod, acmod, lfeon, bit_rate_code };
        let config = vec![fscod, bsid, bsmod, acmod, u8::from(lfeon), bit_rate_code];
        return Ok(FrameConfig {
            codec: Codec::Ac3(Ac3 { audio: audio(channels(acmod, lfeon), sample_rate), dac3 }),
            sample_rate,
            samples_per_frame: 1536,
            codec_string: "ac-3",
            config,
        });
    }
    let strmtyp = b.read(2).ok_or_else(|| bad("truncated"))?;
    b.read(3); // substreamid
    let frmsiz = b.read(11).ok_or_else(|| bad("truncated"))?;
    let fscod = b.read(2).ok_or_else(|| bad("truncated"))? as u8;
    let (sample_rate, blocks) = if fscod == 3 {
        let fscod2 = b.read(2).ok_or_else(|| bad("truncated"))?;
        if fscod2 == 3 {
            return Err(bad("reserved sample rate"));
        }
        ([24_000, 22_050, 16_000][fscod2 as usize], 6)
    } else {
        let numblkscod = b.read(2).ok_or_else(|| bad("truncated"))?;
        ([48_000, 44_100, 32_000][usize::from(fscod)], [1, 2, 3, 6][numblkscod as usize])
    };
    let acmod = b.read(3).ok_or_else(|| bad("truncated"))? as u8;
    let lfeon = b.read(1).ok_or_else(|| bad("truncated"))? == 1;
    let bsid = b.read(5).ok_or_else(|| bad("truncated"))? as u8;
    if strmtyp == 3 || !(11..=16).contains(&bsid) {
        return Err(bad("reserved stream type or bsid"));
    }
    let samples_per_frame = 256 * blocks;
    let frame_bytes = (frmsiz + 1) * 2;
    let data_rate = (u64::from(frame_bytes) * 8 * u64::from(sample_rate) / u64::from(samples_per_frame) / 1000).min(8191) as u16;
    let dec3 = Ec3SpecificBox {
        data_rate,
        substreams: vec![Ec3IndependentSubstream { fscod, bsid, asvc: false, bsmod: 0, acmod, lfeon, num_dep_sub: 0, chan_loc: None }],
    };
    let config = vec![fscod, bsid, acmod, u8::from(lfeon), (data_rate >> 8) as u8, data_rate as u8];
    Ok(FrameConfig {
        codec: Codec::Eac3(Eac3 { audio: audio(channels(acmod, lfeon), sample_rate), dec3 }),
        sample_rate,
        samples_per_frame,
        codec_string: "ec-3",
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ac3_stereo_48k_192k() {
        // crc1, fscod 0 frmsizecod 20 (192 kbit/s), bsid 8 bsmod 0, acmod 2 dsurmod 0 lfeon 0
        let frame = [0x0B, 0x77, 0x12, 0x34, 0x14, 0x40, 0x40, 0x00];
        let c = frame_config(&frame, false).unwrap();
        assert_eq!((c.sample_rate, c.samples_per_frame, c.codec_string), (48_000, 1536, "ac-3"));
        let Codec::Ac3(a) = c.codec else { panic!() };
        assert_eq!(a.dac3, Ac3SpecificBox { fscod: 0, bsid: 8, bsmod: 0, acmod: 2, lfeon: false, bit_rate_code: 10 });
        assert_eq!(a.audio.channel_count, 2);
    }

    #[test]
    fn eac3_5_1_48k() {
        // strmtyp 0, substreamid 0, frmsiz 767 (1536 bytes), fscod 0, numblkscod 3, acmod 7, lfeon 1, bsid 16
        let frame = [0x0B, 0x77, 0x02, 0xFF, 0x3F, 0x80, 0x00, 0x00];
        let c = frame_config(&frame, true).unwrap();
        assert_eq!((c.sample_rate, c.samples_per_frame, c.codec_string), (48_000, 1536, "ec-3"));
        let Codec::Eac3(e) = c.codec else { panic!() };
        assert_eq!(e.dec3.data_rate, 384);
        assert_eq!(e.audio.channel_count, 6);
        assert_eq!((e.dec3.substreams[0].acmod, e.dec3.substreams[0].lfeon, e.dec3.substreams[0].bsid), (7, true, 16));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(frame_config(&[0; 8], false).is_err());
        assert!(frame_config(&[0x0B, 0x77, 0, 0, 0xC0, 0, 0, 0], false).is_err());
        assert!(frame_config(&[0x0B, 0x77], true).is_err());
    }
}
