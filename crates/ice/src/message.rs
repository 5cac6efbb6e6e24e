//! [`Message`]: a zero-copy view of one STUN message (RFC 8489 §5, §14), validated on parse.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::attribute::*;
use crate::StunError;

/// The magic cookie, bytes 4..8 of every STUN message (RFC 8489 §5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Size of the STUN header in bytes (RFC 8489 §5).
pub const HEADER_LEN: usize = 20;
/// Largest STUN message accepted, in bytes. STUN over UDP stays under the path MTU
/// (RFC 8489 §6.1); browsers' ICE checks are ~100 bytes. A larger datagram is refused unread.
pub const MAX_MESSAGE_LEN: usize = 1_500;
/// Most attributes read from one message; a message with more is malformed (a binding request
/// carries 5–8).
pub const MAX_ATTRIBUTES: usize = 32;

/// The class of a message (RFC 8489 §5): the C1 and C0 bits of the message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 0b00.
    Request,
    /// 0b01.
    Indication,
    /// 0b10.
    SuccessResponse,
    /// 0b11.
    ErrorResponse,
}

/// The Binding method (RFC 8489 §18.2), the only one ICE uses.
pub const METHOD_BINDING: u16 = 0x001;

/// Packs a class and a 12-bit method into the 14-bit message type (RFC 8489 §5, figure 3):
/// `M11..M7 C1 M6..M4 C0 M3..M0`.
pub fn message_type(class: Class, method: u16) -> u16 {
    let c: u16 = match class {
        Class::Request => 0,
        Class::Indication => 1,
        Class::SuccessResponse => 2,
        Class::ErrorResponse => 3,
    };
    (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((c & 1) << 4)
        | ((c & 2) << 7)
}

/// One attribute as it sits in the message: its type and its value (padding excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// The attribute type (RFC 8489 §18.3).
    pub kind: u16,
    /// The value, `length` bytes, without the padding to 4 bytes.
    pub value: &'a [u8],
    /// Offset of the attribute's 4-byte header from the start of the message.
    pub offset: usize,
}

/// A parsed STUN message borrowing the datagram it came in.
///
/// Parsing checks the structure (RFC 8489 §6.3): the header, a length equal to the datagram's
/// minus 20 and a multiple of 4, every attribute inside the message, at most one
/// MESSAGE-INTEGRITY followed by nothing but FINGERPRINT, FINGERPRINT last, and the
/// FINGERPRINT value when present. MESSAGE-INTEGRITY needs the key: see
/// [`Message::verify_integrity`].
#[derive(Debug, Clone)]
pub struct Message<'a> {
    buf: &'a [u8],
    class: Class,
    method: u16,
    attributes: [Option<RawAttribute<'a>>; MAX_ATTRIBUTES],
    count: usize,
    integrity_offset: Option<usize>,
    fingerprint_offset: Option<usize>,
}

/// True when `datagram` starts like a STUN message: a first byte of 0–3 and the magic cookie.
/// RFC 8489 §5 only asks the first two bits to be 0, but RFC 7983 §7 gives STUN the first
/// bytes 0–3 on a port shared with DTLS, ZRTP, TURN channels and RTP (methods up to 0x07F, which
/// covers every registered one); a message the demultiplexer would not route as STUN is not
/// read as one either.
pub fn looks_like_stun(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER_LEN
        && datagram[0] <= 3
        && u32::from_be_bytes([datagram[4], datagram[5], datagram[6], datagram[7]]) == MAGIC_COOKIE
}

impl<'a> Message<'a> {
    /// Parses and validates one STUN message (the whole datagram).
    ///
    /// # Errors
    /// [`StunError::TooShort`], [`StunError::TooLong`], [`StunError::NotStun`],
    /// [`StunError::Malformed`] for a broken structure, [`StunError::BadFingerprint`] when a
    /// FINGERPRINT is present and wrong.
    pub fn parse(buf: &'a [u8]) -> Result<Self, StunError> {
        if buf.len() > MAX_MESSAGE_LEN {
            return Err(StunError::TooLong);
        }
        if buf.len() < HEADER_LEN {
            return Err(StunError::TooShort);
        }
        if !looks_like_stun(buf) {
            return Err(StunError::NotStun);
        }
        let declared = u16::from_be_bytes([buf[2], buf[3]]) as usize;
        if !declared.is_multiple_of(4) {
            return Err(StunError::Malformed("message length not a multiple of 4"));
        }
        match (HEADER_LEN + declared).cmp(&buf.len()) {
            std::cmp::Ordering::Greater => return Err(StunError::TooShort),
            std::cmp::Ordering::Less => return Err(StunError::TooLong),
            std::cmp::Ordering::Equal => {}
        }
        let t = u16::from_be_bytes([buf[0], buf[1]]);
        let c = ((t >> 4) & 1) | ((t >> 7) & 2);
        let class = match c {
            0 => Class::Request,
            1 => Class::Indication,
            2 => Class::SuccessResponse,
            _ => Class::ErrorResponse,
        };
        let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);

        let mut message = Message {
            buf,
            class,
            method,
            attributes: [None; MAX_ATTRIBUTES],
            count: 0,
            integrity_offset: None,
            fingerprint_offset: None,
        };
        let mut at = HEADER_LEN;
        while at < buf.len() {
            if buf.len() - at < 4 {
                return Err(StunError::Malformed("attribute header runs past the end"));
            }
            let kind = u16::from_be_bytes([buf[at], buf[at + 1]]);
            let len = u16::from_be_bytes([buf[at + 2], buf[at + 3]]) as usize;
            let padded = (len + 3) & !3;
            if buf.len() - at - 4 < padded {
                return Err(StunError::Malformed("attribute value runs past the end"));
            }
            if message.fingerprint_offset.is_some() {
                return Err(StunError::Malformed("attribute after FINGERPRINT"));
            }
            if message.integrity_offset.is_some() && kind != ATTR_FINGERPRINT {
                return Err(StunError::Malformed("attribute after MESSAGE-INTEGRITY"));
            }
            if message.count == MAX_ATTRIBUTES {
                return Err(StunError::Malformed("too many attributes"));
            }
            match kind {
                ATTR_MESSAGE_INTEGRITY if len != 20 => {
                    return Err(StunError::Malformed("MESSAGE-INTEGRITY is not 20 bytes"))
                }
                ATTR_MESSAGE_INTEGRITY => message.integrity_offset = Some(at),
                ATTR_FINGERPRINT if len != 4 => {
                    return Err(StunError::Malformed("FINGERPRINT is not 4 bytes"))
                }
                ATTR_FINGERPRINT => message.fingerprint_offset = Some(at),
                _ => {}
            }
            message.attributes[message.count] = Some(RawAttribute {
                kind,
                value: &buf[at + 4..at + 4 + len],
                offset: at,
            });
            message.count += 1;
            at += 4 + padded;
        }
        if let Some(offset) = message.fingerprint_offset {
            let expected = crate::integrity::fingerprint(&buf[..offset]);
            let got = u32::from_be_bytes([
                buf[offset + 4],
                buf[offset + 5],
                buf[offset + 6],
                buf[offset + 7],
            ]);
            if expected != got {
                return Err(StunError::BadFingerprint);
            }
        }
        Ok(message)
    }

    /// The message's class.
    pub fn class(&self) -> Class {
        self.class
    }

    /// The message's 12-bit method ([`METHOD_BINDING`] for ICE).
    pub fn method(&self) -> u16 {
        self.method
    }

    /// The 96-bit transaction id, bytes 8..20 (RFC 8489 §5).
    pub fn transaction_id(&self) -> [u8; 12] {
        let mut id = [0u8; 12];
        id.copy_from_slice(&self.buf[8..20]);
        id
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Every attribute in order of appearance.
    pub fn attributes(&self) -> impl Iterator<Item = RawAttribute<'a>> + '_ {
        self.attributes[..self.count].iter().flatten().copied()
    }

    /// The first attribute of type `kind` (RFC 8489 §14: later duplicates are ignored).
    pub fn attribute(&self, kind: u16) -> Option<RawAttribute<'a>> {
        self.attributes().find(|a| a.kind == kind)
    }

    /// True when the message carries a FINGERPRINT (already checked by [`parse`](Self::parse)).
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint_offset.is_some()
    }

    /// USERNAME (RFC 8489 §14.3) as UTF-8.
    ///
    /// # Errors
    /// [`StunError::Malformed`] when it is longer than 513 bytes or not UTF-8.
    pub fn username(&self) -> Result<Option<&'a str>, StunError> {
        match self.attribute(ATTR_USERNAME) {
            None => Ok(None),
            Some(a) if a.value.len() > 513 => {
                Err(StunError::Malformed("USERNAME longer than 513 bytes"))
            }
            Some(a) => std::str::from_utf8(a.value)
                .map(Some)
                .map_err(|_| StunError::Malformed("USERNAME is not UTF-8")),
        }
    }

    /// PRIORITY (RFC 8445 §16.1), when present and 4 bytes.
    pub fn priority(&self) -> Option<u32> {
        self.attribute(ATTR_PRIORITY)
            .and_then(|a| <[u8; 4]>::try_from(a.value).ok())
            .map(u32::from_be_bytes)
    }

    /// True when USE-CANDIDATE (RFC 8445 §16.1) is present.
    pub fn use_candidate(&self) -> bool {
        self.attribute(ATTR_USE_CANDIDATE).is_some()
    }

    /// The tie-breaker of ICE-CONTROLLING (RFC 8445 §16.1), when present and 8 bytes.
    pub fn ice_controlling(&self) -> Option<u64> {
        self.u64_attribute(ATTR_ICE_CONTROLLING)
    }

    /// The tie-breaker of ICE-CONTROLLED (RFC 8445 §16.1), when present and 8 bytes.
    pub fn ice_controlled(&self) -> Option<u64> {
        self.u64_attribute(ATTR_ICE_CONTROLLED)
    }

    fn u64_attribute(&self, kind: u16) -> Option<u64> {
        self.attribute(kind)
            .and_then(|a| <[u8; 8]>::try_from(a.value).ok())
            .map(u64::from_be_bytes)
    }

    /// ERROR-CODE (RFC 8489 §14.8): the code (300–699) and the reason phrase.
    pub fn error_code(&self) -> Option<(u16, &'a str)> {
        let a = self.attribute(ATTR_ERROR_CODE)?;
        if a.value.len() < 4 {
            return None;
        }
        let code = (a.value[2] & 0x07) as u16 * 100 + a.value[3] as u16;
        let reason = std::str::from_utf8(&a.value[4..]).unwrap_or("");
        Some((code, reason))
    }

    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2), decoded.
    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        let a = self.attribute(ATTR_XOR_MAPPED_ADDRESS)?;
        let v = a.value;
        if v.len() < 4 {
            return None;
        }
        let port = u16::from_be_bytes([v[2], v[3]]) ^ (MAGIC_COOKIE >> 16) as u16;
        match (v[1], v.len()) {
            (0x01, 8) => {
                let raw = u32::from_be_bytes([v[4], v[5], v[6], v[7]]) ^ MAGIC_COOKIE;
                Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(raw)), port))
            }
            (0x02, 20) => {
                let mut ip = [0u8; 16];
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                key[4..].copy_from_slice(&self.buf[8..20]);
                for i in 0..16 {
                    ip[i] = v[4 + i] ^ key[i];
                }
                Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
            }
            _ => None,
        }
    }

    /// Comprehension-required attributes (types 0x0000–0x7FFF, RFC 8489 §14) that this crate
    /// does not understand, up to 8: a request carrying any gets a 420 answer listing them.
    pub fn unknown_comprehension_required(&self) -> Vec<u16> {
        self.attributes()
            .map(|a| a.kind)
            .filter(|k| *k < 0x8000 && !KNOWN_COMPREHENSION_REQUIRED.contains(k))
            .take(8)
            .collect()
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) with a short-term credential key:
    /// for ICE, the receiving agent's password as bytes (RFC 8445 §7.2.2).
    ///
    /// # Errors
    /// [`StunError::BadIntegrity`] when the attribute is absent or its HMAC does not match.
    pub fn verify_integrity(&self, key: &[u8]) -> Result<(), StunError> {
        let offset = self.integrity_offset.ok_or(StunError::BadIntegrity)?;
        let expected = crate::integrity::message_integrity(key, &self.buf[..offset]);
        let got = &self.buf[offset + 4..offset + 24];
        if crate::integrity::constant_time_eq(&expected, got) {
            Ok(())
        } else {
            Err(StunError::BadIntegrity)
        }
    }
}
