//! The transport stream muxer: H.264 or H.265 (length-prefixed NAL units in) and AAC (raw
//! frames in) or Opus (packets in) to 188-byte packets,
//! one program (PAT → PMT on PID 0x1000; video PID 0x100, audio 0x101, ffmpeg's layout).
//!
//! Each access unit is one PES packet. Video: an access unit delimiter, the parameter sets before
//! every random access picture, then the NAL units, in Annex B form; unbounded `PES_packet_length`. Audio: one
//! ADTS frame per PES, or one Opus packet with its control header per PES (private_stream_1,
//! see [`crate::opus`]). The PAT and PMT go out before the first access unit, before every
//! keyframe and when the set of tracks changes (a new PMT version), so a player can start at
//! any keyframe. The PCR rides in the adaptation field of the first packet of each PES on the
//! PCR PID (the video PID when there is video); PTS/DTS are written [`PCR_DELAY`] ticks after
//! the PCR (the decoder's buffer time).

use crate::adts::AdtsHeader;
use crate::opus;
use crate::annexb::{avcc_to_annexb, VideoCodec};
use crate::packet::{write_header, PACKET_SIZE};
use crate::pes::PesHeader;
use crate::psi::{build_pat, build_pmt, ElementaryStream, ProgramMap, StreamType};
use crate::timestamp::PTS_WRAP;

/// PID of the PMT.
pub const PMT_PID: u16 = 0x1000;
/// PID of the video stream.
pub const VIDEO_PID: u16 = 0x100;
/// PID of the audio stream.
pub const AUDIO_PID: u16 = 0x101;
/// PTS/DTS lead over the PCR, 90 kHz ticks (100 ms).
pub const PCR_DELAY: i64 = 9000;
/// The PAT/PMT repeat at least this often on an audio-only stream, 90 kHz ticks (500 ms).
const AUDIO_PSI_INTERVAL: i64 = 45_000;

#[derive(Debug, Clone)]
struct Video {
    codec: VideoCodec,
    /// SPS, PPS (H.264); VPS, SPS, PPS (H.265): written before every random access picture.
    sets: Vec<Vec<u8>>,
    length_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audio {
    Aac {
        object_type: u8,
        sampling_index: u8,
        channels: u8,
    },
    /// Opus with this `channel_config_code` (1 or 2 channels).
    Opus(u8),
}

/// The muxer; see the [module docs](self). Timestamps are 90 kHz ticks on any timeline (they
/// are written modulo 2^33).
#[derive(Debug, Default)]
pub struct TsMuxer {
    video: Option<Video>,
    audio: Option<Audio>,
    pmt_version: u8,
    psi_due: bool,
    last_psi: Option<i64>,
    cc_pat: u8,
    cc_pmt: u8,
    cc_video: u8,
    cc_audio: u8,
    scratch: Vec<u8>,
}

impl TsMuxer {
    /// A muxer with no tracks yet.
    pub fn new() -> Self {
        TsMuxer {
            psi_due: true,
            ..Default::default()
        }
    }

    /// Sets the H.264 parameter sets (NAL units without start codes) and the AVCC NAL length
    /// size (1–4) of the access units that follow.
    pub fn set_avc_config(&mut self, sps: &[u8], pps: &[u8], length_size: usize) {
        self.set_video_config(
            VideoCodec::H264,
            vec![sps.to_vec(), pps.to_vec()],
            length_size,
        );
    }

    /// Sets the video codec, its parameter sets (H.264: SPS, PPS; H.265: VPS, SPS, PPS; NAL units
    /// without start codes) and the NAL length size (1–4) of the access units that follow. A new
    /// codec is a new PMT version.
    pub fn set_video_config(&mut self, codec: VideoCodec, sets: Vec<Vec<u8>>, length_size: usize) {
        if self.video.as_ref().map(|v| v.codec) != Some(codec) {
            self.bump_pmt();
        }
        self.video = Some(Video {
            codec,
            sets,
            length_size: length_size.clamp(1, 4),
        });
    }

    /// Sets the AAC AudioSpecificConfig of the frames that follow (object type 1–4, an indexed
    /// sampling frequency). Returns false, leaving the track as it was, for a config ADTS cannot
    /// describe (escape values, SBR/PS signalled explicitly, a rate outside the table).
    pub fn set_aac_config(&mut self, asc: &[u8]) -> bool {
        let (Some(&a), Some(&b)) = (asc.first(), asc.get(1)) else {
            return false;
        };
        let object_type = a >> 3;
        let sampling_index = ((a & 0x07) << 1) | (b >> 7);
        let channels = (b >> 3) & 0x0F;
        if !(1..=4).contains(&object_type) || sampling_index > 12 || channels > 7 {
            return false;
        }
        self.set_audio(Audio::Aac {
            object_type,
            sampling_index,
            channels,
        });
        true
    }

    /// Sets Opus as the audio track, `channels` 1 or 2 (mapping family 0). Returns false,
    /// leaving the track as it was, for other channel counts.
    pub fn set_opus_config(&mut self, channels: u8) -> bool {
        if !(1..=2).contains(&channels) {
            return false;
        }
        self.set_audio(Audio::Opus(channels));
        true
    }

    /// A new audio codec (or channel configuration the PMT carries) is a new PMT version.
    fn set_audio(&mut self, audio: Audio) {
        let pmt_changes = match (self.audio, audio) {
            (Some(Audio::Aac { .. }), Audio::Aac { .. }) => false,
            (old, new) => old != Some(new),
        };
        if pmt_changes {
            self.bump_pmt();
        }
        self.audio = Some(audio);
    }

    fn bump_pmt(&mut self) {
        self.pmt_version = (self.pmt_version + 1) & 0x1F;
        self.psi_due = true;
    }

    fn pcr_pid(&self) -> u16 {
        if self.video.is_some() {
            VIDEO_PID
        } else {
            AUDIO_PID
        }
    }

    fn write_psi(&mut self, out: &mut Vec<u8>) {
        let mut streams = Vec::new();
        if let Some(v) = &self.video {
            let stream_type = match v.codec {
                VideoCodec::H264 => StreamType::H264,
                VideoCodec::H265 => StreamType::H265,
            };
            streams.push(ElementaryStream {
                pid: VIDEO_PID,
                stream_type,
                channel_config: None,
            });
        }
        match self.audio {
            Some(Audio::Aac { .. }) => streams.push(ElementaryStream {
                pid: AUDIO_PID,
                stream_type: StreamType::AacAdts,
                channel_config: None,
            }),
            Some(Audio::Opus(code)) => streams.push(ElementaryStream {
                pid: AUDIO_PID,
                stream_type: StreamType::Opus,
                channel_config: Some(code),
            }),
            None => {}
        }
        let map = ProgramMap {
            program: 1,
            pcr_pid: self.pcr_pid(),
            version: self.pmt_version,
            streams,
        };
        for (pid, section) in [(0u16, build_pat(1, PMT_PID)), (PMT_PID, build_pmt(&map))] {
            let cc = if pid == 0 {
                &mut self.cc_pat
            } else {
                &mut self.cc_pmt
            };
            let mut p = [0xFFu8; PACKET_SIZE];
            let at = write_header(&mut p, pid, true, *cc, None, None, false);
            *cc = (*cc + 1) & 0x0F;
            p[at] = 0; // pointer_field
            let n = section.len().min(PACKET_SIZE - at - 1);
            p[at + 1..at + 1 + n].copy_from_slice(&section[..n]);
            out.extend_from_slice(&p);
        }
        self.psi_due = false;
    }

    /// Appends the packets of one video access unit: `avcc` (NAL units with the configured
    /// length size), decode and presentation times in 90 kHz ticks. Nothing is written before
    /// [`set_video_config`](Self::set_video_config).
    pub fn video(&mut self, avcc: &[u8], dts: i64, pts: i64, keyframe: bool, out: &mut Vec<u8>) {
        if self.video.is_none() {
            return;
        }
        if keyframe || self.psi_due {
            self.write_psi(out);
            self.last_psi = Some(dts);
        }
        let video = self.video.as_ref().expect("checked");
        let mut es = std::mem::take(&mut self.scratch);
        es.clear();
        avcc_to_annexb(
            video.codec,
            avcc,
            video.length_size,
            keyframe.then_some(&video.sets[..]),
            &mut es,
        );
        let mut pes = Vec::with_capacity(es.len() + 19);
        PesHeader::write(&mut pes, 0xE0, ts(pts), Some(ts(dts)), es.len(), true);
        pes.extend_from_slice(&es);
        self.scratch = es;
        let mut cc = self.cc_video;
        packetize(&pes, VIDEO_PID, &mut cc, Some(pcr(dts)), keyframe, out);
        self.cc_video = cc;
    }

    /// Appends the packets of one raw AAC frame presented at `pts` (90 kHz ticks). Nothing is
    /// written before [`set_aac_config`](Self::set_aac_config).
    pub fn audio(&mut self, raw: &[u8], pts: i64, out: &mut Vec<u8>) {
        let Some(Audio::Aac {
            object_type,
            sampling_index,
            channels,
        }) = self.audio
        else {
            return;
        };
        if raw.len() + 7 > 0x1FFF {
            return; // over ADTS's 13-bit frame_length: no such AAC frame
        }
        let mut pes = Vec::with_capacity(raw.len() + 21);
        PesHeader::write(&mut pes, 0xC0, ts(pts), None, raw.len() + 7, false);
        AdtsHeader::write(&mut pes, object_type, sampling_index, channels, raw.len());
        pes.extend_from_slice(raw);
        self.audio_pes(&pes, pts, out);
    }

    /// Appends the packets of one Opus packet (RFC 6716 §3) presented at `pts` (90 kHz ticks),
    /// with its control header. Nothing is written before
    /// [`set_opus_config`](Self::set_opus_config).
    pub fn opus(&mut self, packet: &[u8], pts: i64, out: &mut Vec<u8>) {
        if !matches!(self.audio, Some(Audio::Opus(_))) {
            return;
        }
        let mut es = Vec::with_capacity(packet.len() + 8);
        opus::write_control_header(&mut es, packet.len());
        es.extend_from_slice(packet);
        let mut pes = Vec::with_capacity(es.len() + 14);
        PesHeader::write(&mut pes, 0xBD, ts(pts), None, es.len(), false);
        pes.extend_from_slice(&es);
        self.audio_pes(&pes, pts, out);
    }

    /// Writes an audio PES (and the PSI first when due; on an audio-only stream every
    /// [`AUDIO_PSI_INTERVAL`], with the PCR).
    fn audio_pes(&mut self, pes: &[u8], pts: i64, out: &mut Vec<u8>) {
        let audio_only = self.video.is_none();
        if self.psi_due
            || (audio_only
                && self
                    .last_psi
                    .is_none_or(|t| pts - t >= AUDIO_PSI_INTERVAL || pts < t))
        {
            self.write_psi(out);
            self.last_psi = Some(pts);
        }
        let mut cc = self.cc_audio;
        packetize(
            pes,
            AUDIO_PID,
            &mut cc,
            audio_only.then(|| pcr(pts)),
            false,
            out,
        );
        self.cc_audio = cc;
    }
}

/// A timeline value as a 33-bit PTS/DTS with the decoder delay.
fn ts(t: i64) -> u64 {
    (t + PCR_DELAY).rem_euclid(PTS_WRAP as i64) as u64
}

/// The PCR (27 MHz) for a decode time: the 90 kHz base modulo 2^33, extension 0.
fn pcr(dts: i64) -> u64 {
    dts.rem_euclid(PTS_WRAP as i64) as u64 * 300
}

/// Cuts a PES packet into transport packets; the first gets PUSI, the PCR and the random
/// access flag; the last is filled with adaptation field stuffing.
fn packetize(
    pes: &[u8],
    pid: u16,
    cc: &mut u8,
    pcr: Option<u64>,
    random_access: bool,
    out: &mut Vec<u8>,
) {
    let mut rest = pes;
    let mut first = true;
    while !rest.is_empty() {
        let mut p = [0u8; PACKET_SIZE];
        let pcr = if first { pcr } else { None };
        let flagged = first && (pcr.is_some() || random_access);
        // Adaptation field length (after its length byte), when there is one.
        let mut af: Option<usize> = flagged.then_some(1 + if pcr.is_some() { 6 } else { 0 });
        let room = PACKET_SIZE - 4 - af.map_or(0, |n| n + 1);
        if rest.len() < room {
            let short = room - rest.len();
            af = Some(match af {
                Some(n) => n + short,
                None => short - 1, // the length byte itself takes one
            });
        }
        let at = write_header(&mut p, pid, first, *cc, af, pcr, first && random_access);
        *cc = (*cc + 1) & 0x0F;
        let n = (PACKET_SIZE - at).min(rest.len());
        p[at..at + n].copy_from_slice(&rest[..n]);
        out.extend_from_slice(&p);
        rest = &rest[n..];
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demux::{DemuxEvent, TsDemuxer, UnitKind};

    #[test]
    fn mux_then_demux_gives_back_every_unit() {
        let sps = [0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9];
        let pps = [0x68, 0xEB, 0xE3, 0xCB];
        let mut m = TsMuxer::new();
        m.set_avc_config(&sps, &pps, 4);
        assert!(m.set_aac_config(&[0x12, 0x10]));
        let mut ts = Vec::new();
        let mut units = Vec::new();
        for i in 0..30i64 {
            let keyframe = i % 10 == 0;
            let len = if keyframe { 5000 } else { 180 + i as usize };
            let mut nal = vec![if keyframe { 0x65 } else { 0x41 }];
            nal.extend((0..len).map(|k| (k % 251) as u8 + 1));
            let mut avcc = (nal.len() as u32).to_be_bytes().to_vec();
            avcc.extend_from_slice(&nal);
            m.video(&avcc, i * 3000, i * 3000 + 6000, keyframe, &mut ts);
            units.push((UnitKind::Video, i * 3000, avcc));
            let raw: Vec<u8> = (0..(100 + i as usize)).map(|k| k as u8).collect();
            m.audio(&raw, i * 2090, &mut ts);
            units.push((UnitKind::Audio, i * 2090, raw));
        }
        assert_eq!(ts.len() % PACKET_SIZE, 0);
        let mut d = TsDemuxer::default();
        let mut events = Vec::new();
        // Odd-sized pieces, as datagrams may cut them.
        for piece in ts.chunks(1000) {
            d.push(piece, &mut events);
        }
        // The last video PES ends only at the next start: push one more access unit.
        let mut tail = Vec::new();
        m.video(&[0, 0, 0, 2, 0x41, 1], 90_000, 90_000, false, &mut tail);
        d.push(&tail, &mut events);
        assert_eq!(d.stats().continuity_errors, 0);
        assert_eq!(d.stats().dropped, 0);
        let got: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                DemuxEvent::Unit(u) => Some((u.kind, u.dts, u.data.clone())),
                _ => None,
            })
            .collect();
        // The tail access unit stays pending until a next one starts, or the end of the stream.
        let want = units.clone();
        let mut end = Vec::new();
        d.flush(&mut end);
        assert!(
            matches!(&end[..], [DemuxEvent::Unit(u)] if u.dts == 90_000 && u.data == [0, 0, 0, 2, 0x41, 1])
        );
        // Timestamps are relative to the first one seen (the first video DTS, 0).
        assert_eq!(got.len(), want.len());
        for kind in [UnitKind::Video, UnitKind::Audio] {
            let g: Vec<_> = got.iter().filter(|u| u.0 == kind).collect();
            let w: Vec<_> = want.iter().filter(|u| u.0 == kind).collect();
            assert_eq!(g, w);
        }
        let config = events
            .iter()
            .position(|e| matches!(e, DemuxEvent::VideoConfig { .. }))
            .unwrap();
        let first_video = events
            .iter()
            .position(|e| matches!(e, DemuxEvent::Unit(u) if u.kind == UnitKind::Video))
            .unwrap();
        assert!(config < first_video);
        let keyframes = events
            .iter()
            .filter(|e| matches!(e, DemuxEvent::Unit(u) if u.keyframe))
            .count();
        assert_eq!(keyframes, 3);
    }

    #[test]
    fn opus_mux_then_demux_gives_back_every_packet_and_its_timing() {
        let mut m = TsMuxer::new();
        assert!(!m.set_opus_config(6));
        assert!(m.set_opus_config(1));
        let mut ts = Vec::new();
        let mut want = Vec::new();
        for i in 0..60i64 {
            // CELT 20 ms packets (TOC 0xF8) of varying size, some over 255 bytes.
            let mut p = vec![0xF8];
            p.extend((0..(20 + i as usize * 9)).map(|k| (k * 7 + i as usize) as u8));
            m.opus(&p, i * 1800, &mut ts);
            want.push((i * 1800, p));
        }
        let mut d = TsDemuxer::default();
        let mut events = Vec::new();
        for piece in ts.chunks(1316) {
            d.push(piece, &mut events);
        }
        assert_eq!(d.stats().dropped, 0);
        assert!(matches!(events[0], DemuxEvent::OpusConfig { channels: 1, dts: 0 }));
        let got: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                DemuxEvent::Unit(u) if u.kind == UnitKind::Audio => Some((u.dts, u.data.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn lost_packet_drops_only_its_access_unit() {
        let mut m = TsMuxer::new();
        m.set_avc_config(&[0x67, 1, 2, 3], &[0x68, 4], 4);
        let mut ts = Vec::new();
        for i in 0..4i64 {
            let mut avcc = 1001u32.to_be_bytes().to_vec();
            avcc.push(if i == 0 { 0x65 } else { 0x41 });
            avcc.extend(std::iter::repeat_n(7u8, 1000));
            m.video(&avcc, i * 3000, i * 3000, i == 0, &mut ts);
        }
        // Remove one packet from the middle of the second access unit's PES.
        let per_au = ts.len() / PACKET_SIZE / 4;
        let drop_at = (per_au + 3) * PACKET_SIZE;
        ts.drain(drop_at..drop_at + PACKET_SIZE);
        let mut d = TsDemuxer::default();
        let mut events = Vec::new();
        d.push(&ts, &mut events);
        let dts: Vec<i64> = events
            .iter()
            .filter_map(|e| {
                if let DemuxEvent::Unit(u) = e {
                    Some(u.dts)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(dts, vec![0, 6000]);
        assert_eq!(d.stats().continuity_errors, 1);
    }
}
