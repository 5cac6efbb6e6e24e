//! [`RetransmissionRing`]: the last packets of one RTP track, by sequence number.

use super::sequence_number;
use crate::packet::FIXED_HEADER_LEN;

/// The last `capacity` RTP packets of one track (a power of two), kept by sequence number for
/// retransmission on NACK (RFC 4585 §6.2.1): slot `seq % capacity`. A lookup answers only when
/// the slot still holds that very sequence number. Slots keep their allocation when
/// overwritten, so a ring in steady state does not allocate; a ring takes no memory before its
/// first packet, and gives it all back on [`release`](Self::release) (a subscriber's GOP
/// replay, kept only until its NACKs could still ask for it).
#[derive(Debug, Clone)]
pub struct RetransmissionRing {
    /// Empty until the first packet, then `mask + 1` slots.
    slots: Vec<Vec<u8>>,
    mask: usize,
}

impl RetransmissionRing {
    /// A ring of `capacity` packets, rounded up to a power of two (at least 1). 1024 video
    /// packets are about 4 s at 2.5 Mbit/s.
    pub fn new(capacity: usize) -> RetransmissionRing {
        let capacity = capacity.max(1).next_power_of_two();
        RetransmissionRing { slots: Vec::new(), mask: capacity - 1 }
    }

    /// Packets the ring holds at most.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Keeps a copy of `packet` (an RTP packet, at least the 12-byte fixed header). Returns
    /// false, keeping nothing, for anything shorter.
    pub fn store(&mut self, packet: &[u8]) -> bool {
        if packet.len() < FIXED_HEADER_LEN {
            return false;
        }
        if self.slots.is_empty() {
            self.slots = vec![Vec::new(); self.mask + 1];
        }
        let slot = &mut self.slots[sequence_number(packet) as usize & self.mask];
        slot.clear();
        slot.extend_from_slice(packet);
        true
    }

    /// The kept packet with sequence number `seq`, if it has not been overwritten.
    pub fn get(&self, seq: u16) -> Option<&[u8]> {
        let slot = self.slots.get(seq as usize & self.mask)?;
        (slot.len() >= FIXED_HEADER_LEN && sequence_number(slot) == seq).then_some(slot.as_slice())
    }

    /// Whether it holds no memory (no packet stored since it was made or released).
    pub fn is_released(&self) -> bool {
        self.slots.is_empty()
    }

    /// Forgets every packet (allocations are kept).
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(Vec::clear);
    }

    /// Forgets every packet and frees the memory they took.
    pub fn release(&mut self) {
        self.slots = Vec::new();
    }
}
