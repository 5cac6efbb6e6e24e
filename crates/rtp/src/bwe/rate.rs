//! The rate controllers behind the estimate: AIMD on the delay-based signal
//! (draft-ietf-rmcat-gcc-02 §5.5) and the loss-based bound (§6).

use super::trendline::BandwidthUsage;

/// Multiplicative decrease on overuse: the new rate is this share of the measured receive rate
/// (§5.5: β = 0.85).
const BETA: f64 = 0.85;
/// Multiplicative increase per second far from the last decrease (§5.5: at most 8 % per s).
const INCREASE_PER_S: f64 = 1.08;
/// The estimate never goes above this multiple of what was received, plus [`HEADROOM_BPS`]
/// (§5.5: A_hat < 1.5 R_hat), so an idle or application-limited sender does not inflate it.
const RECEIVE_MULTIPLE: f64 = 1.5;
const HEADROOM_BPS: f64 = 10_000.0;
/// The expected packet size for the additive increase, bits (1200-byte packets).
const PACKET_BITS: f64 = 1200.0 * 8.0;
/// Loss above this share lowers the loss-based bound, below [`LOSS_LOW`] raises it (§6).
const LOSS_HIGH: f64 = 0.10;
const LOSS_LOW: f64 = 0.02;
/// The loss-based bound changes at most once per this long, µs (§6: once per 300 ms + RTT).
const LOSS_INTERVAL_US: i64 = 300_000;

/// Rate-control state (§5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateState {
    /// Overuse: the rate comes down.
    Decrease,
    /// Underuse: a queue drains; the rate holds.
    Hold,
    /// Normal: the rate goes up.
    Increase,
}

/// AIMD rate control on the delay-based signal.
#[derive(Debug, Clone)]
pub struct AimdRate {
    rate_bps: f64,
    state: RateState,
    /// The receive rate at the last decrease: near it the increase is additive.
    last_decrease_bps: Option<f64>,
    last_update_us: Option<i64>,
    min_bps: f64,
    max_bps: f64,
}

impl AimdRate {
    /// Starts at `start_bps`, bounded by `min_bps..=max_bps`.
    pub fn new(start_bps: f64, min_bps: f64, max_bps: f64) -> Self {
        AimdRate { rate_bps: start_bps.clamp(min_bps, max_bps), state: RateState::Increase, last_decrease_bps: None, last_update_us: None, min_bps, max_bps }
    }

    /// The current rate, bit/s.
    pub fn rate_bps(&self) -> f64 {
        self.rate_bps
    }

    /// The state the last update left.
    pub fn state(&self) -> RateState {
        self.state
    }

    /// One detector conclusion at `now_us` with the receive rate measured over the feedback
    /// window (`None` while too little has been received to say). Returns the new rate.
    pub fn update(&mut self, usage: BandwidthUsage, received_bps: Option<f64>, rtt_us: i64, now_us: i64) -> f64 {
        let dt_s = self.last_update_us.map_or(0.0, |t| ((now_us - t) as f64 / 1e6).clamp(0.0, 1.0));
        self.last_update_us = Some(now_us);
        self.state = match usage {
            BandwidthUsage::Overusing => RateState::Decrease,
            BandwidthUsage::Underusing => RateState::Hold,
            BandwidthUsage::Normal => RateState::Increase,
        };
        match self.state {
            RateState::Decrease => {
                let base = received_bps.unwrap_or(self.rate_bps);
                self.rate_bps = (BETA * base).min(self.rate_bps);
                self.last_decrease_bps = Some(base);
                // one decrease per overuse signal: hold until the detector says normal again
                self.state = RateState::Hold;
            }
            RateState::Hold => {}
            RateState::Increase => {
                // the path demonstrably carries what arrived: an estimate below it (after a
                // limit went away) starts from there rather than climbing 8 % a second
                if let Some(received) = received_bps {
                    self.rate_bps = self.rate_bps.max(received);
                }
                let near_convergence = self.last_decrease_bps.is_some_and(|d| (self.rate_bps - d).abs() < 0.15 * d);
                if near_convergence {
                    // additive (§5.5): half a packet per response time (RTT + 100 ms), at least 1 kbit/s
                    let response_s = (rtt_us.max(0) as f64 / 1e6) + 0.1;
                    let alpha = 0.5 * (dt_s / response_s).min(1.0);
                    self.rate_bps += (alpha * PACKET_BITS).max(1000.0);
                } else {
                    self.rate_bps *= INCREASE_PER_S.powf(dt_s);
                }
            }
        }
        if let Some(received) = received_bps {
            self.rate_bps = self.rate_bps.min(RECEIVE_MULTIPLE * received + HEADROOM_BPS);
        }
        self.rate_bps = self.rate_bps.clamp(self.min_bps, self.max_bps);
        self.rate_bps
    }
}

/// The loss-based bound (§6): down by half the loss share when more than 10 % is lost, up 5 %
/// when less than 2 %, never below what demonstrably arrived.
#[derive(Debug, Clone)]
pub struct LossBound {
    rate_bps: f64,
    last_change_us: Option<i64>,
    min_bps: f64,
    max_bps: f64,
}

impl LossBound {
    /// Starts at `start_bps`, bounded by `min_bps..=max_bps`.
    pub fn new(start_bps: f64, min_bps: f64, max_bps: f64) -> Self {
        LossBound { rate_bps: start_bps.clamp(min_bps, max_bps), last_change_us: None, min_bps, max_bps }
    }

    /// The current bound, bit/s.
    pub fn rate_bps(&self) -> f64 {
        self.rate_bps
    }

    /// The loss share (0–1) of the packets a feedback window reported, the rate received over it
    /// and the delay-based rate (the bound is raised only up to it). Returns the new bound.
    pub fn update(&mut self, loss: f64, received_bps: Option<f64>, delay_based_bps: f64, rtt_us: i64, now_us: i64) -> f64 {
        let due = self.last_change_us.is_none_or(|t| now_us - t >= LOSS_INTERVAL_US + rtt_us.max(0));
        if due {
            if loss > LOSS_HIGH {
                let floor = received_bps.unwrap_or(self.min_bps);
                self.rate_bps = (self.rate_bps * (1.0 - 0.5 * loss)).max(floor);
                self.last_change_us = Some(now_us);
            } else if loss < LOSS_LOW {
                self.rate_bps = (self.rate_bps * 1.05).max(received_bps.unwrap_or(0.0));
                self.last_change_us = Some(now_us);
            }
        }
        // the bound limits, it does not lead: never far above the delay-based rate
        self.rate_bps = self.rate_bps.min(delay_based_bps.max(self.min_bps) * 1.5).clamp(self.min_bps, self.max_bps);
        self.rate_bps
    }
}
