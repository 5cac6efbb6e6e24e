//! Truncated, oversized and deeply nested input: always an `Err`, never a
//! panic or a huge allocation.

mod common;

use common::sample_values;
use sluice_amf0::{
    decode_all, decode_all_strict, decode_value, decode_value_strict, encode_all, encode_to_vec,
    Amf0Error, Amf0Value, MAX_DEPTH,
};

fn connect_object() -> Amf0Value {
    Amf0Value::object([
        ("app", Amf0Value::from("live")),
        ("tcUrl", Amf0Value::from("rtmp://h/live")),
        (
            "caps",
            Amf0Value::ecma_array([("n", Amf0Value::Number(1.0))]),
        ),
    ])
}

fn connect_command() -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_all(
        &[
            Amf0Value::from("connect"),
            Amf0Value::Number(1.0),
            connect_object(),
            Amf0Value::StrictArray(vec![Amf0Value::Date {
                millis: 0.0,
                time_zone: 0,
            }]),
        ],
        &mut bytes,
    );
    bytes
}

/// Single-value encodings of every type.
fn single_encodings() -> Vec<Vec<u8>> {
    let mut encodings: Vec<Vec<u8>> = sample_values().iter().map(encode_to_vec).collect();
    encodings.push(encode_to_vec(&connect_object()));
    encodings
}

#[test]
fn every_strict_prefix_is_an_error() {
    for full in &single_encodings() {
        for len in 0..full.len() {
            let prefix = &full[..len];
            assert!(
                decode_value_strict(prefix).is_err(),
                "strict prefix {len} of {full:02X?} decoded"
            );
        }
    }
    // A sequence cut between two values decodes to the values before the
    // cut; a cut anywhere inside a value fails as a whole.
    let full = connect_command();
    let values = decode_all_strict(&full).unwrap();
    let mut boundaries = vec![0];
    for v in &values {
        boundaries.push(boundaries.last().unwrap() + encode_to_vec(v).len());
    }
    assert_eq!(boundaries.last(), Some(&full.len()));
    for len in 0..full.len() {
        match boundaries.iter().position(|&b| b == len) {
            Some(count) => assert_eq!(decode_all_strict(&full[..len]).unwrap(), values[..count]),
            None => assert!(
                decode_all_strict(&full[..len]).is_err(),
                "decode_all_strict prefix {len}"
            ),
        }
    }
}

#[test]
fn lenient_prefixes_fail_unless_only_an_object_end_is_missing() {
    for full in &single_encodings() {
        for len in 0..full.len() {
            let prefix = &full[..len];
            let _ = decode_all(prefix);
            if let Ok((_, consumed)) = decode_value(prefix) {
                // Leniency only ever closes objects at the very end of the input.
                assert_eq!(
                    consumed, len,
                    "lenient decode of prefix {len} of {full:02X?}"
                );
                assert!(decode_value_strict(prefix).is_err());
            }
        }
    }
    // Values without objects have no leniency at all.
    let flat = encode_to_vec(&Amf0Value::StrictArray(vec![
        Amf0Value::from("a"),
        Amf0Value::Number(2.0),
        Amf0Value::LongString("bc".into()),
    ]));
    for len in 0..flat.len() {
        assert!(decode_value(&flat[..len]).is_err());
    }
}

#[test]
fn missing_object_end_at_end_of_input_is_tolerated() {
    let full = encode_to_vec(&Amf0Value::object([("a", Amf0Value::Null)]));
    assert_eq!(full, [0x03, 0, 1, b'a', 0x05, 0, 0, 9]);
    for cut in [0, 1, 2] {
        let prefix = &full[..full.len() - 3 + cut];
        let (value, consumed) = decode_value(prefix).unwrap();
        assert_eq!(value, Amf0Value::object([("a", Amf0Value::Null)]));
        assert_eq!(consumed, prefix.len());
        assert!(decode_value_strict(prefix).is_err());
    }
    // Nested: both the inner and the outer terminator are missing.
    let nested = [0x03, 0, 1, b'o', 0x03, 0, 1, b'k', 0x05];
    let (value, _) = decode_value(&nested).unwrap();
    assert_eq!(
        value,
        Amf0Value::object([("o", Amf0Value::object([("k", Amf0Value::Null)]))])
    );
    // A missing terminator in the middle of the input is still an error.
    let mut bad = vec![0x03, 0, 1, b'a', 0x05];
    bad.extend_from_slice(&[0x05]);
    assert!(decode_value(&bad).is_err());
    // decode_all: the last command argument may lack its terminator.
    let mut command = encode_to_vec(&Amf0Value::from("play"));
    command.extend_from_slice(&[0x03, 0, 1, b'x', 0x05]);
    assert_eq!(decode_all(&command).unwrap().len(), 2);
    assert!(decode_all_strict(&command).is_err());
}

#[test]
fn strict_array_count_bomb_is_rejected() {
    assert_eq!(
        decode_value(&[0x0A, 0xFF, 0xFF, 0xFF, 0xFF]),
        Err(Amf0Error::TooManyElements {
            declared: 0xFFFF_FFFF,
            available: 0
        })
    );
    assert!(matches!(
        decode_value(&[0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05, 0x05]),
        Err(Amf0Error::TooManyElements {
            declared: 0xFFFF_FFFF,
            available: 2
        })
    ));
    // Count equal to the remaining bytes is allowed to try (and succeeds here).
    assert_eq!(
        decode_value(&[0x0A, 0, 0, 0, 2, 0x05, 0x06]).unwrap().0,
        Amf0Value::StrictArray(vec![Amf0Value::Null, Amf0Value::Undefined])
    );
}

#[test]
fn length_bombs_are_eof_errors() {
    assert_eq!(
        decode_value(&[0x0C, 0xFF, 0xFF, 0xFF, 0xFF, b'a']),
        Err(Amf0Error::UnexpectedEof {
            needed: 0xFFFF_FFFF,
            available: 1
        })
    );
    assert_eq!(
        decode_value(&[0x0F, 0xFF, 0xFF, 0xFF, 0xFF]),
        Err(Amf0Error::UnexpectedEof {
            needed: 0xFFFF_FFFF,
            available: 0
        })
    );
    assert_eq!(
        decode_value(&[0x02, 0xFF, 0xFF]),
        Err(Amf0Error::UnexpectedEof {
            needed: 0xFFFF,
            available: 0
        })
    );
    assert_eq!(
        decode_value(&[0x08, 0xFF, 0xFF, 0xFF, 0xFF]),
        Ok((Amf0Value::EcmaArray(vec![]), 5)),
        "ECMA count is only a hint; lenient end of input"
    );
    assert!(decode_value_strict(&[0x08, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
    assert_eq!(
        decode_value(&[]),
        Err(Amf0Error::UnexpectedEof {
            needed: 1,
            available: 0
        })
    );
}

fn nested_strict_arrays(levels: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(levels * 5 + 1);
    for _ in 0..levels {
        bytes.extend_from_slice(&[0x0A, 0, 0, 0, 1]);
    }
    bytes.push(0x05);
    bytes
}

#[test]
fn depth_bomb_is_nesting_too_deep() {
    assert_eq!(
        decode_value(&nested_strict_arrays(1_000_000)),
        Err(Amf0Error::NestingTooDeep)
    );
    assert_eq!(
        decode_value(&nested_strict_arrays(MAX_DEPTH + 1)),
        Err(Amf0Error::NestingTooDeep)
    );
    let (value, _) = decode_value(&nested_strict_arrays(MAX_DEPTH)).unwrap();
    // The deepest allowed value re-encodes to the same bytes.
    assert_eq!(encode_to_vec(&value), nested_strict_arrays(MAX_DEPTH));

    // Objects, ECMA arrays and typed objects count as well.
    let mut objects = Vec::new();
    for i in 0..100_000 {
        match i % 3 {
            0 => objects.extend_from_slice(&[0x03, 0, 1, b'k']),
            1 => objects.extend_from_slice(&[0x08, 0, 0, 0, 1, 0, 1, b'k']),
            _ => objects.extend_from_slice(&[0x10, 0, 1, b'C', 0, 1, b'k']),
        }
    }
    assert_eq!(decode_value(&objects), Err(Amf0Error::NestingTooDeep));
    // Deep AMF3 arrays behind the switch too.
    let mut amf3 = vec![0x11];
    for _ in 0..100_000 {
        amf3.extend_from_slice(&[0x09, 0x03, 0x01]);
    }
    assert_eq!(decode_value(&amf3), Err(Amf0Error::NestingTooDeep));
    // AMF0 containers and the AMF3 ones inside them share the same budget.
    let mut mixed = vec![];
    for _ in 0..MAX_DEPTH - 1 {
        mixed.extend_from_slice(&[0x0A, 0, 0, 0, 1]);
    }
    mixed.extend_from_slice(&[0x11, 0x09, 0x03, 0x01, 0x01]);
    assert!(decode_value(&mixed).is_ok());
    let mut too_deep = vec![0x0A, 0, 0, 0, 1];
    too_deep.extend_from_slice(&mixed);
    assert_eq!(decode_value(&too_deep), Err(Amf0Error::NestingTooDeep));
}

#[test]
fn errors_display() {
    let errors = [
        Amf0Error::UnexpectedEof {
            needed: 2,
            available: 1,
        },
        Amf0Error::UnknownMarker(0x04),
        Amf0Error::NestingTooDeep,
        Amf0Error::TooManyElements {
            declared: 9,
            available: 1,
        },
    ];
    for e in errors {
        let text = e.to_string();
        assert!(!text.is_empty());
        let _: &dyn std::error::Error = &e;
    }
}
