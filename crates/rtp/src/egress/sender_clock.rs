//! [`SenderClock`]: the clock of one sent track, for its sender reports (RFC 3550 §6.4.1).

use crate::rtcp::{ntp_from_unix_ms, RtcpPacket, SenderReport};

/// Where one track's RTP timestamps stand against the wallclock, learned from the packets sent
/// (the newest RTP timestamp and when it was sent) or set from a publisher's own sender report
/// (its capture clock, for lip sync across forwarded tracks). A report extrapolates to its
/// time: `rtp = anchor_rtp + (now − anchor_wall) × clock_rate / 1000`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SenderClock {
    /// The track's SSRC (from its packets).
    pub ssrc: Option<u32>,
    /// Ticks per second: 90 000 for video (the default), 48 000 for Opus (the audio default),
    /// the sampling rate for AAC.
    pub clock_rate: u32,
    /// `(rtp timestamp, wallclock Unix ms)`.
    anchor: Option<(u32, f64)>,
    /// The anchor came from a sender report: packets no longer move it.
    explicit: bool,
}

impl SenderClock {
    /// A clock of `clock_rate` ticks per second, not anchored yet.
    pub fn new(clock_rate: u32) -> SenderClock {
        SenderClock { ssrc: None, clock_rate, anchor: None, explicit: false }
    }

    /// An RTP packet of the track sent at `now_ms`: its SSRC, and its timestamp as the anchor
    /// when it is newer than the anchor's (RFC 1982 serial arithmetic: a B-frame's older
    /// timestamp does not move the clock back, or reports would jitter by the reorder depth).
    pub fn sent(&mut self, packet: &[u8], now_ms: f64) {
        if packet.len() < 12 {
            return;
        }
        self.ssrc = Some(u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]));
        if self.explicit {
            return;
        }
        let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        match self.anchor {
            Some((last, _)) if (ts.wrapping_sub(last) as i32) <= 0 => {}
            _ => self.anchor = Some((ts, now_ms)),
        }
    }

    /// Learns the track's SSRC from a packet that does not move the clock (one injected for a
    /// single subscriber), so that feedback naming it is understood before live packets flow.
    pub fn learn_ssrc(&mut self, packet: &[u8]) {
        if packet.len() >= 12 {
            self.ssrc = Some(u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]));
        }
    }

    /// Anchors the clock on a mapping from a sender report (`rtp_timestamp` at Unix `wall_ms`);
    /// from now on only such mappings move it.
    pub fn anchor(&mut self, rtp_timestamp: u32, wall_ms: f64) {
        self.anchor = Some((rtp_timestamp, wall_ms));
        self.explicit = true;
    }

    /// The RTP timestamp at Unix `now_ms`, or `None` before the first anchor.
    pub fn timestamp_at(&self, now_ms: f64) -> Option<u32> {
        let (rtp, wall) = self.anchor?;
        let ticks = ((now_ms - wall) * f64::from(self.clock_rate) / 1000.0).round() as i64;
        Some(rtp.wrapping_add(ticks as u32))
    }

    /// A sender report (RFC 3550 §6.4.1, no report blocks, 28 bytes) at Unix `now_ms` with a
    /// receiver's counts, or `None` before the SSRC and the anchor are known.
    pub fn report(&self, now_ms: f64, packets: u32, octets: u32) -> Option<Vec<u8>> {
        let ssrc = self.ssrc?;
        let rtp_timestamp = self.timestamp_at(now_ms)?;
        let sr = SenderReport { ssrc, ntp_time: ntp_from_unix_ms(now_ms), rtp_timestamp, packet_count: packets, octet_count: octets, blocks: Vec::new() };
        let mut out = Vec::with_capacity(28);
        RtcpPacket::SenderReport(sr).write(&mut out).ok()?;
        Some(out)
    }
}
