//! The SRT listener: every caller on one UDP port, each asked about through the access decision.
//!
//! A caller's conclusion handshake raises a `request` event with its stream id; TS decides
//! (asynchronously: webhooks, the application) and calls `answer`. Encryption is settled there:
//! a caller that encrypts without a configured passphrase, or does not while one is configured,
//! is refused (srt-protocol would otherwise fail an assertion). Handshakes from new addresses are
//! bounded (`maxPending`) and forgotten after `handshakeTimeoutMs` (srt-protocol never expires
//! them itself).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use napi_derive::napi;
use srt_protocol::connection::Input as CInput;
use srt_protocol::listener::{
    AccessControlResponse, Action as LAction, Input as LInput, MultiplexListener, NextInputContext,
    ResultOf, SessionId,
};
use srt_protocol::options::KeySize;
use srt_protocol::packet::{
    ControlTypes, CoreRejectReason, HandshakeVsInfo, Packet, RejectReason, ServerRejectReason,
    ShakeType,
};
use srt_protocol::settings::KeySettings;

use super::{
    init_settings, key_refresh, panic_text, parse_addr, parse_packet, quiet_engine_panics, Outbox, Session,
    SrtOutput, SrtSessionStats,
};

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
    /// With a passphrase: a new key after this many packets sent (SRTO_KMREFRESHRATE). Default 2^24.
    pub km_refresh_rate: Option<u32>,
    /// ... announced this many packets before (SRTO_KMPREANNOUNCE; at most half the rate). Default 4096.
    pub km_pre_announce: Option<u32>,
    /// Handshakes from new addresses kept at once; more are ignored until some finish. Default 256.
    pub max_pending: Option<u32>,
    /// A handshake that does not open within this is forgotten, ms. Default 5000.
    pub handshake_timeout_ms: Option<u32>,
}

struct Pending {
    since: Instant,
    /// The caller's conclusion carried a KMREQ.
    km: bool,
    /// Its access request is with TS: the key size it asked for.
    requested: Option<KeySize>,
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
    sessions: HashMap<SocketAddr, Session>,
    out: Outbox,
    ignored_handshakes: u64,
    parse_errors: u64,
}

fn parse_session(session: &str) -> Option<SocketAddr> {
    session.parse().ok()
}

#[napi]
impl SrtListener {
    /// A listener; throws on a passphrase outside 10–79 characters, a port over 65535 or a key
    /// refresh whose rate is under twice its pre-announcement.
    #[napi(constructor)]
    pub fn new(options: SrtListenerOptions) -> napi::Result<Self> {
        if let Some(p) = &options.passphrase {
            if !(10..=79).contains(&p.len()) {
                return Err(napi::Error::from_reason(
                    "SRT passphrase must be 10 to 79 characters",
                ));
            }
        }
        quiet_engine_panics();
        let ipv6 = options.ipv6.unwrap_or(false);
        let port = u16::try_from(options.port).map_err(|_| napi::Error::from_reason("bad port"))?;
        let ip = if ipv6 { "::" } else { "0.0.0.0" };
        let local = SocketAddr::new(ip.parse().expect("ip literal"), port);
        let settings = init_settings(
            Duration::from_millis(u64::from(options.latency_ms.unwrap_or(120))),
            Duration::from_millis(u64::from(options.peer_idle_timeout_ms.unwrap_or(5000))),
            key_refresh(options.km_refresh_rate, options.km_pre_announce)?,
        );
        Ok(SrtListener {
            listener: MultiplexListener::new(Instant::now(), local, settings),
            ipv6,
            passphrase: options.passphrase,
            max_pending: options.max_pending.unwrap_or(256) as usize,
            handshake_timeout: Duration::from_millis(u64::from(
                options.handshake_timeout_ms.unwrap_or(5000),
            )),
            pending: HashMap::new(),
            sessions: HashMap::new(),
            out: Outbox::default(),
            ignored_handshakes: 0,
            parse_errors: 0,
        })
    }

    /// One datagram from `address`:`port`. A datagram that does not parse as SRT is dropped
    /// (counted in `parseErrors`); one from a new address while `maxPending` handshakes are in
    /// progress is ignored (counted in `ignoredHandshakes`). Throws only for a malformed address.
    #[napi]
    pub fn receive(&mut self, data: &[u8], address: String, port: u32) -> napi::Result<()> {
        let from = parse_addr(&address, port)?;
        let Some(packet) = parse_packet(data, self.ipv6) else {
            self.parse_errors += 1;
            return Ok(());
        };
        let mut packet = packet;
        let now = Instant::now();
        if let Some(session) = self.sessions.get(&from) {
            // A caller whose conclusion answer was lost sends its conclusion again with
            // destination socket id 0 (libsrt knows the listener's id only from that answer);
            // the engine drops packets not addressed to the session, so it would never answer
            // again. Addressed to the session, it re-sends its answer (srt-protocol's
            // `Handshake::Listener`).
            if let Packet::Control(c) = &mut packet {
                if matches!(c.control_type, ControlTypes::Handshake(_)) {
                    c.dest_sockid = session.local_sockid;
                }
            }
        } else {
            if !self.pending.contains_key(&from) {
                if self.pending.len() >= self.max_pending {
                    self.ignored_handshakes += 1;
                    return Ok(());
                }
                self.pending.insert(
                    from,
                    Pending {
                        since: now,
                        km: false,
                        requested: None,
                    },
                );
            }
            if let Some(ControlTypes::Handshake(hs)) = packet.control().map(|c| &c.control_type) {
                if let (HandshakeVsInfo::V5(v5), ShakeType::Conclusion) = (&hs.info, hs.shake_type)
                {
                    if let Some(p) = self.pending.get_mut(&from) {
                        p.km = v5.ext_km.is_some();
                    }
                }
            }
        }
        self.guarded(from, |s| {
            s.run_listener(now, LInput::Packet(Ok((packet, from))))
        });
        Ok(())
    }

    /// Answers a `request` event: `accept`, or refuse with `rejectCode` (SRT's reject reason:
    /// 2401 unauthorized, 2403 forbidden, 2404 not found, 2409 conflict, 2400 bad request...;
    /// default 2403). A caller that encrypts without a configured passphrase is refused 1010
    /// (BADSECRET), one that does not while one is configured 1011 (UNSECURE). Returns false
    /// when the session is no longer waiting.
    #[napi]
    pub fn answer(&mut self, session: String, accept: bool, reject_code: Option<u32>) -> bool {
        let Some(addr) = parse_session(&session) else {
            return false;
        };
        let Some(p) = self.pending.get_mut(&addr) else {
            return false;
        };
        let Some(key_size) = p.requested.take() else {
            return false;
        };
        let response = if !accept {
            AccessControlResponse::Rejected(reject_reason(reject_code.unwrap_or(2403)))
        } else {
            match (&self.passphrase, p.km) {
                (None, false) => AccessControlResponse::Accepted(None),
                (None, true) => {
                    AccessControlResponse::Rejected(RejectReason::Core(CoreRejectReason::BadSecret))
                }
                (Some(_), false) => {
                    AccessControlResponse::Rejected(RejectReason::Core(CoreRejectReason::Unsecure))
                }
                (Some(pass), true) => match pass.clone().try_into() {
                    // srt-protocol wants the caller's own key size (Unspecified: AES-128).
                    Ok(passphrase) => AccessControlResponse::Accepted(Some(KeySettings {
                        key_size,
                        passphrase,
                    })),
                    Err(_) => AccessControlResponse::Rejected(RejectReason::Core(
                        CoreRejectReason::BadSecret,
                    )),
                },
            }
        };
        let now = Instant::now();
        self.guarded(addr, |s| {
            s.run_listener(
                now,
                LInput::AccessResponse(Some((SessionId(addr), response))),
            )
        });
        true
    }

    /// Queues `data` (TS packets, for instance) to a session, cut into payloads of at most 1316
    /// bytes. Returns false when the session is not open.
    #[napi]
    pub fn send(&mut self, session: String, data: &[u8]) -> bool {
        let Some(addr) = parse_session(&session) else {
            return false;
        };
        if !self.sessions.contains_key(&addr) {
            return false;
        }
        self.with_session(Instant::now(), addr, |c, now, out| c.send(now, data, out))
    }

    /// Ends a session: its data stream closes, what is buffered is sent within the latency, then
    /// the SRT shutdown; a `closed` event follows. A handshake in progress is forgotten. Returns
    /// false when there is no such open session.
    #[napi]
    pub fn close(&mut self, session: String) -> bool {
        let Some(addr) = parse_session(&session) else {
            return false;
        };
        let now = Instant::now();
        if self.pending.remove(&addr).is_some() {
            self.guarded(addr, |s| s.forget(now, addr));
            return false;
        }
        if !self.sessions.contains_key(&addr) {
            return false;
        }
        self.drive(now, addr, CInput::Data(None));
        true
    }

    /// Runs what is due: session timers (ACK, NAK, retransmission, TSBPD release, keepalive,
    /// idle timeout) and handshake expiry.
    #[napi]
    pub fn tick(&mut self) {
        let now = Instant::now();
        let due: Vec<SocketAddr> = self
            .sessions
            .iter()
            .filter(|(_, c)| c.next <= now)
            .map(|(a, _)| *a)
            .collect();
        for addr in due {
            self.drive(now, addr, CInput::Timer);
        }
        let timeout = self.handshake_timeout;
        let expired: Vec<SocketAddr> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.since) > timeout)
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
        for (addr, c) in self.sessions.iter_mut() {
            c.flush_released(*addr, &mut self.out);
        }
        let next = self
            .sessions
            .values()
            .map(|c| c.next)
            .chain(
                self.pending
                    .values()
                    .map(|p| p.since + self.handshake_timeout),
            )
            .min();
        self.out.take(next, Instant::now())
    }

    /// The latest statistics of an open session (updated every second), or null.
    #[napi]
    pub fn stats(&self, session: String) -> Option<SrtSessionStats> {
        Some(self.sessions.get(&parse_session(&session)?)?.stats())
    }

    /// Open sessions.
    #[napi(getter)]
    pub fn sessions(&self) -> u32 {
        self.sessions.len() as u32
    }

    /// Handshakes in progress.
    #[napi(getter)]
    pub fn pending_handshakes(&self) -> u32 {
        self.pending.len() as u32
    }

    /// Datagrams ignored because `maxPending` handshakes were already in progress.
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
            if self.sessions.remove(&session).is_some() {
                self.out.event("closed", session).reason = Some(reason);
            }
            let now = Instant::now();
            let _ = catch_unwind(AssertUnwindSafe(|| self.forget(now, session)));
        }
    }

    /// Makes the listener drop a session (pending or open): Failure(DelegatePacket) answers
    /// DropConnection, whose success removes it.
    fn forget(&mut self, now: Instant, addr: SocketAddr) {
        self.run_listener(
            now,
            LInput::Failure(ResultOf::DelegatePacket(SessionId(addr))),
        );
    }

    /// A session closed: its last payloads and a `closed` event, and the listener forgets it.
    fn closed(&mut self, now: Instant, addr: SocketAddr, reason: &str) {
        if let Some(mut c) = self.sessions.remove(&addr) {
            c.flush_released(addr, &mut self.out);
            self.out.event("closed", addr).reason = Some(reason.into());
        }
        self.forget(now, addr);
    }

    /// Feeds a session until it waits; one that closes is removed and reported.
    fn drive(&mut self, now: Instant, addr: SocketAddr, input: CInput) {
        self.with_session(now, addr, |c, now, out| c.drive(now, input, out));
    }

    /// Runs `f` on an open session under [`guarded`](Self::guarded); when `f` says the
    /// session closed (false), it is removed and reported. Returns whether it is still open.
    fn with_session(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        f: impl FnOnce(&mut Session, Instant, &mut Outbox) -> bool,
    ) -> bool {
        let mut open = false;
        self.guarded(addr, |s| {
            open = s
                .sessions
                .get_mut(&addr)
                .is_some_and(|c| f(c, now, &mut s.out));
            if !open {
                s.closed(
                    now,
                    addr,
                    "the session ended (shutdown or peer idle timeout)",
                );
            }
        });
        open
    }

    fn run_listener(&mut self, now: Instant, input: LInput) {
        let mut input = Some(input);
        while let Some(i) = input.take() {
            let action = self.listener.handle_input(now, i);
            let ctx = NextInputContext::for_action(&action);
            let result: Result<(), ()> = match action {
                LAction::SendPacket((p, to)) => {
                    self.out.queue(&p, to);
                    Ok(())
                }
                LAction::RequestAccess(SessionId(addr), request) => {
                    let km = self.pending.get_mut(&addr).is_some_and(|p| {
                        p.requested = Some(request.key_size);
                        p.km
                    });
                    let e = self.out.event("request", addr);
                    e.stream_id = request.stream_id.as_deref().map(|s| s.to_string());
                    e.encrypted = Some(km);
                    Ok(())
                }
                LAction::RejectConnection(SessionId(addr), packet) => {
                    if let Some((p, to)) = packet {
                        self.out.queue(&p, to);
                    }
                    self.pending.remove(&addr);
                    Ok(())
                }
                LAction::OpenConnection(SessionId(addr), boxed) => {
                    let (packet, connection) = *boxed;
                    if let Some((p, to)) = packet {
                        self.out.queue(&p, to);
                    }
                    self.pending.remove(&addr);
                    let e = self.out.event("open", addr);
                    e.stream_id = connection.settings.stream_id.clone();
                    e.latency_ms =
                        Some(connection.settings.recv_tsbpd_latency.as_secs_f64() * 1000.0);
                    let mut session = Session::new(connection, now);
                    if session.drive(now, CInput::Timer, &mut self.out) {
                        self.sessions.insert(addr, session);
                    } else {
                        self.out.event("closed", addr).reason = Some("closed at once".into());
                    }
                    Ok(())
                }
                LAction::DelegatePacket(SessionId(addr), packet) => {
                    match self.sessions.get_mut(&addr) {
                        Some(c) => {
                            if !c.drive(now, CInput::Packet(Ok(packet)), &mut self.out) {
                                if let Some(mut c) = self.sessions.remove(&addr) {
                                    c.flush_released(addr, &mut self.out);
                                }
                                self.out.event("closed", addr).reason = Some(
                                    "the session ended (shutdown or peer idle timeout)".into(),
                                );
                                Err(()) // the listener answers DropConnection
                            } else {
                                Ok(())
                            }
                        }
                        None => Err(()),
                    }
                }
                LAction::DropConnection(SessionId(addr)) => {
                    self.pending.remove(&addr);
                    if self.sessions.remove(&addr).is_some() {
                        self.out.event("closed", addr).reason = Some("dropped".into());
                    }
                    Ok(())
                }
                LAction::UpdateStatistics(_) => Ok(()),
                LAction::WaitForInput | LAction::Close => break,
            };
            input = Some(ctx.input_from(result));
        }
    }
}
