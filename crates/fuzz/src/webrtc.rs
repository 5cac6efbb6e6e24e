//! Harness for sluice-webrtc's `Peer` (everything a browser, or anyone, sends to the native
//! WHEP port once it knows a viewer's address). Replayed by `crates/webrtc/tests/regressions.rs`.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `webrtc_peer`: after one valid ICE check from the source (so that DTLS and SRTCP from it are
/// read), the input is records `length (1) | datagram`, one per millisecond.
///
/// Checks besides "no panic": everything sent goes back to the source and fits a datagram; the
/// peer never connects (no input can present a certificate matching the all-zero fingerprint);
/// once closed it stays closed and sends nothing more.
pub fn webrtc_peer(data: &[u8]) {
    static CERT: OnceLock<sluice_webrtc::Certificate> = OnceLock::new();
    static DTLS: OnceLock<std::sync::Arc<sluice_webrtc::DtlsConfig>> = OnceLock::new();
    let cert = CERT.get_or_init(|| sluice_webrtc::Certificate::generate().expect("certificate"));
    let dtls = DTLS.get_or_init(sluice_webrtc::dtls_config).clone();
    let now = Instant::now();
    let mut config = sluice_webrtc::PeerConfig::new("fuzzUfrag", "fuzzPasswordfuzzPassword");
    config.remote_ufrag = Some("brws".into());
    config.remote_fingerprint = Some([0; 32]);
    let mut peer = sluice_webrtc::Peer::new(config, cert, dtls, now).expect("valid credentials");
    let source: SocketAddr = "192.0.2.1:5000".parse().unwrap();

    let mut check = Vec::new();
    {
        use sluice_ice::attribute::*;
        let mut b = sluice_ice::MessageBuilder::new(&mut check, sluice_ice::Class::Request, sluice_ice::METHOD_BINDING, &[9; 12]);
        b.attribute(ATTR_USERNAME, b"fuzzUfrag:brws");
        b.attribute(ATTR_ICE_CONTROLLING, &1u64.to_be_bytes());
        b.attribute(ATTR_PRIORITY, &1u32.to_be_bytes());
        b.attribute(ATTR_USE_CANDIDATE, &[]);
        b.message_integrity(b"fuzzPasswordfuzzPassword");
        b.fingerprint();
    }
    peer.handle_datagram(source, &check, now);
    assert!(peer.knows(source));

    let mut rest = data;
    let mut t = now;
    let mut closed = false;
    while let Some((&len, tail)) = rest.split_first() {
        let len = (len as usize).min(tail.len());
        let (datagram, tail) = tail.split_at(len);
        rest = tail;
        t += Duration::from_millis(1);
        peer.handle_datagram(source, datagram, t);
        if peer.poll_timeout().is_some_and(|d| d <= t) {
            peer.handle_timeout(t);
        }
        while let Some(out) = peer.poll_transmit() {
            assert!(!closed || out.data.len() < 64, "a closed peer sends nothing but a final alert");
            assert_eq!(out.destination, source);
            assert!(out.data.len() <= 1500, "a {} byte datagram", out.data.len());
        }
        assert_ne!(peer.state(), sluice_webrtc::PeerState::Connected);
        if peer.state() == sluice_webrtc::PeerState::Closed {
            closed = true;
        }
        while peer.poll_event().is_some() {}
    }
}
