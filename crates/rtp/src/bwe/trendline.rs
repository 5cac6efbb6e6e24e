//! Delay-based overuse detection (the delay-based half of Google Congestion Control,
//! draft-ietf-rmcat-gcc-02 §5, with the trendline filter of its later implementations): packets
//! are grouped into bursts (sent within [`BURST_US`] of the group's first), and for consecutive
//! groups the delay variation `d = (arrival_i − arrival_{i−1}) − (send_i − send_{i−1})` is
//! accumulated and smoothed; the slope of the smoothed accumulated delay over the last
//! [`WINDOW`] groups, scaled, is compared with an adaptive threshold (§5.4): above it for long
//! enough is *overuse* (a queue is building), below its negative *underuse* (a queue draining).

use std::collections::VecDeque;

/// Packets sent within this of a group's first packet belong to its group, µs (§5.2: 5 ms).
pub const BURST_US: i64 = 5_000;
/// Groups the trendline's linear regression spans.
pub const WINDOW: usize = 20;
/// Smoothing of the accumulated delay (exponential, weight of the old value).
const SMOOTHING: f64 = 0.9;
/// Gain applied to the slope before comparing it with the threshold.
const THRESHOLD_GAIN: f64 = 4.0;
/// Initial and bounds of the adaptive threshold, ms (§5.4: γ starts at 12.5 ms).
const THRESHOLD_INITIAL: f64 = 12.5;
const THRESHOLD_MIN: f64 = 6.0;
const THRESHOLD_MAX: f64 = 600.0;
/// Threshold adaptation gains (§5.4: K_u, K_d) per ms.
const K_UP: f64 = 0.0087;
const K_DOWN: f64 = 0.039;
/// Overuse must last this long before it is signalled, ms (§5.4: 10 ms).
const OVERUSE_TIME_MS: f64 = 10.0;

/// What the detector concludes from the latest group (§5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandwidthUsage {
    /// Delay steady: no queue building or draining.
    Normal,
    /// Delay growing: the path's capacity is exceeded.
    Overusing,
    /// Delay shrinking: a queue is draining.
    Underusing,
}

/// A group of packets sent in one burst.
#[derive(Debug, Clone, Copy)]
struct Group {
    first_send_us: i64,
    last_send_us: i64,
    last_arrival_us: i64,
}

/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct TrendlineDetector {
    current: Option<Group>,
    previous: Option<Group>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    /// `(arrival ms since the first group, smoothed accumulated delay ms)`.
    history: VecDeque<(f64, f64)>,
    first_arrival_us: Option<i64>,
    deltas: usize,
    threshold: f64,
    last_threshold_update_ms: Option<f64>,
    overuse_since_ms: Option<f64>,
    overuse_count: u32,
    previous_trend: f64,
    usage: BandwidthUsage,
    /// The last modified trend (slope × gain × deltas), ms, for reports.
    trend: f64,
}

impl Default for TrendlineDetector {
    fn default() -> Self {
        TrendlineDetector {
            current: None,
            previous: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            history: VecDeque::with_capacity(WINDOW + 1),
            first_arrival_us: None,
            deltas: 0,
            threshold: THRESHOLD_INITIAL,
            last_threshold_update_ms: None,
            overuse_since_ms: None,
            overuse_count: 0,
            previous_trend: 0.0,
            usage: BandwidthUsage::Normal,
            trend: 0.0,
        }
    }
}

impl TrendlineDetector {
    /// The latest conclusion.
    pub fn usage(&self) -> BandwidthUsage {
        self.usage
    }

    /// The latest modified trend, ms (compared with the threshold).
    pub fn trend(&self) -> f64 {
        self.trend
    }

    /// The adaptive threshold, ms.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// A received packet, in send order: its send time and arrival time (µs, each on its own
    /// clock). Returns the conclusion when a group completed.
    pub fn packet(&mut self, sent_us: i64, arrival_us: i64) -> Option<BandwidthUsage> {
        match self.current.as_mut() {
            Some(g) if sent_us < g.first_send_us => return None, // reordered into an old group
            Some(g) if sent_us - g.first_send_us <= BURST_US => {
                g.last_send_us = g.last_send_us.max(sent_us);
                g.last_arrival_us = g.last_arrival_us.max(arrival_us);
                return None;
            }
            _ => {}
        }
        let finished = self.current.replace(Group { first_send_us: sent_us, last_send_us: sent_us, last_arrival_us: arrival_us });
        let finished = finished?;
        let previous = self.previous.replace(finished);
        let previous = previous?;
        let send_delta_ms = (finished.last_send_us - previous.last_send_us) as f64 / 1000.0;
        let arrival_delta_ms = (finished.last_arrival_us - previous.last_arrival_us) as f64 / 1000.0;
        Some(self.delta(send_delta_ms, arrival_delta_ms, finished.last_arrival_us))
    }

    /// One inter-group delay variation (§5.3).
    fn delta(&mut self, send_delta_ms: f64, arrival_delta_ms: f64, arrival_us: i64) -> BandwidthUsage {
        let first = *self.first_arrival_us.get_or_insert(arrival_us);
        let now_ms = (arrival_us - first) as f64 / 1000.0;
        self.deltas = (self.deltas + 1).min(1000);
        self.accumulated_ms += arrival_delta_ms - send_delta_ms;
        self.smoothed_ms = SMOOTHING * self.smoothed_ms + (1.0 - SMOOTHING) * self.accumulated_ms;
        self.history.push_back((now_ms, self.smoothed_ms));
        if self.history.len() > WINDOW {
            self.history.pop_front();
        }
        if self.history.len() == WINDOW {
            if let Some(slope) = slope(&self.history) {
                self.trend = slope * self.deltas.min(60) as f64 * THRESHOLD_GAIN;
            }
        }
        self.detect(send_delta_ms, now_ms);
        self.usage
    }

    /// Compares the trend with the threshold, then adapts the threshold (§5.4).
    fn detect(&mut self, send_delta_ms: f64, now_ms: f64) {
        let trend = self.trend;
        if trend > self.threshold {
            let since = *self.overuse_since_ms.get_or_insert(now_ms - send_delta_ms / 2.0);
            self.overuse_count += 1;
            if now_ms - since > OVERUSE_TIME_MS && self.overuse_count > 1 && trend >= self.previous_trend {
                self.usage = BandwidthUsage::Overusing;
                self.overuse_since_ms = Some(now_ms);
                self.overuse_count = 0;
            }
        } else if trend < -self.threshold {
            self.overuse_since_ms = None;
            self.overuse_count = 0;
            self.usage = BandwidthUsage::Underusing;
        } else {
            self.overuse_since_ms = None;
            self.overuse_count = 0;
            self.usage = BandwidthUsage::Normal;
        }
        self.previous_trend = trend;
        let last = self.last_threshold_update_ms.replace(now_ms).unwrap_or(now_ms);
        // a sudden spike (a route change) does not drag the threshold along
        if trend.abs() > self.threshold + 15.0 {
            return;
        }
        let k = if trend.abs() < self.threshold { K_DOWN } else { K_UP };
        let dt = (now_ms - last).clamp(0.0, 100.0);
        self.threshold = (self.threshold + k * (trend.abs() - self.threshold) * dt).clamp(THRESHOLD_MIN, THRESHOLD_MAX);
    }
}

/// Least-squares slope of `y` over `x`; `None` when every `x` is the same.
fn slope(points: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + (x - mx) * (y - my), b + (x - mx) * (x - mx)));
    (den > 0.0).then(|| num / den)
}
