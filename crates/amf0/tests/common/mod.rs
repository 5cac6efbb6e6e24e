//! Shared test helpers: a deterministic xorshift PRNG (no dependency) and
//! a random [`Amf0Value`] generator.
#![allow(dead_code)]

use sluice_amf0::Amf0Value;

/// xorshift64 (Marsaglia), deterministic for a given non-zero seed.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Short random text, sometimes non-ASCII, never longer than 40 bytes.
pub fn random_text(rng: &mut XorShift) -> String {
    const ALPHABET: &[&str] = &[
        "a", "b", "z", "0", " ", "_", "é", "日", "🎥", "app", "tcUrl",
    ];
    let n = rng.below(6);
    (0..n)
        .map(|_| ALPHABET[rng.below(ALPHABET.len())])
        .collect()
}

/// A random value that survives an encode/decode round trip unchanged
/// (no NaN, strings short enough to stay `String`).
pub fn random_value(rng: &mut XorShift, depth: usize) -> Amf0Value {
    let leaf_only = depth >= 5;
    let kinds = if leaf_only { 10 } else { 15 };
    match rng.below(kinds) {
        0 => Amf0Value::Number(match rng.below(4) {
            0 => 0.0,
            1 => -1.5,
            2 => f64::INFINITY,
            _ => (rng.next_u64() % 1_000_000) as f64 / 7.0,
        }),
        1 => Amf0Value::Boolean(rng.chance(2)),
        2 => Amf0Value::String(random_text(rng)),
        3 => Amf0Value::Null,
        4 => Amf0Value::Undefined,
        5 => Amf0Value::Reference(rng.next_u64() as u16),
        6 => Amf0Value::Date {
            millis: 1_700_000_000_000.0,
            time_zone: rng.next_u64() as i16,
        },
        7 => Amf0Value::LongString(random_text(rng)),
        8 => Amf0Value::Unsupported,
        9 => Amf0Value::XmlDocument(random_text(rng)),
        10 | 11 => Amf0Value::Object(random_props(rng, depth)),
        12 => Amf0Value::EcmaArray(random_props(rng, depth)),
        13 => Amf0Value::StrictArray(
            (0..rng.below(5))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => Amf0Value::TypedObject {
            class_name: random_text(rng),
            properties: random_props(rng, depth),
        },
    }
}

fn random_props(rng: &mut XorShift, depth: usize) -> Vec<(String, Amf0Value)> {
    (0..rng.below(5))
        .map(|_| (random_text(rng), random_value(rng, depth + 1)))
        .collect()
}

/// AMF0 §2.4 string written by hand (independent of the crate's encoder).
pub fn amf0_string(out: &mut Vec<u8>, s: &str) {
    out.push(0x02);
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// AMF0 §2.2 number written by hand.
pub fn amf0_number(out: &mut Vec<u8>, n: f64) {
    out.push(0x00);
    out.extend_from_slice(&n.to_bits().to_be_bytes());
}

/// AMF0 object key (u16 length + UTF-8) written by hand.
pub fn amf0_key(out: &mut Vec<u8>, k: &str) {
    out.extend_from_slice(&(k.len() as u16).to_be_bytes());
    out.extend_from_slice(k.as_bytes());
}

/// A corpus of valid encodings covering every AMF0 type, for truncation
/// and mutation tests.
pub fn sample_values() -> Vec<Amf0Value> {
    vec![
        Amf0Value::Number(1.0),
        Amf0Value::Boolean(true),
        Amf0Value::String("connect".into()),
        Amf0Value::object([
            ("app", Amf0Value::from("live")),
            (
                "nested",
                Amf0Value::object([("x", Amf0Value::Number(2.0)), ("n", Amf0Value::Null)]),
            ),
            (
                "arr",
                Amf0Value::StrictArray(vec![Amf0Value::Undefined, Amf0Value::from("s")]),
            ),
        ]),
        Amf0Value::Null,
        Amf0Value::Undefined,
        Amf0Value::Reference(3),
        Amf0Value::ecma_array([
            ("duration", Amf0Value::Number(0.0)),
            ("encoder", Amf0Value::from("Lavf")),
        ]),
        Amf0Value::StrictArray(vec![
            Amf0Value::Number(1.0),
            Amf0Value::StrictArray(vec![Amf0Value::Null]),
        ]),
        Amf0Value::Date {
            millis: 1.5e12,
            time_zone: 0,
        },
        Amf0Value::LongString("long".into()),
        Amf0Value::Unsupported,
        Amf0Value::XmlDocument("<a/>".into()),
        Amf0Value::TypedObject {
            class_name: "flex.Msg".into(),
            properties: vec![("body".into(), Amf0Value::StrictArray(vec![]))],
        },
    ]
}
