//! A `Peer` against a simulated browser in memory: STUN checks built the way browsers build them,
//! a DTLS 1.2 client (dimpl, the other side of the same library, with its own certificate),
//! SRTP both ways with the exported keys, RTCP feedback, and the failure paths (wrong
//! fingerprint, DTLS from an unchecked address, lost flights, consent expiry, connect timeout).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sluice_ice::attribute::*;
use sluice_ice::{Class, MessageBuilder, METHOD_BINDING};
use sluice_rtp::rtcp::{Nack, Pli, RtcpPacket};
use sluice_srtp::{SrtpContext, SrtpOptions};
use sluice_webrtc::{dtls_config, srtp_contexts, srtp_profile, Certificate, CloseReason, Peer, PeerConfig, PeerEvent, PeerState, WebRtcError};

const UFRAG: &str = "srvU";
const PASSWORD: &str = "abcdefghijklmnopqrstuvwxyz012345";

fn browser() -> SocketAddr {
    "192.0.2.10:50000".parse().unwrap()
}

fn check(use_candidate: bool, tid: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, Class::Request, METHOD_BINDING, &[tid; 12]);
    b.attribute(ATTR_USERNAME, format!("{UFRAG}:brws").as_bytes());
    b.attribute(ATTR_ICE_CONTROLLING, &7u64.to_be_bytes());
    b.attribute(ATTR_PRIORITY, &0x6e00_01ffu32.to_be_bytes());
    if use_candidate {
        b.attribute(ATTR_USE_CANDIDATE, &[]);
    }
    b.message_integrity(PASSWORD.as_bytes());
    b.fingerprint();
    out
}

/// The browser's side: a DTLS client and, once keyed, its SRTP contexts.
struct Browser {
    dtls: dimpl::Dtls,
    buf: Vec<u8>,
    timeout: Option<Instant>,
    keys: Option<(Vec<u8>, dimpl::SrtpProfile)>,
    connected: bool,
    started: bool,
}

impl Browser {
    fn new(cert: &Certificate, now: Instant) -> Browser {
        let mut dtls = dimpl::Dtls::new_12(dtls_config(), dimpl::DtlsCertificate { certificate: cert.der.clone(), private_key: cert.private_key.clone() }, now);
        dtls.set_active(true);
        Browser { dtls, buf: vec![0; 4096], timeout: None, keys: None, connected: false, started: false }
    }

    /// Datagrams the client wants to send at `now` (the first call starts the handshake).
    fn poll(&mut self, now: Instant) -> Vec<Vec<u8>> {
        if !self.started || self.timeout.is_some_and(|t| now >= t) {
            self.started = true;
            self.dtls.handle_timeout(now).unwrap();
        }
        let mut out = Vec::new();
        loop {
            match self.dtls.poll_output(&mut self.buf) {
                dimpl::Output::Packet(p) => out.push(p.to_vec()),
                dimpl::Output::BufferTooSmall { needed } => self.buf.resize(needed, 0),
                dimpl::Output::Timeout(t) => {
                    self.timeout = Some(t);
                    break;
                }
                dimpl::Output::Connected => self.connected = true,
                dimpl::Output::KeyingMaterial(m, p) => self.keys = Some((m.to_vec(), p)),
                _ => {}
            }
        }
        out
    }
}

struct Setup {
    peer: Peer,
    browser: Browser,
    now: Instant,
}

fn setup(fingerprint_of_browser: Option<[u8; 32]>) -> Setup {
    let now = Instant::now();
    let server_cert = Certificate::generate().unwrap();
    let browser_cert = Certificate::generate().unwrap();
    let mut config = PeerConfig::new(UFRAG, PASSWORD);
    config.remote_ufrag = Some("brws".into());
    config.remote_fingerprint = Some(fingerprint_of_browser.unwrap_or(browser_cert.fingerprint));
    let peer = Peer::new(config, &server_cert, dtls_config(), now).unwrap();
    Setup { peer, browser: Browser::new(&browser_cert, now), now }
}

/// Runs datagrams both ways until nothing moves; `drop_first` drops that many server datagrams.
fn pump(s: &mut Setup, mut drop_server: usize) {
    for _ in 0..50 {
        let mut moved = false;
        for d in s.browser.poll(s.now) {
            s.peer.handle_datagram(browser(), &d, s.now);
            moved = true;
        }
        while let Some(t) = s.peer.poll_transmit() {
            assert_eq!(t.destination, browser());
            if drop_server > 0 {
                drop_server -= 1;
                continue;
            }
            if sluice_ice::demux::classify(&t.data) == sluice_ice::demux::DatagramKind::Dtls {
                s.browser.dtls.handle_timeout(s.now).unwrap();
                s.browser.dtls.handle_packet(&t.data).unwrap();
            }
            moved = true;
        }
        if !moved {
            // Let time pass to the next timer of either side.
            let next = [s.peer.poll_timeout(), s.browser.timeout].into_iter().flatten().min();
            match next {
                Some(t) if t > s.now && t - s.now < Duration::from_secs(5) => {
                    s.now = t;
                    s.peer.handle_timeout(s.now);
                }
                _ => return,
            }
        }
    }
}

fn events(peer: &mut Peer) -> Vec<PeerEvent> {
    std::iter::from_fn(|| peer.poll_event()).collect()
}

fn connect(s: &mut Setup, drop_server: usize) {
    s.peer.handle_datagram(browser(), &check(true, 1), s.now);
    let answer = s.peer.poll_transmit().expect("a binding success");
    assert_eq!(answer.destination, browser());
    pump(s, drop_server);
}

/// The browser's `(outbound, inbound)` contexts: it was the DTLS client.
fn browser_contexts(b: &Browser) -> (SrtpContext, SrtpContext) {
    let (material, profile) = b.keys.clone().expect("browser keyed");
    srtp_contexts(srtp_profile(profile).unwrap(), &material, true, SrtpOptions::default()).unwrap()
}

#[test]
fn connects_and_media_flows_both_ways() {
    let mut s = setup(None);
    connect(&mut s, 0);
    assert!(s.browser.connected);
    assert_eq!(s.peer.state(), PeerState::Connected);
    let ev = events(&mut s.peer);
    assert_eq!(ev[0], PeerEvent::Selected(browser()));
    let profile = match ev.last() {
        Some(PeerEvent::Connected(p)) => *p,
        other => panic!("{other:?}"),
    };
    assert_eq!(s.peer.profile(), Some(profile));

    // RTP from us decrypts on the browser's side.
    let (mut b_tx, mut b_rx) = browser_contexts(&s.browser);
    let rtp = [0x80u8, 96, 0, 1, 0, 0, 0, 90, 0, 0, 0, 42, 1, 2, 3, 4, 5];
    let mut buf = rtp.to_vec();
    buf.resize(rtp.len() + profile.rtp_overhead(), 0);
    let (n, to) = s.peer.protect_rtp(&mut buf, rtp.len()).unwrap();
    assert_eq!(to, browser());
    buf.truncate(n);
    b_rx.unprotect_rtp_vec(&mut buf).unwrap();
    assert_eq!(buf, rtp);

    // A NACK + PLI from the browser arrives as parsed RTCP.
    let mut compound = Vec::new();
    RtcpPacket::Nack(Nack { sender_ssrc: 1, media_ssrc: 42, lost: vec![1, 2] }).write(&mut compound).unwrap();
    RtcpPacket::Pli(Pli { sender_ssrc: 1, media_ssrc: 42 }).write(&mut compound).unwrap();
    b_tx.protect_rtcp_vec(&mut compound).unwrap();
    s.peer.handle_datagram(browser(), &compound, s.now);
    assert_eq!(
        events(&mut s.peer),
        vec![PeerEvent::Rtcp(vec![RtcpPacket::Nack(Nack { sender_ssrc: 1, media_ssrc: 42, lost: vec![1, 2] }), RtcpPacket::Pli(Pli { sender_ssrc: 1, media_ssrc: 42 })])]
    );
    // The same SRTCP again is a replay: dropped, counted.
    s.peer.handle_datagram(browser(), &compound, s.now);
    assert!(events(&mut s.peer).is_empty());
    assert_eq!(s.peer.stats().srtcp_failed, 1);

    // Close: close_notify goes out, one Closed event, nothing after.
    s.peer.close();
    s.peer.close();
    assert!(s.peer.poll_transmit().is_some());
    assert_eq!(events(&mut s.peer), vec![PeerEvent::Closed(CloseReason::Local)]);
    let mut buf = vec![0u8; 64];
    assert_eq!(s.peer.protect_rtp(&mut buf, 12), Err(WebRtcError::NotConnected));
}

#[test]
fn lost_server_flights_are_retransmitted() {
    let mut s = setup(None);
    // The first two server datagrams (HelloVerifyRequest, then the first ServerHello flight
    // record) never arrive; timers bring them again.
    connect(&mut s, 2);
    assert_eq!(s.peer.state(), PeerState::Connected);
}

#[test]
fn a_certificate_that_does_not_match_the_sdp_closes_the_peer() {
    let mut s = setup(Some([0xAB; 32]));
    connect(&mut s, 0);
    assert_eq!(s.peer.state(), PeerState::Closed);
    assert!(events(&mut s.peer).contains(&PeerEvent::Closed(CloseReason::Failed(WebRtcError::FingerprintMismatch))));
}

#[test]
fn dtls_from_an_unchecked_address_is_ignored() {
    let mut s = setup(None);
    let hello = s.browser.poll(s.now);
    assert!(!hello.is_empty());
    for d in &hello {
        s.peer.handle_datagram("192.0.2.99:1".parse().unwrap(), d, s.now);
    }
    assert!(s.peer.poll_transmit().is_none(), "no answer to an address that never passed a check");
    assert_eq!(s.peer.stats().dropped, hello.len() as u64);
}

#[test]
fn garbage_never_breaks_a_connected_peer() {
    let mut s = setup(None);
    connect(&mut s, 0);
    events(&mut s.peer);
    let mut seed = 0x1234_5678u32;
    for len in 0..300usize {
        let mut d: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        if let Some(first) = d.first_mut() {
            *first = [0u8, 1, 22, 23, 128, 129, 200, 255][len % 8];
        }
        s.peer.handle_datagram(browser(), &d, s.now);
    }
    while s.peer.poll_transmit().is_some() {}
    assert_eq!(s.peer.state(), PeerState::Connected, "{:?}", events(&mut s.peer));
}

#[test]
fn consent_expiry_and_connect_timeout_close() {
    let mut s = setup(None);
    connect(&mut s, 0);
    events(&mut s.peer);
    let later = s.now + Duration::from_secs(31);
    s.peer.handle_timeout(later);
    assert_eq!(events(&mut s.peer), vec![PeerEvent::Closed(CloseReason::ConsentExpired)]);

    let mut s = setup(None);
    s.peer.handle_datagram(browser(), &check(true, 1), s.now); // ICE only, no DTLS ever
    events(&mut s.peer);
    let deadline = s.peer.poll_timeout().unwrap();
    assert!(deadline <= s.now + Duration::from_secs(30));
    s.peer.handle_timeout(s.now + Duration::from_secs(30));
    assert_eq!(events(&mut s.peer), vec![PeerEvent::Closed(CloseReason::ConnectTimeout)]);
    assert_eq!(s.peer.poll_timeout(), None);
}
