//! Send-side bandwidth estimation from transport-wide congestion control feedback (Google
//! Congestion Control as draft-ietf-rmcat-gcc-02 describes it, send-side variant), sans-IO:
//! packets sent (transport-wide sequence number, µs, bytes) and feedback packets (with the
//! time they came, µs) in, an estimate in bit/s out.
//!
//! - [`history`]: when each packet left and how big it was.
//! - [`trendline`]: the delay-based overuse detector (inter-group delay variation, trendline
//!   slope, adaptive threshold).
//! - [`rate`]: AIMD rate control on its signal and the loss-based bound.
//! - [`recorder`]: the receive side, feedback for a sender (a WebRTC publisher).
//!
//! The estimate is `min(delay-based, loss-based)`, never above 1.5× the rate the receiver
//! reported receiving (plus 10 kbit/s): a relay forwards what publishers send and does not
//! probe, so the estimate says what a receiver's path carries up to a little above what it
//! is given. A REMB (draft-alvestrand-rmcat-remb-03) from the receiver caps it.
//!
//! Times are µs on the sender's clock (send times, feedback arrival) and on the receiver's
//! (the feedback's arrival times); only differences within one clock are used.

pub mod history;
pub mod rate;
pub mod recorder;
pub mod trendline;

use std::collections::VecDeque;

use crate::rtcp::TransportFeedback;
use history::SendHistory;
use rate::{AimdRate, LossBound};
use trendline::{BandwidthUsage, TrendlineDetector};

/// The receive rate is measured over this much of the receiver's arrival times, µs.
const RECEIVE_WINDOW_US: i64 = 500_000;
/// Received packets needed in the window before the receive rate counts.
const RECEIVE_MIN_PACKETS: usize = 10;
/// Packets a loss share is measured over (at least).
const LOSS_MIN_PACKETS: u32 = 20;

/// Bounds and start of an estimate, bit/s.
#[derive(Debug, Clone, Copy)]
pub struct BweConfig {
    /// The estimate before any feedback.
    pub start_bps: f64,
    /// Floor of the estimate.
    pub min_bps: f64,
    /// Ceiling of the estimate.
    pub max_bps: f64,
}

impl Default for BweConfig {
    fn default() -> Self {
        BweConfig { start_bps: 1_000_000.0, min_bps: 30_000.0, max_bps: 50_000_000.0 }
    }
}

/// What one feedback packet changed (see [`BandwidthEstimator::feedback`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BweUpdate {
    /// The estimate, bit/s.
    pub estimate_bps: f64,
    /// The receive rate over the last 500 ms of arrivals, bit/s (`None` until enough arrived).
    pub received_bps: Option<f64>,
    /// Share of the packets this feedback reported that were lost (0–1).
    pub loss: f64,
    /// The delay-based detector's conclusion.
    pub usage: BandwidthUsage,
}

/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct BandwidthEstimator {
    history: SendHistory,
    detector: TrendlineDetector,
    aimd: AimdRate,
    loss_bound: LossBound,
    /// `(arrival µs on the receiver's clock, bytes)` of recent received packets.
    received: VecDeque<(i64, u32)>,
    received_bytes: u64,
    /// Loss accumulated until [`LOSS_MIN_PACKETS`] are reported.
    loss_reported: u32,
    loss_lost: u32,
    last_loss: f64,
    remb_bps: Option<f64>,
    rtt_us: i64,
    estimate_bps: f64,
    min_bps: f64,
    feedbacks: u64,
}

impl Default for BandwidthEstimator {
    fn default() -> Self {
        Self::new(BweConfig::default())
    }
}

impl BandwidthEstimator {
    /// An estimator starting at `config.start_bps`.
    pub fn new(config: BweConfig) -> Self {
        BandwidthEstimator {
            history: SendHistory::default(),
            detector: TrendlineDetector::default(),
            aimd: AimdRate::new(config.start_bps, config.min_bps, config.max_bps),
            loss_bound: LossBound::new(config.start_bps, config.min_bps, config.max_bps),
            received: VecDeque::new(),
            received_bytes: 0,
            loss_reported: 0,
            loss_lost: 0,
            last_loss: 0.0,
            remb_bps: None,
            rtt_us: 0,
            estimate_bps: config.start_bps.clamp(config.min_bps, config.max_bps),
            min_bps: config.min_bps,
            feedbacks: 0,
        }
    }

    /// The current estimate, bit/s.
    pub fn estimate_bps(&self) -> f64 {
        self.estimate_bps
    }

    /// Feedback packets taken.
    pub fn feedbacks(&self) -> u64 {
        self.feedbacks
    }

    /// A packet with transport-wide sequence number `sequence` left at `sent_us` with `size`
    /// bytes on the wire.
    pub fn sent(&mut self, sequence: u16, sent_us: i64, size: u32) {
        self.history.sent(sequence, sent_us, size);
    }

    /// The round-trip time, µs, when the sender knows it (RTCP receiver reports): it paces the
    /// additive increase and the loss-based bound.
    pub fn set_rtt(&mut self, rtt_us: i64) {
        self.rtt_us = rtt_us.max(0);
    }

    /// A REMB from the receiver: the estimate stays at or below it.
    pub fn remb(&mut self, bps: f64) {
        self.remb_bps = (bps.is_finite() && bps > 0.0).then_some(bps);
        self.estimate_bps = self.bounded(self.estimate_bps);
    }

    fn bounded(&self, bps: f64) -> f64 {
        self.remb_bps.map_or(bps, |r| bps.min(r)).max(self.min_bps)
    }

    /// A transport-wide CC feedback that arrived at `now_us`: its received packets go through
    /// the delay-based detector in send order, its lost ones into the loss share. Packets the
    /// history no longer (or never) knew are skipped.
    pub fn feedback(&mut self, feedback: &TransportFeedback, now_us: i64) -> BweUpdate {
        self.feedbacks += 1;
        let mut arrivals: Vec<(i64, i64, u32)> = Vec::with_capacity(feedback.packets.len());
        for p in &feedback.packets {
            let Some((sent_us, size)) = self.history.get(p.sequence) else { continue };
            self.loss_reported += 1;
            match p.arrival_us {
                Some(arrival_us) => arrivals.push((sent_us, arrival_us, size)),
                None => self.loss_lost += 1,
            }
        }
        arrivals.sort_by_key(|a| a.0);
        let mut usage = self.detector.usage();
        for &(sent_us, arrival_us, size) in &arrivals {
            if let Some(u) = self.detector.packet(sent_us, arrival_us) {
                usage = u;
            }
            self.received.push_back((arrival_us, size));
            self.received_bytes += u64::from(size);
        }
        let received_bps = self.receive_rate();
        if self.loss_reported >= LOSS_MIN_PACKETS {
            self.last_loss = f64::from(self.loss_lost) / f64::from(self.loss_reported);
            self.loss_reported = 0;
            self.loss_lost = 0;
        }
        let delay_based = self.aimd.update(usage, received_bps, self.rtt_us, now_us);
        let loss_based = self.loss_bound.update(self.last_loss, received_bps, delay_based, self.rtt_us, now_us);
        self.estimate_bps = self.bounded(delay_based.min(loss_based));
        BweUpdate { estimate_bps: self.estimate_bps, received_bps, loss: self.last_loss, usage }
    }

    /// Bit/s received over the last [`RECEIVE_WINDOW_US`] of arrival times.
    fn receive_rate(&mut self) -> Option<f64> {
        let newest = self.received.back()?.0;
        while let Some(&(t, size)) = self.received.front() {
            if newest - t <= RECEIVE_WINDOW_US {
                break;
            }
            self.received.pop_front();
            self.received_bytes -= u64::from(size);
        }
        let oldest = self.received.front()?.0;
        let span_us = (newest - oldest).max(1);
        (self.received.len() >= RECEIVE_MIN_PACKETS && span_us >= RECEIVE_WINDOW_US / 4).then(|| self.received_bytes as f64 * 8.0 * 1e6 / span_us as f64)
    }
}

/// Retransmissions a sender may make to one receiver in a second: what the bandwidth estimate
/// leaves after the media sent in that second, and at least a tenth of the estimate (libwebrtc
/// keeps NACK answers under its target rate the same way); without an estimate (a transport
/// without transport-cc feedback, or before the first), as many bytes as the media took in the
/// last second, so retransmissions at most double what the receiver is sent. A relay cannot slow
/// the media down for one receiver, so a receiver whose path is narrower than the stream, asking
/// again and again for what its path dropped, does not make the sender flood that path further.
#[derive(Debug, Clone, Default)]
pub struct RetransmissionBudget {
    window_start_us: i64,
    media_bytes: u64,
    /// Media bytes of the window before (0 when it was not the one just before).
    previous_media_bytes: u64,
    retransmitted_bytes: u64,
    /// Retransmissions refused so far.
    pub refused: u64,
}

/// Share of the estimate retransmissions may always use.
const RETRANSMISSION_FLOOR: f64 = 0.1;
/// The budget's window, µs.
const WINDOW_US: i64 = 1_000_000;

impl RetransmissionBudget {
    /// Starts a new one-second window when `now_us` left the current one.
    fn roll(&mut self, now_us: i64) {
        let age = now_us - self.window_start_us;
        if !(0..WINDOW_US).contains(&age) {
            self.previous_media_bytes = if (WINDOW_US..2 * WINDOW_US).contains(&age) { self.media_bytes } else { 0 };
            self.window_start_us = now_us;
            self.media_bytes = 0;
            self.retransmitted_bytes = 0;
        }
    }

    /// `bytes` of media (not a retransmission) sent at `now_us`.
    pub fn media(&mut self, now_us: i64, bytes: usize) {
        self.roll(now_us);
        self.media_bytes += bytes as u64;
    }

    /// Whether a retransmission of `bytes` at `now_us` fits in this second's budget given the
    /// estimate (`None`: no estimate, the media's rate). Counts it when it does.
    pub fn allow(&mut self, now_us: i64, bytes: usize, estimate_bps: Option<f64>) -> bool {
        self.roll(now_us);
        let budget_bits = match estimate_bps {
            Some(estimate) => (estimate - self.media_bytes as f64 * 8.0).max(estimate * RETRANSMISSION_FLOOR),
            None => self.previous_media_bytes.max(self.media_bytes) as f64 * 8.0,
        };
        if (self.retransmitted_bytes + bytes as u64) as f64 * 8.0 > budget_bits {
            self.refused += 1;
            return false;
        }
        self.retransmitted_bytes += bytes as u64;
        true
    }
}

#[cfg(test)]
mod tests;
