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
}
