//! The in-memory AMF0 value model ([`Amf0Value`]), its accessors and
//! convenience constructors.

/// One AMF0 value (AMF0 §2 "AMF 0 Data Types"), as decoded by
/// [`decode_value`](crate::decode_value) and encoded by
/// [`encode_value`](crate::encode_value).
///
/// Objects keep their properties as an ordered `Vec` of `(key, value)`
/// pairs: wire order is preserved and duplicate keys are kept.
///
/// Values reached through the AMF3 switch (AMF0 §3.1, marker `0x11`) are
/// mapped onto these variants, see the [`amf3`](crate::amf3) module.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    /// AMF0 §2.2 Number: marker `0x00`, then an IEEE-754 double, 8 bytes
    /// big-endian. NaN payloads round-trip bit-exactly.
    Number(f64),
    /// AMF0 §2.3 Boolean: marker `0x01`, then one byte; `0x00` decodes to
    /// false and any other byte to true. The encoder writes `0x00`/`0x01`.
    Boolean(bool),
    /// AMF0 §2.4 String: marker `0x02`, u16 big-endian byte length, UTF-8
    /// bytes. The encoder switches to the §2.14 long string layout (marker
    /// `0x0C`, u32 length) when the text is longer than 65535 bytes.
    String(String),
    /// AMF0 §2.5 Object: marker `0x03`, then properties — each a u16
    /// big-endian key length, UTF-8 key and a value — ended by the empty key
    /// `00 00` and the object-end marker `0x09`. Property order is kept.
    Object(Vec<(String, Amf0Value)>),
    /// AMF0 §2.7 null: marker `0x05`, no payload.
    Null,
    /// AMF0 §2.8 undefined: marker `0x06`, no payload.
    Undefined,
    /// AMF0 §2.9 Reference: marker `0x07`, u16 big-endian index into the
    /// table of previously serialised objects. Kept as the raw index (not
    /// resolved), so decoding never duplicates data and re-encoding is
    /// byte-exact; RTMP peers practically never send it.
    Reference(u16),
    /// AMF0 §2.10 ECMA Array: marker `0x08`, u32 big-endian associative
    /// count, then properties exactly as in an Object, ended by `00 00 09`.
    /// On decode the count is only a hint (the end marker is authoritative);
    /// the encoder writes the real number of properties.
    EcmaArray(Vec<(String, Amf0Value)>),
    /// AMF0 §2.12 Strict Array: marker `0x0A`, u32 big-endian element count,
    /// then that many values.
    StrictArray(Vec<Amf0Value>),
    /// AMF0 §2.13 Date: marker `0x0B`, big-endian double (milliseconds since
    /// 1970-01-01 UTC), then an s16 big-endian time zone (reserved; should
    /// be `0x0000`, kept as read).
    Date {
        /// Milliseconds since the Unix epoch, UTC.
        millis: f64,
        /// Time-zone offset field; reserved by the spec, normally 0.
        time_zone: i16,
    },
    /// AMF0 §2.14 Long String: marker `0x0C`, u32 big-endian byte length,
    /// UTF-8 bytes. Decoding a `0x0C` yields this variant (so re-encoding is
    /// byte-exact); encoding it always writes `0x0C`, whatever its length.
    LongString(String),
    /// AMF0 §2.15 Unsupported: marker `0x0D`, no payload.
    Unsupported,
    /// AMF0 §2.17 XML Document: marker `0x0F`, u32 big-endian byte length,
    /// UTF-8 bytes (same layout as a long string). AMF3 XMLDocument
    /// (§3.9) and XML (§3.13) values also map here.
    XmlDocument(String),
    /// AMF0 §2.18 Typed Object: marker `0x10`, u16 big-endian class-name
    /// length, UTF-8 class name, then properties exactly as in an Object,
    /// ended by `00 00 09`. The class name is kept. AMF3 objects (§3.12)
    /// with a non-empty class name also map here.
    TypedObject {
        /// The registered class alias.
        class_name: String,
        /// The properties, in wire order.
        properties: Vec<(String, Amf0Value)>,
    },
}

impl Amf0Value {
    /// The text of a [`String`](Amf0Value::String) (§2.4) or
    /// [`LongString`](Amf0Value::LongString) (§2.14); `None` otherwise.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) | Amf0Value::LongString(s) => Some(s),
            _ => None,
        }
    }

    /// The value of a [`Number`](Amf0Value::Number) (§2.2); `None` otherwise.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The value of a [`Boolean`](Amf0Value::Boolean) (§2.3); `None` otherwise.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Amf0Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements of a [`StrictArray`](Amf0Value::StrictArray) (§2.12);
    /// `None` otherwise.
    pub fn as_array(&self) -> Option<&[Amf0Value]> {
        match self {
            Amf0Value::StrictArray(items) => Some(items),
            _ => None,
        }
    }

    /// The properties, in wire order, of an [`Object`](Amf0Value::Object)
    /// (§2.5), [`EcmaArray`](Amf0Value::EcmaArray) (§2.10) or
    /// [`TypedObject`](Amf0Value::TypedObject) (§2.18); `None` otherwise.
    pub fn properties(&self) -> Option<&[(String, Amf0Value)]> {
        match self {
            Amf0Value::Object(props)
            | Amf0Value::EcmaArray(props)
            | Amf0Value::TypedObject {
                properties: props, ..
            } => Some(props),
            _ => None,
        }
    }

    /// The value of the first property named `key` of an Object (§2.5),
    /// ECMA Array (§2.10) or Typed Object (§2.18); `None` when absent or when
    /// `self` has no properties.
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.properties()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// True for [`Null`](Amf0Value::Null) (§2.7) and
    /// [`Undefined`](Amf0Value::Undefined) (§2.8).
    pub fn is_null_or_undefined(&self) -> bool {
        matches!(self, Amf0Value::Null | Amf0Value::Undefined)
    }

    /// Build an [`Object`](Amf0Value::Object) (§2.5) from `(key, value)`
    /// pairs, keeping their order.
    pub fn object<K, I>(properties: I) -> Amf0Value
    where
        K: Into<String>,
        I: IntoIterator<Item = (K, Amf0Value)>,
    {
        Amf0Value::Object(properties.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Build an [`EcmaArray`](Amf0Value::EcmaArray) (§2.10) from
    /// `(key, value)` pairs, keeping their order.
    pub fn ecma_array<K, I>(properties: I) -> Amf0Value
    where
        K: Into<String>,
        I: IntoIterator<Item = (K, Amf0Value)>,
    {
        Amf0Value::EcmaArray(properties.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

/// A [`Number`](Amf0Value::Number) (AMF0 §2.2, marker `0x00`).
impl From<f64> for Amf0Value {
    fn from(n: f64) -> Self {
        Amf0Value::Number(n)
    }
}

/// A [`Boolean`](Amf0Value::Boolean) (AMF0 §2.3, marker `0x01`).
impl From<bool> for Amf0Value {
    fn from(b: bool) -> Self {
        Amf0Value::Boolean(b)
    }
}

/// A [`String`](Amf0Value::String) (AMF0 §2.4, marker `0x02`).
impl From<&str> for Amf0Value {
    fn from(s: &str) -> Self {
        Amf0Value::String(s.to_owned())
    }
}

/// A [`String`](Amf0Value::String) (AMF0 §2.4, marker `0x02`).
impl From<String> for Amf0Value {
    fn from(s: String) -> Self {
        Amf0Value::String(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let obj = Amf0Value::object([
            ("app", Amf0Value::from("live")),
            ("n", 1.5.into()),
            ("app", "second".into()),
        ]);
        assert_eq!(obj.get("app").and_then(Amf0Value::as_str), Some("live"));
        assert_eq!(obj.get("n").and_then(Amf0Value::as_number), Some(1.5));
        assert_eq!(obj.get("missing"), None);
        assert_eq!(obj.properties().map(<[_]>::len), Some(3));
        assert_eq!(Amf0Value::Null.get("x"), None);
        assert_eq!(Amf0Value::LongString("x".into()).as_str(), Some("x"));
        assert_eq!(Amf0Value::XmlDocument("x".into()).as_str(), None);
        assert_eq!(Amf0Value::from(true).as_bool(), Some(true));
        assert_eq!(Amf0Value::Number(1.0).as_bool(), None);
        assert!(Amf0Value::Undefined.is_null_or_undefined());
        let typed = Amf0Value::TypedObject {
            class_name: "C".into(),
            properties: vec![("k".into(), Amf0Value::Null)],
        };
        assert_eq!(typed.get("k"), Some(&Amf0Value::Null));
        let arr = Amf0Value::StrictArray(vec![Amf0Value::Null]);
        assert_eq!(arr.as_array().map(<[_]>::len), Some(1));
        assert_eq!(
            Amf0Value::ecma_array([("a", Amf0Value::Null)]).get("a"),
            Some(&Amf0Value::Null)
        );
    }
}
