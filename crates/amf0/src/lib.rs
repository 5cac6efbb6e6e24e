//! # sluice-amf0
//!
//! Sans-IO encoder/decoder for AMF0 (Adobe "Action Message Format -- AMF 0"),
//! the serialisation used by RTMP command (type 20) and data (type 18)
//! messages, plus the AMF0 §3.1 avmplus-object switch (marker `0x11`) to
//! AMF3 used by type-17 commands.
//!
//! Everything is a pure function over byte slices: no I/O, no global state,
//! no `unsafe`, no dependencies.
//!
//! ```
//! use sluice_amf0::{decode_all, encode_all, Amf0Value};
//!
//! let command = vec![
//!     Amf0Value::from("connect"),
//!     Amf0Value::Number(1.0),
//!     Amf0Value::object([("app", Amf0Value::from("live"))]),
//! ];
//! let mut bytes = Vec::new();
//! encode_all(&command, &mut bytes);
//! assert_eq!(&bytes[..10], b"\x02\x00\x07connect");
//!
//! let decoded = decode_all(&bytes).unwrap();
//! assert_eq!(decoded, command);
//! assert_eq!(decoded[2].get("app").and_then(Amf0Value::as_str), Some("live"));
//! ```
//!
//! ## Wire format summary (AMF0 §2, all integers big-endian)
//!
//! | marker | type (§)            | payload                                           |
//! |--------|---------------------|---------------------------------------------------|
//! | `0x00` | Number (§2.2)       | f64                                               |
//! | `0x01` | Boolean (§2.3)      | u8 (0 = false)                                    |
//! | `0x02` | String (§2.4)       | u16 length, UTF-8                                 |
//! | `0x03` | Object (§2.5)       | (u16 key length, key, value)*, `00 00 09`         |
//! | `0x05` | null (§2.7)         | —                                                 |
//! | `0x06` | undefined (§2.8)    | —                                                 |
//! | `0x07` | Reference (§2.9)    | u16 index (kept raw, not resolved)                |
//! | `0x08` | ECMA Array (§2.10)  | u32 count hint, properties as Object, `00 00 09`  |
//! | `0x0A` | Strict Array (§2.12)| u32 count, values                                 |
//! | `0x0B` | Date (§2.13)        | f64 ms since epoch, s16 time zone                 |
//! | `0x0C` | Long String (§2.14) | u32 length, UTF-8                                 |
//! | `0x0D` | Unsupported (§2.15) | —                                                 |
//! | `0x0F` | XML Document (§2.17)| u32 length, UTF-8                                 |
//! | `0x10` | Typed Object (§2.18)| u16 class name length, name, properties, `00 00 09`|
//! | `0x11` | AVM+ switch (§3.1)  | one AMF3 value, see [`amf3`]                      |
//!
//! Markers `0x04` (movieclip) and `0x0E` (recordset) are reserved and, like
//! `0x09` outside an object end or anything above `0x11`, rejected.
//!
//! ## Robustness
//!
//! Decoding never panics. Lengths and counts from the wire are checked
//! against the remaining input before any allocation, nesting is limited to
//! [`MAX_DEPTH`], AMF3 reference tables to [`MAX_AMF3_REFERENCES`] entries
//! and AMF3 reference expansion to [`MAX_AMF3_EXPANSION`] bytes. Invalid
//! UTF-8 is replaced lossily with U+FFFD. [`decode_value`] and
//! [`decode_all`] tolerate an object terminator missing at the very end of
//! the input (see [`decode`]); the `_strict` variants do not.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod amf3;
pub mod decode;
pub mod encode;
pub mod error;
pub mod marker;
mod reader;
pub mod value;

pub use amf3::{MAX_AMF3_EXPANSION, MAX_AMF3_REFERENCES};
pub use decode::{decode_all, decode_all_strict, decode_value, decode_value_strict, MAX_DEPTH};
pub use encode::{encode_all, encode_to_vec, encode_value};
pub use error::{Amf0Error, Amf3Table};
pub use value::Amf0Value;
