//! [`MessageBuilder`]: writes one STUN message into a caller's `Vec<u8>` (RFC 8489 §5, §14).

use std::net::{IpAddr, SocketAddr};

use crate::attribute::*;
use crate::integrity;
use crate::message::{message_type, Class, HEADER_LEN, MAGIC_COOKIE};

/// Writes a STUN message attribute by attribute, keeping the header's length field current.
/// Values are zero-padded to 4 bytes. [`message_integrity`](Self::message_integrity) and then
/// [`fingerprint`](Self::fingerprint) end a message; nothing may follow them.
///
/// ```text
///  0                   1                   2                   3
///  |0 0|  message type (14)        |  message length (bytes after the header)
///  |                      magic cookie 0x2112A442                      |
///  |                  transaction id (96 bits)                         |
///  | attribute type (16)           | value length (16)             | value, padded to 4 ...
/// ```
pub struct MessageBuilder<'b> {
    out: &'b mut Vec<u8>,
    start: usize,
}

impl<'b> MessageBuilder<'b> {
    /// Starts a message of `class` and `method` with `transaction_id`, appended to `out`.
    pub fn new(out: &'b mut Vec<u8>, class: Class, method: u16, transaction_id: &[u8; 12]) -> Self {
        let start = out.len();
        out.extend_from_slice(&message_type(class, method).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out.extend_from_slice(transaction_id);
        MessageBuilder { out, start }
    }

    fn set_length(&mut self) {
        let len = (self.out.len() - self.start - HEADER_LEN) as u16;
        self.out[self.start + 2..self.start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Appends one attribute; `value` longer than 65 535 bytes is cut (callers pass small
    /// values).
    pub fn attribute(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        let value = &value[..value.len().min(u16::MAX as usize)];
        self.out.extend_from_slice(&kind.to_be_bytes());
        self.out
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.out.extend_from_slice(value);
        let pad = (4 - value.len() % 4) % 4;
        self.out.extend_from_slice(&[0u8; 3][..pad]);
        self.set_length();
        self
    }

    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2): the address the request came from.
    pub fn xor_mapped_address(&mut self, address: SocketAddr) -> &mut Self {
        let port = address.port() ^ (MAGIC_COOKIE >> 16) as u16;
        let mut value = [0u8; 20];
        value[2..4].copy_from_slice(&port.to_be_bytes());
        let len = match address.ip() {
            IpAddr::V4(ip) => {
                value[1] = 0x01;
                value[4..8].copy_from_slice(&(u32::from(ip) ^ MAGIC_COOKIE).to_be_bytes());
                8
            }
            IpAddr::V6(ip) => {
                value[1] = 0x02;
                let tid_start = self.start + 8;
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                key[4..].copy_from_slice(&self.out[tid_start..tid_start + 12]);
                for (i, b) in ip.octets().iter().enumerate() {
                    value[4 + i] = b ^ key[i];
                }
                20
            }
        };
        self.attribute(ATTR_XOR_MAPPED_ADDRESS, &value[..len])
    }

    /// ERROR-CODE (RFC 8489 §14.8): `code` 300–699 and a short reason phrase.
    pub fn error_code(&mut self, code: u16, reason: &str) -> &mut Self {
        let mut value = Vec::with_capacity(4 + reason.len());
        value.extend_from_slice(&[0, 0, (code / 100) as u8 & 0x07, (code % 100) as u8]);
        value.extend_from_slice(reason.as_bytes());
        self.attribute(ATTR_ERROR_CODE, &value)
    }

    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.9).
    pub fn unknown_attributes(&mut self, kinds: &[u16]) -> &mut Self {
        let value: Vec<u8> = kinds.iter().flat_map(|k| k.to_be_bytes()).collect();
        self.attribute(ATTR_UNKNOWN_ATTRIBUTES, &value)
    }

    /// MESSAGE-INTEGRITY (RFC 8489 §14.5) over everything written so far, with `key`: for an
    /// ICE response, the answering agent's own password, the one the request was checked with
    /// (RFC 8445 §7.3.1.4).
    pub fn message_integrity(&mut self, key: &[u8]) -> &mut Self {
        let mac = integrity::message_integrity(key, &self.out[self.start..]);
        self.attribute(ATTR_MESSAGE_INTEGRITY, &mac)
    }

    /// FINGERPRINT (RFC 8489 §14.7); the message's last attribute.
    pub fn fingerprint(&mut self) -> &mut Self {
        let crc = integrity::fingerprint(&self.out[self.start..]);
        self.attribute(ATTR_FINGERPRINT, &crc.to_be_bytes())
    }

    /// Bytes written for this message so far.
    pub fn len(&self) -> usize {
        self.out.len() - self.start
    }

    /// True when nothing was written (never: the header is written by [`new`](Self::new)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
