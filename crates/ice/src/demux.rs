//! Telling STUN, DTLS and SRTP apart on one UDP port (RFC 7983 §7), and routing each datagram
//! to the peer it belongs to when every peer shares the port (mediasoup's `WebRtcServer`):
//! STUN by the ufrag in USERNAME, everything else by the source address a check came from.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;

/// What a datagram on a WebRTC port is, from its first byte (RFC 7983 §7, RFC 5764 §5.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramKind {
    /// 0–3: STUN.
    Stun,
    /// 20–63: DTLS.
    Dtls,
    /// 128–191 with an RTCP packet type (192–223) in the second byte: SRTCP (RFC 5761 §4).
    Rtcp,
    /// 128–191 otherwise: SRTP.
    Rtp,
    /// Anything else (ZRTP, TURN channels, QUIC, junk): dropped.
    Other,
}

/// Classifies one datagram by its first bytes; an empty one is [`DatagramKind::Other`].
pub fn classify(datagram: &[u8]) -> DatagramKind {
    match datagram.first() {
        Some(0..=3) => DatagramKind::Stun,
        Some(20..=63) => DatagramKind::Dtls,
        Some(128..=191) => match datagram.get(1) {
            Some(192..=223) => DatagramKind::Rtcp,
            _ => DatagramKind::Rtp,
        },
        _ => DatagramKind::Other,
    }
}

/// The local ufrag of an ICE USERNAME `receiver:sender` (RFC 8445 §7.2.2).
pub fn local_ufrag(username: &str) -> Option<&str> {
    username.split_once(':').map(|(local, _)| local)
}

/// Maps ufrags and source addresses to peers (`K`, e.g. a session index) for one shared port.
///
/// A STUN request is routed by its USERNAME's local ufrag ([`by_ufrag`](Self::by_ufrag)); once
/// the peer's agent answered it, the owner calls [`bind_address`](Self::bind_address) so that
/// DTLS, SRTP and SRTCP from that address reach the same peer
/// ([`by_address`](Self::by_address)). An address belongs to one peer at a time: a new binding
/// moves it.
#[derive(Debug)]
pub struct Demux<K> {
    ufrags: HashMap<String, K>,
    addresses: HashMap<SocketAddr, K>,
}

impl<K> Default for Demux<K> {
    fn default() -> Self {
        Demux {
            ufrags: HashMap::new(),
            addresses: HashMap::new(),
        }
    }
}

impl<K: Copy + Eq + Hash> Demux<K> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a peer's local ufrag. Returns false (and changes nothing) if the ufrag is
    /// already taken.
    pub fn add_peer(&mut self, ufrag: &str, key: K) -> bool {
        if self.ufrags.contains_key(ufrag) {
            return false;
        }
        self.ufrags.insert(ufrag.to_owned(), key);
        true
    }

    /// Forgets a peer, its ufrag and every address bound to it.
    pub fn remove_peer(&mut self, ufrag: &str) {
        if let Some(key) = self.ufrags.remove(ufrag) {
            self.addresses.retain(|_, k| *k != key);
        }
    }

    /// The peer a STUN request's USERNAME names.
    pub fn by_ufrag(&self, username: &str) -> Option<K> {
        self.ufrags.get(local_ufrag(username)?).copied()
    }

    /// Routes non-STUN datagrams from `source` to `key` from now on.
    pub fn bind_address(&mut self, source: SocketAddr, key: K) {
        self.addresses.insert(source, key);
    }

    /// The peer whose checks came from `source`.
    pub fn by_address(&self, source: SocketAddr) -> Option<K> {
        self.addresses.get(&source).copied()
    }

    /// Registered peers.
    pub fn peers(&self) -> usize {
        self.ufrags.len()
    }

    /// Bound addresses.
    pub fn addresses(&self) -> usize {
        self.addresses.len()
    }
}
