//! STUN (RFC 8489) and an ICE-lite agent (RFC 8445 §2.5) for Sluice's server-side WebRTC
//! peers, sans-IO: datagrams, source addresses and `Instant`s in; responses, routing decisions
//! and events out. Nothing here opens a socket or reads a clock.
//!
//! - [`Message`]: a zero-copy, validated view of one STUN message; FINGERPRINT is checked on
//!   parse, MESSAGE-INTEGRITY with [`Message::verify_integrity`] (the key is the receiver's ICE
//!   password, RFC 8445 §7.2.2).
//! - [`MessageBuilder`]: writes responses (XOR-MAPPED-ADDRESS, ERROR-CODE, MESSAGE-INTEGRITY,
//!   FINGERPRINT).
//! - [`IceLite`]: one peer's agent: answers checks, takes the nominated pair, tracks consent
//!   (RFC 7675) and the connect timeout.
//! - [`demux`]: RFC 7983 first-byte classification and the ufrag / 5-tuple routing table that
//!   lets every peer share one UDP port.
//!
//! Checked against the RFC 5769 test vectors (tests/rfc5769.rs) and fuzzed
//! (crates/fuzz, target `stun_message`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod attribute;
mod builder;
pub mod demux;
mod error;
pub mod integrity;
mod lite;
mod message;

pub use builder::MessageBuilder;
pub use error::StunError;
pub use lite::{
    IceEvent, IceLite, IceLiteConfig, IceState, StunOutcome, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_CONSENT_TIMEOUT, MAX_REMOTE_ADDRESSES,
};
pub use message::{
    looks_like_stun, message_type, Class, Message, RawAttribute, HEADER_LEN, MAGIC_COOKIE,
    MAX_ATTRIBUTES, MAX_MESSAGE_LEN, METHOD_BINDING,
};
