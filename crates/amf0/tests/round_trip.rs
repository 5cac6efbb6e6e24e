//! Encode → decode → encode round trips of every AMF0 type.

mod common;

use common::{random_value, sample_values, XorShift};
use sluice_amf0::{
    decode_all, decode_value, decode_value_strict, encode_all, encode_to_vec, Amf0Value,
};

/// Decode must give back the value and re-encoding must give back the bytes.
fn assert_round_trip(value: &Amf0Value) {
    let bytes = encode_to_vec(value);
    let (decoded, consumed) = decode_value_strict(&bytes).expect("valid encoding decodes");
    assert_eq!(&decoded, value);
    assert_eq!(consumed, bytes.len());
    assert_eq!(encode_to_vec(&decoded), bytes);
    assert_eq!(decode_value(&bytes).unwrap(), (decoded, consumed));
}

#[test]
fn every_type_round_trips() {
    for value in sample_values() {
        assert_round_trip(&value);
    }
}

#[test]
fn nested_objects_keep_property_order_and_duplicates() {
    let value = Amf0Value::object([
        ("zeta", Amf0Value::Number(1.0)),
        (
            "alpha",
            Amf0Value::object([("b", Amf0Value::Null), ("a", Amf0Value::Boolean(false))]),
        ),
        (
            "mid",
            Amf0Value::ecma_array([("2", Amf0Value::Undefined), ("1", Amf0Value::from("x"))]),
        ),
        ("zeta", Amf0Value::Number(2.0)),
    ]);
    assert_round_trip(&value);
    let (decoded, _) = decode_value(&encode_to_vec(&value)).unwrap();
    let keys: Vec<&str> = decoded
        .properties()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(keys, ["zeta", "alpha", "mid", "zeta"]);
    assert_eq!(decoded.get("zeta"), Some(&Amf0Value::Number(1.0)));
    let inner: Vec<&str> = decoded
        .get("alpha")
        .unwrap()
        .properties()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(inner, ["b", "a"]);
}

#[test]
fn empty_containers_round_trip() {
    assert_round_trip(&Amf0Value::Object(vec![]));
    assert_round_trip(&Amf0Value::EcmaArray(vec![]));
    assert_round_trip(&Amf0Value::StrictArray(vec![]));
    assert_round_trip(&Amf0Value::TypedObject {
        class_name: String::new(),
        properties: vec![],
    });
    assert_round_trip(&Amf0Value::String(String::new()));
    assert_round_trip(&Amf0Value::LongString(String::new()));
}

#[test]
fn special_numbers_round_trip_bit_exactly() {
    for n in [
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::NEG_INFINITY,
        5e-324,
    ] {
        assert_round_trip(&Amf0Value::Number(n));
    }
    let nan = Amf0Value::Number(f64::from_bits(0x7FF8_0000_0000_1234));
    let bytes = encode_to_vec(&nan);
    let (decoded, _) = decode_value(&bytes).unwrap();
    assert_eq!(
        decoded.as_number().unwrap().to_bits(),
        0x7FF8_0000_0000_1234
    );
    assert_eq!(encode_to_vec(&decoded), bytes);
}

#[test]
fn long_string_over_65535_bytes() {
    let text = "é".repeat(40_000); // 80 000 bytes
    let bytes = encode_to_vec(&Amf0Value::String(text.clone()));
    assert_eq!(
        bytes[0], 0x0C,
        "String > 65535 bytes is written as a long string"
    );
    assert_eq!(&bytes[1..5], &80_000u32.to_be_bytes());
    assert_eq!(bytes.len(), 5 + 80_000);
    let (decoded, consumed) = decode_value(&bytes).unwrap();
    assert_eq!(consumed, bytes.len());
    assert_eq!(decoded, Amf0Value::LongString(text.clone()));
    assert_eq!(decoded.as_str(), Some(text.as_str()));
    assert_round_trip(&Amf0Value::LongString(text));

    // Exactly 65535 bytes still fits the short form.
    let edge = "x".repeat(65_535);
    let bytes = encode_to_vec(&Amf0Value::String(edge.clone()));
    assert_eq!(&bytes[..3], &[0x02, 0xFF, 0xFF]);
    assert_round_trip(&Amf0Value::String(edge));
    // A long string inside an object.
    assert_round_trip(&Amf0Value::object([(
        "big",
        Amf0Value::LongString("y".repeat(70_000)),
    )]));
}

#[test]
fn boolean_nonzero_byte_is_true() {
    assert_eq!(
        decode_value(&[0x01, 0x7F]).unwrap(),
        (Amf0Value::Boolean(true), 2)
    );
    assert_eq!(
        decode_value(&[0x01, 0x00]).unwrap(),
        (Amf0Value::Boolean(false), 2)
    );
}

#[test]
fn decode_all_reads_a_command_sequence() {
    let values = sample_values();
    let mut bytes = Vec::new();
    encode_all(&values, &mut bytes);
    assert_eq!(decode_all(&bytes).unwrap(), values);
    assert_eq!(decode_all(&[]).unwrap(), vec![]);
}

#[test]
fn trailing_bytes_are_left_alone() {
    let (v, n) = decode_value(&[0x05, 0x05, 0xFF]).unwrap();
    assert_eq!((v, n), (Amf0Value::Null, 1));
}

#[test]
fn random_values_round_trip() {
    let mut rng = XorShift::new(0x5EED_1234_ABCD);
    for _ in 0..2_000 {
        let values: Vec<Amf0Value> = (0..1 + rng.below(3))
            .map(|_| random_value(&mut rng, 0))
            .collect();
        for v in &values {
            assert_round_trip(v);
        }
        let mut bytes = Vec::new();
        encode_all(&values, &mut bytes);
        assert_eq!(decode_all(&bytes).unwrap(), values);
    }
}
