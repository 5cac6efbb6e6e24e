//! [`Host`]: every native WHEP viewer of one UDP port, and the streams they watch — the native
//! counterpart of `ts/webrtc/viewer-host.ts`, with the same rules:
//!
//! - A stream's packets come once per frame from the feed (`media`), each viewer gets them with
//!   its negotiated payload types and, for video, its sequence offset (packets injected for it
//!   alone — a GOP replay at join — shift it). RTCP in the batch (the feed's sender reports) is
//!   protected as SRTCP and sent as is.
//! - NACKs (RFC 4585 §6.2.1) are answered from the viewer's own ring of injected packets, else
//!   from the stream's retransmission ring through the offset in force when the packet went out.
//!   PLI and FIR become keyframe requests for the feed.
//! - Datagrams on the port are routed by STUN USERNAME (the local ufrag) and, once a check
//!   passed, by source address (`sluice_ice::demux::Demux`); anything else is dropped.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use sluice_ice::demux::{classify, DatagramKind, Demux};
use sluice_ice::Message;
use sluice_rtp::rtcp::{is_rtcp, RtcpPacket};
use sluice_webrtc::{Certificate, CloseReason, Peer, PeerConfig, PeerEvent, PeerState};

use super::batch::SendBatch;

/// Video packets kept per stream for NACK (about 2 s at 2.5 Mbit/s).
const RETRANSMIT_PACKETS: usize = 1024;
/// Injected (GOP replay) packets kept per viewer for NACK.
const INJECTED_PACKETS: usize = 1024;
/// Sequence offsets remembered per viewer, newest last.
const OFFSET_HISTORY: usize = 8;

/// Video or audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Video,
    Audio,
}

/// What the host reports to JS.
#[derive(Debug, Clone, PartialEq)]
pub enum HostEvent {
    /// `connected` (DTLS and SRTP up) or `selected` (ICE picked a pair).
    State { id: u32, state: &'static str },
    /// The viewer asked for a keyframe (`pli`, `fir`).
    Keyframe { id: u32, reason: &'static str },
    /// The viewer is gone (reason as text), with what it was sent.
    Closed { id: u32, reason: String, packets_sent: u64, bytes_sent: u64 },
}

/// Per-viewer counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct ViewerCounters {
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub nacks: u64,
    pub retransmitted: u64,
    pub send_failures: u64,
    /// Transport-wide CC feedback packets received (the browser follows our sequence numbers).
    pub transport_feedback: u64,
}

/// What a viewer needs besides its credentials.
pub struct ViewerSetup {
    pub id: u32,
    pub stream_key: String,
    pub local_ufrag: String,
    pub local_password: String,
    pub remote_ufrag: Option<String>,
    pub remote_fingerprint: [u8; 32],
    pub video_pt: Option<u8>,
    pub audio_pt: Option<u8>,
    /// The offer's id (1–14) for the transport-wide sequence number header extension
    /// (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2), when it offered one.
    pub transport_cc_id: Option<u8>,
}

struct Viewer {
    peer: Peer,
    ufrag: String,
    stream_key: String,
    video_pt: Option<u8>,
    audio_pt: Option<u8>,
    /// Transport-wide sequence numbers: the extension id and the next number.
    twcc: Option<(u8, u16)>,
    /// Receives live packets (after its GOP replay).
    live: bool,
    seq_offset: u16,
    /// Offsets in force, oldest first: from viewer sequence number `from` on, live packet `s`
    /// went out as `s + offset`; `from` is `None` until known.
    offsets: VecDeque<(Option<u16>, u16)>,
    /// Injected packets as sent (viewer sequence numbers), by sequence number % ring size.
    injected: Vec<Option<Vec<u8>>>,
    counters: ViewerCounters,
}

impl Viewer {
    fn set_offset(&mut self, offset: u16, from: Option<u16>) {
        self.seq_offset = offset;
        self.offsets.push_back((from, offset));
        if self.offsets.len() > OFFSET_HISTORY {
            self.offsets.pop_front();
        }
    }

    /// The offset live packet `seq` (a viewer sequence number) went out with.
    fn offset_at(&self, seq: u16) -> u16 {
        for &(from, offset) in self.offsets.iter().rev() {
            match from {
                None => return offset,
                Some(f) if seq.wrapping_sub(f) < 0x8000 => return offset,
                _ => {}
            }
        }
        self.offsets.front().map_or(0, |&(_, o)| o)
    }
}

struct Stream {
    viewers: Vec<u32>,
    /// Stream sequence number % size → packet as the feed sent it.
    ring: Vec<Option<Vec<u8>>>,
}

/// Host-wide counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostCounters {
    pub datagrams_in: u64,
    pub unrouted: u64,
}

/// See the [module docs](self).
pub struct Host {
    certificate: Certificate,
    dtls_config: Arc<dimpl::Config>,
    viewers: HashMap<u32, Viewer>,
    demux: Demux<u32>,
    streams: HashMap<String, Stream>,
    events: Vec<HostEvent>,
    pub counters: HostCounters,
}

fn seq_of(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[2], p[3]])
}

impl Host {
    pub fn new(certificate: Certificate) -> Host {
        Host {
            certificate,
            dtls_config: sluice_webrtc::dtls_config(),
            viewers: HashMap::new(),
            demux: Demux::new(),
            streams: HashMap::new(),
            events: Vec::new(),
            counters: HostCounters::default(),
        }
    }

    pub fn viewer_count(&self) -> usize {
        self.viewers.len()
    }

    /// Events since the last call.
    pub fn take_events(&mut self) -> Vec<HostEvent> {
        std::mem::take(&mut self.events)
    }

    /// Adds a viewer. Errors: a taken ufrag or id, bad credentials (the text says which).
    pub fn add_viewer(&mut self, setup: ViewerSetup, now: Instant) -> Result<(), String> {
        if self.viewers.contains_key(&setup.id) {
            return Err(format!("viewer {} exists", setup.id));
        }
        let mut config = PeerConfig::new(setup.local_ufrag.clone(), setup.local_password);
        config.remote_ufrag = setup.remote_ufrag;
        config.remote_fingerprint = Some(setup.remote_fingerprint);
        let peer = Peer::new(config, &self.certificate, self.dtls_config.clone(), now).map_err(|e| format!("{}: {e}", e.code()))?;
        if !self.demux.add_peer(&setup.local_ufrag, setup.id) {
            return Err("ICE ufrag taken".into());
        }
        self.streams
            .entry(setup.stream_key.clone())
            .or_insert_with(|| Stream { viewers: Vec::new(), ring: vec![None; RETRANSMIT_PACKETS] })
            .viewers
            .push(setup.id);
        self.viewers.insert(
            setup.id,
            Viewer {
                peer,
                ufrag: setup.local_ufrag,
                stream_key: setup.stream_key,
                video_pt: setup.video_pt,
                audio_pt: setup.audio_pt,
                twcc: setup.transport_cc_id.filter(|id| (1..=14).contains(id)).map(|id| (id, 0)),
                live: false,
                seq_offset: 0,
                offsets: VecDeque::from([(None, 0)]),
                injected: vec![None; INJECTED_PACKETS],
                counters: ViewerCounters::default(),
            },
        );
        Ok(())
    }

    /// Closes a viewer (idempotent): a DTLS close_notify goes out, then its `Closed` event.
    pub fn close_viewer(&mut self, id: u32, batch: &mut SendBatch) {
        if let Some(v) = self.viewers.get_mut(&id) {
            v.peer.close();
        }
        self.drain_peer(id, batch);
    }

    /// One datagram that arrived on the port.
    pub fn handle_datagram(&mut self, source: SocketAddr, data: &[u8], now: Instant, batch: &mut SendBatch) {
        self.counters.datagrams_in += 1;
        let id = if classify(data) == DatagramKind::Stun {
            Message::parse(data).ok().and_then(|m| m.username().ok().flatten().and_then(|u| self.demux.by_ufrag(u)))
        } else {
            self.demux.by_address(source)
        };
        let Some(id) = id else {
            self.counters.unrouted += 1;
            return;
        };
        let Some(v) = self.viewers.get_mut(&id) else {
            self.counters.unrouted += 1;
            return;
        };
        v.peer.handle_datagram(source, data, now);
        if v.peer.knows(source) && self.demux.by_address(source) != Some(id) {
            self.demux.bind_address(source, id);
        }
        self.drain_peer(id, batch);
    }

    /// When [`handle_timeouts`](Self::handle_timeouts) must next run.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.viewers.values().filter_map(|v| v.peer.poll_timeout()).min()
    }

    /// Runs every viewer's timers that are due.
    pub fn handle_timeouts(&mut self, now: Instant, batch: &mut SendBatch) {
        let due: Vec<u32> = self.viewers.iter().filter(|(_, v)| v.peer.poll_timeout().is_some_and(|t| t <= now)).map(|(id, _)| *id).collect();
        for id in due {
            if let Some(v) = self.viewers.get_mut(&id) {
                v.peer.handle_timeout(now);
            }
            self.drain_peer(id, batch);
        }
    }

    /// Sends a peer's pending datagrams (STUN answers, DTLS flights) and handles its events.
    fn drain_peer(&mut self, id: u32, batch: &mut SendBatch) {
        let Some(v) = self.viewers.get_mut(&id) else { return };
        while let Some(t) = v.peer.poll_transmit() {
            // Control traffic is rare: straight out, no batching.
            batch.send_now(&t.data, t.destination);
        }
        let mut closed = None;
        let mut rtcp = Vec::new();
        while let Some(event) = v.peer.poll_event() {
            match event {
                PeerEvent::Selected(_) => self.events.push(HostEvent::State { id, state: "selected" }),
                PeerEvent::Connected(_) => self.events.push(HostEvent::State { id, state: "connected" }),
                PeerEvent::Rtcp(packets) => rtcp.extend(packets),
                PeerEvent::Closed(reason) => closed = Some(reason),
            }
        }
        for p in rtcp {
            self.on_rtcp(id, p, batch);
        }
        if let Some(reason) = closed {
            self.remove(id, reason);
        }
    }

    fn on_rtcp(&mut self, id: u32, packet: RtcpPacket, batch: &mut SendBatch) {
        match packet {
            RtcpPacket::Nack(nack) => {
                let Some(v) = self.viewers.get_mut(&id) else { return };
                v.counters.nacks += 1;
                let Some(pt) = v.video_pt else { return };
                let ring = self.streams.get(&v.stream_key).map(|s| &s.ring);
                for seq in nack.lost {
                    let injected = v.injected[seq as usize % INJECTED_PACKETS].as_deref().filter(|p| seq_of(p) == seq);
                    let (packet, offset) = match injected {
                        Some(p) => (p, 0u16),
                        None => {
                            let offset = v.offset_at(seq);
                            let stream_seq = seq.wrapping_sub(offset);
                            match ring.and_then(|r| r[stream_seq as usize % RETRANSMIT_PACKETS].as_deref()).filter(|p| seq_of(p) == stream_seq) {
                                Some(p) => (p, offset),
                                None => continue,
                            }
                        }
                    };
                    if send_rtp(&mut v.peer, &mut v.counters, &mut v.twcc, packet, pt, offset, batch) {
                        v.counters.retransmitted += 1;
                    }
                }
                batch.flush();
            }
            RtcpPacket::TransportFeedback(_) => {
                if let Some(v) = self.viewers.get_mut(&id) {
                    v.counters.transport_feedback += 1;
                }
            }
            RtcpPacket::Pli(_) => self.events.push(HostEvent::Keyframe { id, reason: "pli" }),
            RtcpPacket::Fir(_) => self.events.push(HostEvent::Keyframe { id, reason: "fir" }),
            _ => {}
        }
    }

    fn remove(&mut self, id: u32, reason: CloseReason) {
        let Some(v) = self.viewers.remove(&id) else { return };
        self.demux.remove_peer(&v.ufrag);
        if let Some(s) = self.streams.get_mut(&v.stream_key) {
            s.viewers.retain(|x| *x != id);
            if s.viewers.is_empty() {
                self.streams.remove(&v.stream_key);
            }
        }
        let reason = match reason {
            CloseReason::Local => "closed by server".to_owned(),
            CloseReason::ConnectTimeout => "connect timeout".to_owned(),
            CloseReason::ConsentExpired => "consent expired".to_owned(),
            CloseReason::DtlsClosed => "closed by peer".to_owned(),
            CloseReason::Failed(e) => format!("{}: {e}", e.code()),
        };
        self.events.push(HostEvent::Closed { id, reason, packets_sent: v.counters.packets_sent, bytes_sent: v.counters.bytes_sent });
    }

    /// A stream's packets of one frame (or its sender reports), for every live viewer.
    pub fn media(&mut self, stream_key: &str, kind: Kind, packets: &[&[u8]], batch: &mut SendBatch) {
        let Some(stream) = self.streams.get_mut(stream_key) else { return };
        if kind == Kind::Video {
            for p in packets.iter().filter(|p| !is_rtcp(p) && p.len() >= 12) {
                let slot = &mut stream.ring[seq_of(p) as usize % RETRANSMIT_PACKETS];
                match slot {
                    Some(buf) => {
                        buf.clear();
                        buf.extend_from_slice(p);
                    }
                    None => *slot = Some(p.to_vec()),
                }
            }
        }
        for id in &stream.viewers {
            let Some(v) = self.viewers.get_mut(id) else { continue };
            if !v.live || v.peer.state() != PeerState::Connected {
                continue;
            }
            let (pt, offset) = match kind {
                Kind::Video => (v.video_pt, v.seq_offset),
                Kind::Audio => (v.audio_pt, 0),
            };
            let Some(pt) = pt else { continue };
            for p in packets {
                send_rtp(&mut v.peer, &mut v.counters, &mut v.twcc, p, pt, offset, batch);
            }
        }
        batch.flush();
    }

    /// Packets for one viewer only (its GOP replay), then its new video sequence offset; `live`
    /// lets it receive the stream's packets after them.
    pub fn inject(&mut self, id: u32, kind: Kind, packets: &[&[u8]], seq_offset: u16, live: bool, batch: &mut SendBatch) {
        let Some(v) = self.viewers.get_mut(&id) else { return };
        let pt = match kind {
            Kind::Video => v.video_pt,
            Kind::Audio => v.audio_pt,
        };
        if let Some(pt) = pt {
            if v.peer.state() == PeerState::Connected {
                for p in packets {
                    send_rtp(&mut v.peer, &mut v.counters, &mut v.twcc, p, pt, 0, batch);
                }
                batch.flush();
            }
        }
        let rtp: Vec<&&[u8]> = packets.iter().filter(|p| !is_rtcp(p) && p.len() >= 12).collect();
        if kind == Kind::Video && !rtp.is_empty() {
            for p in &rtp {
                v.injected[seq_of(p) as usize % INJECTED_PACKETS] = Some(p.to_vec());
            }
            let last = seq_of(rtp[rtp.len() - 1]);
            v.set_offset(seq_offset, Some(last.wrapping_add(1)));
        } else if seq_offset != v.seq_offset {
            v.set_offset(seq_offset, None);
        }
        if live {
            v.live = true;
        }
    }

    /// `(id, state, counters)` of every viewer.
    pub fn viewer_counters(&self) -> Vec<(u32, PeerState, ViewerCounters)> {
        self.viewers.iter().map(|(id, v)| (*id, v.peer.state(), v.counters)).collect()
    }

    /// Closes every viewer (server shutdown).
    pub fn close_all(&mut self, batch: &mut SendBatch) {
        let ids: Vec<u32> = self.viewers.keys().copied().collect();
        for id in ids {
            self.close_viewer(id, batch);
        }
    }
}

/// Bytes the transport-wide sequence number adds to a packet without extensions: the RFC 8285
/// one-byte header (`0xBEDE`, length 1) and one element (id/len, 2 bytes, 1 byte padding).
const TWCC_EXTENSION_LEN: usize = 8;

/// Copies `packet` into the batch for `peer`: RTP gets the viewer's payload type and sequence
/// offset (and, when `twcc` is set and the packet has no extension yet, the transport-wide
/// sequence number extension, RFC 8285 §4.2) and is protected as SRTP; RTCP (the feed's sender
/// reports) is protected as SRTCP. Returns whether it was queued.
fn send_rtp(peer: &mut Peer, counters: &mut ViewerCounters, twcc: &mut Option<(u8, u16)>, packet: &[u8], pt: u8, seq_offset: u16, batch: &mut SendBatch) -> bool {
    let len = packet.len();
    let slot = batch.slot();
    if len < 12 || len + TWCC_EXTENSION_LEN + sluice_srtp::MAX_TRAILER_LEN > slot.len() {
        counters.send_failures += 1;
        return false;
    }
    let protected = if is_rtcp(packet) {
        slot[..len].copy_from_slice(packet);
        peer.protect_rtcp(slot, len)
    } else {
        let len = match twcc {
            // X = 0 and CC = 0: a plain 12-byte header, the extension goes right after it.
            Some((id, next)) if packet[0] & 0x1F == 0 => {
                slot[..12].copy_from_slice(&packet[..12]);
                slot[0] |= 0x10;
                let [hi, lo] = next.to_be_bytes();
                slot[12..20].copy_from_slice(&[0xBE, 0xDE, 0, 1, (*id << 4) | 1, hi, lo, 0]);
                *next = next.wrapping_add(1);
                slot[20..len + TWCC_EXTENSION_LEN].copy_from_slice(&packet[12..]);
                len + TWCC_EXTENSION_LEN
            }
            _ => {
                slot[..len].copy_from_slice(packet);
                len
            }
        };
        slot[1] = (slot[1] & 0x80) | (pt & 0x7F);
        let seq = seq_of(slot).wrapping_add(seq_offset);
        slot[2..4].copy_from_slice(&seq.to_be_bytes());
        peer.protect_rtp(slot, len)
    };
    match protected {
        Ok((n, destination)) => {
            batch.commit(n, destination);
            counters.packets_sent += 1;
            counters.bytes_sent += n as u64;
            true
        }
        Err(_) => {
            counters.send_failures += 1;
            false
        }
    }
}
