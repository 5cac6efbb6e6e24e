//! [`Fanout`]: streams, their subscribers, and what each subscriber is sent.

use std::collections::HashMap;

use super::{sequence_number, RetransmissionRing, SenderClock, SequenceOffsets};
use crate::rtcp::is_rtcp;

/// Audio rings are this fraction of the video rings (a frame of audio is one packet, a frame of
/// video several).
const AUDIO_RING_SHARE: usize = 4;

/// A batch later than this (source arrival → fan-out, ms) puts its stream behind.
pub const MAX_LAG_MS: f64 = 1000.0;
/// A stream that was behind resumes (at the next keyframe) once batches arrive this fresh, ms.
pub const RESUME_LAG_MS: f64 = 150.0;

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
}

/// One subscriber to send a batch to: write each packet with
/// [`patch_into`](super::patch_into)`(packet, out, payload_type, seq_offset)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutTarget {
    /// The subscriber.
    pub id: u32,
    /// Its payload type for the batch's kind.
    pub payload_type: u8,
    /// Added to each packet's sequence number (the subscriber's offset for the batch's kind).
    pub seq_offset: u16,
}

/// A NACKed sequence number found again: send `packet` patched with `payload_type` and
/// `seq_offset` (0 for a packet injected for this subscriber, which is kept as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackResolution<'a> {
    /// The packet as kept.
    pub packet: &'a [u8],
    /// The subscriber's video payload type.
    pub payload_type: u8,
    /// The offset it went out with.
    pub seq_offset: u16,
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
    /// Receives live packets (after its GOP replay).
    live: bool,
    offsets: SequenceOffsets,
    /// The audio sequence offset (audio injected for it alone shifts it; no history: an audio
    /// NACK resolves through the current one, or the injected ring).
    audio_offset: u16,
    /// Packets injected for it alone, as sent (subscriber sequence numbers): video, audio.
    injected: RetransmissionRing,
    injected_audio: RetransmissionRing,
    /// Skipping live video until the next keyframe (its stream fell behind).
    await_keyframe: bool,
    /// Video packets skipped meanwhile: its offset is lowered by them on resume, so the skip is
    /// not announced as loss.
    skipped: u16,
    /// RTP packets and payload octets sent to it per kind (video, audio), for its sender
    /// reports (RFC 3550 §6.4.1: the counts of what this receiver was sent).
    sent: [(u32, u32); 2],
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
}

impl Fanout {
    /// `ring_capacity`: video packets kept per stream; `injected_capacity`: injected packets kept
    /// per subscriber (a 2 s GOP at 2.5 Mbit/s is ~550). Both round up to powers of two.
    pub fn new(ring_capacity: usize, injected_capacity: usize) -> Fanout {
        Fanout { streams: HashMap::new(), subscribers: HashMap::new(), ring_capacity, injected_capacity, counters: FanoutCounters::default() }
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
        self.streams
            .entry(config.stream_key.clone())
            .or_insert_with(|| Stream {
                subscribers: Vec::new(),
                ring: RetransmissionRing::new(ring_capacity),
                audio_ring: RetransmissionRing::new(ring_capacity / AUDIO_RING_SHARE),
                behind: false,
                clocks: [SenderClock::new(90_000), SenderClock::new(48_000)],
            })
            .subscribers
            .push(id);
        self.subscribers.insert(
            id,
            Subscriber {
                stream_key: config.stream_key,
                video_pt: config.video_payload_type.map(|pt| pt & 0x7F),
                audio_pt: config.audio_payload_type.map(|pt| pt & 0x7F),
                live: false,
                offsets: SequenceOffsets::default(),
                audio_offset: 0,
                injected: RetransmissionRing::new(self.injected_capacity),
                injected_audio: RetransmissionRing::new(self.injected_capacity / AUDIO_RING_SHARE),
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
        if let Some(s) = self.streams.get_mut(&sub.stream_key) {
            s.subscribers.retain(|x| *x != id);
            if s.subscribers.is_empty() {
                self.streams.remove(&sub.stream_key);
            }
        }
        true
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
            if let Some(sub) = self.subscribers.get_mut(id).filter(|sub| sub.live) {
                sub.skipped = sub.skipped.wrapping_add(n as u16);
            }
        }
    }

    /// One batch of a stream's packets (one frame), sent at Unix `now_ms`: video RTP goes into
    /// the stream's ring, the track's clock follows its timestamps; `targets` is cleared and
    /// filled with the live subscribers to send it to (their counts include it). `keyframe`:
    /// the batch starts a keyframe (subscribers waiting for one resume here).
    pub fn media(&mut self, stream_key: &str, kind: MediaKind, packets: &[&[u8]], keyframe: bool, now_ms: f64, targets: &mut Vec<FanoutTarget>) {
        targets.clear();
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
        for id in &s.subscribers {
            let Some(sub) = self.subscribers.get_mut(id) else { continue };
            if !sub.live {
                continue;
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
            let sent = &mut sub.sent[index(kind)];
            *sent = (sent.0.wrapping_add(count), sent.1.wrapping_add(octets));
            targets.push(FanoutTarget { id: *id, payload_type, seq_offset });
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
        pt.map(|payload_type| FanoutTarget { id, payload_type, seq_offset: 0 })
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
        for s in self.streams.values() {
            for kind in [MediaKind::Video, MediaKind::Audio] {
                let clock = &s.clocks[index(kind)];
                for id in &s.subscribers {
                    let Some(sub) = self.subscribers.get(id).filter(|sub| sub.live) else { continue };
                    let has_kind = match kind {
                        MediaKind::Video => sub.video_pt.is_some(),
                        MediaKind::Audio => sub.audio_pt.is_some(),
                    };
                    let (packets, octets) = sub.sent[index(kind)];
                    if !has_kind || packets == 0 {
                        continue;
                    }
                    if let Some(packet) = clock.report(now_ms, packets, octets) {
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
            return Some(NackResolution { packet, payload_type, seq_offset: 0 });
        }
        let packet = self.streams.get(&sub.stream_key)?.audio_ring.get(seq.wrapping_sub(sub.audio_offset))?;
        Some(NackResolution { packet, payload_type, seq_offset: sub.audio_offset })
    }

    /// Where subscriber `id`'s video packet `seq` (its own numbering) is kept, if it still is.
    pub fn resolve_nack(&self, id: u32, seq: u16) -> Option<NackResolution<'_>> {
        let sub = self.subscribers.get(&id)?;
        let payload_type = sub.video_pt?;
        if let Some(packet) = sub.injected.get(seq) {
            return Some(NackResolution { packet, payload_type, seq_offset: 0 });
        }
        let seq_offset = sub.offsets.at(seq);
        let packet = self.streams.get(&sub.stream_key)?.ring.get(seq.wrapping_sub(seq_offset))?;
        Some(NackResolution { packet, payload_type, seq_offset })
    }
}
