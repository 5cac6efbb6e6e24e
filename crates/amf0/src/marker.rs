//! AMF0 type markers (AMF0 §2.1 "Types Overview"): the single byte that
//! precedes every AMF0 value on the wire.

/// AMF0 §2.2 number-marker `0x00`: followed by an 8-byte big-endian IEEE-754 double.
pub const NUMBER: u8 = 0x00;
/// AMF0 §2.3 boolean-marker `0x01`: followed by one byte, `0x00` = false, anything else = true.
pub const BOOLEAN: u8 = 0x01;
/// AMF0 §2.4 string-marker `0x02`: followed by a u16 big-endian byte length and UTF-8 bytes.
pub const STRING: u8 = 0x02;
/// AMF0 §2.5 object-marker `0x03`: followed by properties and `00 00 09`.
pub const OBJECT: u8 = 0x03;
/// AMF0 §2.6 movieclip-marker `0x04`: reserved, not supported (decoding it is an error).
pub const MOVIECLIP: u8 = 0x04;
/// AMF0 §2.7 null-marker `0x05`: no payload.
pub const NULL: u8 = 0x05;
/// AMF0 §2.8 undefined-marker `0x06`: no payload.
pub const UNDEFINED: u8 = 0x06;
/// AMF0 §2.9 reference-marker `0x07`: followed by a u16 big-endian object-table index.
pub const REFERENCE: u8 = 0x07;
/// AMF0 §2.10 ecma-array-marker `0x08`: followed by a u32 big-endian count, properties and `00 00 09`.
pub const ECMA_ARRAY: u8 = 0x08;
/// AMF0 §2.11 object-end-marker `0x09`: terminates an object after an empty key (`00 00`).
pub const OBJECT_END: u8 = 0x09;
/// AMF0 §2.12 strict-array-marker `0x0A`: followed by a u32 big-endian count and that many values.
pub const STRICT_ARRAY: u8 = 0x0A;
/// AMF0 §2.13 date-marker `0x0B`: followed by a big-endian double (ms since epoch, UTC) and an s16 time zone.
pub const DATE: u8 = 0x0B;
/// AMF0 §2.14 long-string-marker `0x0C`: followed by a u32 big-endian byte length and UTF-8 bytes.
pub const LONG_STRING: u8 = 0x0C;
/// AMF0 §2.15 unsupported-marker `0x0D`: no payload.
pub const UNSUPPORTED: u8 = 0x0D;
/// AMF0 §2.16 recordset-marker `0x0E`: reserved, not supported (decoding it is an error).
pub const RECORDSET: u8 = 0x0E;
/// AMF0 §2.17 xml-document-marker `0x0F`: followed by a u32 big-endian byte length and UTF-8 bytes.
pub const XML_DOCUMENT: u8 = 0x0F;
/// AMF0 §2.18 typed-object-marker `0x10`: followed by a u16-length class name, properties and `00 00 09`.
pub const TYPED_OBJECT: u8 = 0x10;
/// AMF0 §3.1 avmplus-object-marker `0x11`: the next value is encoded in AMF3.
pub const AVMPLUS_OBJECT: u8 = 0x11;
