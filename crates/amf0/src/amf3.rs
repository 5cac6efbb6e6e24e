//! AMF3 decoding behind the AMF0 avmplus-object switch (AMF0 §3.1, marker
//! `0x11`), as used by RTMP type-17 ("AMF3") command messages.
//!
//! [`decode_value`](crate::decode_value) handles a `0x11` marker by
//! decoding exactly one AMF3 value (Adobe "AMF 3 Specification") and
//! mapping it to the nearest [`Amf0Value`]:
//!
//! | AMF3 (marker, spec §)             | [`Amf0Value`]                                                    |
//! |-----------------------------------|------------------------------------------------------------------|
//! | undefined `0x00` §3.2             | `Undefined`                                                      |
//! | null `0x01` §3.3                  | `Null`                                                           |
//! | false/true `0x02`/`0x03` §3.4-3.5 | `Boolean`                                                        |
//! | integer `0x04` §3.6 (signed U29)  | `Number`                                                         |
//! | double `0x05` §3.7                | `Number`                                                         |
//! | string `0x06` §3.8                | `String` (any length)                                            |
//! | XMLDocument `0x07` §3.9           | `XmlDocument`                                                    |
//! | date `0x08` §3.10                 | `Date { millis, time_zone: 0 }`                                  |
//! | array `0x09` §3.11                | `StrictArray` if it has no associative part, else `EcmaArray` holding the dense elements first (keys `"0"`, `"1"`, ...) then the associative ones in wire order |
//! | object `0x0A` §3.12               | `Object` (anonymous) or `TypedObject` (non-empty class name); sealed members first, then dynamic ones, in wire order |
//! | XML `0x0B` §3.13                  | `XmlDocument`                                                    |
//! | ByteArray `0x0C` §3.14            | `StrictArray` of `Number`s, one per byte (0–255)                 |
//! | Vector int/uint/double `0x0D`–`0x0F` §3.15 | `StrictArray` of `Number`s                              |
//! | Vector object `0x10` §3.15        | `StrictArray` (the element type name is dropped)                 |
//! | Dictionary `0x11` §3.16           | error [`Amf0Error::Amf3Unsupported`]                             |
//!
//! Externalizable objects (traits flag `0b111`) cannot be parsed without
//! knowing the class and give [`Amf0Error::Amf3Externalizable`].
//!
//! ## Reference tables
//!
//! Each `0x11` switch starts with fresh, empty string/object/traits
//! tables (AMF3 §2.2); references never cross into another AMF0 value.
//! Every table holds at most [`MAX_AMF3_REFERENCES`] entries and every
//! reference index is checked ([`Amf0Error::Amf3ReferenceOutOfRange`]).
//! The tables store only byte offsets into the input, never decoded values:
//! an object reference is resolved by decoding the referenced object's
//! bytes again (with table insertion turned off), which yields an
//! independent copy in the value tree. References to an object still being
//! decoded (cycles) are rejected ([`Amf0Error::Amf3CyclicReference`]); the
//! copies produced by string and object references are charged against
//! [`MAX_AMF3_EXPANSION`] ([`Amf0Error::Amf3ExpansionLimit`]), and a
//! resolved reference must still fit in [`MAX_DEPTH`].
//!
//! Strings are converted from UTF-8 lossily (invalid sequences become
//! U+FFFD), as in AMF0.

use crate::decode::{enter, lossy, PREALLOC_LIMIT};
use crate::reader::{to_usize, Reader};
use crate::{Amf0Error, Amf0Value, Amf3Table, MAX_DEPTH};

/// Maximum number of entries in each AMF3 reference table (strings,
/// objects, traits) within one AMF3 value: 1,048,576. Exceeding it gives
/// [`Amf0Error::Amf3TableFull`].
pub const MAX_AMF3_REFERENCES: usize = 1 << 20;

/// Budget, in approximate bytes of decoded values, for the copies created
/// by resolving AMF3 string references, object references and
/// trait-supplied member names within one AMF3 value: 64 MiB. Each resolved
/// string costs its length, each resolved object the approximate size of
/// the value tree it expands to. Exceeding it gives
/// [`Amf0Error::Amf3ExpansionLimit`]. Values written inline are bounded by
/// the input size and are not charged.
pub const MAX_AMF3_EXPANSION: usize = 64 << 20;

/// AMF3 §3.1 type markers.
mod marker3 {
    pub const UNDEFINED: u8 = 0x00;
    pub const NULL: u8 = 0x01;
    pub const FALSE: u8 = 0x02;
    pub const TRUE: u8 = 0x03;
    pub const INTEGER: u8 = 0x04;
    pub const DOUBLE: u8 = 0x05;
    pub const STRING: u8 = 0x06;
    pub const XML_DOC: u8 = 0x07;
    pub const DATE: u8 = 0x08;
    pub const ARRAY: u8 = 0x09;
    pub const OBJECT: u8 = 0x0A;
    pub const XML: u8 = 0x0B;
    pub const BYTE_ARRAY: u8 = 0x0C;
    pub const VECTOR_INT: u8 = 0x0D;
    pub const VECTOR_UINT: u8 = 0x0E;
    pub const VECTOR_DOUBLE: u8 = 0x0F;
    pub const VECTOR_OBJECT: u8 = 0x10;
    pub const DICTIONARY: u8 = 0x11;
}

/// Approximate heap + inline cost of one value node, for the expansion budget.
const NODE_COST: usize = std::mem::size_of::<(String, Amf0Value)>();

/// Decode the AMF3 value following an AMF0 `0x11` marker (already
/// consumed) from `r`, with fresh reference tables. `depth` is the number
/// of enclosing containers.
pub(crate) fn decode_amf3(r: &mut Reader<'_>, depth: usize) -> Result<Amf0Value, Amf0Error> {
    let mut decoder = Amf3Decoder {
        r,
        strings: Vec::new(),
        objects: Vec::new(),
        traits: Vec::new(),
        expansion: 0,
        replaying: 0,
    };
    Ok(decoder.value(depth)?.0)
}

/// A byte range of the input holding UTF-8 text.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    len: usize,
}

/// AMF3 §3.12 traits: class name, dynamic flag, sealed member names.
#[derive(Debug, Clone)]
struct Traits {
    class_name: Span,
    dynamic: bool,
    sealed: Vec<Span>,
}

/// Object-table entry: where the definition starts and, once complete,
/// the shape of the value it decodes to.
#[derive(Debug, Clone, Copy)]
struct ObjectEntry {
    start: usize,
    shape: Option<Shape>,
}

/// Height (container levels, 0 for scalars) and approximate size in bytes
/// of a decoded value tree.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    height: usize,
    cost: usize,
}

impl Shape {
    fn leaf(extra: usize) -> Shape {
        Shape {
            height: 0,
            cost: NODE_COST.saturating_add(extra),
        }
    }

    fn container() -> Shape {
        Shape {
            height: 1,
            cost: NODE_COST,
        }
    }

    /// Account for a child (with `key_len` bytes of key) of this container.
    fn add_child(&mut self, child: Shape, key_len: usize) {
        self.height = self.height.max(child.height.saturating_add(1));
        self.cost = self.cost.saturating_add(child.cost).saturating_add(key_len);
    }
}

struct Amf3Decoder<'r, 'a> {
    r: &'r mut Reader<'a>,
    strings: Vec<Span>,
    objects: Vec<ObjectEntry>,
    traits: Vec<Traits>,
    /// Bytes charged so far against [`MAX_AMF3_EXPANSION`].
    expansion: usize,
    /// Non-zero while re-decoding a referenced object: tables are frozen and
    /// nothing is charged (the outer reference paid for the whole copy).
    replaying: usize,
}

type Decoded = (Amf0Value, Shape);

impl Amf3Decoder<'_, '_> {
    /// AMF3 §1.3.1 U29: 1–4 bytes; the first three carry 7 bits each with
    /// the high bit as continuation flag, a fourth byte carries 8 bits.
    fn u29(&mut self) -> Result<u32, Amf0Error> {
        let mut value: u32 = 0;
        for _ in 0..3 {
            let b = self.r.u8()?;
            if b & 0x80 == 0 {
                return Ok((value << 7) | u32::from(b));
            }
            value = (value << 7) | u32::from(b & 0x7F);
        }
        let b = self.r.u8()?;
        Ok((value << 8) | u32::from(b))
    }

    fn charge(&mut self, bytes: usize) -> Result<(), Amf0Error> {
        if self.replaying > 0 {
            return Ok(());
        }
        self.expansion = self.expansion.saturating_add(bytes);
        if self.expansion > MAX_AMF3_EXPANSION {
            return Err(Amf0Error::Amf3ExpansionLimit {
                limit: MAX_AMF3_EXPANSION,
            });
        }
        Ok(())
    }

    /// The text of `span`, lossily decoded. Spans always come from earlier
    /// successful reads of the same input, so the range is in bounds.
    fn text(&self, span: Span) -> String {
        let end = span.start.saturating_add(span.len);
        self.r
            .buf()
            .get(span.start..end)
            .map(lossy)
            .unwrap_or_default()
    }

    /// AMF3 §1.3.2 UTF-8-vr: U29S-ref (low bit 0, string-table index in the
    /// upper bits) or U29S-value (low bit 1, byte length in the upper bits)
    /// followed by the bytes. Non-empty inline strings join the string
    /// table. Returns the span and whether it came from a reference.
    fn string_span(&mut self) -> Result<(Span, bool), Amf0Error> {
        let header = self.u29()?;
        let n = to_usize(header >> 1);
        if header & 1 == 0 {
            let len = self.strings.len();
            let span = *self
                .strings
                .get(n)
                .ok_or(Amf0Error::Amf3ReferenceOutOfRange {
                    table: Amf3Table::String,
                    index: n,
                    len,
                })?;
            return Ok((span, true));
        }
        let start = self.r.pos();
        self.r.take(n)?;
        let span = Span { start, len: n };
        if n > 0 && self.replaying == 0 {
            if self.strings.len() >= MAX_AMF3_REFERENCES {
                return Err(Amf0Error::Amf3TableFull {
                    table: Amf3Table::String,
                });
            }
            self.strings.push(span);
        }
        Ok((span, false))
    }

    /// A UTF-8-vr string; copies made from references are charged.
    fn string(&mut self) -> Result<String, Amf0Error> {
        let (span, by_reference) = self.string_span()?;
        if by_reference {
            self.charge(span.len)?;
        }
        Ok(self.text(span))
    }

    /// One AMF3 value; `depth` is the number of enclosing containers.
    fn value(&mut self, depth: usize) -> Result<Decoded, Amf0Error> {
        let start = self.r.pos();
        let m = self.r.u8()?;
        Ok(match m {
            marker3::UNDEFINED => (Amf0Value::Undefined, Shape::leaf(0)),
            marker3::NULL => (Amf0Value::Null, Shape::leaf(0)),
            marker3::FALSE => (Amf0Value::Boolean(false), Shape::leaf(0)),
            marker3::TRUE => (Amf0Value::Boolean(true), Shape::leaf(0)),
            marker3::INTEGER => {
                // §3.6: a 29-bit two's-complement integer.
                // Shift bit 28 into the sign bit, then shift back arithmetically.
                let u = self.u29()?;
                let i = ((u << 3) as i32) >> 3;
                (Amf0Value::Number(f64::from(i)), Shape::leaf(0))
            }
            marker3::DOUBLE => (Amf0Value::Number(self.r.f64()?), Shape::leaf(0)),
            marker3::STRING => {
                let s = self.string()?;
                let shape = Shape::leaf(s.len());
                (Amf0Value::String(s), shape)
            }
            marker3::XML_DOC
            | marker3::DATE
            | marker3::ARRAY
            | marker3::OBJECT
            | marker3::XML
            | marker3::BYTE_ARRAY
            | marker3::VECTOR_INT
            | marker3::VECTOR_UINT
            | marker3::VECTOR_DOUBLE
            | marker3::VECTOR_OBJECT
            | marker3::DICTIONARY => return self.complex(m, start, depth),
            other => return Err(Amf0Error::Amf3UnknownMarker(other)),
        })
    }

    /// Types that go through the object table (§3.9–§3.16): a U29O-ref
    /// (low bit 0, object-table index) or an inline definition (low bit 1,
    /// type-specific bits above), registered in the table *before* its
    /// contents are read.
    fn complex(&mut self, m: u8, start: usize, depth: usize) -> Result<Decoded, Amf0Error> {
        let header = self.u29()?;
        if header & 1 == 0 {
            return self.object_reference(to_usize(header >> 1), depth);
        }
        if m == marker3::DICTIONARY {
            return Err(Amf0Error::Amf3Unsupported { marker: m });
        }
        let bits = header >> 1;
        let slot = self.register(start)?;
        let decoded = match m {
            marker3::XML_DOC | marker3::XML => {
                // §3.9/§3.13: U29X-value = byte length, then UTF-8.
                let text = lossy(self.r.take(to_usize(bits))?);
                let shape = Shape::leaf(text.len());
                (Amf0Value::XmlDocument(text), shape)
            }
            marker3::DATE => {
                // §3.10: U29D-value (remaining bits unused), then DOUBLE.
                let millis = self.r.f64()?;
                (
                    Amf0Value::Date {
                        millis,
                        time_zone: 0,
                    },
                    Shape::leaf(0),
                )
            }
            marker3::ARRAY => self.array(to_usize(bits), depth)?,
            marker3::OBJECT => self.object(bits, depth)?,
            marker3::BYTE_ARRAY => {
                // §3.14: U29B-value = byte length, then raw bytes.
                enter(depth)?;
                let bytes = self.r.take(to_usize(bits))?;
                let mut shape = Shape::container();
                let items: Vec<Amf0Value> = bytes
                    .iter()
                    .map(|&b| {
                        shape.add_child(Shape::leaf(0), 0);
                        Amf0Value::Number(f64::from(b))
                    })
                    .collect();
                (Amf0Value::StrictArray(items), shape)
            }
            _ => self.vector(m, to_usize(bits), depth)?,
        };
        if let Some(entry) = slot.and_then(|i| self.objects.get_mut(i)) {
            entry.shape = Some(decoded.1);
        }
        Ok(decoded)
    }

    /// Add an object-table entry for a definition starting at `start`
    /// (nothing while replaying). Returns its index.
    fn register(&mut self, start: usize) -> Result<Option<usize>, Amf0Error> {
        if self.replaying > 0 {
            return Ok(None);
        }
        if self.objects.len() >= MAX_AMF3_REFERENCES {
            return Err(Amf0Error::Amf3TableFull {
                table: Amf3Table::Object,
            });
        }
        self.objects.push(ObjectEntry { start, shape: None });
        Ok(Some(self.objects.len() - 1))
    }

    /// Resolve a U29O-ref by re-decoding the referenced definition.
    fn object_reference(&mut self, index: usize, depth: usize) -> Result<Decoded, Amf0Error> {
        let len = self.objects.len();
        let entry = *self
            .objects
            .get(index)
            .ok_or(Amf0Error::Amf3ReferenceOutOfRange {
                table: Amf3Table::Object,
                index,
                len,
            })?;
        let shape = entry
            .shape
            .ok_or(Amf0Error::Amf3CyclicReference { index })?;
        if depth.saturating_add(shape.height) > MAX_DEPTH {
            return Err(Amf0Error::NestingTooDeep);
        }
        self.charge(shape.cost)?;
        let resume = self.r.pos();
        self.r.seek(entry.start);
        self.replaying += 1;
        let result = self.value(depth);
        self.replaying -= 1;
        self.r.seek(resume);
        result
    }

    /// Reject a count of elements that each need at least `min_bytes`
    /// bytes when the input cannot hold them.
    fn check_count(&self, count: usize, min_bytes: usize) -> Result<(), Amf0Error> {
        let available = self.r.remaining();
        match count.checked_mul(min_bytes) {
            Some(needed) if needed <= available => Ok(()),
            _ => Err(Amf0Error::TooManyElements {
                declared: count,
                available,
            }),
        }
    }

    /// §3.11 array body: U29A-value (dense count, already read), the
    /// associative part as (UTF-8-vr key, value) pairs ended by the empty
    /// string `0x01`, then the dense values.
    fn array(&mut self, dense_count: usize, depth: usize) -> Result<Decoded, Amf0Error> {
        let inner = enter(depth)?;
        let mut shape = Shape::container();
        let mut assoc = Vec::new();
        loop {
            let key = self.string()?;
            if key.is_empty() {
                break;
            }
            let (value, child) = self.value(inner)?;
            shape.add_child(child, key.len());
            assoc.push((key, value));
        }
        self.check_count(dense_count, 1)?;
        let mut dense = Vec::with_capacity(dense_count.min(PREALLOC_LIMIT));
        for _ in 0..dense_count {
            let (value, child) = self.value(inner)?;
            shape.add_child(child, 0);
            dense.push(value);
        }
        if assoc.is_empty() {
            return Ok((Amf0Value::StrictArray(dense), shape));
        }
        let mut props: Vec<(String, Amf0Value)> =
            Vec::with_capacity(dense.len().saturating_add(assoc.len()));
        for (i, value) in dense.into_iter().enumerate() {
            let key = i.to_string();
            shape.cost = shape.cost.saturating_add(key.len());
            props.push((key, value));
        }
        props.append(&mut assoc);
        Ok((Amf0Value::EcmaArray(props), shape))
    }

    /// §3.12 object body: `bits` is the U29O header without its low
    /// (inline) bit. Bit 0 clear: traits reference (index in the upper
    /// bits). Else bit 1: externalizable; bit 2: dynamic; bits 3+: sealed
    /// member count, followed by the class name and the sealed names.
    /// Then the sealed values, then (if dynamic) (UTF-8-vr key, value)
    /// pairs ended by the empty string.
    fn object(&mut self, bits: u32, depth: usize) -> Result<Decoded, Amf0Error> {
        let inner = enter(depth)?;
        let traits = if bits & 1 == 0 {
            let index = to_usize(bits >> 1);
            let len = self.traits.len();
            let traits = self
                .traits
                .get(index)
                .ok_or(Amf0Error::Amf3ReferenceOutOfRange {
                    table: Amf3Table::Traits,
                    index,
                    len,
                })?;
            // Each sealed value needs at least one byte: check before cloning.
            self.check_count(traits.sealed.len(), 1)?;
            traits.clone()
        } else if bits & 2 != 0 {
            let class_name = self.string()?;
            return Err(Amf0Error::Amf3Externalizable { class_name });
        } else {
            let dynamic = bits & 4 != 0;
            let count = to_usize(bits >> 3);
            let (class_name, _) = self.string_span()?;
            // Each sealed name and each sealed value needs at least one byte.
            self.check_count(count, 2)?;
            let mut sealed = Vec::with_capacity(count.min(PREALLOC_LIMIT));
            for _ in 0..count {
                sealed.push(self.string_span()?.0);
            }
            let traits = Traits {
                class_name,
                dynamic,
                sealed,
            };
            if self.replaying == 0 {
                if self.traits.len() >= MAX_AMF3_REFERENCES {
                    return Err(Amf0Error::Amf3TableFull {
                        table: Amf3Table::Traits,
                    });
                }
                self.traits.push(traits.clone());
            }
            traits
        };
        self.check_count(traits.sealed.len(), 1)?;
        let mut shape = Shape::container();
        let mut props = Vec::with_capacity(traits.sealed.len().min(PREALLOC_LIMIT));
        for &name in &traits.sealed {
            self.charge(name.len)?;
            let key = self.text(name);
            let (value, child) = self.value(inner)?;
            shape.add_child(child, key.len());
            props.push((key, value));
        }
        if traits.dynamic {
            loop {
                let key = self.string()?;
                if key.is_empty() {
                    break;
                }
                let (value, child) = self.value(inner)?;
                shape.add_child(child, key.len());
                props.push((key, value));
            }
        }
        self.charge(traits.class_name.len)?;
        let class_name = self.text(traits.class_name);
        shape.cost = shape.cost.saturating_add(class_name.len());
        let value = if class_name.is_empty() {
            Amf0Value::Object(props)
        } else {
            Amf0Value::TypedObject {
                class_name,
                properties: props,
            }
        };
        Ok((value, shape))
    }

    /// §3.15 vector body: U29V-value (element count, already read), a
    /// fixed-length flag byte, then for `0x0D` S32s, `0x0E` U32s, `0x0F`
    /// DOUBLEs (all big-endian), or for `0x10` an element type name
    /// (UTF-8-vr, dropped) and AMF3 values.
    fn vector(&mut self, m: u8, count: usize, depth: usize) -> Result<Decoded, Amf0Error> {
        let inner = enter(depth)?;
        let _fixed = self.r.u8()?;
        let element_size = match m {
            marker3::VECTOR_INT | marker3::VECTOR_UINT => 4,
            marker3::VECTOR_DOUBLE => 8,
            _ => {
                // The element type name is dropped: take its span only, so
                // replays of a referenced vector never materialise it.
                let _type_name = self.string_span()?;
                1
            }
        };
        self.check_count(count, element_size)?;
        let mut shape = Shape::container();
        let mut items = Vec::with_capacity(count.min(PREALLOC_LIMIT));
        for _ in 0..count {
            let (value, child) = match m {
                marker3::VECTOR_INT => {
                    (Amf0Value::Number(f64::from(self.r.i32()?)), Shape::leaf(0))
                }
                marker3::VECTOR_UINT => {
                    (Amf0Value::Number(f64::from(self.r.u32()?)), Shape::leaf(0))
                }
                marker3::VECTOR_DOUBLE => (Amf0Value::Number(self.r.f64()?), Shape::leaf(0)),
                _ => self.value(inner)?,
            };
            shape.add_child(child, 0);
            items.push(value);
        }
        Ok((Amf0Value::StrictArray(items), shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u29(bytes: &[u8]) -> Result<(u32, usize), Amf0Error> {
        let mut r = Reader::new(bytes);
        let mut d = Amf3Decoder {
            r: &mut r,
            strings: Vec::new(),
            objects: Vec::new(),
            traits: Vec::new(),
            expansion: 0,
            replaying: 0,
        };
        let v = d.u29()?;
        Ok((v, d.r.pos()))
    }

    #[test]
    fn u29_encodings() {
        assert_eq!(u29(&[0x00]), Ok((0, 1)));
        assert_eq!(u29(&[0x7F]), Ok((0x7F, 1)));
        assert_eq!(u29(&[0x81, 0x00]), Ok((0x80, 2)));
        assert_eq!(u29(&[0xFF, 0x7F]), Ok((0x3FFF, 2)));
        assert_eq!(u29(&[0x81, 0x80, 0x00]), Ok((0x4000, 3)));
        assert_eq!(u29(&[0xFF, 0xFF, 0x7F]), Ok((0x1F_FFFF, 3)));
        assert_eq!(u29(&[0x80, 0xC0, 0x80, 0x00]), Ok((0x20_0000, 4)));
        assert_eq!(u29(&[0xFF, 0xFF, 0xFF, 0xFF]), Ok((0x1FFF_FFFF, 4)));
        assert!(u29(&[0xFF, 0xFF, 0xFF]).is_err());
    }
}
