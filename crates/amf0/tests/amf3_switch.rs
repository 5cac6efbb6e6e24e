//! AMF0 §3.1 avmplus-object switch (marker 0x11) to hand-built AMF3 values.

use sluice_amf0::{
    decode_all, decode_value, decode_value_strict, Amf0Error, Amf0Value, Amf3Table,
    MAX_AMF3_EXPANSION,
};

/// AMF3 §1.3.1 U29 encoder (test-side, independent of the decoder).
fn u29(n: u32) -> Vec<u8> {
    assert!(n < 1 << 29);
    match n {
        0..=0x7F => vec![n as u8],
        0x80..=0x3FFF => vec![0x80 | (n >> 7) as u8, (n & 0x7F) as u8],
        0x4000..=0x1F_FFFF => vec![
            0x80 | (n >> 14) as u8,
            0x80 | ((n >> 7) & 0x7F) as u8,
            (n & 0x7F) as u8,
        ],
        _ => vec![
            0x80 | (n >> 22) as u8,
            0x80 | ((n >> 15) & 0x7F) as u8,
            0x80 | ((n >> 8) & 0x7F) as u8,
            (n & 0xFF) as u8,
        ],
    }
}

fn num(n: f64) -> Amf0Value {
    Amf0Value::Number(n)
}

fn s(text: &str) -> Amf0Value {
    Amf0Value::from(text)
}

/// Decode `bytes` fully and check every strict prefix fails.
fn decode_whole(bytes: &[u8]) -> Amf0Value {
    let (value, consumed) = decode_value(bytes).unwrap_or_else(|e| panic!("{bytes:02X?}: {e}"));
    assert_eq!(consumed, bytes.len(), "{bytes:02X?}");
    for len in 0..bytes.len() {
        assert!(
            decode_value_strict(&bytes[..len]).is_err(),
            "prefix {len} of {bytes:02X?}"
        );
    }
    value
}

#[test]
fn integers() {
    assert_eq!(decode_whole(&[0x11, 0x04, 0x05]), num(5.0));
    assert_eq!(decode_whole(&[0x11, 0x04, 0x81, 0x00]), num(128.0));
    assert_eq!(
        decode_whole(&[0x11, 0x04, 0xFF, 0xFF, 0xFF, 0xFF]),
        num(-1.0)
    );
    assert_eq!(
        decode_whole(&[0x11, 0x04, 0xBF, 0xFF, 0xFF, 0xFF]),
        num(268_435_455.0)
    );
    assert_eq!(
        decode_whole(&[0x11, 0x04, 0xC0, 0x80, 0x80, 0x00]),
        num(-268_435_456.0)
    );
}

#[test]
fn scalars() {
    let mut double = vec![0x11, 0x05];
    double.extend_from_slice(&1.5f64.to_be_bytes());
    assert_eq!(decode_whole(&double), num(1.5));
    assert_eq!(decode_whole(&[0x11, 0x00]), Amf0Value::Undefined);
    assert_eq!(decode_whole(&[0x11, 0x01]), Amf0Value::Null);
    assert_eq!(decode_whole(&[0x11, 0x02]), Amf0Value::Boolean(false));
    assert_eq!(decode_whole(&[0x11, 0x03]), Amf0Value::Boolean(true));
    assert_eq!(decode_whole(&[0x11, 0x06, 0x05, b'h', b'i']), s("hi"));
    assert_eq!(decode_whole(&[0x11, 0x06, 0x01]), s(""));
    let mut date = vec![0x11, 0x08, 0x01];
    date.extend_from_slice(&1.7e12f64.to_be_bytes());
    assert_eq!(
        decode_whole(&date),
        Amf0Value::Date {
            millis: 1.7e12,
            time_zone: 0
        }
    );
    assert_eq!(
        decode_whole(&[0x11, 0x0B, 0x07, b'<', b'a', b'>']),
        Amf0Value::XmlDocument("<a>".into())
    );
    assert_eq!(
        decode_whole(&[0x11, 0x07, 0x03, b'x']),
        Amf0Value::XmlDocument("x".into())
    );
}

#[test]
fn string_reference() {
    // [ "abc", ref 0 ]
    let bytes = [
        0x11, 0x09, 0x05, 0x01, 0x06, 0x07, b'a', b'b', b'c', 0x06, 0x00,
    ];
    assert_eq!(
        decode_whole(&bytes),
        Amf0Value::StrictArray(vec![s("abc"), s("abc")])
    );
    // The empty string is never added to the table (the 0x01 terminator
    // of the associative part is one), so ref 0 is out of range here.
    assert_eq!(
        decode_value(&[0x11, 0x09, 0x05, 0x01, 0x06, 0x01, 0x06, 0x00]),
        Err(Amf0Error::Amf3ReferenceOutOfRange {
            table: Amf3Table::String,
            index: 0,
            len: 0
        })
    );
}

#[test]
fn dense_and_mixed_arrays() {
    let dense = [0x11, 0x09, 0x07, 0x01, 0x04, 0x01, 0x04, 0x02, 0x04, 0x03];
    assert_eq!(
        decode_whole(&dense),
        Amf0Value::StrictArray(vec![num(1.0), num(2.0), num(3.0)])
    );
    assert_eq!(
        decode_whole(&[0x11, 0x09, 0x01, 0x01]),
        Amf0Value::StrictArray(vec![])
    );
    // One dense element (7) and one associative pair k = null.
    let mixed = [0x11, 0x09, 0x03, 0x03, b'k', 0x01, 0x01, 0x04, 0x07];
    assert_eq!(
        decode_whole(&mixed),
        Amf0Value::ecma_array([("0", num(7.0)), ("k", Amf0Value::Null)])
    );
}

#[test]
fn dynamic_anonymous_object() {
    let bytes = [
        0x11, 0x0A, 0x0B, 0x01, // object, inline traits: dynamic, 0 sealed, class ""
        0x07, b'f', b'o', b'o', 0x04, 0x01, // foo = 1
        0x07, b'b', b'a', b'r', 0x06, 0x05, b'h', b'i', // bar = "hi"
        0x01, // end of dynamic members
    ];
    let value = decode_whole(&bytes);
    assert_eq!(
        value,
        Amf0Value::object([("foo", num(1.0)), ("bar", s("hi"))])
    );
    assert_eq!(value.get("bar").and_then(Amf0Value::as_str), Some("hi"));
}

#[test]
fn sealed_and_dynamic_members() {
    // Anonymous, dynamic, 1 sealed member "a" (= 1), then dynamic "b" (= 2).
    let bytes = [
        0x11, 0x0A, 0x1B, 0x01, 0x03, b'a', 0x04, 0x01, 0x03, b'b', 0x04, 0x02, 0x01,
    ];
    assert_eq!(
        decode_whole(&bytes),
        Amf0Value::object([("a", num(1.0)), ("b", num(2.0))])
    );
}

#[test]
fn typed_objects_with_traits_reference() {
    let bytes = [
        0x11, 0x09, 0x05, 0x01, // array of 2
        0x0A, 0x23, 0x05, b'P', b't', 0x03, b'x', 0x03, b'y', 0x04, 0x01, 0x04,
        0x02, // Pt{x:1,y:2}
        0x0A, 0x01, 0x04, 0x03, 0x04, 0x04, // traits ref 0: Pt{x:3,y:4}
    ];
    let pt = |x: f64, y: f64| Amf0Value::TypedObject {
        class_name: "Pt".into(),
        properties: vec![("x".into(), num(x)), ("y".into(), num(y))],
    };
    assert_eq!(
        decode_whole(&bytes),
        Amf0Value::StrictArray(vec![pt(1.0, 2.0), pt(3.0, 4.0)])
    );
}

#[test]
fn object_reference_is_copied_and_tables_stay_consistent() {
    let bytes = [
        0x11, 0x09, 0x07, 0x01, // array of 3 (object index 0)
        0x0A, 0x0B, 0x01, 0x03, b'a', 0x04, 0x01,
        0x01, // {a:1} (object index 1, string 0 = "a")
        0x0A, 0x02, // object ref 1
        0x06, 0x00, // string ref 0
    ];
    let obj = Amf0Value::object([("a", num(1.0))]);
    assert_eq!(
        decode_whole(&bytes),
        Amf0Value::StrictArray(vec![obj.clone(), obj, s("a")])
    );
}

#[test]
fn byte_array_and_vectors() {
    assert_eq!(
        decode_whole(&[0x11, 0x0C, 0x07, 1, 2, 255]),
        Amf0Value::StrictArray(vec![num(1.0), num(2.0), num(255.0)])
    );
    assert_eq!(
        decode_whole(&[0x11, 0x0D, 0x05, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 2]),
        Amf0Value::StrictArray(vec![num(-1.0), num(2.0)])
    );
    assert_eq!(
        decode_whole(&[0x11, 0x0E, 0x03, 0x01, 0xFF, 0xFF, 0xFF, 0xFF]),
        Amf0Value::StrictArray(vec![num(4_294_967_295.0)])
    );
    let mut doubles = vec![0x11, 0x0F, 0x03, 0x00];
    doubles.extend_from_slice(&0.25f64.to_be_bytes());
    assert_eq!(
        decode_whole(&doubles),
        Amf0Value::StrictArray(vec![num(0.25)])
    );
    assert_eq!(
        decode_whole(&[0x11, 0x10, 0x05, 0x00, 0x01, 0x04, 0x01, 0x01]),
        Amf0Value::StrictArray(vec![num(1.0), Amf0Value::Null])
    );
    assert!(matches!(
        decode_value(&[0x11, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]),
        Err(Amf0Error::TooManyElements { .. })
    ));
}

#[test]
fn unsupported_and_invalid() {
    assert_eq!(
        decode_value(&[0x11, 0x0A, 0x07, 0x07, b'f', b'o', b'o']),
        Err(Amf0Error::Amf3Externalizable {
            class_name: "foo".into()
        })
    );
    assert_eq!(
        decode_value(&[0x11, 0x11, 0x03, 0x00]),
        Err(Amf0Error::Amf3Unsupported { marker: 0x11 })
    );
    assert_eq!(
        decode_value(&[0x11, 0x12]),
        Err(Amf0Error::Amf3UnknownMarker(0x12))
    );
    assert_eq!(
        decode_value(&[0x11, 0x06, 0x02]),
        Err(Amf0Error::Amf3ReferenceOutOfRange {
            table: Amf3Table::String,
            index: 1,
            len: 0
        })
    );
    assert_eq!(
        decode_value(&[0x11, 0x0A, 0x04]),
        Err(Amf0Error::Amf3ReferenceOutOfRange {
            table: Amf3Table::Object,
            index: 2,
            len: 0
        })
    );
    assert_eq!(
        decode_value(&[0x11, 0x0A, 0x05]),
        Err(Amf0Error::Amf3ReferenceOutOfRange {
            table: Amf3Table::Traits,
            index: 1,
            len: 0
        })
    );
    // An array containing a reference to itself.
    assert_eq!(
        decode_value(&[0x11, 0x09, 0x03, 0x01, 0x09, 0x00]),
        Err(Amf0Error::Amf3CyclicReference { index: 0 })
    );
    // Sealed-member count far beyond the input.
    assert!(matches!(
        decode_value(&[0x11, 0x0A, 0xFF, 0xFF, 0xFF, 0xF3, 0x01]),
        Err(Amf0Error::TooManyElements { .. })
    ));
    assert!(matches!(
        decode_value(&[0x11, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        Err(Amf0Error::TooManyElements { .. })
    ));
}

#[test]
fn reference_tables_are_fresh_for_each_switch() {
    let mut body = vec![0x02, 0x00, 0x07];
    body.extend_from_slice(b"connect");
    body.extend_from_slice(&[0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0]);
    body.extend_from_slice(&[
        0x11, 0x0A, 0x0B, 0x01, 0x07, b'a', b'p', b'p', 0x06, 0x09, b'l', b'i', b'v', b'e', 0x01,
    ]);
    body.extend_from_slice(&[0x11, 0x06, 0x07, b'a', b'b', b'c']);
    let values = decode_all(&body).unwrap();
    assert_eq!(
        values,
        vec![
            s("connect"),
            num(1.0),
            Amf0Value::object([("app", s("live"))]),
            s("abc")
        ]
    );
    // A string reference into the previous switch's table is out of range.
    body.extend_from_slice(&[0x11, 0x06, 0x00]);
    assert_eq!(
        decode_all(&body),
        Err(Amf0Error::Amf3ReferenceOutOfRange {
            table: Amf3Table::String,
            index: 0,
            len: 0
        })
    );
}

#[test]
fn amf3_inside_amf0_object() {
    let bytes = [0x03, 0x00, 0x01, b'k', 0x11, 0x04, 0x2A, 0x00, 0x00, 0x09];
    assert_eq!(decode_whole(&bytes), Amf0Value::object([("k", num(42.0))]));
}

#[test]
fn object_reference_bomb_hits_expansion_limit() {
    // outer = [ e0, e1, ..., e39 ]; e0 = 1000-byte ByteArray;
    // e_k = [ ref e_(k-1), ref e_(k-1) ]  (e_k is object-table index k+1).
    const N: u32 = 40;
    let mut bytes = vec![0x11, 0x09];
    bytes.extend(u29((N << 1) | 1));
    bytes.push(0x01);
    bytes.push(0x0C);
    bytes.extend(u29((1000 << 1) | 1));
    bytes.extend([0xAB; 1000]);
    for k in 1..N {
        bytes.extend_from_slice(&[0x09, 0x05, 0x01]);
        for _ in 0..2 {
            bytes.push(0x09);
            bytes.extend(u29(k << 1));
        }
    }
    assert_eq!(
        decode_value(&bytes),
        Err(Amf0Error::Amf3ExpansionLimit {
            limit: MAX_AMF3_EXPANSION
        })
    );

    // A few levels are fine and produce the expected copies.
    let mut small = vec![0x11, 0x09];
    small.extend(u29((3 << 1) | 1));
    small.extend_from_slice(&[0x01, 0x0C, 0x05, 7, 8]);
    for k in 1..3u32 {
        small.extend_from_slice(&[0x09, 0x05, 0x01]);
        for _ in 0..2 {
            small.push(0x09);
            small.extend(u29(k << 1));
        }
    }
    let bytes78 = Amf0Value::StrictArray(vec![num(7.0), num(8.0)]);
    let e1 = Amf0Value::StrictArray(vec![bytes78.clone(), bytes78.clone()]);
    let e2 = Amf0Value::StrictArray(vec![e1.clone(), e1.clone()]);
    assert_eq!(
        decode_whole(&small),
        Amf0Value::StrictArray(vec![bytes78, e1, e2])
    );
}

#[test]
fn string_reference_bomb_hits_expansion_limit() {
    const REFS: u32 = 2_000;
    let mut bytes = vec![0x11, 0x09];
    bytes.extend(u29(((REFS + 1) << 1) | 1));
    bytes.push(0x01);
    bytes.push(0x06);
    bytes.extend(u29((60_000 << 1) | 1));
    bytes.extend([b'x'; 60_000]);
    for _ in 0..REFS {
        bytes.extend_from_slice(&[0x06, 0x00]);
    }
    assert_eq!(
        decode_value(&bytes),
        Err(Amf0Error::Amf3ExpansionLimit {
            limit: MAX_AMF3_EXPANSION
        })
    );
}

#[test]
fn resolved_reference_must_fit_the_depth_limit() {
    // outer array (depth 1) holds a 60-deep chain built inline, then a
    // reference to it nested 10 arrays deeper: 1 + 10 + 60 > 64.
    let mut bytes = vec![0x11, 0x09, 0x05, 0x01];
    for _ in 0..60 {
        bytes.extend_from_slice(&[0x09, 0x03, 0x01]);
    }
    bytes.push(0x01);
    for _ in 0..10 {
        bytes.extend_from_slice(&[0x09, 0x03, 0x01]);
    }
    bytes.extend_from_slice(&[0x09, 0x02]); // ref to object index 1 (the chain)
    assert_eq!(decode_value(&bytes), Err(Amf0Error::NestingTooDeep));
}
