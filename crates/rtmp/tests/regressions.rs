//! Fuzz crash reproducers, kept as tests (DESIGN.md: "crash reproducers become regression
//! tests"). Each input runs through the very harness its fuzz target runs
//! (`crates/fuzz/src/lib.rs`, included below), so a reproducer fails here exactly as it
//! crashed there, under plain `cargo test -p sluice-rtmp`.
//!
//! To add one: `xxd -i crates/fuzz/artifacts/<target>/crash-<hash>` (or `cargo fuzz fmt`), paste
//! the bytes into a test named after what it broke, call `harness::<target>(&bytes)`, fix the
//! bug, and keep the test. Minimise first with `cargo +nightly fuzz tmin`.

#[allow(dead_code)]
#[path = "../../fuzz/src/lib.rs"]
mod harness;

/// The inputs every harness must survive, as a smoke test that the included harness code
/// builds and runs here: empty input, one byte, and a valid handshake prefix.
#[test]
fn harnesses_accept_trivial_inputs() {
    for input in [&[][..], &[0], &[3], &[0xFF; 64]] {
        harness::amf0_decode(input);
        harness::chunk_decoder(input);
        harness::handshake_server(input);
        harness::session_server(input);
        harness::flv_tags(input);
    }
    let mut c0c1c2 = vec![3u8];
    c0c1c2.extend((0..2 * 1536 + 40).map(|i| i as u8));
    harness::handshake_server(&c0c1c2);
}

/// A full session prefix: Window Ack Size from the fuzz stream, a PingRequest the server must
/// answer, and an aggregate with two tags.
#[test]
fn session_harness_replays_a_realistic_stream() {
    let mut input = vec![0b11u8]; // complex handshake, small client window
                                  // Window Acknowledgement Size 100 (csid 2, type 5).
    input.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 4, 5, 0, 0, 0, 0, 0, 0, 0, 100]);
    // User control PingRequest(7) (type 4).
    input.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 6, 4, 0, 0, 0, 0, 0, 6, 0, 0, 0, 7]);
    // Aggregate (type 22) with an audio and a video tag, on csid 6.
    let mut agg = Vec::new();
    for (t, ts) in [(8u8, 10u32), (9, 50)] {
        agg.extend_from_slice(&[t, 0, 0, 2, 0, 0, ts as u8, 0, 0, 0, 0, 0xAF, 1, 0, 0, 0, 13]);
    }
    input.extend_from_slice(&[0x06, 0, 0, 0, 0, 0, agg.len() as u8, 22, 1, 0, 0, 0]);
    input.extend_from_slice(&agg);
    harness::session_server(&input);
}

/// amf0_decode, found in the first minute of fuzzing: a NaN Number (`00 FF..FF`) followed by
/// a Date and an AMF3 value. Not a decoder bug: the harness compared the strict and lenient
/// decodings with `==`, and NaN is not equal to itself; it now compares canonical bytes.
#[test]
fn amf0_nan_number_decodes_the_same_strict_and_lenient() {
    let input: [u8; 65] = [
        0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x01, 0x78, 0x11, 0x09, 0x05, 0x0b, 0x00, 0x00, 0xf4, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x00,
    ];
    harness::amf0_decode(&input);
    let (value, used) = sluice_amf0::decode_value(&input).unwrap();
    assert!(value.as_number().is_some_and(f64::is_nan));
    assert_eq!(used, 9);
}
