//! [`Peer`]: one browser (or other WebRTC client) that receives media from us, or sends us
//! media ([`PeerConfig::receives_media`]: a WHIP publisher), sans-IO.
//!
//! Datagrams in ([`Peer::handle_datagram`], already routed to this peer by ufrag or address,
//! see `sluice_ice::demux`), time in ([`Peer::handle_timeout`]); datagrams out
//! ([`Peer::poll_transmit`]) and events out ([`Peer::poll_event`]). Media goes out through
//! [`Peer::protect_rtp`] / [`Peer::protect_rtcp`], which encrypt in place and say where to.
//!
//! Lifecycle: ICE-lite answers the browser's checks and selects the pair it nominates
//! (RFC 8445 §2.5); DTLS 1.2 runs as the server (`a=setup:passive`), only with addresses that
//! passed an authenticated check; the browser's certificate must match the SDP fingerprint
//! (RFC 8122); the RFC 5764 export keys the SRTP contexts; then the peer is connected. It closes
//! on a connect timeout (ICE nomination and DTLS both within `connect_timeout`), on consent
//! expiry (RFC 7675), on a DTLS failure or close_notify, or when told to.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sluice_ice::demux::{classify, DatagramKind};
use sluice_ice::{IceEvent, IceLite, IceLiteConfig, Message, StunOutcome};
use sluice_rtp::rtcp::{parse_compound, RtcpPacket};
use sluice_srtp::{Profile, SrtpContext, SrtpOptions};

use crate::{keying, Certificate, WebRtcError};

/// How long a peer may take from creation to connected (ICE nominated, DTLS done), by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// SSRCs an outbound SRTP context tracks (video, audio, their RTX, a few switches).
const MAX_SSRCS: usize = 16;

/// Options of [`Peer::new`].
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Our ICE ufrag (4–256 ice-chars) and password (22–256), as put in the SDP answer.
    pub local_ufrag: String,
    /// See `local_ufrag`.
    pub local_password: String,
    /// The browser's ufrag from its offer, when known (USERNAME must then be `local:remote`).
    pub remote_ufrag: Option<String>,
    /// SHA-256 of the browser's certificate from its offer's `a=fingerprint`; `None` accepts
    /// any certificate (tests only: without it anyone on the path could sit in the middle).
    pub remote_fingerprint: Option<[u8; 32]>,
    /// Creation to connected, at most.
    pub connect_timeout: Duration,
    /// RFC 7675 consent: closed when no authenticated check came for this long.
    pub consent_timeout: Duration,
    /// Whether the peer sends us media (a WHIP publisher): its SRTP is then decrypted and
    /// given as [`PeerEvent::Rtp`]; otherwise SRTP from it is dropped (a viewer only receives).
    pub receives_media: bool,
}

impl PeerConfig {
    /// Default timeouts (30 s each), no remote ufrag or fingerprint.
    pub fn new(local_ufrag: impl Into<String>, local_password: impl Into<String>) -> Self {
        PeerConfig {
            local_ufrag: local_ufrag.into(),
            local_password: local_password.into(),
            remote_ufrag: None,
            remote_fingerprint: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            consent_timeout: sluice_ice::DEFAULT_CONSENT_TIMEOUT,
            receives_media: false,
        }
    }
}

/// Where a peer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Waiting for a nominated ICE pair and the DTLS handshake.
    Connecting,
    /// SRTP is keyed and a pair is selected: media may flow.
    Connected,
    /// Nothing is sent or answered any more.
    Closed,
}

/// Why a peer closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// [`Peer::close`] was called.
    Local,
    /// Not connected within the connect timeout.
    ConnectTimeout,
    /// RFC 7675 consent expired: the browser stopped answering (a tab closed, a network gone).
    ConsentExpired,
    /// The browser sent close_notify.
    DtlsClosed,
    /// A fatal DTLS error, a fingerprint mismatch or an unusable SRTP profile.
    Failed(WebRtcError),
}

/// What a peer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// ICE selected (or moved) the pair: media goes to this address.
    Selected(SocketAddr),
    /// DTLS finished and SRTP is keyed with this profile.
    Connected(Profile),
    /// A compound RTCP packet from the browser, decrypted and parsed (a malformed tail is
    /// dropped: see [`PeerStats::rtcp_malformed`]).
    Rtcp(Vec<RtcpPacket>),
    /// An RTP packet from a peer that sends media ([`PeerConfig::receives_media`]), decrypted
    /// (header and payload, the SRTP tag removed; RFC 3711 §3.3).
    Rtp(Vec<u8>),
    /// The peer closed; the last event.
    Closed(CloseReason),
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Counters since creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// STUN messages answered with a success response.
    pub stun_answered: u64,
    /// Datagrams dropped: unparsable STUN, DTLS, SRTCP or SRTP from an address that never
    /// passed a check, SRTP from a peer that does not send media, unknown first bytes.
    pub dropped: u64,
    /// SRTCP packets that failed authentication or replay checks.
    pub srtcp_failed: u64,
    /// SRTP packets that failed authentication or replay checks (a peer that sends media).
    pub srtp_failed: u64,
    /// RTP packets received and decrypted (a peer that sends media).
    pub rtp_received: u64,
    /// Compound RTCP packets with a malformed part.
    pub rtcp_malformed: u64,
}

/// One WebRTC peer on our ICE-lite port (a viewer that receives from us, or with
/// [`PeerConfig::receives_media`] a publisher); see the [module docs](self).
pub struct Peer {
    ice: IceLite,
    dtls: dimpl::Dtls,
    remote_fingerprint: Option<[u8; 32]>,
    receives_media: bool,
    fingerprint_ok: bool,
    dtls_connected: bool,
    dtls_source: Option<SocketAddr>,
    dtls_timeout: Option<Instant>,
    connect_deadline: Instant,
    profile: Option<Profile>,
    outbound: Option<SrtpContext>,
    inbound: Option<SrtpContext>,
    state: PeerState,
    transmits: VecDeque<Transmit>,
    events: VecDeque<PeerEvent>,
    scratch: Vec<u8>,
    stats: PeerStats,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("ufrag", &self.ice.local_ufrag())
            .field("state", &self.state)
            .field("selected", &self.ice.selected())
            .field("profile", &self.profile)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// A peer that answers ICE checks for `config`'s credentials and runs DTLS with
    /// `certificate` under `dtls_config` (shared by every peer of a server: see
    /// [`dtls_config`](crate::dtls_config)).
    ///
    /// # Errors
    /// [`WebRtcError::IceCredentials`] for a ufrag or password out of RFC 8839's ranges.
    pub fn new(config: PeerConfig, certificate: &Certificate, dtls_config: Arc<dimpl::Config>, now: Instant) -> Result<Peer, WebRtcError> {
        let mut ice_config = IceLiteConfig::new(config.local_ufrag, config.local_password);
        ice_config.remote_ufrag = config.remote_ufrag;
        ice_config.connect_timeout = config.connect_timeout;
        ice_config.consent_timeout = config.consent_timeout;
        let ice = IceLite::new(ice_config, now).map_err(|e| WebRtcError::IceCredentials(e.to_string()))?;
        let dtls = dimpl::Dtls::new_12(dtls_config, certificate.dtls(), now);
        Ok(Peer {
            ice,
            dtls,
            remote_fingerprint: config.remote_fingerprint,
            receives_media: config.receives_media,
            fingerprint_ok: false,
            dtls_connected: false,
            dtls_source: None,
            dtls_timeout: None,
            connect_deadline: now + config.connect_timeout,
            profile: None,
            outbound: None,
            inbound: None,
            state: PeerState::Connecting,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            scratch: vec![0; 2048],
            stats: PeerStats::default(),
        })
    }

    /// Our ICE ufrag.
    pub fn local_ufrag(&self) -> &str {
        self.ice.local_ufrag()
    }

    /// Where the peer stands.
    pub fn state(&self) -> PeerState {
        self.state
    }

    /// Where media goes: the selected pair's remote address.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.ice.selected()
    }

    /// Whether `source` passed an authenticated ICE check (datagrams from it belong here).
    pub fn knows(&self, source: SocketAddr) -> bool {
        self.ice.knows(source)
    }

    /// The negotiated SRTP profile, once connected.
    pub fn profile(&self) -> Option<Profile> {
        self.profile
    }

    /// Counters.
    pub fn stats(&self) -> PeerStats {
        self.stats
    }

    /// One datagram from `source` at `now`. STUN goes to ICE; DTLS and SRTCP are taken only
    /// from addresses that passed a check; everything else is dropped (counted).
    pub fn handle_datagram(&mut self, source: SocketAddr, data: &[u8], now: Instant) {
        if self.state == PeerState::Closed {
            return;
        }
        match classify(data) {
            DatagramKind::Stun => self.handle_stun(source, data, now),
            DatagramKind::Dtls if self.ice.knows(source) => {
                self.dtls_source = Some(source);
                // dimpl's clock moves only through handle_timeout: refresh it first.
                if let Err(e) = self.dtls.handle_timeout(now).and_then(|_| self.dtls.handle_packet(data)) {
                    return self.close_with(CloseReason::Failed(WebRtcError::Dtls(e.to_string())));
                }
                self.drain_dtls();
            }
            DatagramKind::Rtcp if self.ice.knows(source) && self.inbound.is_some() => self.handle_srtcp(data),
            DatagramKind::Rtp if self.receives_media && self.ice.knows(source) && self.inbound.is_some() => self.handle_srtp(data),
            _ => self.stats.dropped += 1,
        }
    }

    fn handle_stun(&mut self, source: SocketAddr, data: &[u8], now: Instant) {
        let Ok(message) = Message::parse(data) else {
            self.stats.dropped += 1;
            return;
        };
        let mut out = Vec::new();
        if self.ice.handle_stun(&message, source, now, &mut out) == StunOutcome::Answered {
            self.stats.stun_answered += 1;
        }
        if !out.is_empty() {
            self.transmits.push_back(Transmit { destination: source, data: out });
        }
        self.drain_ice();
    }

    fn handle_srtcp(&mut self, data: &[u8]) {
        let Some(inbound) = self.inbound.as_mut() else { return };
        let mut packet = data.to_vec();
        if inbound.unprotect_rtcp_vec(&mut packet).is_err() {
            self.stats.srtcp_failed += 1;
            return;
        }
        let mut packets = Vec::new();
        for part in parse_compound(&packet) {
            match part {
                Ok(p) => packets.push(p),
                Err(_) => self.stats.rtcp_malformed += 1,
            }
        }
        if !packets.is_empty() {
            self.events.push_back(PeerEvent::Rtcp(packets));
        }
    }

    fn handle_srtp(&mut self, data: &[u8]) {
        let Some(inbound) = self.inbound.as_mut() else { return };
        let mut packet = data.to_vec();
        if inbound.unprotect_rtp_vec(&mut packet).is_err() {
            self.stats.srtp_failed += 1;
            return;
        }
        self.stats.rtp_received += 1;
        self.events.push_back(PeerEvent::Rtp(packet));
    }

    fn drain_ice(&mut self) {
        while let Some(event) = self.ice.poll_event() {
            match event {
                IceEvent::Selected(address) => {
                    self.events.push_back(PeerEvent::Selected(address));
                    self.maybe_connected();
                }
                IceEvent::Closed => {
                    let reason = if self.state == PeerState::Connected { CloseReason::ConsentExpired } else { CloseReason::ConnectTimeout };
                    self.close_with(reason);
                }
            }
        }
    }

    fn drain_dtls(&mut self) {
        loop {
            let destination = self.dtls_source.or(self.ice.selected());
            match self.dtls.poll_output(&mut self.scratch) {
                dimpl::Output::Packet(p) => {
                    if let Some(destination) = destination {
                        self.transmits.push_back(Transmit { destination, data: p.to_vec() });
                    }
                }
                dimpl::Output::BufferTooSmall { needed } => self.scratch.resize(needed, 0),
                dimpl::Output::Timeout(at) => {
                    self.dtls_timeout = Some(at);
                    break;
                }
                dimpl::Output::Connected => self.dtls_connected = true,
                dimpl::Output::PeerCert(der) => {
                    let digest: [u8; 32] = Sha256::digest(der).into();
                    if self.remote_fingerprint.is_some_and(|f| f != digest) {
                        return self.close_with(CloseReason::Failed(WebRtcError::FingerprintMismatch));
                    }
                    self.fingerprint_ok = true;
                }
                dimpl::Output::KeyingMaterial(material, profile) => {
                    let keyed = keying::srtp_profile(profile).and_then(|p| {
                        keying::srtp_contexts(p, &material, self.dtls.is_active(), SrtpOptions { max_ssrcs: MAX_SSRCS, ..SrtpOptions::default() }).map(|c| (p, c))
                    });
                    match keyed {
                        Ok((p, (outbound, inbound))) => {
                            self.profile = Some(p);
                            self.outbound = Some(outbound);
                            self.inbound = Some(inbound);
                        }
                        Err(e) => return self.close_with(CloseReason::Failed(e)),
                    }
                }
                dimpl::Output::CloseNotify => return self.close_with(CloseReason::DtlsClosed),
                // Application data (no data channels here) and future variants.
                _ => {}
            }
        }
        self.maybe_connected();
    }

    fn maybe_connected(&mut self) {
        if self.state == PeerState::Connecting && self.dtls_connected && self.fingerprint_ok && self.outbound.is_some() && self.ice.selected().is_some() {
            self.state = PeerState::Connected;
            self.events.push_back(PeerEvent::Connected(self.profile.expect("keyed")));
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == PeerState::Closed {
            return None;
        }
        let connect = (self.state == PeerState::Connecting).then_some(self.connect_deadline);
        [self.ice.poll_timeout(), self.dtls_timeout, connect].into_iter().flatten().min()
    }

    /// Moves time to `now`: DTLS retransmissions, ICE consent, the connect deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == PeerState::Closed {
            return;
        }
        if self.state == PeerState::Connecting && now >= self.connect_deadline {
            return self.close_with(CloseReason::ConnectTimeout);
        }
        self.ice.handle_timeout(now);
        self.drain_ice();
        if self.state == PeerState::Closed {
            return;
        }
        if self.dtls_timeout.is_some_and(|t| now >= t) {
            self.dtls_timeout = None;
            if let Err(e) = self.dtls.handle_timeout(now) {
                return self.close_with(CloseReason::Failed(WebRtcError::Dtls(e.to_string())));
            }
            self.drain_dtls();
        }
    }

    /// The next datagram to send, oldest first.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// Encrypts the RTP packet in `buf[..len]` in place (`buf` must have
    /// [`Profile::rtp_overhead`] spare bytes after it) and returns its SRTP length and where to
    /// send it.
    ///
    /// # Errors
    /// [`WebRtcError::NotConnected`] before [`PeerEvent::Connected`] or after closing;
    /// [`WebRtcError::Srtp`] for a packet SRTP refuses (too short, too many SSRCs): drop it.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<(usize, SocketAddr), WebRtcError> {
        let (outbound, destination) = self.outbound_and_destination()?;
        let n = outbound.protect_rtp(buf, len).map_err(|e| WebRtcError::Srtp(e.to_string()))?;
        Ok((n, destination))
    }

    /// As [`protect_rtp`](Self::protect_rtp), for a compound RTCP packet (SRTCP, RFC 3711 §3.4).
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<(usize, SocketAddr), WebRtcError> {
        let (outbound, destination) = self.outbound_and_destination()?;
        let n = outbound.protect_rtcp(buf, len).map_err(|e| WebRtcError::Srtp(e.to_string()))?;
        Ok((n, destination))
    }

    fn outbound_and_destination(&mut self) -> Result<(&mut SrtpContext, SocketAddr), WebRtcError> {
        if self.state != PeerState::Connected {
            return Err(WebRtcError::NotConnected);
        }
        let destination = self.ice.selected().ok_or(WebRtcError::NotConnected)?;
        Ok((self.outbound.as_mut().ok_or(WebRtcError::NotConnected)?, destination))
    }

    /// Closes the peer (idempotent): a DTLS close_notify goes out if DTLS was up, then
    /// [`PeerEvent::Closed`] with [`CloseReason::Local`].
    pub fn close(&mut self) {
        if self.state == PeerState::Closed {
            return;
        }
        if self.dtls_connected && self.dtls.close().is_ok() {
            self.drain_dtls_packets();
        }
        self.close_with(CloseReason::Local);
    }

    fn drain_dtls_packets(&mut self) {
        let Some(destination) = self.dtls_source.or(self.ice.selected()) else { return };
        loop {
            match self.dtls.poll_output(&mut self.scratch) {
                dimpl::Output::Packet(p) => self.transmits.push_back(Transmit { destination, data: p.to_vec() }),
                dimpl::Output::BufferTooSmall { needed } => self.scratch.resize(needed, 0),
                dimpl::Output::Timeout(_) => break,
                _ => {}
            }
        }
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.state == PeerState::Closed {
            return;
        }
        self.state = PeerState::Closed;
        self.ice.close();
        while self.ice.poll_event().is_some() {}
        self.outbound = None;
        self.inbound = None;
        self.dtls_timeout = None;
        self.events.push_back(PeerEvent::Closed(reason));
    }
}
