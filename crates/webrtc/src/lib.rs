//! Sluice's server-side WebRTC peer for viewers that only receive, sans-IO: the native media
//! path of WHEP (issue "WebRTC delivery at 1000 viewers per core").
//!
//! - [`Peer`]: one viewer: ICE-lite (`sluice-ice`, RFC 8445 §2.5, consent RFC 7675), DTLS 1.2
//!   server (str0m's `dimpl`, ECDSA P-256, `use_srtp`, RFC 5764 key export, fingerprint check
//!   RFC 8122), SRTP/SRTCP (`sluice-srtp`), RTCP parsed by `sluice-rtp`.
//! - [`Certificate`]: the self-signed certificate all peers of a server share, with its SDP
//!   fingerprint.
//! - [`dtls_config`]: the DTLS settings all peers share.
//!
//! Nothing here opens a socket, reads a clock or spawns a thread: datagrams and `Instant`s come
//! in, datagrams and events go out. The UDP socket, the demultiplexing of one port between
//! peers (`sluice_ice::demux::Demux`) and the send loop live in the N-API binding.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod certificate;
mod error;
mod keying;
mod peer;

use std::sync::Arc;

pub use certificate::{format_fingerprint, parse_fingerprint, Certificate};
pub use error::WebRtcError;
pub use keying::{srtp_contexts, srtp_profile};
pub use peer::{CloseReason, Peer, PeerConfig, PeerEvent, PeerState, PeerStats, Transmit, DEFAULT_CONNECT_TIMEOUT};
pub use sluice_srtp::Profile as SrtpProfile;
/// dimpl's DTLS configuration, as [`dtls_config`] makes it and [`Peer::new`] takes it.
pub use dimpl::Config as DtlsConfig;

/// The DTLS settings every peer of a server shares: DTLS 1.2 cipher suites with ECDSA
/// (dimpl's: AES-GCM and ChaCha20-Poly1305 over ECDHE), RustCrypto primitives, a
/// HelloVerifyRequest cookie, dimpl's retransmission timers (driven by the `Instant`s given to
/// [`Peer::handle_timeout`]).
pub fn dtls_config() -> Arc<dimpl::Config> {
    Arc::new(
        dimpl::Config::builder()
            .with_crypto_provider(dimpl::crypto::rust_crypto::default_provider())
            .build()
            .expect("dimpl's defaults with its own provider are valid"),
    )
}
