//! Sluice's RTMP core, sans-IO: bytes in, messages and events out; messages in, bytes out.
//!
//! - [`handshake`]: C0/C1/C2 and S0/S1/S2, simple and complex (digest) (RTMP 1.0 §5.2).
//! - [`chunk`]: chunk stream demux/mux (§5.3), incl. extended timestamps and 3-byte basic headers.
//! - [`session`]: one connection: handshake, chunking, protocol control (§5.4), user control
//!   (§6.2), commands and data (§7) — the drain rule is in its docs.
//! - [`flv`]: FLV tag bodies carried by audio/video messages.
//!
//! Nothing here touches a socket or a clock; every length read from the wire is bounded and
//! malformed input is an [`RtmpError`], never a panic.
//!
//! Errors are final. A [`session::Session`], [`chunk::ChunkDecoder`] or handshake that returned
//! an error from reading input is inert from then on: every later input call returns the same
//! error and reads nothing (no bytes counted, no events, no messages, no ranges into an earlier
//! buffer). Close the connection; a new one needs a new session.
// Unsafe code is denied everywhere but `chunk::arena` (shared payload memory, one audited module).
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod chunk;
pub mod command;
pub mod control;
mod error;
pub mod flv;
pub mod handshake;
pub mod hevc;
pub mod message;
pub mod session;

pub use error::RtmpError;
pub use sluice_amf0 as amf0;
