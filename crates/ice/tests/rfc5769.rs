//! RFC 5769 test vectors (§2.1 request, §2.2 IPv4 response, §2.3 IPv6 response): parsing,
//! FINGERPRINT, MESSAGE-INTEGRITY and XOR-MAPPED-ADDRESS. The vectors pad with 0x20 bytes.

use std::net::SocketAddr;

use sluice_ice::{Class, Message, MessageBuilder, StunError, METHOD_BINDING};

const PASSWORD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
const TRANSACTION_ID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn request() -> Vec<u8> {
    hex("00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
         00 24 00 04 6e 00 01 ff
         80 29 00 08 93 2f f9 b1 51 26 3b 36
         00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
         00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
         80 28 00 04 e5 7a 3b cf")
}

fn response_v4() -> Vec<u8> {
    hex("01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
         00 20 00 08 00 01 a1 47 e1 12 a6 43
         00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
         80 28 00 04 c0 7d 4c 96")
}

fn response_v6() -> Vec<u8> {
    hex("01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
         00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
         00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
         80 28 00 04 c8 fb 0b 4c")
}

#[test]
fn sample_request_2_1() {
    let buf = request();
    let m = Message::parse(&buf).unwrap();
    assert_eq!(m.class(), Class::Request);
    assert_eq!(m.method(), METHOD_BINDING);
    assert_eq!(m.transaction_id(), TRANSACTION_ID);
    assert_eq!(m.username().unwrap(), Some("evtj:h6vY"));
    assert_eq!(m.priority(), Some(0x6e0001ff));
    assert_eq!(m.ice_controlled(), Some(0x932f_f9b1_5126_3b36));
    assert!(m.has_fingerprint());
    m.verify_integrity(PASSWORD).unwrap();
    assert_eq!(
        m.verify_integrity(b"VOkJxbRl1RmTxUk/WvJxBr"),
        Err(StunError::BadIntegrity)
    );
}

#[test]
fn sample_ipv4_response_2_2() {
    let buf = response_v4();
    let m = Message::parse(&buf).unwrap();
    assert_eq!(m.class(), Class::SuccessResponse);
    assert_eq!(
        m.xor_mapped_address(),
        Some("192.0.2.1:32853".parse::<SocketAddr>().unwrap())
    );
    m.verify_integrity(PASSWORD).unwrap();
}

#[test]
fn sample_ipv6_response_2_3() {
    let buf = response_v6();
    let m = Message::parse(&buf).unwrap();
    assert_eq!(
        m.xor_mapped_address(),
        Some(
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse::<SocketAddr>()
                .unwrap()
        )
    );
    m.verify_integrity(PASSWORD).unwrap();
}

#[test]
fn a_flipped_bit_fails_the_fingerprint() {
    for i in 0..request().len() - 4 {
        let mut buf = request();
        buf[i] ^= 0x01;
        assert!(
            Message::parse(&buf).is_err(),
            "byte {i} flipped still parsed"
        );
    }
}

/// The builder writes the same XOR-MAPPED-ADDRESS bytes as the vectors and signs what the
/// parser verifies.
#[test]
fn builder_round_trip_v4_and_v6() {
    for (addr, vector) in [
        ("192.0.2.1:32853", response_v4()),
        (
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
            response_v6(),
        ),
    ] {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut out = Vec::new();
        MessageBuilder::new(
            &mut out,
            Class::SuccessResponse,
            METHOD_BINDING,
            &TRANSACTION_ID,
        )
        .xor_mapped_address(addr)
        .message_integrity(PASSWORD)
        .fingerprint();
        let m = Message::parse(&out).unwrap();
        assert_eq!(m.xor_mapped_address(), Some(addr));
        m.verify_integrity(PASSWORD).unwrap();
        let ours = m
            .attribute(sluice_ice::attribute::ATTR_XOR_MAPPED_ADDRESS)
            .unwrap()
            .value;
        let theirs = Message::parse(&vector)
            .unwrap()
            .attribute(sluice_ice::attribute::ATTR_XOR_MAPPED_ADDRESS)
            .unwrap()
            .value;
        assert_eq!(ours, theirs);
    }
}
