//! A reordering (jitter) buffer bounded in time and in packets: RTP packets in, in any order,
//! out in sequence-number order, with the gaps reported twice — when first seen (so the
//! caller can send a NACK, RFC 4585 §6.2.1) and when given up on (so the depacketizer drops
//! the access unit that had a hole).
//!
//! Sequence numbers are extended to 64 bits by the RFC 3550 Appendix A.1 rule: a new number is
//! taken as the one nearest to the highest seen, so 65 535 → 0 is a wrap, not a jump back.
//!
//! A missing packet is waited for at most `max_delay_ms` after the first packet behind it
//! arrived (the caller's clock: arrival times are caller-given milliseconds, nothing here
//! reads a clock), and never when more than `capacity` packets are held behind it. A jump of
//! more than `capacity` sequence numbers is taken as a new stream (a publisher restart): what
//! was held is released, the gap is reported lost and the buffer restarts at the new number.

/// Default time a hole is waited for, in ms.
pub const DEFAULT_MAX_DELAY_MS: u32 = 100;
/// Default number of packets held, at most 32 768 (half the sequence space).
pub const DEFAULT_CAPACITY: usize = 512;

/// What [`ReorderBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Held for release in order.
    Accepted,
    /// Its sequence number was already held: dropped.
    Duplicate,
    /// Its sequence number was already released or given up on: dropped.
    TooLate,
    /// Accepted after a jump of more than the capacity: packets still held were forgotten
    /// and the buffer restarted at this packet. The caller should drop the frame in progress,
    /// as for [`Released::Lost`].
    Restarted,
}

/// One step of output from [`ReorderBuffer::pop`].
#[derive(Debug, PartialEq, Eq)]
pub enum Released<'a> {
    /// The next packet in order, with its extended sequence number.
    Packet {
        /// The 64-bit extended sequence number (RFC 3550 Appendix A.1).
        extended_sequence: u64,
        /// The packet bytes as pushed.
        data: &'a [u8],
    },
    /// `count` packets starting at `first` were given up on (never arrived in time).
    Lost {
        /// Extended sequence number of the first lost packet.
        first: u64,
        /// Number of consecutive lost packets.
        count: u64,
    },
}

#[derive(Debug, Default)]
struct Slot {
    filled: bool,
    extended_sequence: u64,
    arrival_ms: u64,
    data: Vec<u8>,
}

/// The reordering buffer; see the [module docs](self).
#[derive(Debug)]
pub struct ReorderBuffer {
    slots: Vec<Slot>,
    max_delay_ms: u64,
    /// Extended sequence number to release next; `None` before the first packet.
    next: Option<u64>,
    /// Highest extended sequence number accepted.
    highest: u64,
    held: usize,
    /// Sequence numbers first seen missing since the last [`take_missing`](Self::take_missing).
    missing: Vec<u16>,
    /// Packet taken out of its slot by the last `pop`, kept until the next call.
    released: Vec<u8>,
}

impl Default for ReorderBuffer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_DELAY_MS, DEFAULT_CAPACITY)
    }
}

impl ReorderBuffer {
    /// A buffer that waits at most `max_delay_ms` for a hole and holds at most `capacity`
    /// packets (clamped to 1..=32 768).
    pub fn new(max_delay_ms: u32, capacity: usize) -> Self {
        let capacity = capacity.clamp(1, 32_768);
        ReorderBuffer {
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            max_delay_ms: max_delay_ms as u64,
            next: None,
            highest: 0,
            held: 0,
            missing: Vec::new(),
            released: Vec::new(),
        }
    }

    fn capacity(&self) -> u64 {
        self.slots.len() as u64
    }

    fn slot_mut(&mut self, ext: u64) -> &mut Slot {
        let n = self.slots.len();
        &mut self.slots[(ext % n as u64) as usize]
    }

    /// The extended form of `seq`: the value congruent to it mod 2^16 nearest to the highest
    /// accepted (never below 0).
    fn extend(&self, seq: u16) -> u64 {
        let delta = seq.wrapping_sub(self.highest as u16) as i16 as i64;
        (self.highest as i64 + delta).max(0) as u64
    }

    /// Takes a packet with RTP sequence number `sequence_number` that arrived at `now_ms`
    /// (copied into a reused slot; the caller bounds packet sizes, e.g. by its socket's
    /// datagram size).
    pub fn push(&mut self, sequence_number: u16, packet: &[u8], now_ms: u64) -> PushOutcome {
        let Some(next) = self.next else {
            // First packet: start here (65 536 cycles of headroom below for reordering).
            let ext = (1u64 << 16) + sequence_number as u64;
            self.next = Some(ext);
            self.highest = ext;
            self.store(ext, packet, now_ms);
            return PushOutcome::Accepted;
        };
        let ext = self.extend(sequence_number);
        if ext < next {
            return PushOutcome::TooLate;
        }
        if ext >= next + self.capacity() {
            // Too far ahead to hold: a new stream (or a gap we could never fill).
            self.flush();
            self.next = Some(ext);
            self.highest = ext;
            self.store(ext, packet, now_ms);
            return PushOutcome::Restarted;
        }
        if self.slot_mut(ext).filled {
            return PushOutcome::Duplicate;
        }
        if ext > self.highest {
            for missing in self.highest + 1..ext {
                if self.missing.len() < 1024 {
                    self.missing.push(missing as u16);
                }
            }
            self.highest = ext;
        }
        self.store(ext, packet, now_ms);
        PushOutcome::Accepted
    }

    fn store(&mut self, ext: u64, packet: &[u8], now_ms: u64) {
        let slot = self.slot_mut(ext);
        slot.filled = true;
        slot.extended_sequence = ext;
        slot.arrival_ms = now_ms;
        slot.data.clear();
        slot.data.extend_from_slice(packet);
        self.held += 1;
    }

    /// Forgets every held packet (on [`PushOutcome::Restarted`]; the caller treats the
    /// frame in progress as lost).
    fn flush(&mut self) {
        for slot in &mut self.slots {
            slot.filled = false;
        }
        self.held = 0;
    }

    /// The next output, given the time is `now_ms`: the next packet in order if it is held;
    /// else, if a hole has been waited for long enough (or the buffer is full), the run of
    /// lost sequence numbers up to the next held packet; else `None` (wait for more input or
    /// call again later, see [`next_deadline_ms`](Self::next_deadline_ms)).
    pub fn pop(&mut self, now_ms: u64) -> Option<Released<'_>> {
        let next = self.next?;
        if self.held == 0 {
            return None;
        }
        let index = (next % self.capacity()) as usize;
        let slot = &mut self.slots[index];
        if slot.filled && slot.extended_sequence == next {
            slot.filled = false;
            std::mem::swap(&mut slot.data, &mut self.released);
            self.held -= 1;
            self.next = Some(next + 1);
            return Some(Released::Packet {
                extended_sequence: next,
                data: &self.released,
            });
        }
        // A hole at `next`: find the first held packet after it.
        let (first_held, arrival) = self.first_held_after(next)?;
        let waited = now_ms.saturating_sub(arrival) >= self.max_delay_ms;
        let full =
            self.held as u64 >= self.capacity() / 2 || first_held - next >= self.capacity() / 2;
        if waited || full {
            self.next = Some(first_held);
            return Some(Released::Lost {
                first: next,
                count: first_held - next,
            });
        }
        None
    }

    fn first_held_after(&self, next: u64) -> Option<(u64, u64)> {
        (next + 1..=self.highest).find_map(|ext| {
            let slot = &self.slots[(ext % self.capacity()) as usize];
            (slot.filled && slot.extended_sequence == ext).then_some((ext, slot.arrival_ms))
        })
    }

    /// When a held hole will be given up on (ms, the caller's clock), if there is one: call
    /// [`pop`](Self::pop) then.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let next = self.next?;
        if self.held == 0 {
            return None;
        }
        let slot = &self.slots[(next % self.capacity()) as usize];
        if slot.filled && slot.extended_sequence == next {
            return None;
        }
        self.first_held_after(next)
            .map(|(_, arrival)| arrival + self.max_delay_ms)
    }

    /// Sequence numbers first seen missing since the last call (at most 1024 per call), for
    /// a generic NACK (RFC 4585 §6.2.1).
    pub fn take_missing(&mut self) -> Vec<u16> {
        std::mem::take(&mut self.missing)
    }

    /// Number of packets held.
    pub fn held(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(b: &mut ReorderBuffer, now: u64) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(r) = b.pop(now) {
            out.push(match r {
                Released::Packet {
                    extended_sequence,
                    data,
                } => {
                    format!("{}:{}", extended_sequence as u16, data[0])
                }
                Released::Lost { first, count } => format!("lost {}+{}", first as u16, count),
            });
        }
        out
    }

    #[test]
    fn in_order_passes_through() {
        let mut b = ReorderBuffer::new(100, 64);
        for s in 0..5u16 {
            assert_eq!(b.push(s, &[s as u8], 0), PushOutcome::Accepted);
        }
        assert_eq!(drain(&mut b, 0), ["0:0", "1:1", "2:2", "3:3", "4:4"]);
    }

    #[test]
    fn reorders_across_the_wrap() {
        let mut b = ReorderBuffer::new(100, 64);
        b.push(65534, &[1], 0);
        b.push(0, &[3], 0);
        b.push(65535, &[2], 0);
        b.push(1, &[4], 0);
        assert_eq!(drain(&mut b, 0), ["65534:1", "65535:2", "0:3", "1:4"]);
        assert!(b.take_missing().contains(&65535));
    }

    #[test]
    fn hole_filled_before_deadline_is_not_lost() {
        let mut b = ReorderBuffer::new(100, 64);
        b.push(10, &[0], 0);
        b.push(12, &[2], 5);
        assert_eq!(drain(&mut b, 50), ["10:0"]);
        assert_eq!(b.next_deadline_ms(), Some(105));
        assert_eq!(b.take_missing(), vec![11]);
        b.push(11, &[1], 60);
        assert_eq!(drain(&mut b, 60), ["11:1", "12:2"]);
    }

    #[test]
    fn hole_given_up_after_deadline() {
        let mut b = ReorderBuffer::new(100, 64);
        b.push(10, &[0], 0);
        b.push(13, &[3], 5);
        assert_eq!(drain(&mut b, 104), ["10:0"]);
        assert_eq!(drain(&mut b, 105), ["lost 11+2", "13:3"]);
        assert_eq!(b.push(11, &[1], 106), PushOutcome::TooLate);
    }

    #[test]
    fn duplicates_and_late_packets_dropped() {
        let mut b = ReorderBuffer::new(100, 64);
        b.push(1, &[1], 0);
        b.push(3, &[3], 0);
        assert_eq!(b.push(3, &[9], 0), PushOutcome::Duplicate);
        drain(&mut b, 0);
        assert_eq!(b.push(1, &[1], 0), PushOutcome::TooLate);
    }

    #[test]
    fn big_jump_restarts() {
        let mut b = ReorderBuffer::new(100, 64);
        b.push(1, &[1], 0);
        b.push(3, &[3], 0);
        assert_eq!(b.push(30_000, &[7], 0), PushOutcome::Restarted);
        assert_eq!(drain(&mut b, 0), ["30000:7"]);
        assert_eq!(b.push(30_001, &[8], 0), PushOutcome::Accepted);
    }

    #[test]
    fn full_buffer_gives_up_without_waiting() {
        let mut b = ReorderBuffer::new(10_000, 16);
        b.push(0, &[0], 0);
        for s in 2..10u16 {
            b.push(s, &[s as u8], 0);
        }
        let out = drain(&mut b, 0);
        assert_eq!(out[0], "0:0");
        assert_eq!(out[1], "lost 1+1");
        assert_eq!(out.len(), 10);
    }
}
