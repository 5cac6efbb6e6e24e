//! [`FeedbackRecorder`]: the receive side of transport-wide congestion control
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1) — when each transport-wide sequence
//! number arrived, reported back to the sender in feedback packets so that its estimator (GCC in
//! a browser) can follow the path. What a WebRTC publisher needs from us to raise its bitrate
//! (and, with simulcast, to send its upper layers).

use std::collections::BTreeMap;

use crate::rtcp::twcc::{TransportFeedback, TwccPacket, REFERENCE_UNIT_US};

/// Packets one feedback reports at most (more wait for the next one).
pub const MAX_FEEDBACK_PACKETS: usize = 1000;
/// Arrivals kept while unreported, at most (the oldest go first: a sender that is never given
/// feedback cannot grow this).
const MAX_PENDING: usize = 4 * MAX_FEEDBACK_PACKETS;

/// See the [module docs](self). Sequence numbers are unwrapped to 64 bits (RFC 1982 serial
/// arithmetic against the highest seen); arrival times are µs on our clock.
#[derive(Debug, Default, Clone)]
pub struct FeedbackRecorder {
    /// Extended sequence number → arrival µs, unreported ones only.
    arrivals: BTreeMap<i64, i64>,
    /// The highest extended sequence number seen.
    highest: Option<i64>,
    /// The first extended sequence number the next feedback reports.
    next: Option<i64>,
    /// Feedback packets built so far (the feedback packet count, mod 256).
    count: u8,
}

impl FeedbackRecorder {
    /// Packet `sequence` (its transport-wide sequence number) arrived at `arrival_us`. A packet
    /// older than what was reported already is ignored (it was reported lost).
    pub fn record(&mut self, sequence: u16, arrival_us: i64) {
        let extended = match self.highest {
            None => (1 << 16) + sequence as i64,
            Some(h) => h + sequence.wrapping_sub(h as u16) as i16 as i64,
        };
        if self.next.is_some_and(|n| extended < n) {
            return;
        }
        self.arrivals.entry(extended).or_insert(arrival_us);
        self.highest = Some(self.highest.map_or(extended, |h| h.max(extended)));
        while self.arrivals.len() > MAX_PENDING {
            self.arrivals.pop_first();
        }
    }

    /// Whether arrivals wait to be reported.
    pub fn has_pending(&self) -> bool {
        !self.arrivals.is_empty()
    }

    /// The next feedback packet (`sender_ssrc`: ours; `media_ssrc`: the sender's, which
    /// receivers set and senders ignore), or `None` when nothing arrived since the last one. It
    /// reports every sequence number from the last one reported (or the first seen) up to the
    /// highest seen, at most [`MAX_FEEDBACK_PACKETS`]; the ones that did not arrive as lost.
    pub fn feedback(&mut self, sender_ssrc: u32, media_ssrc: u32) -> Option<TransportFeedback> {
        let (&first_seen, _) = self.arrivals.first_key_value()?;
        let base = self.next.map_or(first_seen, |n| n.max(first_seen - MAX_FEEDBACK_PACKETS as i64).min(first_seen));
        let end = self.highest?.min(base + MAX_FEEDBACK_PACKETS as i64 - 1);
        let earliest = self.arrivals.range(base..=end).map(|(_, &t)| t).min()?;
        let reference_time = earliest.div_euclid(REFERENCE_UNIT_US);
        let packets = (base..=end).map(|s| TwccPacket { sequence: s as u16, arrival_us: self.arrivals.get(&s).copied() }).collect();
        self.arrivals.retain(|&s, _| s > end);
        self.next = Some(end + 1);
        let feedback = TransportFeedback {
            sender_ssrc,
            media_ssrc,
            // 24 bits, signed (§3.1): our clock starts near 0, so this wraps after ~12 days
            reference_time: ((reference_time as i32) << 8) >> 8,
            feedback_count: self.count,
            packets,
        };
        self.count = self.count.wrapping_add(1);
        Some(feedback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{parse_compound, RtcpPacket};

    fn round_trip(f: &TransportFeedback) -> TransportFeedback {
        let mut out = Vec::new();
        f.write(&mut out).unwrap();
        match parse_compound(&out).next().unwrap().unwrap() {
            RtcpPacket::TransportFeedback(f) => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reports_arrivals_and_losses_in_order() {
        let mut r = FeedbackRecorder::default();
        r.record(65534, 1_000_000);
        r.record(65535, 1_001_000);
        r.record(1, 1_003_000); // 0 lost, wrapped
        r.record(3, 1_002_500); // 2 lost, 3 reordered (arrived earlier than 1)
        let f = round_trip(&r.feedback(7, 9).unwrap());
        assert_eq!(f.base_sequence(), 65534);
        let got: Vec<_> = f.packets.iter().map(|p| (p.sequence, p.arrival_us.map(|t| t - f.reference_time as i64 * REFERENCE_UNIT_US))).collect();
        let reference = (1_000_000 / REFERENCE_UNIT_US) * REFERENCE_UNIT_US;
        assert_eq!(got, vec![(65534, Some(1_000_000 - reference)), (65535, Some(1_001_000 - reference)), (0, None), (1, Some(1_003_000 - reference)), (2, None), (3, Some(1_002_500 - reference))]);
        assert_eq!(f.feedback_count, 0);
        assert!(!r.has_pending());
        assert!(r.feedback(7, 9).is_none());
        // the next one starts where this one ended; a late packet already reported is ignored
        r.record(2, 1_004_000);
        r.record(5, 1_010_000);
        let f = round_trip(&r.feedback(7, 9).unwrap());
        assert_eq!(f.base_sequence(), 4);
        assert_eq!(f.packets.iter().map(|p| p.arrival_us.is_some()).collect::<Vec<_>>(), vec![false, true]);
        assert_eq!(f.feedback_count, 1);
    }

    #[test]
    fn bounded_per_feedback_and_pending() {
        let mut r = FeedbackRecorder::default();
        for i in 0..(MAX_PENDING as u32 + 500) {
            r.record(i as u16, i as i64 * 100);
        }
        assert_eq!(r.arrivals.len(), MAX_PENDING);
        let f = r.feedback(1, 2).unwrap();
        assert_eq!(f.packets.len(), MAX_FEEDBACK_PACKETS);
        assert!(f.packets.iter().all(|p| p.arrival_us.is_some()));
        let mut out = Vec::new();
        f.write(&mut out).unwrap();
    }
}
