//! [`Mixer`]: the whole mix, sans-IO: FLV tag bodies of several inputs with their timestamps
//! and arrival times in, FLV tag bodies of one H.264 + AAC stream out, driven by
//! [`poll`](Mixer::poll) with the time.

use sluice_rtmp::flv::{AudioTagHeader, VideoTagHeader};

use crate::audio::{AudioMixer, EncodedAudio, EncodedMinus, SAMPLE_RATE};
use crate::clock::AvClock;
use crate::h264::EncoderSettings;
use crate::layout::Layout;
use crate::picture::Yuv;
use crate::video::{VideoMixer, VideoStats};
use crate::MixError;

/// The mix's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MixConfig {
    /// Output width in px (even, 16–3840).
    pub width: u32,
    /// Output height in px (even, 16–2160).
    pub height: u32,
    /// Output frames per second (1–60).
    pub frame_rate: f32,
    /// H.264 target, bits/s.
    pub video_bitrate: u32,
    /// AAC-LC target, bits/s (stereo, 48 kHz).
    pub audio_bitrate: u32,
    /// Ms between keyframes (besides those requested).
    pub keyframe_interval_ms: u32,
    /// Where inputs go.
    pub layout: Layout,
    /// Colour of the canvas where no input is.
    pub background: Yuv,
    /// Ms every input is held back before it is shown and heard (the jitter the mix absorbs).
    pub latency_ms: u32,
    /// Ms without video after which an input leaves the layout (its last picture stays until
    /// then; its audio is silence as soon as it stops).
    pub input_timeout_ms: u32,
}

impl Default for MixConfig {
    fn default() -> Self {
        MixConfig {
            width: 1280,
            height: 720,
            frame_rate: 30.0,
            video_bitrate: 2_500_000,
            audio_bitrate: 128_000,
            keyframe_interval_ms: 2_000,
            layout: Layout::Grid,
            background: crate::picture::BLACK,
            latency_ms: 100,
            input_timeout_ms: 3_000,
        }
    }
}

/// Which track a [`MixFrame`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixKind {
    /// AAC.
    Audio,
    /// H.264.
    Video,
    /// Opus, the mix without input `.0`'s own audio (see [`Mixer::set_minus`]).
    Minus(u32),
}

/// One FLV tag body of the mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixFrame {
    /// Audio or video.
    pub kind: MixKind,
    /// Timestamp in ms on the output timeline (see [`Mixer::add_input`]'s `timeline`).
    pub timestamp_ms: i64,
    /// An IDR picture.
    pub keyframe: bool,
    /// An AVC sequence header or AAC sequence header.
    pub sequence_header: bool,
    /// The FLV tag body: `17 00 000000` + AVCDecoderConfigurationRecord, `17|27 01 000000` +
    /// NAL units with 4-byte lengths, `AF 00` + AudioSpecificConfig, `AF 01` + raw AAC; for
    /// [`MixKind::Minus`] one Opus packet (20 ms, 48 kHz stereo), no header.
    pub body: Vec<u8>,
    /// For video: mixer-clock arrival of the newest input picture first shown in it (the
    /// caller measures the mix latency from it).
    pub source_arrival_ms: Option<i64>,
}

/// Counters of a mix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MixStats {
    /// Video counters.
    pub video: VideoStats,
    /// Audio bodies refused.
    pub audio_errors: u64,
    /// Output ticks skipped because the mixer was polled late.
    pub ticks_skipped: u64,
}

struct InputState {
    id: u32,
    clock: AvClock,
    /// Mixer-clock time the clock's offset last changed (a cached GOP arrives in a burst that
    /// lowers it frame by frame).
    offset_changed_at: i64,
    /// Its timestamps are capture times on the sender's wallclock (from RTCP sender reports):
    /// placed with the other such inputs on one clock (see [`Mixer::set_capture_clock`]).
    capture_clock: bool,
}

/// The ms at which 48 kHz sample `sample` has played (rounded up).
fn ceil_ms(sample: i64) -> i64 {
    let per_ms = SAMPLE_RATE / 1000;
    (sample + per_ms - 1).div_euclid(per_ms)
}

/// The timeline input's clock must have stood still this long (ms) before the output timeline
/// is fixed on it.
const SETTLE_MS: i64 = 100;

/// Longest wait for the timeline input before the output timeline starts on the mixer clock.
const TIMELINE_WAIT_MS: i64 = 2_000;
/// Capture-clocked inputs more than this much (ms) later than the earliest of them keep their
/// own offset instead of holding every other such input back (their sender's clock disagrees).
const MAX_CAPTURE_SPREAD_MS: i64 = 1_000;

/// Ticks more than this many frames late are skipped rather than composed.
const MAX_LATE_TICKS: i64 = 3;

/// One mix.
pub struct Mixer {
    config: MixConfig,
    video: VideoMixer,
    audio: AudioMixer,
    inputs: Vec<InputState>,
    timeline_input: Option<u32>,
    start: Option<i64>,
    /// Output timestamp = mixer-clock ms − base; fixed at the first output.
    base: Option<i64>,
    tick: i64,
    record: Option<Vec<u8>>,
    audio_header_sent: bool,
    last_video_ts: i64,
    ticks_skipped: u64,
}

impl Mixer {
    /// A mix with no inputs. Errors: [`MixError::InvalidConfig`], [`MixError::Encode`],
    /// [`MixError::Audio`] (no AAC encoder in this build).
    pub fn new(config: MixConfig) -> Result<Self, MixError> {
        if !(8_000..=512_000).contains(&config.audio_bitrate) {
            return Err(MixError::InvalidConfig(format!(
                "audio bitrate {} (8 to 512 kbit/s)",
                config.audio_bitrate
            )));
        }
        if config.latency_ms > 5_000 || !(100..=60_000).contains(&config.keyframe_interval_ms) {
            return Err(MixError::InvalidConfig(
                "latency over 5 s or keyframe interval outside 0.1–60 s".into(),
            ));
        }
        let settings = EncoderSettings {
            width: config.width,
            height: config.height,
            frame_rate: config.frame_rate,
            bitrate: config.video_bitrate,
            keyframe_interval: ((config.keyframe_interval_ms as f32 * config.frame_rate / 1000.0)
                .round() as u32)
                .max(1),
        };
        Ok(Mixer {
            video: VideoMixer::new(
                settings,
                config.layout.clone(),
                config.background,
                i64::from(config.input_timeout_ms),
            )?,
            audio: AudioMixer::new(config.audio_bitrate)?,
            config,
            inputs: Vec::new(),
            timeline_input: None,
            start: None,
            base: None,
            tick: 0,
            record: None,
            audio_header_sent: false,
            last_video_ts: i64::MIN,
            ticks_skipped: 0,
        })
    }

    /// The settings.
    pub fn config(&self) -> &MixConfig {
        &self.config
    }

    /// Adds input `id` (its place in the layout is after those already there) with a linear
    /// audio `gain`. With `timeline`, the output's timestamps are this input's: a mixed frame
    /// is stamped with the timestamp of the input frame it shows (so a stream can switch
    /// between this input and the mix without a jump). Errors: [`MixError::Decode`] (the
    /// decoder cannot be made, not expected).
    pub fn add_input(&mut self, id: u32, gain: f32, timeline: bool) -> Result<(), MixError> {
        self.video.add_input(id)?;
        self.audio.add_input(id, gain);
        if self.inputs.iter().all(|i| i.id != id) {
            self.inputs.push(InputState {
                id,
                clock: AvClock::default(),
                offset_changed_at: 0,
                capture_clock: false,
            });
        }
        if timeline && self.base.is_none() {
            self.timeline_input = Some(id);
        }
        Ok(())
    }

    /// Whether input `id`'s timestamps are from now on capture times, ms on its sender's
    /// wallclock (a WebRTC publisher's RTP timestamps through its RTCP sender reports, RFC 3550
    /// §6.4.1). Such inputs share one offset onto the mixer clock, that of the most delayed
    /// among them, so pictures and sound captured at the same moment by different senders
    /// (with synchronized clocks) are shown and heard together; each other input keeps its own
    /// (its least delayed frame). The timeline input is never placed so. No-op for an unknown
    /// id.
    pub fn set_capture_clock(&mut self, id: u32, on: bool) {
        if let Some(input) = self.inputs.iter_mut().find(|i| i.id == id) {
            if input.capture_clock != on {
                input.capture_clock = on;
                input.clock = AvClock::new(on); // another time base: anchor again
            }
        }
    }

    /// Removes input `id` (no-op when absent).
    pub fn remove_input(&mut self, id: u32) {
        self.video.remove_input(id);
        self.audio.remove_input(id);
        self.inputs.retain(|i| i.id != id);
    }

    /// Changes the layout from the next picture on.
    pub fn set_layout(&mut self, layout: Layout) {
        self.config.layout = layout.clone();
        self.video.set_layout(layout);
    }

    /// Whether input `id` also gets a mix of everyone but itself as Opus at `bitrate` bits/s
    /// (frames of [`MixKind::Minus`]). Errors: [`MixError::UnknownInput`], [`MixError::Audio`].
    pub fn set_minus(&mut self, id: u32, on: bool, bitrate: u32) -> Result<(), MixError> {
        self.audio.set_minus(id, on, bitrate)
    }

    /// Sets an input's linear audio gain.
    pub fn set_gain(&mut self, id: u32, gain: f32) {
        self.audio.set_gain(id, gain);
    }

    /// The next picture is a keyframe.
    pub fn request_keyframe(&mut self) {
        self.video.request_keyframe();
    }

    /// The mixer-clock time a body of input `id` is shown or heard at. Sequence headers do
    /// not move the input's clock (a cached one carries the time of the publish, not of now):
    /// they get 0.
    fn at(
        &mut self,
        id: u32,
        audio: bool,
        sequence_header: bool,
        timestamp_ms: i64,
        now_ms: i64,
    ) -> Result<i64, MixError> {
        let latency = i64::from(self.config.latency_ms);
        let input = self
            .inputs
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or(MixError::UnknownInput(id))?;
        if sequence_header {
            return Ok(0);
        }
        let before = input.clock.offset();
        let at = input.clock.map(audio, timestamp_ms, now_ms) + latency;
        if input.clock.offset() != before {
            input.offset_changed_at = now_ms;
        }
        if !input.capture_clock || self.timeline_input == Some(id) {
            return Ok(at);
        }
        // capture-clocked inputs: the largest of their offsets (the most delayed path), among
        // those within MAX_CAPTURE_SPREAD_MS of the smallest; an input further off (a sender
        // whose clock disagrees, or a path that slow) keeps its own rather than delay everyone
        let own = at - latency - timestamp_ms;
        let offsets: Vec<i64> = self
            .inputs
            .iter()
            .filter(|i| i.capture_clock && self.timeline_input != Some(i.id))
            .filter_map(|i| i.clock.offset())
            .collect();
        let least = offsets.iter().copied().min().unwrap_or(own);
        if own > least + MAX_CAPTURE_SPREAD_MS {
            return Ok(at);
        }
        let shared = offsets.into_iter().filter(|&o| o <= least + MAX_CAPTURE_SPREAD_MS).max().unwrap_or(own);
        Ok(timestamp_ms + shared + latency)
    }

    /// An FLV video tag body of input `id` with its timestamp (ms, the input's timeline: dts)
    /// arrived at `now_ms` (the mixer clock, any monotonic ms). See [`VideoMixer::push`].
    pub fn push_video(
        &mut self,
        id: u32,
        body: &[u8],
        timestamp_ms: i64,
        now_ms: i64,
    ) -> Result<(), MixError> {
        let header = VideoTagHeader::parse(body).is_some_and(|h| h.is_sequence_header);
        let at = self.at(id, false, header, timestamp_ms, now_ms)?;
        self.video.push(id, body, at, now_ms)
    }

    /// An FLV audio tag body of input `id`, as [`push_video`](Self::push_video). See
    /// [`AudioMixer::push`].
    pub fn push_audio(
        &mut self,
        id: u32,
        body: &[u8],
        timestamp_ms: i64,
        now_ms: i64,
    ) -> Result<(), MixError> {
        let header = AudioTagHeader::parse(body).is_some_and(|h| h.is_sequence_header);
        let at = self.at(id, true, header, timestamp_ms, now_ms)?;
        self.audio.push(id, body, at)
    }

    /// Ms from `now_ms` until the next output is due (0 when it is).
    pub fn next_due_ms(&self, now_ms: i64) -> i64 {
        let Some(start) = self.start else { return 100 };
        if self.base.is_none() {
            return 10; // waiting for the timeline input's first frame
        }
        let video = start + self.tick_time(self.tick);
        let audio = self
            .audio
            .next_sample()
            .map_or(start, |s| ceil_ms(s + 1024));
        (video.min(audio) - now_ms).max(0)
    }

    fn tick_time(&self, tick: i64) -> i64 {
        (tick as f64 * 1000.0 / f64::from(self.config.frame_rate)).round() as i64
    }

    /// Produces every output due at `now_ms`: composed and encoded pictures at the frame rate,
    /// mixed and encoded audio each 1 024 samples, sequence headers ahead of the first and
    /// changed configurations; appended to `out` in timestamp order. Nothing before the first
    /// input is added; with a timeline input, nothing until its first frame (at most 2 s).
    /// Errors:
    /// [`MixError::Encode`], [`MixError::Audio`] (not expected); the mix goes on at the next
    /// call.
    pub fn poll(&mut self, now_ms: i64, out: &mut Vec<MixFrame>) -> Result<(), MixError> {
        if self.start.is_none() && self.inputs.is_empty() {
            return Ok(()); // the clock starts with the first input
        }
        let mut start = *self.start.get_or_insert(now_ms);
        if self.base.is_none() {
            let timeline = self
                .timeline_input
                .and_then(|id| self.inputs.iter().find(|i| i.id == id))
                .and_then(|i| i.clock.offset().map(|o| (o, i.offset_changed_at)));
            match timeline {
                // Settled: no earlier frame for a while (a cached GOP has been taken in).
                Some((offset, changed)) if now_ms - changed >= SETTLE_MS => {
                    self.base = Some(offset + i64::from(self.config.latency_ms))
                }
                None if self.timeline_input.is_none() => self.base = Some(start),
                _ if now_ms - start >= TIMELINE_WAIT_MS => {
                    let offset =
                        timeline.map_or(start, |(o, _)| o + i64::from(self.config.latency_ms));
                    self.base = Some(offset)
                }
                _ => return Ok(()),
            }
            // Output starts now: the ticks while waiting are not owed.
            start = now_ms;
            self.start = Some(now_ms);
        }
        let base = self.base.unwrap_or(start);
        let per_ms = SAMPLE_RATE / 1000;
        loop {
            let video_at = start + self.tick_time(self.tick);
            let audio_start = self.audio.next_sample().unwrap_or(start * per_ms);
            let audio_end_ms = ceil_ms(audio_start + 1024);
            if video_at > now_ms && audio_end_ms > now_ms {
                return Ok(());
            }
            if video_at <= now_ms && video_at * per_ms <= audio_start {
                if now_ms - video_at
                    > MAX_LATE_TICKS * 1000 / self.config.frame_rate.max(1.0) as i64
                {
                    self.tick += 1;
                    self.ticks_skipped += 1;
                    continue;
                }
                self.tick += 1;
                self.video_out(video_at, now_ms, base, out)?;
            } else {
                let mut units: Vec<EncodedAudio> = Vec::new();
                let mut minus: Vec<EncodedMinus> = Vec::new();
                self.audio.mix(audio_start, &mut units, &mut minus)?;
                for u in units {
                    self.audio_out(u, base, out);
                }
                for m in minus {
                    let ts = (m.sample / (SAMPLE_RATE / 1000) - base).max(0);
                    out.push(MixFrame {
                        kind: MixKind::Minus(m.input),
                        timestamp_ms: ts,
                        keyframe: false,
                        sequence_header: false,
                        body: m.packet,
                        source_arrival_ms: None,
                    });
                }
            }
        }
    }

    fn video_out(
        &mut self,
        at: i64,
        now_ms: i64,
        base: i64,
        out: &mut Vec<MixFrame>,
    ) -> Result<(), MixError> {
        let ts = (at - base).max(self.last_video_ts + 1).max(0);
        let (encoded, arrival) = self.video.compose(at, now_ms, ts as u64)?;
        let Some(e) = encoded else { return Ok(()) };
        self.last_video_ts = ts;
        if let Some(record) = e.record.filter(|r| self.record.as_ref() != Some(r)) {
            let mut body = vec![0x17, 0, 0, 0, 0];
            body.extend_from_slice(&record);
            self.record = Some(record);
            out.push(MixFrame {
                kind: MixKind::Video,
                timestamp_ms: ts,
                keyframe: true,
                sequence_header: true,
                body,
                source_arrival_ms: None,
            });
        }
        if self.record.is_none() {
            return Ok(()); // nothing decodable before the parameter sets
        }
        let mut body = Vec::with_capacity(5 + e.access_unit.len());
        body.extend_from_slice(&[if e.keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0]);
        body.extend_from_slice(&e.access_unit);
        out.push(MixFrame {
            kind: MixKind::Video,
            timestamp_ms: ts,
            keyframe: e.keyframe,
            sequence_header: false,
            body,
            source_arrival_ms: arrival,
        });
        Ok(())
    }

    fn audio_out(&mut self, unit: EncodedAudio, base: i64, out: &mut Vec<MixFrame>) {
        let ts = (unit.sample / (SAMPLE_RATE / 1000) - base).max(0);
        if !self.audio_header_sent {
            self.audio_header_sent = true;
            let mut body = vec![0xAF, 0];
            body.extend_from_slice(self.audio.audio_specific_config());
            out.push(MixFrame {
                kind: MixKind::Audio,
                timestamp_ms: ts,
                keyframe: false,
                sequence_header: true,
                body,
                source_arrival_ms: None,
            });
        }
        let mut body = Vec::with_capacity(2 + unit.access_unit.len());
        body.extend_from_slice(&[0xAF, 1]);
        body.extend_from_slice(&unit.access_unit);
        out.push(MixFrame {
            kind: MixKind::Audio,
            timestamp_ms: ts,
            keyframe: false,
            sequence_header: false,
            body,
            source_arrival_ms: None,
        });
    }

    /// Inputs now in the layout.
    pub fn visible_inputs(&self, now_ms: i64) -> usize {
        self.video.visible(now_ms)
    }

    /// The canvas as last composed (for tests and previews).
    pub fn canvas(&self) -> &crate::picture::Picture {
        self.video.canvas()
    }

    /// Every input's audio counters.
    pub fn audio_input_stats(&self) -> Vec<crate::audio::AudioInputStats> {
        self.audio.input_stats()
    }

    /// Counters.
    pub fn stats(&self) -> MixStats {
        MixStats {
            video: self.video.stats,
            audio_errors: self.audio.errors,
            ticks_skipped: self.ticks_skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_clocked_inputs_share_the_most_delayed_offset() {
        let Ok(mut m) = Mixer::new(MixConfig { latency_ms: 100, ..MixConfig::default() }) else {
            return; // a build without an AAC encoder
        };
        for id in [1, 2, 3] {
            m.add_input(id, 1.0, false).unwrap();
        }
        m.set_capture_clock(1, true);
        m.set_capture_clock(2, true);
        // Captured at the same wallclock moments; input 1 arrives 50 ms after capture, input 2
        // 350 ms after; input 3 (arrival-clocked) 200 ms after its own timestamps.
        let capture = 1_765_000_000_000i64;
        let (mut a1, mut a2, mut a3) = (0, 0, 0);
        for k in 0..50 {
            let ts = capture + k * 40;
            a1 = m.at(1, false, false, ts, 10_000 + k * 40 + 50).unwrap();
            a2 = m.at(2, false, false, ts, 10_000 + k * 40 + 350).unwrap();
            a3 = m.at(3, false, false, k * 40, 10_000 + k * 40 + 200).unwrap();
        }
        // Both capture inputs' frames of one moment are placed together, after the slower path.
        assert_eq!(a1, a2);
        assert_eq!(a2, 10_000 + 49 * 40 + 350 + 100);
        // The arrival-clocked input keeps its own offset.
        assert_eq!(a3, 10_000 + 49 * 40 + 200 + 100);
        // A sender whose clock is 5 s off does not hold the others back: it keeps its own offset.
        m.add_input(4, 1.0, false).unwrap();
        m.set_capture_clock(4, true);
        let a4 = m.at(4, false, false, capture + 49 * 40 - 5_000, 10_000 + 49 * 40 + 60).unwrap();
        assert_eq!(a4, 10_000 + 49 * 40 + 60 + 100);
        assert_eq!(m.at(2, false, false, capture + 49 * 40, 10_000 + 49 * 40 + 350).unwrap(), a2);
        // Off again: input 1 goes back to its own (least delayed) offset.
        m.set_capture_clock(1, false);
        assert_eq!(m.at(1, false, false, 5_000, 20_050).unwrap(), 20_150);
    }
}
