//! Sliding replay window (RFC 3711 §3.3.2) over packet indices, and the SRTP packet index
//! estimate (RFC 3711 §3.3.1, Appendix A).

use crate::SrtpError;

/// Largest replay window, in packets.
pub const MAX_REPLAY_WINDOW: u32 = 32_768;

/// Highest index received and a bitmap of the `window` indices ending at it. Starts at index 0
/// with nothing received, as libsrtp does, so the first packet of a stream is never "old".
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    top: u64,
    window: u64,
    /// Bit `i % (64 * bits.len())` is set when index `i` (within the window) was received.
    bits: Box<[u64]>,
}

impl ReplayWindow {
    pub(crate) fn new(window: u32) -> Self {
        let words = (window as usize).div_ceil(64).max(1);
        ReplayWindow {
            top: 0,
            window: u64::from(window.max(1)),
            bits: vec![0u64; words].into_boxed_slice(),
        }
    }

    pub(crate) fn top(&self) -> u64 {
        self.top
    }

    fn slot(&self, index: u64) -> (usize, u64) {
        let ring = (self.bits.len() as u64) * 64;
        let bit = index % ring;
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    /// Ok when `index` may be accepted (after authentication, [`accept`](Self::accept) it).
    pub(crate) fn check(&self, index: u64) -> Result<(), SrtpError> {
        if index > self.top {
            return Ok(());
        }
        if self.top - index >= self.window {
            return Err(SrtpError::ReplayOld);
        }
        let (w, m) = self.slot(index);
        if self.bits[w] & m != 0 {
            return Err(SrtpError::ReplayDuplicate);
        }
        Ok(())
    }

    /// Marks `index` received, sliding the window forward when it is the newest.
    pub(crate) fn accept(&mut self, index: u64) {
        if index > self.top {
            let ring = (self.bits.len() as u64) * 64;
            let advance = index - self.top;
            if advance >= ring {
                self.bits.iter_mut().for_each(|w| *w = 0);
            } else {
                for i in self.top + 1..index {
                    let (w, m) = self.slot(i);
                    self.bits[w] &= !m;
                }
            }
            self.top = index;
            let (w, m) = self.slot(index);
            // The slot may hold a bit from one ring length ago; it is set anew here.
            self.bits[w] |= m;
        } else {
            let (w, m) = self.slot(index);
            self.bits[w] |= m;
        }
    }
}

/// The 48-bit packet index `ROC * 65536 + SEQ` of an RTP packet with sequence number `seq`,
/// given `top`, the highest index seen so far (RFC 3711 §3.3.1 and Appendix A).
///
/// Follows libsrtp's `srtp_rdbx_estimate_index` bit for bit: while `top` is at most 32768 the
/// rollover counter is taken as 0 (a stream cannot have wrapped yet), otherwise the Appendix A
/// guess of ROC-1, ROC or ROC+1 picks the index closest to `top`. Returns `None` when the guess
/// needs a rollover counter beyond 2^32 - 1.
pub(crate) fn estimate_index(top: u64, seq: u16) -> Option<u64> {
    const MEDIAN: u64 = 1 << 15;
    if top <= MEDIAN {
        return Some(u64::from(seq));
    }
    let roc = top >> 16;
    let top_seq = top & 0xffff;
    let s = u64::from(seq);
    let guess_roc = if top_seq < MEDIAN {
        if s > top_seq + MEDIAN {
            roc - 1 // top > MEDIAN with top_seq < MEDIAN means roc >= 1
        } else {
            roc
        }
    } else if top_seq - MEDIAN > s {
        roc + 1
    } else {
        roc
    };
    if guess_roc > u64::from(u32::MAX) {
        return None;
    }
    Some((guess_roc << 16) | s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_each_index_once() {
        let mut w = ReplayWindow::new(64);
        for i in [0u64, 5, 3, 4, 70, 10, 69] {
            assert_eq!(w.check(i), Ok(()), "index {i}");
            w.accept(i);
        }
        assert_eq!(w.check(5), Err(SrtpError::ReplayOld));
        assert_eq!(w.check(69), Err(SrtpError::ReplayDuplicate));
        assert_eq!(w.check(7), Ok(()));
        assert_eq!(w.check(6), Err(SrtpError::ReplayOld)); // 70 - 6 = 64
                                                           // A big jump clears everything.
        w.accept(10_000);
        assert_eq!(w.check(9_999), Ok(()));
        assert_eq!(w.check(10_000), Err(SrtpError::ReplayDuplicate));
    }

    #[test]
    fn window_not_multiple_of_64() {
        let mut w = ReplayWindow::new(100);
        w.accept(1000);
        assert_eq!(w.check(901), Ok(()));
        assert_eq!(w.check(900), Err(SrtpError::ReplayOld));
        w.accept(901);
        w.accept(1100); // slides by exactly the window
        assert_eq!(w.check(1001), Ok(()));
        w.accept(1001);
        assert_eq!(w.check(1001), Err(SrtpError::ReplayDuplicate));
    }

    #[test]
    fn estimate_wraps_both_ways() {
        assert_eq!(estimate_index(0, 65_000), Some(65_000));
        assert_eq!(estimate_index(65_535, 0), Some(65_536));
        assert_eq!(estimate_index(65_536 + 3, 65_530), Some(65_530));
        assert_eq!(estimate_index(65_536 + 40_000, 3), Some(2 * 65_536 + 3));
        assert_eq!(
            estimate_index(65_536 + 40_000, 39_000),
            Some(65_536 + 39_000)
        );
        assert_eq!(
            estimate_index((u64::from(u32::MAX) << 16) | 65_000, 1),
            None
        );
    }
}
