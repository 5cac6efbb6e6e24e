//! The one header extension element a forwarded packet may keep (the Dependency Descriptor of
//! an AV1 SVC stream, which a receiver needs to assemble each spatial layer's frame): written by
//! the [`RtpRewriter`](super::RtpRewriter) under a placeholder id, mapped by each subscriber's
//! transport to the id negotiated with that subscriber, or removed for one that negotiated none.
//!
//! Layout (RFC 8285 §4.3, the two-byte form, so an element of up to 255 bytes fits):
//!
//! ```text
//!  0               1               2               3
//! |V=2|P|X=1|CC=0 |M|     PT      |       sequence number         |   12-byte fixed header
//! |                           timestamp                           |
//! |                             SSRC                              |
//! |      0x10     |      0x00     |        length (words)         |   profile 0x1000
//! | id (KEPT_ID)  |    len (L)    |  L bytes of element data ...  |
//! |  ... then zero padding to a 32-bit boundary                   |
//! |                         payload ...                           |
//! ```
//!
//! A transport may append elements of its own after the padding (zero bytes between elements
//! are allowed, §4.3) and grow `length`.

/// The placeholder element id of the kept element (two-byte form ids are 1–255).
pub const KEPT_ID: u8 = 255;

/// Bytes of the extension block holding an element of `len` bytes: the 4-byte extension
/// header, the 2-byte element header, the data, padded to 32 bits.
pub fn block_len(len: usize) -> usize {
    4 + (2 + len).div_ceil(4) * 4
}

/// Writes the extension block for `element` (at most 255 bytes) at `out[0..]`; returns its
/// length ([`block_len`]). Panics if `out` is shorter (the caller sizes it).
pub fn write_block(out: &mut [u8], element: &[u8]) -> usize {
    let n = block_len(element.len());
    out[0..2].copy_from_slice(&[0x10, 0x00]);
    out[2..4].copy_from_slice(&(((n - 4) / 4) as u16).to_be_bytes());
    out[4] = KEPT_ID;
    out[5] = element.len() as u8;
    out[6..6 + element.len()].copy_from_slice(element);
    out[6 + element.len()..n].fill(0);
    n
}

/// Where a kept element's block is in an RTP packet in this layout: the byte offset of the
/// element id (16) and the end of the block (the payload offset). None when the packet is not
/// in this layout (`X` = 0, CSRCs, another profile or first element).
pub fn find_block(packet: &[u8]) -> Option<(usize, usize)> {
    if packet.len() < 18 || packet[0] & 0x1F != 0x10 || packet[12..14] != [0x10, 0x00] || packet[16] != KEPT_ID {
        return None;
    }
    let end = 16 + 4 * usize::from(u16::from_be_bytes([packet[14], packet[15]]));
    (end <= packet.len()).then_some((16, end))
}
