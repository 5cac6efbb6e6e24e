//! SRT listener (Haivision SRT 1.5, draft-sharabayko-srt) driven sans-IO from TypeScript's UDP
//! socket: datagrams and the clock in, datagrams and events out. The protocol engine is the
//! `srt-protocol` crate (srt-rs): handshake v5 with the stream id extension, TSBPD, ACK/NAK
//! ARQ, too-late packet drop, AES-CTR with a passphrase (KMREQ/KMRSP), keepalives, shutdown.
//! What is Sluice's: the access decision (asked of TS between the conclusion handshake and the
//! answer), bounds on pending handshakes, and the byte layout at the boundary.
//!
//! Calls (`receive`, `answer`, `send`, `close`, `tick`) queue output; `drain()` hands it over
//! in one object: datagrams concatenated (`datagrams`, cut at `ends`, each to `addresses[i]`:
//! `ports[i]`), then events in order (`request`, `open`, `data`, `closed`) and the ms until the
//! next `tick()` is due. Sessions are named by the caller's `ip:port`.
//!
//! Nothing here panics across N-API: every engine call runs under `catch_unwind`, and a panic
//! closes only the session it concerned (reported as `closed` with the reason).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use srt_protocol::connection::{Action as CAction, DuplexConnection, Input as CInput};
use srt_protocol::listener::{
    AccessControlResponse, Action as LAction, Input as LInput, MultiplexListener, NextInputContext, ResultOf, SessionId,
};
use srt_protocol::options::KeySize;
use srt_protocol::packet::{
    ControlTypes, CoreRejectReason, HandshakeVsInfo, Packet, RejectReason, ServerRejectReason, ShakeType,
};
use srt_protocol::settings::{ConnInitSettings, KeySettings};
use srt_protocol::statistics::SocketStatistics;

/// Largest SRT payload of a live-mode data packet (7 × 188-byte TS packets).
pub const MAX_PAYLOAD: usize = 1316;
/// Send and receive buffer of every session, packets (libsrt's default SRTO_SNDBUF/RCVBUF size).
pub const SEND_BUFFER_PACKETS: u64 = 8192;

/// Listener options.
#[napi(object)]
pub struct SrtListenerOptions {
    /// The UDP socket's local port (the handshake carries it).
    pub port: u32,
    /// Whether the socket is IPv6 (the packet parser needs it for the handshake's peer address).
    pub ipv6: Option<bool>,
    /// TSBPD latency this side asks for, ms (SRTO_LATENCY; the larger of both sides wins). Default 120.
    pub latency_ms: Option<u32>,
    /// Passphrase (10–79 characters) every caller must use; none: callers must not encrypt.
    pub passphrase: Option<String>,
    /// A peer silent this long is dropped, ms. Default 5000.
    pub peer_idle_timeout_ms: Option<u32>,
    /// Handshakes from new addresses kept at once; more are ignored until some finish. Default 256.
    pub max_pending: Option<u32>,
    /// A handshake that does not open within this is forgotten, ms. Default 5000.
    pub handshake_timeout_ms: Option<u32>,
}

/// One event of [`SrtListener::drain`].
#[napi(object)]
pub struct SrtEvent {
    /// `request` (a caller finished its conclusion handshake: answer it), `open` (the session
    /// is connected), `data` (payloads a publisher's session released, concatenated, in order),
    /// `closed` (the session ended; `reason` says why).
    pub kind: String,
    /// The caller's `ip:port`.
    pub session: String,
    /// `request`/`open`: the caller's stream id (`SRT_CMD_SID`), if it sent one.
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

/// Statistics of one session (the engine's, SRT's `srt_bstats` names in comments).
#[napi(object)]
pub struct SrtSessionStats {
    /// Smoothed round-trip time, ms (msRTT).
    pub rtt_ms: f64,
    /// Negotiated TSBPD latency, ms.
    pub latency_ms: f64,
    /// Data packets received, incl. retransmissions (pktRecvTotal).
    pub packets_received: f64,
    /// Data packets sent, incl. retransmissions (pktSentTotal).
    pub packets_sent: f64,
    /// Packets detected lost by the receiver (pktRcvLossTotal).
    pub packets_lost: f64,
    /// Retransmitted packets sent (pktRetransTotal).
    pub packets_retransmitted: f64,
    /// Packets received as retransmissions (pktRcvRetransTotal).
    pub packets_received_retransmitted: f64,
    /// Packets dropped too late, received side (pktRcvDropTotal).
    pub packets_dropped_too_late: f64,
    /// Packets dropped too late, sending side (pktSndDropTotal).
    pub packets_send_dropped: f64,
    /// Bytes received (byteRecvTotal).
    pub bytes_received: f64,
    /// Bytes sent (byteSentTotal).
    pub bytes_sent: f64,
    /// Packets in the send buffer not yet acknowledged (pktSndBuf).
    pub send_buffered_packets: f64,
    /// Whether the session is encrypted.
    pub encrypted: bool,
}

struct Pending {
    since: Instant,
    /// The caller's conclusion carried a KMREQ.
    km: bool,
    /// Its access request is with TS.
    requested: Option<KeySize>,
}

struct Conn {
    dc: DuplexConnection,
    next: Instant,
    stats: Option<SocketStatistics>,
    released: Vec<u8>,
    latency: Duration,
    encrypted: bool,
}

/// An SRT listener on one UDP port; see the [module docs](self).
#[napi]
pub struct SrtListener {
    listener: MultiplexListener,
    ipv6: bool,
    passphrase: Option<String>,
    max_pending: usize,
    handshake_timeout: Duration,
    pending: HashMap<SocketAddr, Pending>,
    conns: HashMap<SocketAddr, Conn>,
    datagrams: Vec<u8>,
    ends: Vec<u32>,
    dests: Vec<SocketAddr>,
    events: Vec<SrtEvent>,
    scratch: BytesMut,
    ignored_handshakes: u64,
    parse_errors: u64,
}

fn event(kind: &str, session: SocketAddr) -> SrtEvent {
    SrtEvent {
        kind: kind.into(),
        session: session.to_string(),
        stream_id: None,
        encrypted: None,
        latency_ms: None,
        reason: None,
        data: None,
    }
}

fn parse_addr(address: &str, port: u32) -> napi::Result<SocketAddr> {
    let ip: IpAddr = address
        .parse()
        .map_err(|_| napi::Error::from_reason(format!("not an IP address: {address}")))?;
    let port = u16::try_from(port).map_err(|_| napi::Error::from_reason(format!("not a port: {port}")))?;
    Ok(SocketAddr::new(ip, port))
}

fn parse_session(session: &str) -> Option<SocketAddr> {
    session.parse().ok()
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

#[napi]
impl SrtListener {
    /// A listener; throws on a passphrase outside 10–79 characters.
    #[napi(constructor)]
    pub fn new(options: SrtListenerOptions) -> napi::Result<Self> {
        if let Some(p) = &options.passphrase {
            if !(10..=79).contains(&p.len()) {
                return Err(napi::Error::from_reason("SRT passphrase must be 10 to 79 characters"));
            }
        }
        quiet_engine_panics();
        let ipv6 = options.ipv6.unwrap_or(false);
        let port = u16::try_from(options.port).map_err(|_| napi::Error::from_reason("bad port"))?;
        let local: SocketAddr = if ipv6 { SocketAddr::new("::".parse().expect("ip"), port) } else { SocketAddr::new("0.0.0.0".parse().expect("ip"), port) };
        let mut settings = ConnInitSettings::default();
        let latency = Duration::from_millis(u64::from(options.latency_ms.unwrap_or(120)));
        settings.recv_latency = latency;
        settings.send_latency = latency;
        settings.peer_idle_timeout = Duration::from_millis(u64::from(options.peer_idle_timeout_ms.unwrap_or(5000)));
        settings.statistics_interval = Duration::from_secs(1);
        // srt-protocol's default send buffer is 46 592 bytes (~35 packets), far below libsrt's
        // 8 MB; a keyframe burst overflows it, and an overflowing buffer stops sending for good
        // (the entry the sender points at is dropped). 8192 packets (~10.8 MB) like libsrt's;
        // players skip frames long before (`srt.playerQueuePackets`).
        settings.send_buffer_size = srt_protocol::options::PacketCount(SEND_BUFFER_PACKETS);
        settings.recv_buffer_size = srt_protocol::options::PacketCount(SEND_BUFFER_PACKETS);
        Ok(SrtListener {
            listener: MultiplexListener::new(Instant::now(), local, settings),
            ipv6,
            passphrase: options.passphrase,
            max_pending: options.max_pending.unwrap_or(256) as usize,
            handshake_timeout: Duration::from_millis(u64::from(options.handshake_timeout_ms.unwrap_or(5000))),
            pending: HashMap::new(),
            conns: HashMap::new(),
            datagrams: Vec::new(),
            ends: Vec::new(),
            dests: Vec::new(),
            events: Vec::new(),
            scratch: BytesMut::with_capacity(1500),
            ignored_handshakes: 0,
            parse_errors: 0,
        })
    }

    /// One datagram from `address`:`port`. A datagram that does not parse as SRT is dropped
    /// (counted in `parseErrors`); a handshake from a new address beyond `maxPending` is ignored
    /// (counted in `ignoredHandshakes`). Throws only for a malformed address.
    #[napi]
    pub fn receive(&mut self, data: &[u8], address: String, port: u32) -> napi::Result<()> {
        let from = parse_addr(&address, port)?;
        // srt-protocol's parser can panic on short extension bodies (a zero-length stream id, an
        // empty group extension, a congestion extension): those datagrams are dropped as malformed.
        let ipv6 = self.ipv6;
        let packet = match catch_unwind(|| Packet::parse(&mut &data[..], ipv6)) {
            Ok(Ok(p)) => p,
            _ => {
                self.parse_errors += 1;
                return Ok(());
            }
        };
        let now = Instant::now();
        if !self.conns.contains_key(&from) {
            if !self.pending.contains_key(&from) {
                if self.pending.len() >= self.max_pending {
                    self.ignored_handshakes += 1;
                    return Ok(());
                }
                self.pending.insert(from, Pending { since: now, km: false, requested: None });
            }
            if let Some(ControlTypes::Handshake(hs)) = packet.control().map(|c| &c.control_type) {
                if let HandshakeVsInfo::V5(v5) = &hs.info {
                    if hs.shake_type == ShakeType::Conclusion {
                        if let Some(p) = self.pending.get_mut(&from) {
                            p.km = v5.ext_km.is_some();
                        }
                    }
                }
            }
        }
        self.guarded(from, |s| s.run_listener(now, LInput::Packet(Ok((packet, from)))));
        Ok(())
    }

    /// Answers a `request` event: `accept`, or refuse with `rejectCode` (SRT's reject reason:
    /// 2401 unauthorized, 2403 forbidden, 2404 not found, 2409 conflict, 2400 bad request...;
    /// default 2403). Encryption is settled here too: a caller that encrypts without a
    /// configured passphrase, or does not while one is configured, is refused (1010 BADSECRET,
    /// 1011 UNSECURE). Returns false when the session is no longer waiting.
    #[napi]
    pub fn answer(&mut self, session: String, accept: bool, reject_code: Option<u32>) -> bool {
        let Some(addr) = parse_session(&session) else { return false };
        let Some(p) = self.pending.get_mut(&addr) else { return false };
        let Some(key_size) = p.requested.take() else { return false };
        let km = p.km;
        let response = if !accept {
            AccessControlResponse::Rejected(reject_reason(reject_code.unwrap_or(2403)))
        } else {
            match (&self.passphrase, km) {
                (None, false) => AccessControlResponse::Accepted(None),
                (None, true) => AccessControlResponse::Rejected(RejectReason::Core(CoreRejectReason::BadSecret)),
                (Some(_), false) => AccessControlResponse::Rejected(RejectReason::Core(CoreRejectReason::Unsecure)),
                (Some(pass), true) => match pass.clone().try_into() {
                    Ok(passphrase) => AccessControlResponse::Accepted(Some(KeySettings { key_size, passphrase })),
                    Err(_) => AccessControlResponse::Rejected(RejectReason::Core(CoreRejectReason::BadSecret)),
                },
            }
        };
        let now = Instant::now();
        self.guarded(addr, |s| s.run_listener(now, LInput::AccessResponse(Some((SessionId(addr), response)))));
        true
    }

    /// Queues `data` (a multiple of 188-byte TS packets, for instance) to a session, cut into
    /// payloads of at most 1316 bytes. Returns false when the session is not open.
    #[napi]
    pub fn send(&mut self, session: String, data: &[u8]) -> bool {
        let Some(addr) = parse_session(&session) else { return false };
        self.send_to(addr, data)
    }

    /// [`send`](Self::send) of the same bytes to several sessions (one N-API call per frame for
    /// every player of a stream). Returns how many were open.
    #[napi]
    pub fn send_many(&mut self, sessions: Vec<String>, data: &[u8]) -> u32 {
        sessions
            .iter()
            .filter_map(|s| parse_session(s))
            .filter(|&a| self.send_to(a, data))
            .count() as u32
    }

    /// Ends a session: its data stream closes, what is buffered is sent within the latency,
    /// then the SRT shutdown. A `closed` event follows. Returns false when there is no such open
    /// session (a pending one is forgotten).
    #[napi]
    pub fn close(&mut self, session: String) -> bool {
        let Some(addr) = parse_session(&session) else { return false };
        if self.pending.remove(&addr).is_some() {
            let now = Instant::now();
            self.guarded(addr, |s| s.forget(now, addr));
            return false;
        }
        if !self.conns.contains_key(&addr) {
            return false;
        }
        let now = Instant::now();
        self.guarded(addr, |s| s.drive(now, addr, CInput::Data(None)));
        true
    }

    /// Runs what is due: connection timers (ACK, NAK, retransmission, TSBPD release,
    /// keepalive, idle timeout) and handshake expiry.
    #[napi]
    pub fn tick(&mut self) {
        let now = Instant::now();
        let due: Vec<SocketAddr> = self.conns.iter().filter(|(_, c)| c.next <= now).map(|(a, _)| *a).collect();
        for addr in due {
            self.guarded(addr, |s| s.drive(now, addr, CInput::Timer));
        }
        let expired: Vec<SocketAddr> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.since) > self.handshake_timeout)
            .map(|(a, _)| *a)
            .collect();
        for addr in expired {
            self.pending.remove(&addr);
            self.guarded(addr, |s| s.forget(now, addr));
        }
    }

    /// Hands over what was queued since the last call.
    #[napi]
    pub fn drain(&mut self) -> SrtOutput {
        let now = Instant::now();
        for (addr, c) in self.conns.iter_mut() {
            if !c.released.is_empty() {
                let mut e = event("data", *addr);
                e.data = Some(std::mem::take(&mut c.released).into());
                self.events.push(e);
            }
        }
        let next = self
            .conns
            .values()
            .map(|c| c.next)
            .chain(self.pending.values().map(|p| p.since + self.handshake_timeout))
            .min();
        SrtOutput {
            datagrams: std::mem::take(&mut self.datagrams).into(),
            ends: std::mem::take(&mut self.ends),
            addresses: self.dests.iter().map(|a| a.ip().to_string()).collect(),
            ports: std::mem::take(&mut self.dests).iter().map(|a| u32::from(a.port())).collect(),
            events: std::mem::take(&mut self.events),
            next_tick_ms: next.map_or(-1.0, |t| t.saturating_duration_since(now).as_secs_f64() * 1000.0),
        }
    }

    /// The latest statistics of an open session (updated every second), or null.
    #[napi]
    pub fn stats(&self, session: String) -> Option<SrtSessionStats> {
        let c = self.conns.get(&parse_session(&session)?)?;
        let s = c.stats.as_ref();
        let g = |f: fn(&SocketStatistics) -> u64| s.map_or(0.0, |s| f(s) as f64);
        Some(SrtSessionStats {
            rtt_ms: s.map_or(0.0, |s| s.rx_average_rtt.as_secs_f64() * 1000.0),
            latency_ms: c.latency.as_secs_f64() * 1000.0,
            packets_received: g(|s| s.rx_data),
            packets_sent: g(|s| s.tx_data),
            packets_lost: g(|s| s.rx_loss_data),
            packets_retransmitted: g(|s| s.tx_retransmit_data),
            packets_received_retransmitted: g(|s| s.rx_retransmit_data),
            packets_dropped_too_late: g(|s| s.rx_dropped_data),
            packets_send_dropped: g(|s| s.tx_dropped_data),
            bytes_received: g(|s| s.rx_bytes),
            bytes_sent: g(|s| s.tx_bytes),
            send_buffered_packets: g(|s| s.tx_buffered_data),
            encrypted: c.encrypted,
        })
    }

    /// Open sessions.
    #[napi(getter)]
    pub fn sessions(&self) -> u32 {
        self.conns.len() as u32
    }

    /// Handshakes in progress.
    #[napi(getter)]
    pub fn pending_handshakes(&self) -> u32 {
        self.pending.len() as u32
    }

    /// Handshakes ignored because `maxPending` were already in progress.
    #[napi(getter)]
    pub fn ignored_handshakes(&self) -> f64 {
        self.ignored_handshakes as f64
    }

    /// Datagrams that did not parse as SRT.
    #[napi(getter)]
    pub fn parse_errors(&self) -> f64 {
        self.parse_errors as f64
    }
}

/// Panics inside srt-protocol (and the `bytes` reads it makes) on malformed datagrams are
/// caught and counted; this keeps the default hook from printing each one to stderr, so a
/// flood of bad datagrams cannot flood the log. Other panics print as before.
fn quiet_engine_panics() {
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

fn reject_reason(code: u32) -> RejectReason {
    use ServerRejectReason::*;
    RejectReason::Server(match code {
        2400 => BadRequest,
        2401 => Unauthorized,
        2402 => Overload,
        2404 => Notfound,
        2405 => BadMode,
        2409 => Conflict,
        2415 => NotSupMedia,
        2503 => Down,
        _ => Forbidden,
    })
}

impl SrtListener {
    /// Runs `f`; a panic inside the engine closes `session` only.
    fn guarded(&mut self, session: SocketAddr, f: impl FnOnce(&mut Self)) {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(self))) {
            let reason = format!("SRT engine failure: {}", panic_text(p));
            self.pending.remove(&session);
            if self.conns.remove(&session).is_some() {
                let mut e = event("closed", session);
                e.reason = Some(reason);
                self.events.push(e);
            }
            let now = Instant::now();
            let _ = catch_unwind(AssertUnwindSafe(|| self.forget(now, session)));
        }
    }

    fn queue(&mut self, packet: &Packet, to: SocketAddr) {
        self.scratch.clear();
        packet.serialize(&mut self.scratch);
        self.datagrams.extend_from_slice(&self.scratch);
        self.ends.push(self.datagrams.len() as u32);
        self.dests.push(to);
    }

    /// Makes the listener drop a session (pending or open): Failure(DelegatePacket) answers
    /// DropConnection, whose success removes it.
    fn forget(&mut self, now: Instant, addr: SocketAddr) {
        self.run_listener(now, LInput::Failure(ResultOf::DelegatePacket(SessionId(addr))));
    }

    fn run_listener(&mut self, now: Instant, input: LInput) {
        let mut input = Some(input);
        while let Some(i) = input.take() {
            let action = self.listener.handle_input(now, i);
            let ctx = NextInputContext::for_action(&action);
            let result: Result<(), ()> = match action {
                LAction::SendPacket((p, to)) => {
                    self.queue(&p, to);
                    Ok(())
                }
                LAction::RequestAccess(SessionId(addr), request) => {
                    let km = match self.pending.get_mut(&addr) {
                        Some(p) => {
                            p.requested = Some(request.key_size);
                            p.km
                        }
                        None => false,
                    };
                    let mut e = event("request", addr);
                    e.stream_id = request.stream_id.as_deref().map(|s| s.to_string());
                    e.encrypted = Some(km);
                    self.events.push(e);
                    Ok(())
                }
                LAction::RejectConnection(SessionId(addr), packet) => {
                    if let Some((p, to)) = packet {
                        self.queue(&p, to);
                    }
                    self.pending.remove(&addr);
                    Ok(())
                }
                LAction::OpenConnection(SessionId(addr), boxed) => {
                    let (packet, connection) = *boxed;
                    if let Some((p, to)) = packet {
                        self.queue(&p, to);
                    }
                    self.pending.remove(&addr);
                    let settings = &connection.settings;
                    let mut e = event("open", addr);
                    e.stream_id = settings.stream_id.clone();
                    e.latency_ms = Some(settings.recv_tsbpd_latency.as_secs_f64() * 1000.0);
                    let latency = settings.recv_tsbpd_latency.max(settings.send_tsbpd_latency);
                    let encrypted = settings.cipher.is_some();
                    self.events.push(e);
                    self.conns.insert(
                        addr,
                        Conn { dc: DuplexConnection::new(connection), next: now, stats: None, released: Vec::new(), latency, encrypted },
                    );
                    self.drive(now, addr, CInput::Timer);
                    Ok(())
                }
                LAction::DelegatePacket(SessionId(addr), packet) => {
                    if self.conns.contains_key(&addr) {
                        self.drive(now, addr, CInput::Packet(Ok(packet)));
                        Ok(())
                    } else {
                        Err(())
                    }
                }
                LAction::DropConnection(SessionId(addr)) => {
                    self.pending.remove(&addr);
                    if self.conns.remove(&addr).is_some() {
                        let mut e = event("closed", addr);
                        e.reason = Some("dropped".into());
                        self.events.push(e);
                    }
                    Ok(())
                }
                LAction::UpdateStatistics(_) => Ok(()),
                LAction::WaitForInput | LAction::Close => break,
            };
            input = Some(ctx.input_from(result));
        }
    }

    /// Feeds a connection until it waits; a connection that closes is removed and reported.
    fn drive(&mut self, now: Instant, addr: SocketAddr, input: CInput) {
        let mut input = input;
        let closed = loop {
            let Some(c) = self.conns.get_mut(&addr) else { return };
            let action = c.dc.handle_input(now, input);
            input = match action {
                CAction::SendPacket((p, to)) => {
                    self.queue(&p, to);
                    CInput::PacketSent
                }
                CAction::ReleaseData((_, data)) => {
                    c.released.extend_from_slice(&data);
                    CInput::DataReleased
                }
                CAction::UpdateStatistics(s) => {
                    c.stats = Some(s.clone());
                    CInput::StatisticsUpdated
                }
                CAction::WaitForData(d) => {
                    c.next = now + d;
                    break false;
                }
                CAction::Close => break true,
            };
        };
        if closed {
            if let Some(c) = self.conns.remove(&addr) {
                if !c.released.is_empty() {
                    let mut e = event("data", addr);
                    e.data = Some(c.released.into());
                    self.events.push(e);
                }
                let mut e = event("closed", addr);
                e.reason = Some("the session ended (shutdown or peer idle timeout)".into());
                self.events.push(e);
            }
            self.forget(now, addr);
        }
    }

    fn send_to(&mut self, addr: SocketAddr, data: &[u8]) -> bool {
        if !self.conns.contains_key(&addr) {
            return false;
        }
        let now = Instant::now();
        for chunk in data.chunks(MAX_PAYLOAD) {
            let bytes = Bytes::copy_from_slice(chunk);
            self.guarded(addr, |s| s.drive(now, addr, CInput::Data(Some((now, bytes)))));
            if !self.conns.contains_key(&addr) {
                return false;
            }
        }
        true
    }
}
