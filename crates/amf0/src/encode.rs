//! AMF0 encoding: [`encode_value`], [`encode_all`], [`encode_to_vec`].
//!
//! Encoding is infallible. The only lossy cases are sizes the wire format
//! cannot express, which never occur in practice: an object key or typed
//! object class name longer than 65535 bytes is truncated (at a UTF-8
//! character boundary) to fit its u16 length, and a string longer than
//! `u32::MAX` bytes or an array with more than `u32::MAX` elements is
//! truncated likewise to fit its u32 length.

use crate::marker;
use crate::Amf0Value;

/// Append the AMF0 encoding of `value` to `out` (AMF0 §2: one type-marker
/// byte followed by the type's payload, all integers big-endian).
///
/// A [`String`](Amf0Value::String) longer than 65535 bytes is written as a
/// §2.14 long string (`0x0C`, u32 length); an
/// [`EcmaArray`](Amf0Value::EcmaArray) gets its real property count.
pub fn encode_value(value: &Amf0Value, out: &mut Vec<u8>) {
    match value {
        Amf0Value::Number(n) => {
            out.push(marker::NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Amf0Value::Boolean(b) => {
            out.push(marker::BOOLEAN);
            out.push(u8::from(*b));
        }
        Amf0Value::String(s) => {
            if s.len() <= usize::from(u16::MAX) {
                out.push(marker::STRING);
                write_utf8(s, out);
            } else {
                out.push(marker::LONG_STRING);
                write_utf8_long(s, out);
            }
        }
        Amf0Value::Object(props) => {
            out.push(marker::OBJECT);
            write_properties(props, out);
        }
        Amf0Value::Null => out.push(marker::NULL),
        Amf0Value::Undefined => out.push(marker::UNDEFINED),
        Amf0Value::Reference(index) => {
            out.push(marker::REFERENCE);
            out.extend_from_slice(&index.to_be_bytes());
        }
        Amf0Value::EcmaArray(props) => {
            out.push(marker::ECMA_ARRAY);
            let count = u32::try_from(props.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            write_properties(props, out);
        }
        Amf0Value::StrictArray(items) => {
            out.push(marker::STRICT_ARRAY);
            let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            for item in items.iter().take(crate::reader::to_usize(count)) {
                encode_value(item, out);
            }
        }
        Amf0Value::Date { millis, time_zone } => {
            out.push(marker::DATE);
            out.extend_from_slice(&millis.to_be_bytes());
            out.extend_from_slice(&time_zone.to_be_bytes());
        }
        Amf0Value::LongString(s) => {
            out.push(marker::LONG_STRING);
            write_utf8_long(s, out);
        }
        Amf0Value::Unsupported => out.push(marker::UNSUPPORTED),
        Amf0Value::XmlDocument(s) => {
            out.push(marker::XML_DOCUMENT);
            write_utf8_long(s, out);
        }
        Amf0Value::TypedObject {
            class_name,
            properties,
        } => {
            out.push(marker::TYPED_OBJECT);
            write_utf8(class_name, out);
            write_properties(properties, out);
        }
    }
}

/// Append the AMF0 encodings of `values`, back to back (the layout of an
/// RTMP command message body: name, transaction id, arguments...).
pub fn encode_all(values: &[Amf0Value], out: &mut Vec<u8>) {
    for value in values {
        encode_value(value, out);
    }
}

/// The AMF0 encoding of `value` (AMF0 §2: marker byte + payload, exactly as
/// [`encode_value`] writes it) in a fresh `Vec`.
pub fn encode_to_vec(value: &Amf0Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(value, &mut out);
    out
}

/// AMF0 §2.5 object properties: for each, UTF-8 key (u16 length) + value;
/// then the object end `00 00 09` (§2.11). A property with an empty key is
/// written as-is (`00 00` followed by its value marker, never `0x09`), which
/// the decoder reads back as a property.
fn write_properties(props: &[(String, Amf0Value)], out: &mut Vec<u8>) {
    let count = crate::reader::to_usize(u32::try_from(props.len()).unwrap_or(u32::MAX));
    for (key, value) in props.iter().take(count) {
        write_utf8(key, out);
        encode_value(value, out);
    }
    out.extend_from_slice(&[0x00, 0x00, marker::OBJECT_END]);
}

/// AMF0 §1.3 UTF-8: u16 big-endian byte length + bytes (truncated to 65535
/// bytes at a character boundary).
fn write_utf8(s: &str, out: &mut Vec<u8>) {
    let s = truncate_utf8(s, usize::from(u16::MAX));
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// AMF0 §1.3 UTF-8-long: u32 big-endian byte length + bytes (truncated to
/// `u32::MAX` bytes at a character boundary).
fn write_utf8_long(s: &str, out: &mut Vec<u8>) {
    let s = truncate_utf8(s, crate::reader::to_usize(u32::MAX));
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The longest prefix of `s` of at most `max` bytes ending on a char boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_utf8("abc", 5), "abc");
        assert_eq!(truncate_utf8("aé", 2), "a");
        assert_eq!(truncate_utf8("éé", 1), "");
    }

    #[test]
    fn oversized_key_is_truncated_to_u16() {
        let key = "k".repeat(70_000);
        let bytes = encode_to_vec(&Amf0Value::Object(vec![(key, Amf0Value::Null)]));
        assert_eq!(&bytes[..3], &[0x03, 0xFF, 0xFF]);
        assert_eq!(bytes.len(), 1 + 2 + 65535 + 1 + 3);
    }
}
