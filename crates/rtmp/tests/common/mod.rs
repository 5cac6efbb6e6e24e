//! Shared harness for the session tests: a deterministic xorshift PRNG (no dependency) and a
//! [`Link`] that wires a client [`Session`] to a server [`Session`] by moving
//! `take_transmit()` bytes between them in random splits. No sockets, no clock: the only time
//! is the `epoch_ms` the sessions are built with and the timestamps the tests choose.
#![allow(dead_code)]

use sluice_rtmp::handshake::{HandshakeKind, RANDOM_SIZE};
use sluice_rtmp::session::{Role, Session, SessionConfig, SessionEvent};
use sluice_rtmp::RtmpError;

/// xorshift64 (Marsaglia), deterministic for a given seed.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// In `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// In `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    pub fn random_block(&mut self) -> [u8; RANDOM_SIZE] {
        let mut r = [0u8; RANDOM_SIZE];
        for b in r.iter_mut() {
            *b = self.byte();
        }
        r
    }

    /// A read size as a socket might deliver it: often 1 byte, often small, sometimes large.
    pub fn split(&mut self) -> usize {
        match self.below(4) {
            0 => 1,
            1 => self.range(1, 16),
            2 => self.range(1, 512),
            _ => self.range(1, 8192),
        }
    }
}

/// One end of a [`Link`]: its session and everything it reported.
pub struct Peer {
    pub session: Session,
    /// Every event drained after each `handle_input`, in order.
    pub events: Vec<SessionEvent>,
    /// The first error `handle_input` returned (nothing is fed after it).
    pub error: Option<RtmpError>,
    /// `bytes_received()` after each `handle_input` call, with the number of events seen by then.
    pub log: Vec<(u64, usize)>,
}

impl Peer {
    fn new(session: Session) -> Self {
        Peer {
            session,
            events: Vec::new(),
            error: None,
            log: Vec::new(),
        }
    }

    /// Feeds `bytes` in random pieces, draining events after each piece (the drain rule).
    /// Stops at the first error.
    pub fn feed(&mut self, bytes: &[u8], rng: &mut XorShift) {
        let mut rest = bytes;
        while !rest.is_empty() && self.error.is_none() {
            let n = rng.split().min(rest.len());
            let _ = self.feed_once(&rest[..n]); // recorded in `self.error`
            rest = &rest[n..];
        }
    }

    /// One `handle_input` call with exactly these bytes. Every other call goes through
    /// `handle_input_in_place` on a copy instead (the copy is overwritten afterwards, as a
    /// reused buffer would be), and its `MediaInInput` events are reported as `Media` with the
    /// bytes they name, so every test checks both paths and their mix.
    pub fn feed_once(&mut self, bytes: &[u8]) -> Result<(), RtmpError> {
        let result = if self.log.len() % 2 == 1 {
            let mut read = bytes.to_vec();
            let result = self.session.handle_input_in_place(&mut read);
            while let Some(e) = self.session.poll_event() {
                self.events.push(match e {
                    SessionEvent::MediaInInput {
                        type_id,
                        message_stream_id,
                        timestamp,
                        range,
                    } => SessionEvent::Media {
                        type_id,
                        message_stream_id,
                        timestamp,
                        payload: read[range].to_vec().into(),
                    },
                    e => e,
                });
            }
            read.fill(0xEE);
            result
        } else {
            let result = self.session.handle_input(bytes);
            while let Some(e) = self.session.poll_event() {
                self.events.push(e);
            }
            result
        };
        self.log
            .push((self.session.bytes_received(), self.events.len()));
        if let Err(e) = &result {
            self.error.get_or_insert(e.clone());
        }
        result
    }

    /// Events reported since the handshake completed, without it.
    pub fn events_after_handshake(&self) -> Vec<SessionEvent> {
        self.events
            .iter()
            .filter(|e| !matches!(e, SessionEvent::HandshakeDone { .. }))
            .cloned()
            .collect()
    }

    /// Takes the events gathered so far.
    pub fn take_events(&mut self) -> Vec<SessionEvent> {
        std::mem::take(&mut self.events)
    }
}

/// A client and a server session wired back to back.
pub struct Link {
    pub client: Peer,
    pub server: Peer,
    pub rng: XorShift,
}

pub const CLIENT_EPOCH_MS: u32 = 1_000;
pub const SERVER_EPOCH_MS: u32 = 2_000;

impl Link {
    /// A fresh pair; the client's C0+C1 are pending, nothing has moved yet.
    pub fn new(kind: HandshakeKind, seed: u64) -> Self {
        Self::with_config(
            kind,
            seed,
            SessionConfig::default(),
            SessionConfig::default(),
        )
    }

    pub fn with_config(
        kind: HandshakeKind,
        seed: u64,
        client_config: SessionConfig,
        server_config: SessionConfig,
    ) -> Self {
        let mut rng = XorShift::new(seed);
        let client = Session::new(
            Role::Client(kind),
            client_config,
            rng.random_block(),
            CLIENT_EPOCH_MS,
        );
        let server = Session::new(
            Role::Server,
            server_config,
            rng.random_block(),
            SERVER_EPOCH_MS,
        );
        Link {
            client: Peer::new(client),
            server: Peer::new(server),
            rng,
        }
    }

    /// A pair that has completed the handshake, with the handshake events already drained.
    pub fn connected(kind: HandshakeKind, seed: u64) -> Self {
        let mut link = Self::new(kind, seed);
        link.pump();
        assert!(
            link.client.session.is_handshake_done(),
            "client handshake done"
        );
        assert!(
            link.server.session.is_handshake_done(),
            "server handshake done"
        );
        assert_eq!(link.client.error, None);
        assert_eq!(link.server.error, None);
        link.client.take_events();
        link.server.take_events();
        link
    }

    pub fn with_config_connected(
        kind: HandshakeKind,
        seed: u64,
        client_config: SessionConfig,
        server_config: SessionConfig,
    ) -> Self {
        let mut link = Self::with_config(kind, seed, client_config, server_config);
        link.pump();
        assert!(link.client.session.is_handshake_done() && link.server.session.is_handshake_done());
        link.client.take_events();
        link.server.take_events();
        link
    }

    /// Moves bytes both ways, in random splits, until neither side has anything to send or a
    /// side has failed. Each round delivers everything pending (client to server first).
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let to_server = self.client.session.take_transmit();
            let to_client = self.server.session.take_transmit();
            if to_server.is_empty() && to_client.is_empty() {
                return;
            }
            if self.server.error.is_none() {
                self.server.feed(&to_server, &mut self.rng);
            }
            if self.client.error.is_none() {
                self.client.feed(&to_client, &mut self.rng);
            }
            if self.client.error.is_some() || self.server.error.is_some() {
                return;
            }
        }
        panic!("the sessions kept talking for 10 000 rounds");
    }
}
