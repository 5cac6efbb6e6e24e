//! [`SendHistory`]: when each packet carrying a transport-wide sequence number left, and its
//! size, so a feedback's arrival times can be set against the send times.

/// Packets remembered (a power of two): about 8 s at 2.5 Mbit/s; older entries are overwritten.
pub const HISTORY_PACKETS: usize = 2048;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// The 16-bit transport-wide sequence number the slot holds (a slot is reused every
    /// [`HISTORY_PACKETS`] numbers).
    sequence: u16,
    /// Send time, µs on the sender's clock; `i64::MIN` for an empty slot.
    sent_us: i64,
    /// Bytes on the wire (the protected packet).
    size: u32,
}

/// A fixed ring of sent packets indexed by transport-wide sequence number.
#[derive(Debug, Clone)]
pub struct SendHistory {
    entries: Box<[Entry]>,
}

impl Default for SendHistory {
    fn default() -> Self {
        SendHistory { entries: vec![Entry { sequence: 0, sent_us: i64::MIN, size: 0 }; HISTORY_PACKETS].into_boxed_slice() }
    }
}

impl SendHistory {
    /// Records packet `sequence` sent at `sent_us` (µs) with `size` bytes.
    pub fn sent(&mut self, sequence: u16, sent_us: i64, size: u32) {
        self.entries[usize::from(sequence) % HISTORY_PACKETS] = Entry { sequence, sent_us, size };
    }

    /// `(send time µs, size)` of packet `sequence`, if it is still remembered.
    pub fn get(&self, sequence: u16) -> Option<(i64, u32)> {
        let e = self.entries[usize::from(sequence) % HISTORY_PACKETS];
        (e.sequence == sequence && e.sent_us != i64::MIN).then_some((e.sent_us, e.size))
    }
}
