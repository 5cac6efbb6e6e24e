//! `RtpForwarders`: the plain RTP/SRTP legs Sluice sends — forwarders to SDP receivers and relay
//! links to other Sluice nodes — on one UDP port, protected by `crates/srtp` in place and sent
//! in batches (`sendmmsg`, UDP GSO), the egress path of the native WebRTC viewers without ICE
//! or DTLS (keys come from SDES, RFC 4568). The logic is [`host::ForwardHost`]; this file owns
//! the socket:
//!
//! - `media`/`inject` run on the calling (JS) thread: one N-API call per frame, every forwarder
//!   of the stream served in it (a few relay links and forwarders per stream, so no send
//!   thread);
//! - a receive thread reads feedback (SRTCP) and answers NACKs from the retransmission rings;
//!   receiver reports reach JS as `report` events through a threadsafe function; every second
//!   it sends each forwarder its sender reports (`sluice_rtp::egress::Fanout`, its own counts).
//!
//! Destinations are given by the caller, who has checked them (`rtp.allowedDestinations`).

mod host;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{Buffer, Error, Result, Status, Uint32Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use host::{Destinations, ForwardEvent, ForwardHost, ForwarderSetup};
use sluice_srtp::{Profile, SrtpContext, SrtpOptions};

use crate::egress::{media_kind, payload_type, split};
use crate::rtcp::{block_out, RtcpReportBlock};
use crate::send_batch::{SendBatch, SendTotals};
use crate::udp_port::{bind_port, clone_socket};
use crate::unix_ms;

/// Options of `new RtpForwarders(options, onEvent)`.
#[napi(object)]
pub struct RtpForwardersOptions {
    /// Address the UDP socket binds to (`0.0.0.0`, `::`, one interface; tests `127.0.0.1`).
    pub bind_address: String,
    /// UDP port; 0 (default) picks a free one (read `port`).
    pub port: Option<u32>,
}

/// SRTP keying of a forwarder (SDES, RFC 4568 §6.1).
#[napi(object)]
pub struct RtpForwarderSrtp {
    /// `AES_CM_128_HMAC_SHA1_80`, `AES_CM_128_HMAC_SHA1_32`, `AEAD_AES_128_GCM` or
    /// `AEAD_AES_256_GCM`.
    pub profile: String,
    /// Master key || master salt of what we send (30, 28 or 44 bytes).
    pub key: Buffer,
    /// Master key || salt of the SRTCP that comes back; default `key`.
    pub feedback_key: Option<Buffer>,
}

/// A forwarder to add.
#[napi(object)]
pub struct RtpForwarderSpec {
    /// The caller's id (unique among live forwarders).
    pub id: u32,
    /// The stream (egress key) whose packets it sends.
    pub stream_key: String,
    /// Payload types (0–127) written on its packets; a missing one means that kind is not sent.
    pub video_payload_type: Option<u32>,
    /// See `videoPayloadType`.
    pub audio_payload_type: Option<u32>,
    /// Where video RTP goes, `host:port` (`[v6]:port` for IPv6).
    pub video_rtp: String,
    /// Where video RTCP goes (the same address when RTP and RTCP share a port, RFC 5761).
    pub video_rtcp: String,
    /// Where audio RTP goes.
    pub audio_rtp: String,
    /// Where audio RTCP goes.
    pub audio_rtcp: String,
    /// SRTP keys, or none for plain RTP.
    pub srtp: Option<RtpForwarderSrtp>,
}

/// An event: `type` is `report` (the report blocks of a receiver's RR or SR, RFC 3550 §6.4).
#[napi(object)]
pub struct RtpForwarderEvent {
    /// `report`.
    #[napi(js_name = "type")]
    pub kind: String,
    /// The forwarder's id.
    pub id: u32,
    /// The report blocks.
    pub blocks: Vec<RtcpReportBlock>,
}

/// Counters of one forwarder.
#[napi(object)]
pub struct RtpForwarderCounters {
    pub id: u32,
    /// RTP and RTCP packets sent (retransmissions included).
    pub packets_sent: f64,
    /// Bytes sent, SRTP trailers included.
    pub bytes_sent: f64,
    /// NACK packets received.
    pub nacks: f64,
    /// Packets sent again for them.
    pub retransmitted: f64,
    /// PLI and FIR received (the RTMP publisher cannot be asked; the next GOP brings a keyframe).
    pub keyframe_requests: f64,
    /// Packets that could not be written or protected.
    pub send_errors: f64,
    /// Feedback datagrams that failed SRTCP or RTCP checks.
    pub feedback_dropped: f64,
}

/// `stats()`: every forwarder, and what the port did.
#[napi(object)]
pub struct RtpForwardersStats {
    pub forwarders: Vec<RtpForwarderCounters>,
    /// Datagrams received on the port.
    pub datagrams_in: f64,
    /// Datagrams from no forwarder's destination (dropped).
    pub unrouted: f64,
    /// `sendmmsg` (or `send_to`) calls.
    pub send_calls: f64,
    /// Datagrams the kernel took.
    pub datagrams_out: f64,
    /// Datagrams refused (full socket buffer, unreachable).
    pub send_failed: f64,
}

type EventFn = ThreadsafeFunction<RtpForwarderEvent, (), RtpForwarderEvent, Status, false, true>;

#[derive(Default)]
struct PortCounters {
    datagrams_in: AtomicU64,
    unrouted: AtomicU64,
    sent: SendTotals,
}

struct Shared {
    host: Mutex<ForwardHost>,
    stop: AtomicBool,
    counters: PortCounters,
    on_event: EventFn,
}

impl Shared {
    fn host(&self) -> std::sync::MutexGuard<'_, ForwardHost> {
        // A panic inside the lock is a bug; the data is still consistent enough to go on.
        self.host.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, events: Vec<ForwardEvent>) {
        for e in events {
            let ForwardEvent::Report { id, blocks } = e;
            let event = RtpForwarderEvent { kind: "report".into(), id, blocks: blocks.iter().map(block_out).collect() };
            self.on_event.call(event, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, format!("RTP_INVALID_ARGUMENT: {}", message.into()))
}

fn failed(code: &str, e: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, format!("{code}: {e}"))
}

fn address(name: &str, value: &str) -> Result<SocketAddr> {
    value.parse().map_err(|_| invalid(format!("{name} {value:?} is not an address:port")))
}

fn srtp_context(profile: Profile, key: &[u8]) -> Result<SrtpContext> {
    // feedback NACKs come late and in bursts: a wide replay window (RFC 3711 §3.3.2)
    let options = SrtpOptions { replay_window: 2048, ..SrtpOptions::default() };
    SrtpContext::from_key_material(profile, key, options).map_err(|e| invalid(format!("{}: {e}", e.code())))
}

/// Sender reports go to every forwarder this often (RFC 3550 §6.2's pace for a few receivers).
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

fn receive_loop(shared: Arc<Shared>, socket: UdpSocket, batch_socket: UdpSocket) {
    let mut batch = SendBatch::new(batch_socket);
    let mut buf = vec![0u8; 2048];
    let mut next_report = Instant::now() + REPORT_INTERVAL;
    while !shared.stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_report {
            next_report += REPORT_INTERVAL;
            shared.host().send_reports(unix_ms(), &mut batch);
            shared.counters.sent.add(&mut batch);
        }
        // The read timeout (100 ms: to see `stop` and the report time), and ICMP errors of
        // earlier sends: go on.
        let Ok((n, source)) = socket.recv_from(&mut buf) else { continue };
        shared.counters.datagrams_in.fetch_add(1, Ordering::Relaxed);
        let (routed, events) = {
            let mut host = shared.host();
            let routed = host.handle_datagram(source, &buf[..n], &mut batch);
            (routed, host.take_events())
        };
        shared.counters.sent.add(&mut batch);
        if !routed {
            shared.counters.unrouted.fetch_add(1, Ordering::Relaxed);
        }
        shared.emit(events);
    }
}

/// Plain RTP/SRTP forwarders on one UDP port. See the module docs.
#[napi]
pub struct RtpForwarders {
    shared: Arc<Shared>,
    /// The JS thread's batch.
    batch: SendBatch,
    receiver: Option<JoinHandle<()>>,
    port: u32,
    closed: bool,
}

#[napi]
impl RtpForwarders {
    /// Binds the UDP port and starts the receive thread. `onEvent` gets an `RtpForwarderEvent`
    /// for every receiver report. Throws `RTP_BIND_FAILED` when the address cannot be bound,
    /// `RTP_INVALID_ARGUMENT` for a bad address or port.
    #[napi(constructor, ts_args_type = "options: RtpForwardersOptions, onEvent: (event: RtpForwarderEvent) => void")]
    pub fn new(options: RtpForwardersOptions, on_event: EventFn) -> Result<Self> {
        let (socket, port) = bind_port(&options.bind_address, options.port, "RTP")?;
        let clone = || clone_socket(&socket, "RTP");
        let (recv_socket, recv_batch_socket, batch_socket) = (clone()?, clone()?, clone()?);
        let shared = Arc::new(Shared { host: Mutex::new(ForwardHost::default()), stop: AtomicBool::new(false), counters: PortCounters::default(), on_event });
        let s = shared.clone();
        let receiver = std::thread::Builder::new()
            .name("sluice-rtp-forward-recv".into())
            .spawn(move || receive_loop(s, recv_socket, recv_batch_socket))
            .map_err(|e| failed("RTP_THREAD_FAILED", e))?;
        Ok(RtpForwarders { shared, batch: SendBatch::new(batch_socket), receiver: Some(receiver), port, closed: false })
    }

    /// The UDP port packets leave from and feedback comes to.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Adds a forwarder; it sends nothing until an `inject` with `live` (its start: sender
    /// reports and the GOP). Throws `RTP_INVALID_ARGUMENT`: a taken id, a destination another
    /// forwarder sends to, a bad address, payload type, profile or key length.
    #[napi]
    pub fn add(&self, spec: RtpForwarderSpec) -> Result<()> {
        let destinations = Destinations {
            video_rtp: address("videoRtp", &spec.video_rtp)?,
            video_rtcp: address("videoRtcp", &spec.video_rtcp)?,
            audio_rtp: address("audioRtp", &spec.audio_rtp)?,
            audio_rtcp: address("audioRtcp", &spec.audio_rtcp)?,
        };
        let (outbound, inbound) = match &spec.srtp {
            None => (None, None),
            Some(k) => {
                let profile = Profile::from_name(&k.profile).map_err(|_| invalid(format!("unknown SRTP profile {:?}", k.profile)))?;
                (Some(srtp_context(profile, &k.key)?), Some(srtp_context(profile, k.feedback_key.as_deref().unwrap_or(&k.key))?))
            }
        };
        let setup = ForwarderSetup {
            id: spec.id,
            stream_key: spec.stream_key,
            video_pt: spec.video_payload_type.map(payload_type).transpose()?,
            audio_pt: spec.audio_payload_type.map(payload_type).transpose()?,
            destinations,
            outbound,
            inbound,
        };
        self.shared.host().add(setup).map_err(invalid)
    }

    /// Removes a forwarder (idempotent): its final counters, or null when there was none.
    #[napi]
    pub fn remove(&self, id: u32) -> Option<RtpForwarderCounters> {
        self.shared.host().remove(id).map(|c| counters_out(id, c))
    }

    /// A stream's RTP packets of one frame, back to back in `data`, packet `i` ending at
    /// `ends[i]`: sent at once to every live forwarder of the stream. Throws
    /// `RTP_INVALID_ARGUMENT` when `ends` do not cut `data`.
    #[napi(ts_args_type = "streamKey: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array")]
    pub fn media(&mut self, stream_key: String, kind: String, data: Buffer, ends: Uint32Array) -> Result<u32> {
        let kind = media_kind(&kind)?;
        let packets = split(&data, &ends).ok_or_else(|| invalid("ends do not cut data"))?;
        if self.closed {
            return Ok(0);
        }
        let sent = self.shared.host().media(&stream_key, kind, &packets, unix_ms(), &mut self.batch);
        self.shared.counters.sent.add(&mut self.batch);
        Ok(sent as u32)
    }

    /// Sets the RTP clock rate (ticks per second) of `streamKey`'s `kind` track for its sender
    /// reports: 90 000 for video and 48 000 for audio unless set (an AAC track's is its
    /// sampling rate). Throws `RTP_INVALID_ARGUMENT` for a bad kind.
    #[napi(ts_args_type = "streamKey: string, kind: 'video' | 'audio', clockRate: number")]
    pub fn set_clock_rate(&self, stream_key: String, kind: String, clock_rate: u32) -> Result<()> {
        self.shared.host().set_clock_rate(&stream_key, media_kind(&kind)?, clock_rate);
        Ok(())
    }

    /// Packets for one forwarder only (its sender reports and GOP at the start), numbered for
    /// it, then its new sequence offset for `kind` (0–65 535); `live` lets it receive the
    /// stream's packets after them. Throws `RTP_INVALID_ARGUMENT` when `ends` do not cut `data`.
    #[napi(ts_args_type = "id: number, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, seqOffset: number, live: boolean")]
    pub fn inject(&mut self, id: u32, kind: String, data: Buffer, ends: Uint32Array, seq_offset: u32, live: bool) -> Result<()> {
        let kind = media_kind(&kind)?;
        let packets = split(&data, &ends).ok_or_else(|| invalid("ends do not cut data"))?;
        if self.closed {
            return Ok(());
        }
        self.shared.host().inject(id, kind, &packets, (seq_offset & 0xFFFF) as u16, live, &mut self.batch);
        self.shared.counters.sent.add(&mut self.batch);
        Ok(())
    }

    /// Counters of every forwarder and of the port.
    #[napi]
    pub fn stats(&self) -> RtpForwardersStats {
        let c = &self.shared.counters;
        let (send_calls, datagrams_out, send_failed) = c.sent.get();
        RtpForwardersStats {
            forwarders: self.shared.host().counters().into_iter().map(|(id, c)| counters_out(id, c)).collect(),
            datagrams_in: c.datagrams_in.load(Ordering::Relaxed) as f64,
            unrouted: c.unrouted.load(Ordering::Relaxed) as f64,
            send_calls: send_calls as f64,
            datagrams_out: datagrams_out as f64,
            send_failed: send_failed as f64,
        }
    }

    /// Stops the receive thread; nothing is sent after it (the port is released when the object
    /// is collected). Idempotent.
    #[napi]
    pub fn close(&mut self) {
        self.closed = true;
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.receiver.take() {
            let _ = t.join();
        }
    }
}

fn counters_out(id: u32, c: host::ForwarderCounters) -> RtpForwarderCounters {
    RtpForwarderCounters {
        id,
        packets_sent: c.packets_sent as f64,
        bytes_sent: c.bytes_sent as f64,
        nacks: c.nacks as f64,
        retransmitted: c.retransmitted as f64,
        keyframe_requests: c.keyframe_requests as f64,
        send_errors: c.send_errors as f64,
        feedback_dropped: c.feedback_dropped as f64,
    }
}

impl Drop for RtpForwarders {
    fn drop(&mut self) {
        self.close();
    }
}
