//! [`SendHistory`]: when each packet carrying a transport-wide sequence number left, and its
//! size, so a feedback's arrival times can be set against the send times.

/// Packets remembered (a power of two): about 8 s at 2.5 Mbit/s; older entries are overwritten.
pub const HISTORY_PACKETS: usize = 2048;

/// 8 bytes, so that a viewer's history is 16 KB (every WebRTC viewer has one).
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// The 16-bit transport-wide sequence number the slot holds (a slot is reused every
    /// [`HISTORY_PACKETS`] numbers).
    sequence: u16,
    /// Bytes on the wire (the protected packet; at most `u16::MAX`); 0 for an empty slot.
    size: u16,
    /// Send time, the low 32 bits of µs on the sender's clock (the rest comes from the
    /// latest send: entries are overwritten long before 2^32 µs, 71 minutes, pass).
    sent_us: u32,
}

/// A fixed ring of sent packets indexed by transport-wide sequence number.
#[derive(Debug, Clone)]
pub struct SendHistory {
    entries: Box<[Entry]>,
    /// The latest send time recorded, µs.
    latest_us: i64,
}

impl Default for SendHistory {
    fn default() -> Self {
        SendHistory { entries: vec![Entry::default(); HISTORY_PACKETS].into_boxed_slice(), latest_us: 0 }
    }
}

impl SendHistory {
    /// Records packet `sequence` sent at `sent_us` (µs) with `size` bytes (counted as
    /// `u16::MAX` above it; a packet of 0 bytes is not recorded).
    pub fn sent(&mut self, sequence: u16, sent_us: i64, size: u32) {
        self.latest_us = self.latest_us.max(sent_us);
        let size = u16::try_from(size).unwrap_or(u16::MAX);
        self.entries[usize::from(sequence) % HISTORY_PACKETS] = Entry { sequence, size, sent_us: sent_us as u32 };
    }

    /// `(send time µs, size)` of packet `sequence`, if it is still remembered.
    pub fn get(&self, sequence: u16) -> Option<(i64, u32)> {
        let e = self.entries[usize::from(sequence) % HISTORY_PACKETS];
        let age = i64::from((self.latest_us as u32).wrapping_sub(e.sent_us));
        (e.sequence == sequence && e.size != 0).then_some((self.latest_us - age, u32::from(e.size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_times_come_back_whole_across_the_32_bit_wrap() {
        let mut h = SendHistory::default();
        assert_eq!(h.get(0), None, "empty");
        let t0 = (1i64 << 32) - 500; // 500 µs before the low 32 bits wrap
        h.sent(7, t0, 1200);
        h.sent(8, t0 + 1_000, 70_000);
        assert_eq!(h.get(7), Some((t0, 1200)));
        assert_eq!(h.get(8), Some((t0 + 1_000, u32::from(u16::MAX))));
        assert_eq!(h.get(7 + HISTORY_PACKETS as u16), None, "another number in the slot");
        h.sent(7 + HISTORY_PACKETS as u16, t0 + 2_000, 100);
        assert_eq!(h.get(7), None, "overwritten");
        assert_eq!(h.get(8), Some((t0 + 1_000, u32::from(u16::MAX))));
    }
}
