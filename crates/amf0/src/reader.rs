//! A bounds-checked big-endian cursor over the input (AMF0 §1.3 basic
//! rules: U8, U16, U32, S16, DOUBLE are all big-endian / network order).
//! Every read checks the remaining length first, so no read can panic.

use crate::Amf0Error;

/// Cursor over a borrowed byte slice. `pos <= buf.len()` always holds.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// The whole underlying input (not just the unread part).
    pub(crate) fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// Offset of the next unread byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Move to an absolute offset previously obtained from [`Self::pos`];
    /// clamped to the input length.
    pub(crate) fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }

    /// Unread bytes.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The unread bytes, without consuming them.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Next byte without consuming it.
    pub(crate) fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Consume exactly `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Amf0Error> {
        let available = self.remaining();
        let eof = Amf0Error::UnexpectedEof {
            needed: n,
            available,
        };
        if n > available {
            return Err(eof);
        }
        let end = self.pos.checked_add(n).ok_or(eof.clone())?;
        let bytes = self.buf.get(self.pos..end).ok_or(eof)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Amf0Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// AMF0 §1.3 U8.
    pub(crate) fn u8(&mut self) -> Result<u8, Amf0Error> {
        Ok(self.array::<1>()?[0])
    }

    /// AMF0 §1.3 U16, big-endian.
    pub(crate) fn u16(&mut self) -> Result<u16, Amf0Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// AMF0 §1.3 S16, big-endian.
    pub(crate) fn i16(&mut self) -> Result<i16, Amf0Error> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    /// AMF0 §1.3 U32, big-endian.
    pub(crate) fn u32(&mut self) -> Result<u32, Amf0Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// AMF3 §3.15 vector-int element: S32, big-endian.
    pub(crate) fn i32(&mut self) -> Result<i32, Amf0Error> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// AMF0 §1.3 DOUBLE: 8-byte IEEE-754, big-endian.
    pub(crate) fn f64(&mut self) -> Result<f64, Amf0Error> {
        Ok(f64::from_be_bytes(self.array()?))
    }
}

/// Widen a wire count to `usize` (saturating on exotic < 32-bit targets).
pub(crate) fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_big_endian_and_bounds_checked() {
        let mut r = Reader::new(&[0x12, 0x34, 0xFF]);
        assert_eq!(r.u16(), Ok(0x1234));
        assert_eq!(
            r.u16(),
            Err(Amf0Error::UnexpectedEof {
                needed: 2,
                available: 1
            })
        );
        assert_eq!(r.pos(), 2, "a failed read consumes nothing");
        assert_eq!(
            r.i16(),
            Err(Amf0Error::UnexpectedEof {
                needed: 2,
                available: 1
            })
        );
        assert_eq!(r.u8(), Ok(0xFF));
        assert_eq!(
            r.u8(),
            Err(Amf0Error::UnexpectedEof {
                needed: 1,
                available: 0
            })
        );
        assert!(r.take(usize::MAX).is_err());
        r.seek(usize::MAX);
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.rest(), &[] as &[u8]);
    }
}
