//! The estimator against a simulated path: a sender forwarding a constant-rate stream (30
//! frames/s, each a burst of 1200-byte packets) through a bottleneck of a given capacity with a
//! drop-tail queue, feedback every 100 ms as a receiver sends it.

use super::*;
use crate::rtcp::TwccPacket;

/// One simulated run: `capacity(t_s)` bit/s of the bottleneck, the source's bit/s, seconds.
/// Returns `(t_s, estimate_bps, received_bps)` after each feedback.
fn simulate(capacity: impl Fn(f64) -> f64, source_bps: f64, seconds: f64) -> Vec<(f64, f64, Option<f64>)> {
    const BASE_DELAY_US: i64 = 20_000;
    const QUEUE_US: i64 = 300_000;
    /// The receiver's clock runs 5 s ahead of the sender's (only differences count).
    const RECEIVER_OFFSET_US: i64 = 5_000_000;
    let mut bwe = BandwidthEstimator::default();
    bwe.set_rtt(2 * BASE_DELAY_US);
    let frame_us = 1_000_000 / 30;
    let packets_per_frame = ((source_bps / 30.0 / 8.0) / 1200.0).ceil() as usize;
    let mut link_free_us = 0i64;
    let mut seq: u16 = 0;
    // (arrival at the receiver in true time, sequence, delivered)
    let mut in_flight: Vec<(i64, u16, bool)> = Vec::new();
    let mut next_feedback_us = 100_000;
    let mut pending: Vec<(u16, Option<i64>)> = Vec::new();
    let mut out = Vec::new();
    let mut t = 0i64;
    while t < (seconds * 1e6) as i64 {
        for i in 0..packets_per_frame {
            let sent = t + i as i64 * 10;
            bwe.sent(seq, sent, 1200);
            let cap = capacity(sent as f64 / 1e6);
            let start = sent.max(link_free_us);
            let departure = start + (1200.0 * 8.0 * 1e6 / cap) as i64;
            if departure - sent > QUEUE_US {
                in_flight.push((sent + BASE_DELAY_US, seq, false)); // dropped at the queue
            } else {
                link_free_us = departure;
                in_flight.push((departure + BASE_DELAY_US, seq, true));
            }
            seq = seq.wrapping_add(1);
        }
        t += frame_us;
        // the receiver reports every 100 ms what arrived by then (in sequence order)
        while next_feedback_us <= t {
            in_flight.sort_by_key(|p| p.1.wrapping_sub(pending.first().map_or(0, |x| x.0)));
            let (done, rest): (Vec<_>, Vec<_>) = in_flight.drain(..).partition(|p| p.0 <= next_feedback_us);
            in_flight = rest;
            pending.extend(done.into_iter().map(|(at, s, ok)| (s, ok.then_some(at + RECEIVER_OFFSET_US))));
            pending.sort_by_key(|p| p.0);
            if !pending.is_empty() {
                let fb = TransportFeedback { packets: pending.drain(..).map(|(sequence, arrival_us)| TwccPacket { sequence, arrival_us }).collect(), ..Default::default() };
                let u = bwe.feedback(&fb, next_feedback_us + BASE_DELAY_US);
                out.push((next_feedback_us as f64 / 1e6, u.estimate_bps, u.received_bps));
            }
            next_feedback_us += 100_000;
        }
    }
    out
}

fn mean_after(run: &[(f64, f64, Option<f64>)], from_s: f64, to_s: f64) -> f64 {
    let v: Vec<f64> = run.iter().filter(|r| r.0 >= from_s && r.0 < to_s).map(|r| r.1).collect();
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn a_400_kbit_path_under_a_1_2_mbit_stream_is_estimated_near_its_capacity() {
    let run = simulate(|_| 400_000.0, 1_200_000.0, 15.0);
    let settled = mean_after(&run, 8.0, 15.0);
    assert!((250_000.0..=550_000.0).contains(&settled), "estimate {settled:.0} bit/s on a 400 kbit/s path");
}

#[test]
fn a_wide_path_is_estimated_at_least_at_the_stream_rate() {
    let run = simulate(|_| 20_000_000.0, 1_200_000.0, 10.0);
    let settled = mean_after(&run, 5.0, 10.0);
    assert!((1_150_000.0..=2_250_000.0).contains(&settled), "estimate {settled:.0} bit/s on a 20 Mbit/s path with a 1.2 Mbit/s stream");
}

#[test]
fn a_capacity_drop_is_followed_within_three_seconds_and_a_rise_within_fifteen() {
    let run = simulate(|t| if (5.0..15.0).contains(&t) { 400_000.0 } else { 20_000_000.0 }, 1_200_000.0, 30.0);
    assert!(mean_after(&run, 4.0, 5.0) > 1_000_000.0);
    let after_drop = mean_after(&run, 7.0, 8.0);
    assert!(after_drop < 600_000.0, "2–3 s after the drop: {after_drop:.0} bit/s");
    let recovered = mean_after(&run, 28.0, 30.0);
    assert!(recovered > 1_100_000.0, "15 s after the rise: {recovered:.0} bit/s");
}

#[test]
fn remb_caps_the_estimate_and_unknown_sequence_numbers_are_skipped() {
    let mut bwe = BandwidthEstimator::default();
    bwe.remb(200_000.0);
    assert_eq!(bwe.estimate_bps(), 200_000.0);
    // feedback about packets never sent: nothing learned, nothing panics
    let fb = TransportFeedback { packets: (0..100).map(|s| TwccPacket { sequence: s, arrival_us: Some(i64::from(s) * 1000) }).collect(), ..Default::default() };
    let u = bwe.feedback(&fb, 1_000_000);
    assert_eq!(u.received_bps, None);
    assert!(u.estimate_bps <= 200_000.0);
}

#[test]
fn retransmissions_get_what_the_estimate_leaves_after_the_media() {
    let mut budget = RetransmissionBudget::default();
    // no estimate: as many bytes as the media took (this second or the one before)
    assert!(!budget.allow(0, 1200, None), "no media yet: nothing to repair");
    budget.media(0, 30_000);
    assert_eq!((0..100).filter(|i| budget.allow(10 + i, 1200, None)).count(), 25);
    assert_eq!((0..100).filter(|i| budget.allow(1_000_000 + i, 1200, None)).count(), 25, "the second after: the media of the one before");
    assert!(!budget.allow(3_500_000, 1200, None), "after a silent second: nothing");
    let mut budget = RetransmissionBudget::default();
    // 400 kbit/s, no media this second: 50 000 bytes, 41 packets of 1200 bytes
    let allowed = (0..100).filter(|i| budget.allow(1_000_000 + i * 100, 1200, Some(400_000.0))).count();
    assert_eq!(allowed, 41);
    assert_eq!(budget.refused, 59);
    // a new second with 30 000 bytes of media: 20 000 bytes left, 16 packets
    budget.media(2_000_000, 30_000);
    assert_eq!((0..100).filter(|i| budget.allow(2_000_001 + i, 1200, Some(400_000.0))).count(), 16);
    // media above the estimate: a tenth of it still (5 000 bytes, 4 packets)
    budget.media(3_000_000, 100_000);
    assert_eq!((0..100).filter(|i| budget.allow(3_000_001 + i, 1200, Some(400_000.0))).count(), 4);
}
