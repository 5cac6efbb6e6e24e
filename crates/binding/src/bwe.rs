//! `BandwidthEstimator`: the send-side estimator of `sluice_rtp::bwe` (GCC from transport-wide
//! CC feedback) for JS — for senders built in JS and for `bench/bwe.bench.mjs`. The native WHEP
//! transport runs the same estimator per viewer on its own threads.

use napi_derive::napi;
use sluice_rtp::bwe::{trendline::BandwidthUsage, BandwidthEstimator as Estimator, BweConfig};
use sluice_rtp::rtcp::{parse_compound, RtcpPacket};

/// What a feedback changed.
#[napi(object)]
pub struct BweUpdateObject {
    /// The estimate, bit/s.
    pub estimate_bps: f64,
    /// What the receiver reported receiving over the last 500 ms, bit/s (`null` until known).
    pub received_bps: Option<f64>,
    /// Share of the reported packets that were lost (0–1).
    pub loss: f64,
    /// The delay-based detector: `normal`, `overusing` or `underusing`.
    #[napi(ts_type = "'normal' | 'overusing' | 'underusing'")]
    pub usage: String,
}

/// A send-side bandwidth estimate for one receiver (see `crates/rtp/src/bwe`).
#[napi]
pub struct BandwidthEstimator {
    inner: Estimator,
}

#[napi]
impl BandwidthEstimator {
    /// Starts at `startBps` (default 1 000 000), within 30 kbit/s–50 Mbit/s.
    #[napi(constructor)]
    pub fn new(start_bps: Option<f64>) -> Self {
        let mut config = BweConfig::default();
        if let Some(s) = start_bps.filter(|s| s.is_finite() && *s > 0.0) {
            config.start_bps = s;
        }
        BandwidthEstimator { inner: Estimator::new(config) }
    }

    /// Packets sent with transport-wide sequence numbers `firstSequence`, `firstSequence + 1`, …
    /// (wrapping at 65 536), `count` of them, the first at `firstSentUs` (µs on the sender's
    /// clock) and each `intervalUs` after the one before, `size` bytes each.
    #[napi]
    pub fn sent(&mut self, first_sequence: u32, count: u32, first_sent_us: f64, interval_us: f64, size: u32) {
        for i in 0..count {
            let sequence = (first_sequence.wrapping_add(i) & 0xFFFF) as u16;
            self.inner.sent(sequence, (first_sent_us + interval_us * f64::from(i)) as i64, size);
        }
    }

    /// A compound RTCP packet from the receiver at `nowUs`: its transport-wide CC feedback and
    /// REMB go to the estimator. Returns the update of its last feedback, `null` when it had
    /// none (or could not be parsed: nothing is thrown, a bad packet changes nothing).
    #[napi]
    pub fn feedback(&mut self, rtcp: &[u8], now_us: f64) -> Option<BweUpdateObject> {
        let mut last = None;
        for packet in parse_compound(rtcp).map_while(Result::ok) {
            match packet {
                RtcpPacket::TransportFeedback(f) => last = Some(self.inner.feedback(&f, now_us as i64)),
                RtcpPacket::Remb(r) => self.inner.remb(r.bitrate as f64),
                _ => {}
            }
        }
        last.map(|u| BweUpdateObject {
            estimate_bps: u.estimate_bps,
            received_bps: u.received_bps,
            loss: u.loss,
            usage: match u.usage {
                BandwidthUsage::Normal => "normal",
                BandwidthUsage::Overusing => "overusing",
                BandwidthUsage::Underusing => "underusing",
            }
            .into(),
        })
    }

    /// The current estimate, bit/s.
    #[napi(getter)]
    pub fn estimate_bps(&self) -> f64 {
        self.inner.estimate_bps()
    }
}
