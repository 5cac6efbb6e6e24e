//! SRT (Haivision SRT 1.5, draft-sharabayko-srt) driven sans-IO from TypeScript's UDP sockets:
//! datagrams and the clock in, datagrams and events out. The protocol engine is the
//! `srt-protocol` crate (srt-rs): handshake v5 with the stream id extension, TSBPD, ACK/NAK ARQ,
//! too-late packet drop, AES-CTR with a passphrase (KMREQ/KMRSP), keepalives, shutdown. What is
//! Sluice's: the access decision between a caller's conclusion handshake and the answer
//! ([`SrtListener`]), pulling from other servers ([`SrtCaller`]), bounds, and the boundary below.
//!
//! Boundary: calls queue output; `drain()` hands it over in one [`SrtOutput`] — datagrams back to
//! back (`datagrams`, cut at `ends`, each to `addresses[i]`:`ports[i]`), [`SrtEvent`]s in order,
//! and the ms until `tick()` is due. Sessions are named by the peer's `ip:port`.
//!
//! Nothing panics across N-API: srt-protocol can panic on malformed datagrams (short extension
//! bodies) and on some handshakes; every parse and engine call runs under `catch_unwind`, a
//! panic drops that datagram or closes only the session it concerned.

mod caller;
mod listener;

use std::net::{IpAddr, SocketAddr};
use std::panic::catch_unwind;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use srt_protocol::connection::{Action as CAction, Connection, DuplexConnection, Input as CInput};
use srt_protocol::options::PacketCount;
use srt_protocol::packet::{ControlPacket, ControlTypes, Packet, SocketId};
use srt_protocol::settings::{ConnInitSettings, KeyMaterialRefreshSettings};
use srt_protocol::statistics::SocketStatistics;

/// Largest SRT payload of a live-mode data packet (7 × 188-byte TS packets).
pub const MAX_PAYLOAD: usize = 1316;
/// Send and receive buffer of every session, packets (libsrt's default SRTO_SNDBUF/RCVBUF).
/// srt-protocol's default send buffer is 46 592 bytes (~35 packets): a keyframe burst overflows
/// it, and an overflowing buffer stops sending for good (the entry the sender points at is
/// dropped). Players skip frames long before this fills (`srt.playerQueuePackets` ≤ 4096).
pub const BUFFER_PACKETS: u64 = 8192;

/// One event of a `drain()`.
#[napi(object)]
pub struct SrtEvent {
    /// `request` (listener: a caller finished its conclusion handshake; answer it), `open` (the
    /// session is connected), `data` (payloads the session released after TSBPD, concatenated,
    /// in order), `closed` (the session ended or the handshake failed; `reason` says why).
    pub kind: String,
    /// The peer's `ip:port`.
    pub session: String,
    /// `request`/`open`: the caller's stream id (`SRT_CMD_SID`), if any.
    pub stream_id: Option<String>,
    /// `request`: whether the caller asked for encryption (a KMREQ).
    pub encrypted: Option<bool>,
    /// `open`: the negotiated receive latency, ms.
    pub latency_ms: Option<f64>,
    /// `closed`: why.
    pub reason: Option<String>,
    /// `data`: the released payloads.
    pub data: Option<Buffer>,
}

/// What the calls since the last drain produced.
#[napi(object)]
pub struct SrtOutput {
    /// Datagrams to send, back to back.
    pub datagrams: Buffer,
    /// End offset of each datagram in `datagrams`.
    pub ends: Vec<u32>,
    /// Destination IP of each datagram.
    pub addresses: Vec<String>,
    /// Destination port of each datagram.
    pub ports: Vec<u32>,
    /// Events, in order.
    pub events: Vec<SrtEvent>,
    /// Ms until `tick()` is due (≥ 0), or -1 when nothing waits on time.
    pub next_tick_ms: f64,
}

/// Statistics of one session (srt-protocol's; libsrt's `srt_bstats` names in comments), and the
/// round-trip time as the ACKs carry it (srt-protocol 0.4 does not report it).
#[napi(object)]
pub struct SrtSessionStats {
    /// Smoothed round-trip time, ms (msRTT): the RTT field of the last full ACK sent or received
    /// (the receiving side measures it from ACK/ACKACK, draft-sharabayko-srt §4.10); 0 before one.
    pub rtt_ms: f64,
    /// Negotiated TSBPD latency, ms.
    pub latency_ms: f64,
    /// Data packets received, incl. retransmissions (pktRecvTotal).
    pub packets_received: f64,
    /// Data packets sent, incl. retransmissions (pktSentTotal).
    pub packets_sent: f64,
    /// NAKs received for this session's packets, i.e. losses the peer reported (pktSndLossTotal).
    pub packets_lost: f64,
    /// Retransmitted packets sent (pktRetransTotal).
    pub packets_retransmitted: f64,
    /// Packets received as retransmissions (pktRcvRetransTotal).
    pub packets_received_retransmitted: f64,
    /// Packets dropped too late, receiving side (pktRcvDropTotal).
    pub packets_dropped_too_late: f64,
    /// Packets dropped too late or for room, sending side (pktSndDropTotal).
    pub packets_send_dropped: f64,
    /// NAK reports sent (this side detected loss).
    pub naks_sent: f64,
    /// Bytes received (byteRecvTotal).
    pub bytes_received: f64,
    /// Bytes sent (byteSentTotal).
    pub bytes_sent: f64,
    /// Packets in the send buffer not yet acknowledged (pktSndBuf).
    pub send_buffered_packets: f64,
    /// Whether the session is encrypted.
    pub encrypted: bool,
}

/// Output waiting for the next `drain()`.
#[derive(Default)]
pub(crate) struct Outbox {
    datagrams: Vec<u8>,
    ends: Vec<u32>,
    dests: Vec<SocketAddr>,
    pub(crate) events: Vec<SrtEvent>,
    scratch: BytesMut,
}

impl Outbox {
    pub(crate) fn queue(&mut self, packet: &Packet, to: SocketAddr) {
        self.scratch.clear();
        packet.serialize(&mut self.scratch);
        self.datagrams.extend_from_slice(&self.scratch);
        self.ends.push(self.datagrams.len() as u32);
        self.dests.push(to);
    }

    pub(crate) fn event(&mut self, kind: &str, session: SocketAddr) -> &mut SrtEvent {
        self.events.push(SrtEvent {
            kind: kind.into(),
            session: session.to_string(),
            stream_id: None,
            encrypted: None,
            latency_ms: None,
            reason: None,
            data: None,
        });
        self.events.last_mut().expect("just pushed")
    }

    pub(crate) fn take(&mut self, next: Option<Instant>, now: Instant) -> SrtOutput {
        SrtOutput {
            datagrams: std::mem::take(&mut self.datagrams).into(),
            ends: std::mem::take(&mut self.ends),
            addresses: self.dests.iter().map(|a| a.ip().to_string()).collect(),
            ports: std::mem::take(&mut self.dests)
                .iter()
                .map(|a| u32::from(a.port()))
                .collect(),
            events: std::mem::take(&mut self.events),
            next_tick_ms: next.map_or(-1.0, |t| {
                t.saturating_duration_since(now).as_secs_f64() * 1000.0
            }),
        }
    }
}

/// One connected session: srt-protocol's duplex connection and what Sluice keeps beside it.
pub(crate) struct Session {
    dc: DuplexConnection,
    pub(crate) next: Instant,
    stats: Option<SocketStatistics>,
    released: Vec<u8>,
    latency: Duration,
    encrypted: bool,
    /// This side's SRT socket id (the destination of the peer's packets).
    pub(crate) local_sockid: SocketId,
    /// The RTT of the last ACK with statistics, µs.
    rtt_us: u32,
}

impl Session {
    pub(crate) fn new(connection: Connection, now: Instant) -> Self {
        let s = &connection.settings;
        let latency = s.recv_tsbpd_latency.max(s.send_tsbpd_latency);
        let encrypted = s.cipher.is_some();
        let local_sockid = s.local_sockid;
        Session {
            dc: DuplexConnection::new(connection),
            next: now,
            stats: None,
            released: Vec::new(),
            latency,
            encrypted,
            local_sockid,
            rtt_us: 0,
        }
    }

    /// Keeps the RTT an ACK carries (ours when we receive, the peer's when we send).
    fn note_ack(&mut self, packet: &Packet) {
        if let Packet::Control(ControlPacket {
            control_type: ControlTypes::Ack(ack),
            ..
        }) = packet
        {
            if let Some(rtt) = ack.rtt() {
                self.rtt_us = u32::try_from(rtt.mean().as_micros()).unwrap_or(0);
            }
        }
    }

    /// Feeds the connection until it waits. Returns false when it closed.
    pub(crate) fn drive(&mut self, now: Instant, mut input: CInput, out: &mut Outbox) -> bool {
        if let CInput::Packet(Ok((p, _))) = &input {
            self.note_ack(p);
        }
        loop {
            input = match self.dc.handle_input(now, input) {
                CAction::SendPacket((p, to)) => {
                    self.note_ack(&p);
                    out.queue(&p, to);
                    CInput::PacketSent
                }
                CAction::ReleaseData((_, data)) => {
                    self.released.extend_from_slice(&data);
                    CInput::DataReleased
                }
                CAction::UpdateStatistics(s) => {
                    self.stats = Some(s.clone());
                    CInput::StatisticsUpdated
                }
                CAction::WaitForData(d) => {
                    self.next = now + d;
                    return true;
                }
                CAction::Close => {
                    self.release_held(now);
                    return false;
                }
            };
        }
    }

    /// At the end of a session: releases what TSBPD still holds (up to one latency of data a
    /// publisher sent just before its shutdown), skipping gaps, instead of losing it.
    fn release_held(&mut self, now: Instant) {
        let later = now + self.latency * 2 + Duration::from_secs(1);
        let mut misses = 0;
        for _ in 0..BUFFER_PACKETS {
            match self.dc.next_data(later) {
                Some((_, data)) => {
                    self.released.extend_from_slice(&data);
                    misses = 0;
                }
                // None: nothing left, or a gap dropped as too late (the next call goes on).
                None if misses == 0 => misses += 1,
                None => break,
            }
        }
    }

    /// Queues `data` cut into payloads of at most [`MAX_PAYLOAD`]. Returns false when the
    /// connection closed meanwhile.
    pub(crate) fn send(&mut self, now: Instant, data: &[u8], out: &mut Outbox) -> bool {
        for chunk in data.chunks(MAX_PAYLOAD) {
            if !self.drive(
                now,
                CInput::Data(Some((now, Bytes::copy_from_slice(chunk)))),
                out,
            ) {
                return false;
            }
        }
        true
    }

    /// Moves released payloads into a `data` event.
    pub(crate) fn flush_released(&mut self, session: SocketAddr, out: &mut Outbox) {
        if !self.released.is_empty() {
            out.event("data", session).data = Some(std::mem::take(&mut self.released).into());
        }
    }

    pub(crate) fn stats(&self) -> SrtSessionStats {
        let s = self.stats.as_ref();
        let g = |f: fn(&SocketStatistics) -> u64| s.map_or(0.0, |s| f(s) as f64);
        SrtSessionStats {
            rtt_ms: f64::from(self.rtt_us) / 1000.0,
            latency_ms: self.latency.as_secs_f64() * 1000.0,
            packets_received: g(|s| s.rx_data),
            packets_sent: g(|s| s.tx_data),
            packets_lost: g(|s| s.tx_loss_data),
            packets_retransmitted: g(|s| s.tx_retransmit_data),
            packets_received_retransmitted: g(|s| s.rx_retransmit_data),
            packets_dropped_too_late: g(|s| s.rx_dropped_data),
            packets_send_dropped: g(|s| s.tx_dropped_data),
            naks_sent: g(|s| s.tx_nak),
            bytes_received: g(|s| s.rx_bytes),
            bytes_sent: g(|s| s.tx_bytes),
            send_buffered_packets: g(|s| s.tx_buffered_data),
            encrypted: self.encrypted,
        }
    }
}

/// libsrt's default SRTO_KMREFRESHRATE: a new key after this many packets.
pub const KM_REFRESH_RATE: u32 = 1 << 24;
/// libsrt's default SRTO_KMPREANNOUNCE: the new key is announced this many packets before use.
pub const KM_PRE_ANNOUNCE: u32 = 1 << 12;

/// Key material refresh (draft-sharabayko-srt §6.1.6): the sender switches to a new key every
/// `rate` packets and announces it (KMREQ) `pre_announce` packets earlier; defaults
/// [`KM_REFRESH_RATE`] and [`KM_PRE_ANNOUNCE`]. Throws unless `pre_announce` ≥ 1 and `rate` ≥ 2 ×
/// `pre_announce` (libsrt's rule).
pub(crate) fn key_refresh(
    rate: Option<u32>,
    pre_announce: Option<u32>,
) -> napi::Result<KeyMaterialRefreshSettings> {
    let (rate, pre) = (
        rate.unwrap_or(KM_REFRESH_RATE) as usize,
        pre_announce.unwrap_or(KM_PRE_ANNOUNCE) as usize,
    );
    if pre == 0 {
        return Err(napi::Error::from_reason("SRT kmPreAnnounce must be at least 1"));
    }
    KeyMaterialRefreshSettings::new(rate, pre).map_err(|_| {
        napi::Error::from_reason(format!(
            "SRT kmRefreshRate {rate} must be at least twice kmPreAnnounce {pre}"
        ))
    })
}

/// Connection settings of every session: TSBPD `latency` both ways, the peer idle timeout,
/// the key refresh, statistics every second, [`BUFFER_PACKETS`] buffers.
pub(crate) fn init_settings(
    latency: Duration,
    peer_idle_timeout: Duration,
    key_refresh: KeyMaterialRefreshSettings,
) -> ConnInitSettings {
    ConnInitSettings {
        recv_latency: latency,
        send_latency: latency,
        peer_idle_timeout,
        key_refresh,
        statistics_interval: Duration::from_secs(1),
        send_buffer_size: PacketCount(BUFFER_PACKETS),
        recv_buffer_size: PacketCount(BUFFER_PACKETS),
        ..Default::default()
    }
}

/// Parses a datagram; `None` for anything srt-protocol refuses or panics on (a zero-length
/// stream id, an empty group extension, a congestion extension...).
pub(crate) fn parse_packet(data: &[u8], ipv6: bool) -> Option<Packet> {
    quiet_engine_panics();
    catch_unwind(|| Packet::parse(&mut &data[..], ipv6))
        .ok()?
        .ok()
}

pub(crate) fn parse_addr(address: &str, port: u32) -> napi::Result<SocketAddr> {
    let ip: IpAddr = address
        .parse()
        .map_err(|_| napi::Error::from_reason(format!("not an IP address: {address}")))?;
    let port =
        u16::try_from(port).map_err(|_| napi::Error::from_reason(format!("not a port: {port}")))?;
    Ok(SocketAddr::new(ip, port))
}

pub(crate) fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Panics inside srt-protocol (and the `bytes` reads it makes) on malformed datagrams are caught
/// and counted; this keeps the default hook from printing each one to stderr, so a flood of bad
/// datagrams cannot flood the log. Other panics print as before.
pub(crate) fn quiet_engine_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map_or("", |l| l.file());
            if file.contains("srt-protocol") || file.contains("/bytes-") {
                return;
            }
            previous(info);
        }));
    });
}
