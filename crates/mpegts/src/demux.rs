//! The transport stream demuxer: bytes in (any split, e.g. 1316-byte SRT payloads), elementary
//! stream units out, on one timeline in 90 kHz ticks starting at 0.
//!
//! PAT → PMT → the first video (H.264 or H.265) and the first audio (AAC in ADTS, or Opus in
//! mono or stereo, [`crate::opus`]) stream of the first program; PES packets are
//! reassembled per PID (bounded by `max_pes` bytes) and end at the next `payload_unit_start`
//! of the PID, or as soon as a bounded `PES_packet_length` is complete. A continuity counter
//! gap (§2.4.3.3) drops the PES in progress of that PID; a repeated packet (same counter) is
//! ignored. Video access units come out with 4-byte NAL lengths once the parameter sets are known; each ADTS
//! frame is its own audio unit, timed from the PES's PTS plus 1024 samples per block; each Opus
//! access unit likewise, timed by the durations of its TOC (RFC 6716 §3.1).

use std::collections::HashMap;

use crate::adts::{self, AdtsHeader};
use crate::opus;
use crate::annexb::{AnnexBReader, VideoCodec};
use crate::packet::{TsHeader, NULL_PID, PACKET_SIZE, SYNC_BYTE};
use crate::pes::PesHeader;
use crate::psi::{self, StreamType, MAX_SECTION_LENGTH};
use crate::timestamp::{TimestampUnwrapper, PTS_WRAP};
use crate::TsError;

/// Default bound of one PES packet (an access unit), bytes.
pub const DEFAULT_MAX_PES: usize = 8 << 20;

/// Video or audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// H.264 or H.265 (the codec of the last [`DemuxEvent::VideoConfig`]).
    Video,
    /// AAC or Opus (the codec of the last [`DemuxEvent::AacConfig`] or
    /// [`DemuxEvent::OpusConfig`]).
    Audio,
}

/// One access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Video or audio.
    pub kind: UnitKind,
    /// Decode time, 90 kHz ticks on the demuxer's timeline (0 = the first timestamp seen; may
    /// be negative for a stream that starts slightly before the first one).
    pub dts: i64,
    /// Presentation time, 90 kHz ticks (≥ `dts`).
    pub pts: i64,
    /// An IDR access unit (video).
    pub keyframe: bool,
    /// Video: NAL units with 4-byte lengths, parameter sets left out. Audio: one raw AAC frame,
    /// or one Opus packet without its control header.
    pub data: Vec<u8>,
}

/// What [`TsDemuxer::push`] produces, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemuxEvent {
    /// The video stream's codec and parameter sets (NAL units without start codes: SPS, PPS for
    /// H.264; VPS, SPS, PPS for H.265), before its first unit and again when they change.
    VideoConfig {
        /// H.264 or H.265: every video unit that follows is of this codec.
        codec: VideoCodec,
        /// The parameter sets, in the order above.
        sets: Vec<Vec<u8>>,
        /// Decode time of the access unit they came with, 90 kHz ticks.
        dts: i64,
    },
    /// The AAC AudioSpecificConfig, before the first audio unit and when it changes.
    AacConfig {
        /// The 2-byte AudioSpecificConfig.
        config: [u8; 2],
        /// Sampling frequency, Hz.
        sample_rate: u32,
        /// Channel configuration.
        channels: u8,
        /// Time of the frame it came with, 90 kHz ticks.
        dts: i64,
    },
    /// The audio stream is Opus with this many channels (1 or 2), before its first unit.
    OpusConfig {
        /// Channel count (mapping family 0).
        channels: u8,
        /// Time of the access unit it came with, 90 kHz ticks.
        dts: i64,
    },
    /// An access unit.
    Unit(Unit),
    /// The PMT names a stream this demuxer does not carry (multichannel Opus, a second video or
    /// audio stream, ...): once per PID.
    Unsupported {
        /// Its PID.
        pid: u16,
        /// Its stream type.
        stream_type: StreamType,
    },
}

/// Counters since the demuxer was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemuxStats {
    /// Transport packets read.
    pub packets: u64,
    /// Continuity counter gaps (lost packets) on elementary stream PIDs.
    pub continuity_errors: u64,
    /// Bytes skipped to find the sync byte again.
    pub resync_bytes: u64,
    /// PES packets or sections dropped as malformed, truncated or over the limit.
    pub dropped: u64,
}

#[derive(Debug)]
struct Es {
    stream_type: StreamType,
    pes: Vec<u8>,
    /// The PES in progress lost a packet or started without its header: dropped at its end.
    broken: bool,
    cc: Option<u8>,
    avc: AnnexBReader,
    aac_config: Option<[u8; 2]>,
    /// Opus: the channel count, and whether [`DemuxEvent::OpusConfig`] went out.
    opus_channels: u8,
    opus_announced: bool,
}

/// The demuxer; see the [module docs](self).
#[derive(Debug)]
pub struct TsDemuxer {
    carry: Vec<u8>,
    pmt_pid: Option<u16>,
    pmt_version: Option<u8>,
    sections: HashMap<u16, Vec<u8>>,
    streams: HashMap<u16, Es>,
    unwrapper: TimestampUnwrapper,
    max_pes: usize,
    stats: DemuxStats,
    last_error: Option<TsError>,
}

impl Default for TsDemuxer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PES)
    }
}

impl TsDemuxer {
    /// A demuxer dropping PES packets over `max_pes` bytes.
    pub fn new(max_pes: usize) -> Self {
        TsDemuxer {
            carry: Vec::with_capacity(PACKET_SIZE),
            pmt_pid: None,
            pmt_version: None,
            sections: HashMap::new(),
            streams: HashMap::new(),
            unwrapper: TimestampUnwrapper::new(),
            max_pes,
            stats: DemuxStats::default(),
            last_error: None,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DemuxStats {
        self.stats
    }

    /// The latest input problem (each one also counts in [`DemuxStats`]), cleared by the call.
    pub fn take_error(&mut self) -> Option<TsError> {
        self.last_error.take()
    }

    /// Takes bytes and appends what they complete to `out`. Never fails: a bad packet, section
    /// or PES is dropped and counted (see [`take_error`](Self::take_error)).
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<DemuxEvent>) {
        if !self.carry.is_empty() {
            let need = PACKET_SIZE - self.carry.len();
            let take = need.min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < PACKET_SIZE {
                return;
            }
            let packet: [u8; PACKET_SIZE] = self.carry[..].try_into().expect("188 bytes");
            self.carry.clear();
            self.packet(&packet, out);
        }
        while !data.is_empty() {
            if data[0] != SYNC_BYTE {
                let skip = data
                    .iter()
                    .position(|&b| b == SYNC_BYTE)
                    .unwrap_or(data.len());
                self.stats.resync_bytes += skip as u64;
                data = &data[skip..];
                continue;
            }
            if data.len() < PACKET_SIZE {
                self.carry.extend_from_slice(data);
                return;
            }
            let packet: &[u8; PACKET_SIZE] = data[..PACKET_SIZE].try_into().expect("188 bytes");
            self.packet(packet, out);
            data = &data[PACKET_SIZE..];
        }
    }

    /// The end of the stream: emits every PES still waiting for the next one to start (an
    /// unbounded video PES ends only there), then forgets partial packets.
    pub fn flush(&mut self, out: &mut Vec<DemuxEvent>) {
        let mut pids: Vec<u16> = self.streams.keys().copied().collect();
        pids.sort_unstable();
        for pid in pids {
            self.finish(pid, out);
            if let Some(es) = self.streams.get_mut(&pid) {
                es.pes.clear();
            }
        }
        self.carry.clear();
    }

    fn fail(&mut self, e: TsError) {
        self.stats.dropped += 1;
        self.last_error = Some(e);
    }

    fn packet(&mut self, p: &[u8; PACKET_SIZE], out: &mut Vec<DemuxEvent>) {
        self.stats.packets += 1;
        let h = match TsHeader::parse(p) {
            Ok(h) => h,
            Err(e) => return self.fail(e),
        };
        if h.discontinuity {
            self.unwrapper.splice();
        }
        if !h.has_payload || h.pid == NULL_PID || h.payload_offset >= PACKET_SIZE {
            return;
        }
        let payload = &p[h.payload_offset..];
        if h.pid == 0 || Some(h.pid) == self.pmt_pid {
            return self.psi(h.pid, h.payload_unit_start, payload, out);
        }
        let Some(es) = self.streams.get_mut(&h.pid) else {
            return;
        };
        if let Some(last) = es.cc {
            if h.continuity_counter == last {
                return; // a duplicate packet (§2.4.3.3)
            }
            if h.continuity_counter != (last + 1) & 0x0F && !h.discontinuity {
                self.stats.continuity_errors += 1;
                es.broken = true;
            }
        }
        es.cc = Some(h.continuity_counter);
        if h.payload_unit_start {
            self.finish(h.pid, out);
            let es = self.streams.get_mut(&h.pid).expect("present");
            es.pes.clear();
            es.broken = false;
        } else if es.pes.is_empty() {
            return; // the middle of a PES whose start we never saw
        }
        let es = self.streams.get_mut(&h.pid).expect("present");
        if es.pes.len() + payload.len() > self.max_pes {
            let n = es.pes.len() + payload.len();
            es.pes.clear();
            return self.fail(TsError::TooLarge(n));
        }
        es.pes.extend_from_slice(payload);
        // A bounded PES ends as soon as it is complete (audio out without waiting a packet).
        if es.pes.len() >= 6 {
            let length = usize::from(u16::from_be_bytes([es.pes[4], es.pes[5]]));
            if length != 0 && es.pes.len() >= 6 + length {
                self.finish(h.pid, out);
                if let Some(es) = self.streams.get_mut(&h.pid) {
                    es.pes.clear();
                }
            }
        }
    }

    fn psi(&mut self, pid: u16, start: bool, payload: &[u8], out: &mut Vec<DemuxEvent>) {
        let buf = self.sections.entry(pid).or_default();
        if start {
            let pointer = usize::from(payload[0]);
            buf.clear();
            match payload.get(1 + pointer..) {
                Some(rest) => buf.extend_from_slice(rest),
                None => return self.fail(TsError::Truncated("PSI pointer_field")),
            }
        } else if buf.is_empty() {
            return;
        } else {
            buf.extend_from_slice(payload);
        }
        let Some(total) = psi::section_total_length(buf) else {
            return;
        };
        if total > 3 + MAX_SECTION_LENGTH {
            buf.clear();
            return self.fail(TsError::Truncated("PSI section length"));
        }
        if buf.len() < total {
            return;
        }
        let section = std::mem::take(buf);
        let section = &section[..total];
        if pid == 0 {
            match psi::parse_pat(section) {
                Ok(programs) => {
                    if let Some(&(_, pmt)) = programs.first() {
                        if self.pmt_pid != Some(pmt) {
                            self.pmt_pid = Some(pmt);
                            self.pmt_version = None;
                        }
                    }
                }
                Err(e) => self.fail(e),
            }
            return;
        }
        match psi::parse_pmt(section) {
            Ok(map) => {
                if self.pmt_version == Some(map.version) {
                    return;
                }
                self.pmt_version = Some(map.version);
                for s in map.streams {
                    if self
                        .streams
                        .get(&s.pid)
                        .is_some_and(|es| es.stream_type == s.stream_type)
                    {
                        continue;
                    }
                    let video = matches!(s.stream_type, StreamType::H264 | StreamType::H265);
                    let taken = self.streams.values().any(|es| {
                        matches!(es.stream_type, StreamType::H264 | StreamType::H265) == video
                    });
                    // Opus mapping family 0: mono or stereo (no descriptor: stereo, as ffmpeg).
                    let opus_channels = match s.channel_config {
                        None => Some(2),
                        Some(c @ 1..=2) => Some(c),
                        Some(_) => None,
                    };
                    let audio = s.stream_type == StreamType::AacAdts
                        || (s.stream_type == StreamType::Opus && opus_channels.is_some());
                    // One video and one audio stream: the first of each the PMT lists.
                    if !(video || audio) || taken {
                        out.push(DemuxEvent::Unsupported {
                            pid: s.pid,
                            stream_type: s.stream_type,
                        });
                        continue;
                    }
                    self.streams.insert(
                        s.pid,
                        Es {
                            stream_type: s.stream_type,
                            pes: Vec::new(),
                            broken: false,
                            cc: None,
                            avc: AnnexBReader::new(if s.stream_type == StreamType::H265 {
                                VideoCodec::H265
                            } else {
                                VideoCodec::H264
                            }),
                            aac_config: None,
                            opus_channels: opus_channels.unwrap_or(2),
                            opus_announced: false,
                        },
                    );
                }
            }
            Err(e) => self.fail(e),
        }
    }

    /// Ends the PES in progress on `pid` and emits its units.
    fn finish(&mut self, pid: u16, out: &mut Vec<DemuxEvent>) {
        let Some(es) = self.streams.get_mut(&pid) else {
            return;
        };
        if es.pes.is_empty() {
            return;
        }
        if es.broken {
            es.pes.clear();
            es.broken = false;
            return self.fail(TsError::Truncated("PES with a lost packet"));
        }
        let pes = std::mem::take(&mut es.pes);
        let header = match PesHeader::parse(&pes) {
            Ok(h) => h,
            Err(e) => return self.fail(e),
        };
        let end = if header.packet_length == 0 {
            pes.len()
        } else {
            (6 + header.packet_length).min(pes.len())
        };
        let Some(data) = pes.get(header.data_offset..end) else {
            return self.fail(TsError::Truncated("PES data"));
        };
        let Some(pts) = header.pts else {
            return self.fail(TsError::Truncated("PES without a PTS"));
        };
        let raw_dts = header.dts.unwrap_or(pts);
        // Composition offset modulo the wrap; anything over ~13 h is nonsense, taken as 0.
        let cts = pts.wrapping_sub(raw_dts) & (PTS_WRAP - 1);
        let cts = if cts > PTS_WRAP / 2 { 0 } else { cts as i64 };
        match es.stream_type {
            StreamType::H264 | StreamType::H265 => {
                let dts = self.unwrapper.unwrap(raw_dts, 3000);
                let es = self.streams.get_mut(&pid).expect("present");
                let Some(au) = es.avc.read(data) else { return };
                let Some(sets) = es.avc.parameter_sets() else {
                    return;
                };
                if au.parameter_sets_changed {
                    out.push(DemuxEvent::VideoConfig {
                        codec: es.avc.codec(),
                        sets: sets.into_iter().map(<[u8]>::to_vec).collect(),
                        dts,
                    });
                }
                out.push(DemuxEvent::Unit(Unit {
                    kind: UnitKind::Video,
                    dts,
                    pts: dts + cts,
                    keyframe: au.keyframe,
                    data: au.avcc,
                }));
            }
            StreamType::AacAdts => {
                let dts = self.unwrapper.unwrap(raw_dts, 1920);
                let mut at = dts;
                let mut error = None;
                let es = self.streams.get_mut(&pid).expect("present");
                for frame in adts::frames(data) {
                    let frame = match frame {
                        Ok(f) => f,
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    };
                    let h: AdtsHeader = frame.header;
                    let config = h.audio_specific_config();
                    if es.aac_config != Some(config) {
                        es.aac_config = Some(config);
                        out.push(DemuxEvent::AacConfig {
                            config,
                            sample_rate: h.sample_rate(),
                            channels: h.channels,
                            dts: at,
                        });
                    }
                    out.push(DemuxEvent::Unit(Unit {
                        kind: UnitKind::Audio,
                        dts: at,
                        pts: at,
                        keyframe: false,
                        data: frame.raw.to_vec(),
                    }));
                    at += (1024 * h.blocks as i64 * 90_000) / i64::from(h.sample_rate());
                }
                if let Some(e) = error {
                    self.fail(e);
                }
            }
            StreamType::Opus => {
                let mut at = self.unwrapper.unwrap(raw_dts, 1800);
                let mut error = None;
                let es = self.streams.get_mut(&pid).expect("present");
                for au in opus::access_units(data) {
                    let au = match au {
                        Ok(au) => au,
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    };
                    let Some(samples) = opus::packet_duration(au.packet) else {
                        error = Some(TsError::Truncated("Opus packet"));
                        continue;
                    };
                    if !es.opus_announced {
                        es.opus_announced = true;
                        out.push(DemuxEvent::OpusConfig {
                            channels: es.opus_channels,
                            dts: at,
                        });
                    }
                    out.push(DemuxEvent::Unit(Unit {
                        kind: UnitKind::Audio,
                        dts: at,
                        pts: at,
                        keyframe: false,
                        data: au.packet.to_vec(),
                    }));
                    at += i64::from(samples) * 90_000 / i64::from(opus::OPUS_CLOCK_HZ);
                }
                if let Some(e) = error {
                    self.fail(e);
                }
            }
            _ => {}
        }
    }
}
