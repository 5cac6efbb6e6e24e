//! The RTP egress pipeline for the JS transports (node-datachannel tracks, SFU downlinks):
//! `sluice_rtp::egress` behind two classes. The native WebRTC port (`webrtc/host.rs`) and the
//! plain RTP/SRTP forward port (`forward/host.rs`) use the same core directly.
//!
//! Packed packets (`RtpTargets`): packet `i` is `data.subarray(i === 0 ? 0 : ends[i - 1],
//! ends[i])`, to be sent to subscriber `ids[i]` as is.

use napi::bindgen_prelude::{Buffer, Error, Result, Status, Uint32Array};
use napi_derive::napi;
use std::collections::HashMap;
use std::time::Instant;

use sluice_rtp::bwe::RetransmissionBudget;
use sluice_rtp::egress::{self, Fanout, FanoutTarget, FrameStart, MediaKind, Pace, SubscriberConfig};
use sluice_rtp::svc;

fn invalid(message: String) -> Error {
    Error::new(Status::InvalidArg, format!("RTP_INVALID_ARGUMENT: {message}"))
}

/// `data` cut at `ends` (each packet `data[ends[i-1]..ends[i]]`), checked: `None` when an end
/// goes backwards or past `data`.
pub(crate) fn split<'a>(data: &'a [u8], ends: &[u32]) -> Option<Vec<&'a [u8]>> {
    let mut start = 0usize;
    let mut out = Vec::with_capacity(ends.len());
    for &end in ends {
        let end = end as usize;
        if end < start || end > data.len() {
            return None;
        }
        out.push(&data[start..end]);
        start = end;
    }
    Some(out)
}

fn split_checked<'a>(data: &'a [u8], ends: &[u32]) -> Result<Vec<&'a [u8]>> {
    split(data, ends).ok_or_else(|| invalid(format!("ends do not cut {} bytes", data.len())))
}

/// `"video"` or `"audio"`; anything else throws `RTP_INVALID_ARGUMENT`.
pub(crate) fn media_kind(kind: &str) -> Result<MediaKind> {
    match kind {
        "video" => Ok(MediaKind::Video),
        "audio" => Ok(MediaKind::Audio),
        other => Err(invalid(format!("kind must be \"video\" or \"audio\", not {other:?}"))),
    }
}

/// What a frame starts, as JS spells it (`FrameStart` in `ts/webrtc/viewer-protocol.ts`):
/// absent (nothing of note), `"keyframe"` or `"switch-point"`; `None` for another string.
pub(crate) fn frame_start(start: Option<&str>) -> Option<FrameStart> {
    match start {
        None => Some(FrameStart::Delta),
        Some("keyframe") => Some(FrameStart::Keyframe),
        Some("switch-point") => Some(FrameStart::SwitchPoint),
        Some(_) => None,
    }
}

/// A payload type 0–127, or throws `RTP_INVALID_ARGUMENT`.
pub(crate) fn payload_type(pt: u32) -> Result<u8> {
    u8::try_from(pt).ok().filter(|p| *p < 128).ok_or_else(|| invalid(format!("payload type {pt} is not 0-127")))
}

/// Packets for subscribers, back to back: packet `i` ends at `ends[i]` and goes to `ids[i]`.
#[napi(object)]
pub struct RtpTargets {
    /// The packets, patched for their subscriber (payload type, sequence number).
    pub data: Buffer,
    /// End offset of each packet in `data` (bytes).
    pub ends: Uint32Array,
    /// The subscriber of each packet.
    pub ids: Uint32Array,
}

#[derive(Default)]
struct Packer {
    data: Vec<u8>,
    ends: Vec<u32>,
    ids: Vec<u32>,
}

impl Packer {
    fn push(&mut self, id: u32, packet: &[u8], payload_type: u8, seq_offset: u16) {
        let at = self.data.len();
        self.data.resize(at + packet.len(), 0);
        // `patch_into` only fails under 12 bytes: such a packet is dropped.
        match egress::patch_into(packet, &mut self.data[at..], payload_type, seq_offset) {
            Ok(n) => {
                self.ends.push((at + n) as u32);
                self.ids.push(id);
            }
            Err(_) => self.data.truncate(at),
        }
    }

    fn push_all(&mut self, packets: &[&[u8]], targets: &[FanoutTarget]) {
        for t in targets {
            for p in packets {
                self.push(t.id, p, t.payload_type, t.seq_offset);
            }
        }
    }

    fn finish(self) -> RtpTargets {
        RtpTargets { data: self.data.into(), ends: self.ends.into(), ids: self.ids.into() }
    }
}

/// Streams and their subscribers (`sluice_rtp::egress::Fanout`): one stream packet in, one
/// patched packet per live subscriber out, NACKs resolved, GOP replays injected, the lag policy.
/// Ids are the caller's (u32). Used by the node-datachannel WHEP viewers' worker.
#[napi]
pub struct RtpFanout {
    inner: Fanout,
    targets: Vec<FanoutTarget>,
    /// Per subscriber: how much may be retransmitted to it each second (`sluice_rtp::bwe`;
    /// these viewers send no transport-cc feedback here, so the media's rate).
    budgets: HashMap<u32, RetransmissionBudget>,
    epoch: Instant,
}

#[napi]
impl RtpFanout {
    /// `ringPackets`: video packets kept per stream (default 1024); `injectedPackets`: per
    /// subscriber (default 1024). Both round up to powers of two.
    #[napi(constructor)]
    pub fn new(ring_packets: Option<u32>, injected_packets: Option<u32>) -> RtpFanout {
        let cap = |n: Option<u32>| n.unwrap_or(1024).clamp(1, 1 << 16) as usize;
        RtpFanout { inner: Fanout::new(cap(ring_packets), cap(injected_packets)), targets: Vec::new(), budgets: HashMap::new(), epoch: Instant::now() }
    }

    /// Adds subscriber `id` of `streamKey` with its payload types (absent: it takes no such
    /// kind). Returns false when `id` is taken. Throws `RTP_INVALID_ARGUMENT` for a payload
    /// type above 127.
    #[napi]
    pub fn add(&mut self, id: u32, stream_key: String, video_payload_type: Option<u32>, audio_payload_type: Option<u32>) -> Result<bool> {
        Ok(self.inner.add(
            id,
            SubscriberConfig {
                stream_key,
                video_payload_type: video_payload_type.map(payload_type).transpose()?,
                audio_payload_type: audio_payload_type.map(payload_type).transpose()?,
                takes_descriptor: false,
            },
        ))
    }

    /// Removes a subscriber; returns whether it was there.
    #[napi]
    pub fn remove(&mut self, id: u32) -> bool {
        self.budgets.remove(&id);
        self.inner.remove(id)
    }

    fn now_us(&self) -> i64 {
        self.epoch.elapsed().as_micros() as i64
    }

    /// The lag policy for a batch that arrived `lagMs` after its source: `"send"`,
    /// `"fell-behind"` (log it, skip the batch) or `"skip"`. Skipped video batches go to `skip`.
    #[napi]
    pub fn pace(&mut self, stream_key: String, lag_ms: f64) -> &'static str {
        match self.inner.pace(&stream_key, lag_ms) {
            Pace::Send => "send",
            Pace::FellBehind => "fell-behind",
            Pace::Skip => "skip",
        }
    }

    /// Counts a skipped video batch against the live subscribers of `streamKey`.
    #[napi]
    pub fn skip(&mut self, stream_key: String, data: &[u8], ends: &[u32]) -> Result<()> {
        let packets = split_checked(data, ends)?;
        self.inner.skip(&stream_key, &packets);
        Ok(())
    }

    /// One batch of a stream (`kind` `"video"` or `"audio"`; `start`: what it starts, as in
    /// `WebRtcViewers.media`): the packets for every live subscriber. Throws
    /// `RTP_INVALID_ARGUMENT` for a bad kind, `ends` or `start`.
    #[napi(ts_args_type = "streamKey: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, start?: 'keyframe' | 'switch-point'")]
    pub fn media(&mut self, stream_key: String, kind: String, data: &[u8], ends: &[u32], start: Option<String>) -> Result<RtpTargets> {
        let packets = split_checked(data, ends)?;
        let start = frame_start(start.as_deref()).ok_or_else(|| invalid(format!("start: {start:?}")))?;
        self.inner.media(&stream_key, media_kind(&kind)?, &packets, start, crate::unix_ms(), &mut self.targets);
        let bytes: usize = packets.iter().map(|p| p.len()).sum();
        let now_us = self.now_us();
        for t in &self.targets {
            self.budgets.entry(t.id).or_default().media(now_us, bytes);
        }
        let mut out = Packer::default();
        out.push_all(&packets, &self.targets);
        Ok(out.finish())
    }

    /// Sender reports (RFC 3550 §6.4.1, one SR each, 28 bytes) now for every live subscriber's
    /// `kind` track, with its own packet and octet counts; call once a second.
    #[napi(ts_args_type = "kind: 'video' | 'audio'")]
    pub fn sender_reports(&mut self, kind: String) -> Result<RtpTargets> {
        let kind = media_kind(&kind)?;
        let mut reports = Vec::new();
        self.inner.sender_reports(crate::unix_ms(), &mut reports);
        let mut out = Packer::default();
        for r in reports.iter().filter(|r| r.kind == kind) {
            out.push(r.id, &r.packet, 0, 0);
        }
        Ok(out.finish())
    }

    /// Anchors the sender reports of `streamKey`'s `kind` track on a publisher's own report
    /// re-based onto the stream's timestamps (`rtpTimestamp` current at Unix `wallMs`).
    #[napi(ts_args_type = "streamKey: string, kind: 'video' | 'audio', rtpTimestamp: number, wallMs: number")]
    pub fn anchor(&mut self, stream_key: String, kind: String, rtp_timestamp: u32, wall_ms: f64) -> Result<()> {
        self.inner.anchor(&stream_key, media_kind(&kind)?, rtp_timestamp, wall_ms);
        Ok(())
    }

    /// Packets for subscriber `id` alone (its GOP replay) and its new video sequence offset;
    /// `live` lets it receive the stream from now on. Returns them patched for it (none when it
    /// is unknown or takes no `kind`).
    #[napi]
    pub fn inject(&mut self, id: u32, kind: String, data: &[u8], ends: &[u32], seq_offset: u32, live: bool) -> Result<RtpTargets> {
        let packets = split_checked(data, ends)?;
        let target = self.inner.inject(id, media_kind(&kind)?, &packets, seq_offset as u16, live);
        let mut out = Packer::default();
        out.push_all(&packets, target.as_slice());
        Ok(out.finish())
    }

    /// The retransmissions for subscriber `id`'s NACKed sequence numbers (its own numbering,
    /// RFC 4585 §6.2.1), those still kept and within its second's retransmission budget (as
    /// many bytes as the media took in the last second: a viewer on a path narrower than the
    /// stream, NACKing all it lost again and again, gets at most twice the stream's rate).
    #[napi]
    pub fn nack(&mut self, id: u32, sequence_numbers: Vec<u32>) -> RtpTargets {
        let now_us = self.now_us();
        let budget = self.budgets.entry(id).or_default();
        let mut out = Packer::default();
        for seq in sequence_numbers {
            if let Some(r) = self.inner.resolve_nack(id, seq as u16) {
                if !budget.allow(now_us, r.packet.len(), None) {
                    continue;
                }
                out.push(id, r.packet, r.payload_type, r.seq_offset);
            }
        }
        out.finish()
    }

    /// NACKed packets not sent again to subscriber `id` because its retransmission budget was
    /// spent (0 for an unknown id).
    #[napi]
    pub fn retransmissions_refused(&self, id: u32) -> f64 {
        self.budgets.get(&id).map_or(0.0, |b| b.refused as f64)
    }

    /// Subscribers of `streamKey`, live or not.
    #[napi]
    pub fn subscribers(&self, stream_key: String) -> u32 {
        self.inner.subscribers_of(&stream_key) as u32
    }

    /// Times a stream fell behind.
    #[napi(getter)]
    pub fn lag_events(&self) -> f64 {
        self.inner.counters().lag_events as f64
    }

    /// Video packets skipped while behind.
    #[napi(getter)]
    pub fn packets_skipped(&self) -> f64 {
        self.inner.counters().packets_skipped as f64
    }
}

/// One forwarded track re-numbered once per feed (`sluice_rtp::egress::RtpRewriter`: output
/// SSRC and payload type, continuous sequence numbers and timestamps across publisher
/// restarts, extensions and CSRCs dropped): the `RtpFeed` of a WebRTC-origin stream, whose
/// packets the fan-out then sends to every subscriber (the retransmission ring is the fan-out's).
#[napi]
pub struct RtpRewriter {
    inner: egress::RtpRewriter,
    buf: Vec<u8>,
}

#[napi]
impl RtpRewriter {
    /// `ssrc` (32-bit), `payloadType` (0–127), `clockRate` (Hz). The first output sequence
    /// number and timestamp are random (RFC 3550 §5.1). Throws `RTP_INVALID_ARGUMENT` for a
    /// payload type above 127 or a zero clock rate.
    #[napi(constructor)]
    pub fn new(ssrc: u32, payload_type: u32, clock_rate: u32) -> Result<RtpRewriter> {
        if clock_rate == 0 {
            return Err(invalid("clock rate 0".into()));
        }
        let mut random = [0u8; 6];
        // The OS RNG only fails on platforms Node does not run on; zeros still work.
        let _ = getrandom::getrandom(&mut random);
        let seq = u16::from_be_bytes([random[0], random[1]]);
        let ts = u32::from_be_bytes([random[2], random[3], random[4], random[5]]) & 0x7FFF_FFFF;
        Ok(RtpRewriter { inner: egress::RtpRewriter::new(ssrc, self::payload_type(payload_type)?, clock_rate, seq, ts), buf: vec![0; 1600] })
    }

    /// Whether a packet was rewritten since the last input SSRC change.
    #[napi(getter)]
    pub fn started(&self) -> bool {
        self.inner.started()
    }

    /// The output timestamp of an input RTP timestamp (to re-base the publisher's SRs).
    #[napi]
    pub fn timestamp(&self, input_timestamp: u32) -> u32 {
        self.inner.timestamp(input_timestamp)
    }

    /// Leaves `packet` (a padding-only packet) out without a hole in the output numbering, when
    /// it is the next one in order (`sluice_rtp::egress::RtpRewriter::skip`).
    #[napi]
    pub fn skip(&mut self, packet: &[u8]) {
        self.inner.skip(packet);
    }

    /// Keeps only one operating point of a scalable input from now on: spatial layers up to
    /// `maxSpatial`, temporal layers up to `maxTemporal` (0–7 each); the others are left out
    /// without a hole and the marker bit ends each picture at the top spatial layer kept
    /// (`sluice_rtp::svc`). The layers are read from the VP9 payload descriptor (RFC 9628), or,
    /// given `dependencyDescriptorId` (the publisher's `extmap` id of the Dependency Descriptor
    /// extension, 1–255), from that extension (AV1 RTP Appendix A; nothing is kept before a
    /// packet carrying its template structure).
    #[napi]
    pub fn set_svc_filter(&mut self, max_spatial: u32, max_temporal: u32, dependency_descriptor_id: Option<u32>) {
        let (s, t) = (max_spatial.min(7) as u8, max_temporal.min(7) as u8);
        self.inner.set_svc(Some(match dependency_descriptor_id {
            Some(id) => svc::SvcFilter::dependency_descriptor(s, t, id.clamp(1, 255) as u8),
            None => svc::SvcFilter::vp9(s, t),
        }));
    }

    /// Keeps every packet again (no SVC filter).
    #[napi]
    pub fn clear_svc_filter(&mut self) {
        self.inner.set_svc(None);
    }

    /// Whether the last packet `rewrite` returned starts a switching point of the SVC filter's
    /// operating point: a viewer of a lower operating point may move up to this one there,
    /// without a keyframe (VP9 `U` on a base layer frame, a Dependency Descriptor switch
    /// indication; `sluice_rtp::svc`). False without a filter.
    #[napi(getter)]
    pub fn switch_point(&self) -> bool {
        self.inner.switch_point()
    }

    /// Keeps the input's header extension element `id` (1–255; null: none, the default) in the
    /// output, under a placeholder id the native transport maps to each viewer's
    /// (`sluice_rtp::egress::kept_extension`): an AV1 SVC stream's Dependency Descriptor.
    #[napi]
    pub fn keep_extension(&mut self, id: Option<u32>) {
        self.inner.keep_extension(id.and_then(|id| u8::try_from(id).ok()).filter(|&id| id >= 1));
    }

    /// `packet` rewritten; null when it is not RTP version 2 or shorter than its header says,
    /// or (with an SVC filter) of a layer left out or with an unreadable VP9 descriptor
    /// (nothing changes then but the numbering closing over a layer left out). `nowMs`:
    /// wallclock ms, for the timestamp jump across an input SSRC change.
    #[napi]
    pub fn rewrite(&mut self, packet: &[u8], now_ms: f64) -> Option<Buffer> {
        // a kept element's two-byte-form block may be a few bytes longer than the input's
        let room = packet.len() + 8;
        if self.buf.len() < room {
            self.buf.resize(room, 0);
        }
        let n = self.inner.forward_into(packet, &mut self.buf, now_ms).ok()??;
        Some(self.buf[..n].to_vec().into())
    }
}
