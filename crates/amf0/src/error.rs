//! Decoding errors ([`Amf0Error`]). Encoding is infallible.

use std::fmt;

/// Why an AMF0 (or switched-to AMF3) byte sequence could not be decoded.
///
/// Decoding never panics; every malformed, truncated or hostile input ends
/// in one of these variants.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Amf0Error {
    /// The input ended inside a value: a read of `needed` bytes found only
    /// `available` bytes left (AMF0 §1.3 fixed-size integers and lengths are
    /// never partially present).
    UnexpectedEof {
        /// Bytes the read required.
        needed: usize,
        /// Bytes that were left in the input.
        available: usize,
    },
    /// An AMF0 type marker (AMF0 §2.1) this crate cannot decode: the
    /// reserved `0x04` movieclip and `0x0E` recordset markers, and any byte
    /// above `0x11`.
    UnknownMarker(u8),
    /// An object-end marker `0x09` (AMF0 §2.11) appeared where a value was
    /// expected, i.e. outside the `00 00 09` object terminator.
    UnexpectedObjectEnd,
    /// Containers (objects, arrays, AMF3 objects/arrays/vectors/byte
    /// arrays) are nested more than [`MAX_DEPTH`](crate::MAX_DEPTH) levels.
    NestingTooDeep,
    /// A count read from the wire (AMF0 §2.12 strict-array count, AMF3
    /// §3.11 dense count, §3.12 sealed-member count, §3.15 vector length)
    /// announces more elements than the remaining bytes could possibly
    /// hold, so nothing is allocated for it.
    TooManyElements {
        /// The element count read from the wire.
        declared: usize,
        /// The bytes left in the input after the count.
        available: usize,
    },
    /// An AMF3 type marker (AMF3 §3.1) that does not exist (above `0x11`).
    Amf3UnknownMarker(u8),
    /// A valid AMF3 type this crate deliberately does not map to AMF0:
    /// `0x11` dictionary (AMF3 §3.16), whose keys may be arbitrary values.
    Amf3Unsupported {
        /// The AMF3 type marker.
        marker: u8,
    },
    /// An AMF3 object with externalizable traits (AMF3 §3.12, U29O-traits-ext
    /// `0b111`): its body is in a class-specific format that cannot be
    /// parsed without knowing the class.
    Amf3Externalizable {
        /// The class name announced by the traits.
        class_name: String,
    },
    /// An AMF3 reference (U29 with the low bit clear, AMF3 §2.2) points past
    /// the end of its reference table.
    Amf3ReferenceOutOfRange {
        /// Which table the reference indexes.
        table: Amf3Table,
        /// The index read from the wire.
        index: usize,
        /// The number of entries the table had at that point.
        len: usize,
    },
    /// An AMF3 object reference points at an object that is still being
    /// decoded (a cyclic graph such as `a.self = a`), which a tree-shaped
    /// [`Amf0Value`](crate::Amf0Value) cannot represent.
    Amf3CyclicReference {
        /// The object-table index read from the wire.
        index: usize,
    },
    /// An AMF3 reference table reached
    /// [`MAX_AMF3_REFERENCES`](crate::MAX_AMF3_REFERENCES) entries.
    Amf3TableFull {
        /// The table that is full.
        table: Amf3Table,
    },
    /// Resolving AMF3 string/object references would materialise more than
    /// `limit` (approximate) bytes of values, see
    /// [`MAX_AMF3_EXPANSION`](crate::MAX_AMF3_EXPANSION). Guards against
    /// "billion laughs" style reference bombs.
    Amf3ExpansionLimit {
        /// The limit that was exceeded.
        limit: usize,
    },
}

/// The three AMF3 reference tables (AMF3 §2.2 "Serialization by reference").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Amf3Table {
    /// Strings (AMF3 §3.8): every non-empty inline string, in order.
    String,
    /// Complex objects (AMF3 §3.9–§3.16): dates, arrays, objects, XML, byte
    /// arrays, vectors and dictionaries, in the order their definition starts.
    Object,
    /// Object traits (AMF3 §3.12): every inline traits definition, in order.
    Traits,
}

impl fmt::Display for Amf3Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Amf3Table::String => "string",
            Amf3Table::Object => "object",
            Amf3Table::Traits => "traits",
        })
    }
}

impl fmt::Display for Amf0Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amf0Error::UnexpectedEof { needed, available } => write!(
                f,
                "AMF0: unexpected end of input (needed {needed} bytes, {available} available)"
            ),
            Amf0Error::UnknownMarker(m) => {
                write!(f, "AMF0: unknown or unsupported type marker 0x{m:02X}")
            }
            Amf0Error::UnexpectedObjectEnd => {
                f.write_str("AMF0: object-end marker 0x09 where a value was expected")
            }
            Amf0Error::NestingTooDeep => write!(
                f,
                "AMF0: containers nested deeper than {} levels",
                crate::MAX_DEPTH
            ),
            Amf0Error::TooManyElements {
                declared,
                available,
            } => write!(
                f,
                "AMF0: {declared} elements announced but only {available} bytes remain"
            ),
            Amf0Error::Amf3UnknownMarker(m) => write!(f, "AMF3: unknown type marker 0x{m:02X}"),
            Amf0Error::Amf3Unsupported { marker } => {
                write!(f, "AMF3: type marker 0x{marker:02X} is not supported")
            }
            Amf0Error::Amf3Externalizable { class_name } => {
                write!(
                    f,
                    "AMF3: externalizable object of class {class_name:?} cannot be decoded"
                )
            }
            Amf0Error::Amf3ReferenceOutOfRange { table, index, len } => write!(
                f,
                "AMF3: {table} reference {index} out of range (table has {len} entries)"
            ),
            Amf0Error::Amf3CyclicReference { index } => {
                write!(
                    f,
                    "AMF3: object reference {index} points at an object still being decoded"
                )
            }
            Amf0Error::Amf3TableFull { table } => {
                write!(f, "AMF3: {table} reference table is full")
            }
            Amf0Error::Amf3ExpansionLimit { limit } => {
                write!(f, "AMF3: references expand to more than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for Amf0Error {}
