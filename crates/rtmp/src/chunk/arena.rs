//! Payload memory for reassembled messages: one copy from the wire, no allocation per message.
//!
//! The chunk decoder reserves each message's whole length (the message header announces it,
//! RTMP 1.0 §5.3.1.2) in a [`Slab`] of [`SLAB_SIZE`] bytes, bump-allocated front to back, and
//! copies every chunk's payload straight to its place. A finished message is a [`Payload`]: a
//! shared, immutable view (slab, offset, length) that is cheap to clone and to slice. An arena's
//! slabs grow ×4 from 4 KiB to [`SLAB_SIZE`] ([`SLAB_CLASSES`]), so a connection that only
//! carries commands (an RTMP player's) holds 4 KiB while a publisher reaches 2 MiB slabs within
//! its first megabytes. A slab's memory goes back to a process-wide pool per size (at most
//! [`POOL_BYTES_PER_CLASS`] each) when its last view is dropped, so a busy connection writes into
//! pages that are already mapped instead of fresh ones. A message longer than
//! [`DEDICATED_MIN`] gets a slab of its own, allocated zeroed and lazily committed by the OS,
//! and never pooled.
//!
//! Invariants behind the `unsafe` below (this is the crate's only unsafe code):
//! - reservations are disjoint byte ranges of a slab (bump allocation never hands out a byte
//!   twice during a slab's life), and only the one [`Reservation`] of a range writes to it;
//! - a [`Payload`] is made only from a completely written reservation, which it consumes, so no
//!   byte a `Payload` can read is written again;
//! - the memory is freed or pooled only when the last `Arc<Slab>` is dropped.
//!
//! Embedders that share a slab's memory with another runtime (the N-API binding hands each
//! slab to JavaScript once, as an external Buffer, see [`Slab::as_ptr`]) must keep an
//! `Arc<Slab>` alive for as long as that runtime can read it, and read only ranges of finished
//! payloads. Ranges not yet written may hold bytes of an earlier user of pooled memory.
#![allow(unsafe_code)]

use std::fmt;
use std::ops::{Deref, Range};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes per pooled slab (2 MiB).
pub const SLAB_SIZE: usize = 2 << 20;
/// Messages longer than this (512 KiB) get a dedicated slab.
pub const DEDICATED_MIN: usize = SLAB_SIZE / 4;
/// Slab sizes in bytes: an arena's first slab is the smallest, each next one the next size
/// (or the first that holds the message), up to [`SLAB_SIZE`].
pub const SLAB_CLASSES: [usize; 6] = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, SLAB_SIZE];
/// Most bytes of free slabs the process keeps for reuse, per size (32 MiB).
pub const POOL_BYTES_PER_CLASS: usize = 32 << 20;

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_POOL: Mutex<Vec<Box<[u8]>>> = Mutex::new(Vec::new());
static POOLS: [Mutex<Vec<Box<[u8]>>>; SLAB_CLASSES.len()] = [EMPTY_POOL; SLAB_CLASSES.len()];
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// A block of payload memory, shared by the payloads reassembled into it.
pub struct Slab {
    ptr: NonNull<u8>,
    len: usize,
    serial: u64,
    /// Size class (index in [`SLAB_CLASSES`]) whose pool takes the memory back.
    class: Option<usize>,
}

// SAFETY: the memory is plain bytes owned by the slab; concurrent access is confined to disjoint
// ranges (module invariants): reads of finished payloads, writes through one `Reservation`.
unsafe impl Send for Slab {}
unsafe impl Sync for Slab {}

impl Slab {
    fn from_box(memory: Box<[u8]>, class: Option<usize>) -> Arc<Slab> {
        let len = memory.len();
        let ptr = NonNull::new(Box::into_raw(memory) as *mut u8).unwrap_or(NonNull::dangling());
        Arc::new(Slab {
            ptr,
            len,
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            class,
        })
    }

    fn pooled(class: usize) -> Arc<Slab> {
        let reused = POOLS[class].lock().ok().and_then(|mut p| p.pop());
        let memory = reused.unwrap_or_else(|| vec![0u8; SLAB_CLASSES[class]].into_boxed_slice());
        Slab::from_box(memory, Some(class))
    }

    fn dedicated(len: usize) -> Arc<Slab> {
        Slab::from_box(vec![0u8; len].into_boxed_slice(), None)
    }

    /// A number no other slab of this process has had (memory reused from the pool gets a new
    /// one), so an embedder can tell slabs apart without holding them.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Size of the slab in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slab has no bytes (a dedicated slab of an empty message).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Start of the slab's memory, valid while this `Slab` lives. Only the byte ranges of
    /// finished [`Payload`]s may be read through it (see the module docs).
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` came from `Box::into_raw` of a `Box<[u8]>` in `from_box`, and this
        // is the last owner.
        let memory = unsafe {
            Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.len,
            ))
        };
        if let Some(class) = self.class {
            if let Ok(mut pool) = POOLS[class].lock() {
                if (pool.len() + 1) * SLAB_CLASSES[class] <= POOL_BYTES_PER_CLASS {
                    pool.push(memory);
                }
            }
        }
    }
}

impl fmt::Debug for Slab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Slab#{}({} B)", self.serial, self.len)
    }
}

/// A message payload: an immutable byte range of a [`Slab`]. Derefs to `[u8]`.
#[derive(Clone)]
pub struct Payload {
    slab: Arc<Slab>,
    start: usize,
    len: usize,
}

impl Payload {
    /// The slab that holds these bytes.
    pub fn slab(&self) -> &Arc<Slab> {
        &self.slab
    }

    /// Offset of the first byte in [`Payload::slab`].
    pub fn offset(&self) -> usize {
        self.start
    }

    /// A sub-range of this payload, sharing its memory; `None` when out of bounds.
    pub fn slice(&self, range: Range<usize>) -> Option<Payload> {
        if range.start > range.end || range.end > self.len {
            return None;
        }
        Some(Payload {
            slab: self.slab.clone(),
            start: self.start + range.start,
            len: range.end - range.start,
        })
    }
}

impl Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `start + len <= slab.len` (checked where payloads are made), and the range was
        // completely written before this payload existed and is never written again.
        unsafe { std::slice::from_raw_parts(self.slab.ptr.as_ptr().add(self.start), self.len) }
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for Payload {
    /// Wraps the bytes in a dedicated slab (no copy unless the Vec has spare capacity).
    fn from(bytes: Vec<u8>) -> Payload {
        let len = bytes.len();
        Payload {
            slab: Slab::from_box(bytes.into_boxed_slice(), None),
            start: 0,
            len,
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        **self == **other
    }
}
impl Eq for Payload {}
impl PartialEq<[u8]> for Payload {
    fn eq(&self, other: &[u8]) -> bool {
        &**self == other
    }
}
impl PartialEq<Vec<u8>> for Payload {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == other[..]
    }
}
impl<const N: usize> PartialEq<[u8; N]> for Payload {
    fn eq(&self, other: &[u8; N]) -> bool {
        **self == other[..]
    }
}
impl<const N: usize> PartialEq<&[u8; N]> for Payload {
    fn eq(&self, other: &&[u8; N]) -> bool {
        **self == other[..]
    }
}

/// The not yet written range of a message in progress. Written front to back by
/// [`Reservation::write`]; becomes a [`Payload`] with [`Reservation::finish`].
#[derive(Debug)]
pub struct Reservation {
    slab: Arc<Slab>,
    start: usize,
    len: usize,
    filled: usize,
}

impl Reservation {
    /// Bytes written so far.
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// The message length this reservation holds, in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the reserved length is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends bytes; anything beyond the reserved length is ignored (the decoder never
    /// offers more). Returns how many bytes were taken.
    pub fn write(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.len - self.filled);
        // SAFETY: `start + filled + n <= start + len <= slab.len`; this reservation is the only
        // writer of its range and no payload can read the range yet (module invariants).
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.slab.ptr.as_ptr().add(self.start + self.filled),
                n,
            );
        }
        self.filled += n;
        n
    }

    /// The written bytes as a payload (the whole message once `filled() == len()`).
    pub fn finish(self) -> Payload {
        Payload {
            slab: self.slab,
            start: self.start,
            len: self.filled,
        }
    }
}

/// Bump allocator of reservations over pooled slabs growing through [`SLAB_CLASSES`] (one per
/// chunk decoder).
#[derive(Debug, Default)]
pub struct Arena {
    current: Option<Arc<Slab>>,
    used: usize,
    /// Smallest size class the next slab may have.
    next_class: usize,
}

impl Arena {
    /// An arena that takes its first slab on the first reservation.
    pub fn new() -> Arena {
        Arena::default()
    }

    /// Reserves `len` bytes for one message.
    pub fn reserve(&mut self, len: usize) -> Reservation {
        if len > DEDICATED_MIN {
            return Reservation {
                slab: Slab::dedicated(len),
                start: 0,
                len,
                filled: 0,
            };
        }
        let slab = match &self.current {
            Some(slab) if self.used + len <= slab.len => slab.clone(),
            _ => {
                // `len <= DEDICATED_MIN < SLAB_SIZE`, so the last class always fits.
                let class = (self.next_class..SLAB_CLASSES.len())
                    .find(|&c| SLAB_CLASSES[c] >= len)
                    .unwrap_or(SLAB_CLASSES.len() - 1);
                let slab = Slab::pooled(class);
                self.next_class = (class + 1).min(SLAB_CLASSES.len() - 1);
                self.current = Some(slab.clone());
                self.used = 0;
                slab
            }
        };
        let start = self.used;
        self.used += len;
        Reservation {
            slab,
            start,
            len,
            filled: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_disjoint_and_slices_share_memory() {
        let mut arena = Arena::new();
        let mut a = arena.reserve(3);
        let mut b = arena.reserve(2);
        assert_eq!(b.write(b"xyz"), 2, "writes stop at the reserved length");
        a.write(b"ab");
        a.write(b"c");
        let (a, b) = (a.finish(), b.finish());
        assert_eq!(a, b"abc");
        assert_eq!(b, b"xy");
        assert!(Arc::ptr_eq(a.slab(), b.slab()));
        assert_eq!(b.offset(), 3);
        assert_eq!(a.slice(1..3).unwrap(), b"bc");
        assert!(a.slice(2..4).is_none());
    }

    #[test]
    fn large_messages_get_their_own_slab_and_slabs_roll_over() {
        let mut arena = Arena::new();
        let big = arena.reserve(DEDICATED_MIN + 1);
        assert_eq!(big.slab.len(), DEDICATED_MIN + 1);
        let small = arena.reserve(1);
        assert_eq!(small.slab.len(), SLAB_CLASSES[0], "the first slab is small");
        assert_eq!(
            arena.reserve(5000).slab.len(),
            SLAB_CLASSES[1],
            "then the next size"
        );
        assert_eq!(
            arena.reserve(300 << 10).slab.len(),
            SLAB_CLASSES[4],
            "or one that holds the message"
        );
        let in_1m = arena.reserve(DEDICATED_MIN).slab.serial();
        let next = arena.reserve(DEDICATED_MIN);
        assert_eq!(
            next.slab.len(),
            SLAB_SIZE,
            "what does not fit starts a 2 MiB slab"
        );
        let first = next.slab.serial();
        assert_ne!(first, in_1m);
        for _ in 0..3 {
            assert_eq!(arena.reserve(DEDICATED_MIN).slab.serial(), first);
        }
        let last = arena.reserve(1);
        assert_ne!(last.slab.serial(), first, "a full slab is replaced");
        assert_eq!(last.slab.len(), SLAB_SIZE, "by another of the largest size");
    }
}
