//! [`ForwardHost`]: the plain RTP/SRTP legs of one UDP port — forwarders to SDP receivers
//! (ffmpeg, GStreamer) and relay links to other Sluice nodes — over the same egress core as the
//! native WebRTC viewers:
//!
//! - which forwarder gets which packet, with which payload type and sequence offsets, and where
//!   a NACKed packet (RFC 4585 §6.2.1) is found again, is `sluice_rtp::egress::Fanout`'s;
//! - each packet is protected in place (SRTP/SRTCP by `sluice_srtp`, RFC 3711, when keyed) into
//!   a [`SendBatch`] slot and the batch goes out with `sendmmsg`/GSO;
//! - feedback on the port is routed by source address (any of a forwarder's four destination
//!   addresses), unprotected as SRTCP with the forwarder's feedback key, and read by the RTCP
//!   parser of `sluice_rtp`: NACKs are answered here, receiver reports and keyframe requests go
//!   to JS as events.
//!
//! Sans-IO apart from the batch it is handed: no socket or clock of its own.

use std::collections::HashMap;
use std::net::SocketAddr;

use sluice_rtp::egress::{patch_into, Fanout, FanoutTarget, FrameStart, MediaKind, SubscriberConfig, SubscriberReport};
use sluice_rtp::rtcp::{is_rtcp, parse_compound, ReportBlock, RtcpPacket};
use sluice_srtp::SrtpContext;

use crate::send_batch::SendBatch;

/// Video packets kept per stream for NACK (about 4 s at 2.5 Mbit/s).
const RETRANSMIT_PACKETS: usize = 1024;
/// Injected (GOP replay) packets kept per forwarder for NACK.
const INJECTED_PACKETS: usize = 1024;

/// Where one forwarder's packets go (RFC 3550 §11: RTP and its RTCP per kind; all four the same
/// address when RTP and RTCP share one port, RFC 5761).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destinations {
    pub video_rtp: SocketAddr,
    pub video_rtcp: SocketAddr,
    pub audio_rtp: SocketAddr,
    pub audio_rtcp: SocketAddr,
}

impl Destinations {
    fn all(&self) -> [SocketAddr; 4] {
        [self.video_rtp, self.video_rtcp, self.audio_rtp, self.audio_rtcp]
    }
}

/// A forwarder to add.
pub struct ForwarderSetup {
    pub id: u32,
    pub stream_key: String,
    pub video_pt: Option<u8>,
    pub audio_pt: Option<u8>,
    pub destinations: Destinations,
    /// Protects what it sends (SRTP and SRTCP), or `None` for plain RTP.
    pub outbound: Option<SrtpContext>,
    /// Unprotects the SRTCP that comes back, or `None` to take plain RTCP.
    pub inbound: Option<SrtpContext>,
}

/// Per-forwarder counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct ForwarderCounters {
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub nacks: u64,
    pub retransmitted: u64,
    pub keyframe_requests: u64,
    /// Packets that could not be written or protected.
    pub send_errors: u64,
    /// Feedback datagrams that failed SRTCP or RTCP checks.
    pub feedback_dropped: u64,
}

/// What the host reports to JS.
#[derive(Debug, Clone, PartialEq)]
pub enum ForwardEvent {
    /// A receiver report (or the report blocks of a sender report) about our streams.
    Report { id: u32, blocks: Vec<ReportBlock> },
}

struct Forwarder {
    destinations: Destinations,
    outbound: Option<SrtpContext>,
    inbound: Option<SrtpContext>,
    counters: ForwarderCounters,
}

/// See the [module docs](self).
pub struct ForwardHost {
    forwarders: HashMap<u32, Forwarder>,
    /// Feedback source address → forwarder.
    by_address: HashMap<SocketAddr, u32>,
    fanout: Fanout,
    /// Scratch: the forwarders one batch goes to.
    targets: Vec<FanoutTarget>,
    /// Scratch: one round of sender reports.
    reports: Vec<SubscriberReport>,
    events: Vec<ForwardEvent>,
}

impl Default for ForwardHost {
    fn default() -> Self {
        ForwardHost {
            forwarders: HashMap::new(),
            by_address: HashMap::new(),
            fanout: Fanout::new(RETRANSMIT_PACKETS, INJECTED_PACKETS),
            targets: Vec::new(),
            reports: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl ForwardHost {
    /// Events since the last call.
    pub fn take_events(&mut self) -> Vec<ForwardEvent> {
        std::mem::take(&mut self.events)
    }

    /// Adds a forwarder, not live until an [`inject`](Self::inject) says so. Errors: a taken id,
    /// or a destination another forwarder already sends to (its feedback could not be told
    /// apart).
    pub fn add(&mut self, setup: ForwarderSetup) -> Result<(), String> {
        if self.forwarders.contains_key(&setup.id) {
            return Err(format!("forwarder {} exists", setup.id));
        }
        if let Some(taken) = setup.destinations.all().into_iter().find(|a| self.by_address.contains_key(a)) {
            return Err(format!("another forwarder already sends to {taken}"));
        }
        self.fanout.add(setup.id, SubscriberConfig { stream_key: setup.stream_key, video_payload_type: setup.video_pt, audio_payload_type: setup.audio_pt, takes_descriptor: false });
        for a in setup.destinations.all() {
            self.by_address.insert(a, setup.id);
        }
        self.forwarders.insert(setup.id, Forwarder { destinations: setup.destinations, outbound: setup.outbound, inbound: setup.inbound, counters: ForwarderCounters::default() });
        Ok(())
    }

    /// Removes a forwarder; its counters, or `None` when there was none.
    pub fn remove(&mut self, id: u32) -> Option<ForwarderCounters> {
        let f = self.forwarders.remove(&id)?;
        self.fanout.remove(id);
        for a in f.destinations.all() {
            if self.by_address.get(&a) == Some(&id) {
                self.by_address.remove(&a);
            }
        }
        Some(f.counters)
    }

    /// `(id, counters)` of every forwarder.
    pub fn counters(&self) -> Vec<(u32, ForwarderCounters)> {
        self.forwarders.iter().map(|(id, f)| (*id, f.counters)).collect()
    }

    /// A stream's packets of one frame sent at Unix `now_ms`, for every live forwarder of it.
    /// Returns the forwarders it went to.
    pub fn media(&mut self, stream_key: &str, kind: MediaKind, packets: &[&[u8]], now_ms: f64, batch: &mut SendBatch) -> usize {
        self.fanout.media(stream_key, kind, packets, FrameStart::Delta, now_ms, &mut self.targets);
        let mut sent = 0;
        for t in &self.targets {
            let Some(f) = self.forwarders.get_mut(&t.id) else { continue };
            for p in packets {
                send(f, kind, p, t.payload_type, t.seq_offset, batch);
            }
            sent += 1;
        }
        batch.flush();
        sent
    }

    /// Sets the RTP clock rate of `stream_key`'s `kind` (an AAC track's sampling rate) for its
    /// sender reports.
    pub fn set_clock_rate(&mut self, stream_key: &str, kind: MediaKind, clock_rate: u32) {
        self.fanout.set_clock_rate(stream_key, kind, clock_rate);
    }

    /// A sender report at Unix `now_ms` to every live forwarder for each track it gets, with its
    /// own counts (RFC 3550 §6.4.1, `Fanout::sender_reports`), protected as SRTCP.
    pub fn send_reports(&mut self, now_ms: f64, batch: &mut SendBatch) {
        let mut reports = std::mem::take(&mut self.reports);
        self.fanout.sender_reports(now_ms, &mut reports);
        for r in &reports {
            if let Some(f) = self.forwarders.get_mut(&r.id) {
                send(f, r.kind, &r.packet, 0, 0, batch);
            }
        }
        batch.flush();
        self.reports = reports;
    }

    /// Packets for one forwarder only (its GOP replay, sender reports first), then its new
    /// sequence offset for `kind`; `live` lets it receive the stream's packets after them.
    pub fn inject(&mut self, id: u32, kind: MediaKind, packets: &[&[u8]], seq_offset: u16, live: bool, batch: &mut SendBatch) {
        let Some(t) = self.fanout.inject(id, kind, packets, seq_offset, live) else { return };
        let Some(f) = self.forwarders.get_mut(&id) else { return };
        for p in packets {
            send(f, kind, p, t.payload_type, t.seq_offset, batch);
        }
        batch.flush();
    }

    /// A datagram that arrived on the port: RTCP feedback from one of the forwarders'
    /// destinations. Returns whether a forwarder took it.
    pub fn handle_datagram(&mut self, source: SocketAddr, data: &[u8], batch: &mut SendBatch) -> bool {
        let Some(&id) = self.by_address.get(&source) else { return false };
        let Some(f) = self.forwarders.get_mut(&id) else { return false };
        if !is_rtcp(data) {
            f.counters.feedback_dropped += 1;
            return true;
        }
        let mut buf = data.to_vec();
        if let Some(inbound) = f.inbound.as_mut() {
            match inbound.unprotect_rtcp(&mut buf) {
                Ok(n) => buf.truncate(n),
                Err(_) => {
                    f.counters.feedback_dropped += 1;
                    return true;
                }
            }
        }
        let mut blocks = Vec::new();
        let mut lost: Vec<(MediaKind, u16)> = Vec::new();
        for packet in parse_compound(&buf) {
            match packet {
                Ok(RtcpPacket::ReceiverReport(rr)) => blocks.extend(rr.blocks),
                Ok(RtcpPacket::SenderReport(sr)) => blocks.extend(sr.blocks),
                Ok(RtcpPacket::Nack(nack)) => {
                    f.counters.nacks += 1;
                    let kind = self.fanout.kind_of_ssrc(id, nack.media_ssrc).unwrap_or(MediaKind::Video);
                    lost.extend(nack.lost.into_iter().map(|seq| (kind, seq)));
                }
                // the publisher behind the stream cannot be asked (RTMP); the GOP brings the next keyframe
                Ok(RtcpPacket::Pli(_)) | Ok(RtcpPacket::Fir(_)) => f.counters.keyframe_requests += 1,
                Ok(_) => {}
                Err(_) => {
                    f.counters.feedback_dropped += 1;
                    break;
                }
            }
        }
        for (kind, seq) in lost {
            let found = match kind {
                MediaKind::Video => self.fanout.resolve_nack(id, seq),
                MediaKind::Audio => self.fanout.resolve_audio_nack(id, seq),
            };
            let Some(r) = found else { continue };
            if send(f, kind, r.packet, r.payload_type, r.seq_offset, batch) {
                f.counters.retransmitted += 1;
            }
        }
        batch.flush();
        if !blocks.is_empty() {
            self.events.push(ForwardEvent::Report { id, blocks });
        }
        true
    }
}

/// Writes `packet` of `kind` for forwarder `f` into the batch: RTP patched with its payload type
/// and sequence offset (`patch_into`) and protected as SRTP to the kind's RTP address; RTCP (the
/// sender's reports) protected as SRTCP to the kind's RTCP address. Returns whether it was queued.
fn send(f: &mut Forwarder, kind: MediaKind, packet: &[u8], pt: u8, seq_offset: u16, batch: &mut SendBatch) -> bool {
    let slot = batch.slot();
    if packet.len() + sluice_srtp::MAX_TRAILER_LEN > slot.len() {
        f.counters.send_errors += 1;
        return false;
    }
    let Ok(len) = patch_into(packet, slot, pt, seq_offset) else {
        f.counters.send_errors += 1;
        return false;
    };
    let rtcp = is_rtcp(packet);
    let protected = match f.outbound.as_mut() {
        None => Ok(len),
        Some(srtp) if rtcp => srtp.protect_rtcp(slot, len),
        Some(srtp) => srtp.protect_rtp(slot, len),
    };
    let d = &f.destinations;
    let destination = match (kind, rtcp) {
        (MediaKind::Video, false) => d.video_rtp,
        (MediaKind::Video, true) => d.video_rtcp,
        (MediaKind::Audio, false) => d.audio_rtp,
        (MediaKind::Audio, true) => d.audio_rtcp,
    };
    match protected {
        Ok(n) => {
            batch.commit(n, destination);
            f.counters.packets_sent += 1;
            f.counters.bytes_sent += n as u64;
            true
        }
        Err(_) => {
            f.counters.send_errors += 1;
            false
        }
    }
}
