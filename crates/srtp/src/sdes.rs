//! SDES key parameters (RFC 4568 §6.1, §9.2): `inline:<base64 key||salt>[|lifetime][|MKI:length]`.

use crate::{Profile, Result, SrtpError};

/// One parsed `inline:` key parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesKey {
    /// Master key followed by master salt, as carried (30, 28 or 44 bytes by profile): what
    /// [`SrtpContext::from_key_material`](crate::SrtpContext::from_key_material) takes.
    pub key_and_salt: Vec<u8>,
    /// Master key lifetime in packets, when given (`2^31` or decimal); this crate does not
    /// enforce it beyond the index limits.
    pub lifetime: Option<u64>,
    /// MKI value and its length in bytes (1..=128), when given. This crate sends and expects
    /// no MKI on the wire: negotiate without one.
    pub mki: Option<(u64, u8)>,
}

const MAX_KEY_PARAMS_LEN: usize = 1024;

/// Parses one SDES key parameter `inline:KEY[|LIFETIME][|MKI:LEN]` for `profile` (RFC 4568
/// §6.1 grammar; RFC 4568 §6.2.1 and RFC 7714 §14.2 key lengths). Leading/trailing
/// whitespace is ignored; base64 padding is optional. Errors: [`SrtpError::Malformed`] for
/// syntax, [`SrtpError::InvalidKeyLength`] when the decoded key||salt does not fit `profile`.
pub fn parse_inline(key_params: &str, profile: Profile) -> Result<SdesKey> {
    let s = key_params.trim();
    if s.len() > MAX_KEY_PARAMS_LEN {
        return Err(SrtpError::Malformed("SDES key parameters too long"));
    }
    let s = s.strip_prefix("inline:").ok_or(SrtpError::Malformed(
        "SDES key parameters must start with inline:",
    ))?;
    let mut parts = s.split('|');
    let key = parts.next().unwrap_or("");
    let key_and_salt = base64_decode(key)?;
    let expected = profile.master_key_len() + profile.master_salt_len();
    if key_and_salt.len() != expected {
        return Err(SrtpError::InvalidKeyLength {
            expected,
            actual: key_and_salt.len(),
        });
    }
    let mut lifetime = None;
    let mut mki = None;
    for part in parts {
        if let Some((value, length)) = part.split_once(':') {
            if mki.is_some() {
                return Err(SrtpError::Malformed("two MKIs"));
            }
            let value: u64 = value
                .parse()
                .map_err(|_| SrtpError::Malformed("MKI value"))?;
            let length: u8 = length
                .parse()
                .ok()
                .filter(|l| (1..=128).contains(l))
                .ok_or(SrtpError::Malformed("MKI length must be 1..=128"))?;
            mki = Some((value, length));
        } else {
            if lifetime.is_some() || mki.is_some() {
                return Err(SrtpError::Malformed(
                    "lifetime must come once, before the MKI",
                ));
            }
            let lt = if let Some(exp) = part.strip_prefix("2^") {
                let exp: u32 = exp
                    .parse()
                    .ok()
                    .filter(|e| *e <= 48)
                    .ok_or(SrtpError::Malformed("lifetime exponent must be 0..=48"))?;
                1u64 << exp
            } else {
                part.parse().map_err(|_| SrtpError::Malformed("lifetime"))?
            };
            lifetime = Some(lt);
        }
    }
    Ok(SdesKey {
        key_and_salt,
        lifetime,
        mki,
    })
}

/// Formats `inline:<base64 key||salt>` (no lifetime, no MKI).
pub fn format_inline(key_and_salt: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("inline:");
    for chunk in key_and_salt.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Result<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(SrtpError::Malformed("key is not base64")),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return Err(SrtpError::Malformed("key is not base64"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4568_example() {
        // RFC 4568 §8.1 example key.
        let k = parse_inline(
            "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
            Profile::AesCm128HmacSha1_80,
        )
        .unwrap();
        assert_eq!(k.key_and_salt.len(), 30);
        assert_eq!(k.lifetime, Some(1 << 20));
        assert_eq!(k.mki, Some((1, 4)));
        assert_eq!(
            format_inline(&k.key_and_salt),
            "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
        );
    }

    #[test]
    fn gcm_lengths_and_errors() {
        let key: Vec<u8> = (0..28).collect();
        let text = format_inline(&key);
        assert!(text.ends_with('='));
        let k = parse_inline(&text, Profile::AeadAes128Gcm).unwrap();
        assert_eq!(k.key_and_salt, key);
        assert_eq!(k.lifetime, None);
        assert!(matches!(
            parse_inline(&text, Profile::AeadAes256Gcm),
            Err(SrtpError::InvalidKeyLength {
                expected: 44,
                actual: 28
            })
        ));
        assert!(parse_inline("inline:!!!!", Profile::AeadAes128Gcm).is_err());
        assert!(parse_inline(
            "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
            Profile::AesCm128HmacSha1_80
        )
        .is_err());
        assert!(parse_inline(
            "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^99",
            Profile::AesCm128HmacSha1_80
        )
        .is_err());
        assert!(parse_inline(
            "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:0",
            Profile::AesCm128HmacSha1_80
        )
        .is_err());
    }
}
