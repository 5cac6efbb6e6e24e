//! `WebRtcViewers`: WHEP viewers (and WHIP publishers) served natively on one UDP port —
//! ICE-lite, DTLS-SRTP and SRTP from Sluice's own crates (`sluice-webrtc`), sends batched with
//! `sendmmsg`, all off the JS thread. The JS side (`ts/webrtc/native-viewers.ts`,
//! `ts/webrtc/native-whip.ts`) writes the SDP answers, feeds packets and takes a publisher's;
//! this file owns the socket and its threads:
//!
//! - `sendThreads` send threads (default one per core, at most 4), each with its own
//!   [`host::Host`] holding a share of the viewers (viewer id modulo the thread count). Every
//!   thread takes the feed's frames (`media`, shared by reference, not copied) from its own
//!   queue, fans them out to its viewers (rewrite, SRTP in place, `sendmmsg` with GSO) and runs
//!   their timers (DTLS retransmission, consent expiry, connect timeout). A frame reaches all
//!   viewers in about 1/N of the time one thread takes (the server hop);
//! - the receive thread reads datagrams (STUN, DTLS, SRTCP, a publisher's SRTP) and offers each
//!   to the hosts in turn until one owns it: checks, DTLS flights, NACK retransmissions, a
//!   publisher's RTP (decrypted, to JS as `rtp` events) and its transport-wide CC arrivals
//!   (feedback from its send thread every 100 ms).
//!
//! Events (`state`, `keyframe`, `rtp`, `closed`) reach JS through a threadsafe function.

mod host;
mod paths;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{Buffer, Error, Result, Status, Uint32Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::send_batch::{SendBatch, SendTotals};
use crate::udp_port::{bind_port, clone_socket, recv_stamped};
use host::{Host, HostEvent, PublisherSetup, ViewerSetup};
use sluice_rtp::egress::layers::LayerPolicy;
use sluice_rtp::egress::{FrameStart, MediaKind};

use crate::egress::{frame_start, media_kind, split};

/// Options of `new WebRtcViewers(options, onEvent)`.
#[napi(object)]
pub struct WebRtcViewersOptions {
    /// Address the UDP socket binds to (`0.0.0.0`, `::`, or one interface; tests `127.0.0.1`).
    pub bind_address: String,
    /// UDP port; 0 (default) picks a free one (read `port`).
    pub port: Option<u32>,
    /// Send threads (1–64), each serving a share of the viewers. Default: one per core, at most 4.
    pub send_threads: Option<u32>,
    /// How simulcast layers are chosen for viewers (`webrtc.simulcast`).
    pub simulcast: Option<SimulcastPolicy>,
}

/// `webrtc.simulcast`: how every viewer's simulcast layer is chosen
/// (`sluice_rtp::egress::layers::LayerPolicy`).
#[napi(object)]
pub struct SimulcastPolicy {
    /// The highest layer a viewer gets (0 the lowest); absent: the top.
    pub max_layer: Option<u32>,
    /// Under this bandwidth estimate (bit/s; after the audio with `audioFirst`) a viewer's video
    /// pauses (audio only) until the estimate is 1.25 × it and the lowest layer fits. 0: never.
    pub pause_video_below_bps: Option<f64>,
    /// The estimate covers the audio first: layers are fitted in what it leaves. Default true.
    pub audio_first: Option<bool>,
}

fn layer_policy(p: SimulcastPolicy) -> LayerPolicy {
    LayerPolicy {
        max_layer: p.max_layer.map(|m| m as usize),
        pause_below_bps: p.pause_video_below_bps.filter(|b| b.is_finite() && *b > 0.0).unwrap_or(0.0),
        audio_first: p.audio_first.unwrap_or(true),
    }
}

/// A viewer to add: the stream it watches and what its SDP offer said.
#[napi(object)]
pub struct NativeViewerSpec {
    /// The caller's id for the viewer (unique among live viewers).
    pub id: u32,
    /// The stream (hub key) it watches.
    pub stream_key: String,
    /// The offer's `a=ice-ufrag`: checks must then come as `ourUfrag:remoteUfrag`.
    pub remote_ufrag: Option<String>,
    /// The offer's `a=fingerprint` value, `sha-256 AB:CD:…`: the DTLS certificate must match.
    pub remote_fingerprint: String,
    /// Negotiated payload types (0–127); a missing one means that kind is not sent.
    pub video_payload_type: Option<u32>,
    /// See `videoPayloadType`.
    pub audio_payload_type: Option<u32>,
    /// The offer's `a=extmap` id (1–14) of the transport-wide sequence number extension
    /// (`http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01`): then every
    /// RTP packet to this viewer carries one, for the browser's transport-cc feedback.
    pub transport_cc_id: Option<u32>,
    /// The offer's RTX payload type for the video (`rtx/90000` with `apt=` the video payload
    /// type, RFC 4588 §8.6): NACKed packets then go out as RTX on `rtxSsrc`.
    pub rtx_payload_type: Option<u32>,
    /// The RTX stream's SSRC (the answer's `a=ssrc-group:FID video rtx`).
    pub rtx_ssrc: Option<u32>,
    /// Viewers with the same path group are one receiver's (an SFU participant's downlinks, one
    /// PeerConnection per stream) and share its network path: a growing delay or loss one of
    /// them sees stops the probes of all. Absent: a path of its own.
    pub path_group: Option<String>,
    /// The offer's `a=extmap` id (1–255) of the Dependency Descriptor extension (RTP Payload
    /// Format for AV1, Appendix A), when the answer accepts it: a forwarded AV1 SVC stream's
    /// descriptors then reach this viewer (its decoder assembles each spatial layer's frame by
    /// them); absent, they are removed.
    pub dependency_descriptor_id: Option<u32>,
}

/// A publisher to add (WHIP on the native port): what its SDP offer and our answer said.
#[napi(object)]
pub struct NativePublisherSpec {
    /// The caller's id for the peer (unique among live viewers and publishers).
    pub id: u32,
    /// The offer's `a=ice-ufrag`.
    pub remote_ufrag: Option<String>,
    /// The offer's `a=fingerprint` value, `sha-256 AB:CD:…`: the DTLS certificate must match.
    pub remote_fingerprint: String,
    /// The transport-wide sequence number extension's id (1–14) in our answer: the publisher
    /// then gets transport-wide CC feedback every 100 ms.
    pub transport_cc_id: Option<u32>,
    /// Our SSRC in the RTCP we send it.
    pub ssrc: u32,
    /// The RtpStreamId extension's id (1–14) in our answer (RFC 8852): each simulcast layer's
    /// SSRC is then reported once as a `rid` event, before its packets.
    pub rid_id: Option<u32>,
}

/// The ICE credentials to put in the viewer's SDP answer (`a=ice-ufrag`, `a=ice-pwd`).
#[napi(object)]
pub struct NativeViewerCredentials {
    /// 8 ice-chars.
    pub ufrag: String,
    /// 24 ice-chars.
    pub password: String,
}

/// An event from the native viewers: `type` is `state` (`state`: `selected` or `connected`),
/// `keyframe` (`reason`: `pli`, `fir`, or `layer` for a simulcast layer switch; `streamKey`: the
/// stream or layer it is wanted from), `rtp` (a publisher's decrypted RTP packets and sender
/// reports: `data`, packet `i` ending at `ends[i]`), `rid` (a publisher's RTP stream `ssrc` is
/// simulcast layer `rid`) or `closed` (`reason`, `packetsSent`, `bytesSent`).
#[napi(object)]
pub struct NativeViewerEvent {
    /// `state`, `keyframe` or `closed`.
    #[napi(js_name = "type")]
    pub kind: String,
    /// The viewer's id.
    pub id: u32,
    /// state: `selected` (ICE pair nominated) or `connected` (DTLS done, SRTP keyed).
    pub state: Option<String>,
    /// keyframe: `pli` or `fir`; closed: why (`closed by server`, `consent expired`,
    /// `connect timeout`, `closed by peer`, `WEBRTC_DTLS_FAILED: …`, …).
    pub reason: Option<String>,
    /// closed: SRTP packets sent to the viewer (sender reports not counted).
    pub packets_sent: Option<f64>,
    /// closed: bytes sent.
    pub bytes_sent: Option<f64>,
    /// rtp: the packets back to back.
    pub data: Option<Buffer>,
    /// rtp: where each packet ends in `data`.
    pub ends: Option<Vec<u32>>,
    /// rid: the RTP stream's SSRC.
    pub ssrc: Option<u32>,
    /// rid: its RtpStreamId.
    pub rid: Option<String>,
    /// keyframe: the stream (hub key, or a simulcast layer's key) the keyframe is wanted from.
    pub stream_key: Option<String>,
}

impl NativeViewerEvent {
    fn new(kind: &str, id: u32) -> Self {
        NativeViewerEvent { kind: kind.into(), id, state: None, reason: None, packets_sent: None, bytes_sent: None, data: None, ends: None, ssrc: None, rid: None, stream_key: None }
    }
}

/// Counters of one viewer.
#[napi(object)]
pub struct NativeViewerCounters {
    pub id: u32,
    /// `connecting`, `connected` or `closed`.
    pub state: String,
    pub packets_sent: f64,
    pub bytes_sent: f64,
    pub nacks: f64,
    pub retransmitted: f64,
    pub send_failures: f64,
    /// Transport-wide CC feedback packets received from the viewer.
    pub transport_feedback: f64,
    /// Send-side bandwidth estimate from that feedback (GCC), bit/s; 0 before the first or
    /// without the transport-wide sequence number extension.
    pub estimate_bps: f64,
    /// What the viewer reported receiving over the last 500 ms, bit/s (0 until known).
    pub received_bps: f64,
    /// NACKed packets not sent again because that second's retransmissions had reached the
    /// bandwidth estimate.
    pub retransmissions_refused: f64,
    /// Simulcast: the stream (or layer key) its video comes from, and the one it switches to.
    pub video_stream: Option<String>,
    pub switching_to: Option<String>,
    /// Padding packets sent probing for a better simulcast layer.
    pub probe_packets: f64,
    /// Simulcast: the layer policy paused its video (its estimate is under the floor).
    pub video_paused: bool,
    /// A publisher: RTP packets received (decrypted) and their bytes.
    pub packets_received: f64,
    pub bytes_received: f64,
}

/// `stats()`: every viewer, and what the port did.
#[napi(object)]
pub struct NativeViewersStats {
    pub viewers: Vec<NativeViewerCounters>,
    /// Datagrams received on the port.
    pub datagrams_in: f64,
    /// Datagrams that matched no viewer (unknown ufrag or address).
    pub unrouted: f64,
    /// `sendmmsg` (or `send_to`) calls for media.
    pub send_calls: f64,
    /// Media datagrams the kernel took.
    pub datagrams_out: f64,
    /// Media datagrams refused (full socket buffer, unreachable).
    pub send_failed: f64,
    /// Frames dropped because a send thread was more than `QUEUE_FRAMES` behind (counted per
    /// thread).
    pub frames_dropped: f64,
    /// Send threads (each with its share of the viewers).
    pub send_threads: u32,
    /// Server hop of recent video frames (source message arrival → the last viewer's packets
    /// handed to the kernel), ms, up to 4096 samples.
    pub latency_ms: Vec<f64>,
    /// Of the same frames, in the same order: the part of the hop spent before the fan-out
    /// (source message arrival → the send thread that finished last took the frame from its
    /// queue, behind the frames before it), ms. The rest of the hop is that thread's fan-out.
    pub queue_ms: Vec<f64>,
}

/// Frames (media or injected batches) queued for the send thread, at most: about 10 s of a
/// 30 fps stream with audio. Beyond it frames are dropped (counted in `stats().framesDropped`);
/// viewers repair what they can with NACK and ask for a keyframe (PLI) for the rest.
const QUEUE_FRAMES: usize = 1024;

type EventFn = ThreadsafeFunction<NativeViewerEvent, (), NativeViewerEvent, Status, false, true>;

/// A stream's frame for every send thread (one copy, shared).
struct Frame {
    stream_key: String,
    kind: MediaKind,
    data: Vec<u8>,
    ends: Vec<u32>,
    /// What it starts (a keyframe, an SVC switching point).
    start: FrameStart,
    /// How long the frame had been in the server when `media` was called (source message
    /// arrival → call, NaN when unknown).
    lag_ms: f64,
    queued: Instant,
    /// Send threads that have not sent it yet: the last one records the server hop.
    pending: AtomicUsize,
    /// Some thread sent it to at least one viewer.
    reached: AtomicBool,
}

enum Command {
    Media(Arc<Frame>),
    Inject { id: u32, kind: MediaKind, data: Vec<u8>, ends: Vec<u32>, seq_offset: u16, live: bool },
    Close(u32),
    /// An RTCP packet for one peer (a publisher's RR, NACK, PLI).
    Rtcp { id: u32, data: Vec<u8> },
    /// A stream's simulcast layers (`Host::set_layers`).
    Layers { stream_key: String, layers: Vec<String>, scalable: bool, without_descriptor: Option<usize> },
    /// A stream's own layer policy, or the port's again (`Host::set_stream_policy`).
    Policy { stream_key: String, policy: Option<LayerPolicy> },
    /// A viewer pinned to a layer, or not (`Host::pin_layer`).
    Pin { id: u32, index: Option<usize> },
    /// A publisher's sender report re-based onto a stream's track (`Host::anchor`).
    Anchor { stream_key: String, kind: MediaKind, rtp_timestamp: u32, wall_ms: f64 },
    Shutdown,
}

struct Shared {
    /// One per send thread; viewer `id` lives in `hosts[id % hosts.len()]`.
    hosts: Vec<Mutex<Host>>,
    socket: UdpSocket,
    stop: AtomicBool,
    on_event: EventFn,
    datagrams_in: AtomicU64,
    unrouted: AtomicU64,
    sent: SendTotals,
    frames_dropped: AtomicU64,
    /// Server hop of recent video frames.
    latency: Mutex<HopSamples>,
}

/// The server hop of recent video frames and its queue part, ms: rings of `LATENCY_SAMPLES`
/// (`hop[i]` and `queue[i]` are one frame's).
#[derive(Default)]
struct HopSamples {
    hop: Vec<f64>,
    queue: Vec<f64>,
    /// The slot the next sample takes once the rings are full.
    next: usize,
}

impl HopSamples {
    fn record(&mut self, hop_ms: f64, queue_ms: f64) {
        if self.hop.len() < LATENCY_SAMPLES {
            self.hop.push(hop_ms);
            self.queue.push(queue_ms);
        } else {
            self.hop[self.next] = hop_ms;
            self.queue[self.next] = queue_ms;
        }
        self.next = (self.next + 1) % LATENCY_SAMPLES;
    }
}

/// Server-hop samples kept (one per video frame sent to at least one viewer).
const LATENCY_SAMPLES: usize = 4096;

impl Shared {
    fn latency(&self) -> std::sync::MutexGuard<'_, HopSamples> {
        self.latency.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, events: Vec<HostEvent>) {
        for e in events {
            let event = match e {
                HostEvent::State { id, state } => NativeViewerEvent { state: Some(state.into()), ..NativeViewerEvent::new("state", id) },
                HostEvent::Keyframe { id, reason, stream_key } => NativeViewerEvent { reason: Some(reason.into()), stream_key: Some(stream_key), ..NativeViewerEvent::new("keyframe", id) },
                HostEvent::Rtp { id, packets } => {
                    let mut ends = Vec::with_capacity(packets.len());
                    let mut data = Vec::with_capacity(packets.iter().map(Vec::len).sum());
                    for p in packets {
                        data.extend_from_slice(&p);
                        ends.push(data.len() as u32);
                    }
                    NativeViewerEvent { data: Some(data.into()), ends: Some(ends), ..NativeViewerEvent::new("rtp", id) }
                }
                HostEvent::Rid { id, ssrc, rid } => NativeViewerEvent { ssrc: Some(ssrc), rid: Some(rid), ..NativeViewerEvent::new("rid", id) },
                HostEvent::Closed { id, reason, packets_sent, bytes_sent } => NativeViewerEvent {
                    reason: Some(reason),
                    packets_sent: Some(packets_sent as f64),
                    bytes_sent: Some(bytes_sent as f64),
                    ..NativeViewerEvent::new("closed", id)
                },
            };
            self.on_event.call(event, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// Moves a batch's counters into the shared ones.
    fn publish(&self, batch: &mut SendBatch) {
        self.sent.add(batch);
    }

    /// The host of send thread `index`.
    fn host(&self, index: usize) -> std::sync::MutexGuard<'_, Host> {
        // A panic inside the lock is a bug; the data is still consistent enough to go on.
        self.hosts[index].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The index of the host that holds viewer `id`.
    fn host_of(&self, id: u32) -> usize {
        id as usize % self.hosts.len()
    }
}

/// WHEP viewers on one UDP port, served natively. See the module docs.
#[napi]
pub struct WebRtcViewers {
    shared: Arc<Shared>,
    /// One queue per send thread (index as `Shared::hosts`).
    commands: Vec<SyncSender<Command>>,
    threads: Vec<JoinHandle<()>>,
    port: u32,
    fingerprint: String,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, format!("WEBRTC_INVALID_ARGUMENT: {}", message.into()))
}

/// Random ice-chars (RFC 8839 §5.4: ALPHA / DIGIT / "+" / "/").
fn ice_chars(n: usize) -> Result<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes).map_err(|e| Error::new(Status::GenericFailure, format!("WEBRTC_RANDOM_FAILED: {e}")))?;
    Ok(bytes.iter().map(|b| ALPHABET[(b & 63) as usize] as char).collect())
}

fn payload_type(pt: Option<u32>) -> Result<Option<u8>> {
    pt.map(crate::egress::payload_type).transpose()
}

fn receive_loop(shared: Arc<Shared>, socket: UdpSocket) {
    let mut batch = SendBatch::new(socket);
    let mut buf = vec![0u8; 2048];
    while !shared.stop.load(Ordering::Relaxed) {
        match recv_stamped(&shared.socket, &mut buf) {
            Ok((n, source, arrived)) => {
                shared.datagrams_in.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                let mut routed = false;
                for index in 0..shared.hosts.len() {
                    let events = {
                        let mut host = shared.host(index);
                        routed = host.handle_datagram(source, &buf[..n], now, arrived, &mut batch);
                        host.take_events()
                    };
                    shared.publish(&mut batch);
                    shared.emit(events);
                    if routed {
                        break;
                    }
                }
                if !routed {
                    shared.unrouted.fetch_add(1, Ordering::Relaxed);
                }
            }
            // The read timeout (to see `stop`), and ICMP errors of earlier sends: go on.
            Err(_) => continue,
        }
    }
}

/// Send thread `index`: its host's frames, injections, closes and timers.
fn send_loop(shared: Arc<Shared>, index: usize, commands: std::sync::mpsc::Receiver<Command>, socket: UdpSocket) {
    let mut batch = SendBatch::new(socket);
    loop {
        let wait = shared
            .host(index)
            .next_timeout()
            .map_or(Duration::from_millis(100), |t| t.saturating_duration_since(Instant::now()))
            .clamp(Duration::from_millis(1), Duration::from_millis(100));
        let command = match commands.recv_timeout(wait) {
            Ok(c) => Some(c),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Command::Shutdown),
        };
        let mut host = shared.host(index);
        let mut stop = false;
        match command {
            Some(Command::Media(frame)) => {
                let taken = frame.queued.elapsed();
                if let Some(packets) = split(&frame.data, &frame.ends) {
                    if host.media(&frame.stream_key, frame.kind, &packets, frame.start, &mut batch) > 0 {
                        frame.reached.store(true, Ordering::Relaxed);
                    }
                }
                let last = frame.pending.fetch_sub(1, Ordering::AcqRel) == 1;
                if last && frame.kind == MediaKind::Video && frame.reached.load(Ordering::Relaxed) && frame.lag_ms.is_finite() {
                    let ms = |d: Duration| frame.lag_ms + d.as_secs_f64() * 1000.0;
                    shared.latency().record(ms(frame.queued.elapsed()), ms(taken));
                }
            }
            Some(Command::Inject { id, kind, data, ends, seq_offset, live }) => {
                if let Some(packets) = split(&data, &ends) {
                    host.inject(id, kind, &packets, seq_offset, live, &mut batch);
                }
            }
            Some(Command::Close(id)) => host.close_viewer(id, &mut batch),
            Some(Command::Rtcp { id, data }) => host.send_rtcp(id, &data, &mut batch),
            Some(Command::Layers { stream_key, layers, scalable, without_descriptor }) => host.set_layers(&stream_key, layers, scalable, without_descriptor),
            Some(Command::Pin { id, index }) => host.pin_layer(id, index),
            Some(Command::Policy { stream_key, policy }) => host.set_stream_policy(&stream_key, policy),
            Some(Command::Anchor { stream_key, kind, rtp_timestamp, wall_ms }) => host.anchor(&stream_key, kind, rtp_timestamp, wall_ms),
            Some(Command::Shutdown) => {
                host.close_all(&mut batch);
                stop = true;
            }
            None => {}
        }
        host.handle_timeouts(Instant::now(), &mut batch);
        let events = host.take_events();
        drop(host);
        shared.publish(&mut batch);
        shared.emit(events);
        if stop {
            return;
        }
    }
}

#[napi]
impl WebRtcViewers {
    /// Binds the UDP port, makes the DTLS certificate and starts the threads. `onEvent` is
    /// called with a `NativeViewerEvent` for every state change, keyframe request and close.
    ///
    /// Throws `WEBRTC_BIND_FAILED` when the address cannot be bound,
    /// `WEBRTC_CERTIFICATE_FAILED` when no certificate can be made.
    #[napi(constructor, ts_args_type = "options: WebRtcViewersOptions, onEvent: (event: NativeViewerEvent) => void")]
    pub fn new(options: WebRtcViewersOptions, on_event: EventFn) -> Result<Self> {
        let send_threads = match options.send_threads {
            Some(n @ 1..=64) => n as usize,
            Some(n) => return Err(invalid(format!("sendThreads {n} is not 1-64"))),
            None => std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        };
        let (socket, port) = bind_port(&options.bind_address, options.port, "WEBRTC")?;
        let clone = || clone_socket(&socket, "WEBRTC");
        let recv_socket = clone()?;
        let certificate = sluice_webrtc::Certificate::generate().map_err(|e| Error::new(Status::GenericFailure, format!("{}: {e}", e.code())))?;
        let fingerprint = certificate.fingerprint_sdp();
        let policy = options.simulcast.map_or(LayerPolicy { audio_first: true, ..LayerPolicy::default() }, layer_policy);
        let shared = Arc::new(Shared {
            hosts: {
                let paths = Arc::new(paths::SharedPaths::default());
                (0..send_threads).map(|_| Mutex::new(Host::new(certificate.clone(), policy, paths.clone()))).collect()
            },
            socket,
            stop: AtomicBool::new(false),
            on_event,
            datagrams_in: AtomicU64::new(0),
            unrouted: AtomicU64::new(0),
            sent: SendTotals::default(),
            frames_dropped: AtomicU64::new(0),
            latency: Mutex::new(HopSamples::default()),
        });
        let spawn = |name: String| std::thread::Builder::new().name(name);
        let thread_failed = |e: std::io::Error| Error::new(Status::GenericFailure, format!("WEBRTC_THREAD_FAILED: {e}"));
        let mut viewers = WebRtcViewers { shared: shared.clone(), commands: Vec::new(), threads: Vec::new(), port, fingerprint };
        // From here on a failure closes what was started (`Drop`).
        for index in 0..send_threads {
            let (commands, receiver) = sync_channel(QUEUE_FRAMES);
            let socket = clone_socket(&shared.socket, "WEBRTC")?;
            let s = shared.clone();
            viewers.threads.push(spawn(format!("sluice-webrtc-send-{index}")).spawn(move || send_loop(s, index, receiver, socket)).map_err(thread_failed)?);
            viewers.commands.push(commands);
        }
        let r = shared.clone();
        viewers.threads.push(spawn("sluice-webrtc-recv".into()).spawn(move || receive_loop(r, recv_socket)).map_err(thread_failed)?);
        Ok(viewers)
    }

    /// The UDP port every viewer's media and checks use.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.port
    }

    /// The certificate's fingerprint for the SDP answer: `sha-256 AB:CD:…`.
    #[napi(getter)]
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// Forgets the server-hop samples so far (`stats().latencyMs` and `queueMs` then cover
    /// from now on).
    #[napi]
    pub fn reset_latency(&self) {
        *self.shared.latency() = HopSamples::default();
    }

    /// Viewers now (any state).
    #[napi(getter)]
    pub fn size(&self) -> u32 {
        (0..self.shared.hosts.len()).map(|i| self.shared.host(i).viewer_count() as u32).sum()
    }

    /// Adds a viewer and returns the ICE credentials for its answer. Throws
    /// `WEBRTC_INVALID_ARGUMENT` (a taken id, a bad fingerprint or payload type).
    #[napi]
    pub fn add_viewer(&self, spec: NativeViewerSpec) -> Result<NativeViewerCredentials> {
        let remote_fingerprint = sluice_webrtc::parse_fingerprint(&spec.remote_fingerprint).map_err(|e| invalid(e.to_string()))?;
        let ufrag = ice_chars(8)?;
        let password = ice_chars(24)?;
        let spec_id = spec.id;
        let setup = ViewerSetup {
            id: spec.id,
            stream_key: spec.stream_key,
            local_ufrag: ufrag.clone(),
            local_password: password.clone(),
            remote_ufrag: spec.remote_ufrag,
            remote_fingerprint,
            video_pt: payload_type(spec.video_payload_type)?,
            audio_pt: payload_type(spec.audio_payload_type)?,
            transport_cc_id: spec
                .transport_cc_id
                .map(|id| u8::try_from(id).ok().filter(|id| (1..=14).contains(id)).ok_or_else(|| invalid(format!("extension id {id} is not 1-14"))))
                .transpose()?,
            rtx: match (payload_type(spec.rtx_payload_type)?, spec.rtx_ssrc) {
                (Some(pt), Some(ssrc)) => Some((pt, ssrc)),
                _ => None,
            },
            path_group: spec.path_group.map(Arc::from),
            dependency_descriptor_id: spec
                .dependency_descriptor_id
                .map(|id| u8::try_from(id).ok().filter(|&id| id >= 1).ok_or_else(|| invalid(format!("extension id {id} is not 1-255"))))
                .transpose()?,
        };
        self.shared.host(self.shared.host_of(spec_id)).add_viewer(setup, Instant::now()).map_err(invalid)?;
        Ok(NativeViewerCredentials { ufrag, password })
    }

    /// Adds a publisher (WHIP on this port) and returns the ICE credentials for its answer: its
    /// RTP comes as `rtp` events, it gets transport-wide CC feedback when `transportCcId` is
    /// set, and `sendRtcp` reaches it; `closeViewer` closes it. Throws `WEBRTC_INVALID_ARGUMENT`
    /// (a taken id, a bad fingerprint or extension id).
    #[napi]
    pub fn add_publisher(&self, spec: NativePublisherSpec) -> Result<NativeViewerCredentials> {
        let remote_fingerprint = sluice_webrtc::parse_fingerprint(&spec.remote_fingerprint).map_err(|e| invalid(e.to_string()))?;
        let ufrag = ice_chars(8)?;
        let password = ice_chars(24)?;
        let setup = PublisherSetup {
            id: spec.id,
            local_ufrag: ufrag.clone(),
            local_password: password.clone(),
            remote_ufrag: spec.remote_ufrag,
            remote_fingerprint,
            transport_cc_id: spec
                .transport_cc_id
                .map(|id| u8::try_from(id).ok().filter(|id| (1..=14).contains(id)).ok_or_else(|| invalid(format!("extension id {id} is not 1-14"))))
                .transpose()?,
            ssrc: spec.ssrc,
            rid_id: spec
                .rid_id
                .map(|id| u8::try_from(id).ok().filter(|id| (1..=14).contains(id)).ok_or_else(|| invalid(format!("extension id {id} is not 1-14"))))
                .transpose()?,
        };
        self.shared.host(self.shared.host_of(spec.id)).add_publisher(setup, Instant::now()).map_err(invalid)?;
        Ok(NativeViewerCredentials { ufrag, password })
    }

    /// Sends an RTCP packet (compound or single, unprotected) to peer `id` as SRTCP; dropped
    /// before it is connected. Throws `WEBRTC_INVALID_ARGUMENT` for something that is not RTCP.
    #[napi]
    pub fn send_rtcp(&self, id: u32, packet: Buffer) -> Result<()> {
        if !sluice_rtp::rtcp::is_rtcp(&packet) {
            return Err(invalid("not an RTCP packet"));
        }
        self.queue(self.shared.host_of(id), Command::Rtcp { id, data: packet.to_vec() });
        Ok(())
    }

    /// Closes a viewer (idempotent); its `closed` event follows.
    #[napi]
    pub fn close_viewer(&self, id: u32) {
        let _ = self.commands[self.shared.host_of(id)].send(Command::Close(id));
    }

    /// A stream's packets of one frame (RTP), back to back in `data`, packet
    /// `i` ending at `ends[i]`: queued for the send thread, which sends them to every live
    /// viewer of the stream. `lagMs`: how long the frame has been in the server already (source
    /// message arrival → now, ms); with it, the frame's server hop (+ queue and sends) is kept
    /// for `stats().latencyMs`. `start`: what the frame starts: `keyframe` (a viewer switching
    /// layers moves at one), `switch-point` (a switching point of an SVC operating point,
    /// `RtpRewriter.switchPoint`: a viewer moving up to this one moves there), or nothing of
    /// note (omitted). Throws `WEBRTC_INVALID_ARGUMENT` when `ends` do not cut `data` or
    /// `start` is another string.
    #[napi(ts_args_type = "streamKey: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, lagMs?: number, start?: 'keyframe' | 'switch-point'")]
    pub fn media(&self, stream_key: String, kind: String, data: Buffer, ends: Uint32Array, lag_ms: Option<f64>, start: Option<String>) -> Result<()> {
        let kind = media_kind(&kind)?;
        split(&data, &ends).ok_or_else(|| invalid("ends do not cut data"))?;
        let start = frame_start(start.as_deref()).ok_or_else(|| invalid(format!("start: {start:?}")))?;
        let lag_ms = lag_ms.unwrap_or(f64::NAN);
        let threads = self.commands.len();
        let frame = Arc::new(Frame {
            stream_key,
            kind,
            data: data.to_vec(),
            ends: ends.to_vec(),
            start,
            lag_ms,
            queued: Instant::now(),
            pending: AtomicUsize::new(threads),
            reached: AtomicBool::new(false),
        });
        for index in 0..threads {
            if !self.queue(index, Command::Media(frame.clone())) {
                frame.pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
        Ok(())
    }

    /// Anchors the sender reports of `streamKey`'s `kind` track on a publisher's own report,
    /// re-based onto the stream's RTP timestamps: `rtpTimestamp` was current at Unix `wallMs`
    /// (RFC 3550 §6.4.1). Viewers' reports otherwise follow when packets were sent.
    #[napi(ts_args_type = "streamKey: string, kind: 'video' | 'audio', rtpTimestamp: number, wallMs: number")]
    pub fn anchor(&self, stream_key: String, kind: String, rtp_timestamp: u32, wall_ms: f64) -> Result<()> {
        let kind = media_kind(&kind)?;
        for index in 0..self.commands.len() {
            self.queue(index, Command::Anchor { stream_key: stream_key.clone(), kind, rtp_timestamp, wall_ms });
        }
        Ok(())
    }

    /// Declares `streamKey`'s simulcast layers (RFC 8853): the streams `layers` (lowest first)
    /// carry the same source's video in lower qualities, `streamKey` being the top one. Each
    /// viewer of the stream is then moved between them by its bandwidth estimate (down at once,
    /// up after 2 s of fitting, probing with RTX padding for the next layer), at the layer's
    /// keyframe, asked for with a `keyframe` event (`reason` `layer`). Empty: no simulcast.
    /// `scalable`: the layers are operating points of one SVC stream (each lower one a subset
    /// of the pictures above it), so a viewer moves down at the next picture, no keyframe asked.
    /// `withoutDescriptorMaxLayer`: the highest layer (index) a viewer that did not negotiate
    /// the Dependency Descriptor can decode (an AV1 SVC stream's lowest spatial layer); such
    /// viewers are held there.
    #[napi]
    pub fn set_layers(&self, stream_key: String, layers: Vec<String>, scalable: Option<bool>, without_descriptor_max_layer: Option<u32>) {
        let scalable = scalable.unwrap_or(false);
        let without_descriptor = without_descriptor_max_layer.map(|m| m as usize);
        for index in 0..self.commands.len() {
            let _ = self.commands[index].send(Command::Layers { stream_key: stream_key.clone(), layers: layers.clone(), scalable, without_descriptor });
        }
    }

    /// How the simulcast layers of `streamKey`'s viewers are chosen, in place of the port's
    /// `simulcast` option (an SFU room's policy); `null`: the port's again.
    #[napi]
    pub fn set_layer_policy(&self, stream_key: String, policy: Option<SimulcastPolicy>) {
        let policy = policy.map(layer_policy);
        for index in 0..self.commands.len() {
            let _ = self.commands[index].send(Command::Policy { stream_key: stream_key.clone(), policy });
        }
    }

    /// Pins viewer `id` to its stream's simulcast layer `index` (lowest 0), or lets its
    /// estimate choose again (`null`).
    #[napi]
    pub fn pin_layer(&self, id: u32, index: Option<u32>) {
        let _ = self.commands[self.shared.host_of(id)].send(Command::Pin { id, index: index.map(|i| i as usize) });
    }

    /// Packets for one viewer only (its GOP replay), then its new video sequence offset
    /// (0–65 535); `live` lets it receive the stream's packets after them.
    #[napi(ts_args_type = "id: number, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, seqOffset: number, live: boolean")]
    pub fn inject(&self, id: u32, kind: String, data: Buffer, ends: Uint32Array, seq_offset: u32, live: bool) -> Result<()> {
        let kind = media_kind(&kind)?;
        split(&data, &ends).ok_or_else(|| invalid("ends do not cut data"))?;
        self.queue(self.shared.host_of(id), Command::Inject { id, kind, data: data.to_vec(), ends: ends.to_vec(), seq_offset: (seq_offset & 0xFFFF) as u16, live });
        Ok(())
    }

    /// Queues a frame for send thread `index`, or drops it (counted) when its queue is full.
    /// Returns whether it was queued.
    fn queue(&self, index: usize, command: Command) -> bool {
        match self.commands[index].try_send(command) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.shared.frames_dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Counters of every viewer and of the port.
    #[napi]
    pub fn stats(&self) -> NativeViewersStats {
        let counters: Vec<_> = (0..self.shared.hosts.len()).flat_map(|i| self.shared.host(i).viewer_counters()).collect();
        let sent = self.shared.sent.get();
        let viewers = counters
            .into_iter()
            .map(|host::PeerSnapshot { id, state, counters: c, layer, video_paused: paused }| NativeViewerCounters {
                id,
                state: match state {
                    sluice_webrtc::PeerState::Connecting => "connecting",
                    sluice_webrtc::PeerState::Connected => "connected",
                    sluice_webrtc::PeerState::Closed => "closed",
                }
                .into(),
                packets_sent: c.packets_sent as f64,
                bytes_sent: c.bytes_sent as f64,
                nacks: c.nacks as f64,
                retransmitted: c.retransmitted as f64,
                send_failures: c.send_failures as f64,
                transport_feedback: c.transport_feedback as f64,
                estimate_bps: c.estimate_bps as f64,
                received_bps: c.received_bps as f64,
                retransmissions_refused: c.retransmissions_refused as f64,
                packets_received: c.packets_received as f64,
                bytes_received: c.bytes_received as f64,
                video_stream: layer.as_ref().map(|l| l.0.clone()),
                switching_to: layer.and_then(|l| l.1),
                probe_packets: c.probe_packets as f64,
                video_paused: paused,
            })
            .collect();
        let (latency_ms, queue_ms) = {
            let l = self.shared.latency();
            (l.hop.clone(), l.queue.clone())
        };
        NativeViewersStats {
            viewers,
            datagrams_in: self.shared.datagrams_in.load(Ordering::Relaxed) as f64,
            unrouted: self.shared.unrouted.load(Ordering::Relaxed) as f64,
            send_calls: sent.0 as f64,
            datagrams_out: sent.1 as f64,
            send_failed: sent.2 as f64,
            frames_dropped: self.shared.frames_dropped.load(Ordering::Relaxed) as f64,
            send_threads: self.shared.hosts.len() as u32,
            latency_ms,
            queue_ms,
        }
    }

    /// Closes every viewer (their `closed` events follow), stops the threads and releases the
    /// port. Idempotent.
    #[napi]
    pub fn close(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        for commands in &self.commands {
            let _ = commands.send(Command::Shutdown);
        }
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for WebRtcViewers {
    fn drop(&mut self) {
        self.close();
    }
}
