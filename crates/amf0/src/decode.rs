//! AMF0 decoding: [`decode_value`], [`decode_all`] and their `_strict`
//! variants.
//!
//! Guarantees, for any input:
//! * no panic, no unchecked indexing, no arithmetic overflow;
//! * every length or count read from the wire is compared with the bytes
//!   remaining before anything is allocated for it;
//! * containers nest at most [`MAX_DEPTH`] levels;
//! * invalid UTF-8 in strings and keys is converted lossily (each invalid
//!   sequence becomes U+FFFD), never an error.
//!
//! ## Leniency about a missing object end
//!
//! Some encoders omit the `00 00 09` terminator of the last Object / ECMA
//! array / Typed Object of a message. [`decode_value`] and [`decode_all`]
//! therefore accept an object whose input ends exactly where the next
//! property key would start, or after only `00` or `00 00` of the
//! terminator: the object is closed and those bytes are consumed. The
//! `_strict` variants require the full `00 00 09` and report
//! [`Amf0Error::UnexpectedEof`] instead.
//!
//! A property whose key is empty but whose next byte is not `0x09` is read
//! as an ordinary property with key `""` (the encoder writes such
//! properties that way).

use crate::marker;
use crate::reader::{to_usize, Reader};
use crate::{Amf0Error, Amf0Value};

/// Maximum container nesting accepted by the decoders: 64 levels.
///
/// Objects, ECMA arrays, strict arrays and typed objects (and, behind the
/// AMF3 switch, arrays, objects, vectors and byte arrays) each count as one
/// level; a top-level object is level 1. Decoding a container at level 65
/// fails with [`Amf0Error::NestingTooDeep`], which bounds recursion (stack
/// use) on hostile input such as `0A 00 00 00 01` repeated.
pub const MAX_DEPTH: usize = 64;

/// Upper bound on the capacity pre-allocated for a wire count; larger
/// collections grow as their elements are actually decoded.
pub(crate) const PREALLOC_LIMIT: usize = 1024;

/// Decode one AMF0 value (AMF0 §2) from the start of `input`.
///
/// Returns the value and the number of bytes it occupied; trailing bytes
/// are left alone. Lenient about a missing object end at the very end of
/// the input (see the [module docs](self)). A `0x11` marker switches to
/// AMF3 for the next value (AMF0 §3.1), see [`amf3`](crate::amf3).
pub fn decode_value(input: &[u8]) -> Result<(Amf0Value, usize), Amf0Error> {
    decode_one(input, true)
}

/// Like [`decode_value`], but an object must end with the full `00 00 09`
/// (AMF0 §2.5/§2.11); a missing terminator is [`Amf0Error::UnexpectedEof`].
pub fn decode_value_strict(input: &[u8]) -> Result<(Amf0Value, usize), Amf0Error> {
    decode_one(input, false)
}

/// Decode consecutive AMF0 values until `input` is exhausted (the layout of
/// an RTMP command or data message body). An empty input gives an empty
/// list. Lenient like [`decode_value`].
pub fn decode_all(input: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
    decode_many(input, true)
}

/// Like [`decode_all`], but strict about object terminators like
/// [`decode_value_strict`].
pub fn decode_all_strict(input: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
    decode_many(input, false)
}

fn decode_one(input: &[u8], lenient: bool) -> Result<(Amf0Value, usize), Amf0Error> {
    let mut decoder = Decoder {
        r: Reader::new(input),
        lenient,
    };
    let value = decoder.value(0)?;
    Ok((value, decoder.r.pos()))
}

fn decode_many(input: &[u8], lenient: bool) -> Result<Vec<Amf0Value>, Amf0Error> {
    let mut decoder = Decoder {
        r: Reader::new(input),
        lenient,
    };
    let mut values = Vec::new();
    while decoder.r.remaining() > 0 {
        values.push(decoder.value(0)?);
    }
    Ok(values)
}

/// Check that a container may open at `depth` (number of enclosing
/// containers) and return the depth of its children.
pub(crate) fn enter(depth: usize) -> Result<usize, Amf0Error> {
    if depth >= MAX_DEPTH {
        Err(Amf0Error::NestingTooDeep)
    } else {
        Ok(depth + 1)
    }
}

struct Decoder<'a> {
    r: Reader<'a>,
    lenient: bool,
}

impl Decoder<'_> {
    /// One value; `depth` is the number of enclosing containers.
    fn value(&mut self, depth: usize) -> Result<Amf0Value, Amf0Error> {
        let m = self.r.u8()?;
        Ok(match m {
            marker::NUMBER => Amf0Value::Number(self.r.f64()?),
            marker::BOOLEAN => Amf0Value::Boolean(self.r.u8()? != 0),
            marker::STRING => Amf0Value::String(self.utf8()?),
            marker::OBJECT => Amf0Value::Object(self.properties(enter(depth)?)?),
            marker::NULL => Amf0Value::Null,
            marker::UNDEFINED => Amf0Value::Undefined,
            marker::REFERENCE => Amf0Value::Reference(self.r.u16()?),
            marker::ECMA_ARRAY => {
                let inner = enter(depth)?;
                // §2.10: the associative count is only a hint; the object
                // end decides. It is not used for allocation.
                let _hint = self.r.u32()?;
                Amf0Value::EcmaArray(self.properties(inner)?)
            }
            marker::OBJECT_END => return Err(Amf0Error::UnexpectedObjectEnd),
            marker::STRICT_ARRAY => {
                let inner = enter(depth)?;
                let count = to_usize(self.r.u32()?);
                // Every value takes at least its 1-byte marker.
                let available = self.r.remaining();
                if count > available {
                    return Err(Amf0Error::TooManyElements {
                        declared: count,
                        available,
                    });
                }
                let mut items = Vec::with_capacity(count.min(PREALLOC_LIMIT));
                for _ in 0..count {
                    items.push(self.value(inner)?);
                }
                Amf0Value::StrictArray(items)
            }
            marker::DATE => {
                let millis = self.r.f64()?;
                let time_zone = self.r.i16()?;
                Amf0Value::Date { millis, time_zone }
            }
            marker::LONG_STRING => Amf0Value::LongString(self.utf8_long()?),
            marker::UNSUPPORTED => Amf0Value::Unsupported,
            marker::XML_DOCUMENT => Amf0Value::XmlDocument(self.utf8_long()?),
            marker::TYPED_OBJECT => {
                let inner = enter(depth)?;
                let class_name = self.utf8()?;
                let properties = self.properties(inner)?;
                Amf0Value::TypedObject {
                    class_name,
                    properties,
                }
            }
            marker::AVMPLUS_OBJECT => crate::amf3::decode_amf3(&mut self.r, depth)?,
            other => return Err(Amf0Error::UnknownMarker(other)),
        })
    }

    /// §2.5 object properties up to and including `00 00 09`; `depth` is
    /// the depth of the property values.
    fn properties(&mut self, depth: usize) -> Result<Vec<(String, Amf0Value)>, Amf0Error> {
        let mut props = Vec::new();
        loop {
            if self.lenient && matches!(self.r.rest(), [] | [0x00] | [0x00, 0x00]) {
                // Missing (or partial) object end at the end of the input.
                self.r.seek(self.r.buf().len());
                return Ok(props);
            }
            let key = self.utf8()?;
            if key.is_empty() && self.r.peek_u8() == Some(marker::OBJECT_END) {
                self.r.u8()?;
                return Ok(props);
            }
            let value = self.value(depth)?;
            props.push((key, value));
        }
    }

    /// AMF0 §1.3 UTF-8: u16 length + bytes, decoded lossily.
    fn utf8(&mut self) -> Result<String, Amf0Error> {
        let len = usize::from(self.r.u16()?);
        Ok(lossy(self.r.take(len)?))
    }

    /// AMF0 §1.3 UTF-8-long: u32 length + bytes, decoded lossily.
    fn utf8_long(&mut self) -> Result<String, Amf0Error> {
        let len = to_usize(self.r.u32()?);
        Ok(lossy(self.r.take(len)?))
    }
}

/// UTF-8 bytes to `String`, replacing invalid sequences with U+FFFD.
pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_replaced() {
        let (v, n) = decode_value(&[0x02, 0x00, 0x03, b'a', 0xFF, b'b']).unwrap();
        assert_eq!(v, Amf0Value::String("a\u{FFFD}b".into()));
        assert_eq!(n, 6);
    }

    #[test]
    fn ecma_count_is_only_a_hint() {
        // Count says 5, one property present.
        let bytes = [0x08, 0, 0, 0, 5, 0, 1, b'a', 0x05, 0, 0, 9];
        let (v, n) = decode_value(&bytes).unwrap();
        assert_eq!(v, Amf0Value::ecma_array([("a", Amf0Value::Null)]));
        assert_eq!(n, bytes.len());
    }

    #[test]
    fn empty_key_without_end_marker_is_a_property() {
        let bytes = [0x03, 0, 0, 0x05, 0, 0, 9];
        let (v, _) = decode_value_strict(&bytes).unwrap();
        assert_eq!(v, Amf0Value::object([("", Amf0Value::Null)]));
    }

    #[test]
    fn object_end_as_value_is_rejected() {
        assert_eq!(decode_value(&[0x09]), Err(Amf0Error::UnexpectedObjectEnd));
    }

    #[test]
    fn reserved_markers_are_rejected() {
        for m in [0x04u8, 0x0E, 0x12, 0xFF] {
            assert_eq!(decode_value(&[m]), Err(Amf0Error::UnknownMarker(m)));
        }
    }
}
