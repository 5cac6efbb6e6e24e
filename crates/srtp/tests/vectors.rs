//! Published vectors: RFC 7714 §16 (SRTP) and §17 (SRTCP) for AEAD_AES_128_GCM and
//! AEAD_AES_256_GCM. They give session keys, not master keys, so the context is built with
//! `from_session_keys`; key derivation is pinned by the RFC 3711 B.3 unit test in src/crypto.rs.

mod common;
use common::{hex, to_hex};
use sluice_srtp::{Profile, SrtpContext, SrtpError, SrtpOptions};

const KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
const KEY_256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const SALT: &str = "517569642070726f2071756f";

/// RFC 7714 §16: "Gallia est omnis divisa in partes tres", SSRC 0x5501a0b2, SEQ 0xf17b.
const RTP: &str = "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";
/// §16.1.1
const SRTP_128: &str = "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce";
/// §16.2.1
const SRTP_256: &str = "8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13";
/// §17.1 plaintext (the packet the §17 subsections actually encrypt; SSRC "Mars").
const RTCP: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
/// §17.1, SRTCP index 0x5d4
const SRTCP_128: &str = "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4";
/// §17.2
const SRTCP_256: &str = "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4";
/// §17.3: authenticated only (E = 0)
const SRTCP_128_AUTH_ONLY: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef841dd9683dd78ec92ae58790125f62b3000005d4";

fn ctx(profile: Profile, key: &str) -> SrtpContext {
    SrtpContext::from_session_keys(profile, &hex(key), &hex(SALT), &[], SrtpOptions::default())
        .unwrap()
}

fn srtp_vector(profile: Profile, key: &str, expected: &str) {
    let mut p = hex(RTP);
    ctx(profile, key).protect_rtp_vec(&mut p).unwrap();
    assert_eq!(to_hex(&p), expected);
    let mut rx = ctx(profile, key);
    rx.unprotect_rtp_vec(&mut p).unwrap();
    assert_eq!(to_hex(&p), RTP);
    // Every single-bit flip anywhere is rejected.
    let wire = hex(expected);
    for bit in 0..wire.len() * 8 {
        let mut t = wire.clone();
        t[bit / 8] ^= 1 << (bit % 8);
        let r = ctx(profile, key).unprotect_rtp_vec(&mut t);
        assert!(r.is_err(), "bit {bit} flip accepted");
    }
}

#[test]
fn rfc7714_16_1_aead_aes_128_gcm_rtp() {
    srtp_vector(Profile::AeadAes128Gcm, KEY_128, SRTP_128);
}

#[test]
fn rfc7714_16_2_aead_aes_256_gcm_rtp() {
    srtp_vector(Profile::AeadAes256Gcm, KEY_256, SRTP_256);
}

fn srtcp_vector(profile: Profile, key: &str, expected: &str) {
    let mut p = hex(expected);
    ctx(profile, key).unprotect_rtcp_vec(&mut p).unwrap();
    assert_eq!(to_hex(&p), RTCP);
    // The sender counts from 1; wind it to the vector's index 0x5d4.
    let mut tx = ctx(profile, key);
    for _ in 1..0x5d4 {
        tx.protect_rtcp_vec(&mut hex(RTCP)).unwrap();
    }
    let mut p = hex(RTCP);
    tx.protect_rtcp_vec(&mut p).unwrap();
    assert_eq!(to_hex(&p), expected);
}

#[test]
fn rfc7714_17_1_aead_aes_128_gcm_rtcp() {
    srtcp_vector(Profile::AeadAes128Gcm, KEY_128, SRTCP_128);
}

#[test]
fn rfc7714_17_2_aead_aes_256_gcm_rtcp() {
    srtcp_vector(Profile::AeadAes256Gcm, KEY_256, SRTCP_256);
}

#[test]
fn rfc7714_17_3_authenticated_only_rtcp() {
    {
        let (profile, key, v) = (Profile::AeadAes128Gcm, KEY_128, SRTCP_128_AUTH_ONLY);
        let mut p = hex(v);
        ctx(profile, key).unprotect_rtcp_vec(&mut p).unwrap();
        assert_eq!(to_hex(&p), RTCP);
        let mut t = hex(v);
        t[20] ^= 1;
        assert_eq!(
            ctx(profile, key).unprotect_rtcp_vec(&mut t),
            Err(SrtpError::AuthenticationFailed)
        );
        assert_eq!(
            to_hex(&t),
            {
                let mut w = hex(v);
                w[20] ^= 1;
                to_hex(&w)
            },
            "wire bytes restored after a failed authenticated-only check"
        );
    }
}
