//! 33-bit PTS/DTS (90 kHz, ISO/IEC 13818-1 §2.4.3.7) onto one increasing timeline.

/// The PTS/DTS clock, Hz.
pub const PTS_CLOCK_HZ: u64 = 90_000;
/// PTS/DTS wrap after 2^33 ticks (about 26.5 hours).
pub const PTS_WRAP: u64 = 1 << 33;

/// A jump larger than this between consecutive timestamps (either way) is a discontinuity
/// (an encoder restart, a splice), not a wrap: 10 s in 90 kHz ticks.
const MAX_JUMP: i64 = 10 * 90_000;

/// Unwraps 33-bit timestamps of one program onto a 64-bit timeline that starts at 0 with the
/// first timestamp and never jumps: a wrap continues it, and a discontinuity (a jump over 10 s,
/// or one the stream flags) is spliced so the next timestamp follows the last one by
/// `gap` ticks. Every stream of a program shares one unwrapper so they stay in sync.
#[derive(Debug, Default, Clone)]
pub struct TimestampUnwrapper {
    started: bool,
    spliced: bool,
    /// The raw value and output of the latest (largest) timestamp so far.
    last_raw: i64,
    last_out: i64,
}

impl TimestampUnwrapper {
    /// A new unwrapper; the first timestamp maps to 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The output for a raw 33-bit `ts`; `gap` (ticks) is the spacing used after a
    /// discontinuity (one frame of the stream it came from).
    pub fn unwrap(&mut self, ts: u64, gap: u64) -> i64 {
        let raw = (ts & (PTS_WRAP - 1)) as i64;
        if !self.started {
            self.started = true;
            self.last_raw = raw;
            self.last_out = 0;
            return 0;
        }
        // The raw value nearest to the last one, modulo the wrap.
        let wrap = PTS_WRAP as i64;
        let mut delta = (raw - self.last_raw).rem_euclid(wrap);
        if delta > wrap / 2 {
            delta -= wrap;
        }
        if std::mem::take(&mut self.spliced) || delta.abs() > MAX_JUMP {
            delta = gap as i64;
        }
        let out = self.last_out + delta;
        if delta > 0 {
            self.last_raw = raw;
            self.last_out = out;
        }
        out
    }

    /// A discontinuity the stream signalled (`discontinuity_indicator`): the next timestamp
    /// continues `gap` ticks after the last one, whatever its value.
    pub fn splice(&mut self) {
        self.spliced = self.started;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_continue_and_jumps_are_spliced() {
        let mut u = TimestampUnwrapper::new();
        assert_eq!(u.unwrap(PTS_WRAP - 3000, 3000), 0);
        assert_eq!(u.unwrap(0, 3000), 3000);
        assert_eq!(u.unwrap(3000, 3000), 6000);
        // B-frame ordering: a smaller PTS stays relative.
        assert_eq!(u.unwrap(1500, 3000), 4500);
        // An encoder restart 1 hour away: continues one gap later.
        assert_eq!(u.unwrap(3000 + 90_000 * 3600, 3000), 9000);
        assert_eq!(u.unwrap(6000 + 90_000 * 3600, 3000), 12000);
    }
}
