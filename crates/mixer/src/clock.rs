//! [`InputClock`]: an input's timestamps onto the mixer's clock.

/// Rise of the arrival offset is looked for over windows of this many ms (clock drift of a
/// sender slower than us).
const WINDOW_MS: i64 = 2_000;
/// An arrival this much later or earlier than the offset predicts is a discontinuity (the
/// publisher restarted, or the input stalled): the clock is anchored again.
const JUMP_MS: i64 = 3_000;

/// Maps one input's timestamps (ms on its own timeline; audio and video share it, so lip sync
/// within the input is kept) to the mixer's clock (ms): `timestamp + offset`, where the offset
/// is the smallest `arrival - timestamp` seen, i.e. the timing of the input's least delayed
/// frame. It falls at once (a frame that arrives earlier than predicted), rises only when a
/// whole window arrived later than predicted (a sender clock slower than ours), and is set
/// again after a jump of more than [`JUMP_MS`].
#[derive(Debug, Clone, Default)]
pub struct InputClock {
    offset: Option<i64>,
    window_start: i64,
    window_min: i64,
}

impl InputClock {
    /// The mixer-clock time of a frame with `timestamp_ms` arriving at `now_ms`.
    pub fn map(&mut self, timestamp_ms: i64, now_ms: i64) -> i64 {
        let d = now_ms - timestamp_ms;
        let offset = match self.offset {
            Some(o) if (d - o).abs() <= JUMP_MS => {
                self.window_min = self.window_min.min(d);
                if now_ms - self.window_start >= WINDOW_MS {
                    let rise = self.window_min > o;
                    self.window_start = now_ms;
                    let m = std::mem::replace(&mut self.window_min, d);
                    if rise {
                        m
                    } else {
                        o.min(d)
                    }
                } else {
                    o.min(d)
                }
            }
            _ => {
                self.window_start = now_ms;
                self.window_min = d;
                d
            }
        };
        self.offset = Some(offset);
        timestamp_ms + offset
    }

    /// `arrival - timestamp` of the input's least delayed frame, once one was seen.
    pub fn offset(&self) -> Option<i64> {
        self.offset
    }
}

/// Video and audio of one input whose least delayed frames disagree by more than this (ms) are
/// placed each by its own offset (their timestamps are not on one clock) rather than together.
const MAX_AV_SKEW_MS: i64 = 1_000;

/// One input's two kinds onto the mixer's clock.
///
/// Unsplit (an input whose audio and video timestamps are one timeline by construction: RTMP,
/// SRT): one [`InputClock`] for both, the least delayed frame of either kind.
///
/// Split (capture-clocked inputs, whose two kinds are put on the sender's wallclock by two
/// different sender reports): an [`InputClock`] per kind, both mapped with the larger of the two
/// offsets, so the kind whose frames come later for their timestamps (a sender whose reports put
/// its audio captured earlier than its video for the same send time) is not placed before it
/// arrives, and audio and video keep their timestamps' relation (lip sync). Kinds more than
/// [`MAX_AV_SKEW_MS`] apart keep their own.
#[derive(Debug, Clone, Default)]
pub struct AvClock {
    video: InputClock,
    audio: InputClock,
    split: bool,
}

impl AvClock {
    /// A clock, split per kind or not (see above).
    pub fn new(split: bool) -> AvClock {
        AvClock { split, ..AvClock::default() }
    }

    /// The mixer-clock time of a frame of `kind` (`true`: audio) with `timestamp_ms` arriving
    /// at `now_ms`.
    pub fn map(&mut self, audio: bool, timestamp_ms: i64, now_ms: i64) -> i64 {
        if !self.split {
            return self.video.map(timestamp_ms, now_ms);
        }
        let own = if audio { &mut self.audio } else { &mut self.video };
        own.map(timestamp_ms, now_ms);
        timestamp_ms + self.offset_of(audio).unwrap_or_default()
    }

    /// The offset frames of `kind` are mapped with, once one of that kind was seen.
    fn offset_of(&self, audio: bool) -> Option<i64> {
        let (own, other) = if audio { (self.audio.offset(), self.video.offset()) } else { (self.video.offset(), self.audio.offset()) };
        match (own, other) {
            (Some(o), Some(p)) if (o - p).abs() <= MAX_AV_SKEW_MS => Some(o.max(p)),
            (own, _) => own,
        }
    }

    /// The input's offset: the larger of the two kinds' when they agree within
    /// [`MAX_AV_SKEW_MS`], else the video's (or the only one seen).
    pub fn offset(&self) -> Option<i64> {
        if !self.split {
            return self.video.offset();
        }
        self.offset_of(false).or_else(|| self.audio.offset())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gop_burst_anchors_on_its_newest_frame_and_live_frames_follow() {
        let mut c = InputClock::default();
        // A cached GOP of 1 s arrives at once at 10 000, then live frames in real time.
        for ts in (5_000..=6_000).step_by(40) {
            c.map(ts, 10_000);
        }
        assert_eq!(c.offset(), Some(4_000));
        assert_eq!(c.map(6_040, 10_045), 10_040);
        assert_eq!(c.map(5_000, 10_050), 9_000, "old frames map to the past");
    }

    #[test]
    fn a_restart_re_anchors_and_a_slower_sender_raises_the_offset() {
        let mut c = InputClock::default();
        c.map(1_000, 2_000);
        assert_eq!(c.map(0, 9_000), 9_000);
        // Every frame 20 ms later than predicted for more than a window: the offset rises.
        for i in 1..=100 {
            c.map(i * 50, 9_000 + i * 50 + 20);
        }
        assert_eq!(c.offset(), Some(9_020));
    }

    #[test]
    fn audio_captured_earlier_than_video_is_not_placed_before_it_arrives() {
        let mut c = AvClock::new(true);
        // Video frames arrive 30 ms after their timestamps, audio 400 ms after (the sender's
        // clocks put its audio earlier): both are placed with the larger offset.
        for i in 0..50 {
            c.map(false, i * 33, 1_000 + i * 33 + 30);
            c.map(true, i * 20, 1_000 + i * 20 + 400);
        }
        assert_eq!(c.offset(), Some(1_400));
        assert_eq!(c.map(true, 2_000, 3_400), 3_400, "audio at its arrival, not 370 ms before");
        assert_eq!(c.map(false, 2_000, 3_030), 3_400, "video with it: lip sync as the timestamps say");
    }

    #[test]
    fn kinds_far_apart_keep_their_own_offsets() {
        let mut c = AvClock::new(true);
        c.map(false, 0, 1_000);
        c.map(true, 0, 5_000);
        assert_eq!(c.map(false, 40, 1_040), 1_040);
        assert_eq!(c.map(true, 40, 5_040), 5_040);
        assert_eq!(c.offset(), Some(1_000));
    }

    #[test]
    fn unsplit_both_kinds_share_the_least_delayed_offset() {
        let mut c = AvClock::new(false);
        c.map(false, 0, 1_030);
        c.map(true, 0, 1_400);
        assert_eq!(c.offset(), Some(1_030));
        assert_eq!(c.map(true, 40, 1_440), 1_070);
    }
}
