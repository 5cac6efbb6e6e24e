//! [`Host`]: one send thread's share of the native WHEP viewers of a UDP port (the port has one
//! host per send thread; a viewer lives in one), and the streams they watch — the native
//! counterpart of `ts/webrtc/viewer-host.ts`, with the same rules:
//!
//! - Which viewer gets which packet, with which payload type and sequence offset, and where a
//!   NACKed packet (RFC 4585 §6.2.1) is found again, is `sluice_rtp::egress::Fanout`'s — the
//!   same fan-out the node-datachannel viewers use, and so are the sender reports it sends every
//!   viewer each second (its own counts, RFC 3550 §6.4.1). This host protects (SRTP, SRTCP) and
//!   batches the sends. PLI and FIR become keyframe requests for the feed.
//! - A viewer that offered the transport-wide sequence number extension gets it on every
//!   packet and a send-side bandwidth estimate from its feedback (`sluice_rtp::bwe`, GCC);
//!   a REMB caps it.
//! - Simulcast and SVC viewers get their layer from their estimate; the viewers of one receiver
//!   (a path group) share their path's congestion: one sees it, every probe there stops
//!   (`super::paths`).
//! - Datagrams on the port are routed by STUN USERNAME (the local ufrag) and, once a check
//!   passed, by source address (`sluice_ice::demux::Demux`); anything else is dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use sluice_ice::demux::{classify, DatagramKind, Demux};
use sluice_ice::Message;
use sluice_rtp::bwe::recorder::FeedbackRecorder;
use sluice_rtp::bwe::trendline::BandwidthUsage;
use sluice_rtp::bwe::{BandwidthEstimator, RetransmissionBudget};
use sluice_rtp::egress::kept_extension;
use sluice_rtp::packet::RtpHeader;
use sluice_rtp::egress::layers::{LayerPolicy, PROBE_OVERSHOOT};
use sluice_rtp::egress::{add_timestamp_offset, patch_into, Fanout, FanoutTarget, FrameStart, MediaKind, NackResolution, SubscriberConfig, SubscriberReport};
use sluice_rtp::rtcp::{is_rtcp, RtcpPacket};
use sluice_webrtc::{Certificate, CloseReason, Peer, PeerConfig, PeerEvent, PeerState};

use super::paths::SharedPaths;
use crate::send_batch::SendBatch;
use crate::unix_ms;

/// Video packets kept per stream for NACK (about 4 s at 2.5 Mbit/s).
const RETRANSMIT_PACKETS: usize = 1024;
/// Injected (GOP replay) packets kept per viewer for NACK.
const INJECTED_PACKETS: usize = 1024;
/// Sender reports go to every viewer this often (RFC 3550 §6.2's pace for a few receivers).
const REPORT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// A publisher gets transport-wide CC feedback this often while packets arrive (libwebrtc and
/// mediasoup send it every 50–250 ms).
const FEEDBACK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
/// Viewers of simulcast streams have their layer chosen this often (`sluice_rtp::egress::layers`).
const SELECT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
/// A probe sends its padding in steps this far apart.
const PROBE_STEP: std::time::Duration = std::time::Duration::from_millis(20);
/// A probe's rate ramps from what the viewer receives to its aim over this long.
const PROBE_RAMP: std::time::Duration = std::time::Duration::from_millis(1000);
/// A probe stops when a feedback reports more loss than this share, or a growing delay.
const PROBE_LOSS: f64 = 0.05;
/// What a viewer received counts as evidence of its path (beside the estimate) while the loss
/// it reports stays under this share.
const EVIDENCE_LOSS: f64 = 0.02;

/// What the host reports to JS.
#[derive(Debug, Clone, PartialEq)]
pub enum HostEvent {
    /// `connected` (DTLS and SRTP up) or `selected` (ICE picked a pair).
    State { id: u32, state: &'static str },
    /// A keyframe is wanted for viewer `id` from stream `stream_key` (the one its video comes
    /// from, or a simulcast layer it is switching to): it asked (`pli`, `fir`), or its layer
    /// changes (`layer`).
    Keyframe { id: u32, reason: &'static str, stream_key: String },
    /// RTP packets from a publisher (decrypted), in arrival order, with its sender reports
    /// (each an RTCP SR packet) where they came.
    Rtp { id: u32, packets: Vec<Vec<u8>> },
    /// A publisher's RTP stream `ssrc` carries simulcast layer `rid` (RFC 8852's RtpStreamId
    /// header extension); comes before that stream's packets.
    Rid { id: u32, ssrc: u32, rid: String },
    /// The viewer is gone (reason as text), with what it was sent.
    Closed { id: u32, reason: String, packets_sent: u64, bytes_sent: u64 },
}

/// Per-viewer counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct ViewerCounters {
    /// SRTP packets sent (retransmissions included, sender reports not), and their bytes.
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub nacks: u64,
    pub retransmitted: u64,
    pub send_failures: u64,
    /// Transport-wide CC feedback packets received (the browser follows our sequence numbers).
    pub transport_feedback: u64,
    /// The send-side bandwidth estimate, bit/s (0 before feedback, or without transport-cc).
    pub estimate_bps: u64,
    /// What the viewer reported receiving over the last 500 ms, bit/s (0 until known).
    pub received_bps: u64,
    /// NACKed packets not sent again: the second's retransmissions already filled the estimate.
    pub retransmissions_refused: u64,
    /// A publisher: RTP packets received (decrypted) and their bytes.
    pub packets_received: u64,
    pub bytes_received: u64,
    /// Padding packets a probe for a better simulcast layer sent.
    pub probe_packets: u64,
}

/// A viewer's transport-wide congestion control: the extension id, the next sequence number
/// and the estimator fed by its feedback.
struct TransportCc {
    id: u8,
    next: u16,
    bwe: BandwidthEstimator,
    /// What the viewer last reported receiving (bit/s) and the loss share then.
    received_bps: f64,
    loss: f64,
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
    /// RTX (RFC 4588) for retransmissions: the payload type and SSRC, when negotiated.
    pub rtx: Option<(u8, u32)>,
    /// The receiver whose path it shares with its other viewers (`super::paths`), if any.
    pub path_group: Option<Arc<str>>,
    /// The offer's id (1–255) for the Dependency Descriptor extension, when the answer accepted
    /// it: a kept element (`sluice_rtp::egress::kept_extension`) goes out under this id, else
    /// it is removed.
    pub dependency_descriptor_id: Option<u8>,
}

/// One peer as `Host::viewer_counters` reports it.
pub struct PeerSnapshot {
    pub id: u32,
    pub state: PeerState,
    pub counters: ViewerCounters,
    /// Simulcast: the stream its video comes from and the one it switches to.
    pub layer: Option<(String, Option<String>)>,
    /// Simulcast: the layer policy paused its video.
    pub video_paused: bool,
}

/// What a publisher needs besides its credentials.
pub struct PublisherSetup {
    pub id: u32,
    pub local_ufrag: String,
    pub local_password: String,
    pub remote_ufrag: Option<String>,
    pub remote_fingerprint: [u8; 32],
    /// The id (1–14) of the transport-wide sequence number extension in our answer, when we
    /// accepted it: the publisher then gets transport-wide CC feedback.
    pub transport_cc_id: Option<u8>,
    /// Our SSRC in the feedback we send (the answer's receiver SSRC).
    pub ssrc: u32,
    /// The id (1–14) of the RtpStreamId extension (`urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id`,
    /// RFC 8852 §3.1) in our answer: each RTP stream's rid is then reported once
    /// ([`HostEvent::Rid`]).
    pub rid_id: Option<u8>,
}

/// RTP streams whose rid a publisher may name (simulcast layers, audio, a few restarts).
const MAX_RID_STREAMS: usize = 16;
/// The longest rid accepted (RFC 8851 §10: rid-id is 1*(alpha-numeric / "-" / "_"); libwebrtc
/// allows 16 characters, we allow more).
const MAX_RID_LEN: usize = 64;

/// A publisher's receive side: its transport-wide CC arrivals, reported every
/// [`FEEDBACK_INTERVAL`] (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1), so its
/// congestion control can raise its bitrate.
struct Ingest {
    transport_cc_id: Option<u8>,
    recorder: FeedbackRecorder,
    ssrc: u32,
    /// The last media SSRC seen (the feedback's media source field).
    media_ssrc: u32,
    next_feedback: Instant,
    rid_id: Option<u8>,
    /// SSRC → rid, as reported.
    rids: HashMap<u32, String>,
}

/// A viewer's RTX stream (RFC 4588 §4): retransmissions go out with this payload type, SSRC and
/// sequence numbers of their own, the original sequence number (OSN) in front of the payload.
struct Rtx {
    payload_type: u8,
    ssrc: u32,
    next: u16,
}

struct Viewer {
    peer: Peer,
    ufrag: String,
    /// Transport-wide sequence numbers and the bandwidth estimate, when the offer had the extension.
    twcc: Option<TransportCc>,
    /// Where retransmissions go when the offer had RTX.
    rtx: Option<Rtx>,
    /// The id a kept extension element is sent under (`ViewerSetup::dependency_descriptor_id`).
    kept_extension_id: Option<u8>,
    /// How much may be retransmitted to it each second.
    budget: RetransmissionBudget,
    counters: ViewerCounters,
    /// A publisher (it sends us media) has one.
    ingest: Option<Ingest>,
    /// A probe for a better simulcast layer runs: padding tops what it is sent up to this, bit/s.
    probe_bps: Option<f64>,
    /// Bytes owed to the probe: its rate over the time since the last step, less what was
    /// sent meanwhile (media, audio, padding), in whole packets.
    probe_credit: f64,
    /// `counters.bytes_sent` at the last probe step.
    probe_mark: u64,
    /// When the running probe started: its rate ramps up from what the viewer is sent to the
    /// aim over [`PROBE_RAMP`], so a path that cannot carry it shows a growing delay (and the
    /// probe stops) before a deep queue delays the media.
    probe_started: Option<Instant>,
    /// The path it shares with the other viewers of its receiver (`super::paths`), if any.
    path_group: Option<Arc<str>>,
}

/// See the [module docs](self).
pub struct Host {
    certificate: Certificate,
    dtls_config: Arc<dimpl::Config>,
    viewers: HashMap<u32, Viewer>,
    demux: Demux<u32>,
    fanout: Fanout,
    /// Scratch: the viewers one batch goes to.
    targets: Vec<FanoutTarget>,
    events: Vec<HostEvent>,
    /// Time 0 of the µs timestamps the estimators get.
    epoch: Instant,
    /// When the viewers' sender reports are next due.
    next_report: Instant,
    /// Scratch: the reports of one round.
    reports: Vec<SubscriberReport>,
    /// When simulcast layers are next chosen, and probes next step.
    next_select: Instant,
    next_probe: Instant,
    /// When the last probe step ran.
    last_probe: Instant,
    /// The port's viewers' paths, shared by its send threads.
    paths: Arc<SharedPaths>,
}

impl Host {
    /// A host whose simulcast viewers follow `policy` (`webrtc.simulcast`); `paths`: the port's
    /// (one for all its hosts).
    pub fn new(certificate: Certificate, policy: LayerPolicy, paths: Arc<SharedPaths>) -> Host {
        let mut fanout = Fanout::new(RETRANSMIT_PACKETS, INJECTED_PACKETS);
        fanout.set_layer_policy(policy);
        Host {
            certificate,
            dtls_config: sluice_webrtc::dtls_config(),
            viewers: HashMap::new(),
            demux: Demux::new(),
            fanout,
            targets: Vec::new(),
            events: Vec::new(),
            epoch: Instant::now(),
            next_report: Instant::now() + REPORT_INTERVAL,
            reports: Vec::new(),
            next_select: Instant::now() + SELECT_INTERVAL,
            next_probe: Instant::now() + PROBE_STEP,
            last_probe: Instant::now(),
            paths,
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
        self.fanout.add(
            setup.id,
            SubscriberConfig { stream_key: setup.stream_key, video_payload_type: setup.video_pt, audio_payload_type: setup.audio_pt, takes_descriptor: setup.dependency_descriptor_id.is_some() },
        );
        self.viewers.insert(
            setup.id,
            Viewer {
                peer,
                ufrag: setup.local_ufrag,
                twcc: setup.transport_cc_id.filter(|id| (1..=14).contains(id)).map(|id| TransportCc { id, next: 0, bwe: BandwidthEstimator::default(), received_bps: 0.0, loss: 0.0 }),
                counters: ViewerCounters::default(),
                // RFC 4588 §4: the RTX stream's sequence numbers start at a value of their own
                budget: RetransmissionBudget::default(),
                rtx: setup.rtx.map(|(payload_type, ssrc)| Rtx { payload_type, ssrc, next: (ssrc >> 7) as u16 }),
                kept_extension_id: setup.dependency_descriptor_id.filter(|&id| id > 0),
                ingest: None,
                probe_bps: None,
                probe_credit: 0.0,
                probe_mark: 0,
                probe_started: None,
                path_group: setup.path_group,
            },
        );
        Ok(())
    }

    /// Adds a publisher: a peer whose SRTP is decrypted and reported as [`HostEvent::Rtp`]
    /// (it watches no stream). Errors as [`add_viewer`](Self::add_viewer).
    pub fn add_publisher(&mut self, setup: PublisherSetup, now: Instant) -> Result<(), String> {
        if self.viewers.contains_key(&setup.id) {
            return Err(format!("peer {} exists", setup.id));
        }
        let mut config = PeerConfig::new(setup.local_ufrag.clone(), setup.local_password);
        config.remote_ufrag = setup.remote_ufrag;
        config.remote_fingerprint = Some(setup.remote_fingerprint);
        config.receives_media = true;
        let peer = Peer::new(config, &self.certificate, self.dtls_config.clone(), now).map_err(|e| format!("{}: {e}", e.code()))?;
        if !self.demux.add_peer(&setup.local_ufrag, setup.id) {
            return Err("ICE ufrag taken".into());
        }
        self.viewers.insert(
            setup.id,
            Viewer {
                peer,
                ufrag: setup.local_ufrag,
                twcc: None,
                counters: ViewerCounters::default(),
                budget: RetransmissionBudget::default(),
                rtx: None,
                kept_extension_id: None,
                probe_bps: None,
                probe_credit: 0.0,
                probe_mark: 0,
                probe_started: None,
                path_group: None,
                ingest: Some(Ingest {
                    transport_cc_id: setup.transport_cc_id.filter(|id| (1..=14).contains(id)),
                    recorder: FeedbackRecorder::default(),
                    ssrc: setup.ssrc,
                    media_ssrc: 0,
                    next_feedback: now + FEEDBACK_INTERVAL,
                    rid_id: setup.rid_id.filter(|id| (1..=14).contains(id)),
                    rids: HashMap::new(),
                }),
            },
        );
        Ok(())
    }

    /// An RTCP packet from JS for peer `id` (a publisher's receiver reports, NACK, PLI),
    /// protected as SRTCP and sent; dropped before the peer is connected.
    pub fn send_rtcp(&mut self, id: u32, packet: &[u8], batch: &mut SendBatch) {
        let now_us = self.now_us();
        let Some(v) = self.viewers.get_mut(&id).filter(|v| v.peer.state() == PeerState::Connected) else { return };
        if is_rtcp(packet) {
            send_rtp(v, packet, Patch::NONE, now_us, false, batch);
            batch.flush();
        }
    }

    /// Closes a viewer (idempotent): a DTLS close_notify goes out, then its `Closed` event.
    pub fn close_viewer(&mut self, id: u32, batch: &mut SendBatch) {
        if let Some(v) = self.viewers.get_mut(&id) {
            v.peer.close();
        }
        self.drain_peer(id, Instant::now(), batch);
    }

    /// One datagram that arrived on the port: handled when it belongs to one of this host's
    /// viewers (a STUN check naming its ufrag, anything else from its address). Returns whether
    /// it did; the port then offers it to the next host. `now`: the time it was read;
    /// `arrived`: when it arrived (the kernel's stamp, `crate::udp_port::recv_stamped`), which
    /// the transport-wide CC feedback to a publisher reports.
    pub fn handle_datagram(&mut self, source: SocketAddr, data: &[u8], now: Instant, arrived: Instant, batch: &mut SendBatch) -> bool {
        let id = if classify(data) == DatagramKind::Stun {
            Message::parse(data).ok().and_then(|m| m.username().ok().flatten().and_then(|u| self.demux.by_ufrag(u)))
        } else {
            self.demux.by_address(source)
        };
        let Some(id) = id else { return false };
        let Some(v) = self.viewers.get_mut(&id) else { return false };
        v.peer.handle_datagram(source, data, now);
        if v.peer.knows(source) && self.demux.by_address(source) != Some(id) {
            self.demux.bind_address(source, id);
        }
        self.drain_peer(id, arrived, batch);
        true
    }

    /// When [`handle_timeouts`](Self::handle_timeouts) must next run.
    pub fn next_timeout(&self) -> Option<Instant> {
        let feedback = self.viewers.values().filter_map(|v| v.ingest.as_ref().filter(|i| i.recorder.has_pending()).map(|i| i.next_feedback));
        let peers = self.viewers.values().filter_map(|v| v.peer.poll_timeout()).chain(feedback).min();
        if self.viewers.is_empty() {
            return peers;
        }
        let probing = self.viewers.values().any(|v| v.probe_bps.is_some()).then_some(self.next_probe);
        let mut next = peers.map_or(self.next_report, |t| t.min(self.next_report));
        if self.fanout.has_layers() {
            next = next.min(self.next_select);
        }
        Some(probing.map_or(next, |p| next.min(p)))
    }

    /// Runs every viewer's timers that are due, and the sender reports when they are.
    pub fn handle_timeouts(&mut self, now: Instant, batch: &mut SendBatch) {
        let due: Vec<u32> = self.viewers.iter().filter(|(_, v)| v.peer.poll_timeout().is_some_and(|t| t <= now)).map(|(id, _)| *id).collect();
        for id in due {
            if let Some(v) = self.viewers.get_mut(&id) {
                v.peer.handle_timeout(now);
            }
            self.drain_peer(id, Instant::now(), batch);
        }
        if now >= self.next_report {
            self.next_report = now + REPORT_INTERVAL;
            self.send_reports(batch);
        }
        self.send_feedback(now, batch);
        if now >= self.next_select {
            self.next_select = now + SELECT_INTERVAL;
            self.select_layers();
        }
        if now >= self.next_probe {
            self.next_probe = now + PROBE_STEP;
            self.probe(now, batch);
        }
    }

    /// Chooses the simulcast layer of every viewer of a simulcast stream from its bandwidth
    /// estimate (`Fanout::select_layers`): a pending switch asks the layer for a keyframe; a
    /// probe starts or stops.
    fn select_layers(&mut self) {
        if !self.fanout.has_layers() {
            return;
        }
        let now_ms = unix_ms();
        let now = Instant::now();
        for (id, v) in self.viewers.iter_mut().filter(|(_, v)| v.ingest.is_none() && v.peer.state() == PeerState::Connected) {
            // the estimate, or what the viewer demonstrably received when it lost next to
            // nothing (a probe's evidence: the estimator follows arrivals a little late)
            let estimate = v.twcc.as_ref().filter(|cc| cc.bwe.feedbacks() > 0).map(|cc| {
                let e = cc.bwe.estimate_bps();
                if cc.loss < EVIDENCE_LOSS { e.max(cc.received_bps) } else { e }
            });
            let (switch, probe) = self.fanout.select_layers(*id, estimate, now_ms);
            if let Some(stream_key) = switch {
                self.events.push(HostEvent::Keyframe { id: *id, reason: "layer", stream_key });
            }
            // padding goes out as RTX (RFC 4588): without it, no probing; one probe per path
            let was_probing = v.probe_bps.is_some();
            v.probe_bps = probe.filter(|_| v.rtx.is_some() && v.path_group.as_ref().is_none_or(|g| self.paths.try_probe(g, *id, now)));
            if v.probe_bps.is_none() {
                v.probe_credit = 0.0;
                v.probe_started = None;
                if let Some(g) = v.path_group.as_ref().filter(|_| was_probing) {
                    self.paths.end_probe(g, *id, now);
                }
            } else if v.probe_started.is_none() {
                v.probe_started = Some(now);
            }
        }
    }

    /// One step of every running probe: copies of the viewer's latest video packets as RTX
    /// (libwebrtc probes with such redundant payloads), so that what it receives reaches the
    /// probe's rate and its estimate can show whether the path carries the next layer.
    fn probe(&mut self, now: Instant, batch: &mut SendBatch) {
        let elapsed_s = now.saturating_duration_since(self.last_probe).as_secs_f64().min(0.1);
        self.last_probe = now;
        let now_us = self.now_us();
        for (id, v) in self.viewers.iter_mut() {
            // another viewer on its path saw congestion: the probe ends
            if v.probe_bps.is_some() && v.path_group.as_ref().is_some_and(|g| !self.paths.probing(g, *id)) {
                v.probe_bps = None;
                v.probe_started = None;
                self.fanout.abort_probe(*id, unix_ms());
            }
            let Some(aim) = v.probe_bps else {
                v.probe_mark = v.counters.bytes_sent;
                continue;
            };
            // what the ramp allows since the last step, less what went out meanwhile
            let sent = v.counters.bytes_sent.saturating_sub(v.probe_mark) as f64;
            let ramp = v.probe_started.map_or(1.0, |t| (now.saturating_duration_since(t).as_secs_f64() / PROBE_RAMP.as_secs_f64()).min(1.0));
            let media_bps = v.counters.received_bps as f64;
            let target = media_bps + (aim * PROBE_OVERSHOOT - media_bps).max(0.0) * ramp;
            v.probe_credit = (v.probe_credit + target / 8.0 * elapsed_s - sent).clamp(-64_000.0, 64_000.0);
            let mut back = 0u16;
            while v.probe_credit > 0.0 && back < 64 {
                let Some(r) = self.fanout.recent_video(*id, back) else { break };
                back += 1;
                let size = r.packet.len() as f64;
                if send_rtp(v, r.packet, r.into(), now_us, true, batch) {
                    v.probe_credit -= size;
                    v.counters.probe_packets += 1;
                }
            }
            // the padding just sent is paid for above: only later sends count at the next step
            v.probe_mark = v.counters.bytes_sent;
        }
        batch.flush();
    }

    /// Transport-wide CC feedback to every publisher that is due one.
    fn send_feedback(&mut self, now: Instant, batch: &mut SendBatch) {
        let now_us = self.now_us();
        let mut out = Vec::new();
        for v in self.viewers.values_mut() {
            let Some(ingest) = v.ingest.as_mut().filter(|i| now >= i.next_feedback) else { continue };
            ingest.next_feedback = now + FEEDBACK_INTERVAL;
            let Some(feedback) = ingest.recorder.feedback(ingest.ssrc, ingest.media_ssrc) else { continue };
            out.clear();
            if feedback.write(&mut out).is_ok() && v.peer.state() == PeerState::Connected {
                send_rtp(v, &out, Patch::NONE, now_us, false, batch);
            }
        }
        batch.flush();
    }

    /// A sender report (RFC 3550 §6.4.1) to every connected viewer for each track it gets,
    /// with its own counts, protected as SRTCP (`sluice_rtp::egress::Fanout::sender_reports`).
    fn send_reports(&mut self, batch: &mut SendBatch) {
        let now_us = self.now_us();
        let mut reports = std::mem::take(&mut self.reports);
        self.fanout.sender_reports(unix_ms(), &mut reports);
        for r in &reports {
            let Some(v) = self.viewers.get_mut(&r.id).filter(|v| v.peer.state() == PeerState::Connected) else { continue };
            send_rtp(v, &r.packet, Patch::NONE, now_us, false, batch);
        }
        batch.flush();
        self.reports = reports;
    }

    /// `stream_key`'s simulcast layers or SVC operating points (`sluice_rtp::egress::Fanout::set_layers`).
    pub fn set_layers(&mut self, stream_key: &str, layers: Vec<String>, scalable: bool, without_descriptor: Option<usize>) {
        self.fanout.set_layers(stream_key, layers, scalable);
        self.fanout.set_layers_without_descriptor(stream_key, without_descriptor);
    }

    /// The layer policy of `stream_key`'s viewers (`Fanout::set_stream_policy`).
    pub fn set_stream_policy(&mut self, stream_key: &str, policy: Option<LayerPolicy>) {
        self.fanout.set_stream_policy(stream_key, policy);
    }

    /// Pins viewer `id` to a simulcast layer (index, lowest 0) or lets the estimate choose.
    pub fn pin_layer(&mut self, id: u32, index: Option<usize>) {
        self.fanout.pin_layer(id, index);
    }

    /// The stream viewer `id`'s video comes from and the one it switches to, if any.
    pub fn video_layer(&self, id: u32) -> Option<(String, Option<String>)> {
        self.fanout.video_layer(id).map(|(k, p)| (k.to_owned(), p.map(str::to_owned)))
    }

    /// Anchors the clock of `stream_key`'s `kind` track on a publisher's sender report
    /// (`sluice_rtp::egress::Fanout::anchor`).
    pub fn anchor(&mut self, stream_key: &str, kind: MediaKind, rtp_timestamp: u32, wall_ms: f64) {
        self.fanout.anchor(stream_key, kind, rtp_timestamp, wall_ms);
    }

    /// Sends a peer's pending datagrams (STUN answers, DTLS flights) and handles its events;
    /// RTP it received arrived at `arrived`.
    fn drain_peer(&mut self, id: u32, arrived: Instant, batch: &mut SendBatch) {
        let Some(v) = self.viewers.get_mut(&id) else { return };
        while let Some(t) = v.peer.poll_transmit() {
            // Control traffic is rare: straight out, no batching.
            batch.send_now(&t.data, t.destination);
        }
        let mut closed = None;
        let mut rtcp = Vec::new();
        let mut received = Vec::new();
        let now_us = arrived.saturating_duration_since(self.epoch).as_micros() as i64;
        while let Some(event) = v.peer.poll_event() {
            match event {
                PeerEvent::Rtp(packet) => {
                    let Some(ingest) = v.ingest.as_mut() else { continue };
                    if let Ok((header, _, _)) = RtpHeader::parse(&packet) {
                        ingest.media_ssrc = header.ssrc;
                        let sequence = ingest.transport_cc_id.and_then(|id| header.extension.and_then(|e| e.find(id)));
                        if let Some(&[hi, lo, ..]) = sequence {
                            ingest.recorder.record(u16::from_be_bytes([hi, lo]), now_us);
                        }
                        let rid = ingest.rid_id.and_then(|id| header.extension.and_then(|e| e.find(id)));
                        if let Some(rid) = rid.filter(|r| !r.is_empty() && r.len() <= MAX_RID_LEN && !ingest.rids.contains_key(&header.ssrc) && ingest.rids.len() < MAX_RID_STREAMS) {
                            let rid: String = String::from_utf8_lossy(rid).trim_end_matches('\0').to_owned();
                            ingest.rids.insert(header.ssrc, rid.clone());
                            self.events.push(HostEvent::Rid { id, ssrc: header.ssrc, rid });
                        }
                    }
                    v.counters.packets_received += 1;
                    v.counters.bytes_received += packet.len() as u64;
                    received.push(packet);
                }
                PeerEvent::Selected(_) => self.events.push(HostEvent::State { id, state: "selected" }),
                PeerEvent::Connected(_) => self.events.push(HostEvent::State { id, state: "connected" }),
                PeerEvent::Rtcp(packets) => {
                    // a publisher's sender reports go to JS with its packets (its timeline, lip sync)
                    if v.ingest.is_some() {
                        for p in packets.iter().filter(|p| matches!(p, RtcpPacket::SenderReport(_))) {
                            let mut out = Vec::new();
                            if p.write(&mut out).is_ok() {
                                received.push(out);
                            }
                        }
                    }
                    rtcp.extend(packets)
                }
                PeerEvent::Closed(reason) => closed = Some(reason),
            }
        }
        if !received.is_empty() {
            self.events.push(HostEvent::Rtp { id, packets: received });
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
                let now_us = self.now_us();
                let Some(v) = self.viewers.get_mut(&id) else { return };
                v.counters.nacks += 1;
                for seq in nack.lost {
                    let Some(r) = self.fanout.resolve_nack(id, seq) else { continue };
                    // answers stay within the viewer's bandwidth estimate (its path dropped them
                    // once), or the media's rate without one
                    let estimate = v.twcc.as_ref().filter(|cc| cc.bwe.feedbacks() > 0).map(|cc| cc.bwe.estimate_bps());
                    if !v.budget.allow(now_us, r.packet.len(), estimate) {
                        v.counters.retransmissions_refused += 1;
                        continue;
                    }
                    if send_rtp(v, r.packet, r.into(), now_us, true, batch) {
                        v.counters.retransmitted += 1;
                    }
                }
                batch.flush();
            }
            RtcpPacket::TransportFeedback(feedback) => {
                let now_us = self.now_us();
                if let Some(v) = self.viewers.get_mut(&id) {
                    v.counters.transport_feedback += 1;
                    if let Some(cc) = v.twcc.as_mut() {
                        let u = cc.bwe.feedback(&feedback, now_us);
                        cc.received_bps = u.received_bps.unwrap_or(0.0);
                        cc.loss = u.loss;
                        v.counters.estimate_bps = u.estimate_bps as u64;
                        v.counters.received_bps = u.received_bps.map_or(0, |r| r as u64);
                        // the path is full: its own probe for a better layer stops at once; loss
                        // (not a growing delay, which its own keyframe bursts cause too) stops
                        // every probe on the path, and none starts there for a while
                        if u.loss > PROBE_LOSS {
                            if let Some(g) = &v.path_group {
                                self.paths.mark_congested(g, Instant::now());
                            }
                        }
                        if (u.usage == BandwidthUsage::Overusing || u.loss > PROBE_LOSS) && v.probe_bps.take().is_some() {
                            self.fanout.abort_probe(id, unix_ms());
                        }
                    }
                }
            }
            RtcpPacket::Remb(remb) => {
                if let Some(cc) = self.viewers.get_mut(&id).and_then(|v| v.twcc.as_mut()) {
                    cc.bwe.remb(remb.bitrate as f64);
                }
            }
            RtcpPacket::Pli(_) | RtcpPacket::Fir(_) => {
                let reason = if matches!(packet, RtcpPacket::Pli(_)) { "pli" } else { "fir" };
                // a switch under way needs the target layer's keyframe; otherwise the current one
                if let Some((key, pending)) = self.fanout.video_layer(id) {
                    let stream_key = pending.unwrap_or(key).to_owned();
                    self.events.push(HostEvent::Keyframe { id, reason, stream_key });
                }
            }
            _ => {}
        }
    }

    fn remove(&mut self, id: u32, reason: CloseReason) {
        let Some(v) = self.viewers.remove(&id) else { return };
        if let Some(g) = &v.path_group {
            self.paths.end_probe(g, id, Instant::now());
        }
        self.demux.remove_peer(&v.ufrag);
        self.fanout.remove(id);
        let reason = match reason {
            CloseReason::Local => "closed by server".to_owned(),
            CloseReason::ConnectTimeout => "connect timeout".to_owned(),
            CloseReason::ConsentExpired => "consent expired".to_owned(),
            CloseReason::DtlsClosed => "closed by peer".to_owned(),
            CloseReason::Failed(e) => format!("{}: {e}", e.code()),
        };
        self.events.push(HostEvent::Closed { id, reason, packets_sent: v.counters.packets_sent, bytes_sent: v.counters.bytes_sent });
    }

    /// A stream's packets of one frame, for every live viewer. Returns the viewers it went to.
    /// `start`: what the batch starts (a viewer switching layers moves at a keyframe, or up
    /// among SVC operating points at a switching point).
    pub fn media(&mut self, stream_key: &str, kind: MediaKind, packets: &[&[u8]], start: FrameStart, batch: &mut SendBatch) -> usize {
        let now_us = self.now_us();
        self.fanout.media(stream_key, kind, packets, start, unix_ms(), &mut self.targets);
        let mut sent = 0;
        for t in &self.targets {
            let Some(v) = self.viewers.get_mut(&t.id).filter(|v| v.peer.state() == PeerState::Connected) else { continue };
            for p in packets {
                send_rtp(v, p, (*t).into(), now_us, false, batch);
            }
            sent += 1;
        }
        batch.flush();
        sent
    }

    /// Packets for one viewer only (its GOP replay), then its new video sequence offset; `live`
    /// lets it receive the stream's packets after them.
    pub fn inject(&mut self, id: u32, kind: MediaKind, packets: &[&[u8]], seq_offset: u16, live: bool, batch: &mut SendBatch) {
        let now_us = self.now_us();
        let Some(t) = self.fanout.inject(id, kind, packets, seq_offset, live) else { return };
        let Some(v) = self.viewers.get_mut(&id).filter(|v| v.peer.state() == PeerState::Connected) else { return };
        for p in packets {
            send_rtp(v, p, t.into(), now_us, false, batch);
        }
        batch.flush();
    }

    /// µs since the host started (the estimators' send and feedback times).
    fn now_us(&self) -> i64 {
        self.epoch.elapsed().as_micros() as i64
    }

    /// Every peer's state and counters.
    pub fn viewer_counters(&self) -> Vec<PeerSnapshot> {
        self.viewers
            .iter()
            .map(|(id, v)| PeerSnapshot { id: *id, state: v.peer.state(), counters: v.counters, layer: self.video_layer(*id), video_paused: self.fanout.video_paused(*id) })
            .collect()
    }

    /// Closes every viewer (server shutdown).
    pub fn close_all(&mut self, batch: &mut SendBatch) {
        let ids: Vec<u32> = self.viewers.keys().copied().collect();
        for id in ids {
            self.close_viewer(id, batch);
        }
    }
}

/// How a stream packet is written for one viewer: its payload type, and the offsets added to the
/// sequence number and timestamp (`sluice_rtp::egress::patch_into`, `add_timestamp_offset`).
#[derive(Debug, Clone, Copy, Default)]
struct Patch {
    payload_type: u8,
    seq_offset: u16,
    ts_offset: u32,
}

impl Patch {
    /// RTCP and packets kept as sent: nothing changed.
    const NONE: Patch = Patch { payload_type: 0, seq_offset: 0, ts_offset: 0 };
}

impl From<FanoutTarget> for Patch {
    fn from(t: FanoutTarget) -> Patch {
        Patch { payload_type: t.payload_type, seq_offset: t.seq_offset, ts_offset: t.ts_offset }
    }
}

impl From<NackResolution<'_>> for Patch {
    fn from(r: NackResolution<'_>) -> Patch {
        Patch { payload_type: r.payload_type, seq_offset: r.seq_offset, ts_offset: r.ts_offset }
    }
}

/// Bytes the transport-wide sequence number adds to a packet without extensions: the RFC 8285
/// one-byte header (`0xBEDE`, length 1) and one element (id/len, 2 bytes, 1 byte padding); to a
/// packet with a kept element (two-byte form), 4 (id, length, 2 bytes).
const TWCC_EXTENSION_LEN: usize = 8;

/// A kept extension element (`kept_extension`) made the viewer's: sent under `id`, or, without
/// one, the block removed (`X` cleared). Returns the new length and the payload offset (12
/// without a block). A packet not in that layout is left alone.
fn adapt_kept_extension(slot: &mut [u8], len: usize, id: Option<u8>) -> (usize, usize) {
    let Some((id_at, end)) = kept_extension::find_block(&slot[..len]) else { return (len, 12) };
    match id {
        Some(id) => {
            slot[id_at] = id;
            (len, end)
        }
        None => {
            slot.copy_within(end..len, 12);
            slot[0] &= !0x10;
            (len - (end - 12), 12)
        }
    }
}

/// Bytes RTX adds in front of the payload: the original sequence number (RFC 4588 §4).
const RTX_OSN_LEN: usize = 2;

/// Writes `packet` into the batch for viewer `v`: RTP is patched with the viewer's payload type
/// and sequence offset (`patch_into`); a `retransmission` to a viewer with RTX becomes an RTX
/// packet (RFC 4588 §4: its payload type, SSRC and sequence number, the OSN in front of the
/// payload); it gets the transport-wide sequence number extension (RFC 8285 §4.2) when `twcc` is
/// set and the packet has no extension yet (its number, send time `now_us` and size go to the
/// estimator), and is protected as SRTP (media that is not a `retransmission` counts in the
/// viewer's retransmission budget); RTCP (the viewers' sender reports) is protected as SRTCP. Returns whether
/// it was queued.
fn send_rtp(v: &mut Viewer, packet: &[u8], patch: Patch, now_us: i64, retransmission: bool, batch: &mut SendBatch) -> bool {
    let Patch { payload_type: pt, seq_offset, ts_offset } = patch;
    let Viewer { peer, counters, twcc, rtx, budget, kept_extension_id, .. } = v;
    let slot = batch.slot();
    if packet.len() + TWCC_EXTENSION_LEN + RTX_OSN_LEN + sluice_srtp::MAX_TRAILER_LEN > slot.len() {
        counters.send_failures += 1;
        return false;
    }
    let Ok(mut len) = patch_into(packet, slot, pt, seq_offset) else {
        counters.send_failures += 1;
        return false;
    };
    add_timestamp_offset(&mut slot[..len], ts_offset);
    let rtcp = is_rtcp(packet);
    // the payload offset: 12 (what the packetizers and the forwarder produce), or after a kept
    // element's block (two-byte form)
    let mut payload_at = 12;
    if !rtcp {
        (len, payload_at) = adapt_kept_extension(slot, len, *kept_extension_id);
    }
    // CC = 0 and no extension but a kept element's: the OSN (P = 0) and the transport-wide
    // sequence number go in at known places
    let known = !rtcp && packet[0] & 0x0F == 0 && (slot[0] & 0x10 == 0 || payload_at > 12);
    let plain = known && packet[0] & 0x20 == 0;
    if let Some(rtx) = rtx.as_mut().filter(|_| retransmission && plain) {
        slot.copy_within(payload_at..len, payload_at + RTX_OSN_LEN);
        slot.copy_within(2..4, payload_at);
        slot[1] = (slot[1] & 0x80) | rtx.payload_type;
        slot[2..4].copy_from_slice(&rtx.next.to_be_bytes());
        slot[8..12].copy_from_slice(&rtx.ssrc.to_be_bytes());
        rtx.next = rtx.next.wrapping_add(1);
        len += RTX_OSN_LEN;
    }
    let mut sequence = None;
    let protected = if is_rtcp(packet) {
        peer.protect_rtcp(slot, len)
    } else {
        if let Some(cc) = twcc.as_mut().filter(|_| known) {
            let [hi, lo] = cc.next.to_be_bytes();
            if slot[0] & 0x10 == 0 {
                // a plain 12-byte header: a one-byte-form block right after it
                slot.copy_within(12..len, 12 + TWCC_EXTENSION_LEN);
                slot[0] |= 0x10;
                slot[12..20].copy_from_slice(&[0xBE, 0xDE, 0, 1, (cc.id << 4) | 1, hi, lo, 0]);
                len += TWCC_EXTENSION_LEN;
            } else {
                // a kept element's two-byte-form block: one more word, this element in it
                let end = 16 + 4 * usize::from(u16::from_be_bytes([slot[14], slot[15]]));
                slot.copy_within(end..len, end + 4);
                slot[end..end + 4].copy_from_slice(&[cc.id, 2, hi, lo]);
                let words = u16::from_be_bytes([slot[14], slot[15]]) + 1;
                slot[14..16].copy_from_slice(&words.to_be_bytes());
                len += 4;
            }
            sequence = Some(cc.next);
            cc.next = cc.next.wrapping_add(1);
        }
        peer.protect_rtp(slot, len)
    };
    match protected {
        Ok((n, destination)) => {
            if let (Some(sequence), Some(cc)) = (sequence, twcc.as_mut()) {
                cc.bwe.sent(sequence, now_us, n as u32);
            }
            if !retransmission {
                budget.media(now_us, n);
            }
            batch.commit(n, destination);
            // RTP only: sender reports are not media (the node-datachannel transport counts alike)
            if !is_rtcp(packet) {
                counters.packets_sent += 1;
                counters.bytes_sent += n as u64;
            }
            true
        }
        Err(_) => {
            counters.send_failures += 1;
            false
        }
    }
}
