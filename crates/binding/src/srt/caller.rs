//! The SRT caller: Sluice connecting out to another SRT listener (a contribution encoder,
//! srt-live-transmit, another server) to pull its stream, on a UDP socket of its own (TS binds
//! one per caller). Handshake v5 with the stream id and the passphrase given; induction and
//! conclusion are repeated every 250 ms until answered or `connectTimeoutMs` passes. Datagrams
//! from anyone but the listener are ignored.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use napi_derive::napi;
use srt_protocol::connection::Input as CInput;
use srt_protocol::options::KeySize;
use srt_protocol::packet::SeqNumber;
use srt_protocol::protocol::pending_connection::connect::Connect;
use srt_protocol::protocol::pending_connection::ConnectionResult;
use srt_protocol::settings::KeySettings;

use super::{
    init_settings, key_refresh, panic_text, parse_addr, parse_packet, quiet_engine_panics, Outbox, Session,
    SrtOutput, SrtSessionStats,
};

/// Handshake packets are repeated this often until answered.
const HANDSHAKE_INTERVAL: Duration = Duration::from_millis(250);

/// Caller options.
#[napi(object)]
pub struct SrtCallerOptions {
    /// The listener's IP (already resolved and checked against the allow-list by TS).
    pub address: String,
    /// The listener's port.
    pub port: u32,
    /// The local IP the socket is bound to (the handshake carries it).
    pub local_address: String,
    /// Stream id to send (`SRT_CMD_SID`), e.g. `#!::r=live/cam,m=request`.
    pub stream_id: Option<String>,
    /// Passphrase (10–79 characters) when the listener encrypts.
    pub passphrase: Option<String>,
    /// AES key length in bytes with a passphrase: 16 (default), 24 or 32 (libsrt's `pbkeylen`).
    pub key_length: Option<u32>,
    /// TSBPD latency asked for, ms. Default 120.
    pub latency_ms: Option<u32>,
    /// A peer silent this long ends the session, ms. Default 5000.
    pub peer_idle_timeout_ms: Option<u32>,
    /// With a passphrase: a new key after this many packets sent (SRTO_KMREFRESHRATE). Default 2^24.
    pub km_refresh_rate: Option<u32>,
    /// ... announced this many packets before (SRTO_KMPREANNOUNCE; at most half the rate). Default 4096.
    pub km_pre_announce: Option<u32>,
    /// The handshake must finish within this, ms. Default 5000.
    pub connect_timeout_ms: Option<u32>,
}

/// An SRT caller; see the [module docs](self). Events: `open`, `data`, `closed` (with the reason:
/// the listener's rejection, a connect timeout, the session's end).
#[napi]
pub struct SrtCaller {
    remote: SocketAddr,
    ipv6: bool,
    connect: Option<Connect>,
    next_handshake: Instant,
    deadline: Instant,
    session: Option<Session>,
    out: Outbox,
    ended: bool,
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::getrandom(&mut b);
    u32::from_ne_bytes(b)
}

#[napi]
impl SrtCaller {
    /// Starts connecting (the first packet goes out at the first `tick()`). Throws for a bad
    /// address, a passphrase outside 10–79 characters, a key length other than 16, 24 or 32, or a
    /// key refresh whose rate is under twice its pre-announcement.
    #[napi(constructor)]
    pub fn new(options: SrtCallerOptions) -> napi::Result<Self> {
        quiet_engine_panics();
        let remote = parse_addr(&options.address, options.port)?;
        let local = parse_addr(&options.local_address, 0)?.ip();
        let mut settings = init_settings(
            Duration::from_millis(u64::from(options.latency_ms.unwrap_or(120))),
            Duration::from_millis(u64::from(options.peer_idle_timeout_ms.unwrap_or(5000))),
            key_refresh(options.km_refresh_rate, options.km_pre_announce)?,
        )
        .copy_randomize();
        if let Some(p) = options.passphrase {
            let key_size = match options.key_length.unwrap_or(16) {
                16 => KeySize::AES128,
                24 => KeySize::AES192,
                32 => KeySize::AES256,
                n => {
                    return Err(napi::Error::from_reason(format!(
                        "SRT key length {n}: 16, 24 or 32"
                    )))
                }
            };
            let passphrase = p.try_into().map_err(|_| {
                napi::Error::from_reason("SRT passphrase must be 10 to 79 characters")
            })?;
            settings.key_settings = Some(KeySettings {
                key_size,
                passphrase,
            });
        }
        let now = Instant::now();
        let connect = Connect::new(
            remote,
            local,
            settings,
            options.stream_id,
            SeqNumber::new_truncate(random_u32()),
        );
        Ok(SrtCaller {
            remote,
            ipv6: remote.is_ipv6(),
            connect: Some(connect),
            next_handshake: now,
            deadline: now
                + Duration::from_millis(u64::from(options.connect_timeout_ms.unwrap_or(5000))),
            session: None,
            out: Outbox::default(),
            ended: false,
        })
    }

    /// One datagram received on the caller's socket; anything not from the listener, or not SRT,
    /// is ignored. Throws only for a malformed address.
    #[napi]
    pub fn receive(&mut self, data: &[u8], address: String, port: u32) -> napi::Result<()> {
        let from = parse_addr(&address, port)?;
        if from != self.remote || self.ended {
            return Ok(());
        }
        let Some(packet) = parse_packet(data, self.ipv6) else {
            return Ok(());
        };
        let now = Instant::now();
        self.guarded(|s| {
            if let Some(connect) = s.connect.as_mut() {
                let result = connect.handle_packet(Ok((packet, from)), now);
                s.handshake(now, result);
            } else if let Some(session) = s.session.as_mut() {
                if !session.drive(now, CInput::Packet(Ok((packet, from))), &mut s.out) {
                    s.end("the session ended (shutdown or peer idle timeout)");
                }
            }
        });
        Ok(())
    }

    /// Runs what is due: handshake repeats and the connect timeout, then the session's timers.
    #[napi]
    pub fn tick(&mut self) {
        if self.ended {
            return;
        }
        let now = Instant::now();
        self.guarded(|s| {
            if s.connect.is_some() {
                if now >= s.deadline {
                    return s.end("connect timeout: the listener did not answer the handshake");
                }
                if now >= s.next_handshake {
                    s.next_handshake = now + HANDSHAKE_INTERVAL;
                    let result = s.connect.as_mut().expect("connecting").handle_tick(now);
                    s.handshake(now, result);
                }
            } else if let Some(session) = s.session.as_mut() {
                if session.next <= now && !session.drive(now, CInput::Timer, &mut s.out) {
                    s.end("the session ended (shutdown or peer idle timeout)");
                }
            }
        });
    }

    /// Queues `data` to the listener (a push), cut into payloads of at most 1316 bytes. Returns
    /// false when not connected.
    #[napi]
    pub fn send(&mut self, data: &[u8]) -> bool {
        let now = Instant::now();
        let mut sent = false;
        self.guarded(|s| {
            if let Some(session) = s.session.as_mut() {
                sent = session.send(now, data, &mut s.out);
                if !sent {
                    s.end("the session ended (shutdown or peer idle timeout)");
                }
            }
        });
        sent
    }

    /// Ends the session (SRT shutdown after what is buffered) or abandons the handshake. A
    /// `closed` event follows.
    #[napi]
    pub fn close(&mut self) {
        if self.ended {
            return;
        }
        if self.session.is_none() {
            return self.end("closed");
        }
        let now = Instant::now();
        self.guarded(|s| {
            if let Some(session) = s.session.as_mut() {
                if !session.drive(now, CInput::Data(None), &mut s.out) {
                    s.end("closed");
                }
            }
        });
    }

    /// Hands over what was queued since the last call.
    #[napi]
    pub fn drain(&mut self) -> SrtOutput {
        let remote = self.remote;
        if let Some(s) = self.session.as_mut() {
            s.flush_released(remote, &mut self.out);
        }
        let next = if self.ended {
            None
        } else if self.connect.is_some() {
            Some(self.next_handshake.min(self.deadline))
        } else {
            self.session.as_ref().map(|s| s.next)
        };
        self.out.take(next, Instant::now())
    }

    /// The latest statistics of the session (updated every second), or null before it opens.
    #[napi]
    pub fn stats(&self) -> Option<SrtSessionStats> {
        self.session.as_ref().map(Session::stats)
    }

    /// Whether the session is open.
    #[napi(getter)]
    pub fn connected(&self) -> bool {
        self.session.is_some() && !self.ended
    }
}

impl SrtCaller {
    fn guarded(&mut self, f: impl FnOnce(&mut Self)) {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(self))) {
            let reason = format!("SRT engine failure: {}", panic_text(p));
            self.end(&reason);
        }
    }

    fn handshake(&mut self, now: Instant, result: ConnectionResult) {
        match result {
            ConnectionResult::SendPacket((p, to)) => self.out.queue(&p, to),
            ConnectionResult::Connected(packet, connection) => {
                if let Some((p, to)) = packet {
                    self.out.queue(&p, to);
                }
                self.connect = None;
                let e = self.out.event("open", self.remote);
                e.stream_id = connection.settings.stream_id.clone();
                e.latency_ms = Some(connection.settings.recv_tsbpd_latency.as_secs_f64() * 1000.0);
                e.encrypted = Some(connection.settings.cipher.is_some());
                let mut session = Session::new(connection, now);
                let open = session.drive(now, CInput::Timer, &mut self.out);
                self.session = Some(session);
                if !open {
                    self.end("closed at once");
                }
            }
            ConnectionResult::Reject(packet, reason) => {
                if let Some((p, to)) = packet {
                    self.out.queue(&p, to);
                }
                self.end(&format!("rejected: {reason}"));
            }
            ConnectionResult::Failure(e) => self.end(&format!("handshake failure: {e}")),
            ConnectionResult::NotHandled(_)
            | ConnectionResult::NoAction
            | ConnectionResult::RequestAccess(_) => {}
        }
    }

    fn end(&mut self, reason: &str) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.connect = None;
        let remote = self.remote;
        if let Some(mut s) = self.session.take() {
            s.flush_released(remote, &mut self.out);
        }
        self.out.event("closed", remote).reason = Some(reason.into());
    }
}
