//! Deterministic packet generators shared by the integration tests.
#![allow(dead_code)]

/// xorshift64*: deterministic, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A random RTP packet: random CSRC count (0..=15, mostly small), a header extension on a
/// quarter of them (one-byte profile 0xBEDE, 0..=4 words), payload of `payload_len` bytes.
pub fn rtp_packet(rng: &mut Rng, ssrc: u32, seq: u16, payload_len: usize) -> Vec<u8> {
    let cc = if rng.chance(70) {
        0
    } else {
        rng.below(16) as u8
    };
    let x = rng.chance(25);
    let mut p = Vec::with_capacity(12 + 4 * 15 + 20 + payload_len);
    p.push(0x80 | if x { 0x10 } else { 0 } | cc);
    p.push(if rng.chance(10) { 0x80 } else { 0 } | (96 + rng.below(32) as u8));
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(rng.next() as u32).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for _ in 0..cc {
        p.extend_from_slice(&(rng.next() as u32).to_be_bytes());
    }
    if x {
        let words = rng.below(5) as u16;
        p.extend_from_slice(&[0xbe, 0xde]);
        p.extend_from_slice(&words.to_be_bytes());
        let ext = rng.bytes(4 * words as usize);
        p.extend_from_slice(&ext);
    }
    let payload = rng.bytes(payload_len);
    p.extend_from_slice(&payload);
    p
}

/// A random RTCP packet (SR or RR shaped) of 8 + 4×k bytes, k < 350.
pub fn rtcp_packet(rng: &mut Rng, ssrc: u32) -> Vec<u8> {
    let words = rng.below(350) as usize;
    let mut p = Vec::with_capacity(8 + 4 * words);
    p.push(0x80 | rng.below(32) as u8);
    p.push(if rng.chance(50) { 200 } else { 201 });
    p.extend_from_slice(&(words as u16 + 1).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    let body = rng.bytes(4 * words);
    p.extend_from_slice(&body);
    p
}

/// Test master key || salt for a profile.
pub fn key_material(profile: sluice_srtp::Profile, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    rng.bytes(profile.master_key_len() + profile.master_salt_len())
}
