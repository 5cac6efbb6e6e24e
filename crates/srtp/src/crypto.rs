//! Key derivation (RFC 3711 §4.3, RFC 7714 §11) and the two transforms: AES-CM + HMAC-SHA1
//! (RFC 3711 §4.1.1, §4.2.1) and AES-GCM (RFC 7714 §8, §9).

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use aes::{Aes128, Aes256};
use hmac::{Hmac, Mac};
use ring::aead;
use sha1::Sha1;

use crate::{Profile, SrtpError};

/// RFC 3711 §4.3.1 labels (key derivation rate 0).
pub(crate) const LABEL_RTP_ENCRYPTION: u8 = 0x00;
pub(crate) const LABEL_RTP_AUTH: u8 = 0x01;
pub(crate) const LABEL_RTP_SALT: u8 = 0x02;
pub(crate) const LABEL_RTCP_ENCRYPTION: u8 = 0x03;
pub(crate) const LABEL_RTCP_AUTH: u8 = 0x04;
pub(crate) const LABEL_RTCP_SALT: u8 = 0x05;

/// HMAC-SHA1 session key length (RFC 3711 §8.2: n_a = 160 bits).
pub(crate) const AUTH_KEY_LEN: usize = 20;

type Ctr128 = StreamCipherCoreWrapper<ctr::CtrCore<Aes128, ctr::flavors::Ctr128BE>>;
type Ctr256 = StreamCipherCoreWrapper<ctr::CtrCore<Aes256, ctr::flavors::Ctr128BE>>;

/// AES in counter mode with a 128-bit counter block `iv` (RFC 3711 §4.1.1), XORed over `data`.
/// SRTP leaves the low 16 bits of `iv` zero for the block counter; packets are bounded by
/// [`MAX_PACKET_LEN`](crate::MAX_PACKET_LEN) so that counter never carries.
pub(crate) fn aes128_cm(key: &Aes128, iv: &[u8; 16], data: &mut [u8]) {
    let core = ctr::CtrCore::inner_iv_init(key.clone(), iv.into());
    let mut c = Ctr128::from_core(core);
    c.apply_keystream(data);
}

/// The AES-CM PRF of RFC 3711 §4.3.3 with key derivation rate 0: `out` = the keystream of
/// `master_key` from the counter block `(master_salt || 0x0000) XOR (label << 64)`.
///
/// The master salt is 14 bytes for AES-CM profiles and 12 for AES-GCM ones (RFC 7714 §11,
/// padded with zeros on the right to the 112 bits the PRF takes, as libsrtp does).
pub(crate) fn derive(
    master_key: &[u8],
    master_salt: &[u8],
    label: u8,
    out: &mut [u8],
) -> Result<(), SrtpError> {
    let mut iv = [0u8; 16];
    let salt_len = master_salt.len().min(14);
    iv[..salt_len].copy_from_slice(&master_salt[..salt_len]);
    iv[7] ^= label;
    out.iter_mut().for_each(|b| *b = 0);
    match master_key.len() {
        16 => {
            let k = Aes128::new_from_slice(master_key).map_err(|_| key_len(16, master_key))?;
            aes128_cm(&k, &iv, out);
        }
        32 => {
            let k = Aes256::new_from_slice(master_key).map_err(|_| key_len(32, master_key))?;
            let mut c = Ctr256::from_core(ctr::CtrCore::inner_iv_init(k, (&iv).into()));
            c.apply_keystream(out);
        }
        _ => return Err(key_len(16, master_key)),
    }
    Ok(())
}

fn key_len(expected: usize, key: &[u8]) -> SrtpError {
    SrtpError::InvalidKeyLength {
        expected,
        actual: key.len(),
    }
}

/// Session keys for one direction and one of RTP/RTCP, with the per-key work done once:
/// the AES key schedule, and for HMAC-SHA1 the inner and outer hash states after the padded
/// key blocks (cloned per packet, never re-keyed).
// Two of these live in a context, inline on purpose: no pointer chase per packet.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Transform {
    /// AES_CM_128 + HMAC-SHA1; `tag_len` bytes of the 20-byte HMAC (10 or 4).
    AesCm {
        aes: Aes128,
        /// Session salt, 14 bytes, in the first 14 bytes of a 16-byte block.
        salt: [u8; 16],
        mac: Hmac<Sha1>,
        tag_len: usize,
    },
    /// AEAD_AES_128_GCM / AEAD_AES_256_GCM with a 16-byte tag.
    Gcm {
        key: aead::LessSafeKey,
        /// Session salt, 12 bytes.
        salt: [u8; 12],
    },
}

impl Transform {
    /// Derives the session keys of `profile` for RTP (`rtcp == false`) or RTCP.
    pub(crate) fn derive(
        profile: Profile,
        master_key: &[u8],
        master_salt: &[u8],
        rtcp: bool,
    ) -> Result<Self, SrtpError> {
        let (l_enc, l_auth, l_salt) = if rtcp {
            (LABEL_RTCP_ENCRYPTION, LABEL_RTCP_AUTH, LABEL_RTCP_SALT)
        } else {
            (LABEL_RTP_ENCRYPTION, LABEL_RTP_AUTH, LABEL_RTP_SALT)
        };
        let mut enc = [0u8; 32];
        let enc = &mut enc[..profile.master_key_len()];
        derive(master_key, master_salt, l_enc, enc)?;
        let mut salt = [0u8; 14];
        let salt = &mut salt[..profile.master_salt_len()];
        derive(master_key, master_salt, l_salt, salt)?;
        if profile.is_gcm() {
            // GCM derives no auth key (RFC 7714 §11).
            Self::gcm(profile, enc, salt)
        } else {
            let mut auth = [0u8; AUTH_KEY_LEN];
            derive(master_key, master_salt, l_auth, &mut auth)?;
            let tag_len = if rtcp {
                profile.srtcp_tag_len()
            } else {
                profile.srtp_tag_len()
            };
            Self::aes_cm(enc, salt, &auth, tag_len)
        }
    }

    pub(crate) fn aes_cm(
        enc: &[u8],
        salt: &[u8],
        auth: &[u8],
        tag_len: usize,
    ) -> Result<Self, SrtpError> {
        let aes = Aes128::new_from_slice(enc).map_err(|_| key_len(16, enc))?;
        let mac = <Hmac<Sha1> as Mac>::new_from_slice(auth).map_err(|_| key_len(20, auth))?;
        if salt.len() != 14 {
            return Err(key_len(14, salt));
        }
        let mut s = [0u8; 16];
        s[..14].copy_from_slice(salt);
        Ok(Transform::AesCm {
            aes,
            salt: s,
            mac,
            tag_len,
        })
    }

    pub(crate) fn gcm(profile: Profile, enc: &[u8], salt: &[u8]) -> Result<Self, SrtpError> {
        let alg = match profile {
            Profile::AeadAes256Gcm => &aead::AES_256_GCM,
            _ => &aead::AES_128_GCM,
        };
        let unbound = aead::UnboundKey::new(alg, enc).map_err(|_| key_len(alg.key_len(), enc))?;
        let s: [u8; 12] = salt.try_into().map_err(|_| key_len(12, salt))?;
        Ok(Transform::Gcm {
            key: aead::LessSafeKey::new(unbound),
            salt: s,
        })
    }

    /// Bytes the transform appends (the authentication tag).
    pub(crate) fn tag_len(&self) -> usize {
        match self {
            Transform::AesCm { tag_len, .. } => *tag_len,
            Transform::Gcm { .. } => GCM_TAG_LEN,
        }
    }
}

pub(crate) const GCM_TAG_LEN: usize = 16;

/// RFC 3711 §4.1.1: `IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16)`, `i` the 48-bit
/// SRTP index or the 31-bit SRTCP index.
#[inline]
pub(crate) fn cm_iv(salt: &[u8; 16], ssrc: u32, index: u64) -> [u8; 16] {
    let mut iv = *salt;
    let s = ssrc.to_be_bytes();
    for k in 0..4 {
        iv[4 + k] ^= s[k];
    }
    let i = index.to_be_bytes(); // 8 bytes, the low 6 hold the index
    for k in 0..6 {
        iv[8 + k] ^= i[2 + k];
    }
    iv
}

/// HMAC-SHA1 over `parts` in order, from the cached key state.
#[inline]
pub(crate) fn hmac_sha1(mac: &Hmac<Sha1>, parts: &[&[u8]]) -> [u8; 20] {
    let mut m = mac.clone();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Constant-time comparison of equal-length slices.
#[inline]
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut d = 0u8;
    for (x, y) in a.iter().zip(b) {
        d |= x ^ y;
    }
    d == 0
}

/// RFC 7714 §8.1: RTP IV = `(0x0000 || SSRC || ROC || SEQ) XOR salt`, 12 bytes.
#[inline]
pub(crate) fn gcm_rtp_iv(salt: &[u8; 12], ssrc: u32, roc: u32, seq: u16) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[6..10].copy_from_slice(&roc.to_be_bytes());
    iv[10..12].copy_from_slice(&seq.to_be_bytes());
    for (b, s) in iv.iter_mut().zip(salt) {
        *b ^= s;
    }
    iv
}

/// RFC 7714 §9.1: RTCP IV = `(0x0000 || SSRC || 0x0000 || 0 || SRTCP index) XOR salt`.
#[inline]
pub(crate) fn gcm_rtcp_iv(salt: &[u8; 12], ssrc: u32, index: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[8..12].copy_from_slice(&(index & 0x7fff_ffff).to_be_bytes());
    for (b, s) in iv.iter_mut().zip(salt) {
        *b ^= s;
    }
    iv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3711 Appendix B.2: AES-CM keystream for session key 2B7E..., salt F0F1...FD,
    /// SSRC 0, index 0: counter blocks 0000, 0001, 0002, FEFF, FF00, FF01.
    #[test]
    fn rfc3711_b2_aes_cm_keystream() {
        let key = Aes128::new_from_slice(&hex("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap();
        let mut salt = [0u8; 16];
        salt[..14].copy_from_slice(&hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"));
        let iv = cm_iv(&salt, 0, 0);
        assert_eq!(iv.to_vec(), hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"));
        let mut ks = vec![0u8; 0xff02 * 16];
        aes128_cm(&key, &iv, &mut ks);
        let block = |n: usize| ks[n * 16..n * 16 + 16].to_vec();
        assert_eq!(block(0), hex("E03EAD0935C95E80E166B16DD92B4EB4"));
        assert_eq!(block(1), hex("D23513162B02D0F72A43A2FE4A5F97AB"));
        assert_eq!(block(2), hex("41E95B3BB0A2E8DD477901E4FCA894C0"));
        assert_eq!(block(0xfeff), hex("EC8CDF7398607CB0F2D21675EA9EA1E4"));
        assert_eq!(block(0xff00), hex("362B7C3C6773516318A077D7FC5073AE"));
        assert_eq!(block(0xff01), hex("6A2CC3787889374FBEB4C81B17BA6C44"));
    }

    /// RFC 3711 Appendix B.3: key derivation, key derivation rate 0, index 0.
    #[test]
    fn rfc3711_b3_key_derivation() {
        let mk = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
        let ms = hex("0EC675AD498AFEEBB6960B3AABE6");
        let mut enc = [0u8; 16];
        derive(&mk, &ms, LABEL_RTP_ENCRYPTION, &mut enc).unwrap();
        assert_eq!(enc.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut salt = [0u8; 14];
        derive(&mk, &ms, LABEL_RTP_SALT, &mut salt).unwrap();
        assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth = [0u8; 94];
        derive(&mk, &ms, LABEL_RTP_AUTH, &mut auth).unwrap();
        assert_eq!(
            auth.to_vec(),
            hex(
                "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE
                 E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25
                 6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
            )
        );
    }

    /// RFC 7714 §16: the RTP IV of the example packet.
    #[test]
    fn rfc7714_ivs() {
        let salt: [u8; 12] = hex("517569642070726f2071756f").try_into().unwrap();
        assert_eq!(
            gcm_rtp_iv(&salt, 0x5501a0b2, 0, 0xf17b).to_vec(),
            hex("51753c6580c2726f20718414")
        );
        assert_eq!(
            gcm_rtcp_iv(&salt, 0x4d617273, 0x5d4).to_vec(),
            hex("517524055203726f207170bb")
        );
    }
}
