//! [`Fanout`]: streams, their subscribers, and what each subscriber is sent.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::layers::{LayerPolicy, LayerSelector, HEADROOM, RESUME_FACTOR};
use super::{sequence_number, RetransmissionRing, SenderClock, SequenceOffsets};
use crate::rtcp::is_rtcp;

/// A layer's bitrate is measured over windows this long, ms.
const RATE_WINDOW_MS: f64 = 1000.0;
/// A layer whose last window ended this long ago has no bitrate (it stopped flowing), ms.
const RATE_STALE_MS: f64 = 2500.0;
/// While a layer switch waits for the layer's keyframe, it is asked for again this often, ms.
pub const KEYFRAME_RETRY_MS: f64 = 1000.0;

/// Audio rings are this fraction of the video rings (a frame of audio is one packet, a frame of
/// video several).
const AUDIO_RING_SHARE: usize = 4;

/// A batch later than this (source arrival → fan-out, ms) puts its stream behind.
pub const MAX_LAG_MS: f64 = 1000.0;
/// A stream that was behind resumes (at the next keyframe) once batches arrive this fresh, ms.
pub const RESUME_LAG_MS: f64 = 150.0;

/// What the first packet of a video batch starts: where a subscriber waiting to move onto the
/// stream may do so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStart {
    /// Nothing of note (a delta frame, or the middle of one).
    Delta,
    /// A switching point of an SVC operating point (`crate::svc`): a subscriber of a lower
    /// operating point of the same scalable stream may move up to this one here.
    SwitchPoint,
    /// A keyframe: any subscriber may start here.
    Keyframe,
}

/// An up-switch among a scalable stream's operating points waits this long for a switching
/// point of its target when that target showed one within this time, before asking for a
/// keyframe, ms.
pub const SWITCH_POINT_WAIT_MS: f64 = 1000.0;

/// Video or audio: each subscriber has one payload type and one sequence offset per kind; both
/// are kept for retransmission (audio in a smaller ring: a plain RTP receiver such as a relay
/// link NACKs AAC too; WebRTC receivers NACK video only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// The video track.
    Video,
    /// The audio track.
    Audio,
}

/// A subscriber of one stream, with the payload types it negotiated (`None`: it does not take
/// that kind).
#[derive(Debug, Clone)]
pub struct SubscriberConfig {
    /// The stream it watches (the feed's key, e.g. `live/cam`).
    pub stream_key: String,
    /// Its video payload type (7 bits).
    pub video_payload_type: Option<u8>,
    /// Its audio payload type (7 bits).
    pub audio_payload_type: Option<u8>,
    /// It negotiated the Dependency Descriptor extension (it is sent the descriptors a scalable
    /// stream keeps; see [`Fanout::set_layers`]).
    pub takes_descriptor: bool,
}

/// One subscriber to send a batch to: write each packet with
/// [`patch_into`](super::patch_into)`(packet, out, payload_type, seq_offset)`, then add
/// `ts_offset` to its timestamp ([`add_timestamp_offset`](super::add_timestamp_offset)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutTarget {
    /// The subscriber.
    pub id: u32,
    /// Its payload type for the batch's kind.
    pub payload_type: u8,
    /// Added to each packet's sequence number (the subscriber's offset for the batch's kind).
    pub seq_offset: u16,
    /// Added to each packet's RTP timestamp (video after a simulcast layer switch; else 0).
    pub ts_offset: u32,
}

/// A NACKed sequence number found again: send `packet` patched with `payload_type`,
/// `seq_offset` and `ts_offset` (0 for a packet injected for this subscriber, which is kept as
/// sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackResolution<'a> {
    /// The packet as kept.
    pub packet: &'a [u8],
    /// The subscriber's video payload type.
    pub payload_type: u8,
    /// The offset it went out with.
    pub seq_offset: u16,
    /// The timestamp offset it went out with.
    pub ts_offset: u32,
}

/// What [`Fanout::pace`] decided for a batch that arrived `lag_ms` after its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send it.
    Send,
    /// The stream just fell behind (log it): skip this batch.
    FellBehind,
    /// The stream is still behind: skip this batch.
    Skip,
}

/// Counters since the fan-out was made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FanoutCounters {
    /// Times a stream fell behind.
    pub lag_events: u64,
    /// Video packets skipped while behind (per stream, not per subscriber).
    pub packets_skipped: u64,
}

#[derive(Debug)]
struct Subscriber {
    stream_key: String,
    video_pt: Option<u8>,
    audio_pt: Option<u8>,
    /// See [`SubscriberConfig::takes_descriptor`].
    takes_descriptor: bool,
    /// Receives live packets (after its GOP replay).
    live: bool,
    offsets: SequenceOffsets,
    /// The audio sequence offset (audio injected for it alone shifts it; no history: an audio
    /// NACK resolves through the current one, or the injected ring).
    audio_offset: u16,
    /// Packets injected for it alone, as sent (subscriber sequence numbers): video, audio.
    /// Released once a ring's length of live packets of that kind went out after them (a NACK
    /// that old would not find a live packet in the stream's ring either).
    injected: RetransmissionRing,
    injected_audio: RetransmissionRing,
    /// Live packets sent per kind (video, audio) since the last injection of that kind.
    live_since_injected: [usize; 2],
    /// Skipping live video until the next keyframe (its stream fell behind).
    await_keyframe: bool,
    /// Video packets skipped meanwhile: its offset is lowered by them on resume, so the skip is
    /// not announced as loss.
    skipped: u16,
    /// RTP packets and payload octets sent to it per kind (video, audio), for its sender
    /// reports (RFC 3550 §6.4.1: the counts of what this receiver was sent).
    sent: [(u32, u32); 2],
    /// The stream its video comes from: its own, or one of its simulcast layers.
    video_key: String,
    /// The layer it moves to at that layer's next keyframe, and when a keyframe was last asked
    /// for it (ms).
    switch_to: Option<String>,
    switch_asked_ms: f64,
    /// Added to its video timestamps since the last layer switch (its timeline continues).
    ts_offset: u32,
    /// Before the last switch: the stream, the first sequence number after the switch (its
    /// numbering) and the timestamp offset then (NACKs from before resolve there).
    previous: Option<(String, u16, u32)>,
    /// The last live video packet sent to it: its sequence number and timestamp (its numbering
    /// and timeline) and when (ms).
    last_video: Option<(u16, u32, f64)>,
    /// Its layer selection (simulcast streams only).
    selector: LayerSelector,
    /// Its video is paused by the layer policy's floor (audio only): its video batches are
    /// skipped (counted in `skipped`, so its numbering resumes without a hole).
    video_paused: bool,
}

/// A simulcast layer's bitrate, measured over [`RATE_WINDOW_MS`] windows.
#[derive(Debug, Default, Clone, Copy)]
struct LayerRate {
    /// When the current window started (its first packet), ms.
    window_start_ms: Option<f64>,
    window_bytes: u64,
    /// The last complete window's bitrate, and when it ended.
    bps: f64,
    at_ms: f64,
}

impl LayerRate {
    fn add(&mut self, bytes: usize, now_ms: f64) {
        let start = *self.window_start_ms.get_or_insert(now_ms);
        let elapsed = now_ms - start;
        if elapsed >= RATE_WINDOW_MS {
            self.bps = self.window_bytes as f64 * 8000.0 / elapsed;
            self.at_ms = now_ms;
            self.window_start_ms = Some(now_ms);
            self.window_bytes = 0;
        }
        self.window_bytes += bytes as u64;
    }

    /// The bitrate at `now_ms`: 0 once nothing came for [`RATE_STALE_MS`].
    fn bps(&self, now_ms: f64) -> f64 {
        let last = self.window_start_ms.map_or(f64::NEG_INFINITY, |s| s.max(self.at_ms));
        if now_ms - last > RATE_STALE_MS {
            0.0
        } else {
            self.bps
        }
    }
}

#[derive(Debug)]
struct Stream {
    subscribers: Vec<u32>,
    /// Stream sequence number → video packet as the feed sent it.
    ring: RetransmissionRing,
    /// The same for audio.
    audio_ring: RetransmissionRing,
    behind: bool,
    /// The clocks of its video and audio, for sender reports.
    clocks: [SenderClock; 2],
}

/// What the fan-out follows of each layer of a source with layers, subscribed or not.
#[derive(Debug, Default, Clone, Copy)]
struct LayerState {
    /// Its video bitrate.
    rate: LayerRate,
    /// When it last started a switching point that was no keyframe (ms).
    switch_point_ms: Option<f64>,
    /// Its last video batch ended a picture (the marker bit): the next one starts one.
    at_picture_start: bool,
}

fn index(kind: MediaKind) -> usize {
    match kind {
        MediaKind::Video => 0,
        MediaKind::Audio => 1,
    }
}

/// RTP packets and their payload octets (past the 12-byte header) in `packets`.
fn counts(packets: &[&[u8]]) -> (u32, u32) {
    packets.iter().filter(|p| !is_rtcp(p) && p.len() >= 12).fold((0, 0), |(n, o), p| (n + 1, o + (p.len() - 12) as u32))
}

/// A sender report for one subscriber: send `packet` (RTCP) to subscriber `id` on its `kind` track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberReport {
    /// The subscriber.
    pub id: u32,
    /// Which of its tracks the report is about.
    pub kind: MediaKind,
    /// The SR (28 bytes).
    pub packet: Vec<u8>,
}

/// The fan-out of streams to subscribers, sans-IO: the one place where a stream packet
/// becomes one packet per subscriber.
///
/// - A stream's packets come once per frame ([`media`](Self::media)): video RTP is kept in the
///   stream's [`RetransmissionRing`], and every live subscriber is a [`FanoutTarget`] with its
///   payload type and (video) sequence offset. RTCP in a batch (the feed's sender reports) goes
///   to each target as is.
/// - Packets for one subscriber alone ([`inject`](Self::inject): a GOP replay at join or after
///   a PLI) are kept in its own ring and shift its numbering: from then on its live packets carry
///   the offset given.
/// - A NACKed subscriber sequence number ([`resolve_nack`](Self::resolve_nack)) is looked up in
///   its injected ring, else in the stream ring through the offset in force when it was sent;
///   audio the same way ([`resolve_audio_nack`](Self::resolve_audio_nack); a NACK's media SSRC
///   tells the kind: [`kind_of_ssrc`](Self::kind_of_ssrc)).
/// - Sender reports ([`sender_reports`](Self::sender_reports), RFC 3550 §6.4.1): every stream
///   track has a [`SenderClock`] anchored on the packets sent (or on a publisher's report,
///   [`anchor`](Self::anchor)); each live subscriber gets reports with its own counts.
/// - Lag ([`pace`](Self::pace)): a stream whose batches arrive more than [`MAX_LAG_MS`] late
///   skips batches until they arrive within [`RESUME_LAG_MS`]; each live subscriber then resumes
///   at the next keyframe with its numbering kept continuous.
#[derive(Debug)]
pub struct Fanout {
    streams: HashMap<String, Stream>,
    subscribers: HashMap<u32, Subscriber>,
    ring_capacity: usize,
    injected_capacity: usize,
    counters: FanoutCounters,
    /// Simulcast: a source's stream key → its layers' keys, lowest first (the key itself last:
    /// the top layer).
    layers: HashMap<String, Vec<String>>,
    /// The sources whose layers are operating points of one scalable stream (SVC): a
    /// subscriber moves down among them at the next picture, not the next keyframe.
    scalable: HashSet<String>,
    /// The highest layer of a source a subscriber without the Dependency Descriptor decodes
    /// (an AV1 SVC stream's lowest spatial layer).
    without_descriptor: HashMap<String, usize>,
    /// Each layer key's bitrate, switching points and picture starts.
    layer_states: HashMap<String, LayerState>,
    /// A simulcast stream's audio bitrate (for the policy's audio first).
    audio_rates: HashMap<String, LayerRate>,
    policy: LayerPolicy,
    /// Policies for some streams (an SFU room's), in place of `policy`.
    stream_policies: HashMap<String, LayerPolicy>,
}

fn new_stream(ring_capacity: usize) -> Stream {
    Stream {
        subscribers: Vec::new(),
        ring: RetransmissionRing::new(ring_capacity),
        audio_ring: RetransmissionRing::new(ring_capacity / AUDIO_RING_SHARE),
        behind: false,
        clocks: [SenderClock::new(90_000), SenderClock::new(48_000)],
    }
}

/// Where layer `to` lies from layer `from` among the operating points of `stream_key`'s
/// scalable stream (see [`Fanout::set_layers`]): `Less` below it (moved to at the next picture,
/// without a keyframe), `Greater` above it (moved to at its next switching point or keyframe).
/// None when they are no operating points of one scalable stream.
fn scalable_step(layers: &HashMap<String, Vec<String>>, scalable: &HashSet<String>, stream_key: &str, from: &str, to: &str) -> Option<Ordering> {
    let layers = layers.get(stream_key).filter(|_| scalable.contains(stream_key))?;
    let at = |key: &str| layers.iter().position(|k| k == key);
    Some(at(to)?.cmp(&at(from)?))
}

/// Whether a subscriber of `stream_key` moves from layer `from` to `to` at the next picture,
/// without a keyframe: down among the operating points of a scalable stream.
fn moves_down_at_picture(layers: &HashMap<String, Vec<String>>, scalable: &HashSet<String>, stream_key: &str, from: &str, to: &str) -> bool {
    scalable_step(layers, scalable, stream_key, from, to) == Some(Ordering::Less)
}

/// Whether subscriber sequence number `seq` comes before `from` (RFC 1982 serial arithmetic).
fn before(seq: u16, from: u16) -> bool {
    seq.wrapping_sub(from) >= 0x8000
}

impl Fanout {
    /// `ring_capacity`: video packets kept per stream; `injected_capacity`: injected packets kept
    /// per subscriber (a 2 s GOP at 2.5 Mbit/s is ~550), until as many live packets followed
    /// them. Both round up to powers of two (audio rings: a quarter of each).
    pub fn new(ring_capacity: usize, injected_capacity: usize) -> Fanout {
        Fanout {
            streams: HashMap::new(),
            subscribers: HashMap::new(),
            ring_capacity,
            injected_capacity,
            counters: FanoutCounters::default(),
            layers: HashMap::new(),
            layer_states: HashMap::new(),
            audio_rates: HashMap::new(),
            policy: LayerPolicy::default(),
            stream_policies: HashMap::new(),
            scalable: HashSet::new(),
            without_descriptor: HashMap::new(),
        }
    }

    /// Subscribers known.
    pub fn len(&self) -> usize {
        self.subscribers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }

    /// Lag events and skipped packets so far.
    pub fn counters(&self) -> FanoutCounters {
        self.counters
    }

    /// Subscribers of `stream_key`.
    pub fn subscribers_of(&self, stream_key: &str) -> usize {
        self.streams.get(stream_key).map_or(0, |s| s.subscribers.len())
    }

    /// Adds a subscriber (not live until an [`inject`](Self::inject) says so). Returns false,
    /// changing nothing, when `id` is taken.
    pub fn add(&mut self, id: u32, config: SubscriberConfig) -> bool {
        if self.subscribers.contains_key(&id) {
            return false;
        }
        let ring_capacity = self.ring_capacity;
        self.streams.entry(config.stream_key.clone()).or_insert_with(|| new_stream(ring_capacity)).subscribers.push(id);
        self.subscribers.insert(
            id,
            Subscriber {
                video_key: config.stream_key.clone(),
                switch_to: None,
                switch_asked_ms: 0.0,
                ts_offset: 0,
                previous: None,
                last_video: None,
                selector: LayerSelector::default(),
                video_paused: false,
                stream_key: config.stream_key,
                video_pt: config.video_payload_type.map(|pt| pt & 0x7F),
                takes_descriptor: config.takes_descriptor,
                audio_pt: config.audio_payload_type.map(|pt| pt & 0x7F),
                live: false,
                offsets: SequenceOffsets::default(),
                audio_offset: 0,
                injected: RetransmissionRing::new(self.injected_capacity),
                injected_audio: RetransmissionRing::new(self.injected_capacity / AUDIO_RING_SHARE),
                live_since_injected: [0; 2],
                await_keyframe: false,
                skipped: 0,
                sent: [(0, 0); 2],
            },
        );
        true
    }

    /// Removes a subscriber (a stream without subscribers is forgotten with its ring). Returns
    /// whether it was there.
    pub fn remove(&mut self, id: u32) -> bool {
        let Some(sub) = self.subscribers.remove(&id) else { return false };
        for key in [Some(&sub.stream_key), Some(&sub.video_key), sub.switch_to.as_ref()].into_iter().flatten() {
            self.leave(key, id);
        }
        true
    }

    /// Takes `id` off `key`'s list (a stream without subscribers is forgotten with its ring).
    fn leave(&mut self, key: &str, id: u32) {
        if let Some(s) = self.streams.get_mut(key) {
            s.subscribers.retain(|x| *x != id);
            if s.subscribers.is_empty() {
                self.streams.remove(key);
            }
        }
    }

    /// Puts `id` on `key`'s list (once).
    fn join(&mut self, key: &str, id: u32) {
        let ring_capacity = self.ring_capacity;
        let s = self.streams.entry(key.to_owned()).or_insert_with(|| new_stream(ring_capacity));
        if !s.subscribers.contains(&id) {
            s.subscribers.push(id);
        }
    }

    /// Declares `stream_key`'s simulcast layers (RFC 8853): the streams `layers` (lowest
    /// first) carry the same source's video in lower qualities, `stream_key` itself being the
    /// top layer (added last when not listed). Empty: no simulcast. Subscribers of the stream
    /// can then be switched among them ([`switch_video`](Self::switch_video),
    /// [`select_layers`](Self::select_layers)); their audio stays on `stream_key`.
    ///
    /// `scalable`: the layers are operating points of one scalable stream (VP9 or AV1 SVC: each
    /// lower one a subset of the pictures of the one above it), so a move to a lower one
    /// happens at its next picture start without a keyframe (the pictures it keeps reference
    /// only pictures the subscriber was sent); a move up happens at the target's next
    /// switching point ([`FrameStart::SwitchPoint`]) or keyframe, and asks for a keyframe only
    /// when the target showed no switching point for [`SWITCH_POINT_WAIT_MS`].
    pub fn set_layers(&mut self, stream_key: &str, mut layers: Vec<String>, scalable: bool) {
        self.scalable.remove(stream_key);
        self.without_descriptor.remove(stream_key);
        layers.retain(|k| k != stream_key);
        if !layers.is_empty() {
            layers.push(stream_key.to_owned());
        }
        // what is followed of a layer declared again (its rate...) is kept
        if let Some(old) = self.layers.remove(stream_key) {
            for key in old.iter().filter(|k| !layers.contains(k)) {
                self.layer_states.remove(key);
            }
        }
        if layers.is_empty() {
            self.audio_rates.remove(stream_key);
            return;
        }
        for key in &layers {
            self.layer_states.entry(key.clone()).or_default();
        }
        self.audio_rates.entry(stream_key.to_owned()).or_default();
        self.layers.insert(stream_key.to_owned(), layers);
        if scalable {
            self.scalable.insert(stream_key.to_owned());
        }
    }

    /// The highest layer of `stream_key` (index, lowest 0) its subscribers without the
    /// Dependency Descriptor ([`SubscriberConfig::takes_descriptor`]) can decode (`None`: all):
    /// an AV1 SVC stream's spatial layers above the lowest need the descriptor at the
    /// receiver. Such subscribers are held there as by a policy's `max_layer`. Reset by
    /// [`set_layers`](Self::set_layers).
    pub fn set_layers_without_descriptor(&mut self, stream_key: &str, max_layer: Option<usize>) {
        match max_layer {
            Some(m) => self.without_descriptor.insert(stream_key.to_owned(), m),
            None => self.without_descriptor.remove(stream_key),
        };
    }



    /// `stream_key`'s layers (lowest first, itself last), empty without simulcast.
    pub fn layers(&self, stream_key: &str) -> &[String] {
        self.layers.get(stream_key).map_or(&[], Vec::as_slice)
    }

    /// The bitrate of each of `stream_key`'s layers at `now_ms`, bit/s (lowest first; 0: not
    /// flowing).
    pub fn layer_rates(&self, stream_key: &str, now_ms: f64) -> Vec<f64> {
        self.layers(stream_key).iter().map(|k| self.layer_states.get(k).map_or(0.0, |l| l.rate.bps(now_ms))).collect()
    }

    /// Where subscriber `id`'s video comes from now, and the layer it moves to at that layer's
    /// next keyframe, if any.
    pub fn video_layer(&self, id: u32) -> Option<(&str, Option<&str>)> {
        let sub = self.subscribers.get(&id)?;
        Some((sub.video_key.as_str(), sub.switch_to.as_deref()))
    }

    /// Moves subscriber `id`'s video to `key` (its stream or one of its layers) at that
    /// stream's next keyframe; the caller asks the source for one. Returns whether a switch is
    /// now pending (false: already there, or `key` is no layer of its stream).
    pub fn switch_video(&mut self, id: u32, key: &str) -> bool {
        let Some(sub) = self.subscribers.get(&id) else { return false };
        if !self.layers(&sub.stream_key).iter().any(|k| k == key) {
            return false;
        }
        let pending = sub.switch_to.clone();
        if sub.video_key == key {
            if let Some(p) = pending {
                self.subscribers.get_mut(&id).expect("checked").switch_to = None;
                if p != self.subscribers[&id].stream_key {
                    self.leave(&p, id);
                }
            }
            return false;
        }
        if pending.as_deref() == Some(key) {
            return true;
        }
        if let Some(p) = pending.filter(|p| *p != self.subscribers[&id].stream_key) {
            self.leave(&p, id);
        }
        self.join(key, id);
        self.subscribers.get_mut(&id).expect("checked").switch_to = Some(key.to_owned());
        true
    }

    /// How every subscriber's layer is chosen (`webrtc.simulcast`: highest layer, audio first,
    /// the floor under which video pauses).
    pub fn set_layer_policy(&mut self, policy: LayerPolicy) {
        self.policy = policy;
    }

    /// How the layers of `stream_key`'s subscribers are chosen, in place of the policy of
    /// [`set_layer_policy`](Self::set_layer_policy) (an SFU room's own); `None`: that one again.
    pub fn set_stream_policy(&mut self, stream_key: &str, policy: Option<LayerPolicy>) {
        match policy {
            Some(p) => self.stream_policies.insert(stream_key.to_owned(), p),
            None => self.stream_policies.remove(stream_key),
        };
    }

    /// The policy `stream_key`'s subscribers follow.
    pub fn policy_of(&self, stream_key: &str) -> LayerPolicy {
        self.stream_policies.get(stream_key).copied().unwrap_or(self.policy)
    }

    /// Whether the layer policy paused subscriber `id`'s video (audio only).
    pub fn video_paused(&self, id: u32) -> bool {
        self.subscribers.get(&id).is_some_and(|s| s.video_paused)
    }

    /// Pins subscriber `id` to layer `index` of its stream (lowest 0), or unpins it (`None`):
    /// [`select_layers`](Self::select_layers) then keeps it there while that layer flows.
    pub fn pin_layer(&mut self, id: u32, index: Option<usize>) {
        if let Some(sub) = self.subscribers.get_mut(&id) {
            sub.selector.pinned = index;
        }
    }

    /// Chooses subscriber `id`'s layer from its bandwidth estimate (`None`: none) at `now_ms`
    /// (see `super::layers`). Returns the layer key to ask for a keyframe when a switch became
    /// pending (and again every [`KEYFRAME_RETRY_MS`] while it is: a request can be lost or
    /// rate-limited), and the padding rate to probe with (bit/s in total, media included) when a
    /// probe should run.
    pub fn select_layers(&mut self, id: u32, estimate_bps: Option<f64>, now_ms: f64) -> (Option<String>, Option<f64>) {
        // fields borrowed apart (the layer list is not copied per subscriber): a key is cloned
        // only when a switch or a keyframe request needs it
        let Some(sub) = self.subscribers.get_mut(&id).filter(|s| s.live) else { return (None, None) };
        let Some(layers) = self.layers.get(&sub.stream_key) else { return (None, None) };
        let rates: Vec<f64> = layers.iter().map(|k| self.layer_states.get(k).map_or(0.0, |l| l.rate.bps(now_ms))).collect();
        let audio_bps = self.audio_rates.get(&sub.stream_key).map_or(0.0, |r| r.bps(now_ms));
        let mut policy = self.stream_policies.get(&sub.stream_key).copied().unwrap_or(self.policy);
        if let Some(&cap) = self.without_descriptor.get(&sub.stream_key).filter(|_| !sub.takes_descriptor) {
            policy.max_layer = Some(policy.max_layer.map_or(cap, |m| m.min(cap)));
        }
        let audio_first = if policy.audio_first { audio_bps } else { 0.0 };
        let current_key = sub.switch_to.as_deref().unwrap_or(&sub.video_key);
        let current = layers.iter().position(|k| k == current_key).unwrap_or(layers.len() - 1);
        let choice = sub.selector.choose_with(current, &rates, estimate_bps, audio_bps, &policy, now_ms);
        if choice.paused {
            let lowest = rates.iter().enumerate().position(|(i, &r)| r > 0.0 && policy.max_layer.is_none_or(|m| i <= m));
            let probe = lowest.and_then(|low| {
                let aim = (rates[low] * HEADROOM).max(policy.pause_below_bps * RESUME_FACTOR) + audio_first;
                sub.selector.probe_for(low, aim, estimate_bps, now_ms)
            });
            let mut left = None;
            if !sub.video_paused {
                sub.video_paused = true;
                left = sub.switch_to.take().filter(|p| *p != sub.stream_key && *p != sub.video_key);
            }
            if let Some(pending) = left {
                self.leave(&pending, id);
            }
            return (None, probe);
        }
        if sub.video_paused {
            // resumed: at the chosen layer's next keyframe, the numbering closed over the pause
            sub.video_paused = false;
            if layers[choice.layer] == sub.video_key {
                sub.await_keyframe = true;
                sub.switch_asked_ms = now_ms;
                return (Some(sub.video_key.clone()), None);
            }
        }
        let next = ((current + 1)..rates.len()).find(|&i| rates[i] > 0.0 && policy.max_layer.is_none_or(|m| i <= m));
        let probe = match next {
            Some(next) => sub.selector.probe_for(next, rates[next] * HEADROOM + audio_first, estimate_bps, now_ms),
            None => sub.selector.probe_for(usize::MAX, f64::INFINITY, estimate_bps, now_ms),
        };
        let target = (choice.layer != current).then(|| layers[choice.layer].clone());
        if let Some(target) = target {
            if self.switch_video(id, &target) {
                let sub = self.subscribers.get_mut(&id).expect("checked");
                sub.switch_asked_ms = now_ms;
                // down among operating points: at the next picture; up to one that shows
                // switching points: at its next one (a keyframe is asked for only if none comes)
                match scalable_step(&self.layers, &self.scalable, &sub.stream_key, &sub.video_key, &target) {
                    Some(Ordering::Less) => return (None, probe),
                    Some(Ordering::Greater) if self.layer_states.get(&target).and_then(|l| l.switch_point_ms).is_some_and(|at| now_ms - at <= SWITCH_POINT_WAIT_MS) => return (None, probe),
                    _ => return (Some(target), None),
                }
            }
        }
        let sub = self.subscribers.get_mut(&id).expect("checked");
        let down = sub.switch_to.as_deref().is_some_and(|to| moves_down_at_picture(&self.layers, &self.scalable, &sub.stream_key, &sub.video_key, to));
        if let Some(pending) = sub.switch_to.clone().filter(|_| !down && now_ms - sub.switch_asked_ms >= KEYFRAME_RETRY_MS) {
            sub.switch_asked_ms = now_ms;
            return (Some(pending), None);
        }
        (None, probe)
    }

    /// Whether any stream has simulcast layers.
    pub fn has_layers(&self) -> bool {
        !self.layers.is_empty()
    }

    /// Subscriber `id`'s video packet `back` packets before the last one it was sent, as a
    /// NACK would find it (a probe's padding copies these).
    pub fn recent_video(&self, id: u32, back: u16) -> Option<NackResolution<'_>> {
        let (seq, _, _) = self.subscribers.get(&id)?.last_video?;
        self.resolve_nack(id, seq.wrapping_sub(back))
    }

    /// Ends subscriber `id`'s probe (its path showed congestion).
    pub fn abort_probe(&mut self, id: u32, now_ms: f64) {
        if let Some(sub) = self.subscribers.get_mut(&id) {
            sub.selector.abort_probe(now_ms);
        }
    }

    /// The lag policy for one batch of `stream_key` that arrived `lag_ms` after its source.
    /// When it says skip, call [`skip`](Self::skip) with the batch's video packets.
    pub fn pace(&mut self, stream_key: &str, lag_ms: f64) -> Pace {
        let Some(s) = self.streams.get_mut(stream_key) else { return Pace::Skip };
        if !s.behind {
            if lag_ms <= MAX_LAG_MS {
                return Pace::Send;
            }
            s.behind = true;
            self.counters.lag_events += 1;
            return Pace::FellBehind;
        }
        if lag_ms > RESUME_LAG_MS {
            return Pace::Skip;
        }
        s.behind = false;
        for id in &s.subscribers {
            if let Some(sub) = self.subscribers.get_mut(id) {
                sub.await_keyframe |= sub.live;
            }
        }
        Pace::Send
    }

    /// Counts a skipped video batch (its RTP packets) against every live subscriber of `stream_key`.
    pub fn skip(&mut self, stream_key: &str, packets: &[&[u8]]) {
        let Some(s) = self.streams.get(stream_key) else { return };
        let n = packets.iter().filter(|p| !is_rtcp(p)).count();
        self.counters.packets_skipped += n as u64;
        for id in &s.subscribers {
            if let Some(sub) = self.subscribers.get_mut(id).filter(|sub| sub.live && sub.video_key == stream_key) {
                sub.skipped = sub.skipped.wrapping_add(n as u16);
            }
        }
    }

    /// One batch of a stream's packets (one frame), sent at Unix `now_ms`: video RTP goes into
    /// the stream's ring, the track's clock follows its timestamps; `targets` is cleared and
    /// filled with the live subscribers to send it to (their counts include it). `start`: what
    /// the batch starts (subscribers waiting for a keyframe resume at one; a subscriber moving
    /// up among operating points moves at a switching point too).
    pub fn media(&mut self, stream_key: &str, kind: MediaKind, packets: &[&[u8]], start: FrameStart, now_ms: f64, targets: &mut Vec<FanoutTarget>) {
        targets.clear();
        let keyframe = start == FrameStart::Keyframe;
        let bytes = packets.iter().map(|p| p.len()).sum();
        // a scalable stream's subscribers move down at a picture start
        let mut at_picture_start = false;
        match kind {
            MediaKind::Video => {
                if let Some(layer) = self.layer_states.get_mut(stream_key) {
                    layer.rate.add(bytes, now_ms);
                    if start == FrameStart::SwitchPoint {
                        layer.switch_point_ms = Some(now_ms);
                    }
                    at_picture_start = layer.at_picture_start;
                    if let Some(last) = packets.iter().rev().find(|p| !is_rtcp(p) && p.len() >= 12) {
                        layer.at_picture_start = last[1] & 0x80 != 0;
                    }
                }
            }
            MediaKind::Audio => {
                if let Some(rate) = self.audio_rates.get_mut(stream_key) {
                    rate.add(bytes, now_ms);
                }
            }
        }
        let Some(s) = self.streams.get_mut(stream_key) else { return };
        for p in packets.iter().filter(|p| !is_rtcp(p)) {
            s.clocks[index(kind)].sent(p, now_ms);
            if kind == MediaKind::Audio {
                s.audio_ring.store(p);
            }
        }
        let (count, octets) = counts(packets);
        let mut first_rtp = None;
        if kind == MediaKind::Video {
            for p in packets.iter().filter(|p| !is_rtcp(p)) {
                if s.ring.store(p) && first_rtp.is_none() {
                    first_rtp = Some(sequence_number(p));
                }
            }
        }
        let rtp_packets = packets.iter().filter(|p| !is_rtcp(p)).count() as u16;
        let first_ts = packets.iter().find(|p| !is_rtcp(p) && p.len() >= 12).map(|p| u32::from_be_bytes([p[4], p[5], p[6], p[7]]));
        let last_rtp = packets.iter().rev().find(|p| !is_rtcp(p) && p.len() >= 12).map(|p| (sequence_number(p), u32::from_be_bytes([p[4], p[5], p[6], p[7]])));
        let mut left = Vec::new();
        for id in &s.subscribers {
            let Some(sub) = self.subscribers.get_mut(id) else { continue };
            if !sub.live {
                continue;
            }
            match kind {
                MediaKind::Audio if sub.stream_key != stream_key => continue,
                MediaKind::Video if sub.video_paused => {
                    // the layer policy paused its video: counted, so it resumes without a hole
                    if sub.video_key == stream_key {
                        sub.skipped = sub.skipped.wrapping_add(rtp_packets);
                    }
                    continue;
                }
                MediaKind::Video if sub.switch_to.as_deref() == Some(stream_key) => {
                    // a simulcast layer switch, at this layer's keyframe (among a scalable
                    // stream's operating points: down at its next picture, up at its next
                    // switching point): the numbering and the timeline go on from the last
                    // packet sent
                    let step = scalable_step(&self.layers, &self.scalable, &sub.stream_key, &sub.video_key, stream_key);
                    let now = match step {
                        Some(Ordering::Less) => at_picture_start,
                        Some(Ordering::Greater) => start == FrameStart::SwitchPoint,
                        _ => false,
                    };
                    let (Some(first), Some(first_ts), true) = (first_rtp, first_ts, keyframe || now) else { continue };
                    let (offset, ts_offset) = match sub.last_video {
                        Some((seq, ts, at_ms)) => {
                            let elapsed = ((now_ms - at_ms).clamp(1.0, 10_000.0) * 90.0) as u32;
                            (seq.wrapping_add(1).wrapping_sub(first), ts.wrapping_add(elapsed).wrapping_sub(first_ts))
                        }
                        None => (sub.offsets.current(), 0),
                    };
                    let from = first.wrapping_add(offset);
                    sub.previous = Some((std::mem::replace(&mut sub.video_key, stream_key.to_owned()), from, sub.ts_offset));
                    sub.switch_to = None;
                    sub.ts_offset = ts_offset;
                    sub.offsets.set(offset, Some(from));
                    sub.await_keyframe = false;
                    sub.skipped = 0;
                    let old = &sub.previous.as_ref().expect("set").0;
                    if *old != sub.stream_key {
                        left.push((old.clone(), *id));
                    }
                }
                MediaKind::Video if sub.video_key != stream_key => continue,
                _ => {}
            }
            let pt = match kind {
                MediaKind::Video => sub.video_pt,
                MediaKind::Audio => sub.audio_pt,
            };
            let Some(payload_type) = pt else { continue };
            if sub.await_keyframe {
                if kind == MediaKind::Audio {
                    continue;
                }
                let Some(first) = first_rtp.filter(|_| keyframe) else {
                    sub.skipped = sub.skipped.wrapping_add(rtp_packets);
                    continue;
                };
                sub.await_keyframe = false;
                let offset = sub.offsets.current().wrapping_sub(sub.skipped);
                sub.offsets.set(offset, Some(first.wrapping_add(offset)));
                sub.skipped = 0;
            }
            let seq_offset = if kind == MediaKind::Video { sub.offsets.current() } else { sub.audio_offset };
            let ts_offset = if kind == MediaKind::Video { sub.ts_offset } else { 0 };
            if let (MediaKind::Video, Some((seq, ts))) = (kind, last_rtp) {
                sub.last_video = Some((seq.wrapping_add(seq_offset), ts.wrapping_add(ts_offset), now_ms));
            }
            let sent = &mut sub.sent[index(kind)];
            *sent = (sent.0.wrapping_add(count), sent.1.wrapping_add(octets));
            let injected = match kind {
                MediaKind::Video => &mut sub.injected,
                MediaKind::Audio => &mut sub.injected_audio,
            };
            if !injected.is_released() {
                let since = &mut sub.live_since_injected[index(kind)];
                *since += usize::from(rtp_packets);
                if *since >= injected.capacity() {
                    injected.release();
                }
            }
            targets.push(FanoutTarget { id: *id, payload_type, seq_offset, ts_offset });
        }
        for (key, id) in left {
            self.leave(&key, id);
        }
    }

    /// Packets for subscriber `id` alone (its GOP replay), then its new sequence offset for
    /// `kind` (the injected packets carry its numbering; its live packets of that kind go on
    /// after them with `seq_offset` added); `live` lets it receive the stream's batches from now on. Returns the target to send
    /// `packets` to (offset 0: they carry the subscriber's numbering already), or `None` when
    /// there is no such subscriber or it takes no `kind`.
    pub fn inject(&mut self, id: u32, kind: MediaKind, packets: &[&[u8]], seq_offset: u16, live: bool) -> Option<FanoutTarget> {
        let sub = self.subscribers.get_mut(&id)?;
        if let (Some(s), Some(p)) = (self.streams.get_mut(&sub.stream_key), packets.iter().find(|p| !is_rtcp(p))) {
            s.clocks[index(kind)].learn_ssrc(p);
        }
        let mut last = None;
        sub.live_since_injected[index(kind)] = 0;
        if kind == MediaKind::Audio {
            sub.audio_offset = seq_offset;
            for p in packets.iter().filter(|p| !is_rtcp(p)) {
                sub.injected_audio.store(p);
            }
        } else {
            for p in packets.iter().filter(|p| !is_rtcp(p)) {
                if sub.injected.store(p) {
                    last = Some(sequence_number(p));
                }
            }
        }
        match last {
            Some(last) => sub.offsets.set(seq_offset, Some(last.wrapping_add(1))),
            None if kind == MediaKind::Video && seq_offset != sub.offsets.current() => sub.offsets.set(seq_offset, None),
            None => {}
        }
        sub.live |= live;
        let (count, octets) = counts(packets);
        let sent = &mut sub.sent[index(kind)];
        *sent = (sent.0.wrapping_add(count), sent.1.wrapping_add(octets));
        let pt = match kind {
            MediaKind::Video => sub.video_pt,
            MediaKind::Audio => sub.audio_pt,
        };
        pt.map(|payload_type| FanoutTarget { id, payload_type, seq_offset: 0, ts_offset: 0 })
    }

    /// Sets the clock rate of `stream_key`'s `kind` track (default 90 000 for video, 48 000 for
    /// audio; an AAC track's is its sampling rate). No-op for a stream without subscribers.
    pub fn set_clock_rate(&mut self, stream_key: &str, kind: MediaKind, clock_rate: u32) {
        if let Some(s) = self.streams.get_mut(stream_key) {
            s.clocks[index(kind)].clock_rate = clock_rate.max(1);
        }
    }

    /// Anchors `stream_key`'s `kind` clock on a mapping from the publisher's own sender report,
    /// re-based onto the stream's timestamps (`rtp_timestamp` at Unix `wall_ms`): reports then
    /// follow the publisher's capture clock (lip sync) rather than when packets were sent.
    /// No-op for a stream without subscribers.
    pub fn anchor(&mut self, stream_key: &str, kind: MediaKind, rtp_timestamp: u32, wall_ms: f64) {
        if let Some(s) = self.streams.get_mut(stream_key) {
            s.clocks[index(kind)].anchor(rtp_timestamp, wall_ms);
        }
    }

    /// Sender reports at Unix `now_ms` for every live subscriber and each track it takes that
    /// has been sent something (`out` is cleared first): once a second is RFC 3550's pace for a
    /// few receivers.
    pub fn sender_reports(&self, now_ms: f64, out: &mut Vec<SubscriberReport>) {
        out.clear();
        for (key, s) in &self.streams {
            for kind in [MediaKind::Video, MediaKind::Audio] {
                let clock = &s.clocks[index(kind)];
                for id in &s.subscribers {
                    let Some(sub) = self.subscribers.get(id).filter(|sub| sub.live) else { continue };
                    // a track's report comes from the stream it is sent from (video: its layer)
                    let (has_kind, from_here) = match kind {
                        MediaKind::Video => (sub.video_pt.is_some(), sub.video_key == *key),
                        MediaKind::Audio => (sub.audio_pt.is_some(), sub.stream_key == *key),
                    };
                    let (packets, octets) = sub.sent[index(kind)];
                    if !has_kind || !from_here || packets == 0 {
                        continue;
                    }
                    if let Some(mut packet) = clock.report(now_ms, packets, octets) {
                        if kind == MediaKind::Video && sub.ts_offset != 0 {
                            // SR: the RTP timestamp is bytes 16–19 (RFC 3550 §6.4.1)
                            let ts = u32::from_be_bytes([packet[16], packet[17], packet[18], packet[19]]).wrapping_add(sub.ts_offset);
                            packet[16..20].copy_from_slice(&ts.to_be_bytes());
                        }
                        out.push(SubscriberReport { id: *id, kind, packet });
                    }
                }
            }
        }
    }

    /// Which of subscriber `id`'s tracks `ssrc` (a NACK's or PLI's media SSRC) is, as its stream
    /// sends them; `None` when it is neither (or not known yet).
    pub fn kind_of_ssrc(&self, id: u32, ssrc: u32) -> Option<MediaKind> {
        let s = self.streams.get(&self.subscribers.get(&id)?.stream_key)?;
        [MediaKind::Video, MediaKind::Audio].into_iter().find(|&k| s.clocks[index(k)].ssrc == Some(ssrc))
    }

    /// Where subscriber `id`'s audio packet `seq` (its own numbering) is kept, if it still is:
    /// its injected audio, else the stream's audio ring through its current audio offset.
    pub fn resolve_audio_nack(&self, id: u32, seq: u16) -> Option<NackResolution<'_>> {
        let sub = self.subscribers.get(&id)?;
        let payload_type = sub.audio_pt?;
        if let Some(packet) = sub.injected_audio.get(seq) {
            return Some(NackResolution { packet, payload_type, seq_offset: 0, ts_offset: 0 });
        }
        let packet = self.streams.get(&sub.stream_key)?.audio_ring.get(seq.wrapping_sub(sub.audio_offset))?;
        Some(NackResolution { packet, payload_type, seq_offset: sub.audio_offset, ts_offset: 0 })
    }

    /// Where subscriber `id`'s video packet `seq` (its own numbering) is kept, if it still is.
    pub fn resolve_nack(&self, id: u32, seq: u16) -> Option<NackResolution<'_>> {
        let sub = self.subscribers.get(&id)?;
        let payload_type = sub.video_pt?;
        if let Some(packet) = sub.injected.get(seq) {
            return Some(NackResolution { packet, payload_type, seq_offset: 0, ts_offset: 0 });
        }
        let seq_offset = sub.offsets.at(seq);
        // sent before the last layer switch: from the layer it came from (only the last switch
        // is remembered: anything older is long past a NACK's use)
        let (key, ts_offset) = match &sub.previous {
            Some((key, from, ts_offset)) if before(seq, *from) => (key, *ts_offset),
            _ => (&sub.video_key, sub.ts_offset),
        };
        let packet = self.streams.get(key)?.ring.get(seq.wrapping_sub(seq_offset))?;
        Some(NackResolution { packet, payload_type, seq_offset, ts_offset })
    }
}
