//! Tests of the RTMP handshake (§5.2) and of the complex-handshake digests.
//!
//! Digests are checked with an HMAC-SHA256 written here from `sha2` alone
//! (RFC 2104), independent of the `hmac` crate used by the module.

use sha2::{Digest, Sha256};

use super::digest::{self, DigestScheme};
use super::*;

// ---------------------------------------------------------------- helpers

/// xorshift64* PRNG: deterministic test randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = (self.next_u64() >> 56) as u8;
        }
    }
    fn random_block(&mut self) -> [u8; RANDOM_SIZE] {
        let mut r = [0u8; RANDOM_SIZE];
        self.fill(&mut r);
        r
    }
    fn packet(&mut self) -> [u8; HANDSHAKE_SIZE] {
        let mut p = [0u8; HANDSHAKE_SIZE];
        self.fill(&mut p);
        p
    }
}

/// HMAC-SHA256 per RFC 2104, built on `sha2` only.
fn ref_hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const FP_PARTIAL: &[u8] = b"Genuine Adobe Flash Player 001";
const FMS_PARTIAL: &[u8] = b"Genuine Adobe Flash Media Server 001";
const SUFFIX_HEX: &str = "F0EEC24A8068BEE82E00D0D1029E7E576EEC5D2D29806FAB93B8E636CFEB31AE";

fn fp_full() -> Vec<u8> {
    [FP_PARTIAL, &hex(SUFFIX_HEX)].concat()
}

fn fms_full() -> Vec<u8> {
    [FMS_PARTIAL, &hex(SUFFIX_HEX)].concat()
}

/// Digest offset computed from the formulas, independently of the module.
fn ref_offset(p: &[u8], scheme: u8) -> usize {
    let base = if scheme == 0 { 8 } else { 772 };
    let sum: usize = p[base..base + 4].iter().map(|&b| b as usize).sum();
    sum % 728 + base + 4
}

/// Reference digest of a C1/S1 at `offset`: HMAC over the packet minus the
/// 32 digest bytes.
fn ref_packet_digest(p: &[u8], offset: usize, key: &[u8]) -> [u8; 32] {
    let mut data = Vec::with_capacity(HANDSHAKE_SIZE - 32);
    data.extend_from_slice(&p[..offset]);
    data.extend_from_slice(&p[offset + 32..]);
    ref_hmac(key, &data)
}

/// Reference check of a digest-style C2/S2 against the peer's digest.
fn ref_response_ok(p: &[u8], peer_digest: &[u8], full_key: &[u8]) -> bool {
    let key = ref_hmac(full_key, peer_digest);
    ref_hmac(&key, &p[..1504])[..] == p[1504..]
}

/// Hand-built C1 signed at `scheme` by the reference HMAC.
fn hand_built_c1(rng: &mut Rng, scheme: u8) -> ([u8; HANDSHAKE_SIZE], usize) {
    let mut c1 = rng.packet();
    c1[..4].copy_from_slice(&1234u32.to_be_bytes());
    c1[4..8].copy_from_slice(&[0x80, 0x00, 0x07, 0x02]);
    let off = ref_offset(&c1, scheme);
    let d = ref_packet_digest(&c1, off, FP_PARTIAL);
    c1[off..off + 32].copy_from_slice(&d);
    (c1, off)
}

fn arr(p: &[u8]) -> [u8; HANDSHAKE_SIZE] {
    p.try_into().unwrap()
}

/// Feeds `data` into `feed` in pieces whose sizes come from `split`, until
/// the machine is done; returns total consumed.
fn feed_in_pieces<F>(data: &[u8], mut split: impl FnMut() -> usize, mut feed: F) -> usize
where
    F: FnMut(&[u8]) -> (usize, bool),
{
    let mut pos = 0;
    while pos < data.len() {
        let n = split().max(1).min(data.len() - pos);
        let (used, done) = feed(&data[pos..pos + n]);
        assert!(used <= n);
        pos += used;
        if done {
            return pos;
        }
        assert_eq!(used, n, "a machine that is not done consumes everything");
    }
    pos
}

struct PairResult {
    c0c1: Vec<u8>,
    s0s1s2: Vec<u8>,
    c2: Vec<u8>,
    server_kind: Option<HandshakeKind>,
    client_kind: Option<HandshakeKind>,
    s2_ok: Option<bool>,
}

/// Runs a client and a server against each other, delivering each direction
/// in pieces chosen by `split`, with `trailing` chunk bytes appended after
/// C2 and after S2 (which must not be consumed).
fn run_pair(
    mut client: ClientHandshake,
    mut server: ServerHandshake,
    split: &mut dyn FnMut() -> usize,
    trailing: &[u8],
) -> PairResult {
    let mut c0c1 = Vec::new();
    client.start(&mut c0c1);
    assert_eq!(c0c1.len(), 1537);

    // Client -> server: C0+C1 first (the server answers before C2 exists).
    let mut s_out = Vec::new();
    let used = feed_in_pieces(&c0c1, &mut *split, |piece| {
        let n = server.feed(piece, &mut s_out).unwrap();
        (n, server.is_done())
    });
    assert_eq!(used, 1537);
    assert!(!server.is_done());
    assert_eq!(s_out.len(), 3073);

    // Server -> client: S0+S1+S2 + trailing chunk bytes.
    let mut to_client = s_out.clone();
    to_client.extend_from_slice(trailing);
    let mut c_out = Vec::new();
    let used = feed_in_pieces(&to_client, &mut *split, |piece| {
        let n = client.feed(piece, &mut c_out).unwrap();
        (n, client.is_done())
    });
    assert!(client.is_done());
    assert_eq!(used, 3073, "client must not consume chunk bytes after S2");
    assert_eq!(c_out.len(), 1536);

    // Client -> server: C2 + trailing chunk bytes.
    let mut to_server = c_out.clone();
    to_server.extend_from_slice(trailing);
    let mut extra = Vec::new();
    let used = feed_in_pieces(&to_server, &mut *split, |piece| {
        let n = server.feed(piece, &mut extra).unwrap();
        (n, server.is_done())
    });
    assert!(server.is_done());
    assert_eq!(used, 1536, "server must not consume chunk bytes after C2");
    assert!(extra.is_empty());

    // Done machines consume nothing more.
    assert_eq!(server.feed(trailing, &mut extra).unwrap(), 0);
    assert_eq!(client.feed(trailing, &mut extra).unwrap(), 0);
    assert!(extra.is_empty());

    PairResult {
        c0c1,
        s0s1s2: s_out,
        c2: c_out,
        server_kind: server.kind(),
        client_kind: client.kind(),
        s2_ok: client.s2_digest_valid(),
    }
}

fn check_complex(r: &PairResult, scheme: u8) {
    assert_eq!(r.server_kind, Some(HandshakeKind::Complex));
    assert_eq!(r.client_kind, Some(HandshakeKind::Complex));
    assert_eq!(r.s2_ok, Some(true));
    let c1 = &r.c0c1[1..];
    let s1 = &r.s0s1s2[1..1537];
    let s2 = &r.s0s1s2[1537..];
    assert_eq!(r.s0s1s2[0], 3);
    assert_eq!(&s1[4..8], &SERVER_VERSION);
    // C1 digest at the requested scheme, checked with the reference HMAC.
    let c1_off = ref_offset(c1, scheme);
    assert_eq!(
        ref_packet_digest(c1, c1_off, FP_PARTIAL)[..],
        c1[c1_off..c1_off + 32]
    );
    // S1 digest at the same scheme with the FMS key.
    let s1_off = ref_offset(s1, scheme);
    assert_eq!(
        ref_packet_digest(s1, s1_off, FMS_PARTIAL)[..],
        s1[s1_off..s1_off + 32]
    );
    assert_eq!(find_s1_digest(&arr(s1)), Some((scheme, s1_off)));
    // S2 answers C1's digest, C2 answers S1's digest.
    assert!(ref_response_ok(s2, &c1[c1_off..c1_off + 32], &fms_full()));
    assert!(ref_response_ok(&r.c2, &s1[s1_off..s1_off + 32], &fp_full()));
}

fn check_simple(r: &PairResult, client_epoch: u32, server_epoch: u32, server_random: &[u8]) {
    assert_eq!(r.server_kind, Some(HandshakeKind::Simple));
    assert_eq!(r.client_kind, Some(HandshakeKind::Simple));
    assert_eq!(r.s2_ok, None);
    let c1 = &r.c0c1[1..];
    let s1 = &r.s0s1s2[1..1537];
    let s2 = &r.s0s1s2[1537..];
    assert_eq!(&c1[..4], &client_epoch.to_be_bytes());
    assert_eq!(&c1[4..8], &[0, 0, 0, 0]);
    assert_eq!(&s1[..4], &server_epoch.to_be_bytes());
    assert_eq!(&s1[4..8], &[0, 0, 0, 0]);
    assert_eq!(&s1[8..], server_random);
    // S2 = C1 time | S1 time | C1 random.
    assert_eq!(&s2[..4], &c1[..4]);
    assert_eq!(&s2[4..8], &server_epoch.to_be_bytes());
    assert_eq!(&s2[8..], &c1[8..]);
    // C2 = S1 time | C1 time | S1 random.
    assert_eq!(&r.c2[..4], &s1[..4]);
    assert_eq!(&r.c2[4..8], &client_epoch.to_be_bytes());
    assert_eq!(&r.c2[8..], &s1[8..]);
}

// ---------------------------------------------------------------- constants

#[test]
fn keys_match_the_published_constants() {
    assert_eq!(digest::FP_KEY.len(), 62);
    assert_eq!(digest::FMS_KEY.len(), 68);
    assert_eq!(&digest::FP_KEY[..digest::FP_KEY_PARTIAL_LEN], FP_PARTIAL);
    assert_eq!(&digest::FMS_KEY[..digest::FMS_KEY_PARTIAL_LEN], FMS_PARTIAL);
    assert_eq!(digest::FP_KEY.to_vec(), fp_full());
    assert_eq!(digest::FMS_KEY.to_vec(), fms_full());
    assert_eq!(digest::KEY_SUFFIX.to_vec(), hex(SUFFIX_HEX));
}

#[test]
fn hmac_matches_rfc4231_and_reference() {
    // RFC 4231 test case 2.
    let want = hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_eq!(
        digest::hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]).to_vec(),
        want
    );
    assert_eq!(
        ref_hmac(b"Jefe", b"what do ya want for nothing?").to_vec(),
        want
    );
    // RFC 4231 test case 6: a 131-byte key (hashed first, as the 68-byte FMS key is).
    let want = hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    let key = [0xaau8; 131];
    let data = b"Test Using Larger Than Block-Size Key - Hash Key First";
    assert_eq!(digest::hmac_sha256(&key, &[data]).to_vec(), want);
    assert_eq!(ref_hmac(&key, data).to_vec(), want);
}

#[test]
fn digest_offsets_stay_in_range() {
    for fill in [0x00u8, 0x01, 0x7f, 0xb6, 0xff] {
        let p = [fill; HANDSHAKE_SIZE];
        let o0 = DigestScheme::DigestFirst.digest_offset(&p);
        let o1 = DigestScheme::KeyFirst.digest_offset(&p);
        assert_eq!(o0, ref_offset(&p, 0));
        assert_eq!(o1, ref_offset(&p, 1));
        assert!((12..=739).contains(&o0));
        assert!((776..=1503).contains(&o1));
    }
    // 4 * 255 = 1020; 1020 % 728 = 292.
    let p = [0xff; HANDSHAKE_SIZE];
    assert_eq!(DigestScheme::DigestFirst.digest_offset(&p), 292 + 12);
    assert_eq!(DigestScheme::KeyFirst.digest_offset(&p), 292 + 776);
    assert_eq!(DigestScheme::from_id(0), Some(DigestScheme::DigestFirst));
    assert_eq!(DigestScheme::from_id(1), Some(DigestScheme::KeyFirst));
    assert_eq!(DigestScheme::from_id(2), None);
    assert_eq!(DigestScheme::KeyFirst.id(), 1);
    assert_eq!(digest::packet_digest(&p, 1505, b"k"), None);
    assert_eq!(digest::digest_at(&p, usize::MAX), None);
}

// ---------------------------------------------------------------- digests

#[test]
fn hand_built_c1_validates_at_each_scheme() {
    let mut rng = Rng::new(7);
    for scheme in [0u8, 1] {
        for _ in 0..20 {
            let (c1, off) = hand_built_c1(&mut rng, scheme);
            let found = find_c1_digest(&c1);
            // A random packet matches at the other scheme with probability 2^-256.
            assert_eq!(found, Some((scheme, off)));
            // Flipping any bit of the covered data or of the digest breaks it.
            let mut bad = c1;
            bad[off + 5] ^= 0x01;
            assert_eq!(find_c1_digest(&bad), None);
            let mut bad = c1;
            bad[0] ^= 0x80; // time field is covered too
            assert_eq!(find_c1_digest(&bad), None);
            // Not an FMS digest.
            assert_eq!(find_s1_digest(&c1), None);
        }
    }
}

#[test]
fn client_c1_validates_at_each_scheme() {
    let mut rng = Rng::new(11);
    for scheme in DigestScheme::ALL {
        for _ in 0..10 {
            let mut c = ClientHandshake::with_scheme(rng.random_block(), 0xDEAD_BEEF, scheme);
            let mut out = Vec::new();
            c.start(&mut out);
            assert_eq!(out.len(), 1537);
            assert_eq!(out[0], 3);
            let c1 = arr(&out[1..]);
            assert_eq!(&c1[..4], &0xDEAD_BEEFu32.to_be_bytes());
            assert_eq!(&c1[4..8], &CLIENT_VERSION);
            let off = ref_offset(&c1, scheme.id());
            assert_eq!(find_c1_digest(&c1), Some((scheme.id(), off)));
            assert_eq!(
                ref_packet_digest(&c1, off, FP_PARTIAL)[..],
                c1[off..off + 32]
            );
        }
    }
    // `new(.., Complex)` uses scheme 0.
    let mut c = ClientHandshake::new(rng.random_block(), 5, HandshakeKind::Complex);
    let mut out = Vec::new();
    c.start(&mut out);
    assert_eq!(find_c1_digest(&arr(&out[1..])).map(|x| x.0), Some(0));
}

#[test]
fn server_answers_hand_built_c1_with_digests() {
    let mut rng = Rng::new(13);
    for scheme in [0u8, 1] {
        let (c1, c1_off) = hand_built_c1(&mut rng, scheme);
        let random = rng.random_block();
        let mut server = ServerHandshake::new(random, 777);
        let mut input = vec![3u8];
        input.extend_from_slice(&c1);
        let mut out = Vec::new();
        assert_eq!(server.feed(&input, &mut out), Ok(1537));
        assert_eq!(server.kind(), Some(HandshakeKind::Complex));
        assert_eq!(server.digest_scheme().map(DigestScheme::id), Some(scheme));
        assert_eq!(out.len(), 3073);
        assert_eq!(out[0], 3);
        let s1 = &out[1..1537];
        let s2 = &out[1537..];
        assert_eq!(&s1[..4], &777u32.to_be_bytes());
        assert_eq!(&s1[4..8], &SERVER_VERSION);
        // S1 digest with the FMS partial key, at C1's scheme.
        let s1_off = ref_offset(s1, scheme);
        assert_eq!(
            ref_packet_digest(s1, s1_off, FMS_PARTIAL)[..],
            s1[s1_off..s1_off + 32]
        );
        // Random block kept outside the digest.
        for i in 8..HANDSHAKE_SIZE {
            if !(s1_off..s1_off + 32).contains(&i) {
                assert_eq!(s1[i], random[i - 8]);
            }
        }
        // S2 digest keyed on C1's digest with the full FMS key.
        assert!(ref_response_ok(s2, &c1[c1_off..c1_off + 32], &fms_full()));
        assert!(digest::verify_response(
            &arr(s2),
            &c1[c1_off..c1_off + 32].try_into().unwrap(),
            &digest::FMS_KEY
        ));
        // Not against some other digest.
        assert!(!ref_response_ok(s2, &[0u8; 32], &fms_full()));
    }
}

#[test]
fn random_c1_falls_back_to_simple_and_s2_echoes_it() {
    let mut rng = Rng::new(17);
    for round in 0..20 {
        let mut c1 = rng.packet();
        if round % 2 == 0 {
            c1[4..8].copy_from_slice(&[0, 0, 0, 0]);
        }
        assert_eq!(find_c1_digest(&c1), None);
        let random = rng.random_block();
        let mut server = ServerHandshake::new(random, 0x0102_0304);
        let mut out = Vec::new();
        assert_eq!(server.feed(&[3], &mut out), Ok(1));
        assert!(out.is_empty());
        assert_eq!(server.feed(&c1, &mut out), Ok(1536));
        assert_eq!(server.kind(), Some(HandshakeKind::Simple));
        assert_eq!(server.digest_scheme(), None);
        assert_eq!(out.len(), 3073);
        assert_eq!(out[0], 3);
        assert_eq!(&out[1..5], &[1, 2, 3, 4]);
        assert_eq!(&out[5..9], &[0, 0, 0, 0]);
        assert_eq!(&out[9..1537], &random[..]);
        let s2 = &out[1537..];
        assert_eq!(&s2[..4], &c1[..4]);
        assert_eq!(&s2[4..8], &[1, 2, 3, 4]);
        assert_eq!(&s2[8..], &c1[8..]);
        // C2 contents are not checked.
        let junk = rng.packet();
        assert_eq!(server.feed(&junk, &mut out), Ok(1536));
        assert!(server.is_done());
    }
}

// ---------------------------------------------------------------- pairs

#[test]
fn pairs_one_byte_at_a_time() {
    let mut rng = Rng::new(19);
    let trailing = [0x02u8, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0];
    for scheme in DigestScheme::ALL {
        let c = ClientHandshake::with_scheme(rng.random_block(), 1, scheme);
        let s = ServerHandshake::new(rng.random_block(), 2);
        let r = run_pair(c, s, &mut || 1, &trailing);
        check_complex(&r, scheme.id());
    }
    let s_random = rng.random_block();
    let c = ClientHandshake::new(rng.random_block(), 10, HandshakeKind::Simple);
    let s = ServerHandshake::new(s_random, 20);
    let r = run_pair(c, s, &mut || 1, &trailing);
    check_simple(&r, 10, 20, &s_random);
}

#[test]
fn pairs_everything_at_once_with_trailing_chunk_bytes() {
    let mut rng = Rng::new(23);
    let mut trailing = vec![0u8; 3000];
    rng.fill(&mut trailing);
    for kind in [HandshakeKind::Simple, HandshakeKind::Complex] {
        let s_random = rng.random_block();
        let c = ClientHandshake::new(rng.random_block(), 100, kind);
        let s = ServerHandshake::new(s_random, 200);
        let r = run_pair(c, s, &mut || usize::MAX, &trailing);
        match kind {
            HandshakeKind::Complex => check_complex(&r, 0),
            HandshakeKind::Simple => check_simple(&r, 100, 200, &s_random),
        }
    }
}

#[test]
fn server_single_feed_of_c0_c1_c2_and_chunks() {
    // The whole client flight at once: C0+C1+C2+chunk bytes in one buffer.
    let mut rng = Rng::new(29);
    for kind in [HandshakeKind::Simple, HandshakeKind::Complex] {
        let mut client = ClientHandshake::new(rng.random_block(), 1, kind);
        let mut flight = Vec::new();
        client.start(&mut flight);
        let mut probe = ServerHandshake::new(rng.random_block(), 2);
        let mut s_out = Vec::new();
        probe.feed(&flight, &mut s_out).unwrap();
        let mut c2 = Vec::new();
        assert_eq!(client.feed(&s_out, &mut c2), Ok(3073));
        flight.extend_from_slice(&c2);
        flight.extend_from_slice(&[9, 9, 9]);

        let mut server = ServerHandshake::new(rng.random_block(), 3);
        let mut out = Vec::new();
        assert_eq!(server.feed(&flight, &mut out), Ok(1537 + 1536));
        assert!(server.is_done());
        assert_eq!(out.len(), 3073);
        assert_eq!(server.kind(), Some(kind));
    }
}

#[test]
fn pairs_over_random_splits() {
    let mut rng = Rng::new(31);
    let mut split_rng = Rng::new(37);
    for round in 0..60 {
        let mut trailing = vec![0u8; rng.below(200)];
        rng.fill(&mut trailing);
        let max = [1usize, 7, 64, 700, 1600, 5000][round % 6];
        let mut split = || 1 + split_rng.below(max);
        let (ce, se) = (rng.next_u64() as u32, rng.next_u64() as u32);
        let s_random = rng.random_block();
        let s = ServerHandshake::new(s_random, se);
        if round % 3 == 0 {
            let c = ClientHandshake::new(rng.random_block(), ce, HandshakeKind::Simple);
            let r = run_pair(c, s, &mut split, &trailing);
            check_simple(&r, ce, se, &s_random);
        } else {
            let scheme = DigestScheme::ALL[round % 2];
            let c = ClientHandshake::with_scheme(rng.random_block(), ce, scheme);
            let r = run_pair(c, s, &mut split, &trailing);
            check_complex(&r, scheme.id());
        }
    }
}

#[test]
fn complex_client_against_simple_server_echoes_s1() {
    let mut rng = Rng::new(41);
    let mut client = ClientHandshake::new(rng.random_block(), 55, HandshakeKind::Complex);
    let mut out = Vec::new();
    client.start(&mut out);
    let mut reply = vec![3u8];
    let s1 = rng.packet();
    reply.extend_from_slice(&s1);
    reply.extend_from_slice(&rng.packet());
    let mut c2 = Vec::new();
    assert_eq!(client.feed(&reply, &mut c2), Ok(3073));
    assert!(client.is_done());
    assert_eq!(client.kind(), Some(HandshakeKind::Simple));
    assert_eq!(client.s2_digest_valid(), None);
    assert_eq!(&c2[..4], &s1[..4]);
    assert_eq!(&c2[4..8], &55u32.to_be_bytes());
    assert_eq!(&c2[8..], &s1[8..]);
}

#[test]
fn complex_client_reports_a_bad_s2() {
    let mut rng = Rng::new(43);
    let mut client = ClientHandshake::new(rng.random_block(), 1, HandshakeKind::Complex);
    let mut c0c1 = Vec::new();
    client.start(&mut c0c1);
    let mut server = ServerHandshake::new(rng.random_block(), 2);
    let mut reply = Vec::new();
    server.feed(&c0c1, &mut reply).unwrap();
    reply[3073 - 1] ^= 1; // corrupt S2's digest
    let mut c2 = Vec::new();
    assert_eq!(client.feed(&reply, &mut c2), Ok(3073));
    assert!(client.is_done(), "lenient: the handshake completes anyway");
    assert_eq!(client.kind(), Some(HandshakeKind::Complex));
    assert_eq!(client.s2_digest_valid(), Some(false));
}

// ---------------------------------------------------------------- errors

#[test]
fn c0_of_6_is_unsupported_version() {
    let mut server = ServerHandshake::new([0; RANDOM_SIZE], 0);
    let mut out = Vec::new();
    assert_eq!(
        server.feed(&[6], &mut out),
        Err(HandshakeError::UnsupportedVersion(6))
    );
    assert!(out.is_empty());
    // Sticky.
    assert_eq!(
        server.feed(&[3; 10], &mut out),
        Err(HandshakeError::UnsupportedVersion(6))
    );
    assert!(!server.is_done());
    assert_eq!(server.kind(), None);
    assert!(HandshakeError::UnsupportedVersion(6)
        .to_string()
        .contains("RTMPE"));

    for v in [0u8, 1, 2, 4, 8, 9, 0xff] {
        let mut server = ServerHandshake::new([0; RANDOM_SIZE], 0);
        let mut input = vec![v];
        input.extend_from_slice(&[0; 2000]);
        assert_eq!(
            server.feed(&input, &mut out),
            Err(HandshakeError::UnsupportedVersion(v))
        );
        assert!(out.is_empty());
    }
}

#[test]
fn client_errors() {
    let mut client = ClientHandshake::new([1; RANDOM_SIZE], 0, HandshakeKind::Simple);
    let mut out = Vec::new();
    assert_eq!(client.feed(&[3], &mut out), Err(HandshakeError::NotStarted));
    client.start(&mut out);
    assert_eq!(out.len(), 1537);
    client.start(&mut out);
    assert_eq!(out.len(), 1537, "start only produces C0+C1 once");
    out.clear();
    assert_eq!(client.feed(&[], &mut out), Ok(0));
    assert_eq!(
        client.feed(&[6, 0, 0], &mut out),
        Err(HandshakeError::UnsupportedVersion(6))
    );
    assert_eq!(
        client.feed(&[3], &mut out),
        Err(HandshakeError::UnsupportedVersion(6))
    );
    assert!(out.is_empty());
    assert!(!client.is_done());
}

// ---------------------------------------------------------------- fuzz

#[test]
fn no_panic_on_arbitrary_input() {
    let mut rng = Rng::new(0xF00D);
    for round in 0..300 {
        let len = rng.below(8000);
        let mut data = vec![0u8; len];
        rng.fill(&mut data);
        if round % 2 == 0 && !data.is_empty() {
            data[0] = 3;
        }
        let max = 1 + rng.below(4000);

        let mut server = ServerHandshake::new(rng.random_block(), rng.next_u64() as u32);
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let n = (1 + rng.below(max)).min(data.len() - pos);
            match server.feed(&data[pos..pos + n], &mut out) {
                Ok(used) => {
                    assert!(used <= n);
                    if used < n {
                        assert!(server.is_done());
                    }
                    pos += used;
                    if server.is_done() {
                        break;
                    }
                }
                Err(HandshakeError::UnsupportedVersion(v)) => {
                    assert_eq!(v, data[0]);
                    break;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert!(out.is_empty() || out.len() == 3073);
        if data.len() >= 3073 && data[0] == 3 {
            assert!(server.is_done());
            assert_eq!(pos, 3073);
        }

        let kind = if round % 3 == 0 {
            HandshakeKind::Simple
        } else {
            HandshakeKind::Complex
        };
        let mut client = ClientHandshake::new(rng.random_block(), 0, kind);
        let mut out = Vec::new();
        client.start(&mut out);
        out.clear();
        let mut pos = 0;
        while pos < data.len() {
            let n = (1 + rng.below(max)).min(data.len() - pos);
            match client.feed(&data[pos..pos + n], &mut out) {
                Ok(used) => {
                    assert!(used <= n);
                    pos += used;
                    if client.is_done() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        assert!(out.is_empty() || out.len() == 1536);
        if data.len() >= 3073 && data[0] == 3 {
            assert!(client.is_done());
            assert_eq!(pos, 3073);
        }
    }
}

#[test]
fn find_digest_never_panics_on_extreme_packets() {
    let mut rng = Rng::new(99);
    for fill in [0x00u8, 0xff] {
        let p = [fill; HANDSHAKE_SIZE];
        assert_eq!(find_c1_digest(&p), None);
        assert_eq!(find_s1_digest(&p), None);
    }
    for _ in 0..200 {
        let p = rng.packet();
        assert_eq!(find_c1_digest(&p), None);
    }
}
