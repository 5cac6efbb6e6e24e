//! Deterministic pseudo-random fuzzing (own xorshift, no dependency):
//! 100k byte strings, none may panic; whatever decodes must re-encode and
//! decode to the same value.

mod common;

use common::{sample_values, XorShift};
use sluice_amf0::{decode_all, decode_value, decode_value_strict, encode_to_vec, Amf0Value};

/// Hand-built AMF3 encodings to mutate.
const AMF3_SEEDS: &[&[u8]] = &[
    &[
        0x11, 0x09, 0x07, 0x01, 0x0A, 0x0B, 0x01, 0x03, b'a', 0x04, 0x01, 0x01, 0x0A, 0x02, 0x06,
        0x00,
    ],
    &[
        0x11, 0x09, 0x05, 0x01, 0x0A, 0x23, 0x05, b'P', b't', 0x03, b'x', 0x03, b'y', 0x04, 0x01,
        0x04, 0x02, 0x0A, 0x01, 0x04, 0x03, 0x04, 0x04,
    ],
    &[0x11, 0x09, 0x03, 0x03, b'k', 0x01, 0x01, 0x04, 0x07],
    &[0x11, 0x10, 0x05, 0x00, 0x01, 0x04, 0x01, 0x01],
    &[0x11, 0x0D, 0x05, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 2],
];

fn contains_nan(v: &Amf0Value) -> bool {
    match v {
        Amf0Value::Number(n) => n.is_nan(),
        Amf0Value::Date { millis, .. } => millis.is_nan(),
        Amf0Value::StrictArray(items) => items.iter().any(contains_nan),
        _ => v
            .properties()
            .is_some_and(|p| p.iter().any(|(_, v)| contains_nan(v))),
    }
}

fn check(input: &[u8]) {
    if let Ok((value, consumed)) = decode_value(input) {
        assert!(consumed <= input.len());
        // Re-encoding gives canonical AMF0 that decodes to the same value
        // (NaN aside, which is never equal to itself).
        if !contains_nan(&value) {
            let canonical = encode_to_vec(&value);
            let (again, n) = decode_value_strict(&canonical).expect("canonical encoding decodes");
            assert_eq!(n, canonical.len());
            assert_eq!(again, value);
        }
    }
    let _ = decode_value_strict(input);
    let _ = decode_all(input);
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift::new(0x00C0_FFEE_D00D);
    let mut corpus: Vec<Vec<u8>> = sample_values().iter().map(encode_to_vec).collect();
    corpus.extend(AMF3_SEEDS.iter().map(|s| s.to_vec()));
    let mut input = Vec::with_capacity(256);
    for i in 0..100_000u32 {
        input.clear();
        match i % 3 {
            // Uniformly random bytes.
            0 => {
                let len = rng.below(64);
                input.extend((0..len).map(|_| rng.byte()));
            }
            // Bytes biased towards markers, small lengths and AMF3 headers.
            1 => {
                let len = rng.below(96);
                input.extend((0..len).map(|_| match rng.below(4) {
                    0 => rng.byte(),
                    1 => 0x00,
                    _ => (rng.below(0x13)) as u8,
                }));
            }
            // Mutations of valid encodings: flips, truncation, splices.
            _ => {
                input.extend_from_slice(&corpus[rng.below(corpus.len())]);
                for _ in 0..1 + rng.below(4) {
                    if input.is_empty() {
                        break;
                    }
                    let at = rng.below(input.len());
                    match rng.below(4) {
                        0 => input[at] = rng.byte(),
                        1 => input[at] ^= 1 << rng.below(8),
                        2 => input.truncate(at),
                        _ => {
                            let other = &corpus[rng.below(corpus.len())];
                            let cut = rng.below(other.len() + 1);
                            input.splice(at..at, other[..cut].iter().copied());
                        }
                    }
                }
            }
        }
        check(&input);
    }
}
