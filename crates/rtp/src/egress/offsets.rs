//! [`SequenceOffsets`]: which offset a subscriber's packet went out with.

use std::collections::VecDeque;

/// Offsets remembered, newest last (each GOP replay or keyframe skip adds one).
const HISTORY: usize = 8;

/// A subscriber's sequence-number offsets against its stream, oldest first. Live stream packet
/// `s` goes out as `s + offset` (mod 2^16); each entry holds from subscriber sequence number
/// `from` on, up to the next entry (`from` is `None` when it is not known, e.g. an offset set
/// before any packet was sent).
#[derive(Debug, Clone)]
pub struct SequenceOffsets {
    entries: VecDeque<(Option<u16>, u16)>,
}

impl Default for SequenceOffsets {
    fn default() -> Self {
        SequenceOffsets { entries: VecDeque::from([(None, 0)]) }
    }
}

impl SequenceOffsets {
    /// The offset live packets get now.
    pub fn current(&self) -> u16 {
        self.entries.back().map_or(0, |&(_, o)| o)
    }

    /// From subscriber sequence number `from` on, live packets go out with `offset` added.
    pub fn set(&mut self, offset: u16, from: Option<u16>) {
        self.entries.push_back((from, offset));
        if self.entries.len() > HISTORY {
            self.entries.pop_front();
        }
    }

    /// The offset subscriber sequence number `seq` went out with: the newest entry whose
    /// `from` is at or before `seq` (serial number arithmetic, RFC 1982), else the oldest.
    pub fn at(&self, seq: u16) -> u16 {
        for &(from, offset) in self.entries.iter().rev() {
            match from {
                None => return offset,
                Some(f) if seq.wrapping_sub(f) < 0x8000 => return offset,
                _ => {}
            }
        }
        self.entries.front().map_or(0, |&(_, o)| o)
    }
}
