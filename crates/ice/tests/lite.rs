//! The ICE-lite agent against requests built the way browsers build them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sluice_ice::attribute::*;
use sluice_ice::demux::{classify, DatagramKind, Demux};
use sluice_ice::{
    Class, IceEvent, IceLite, IceLiteConfig, IceState, Message, MessageBuilder, StunOutcome,
    METHOD_BINDING,
};

const UFRAG: &str = "sluiceUfrag";
const PASSWORD: &str = "abcdefghijklmnopqrstuvwxyz012345";

fn check(username: &str, password: &str, use_candidate: bool, extra: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, Class::Request, METHOD_BINDING, &[7; 12]);
    b.attribute(ATTR_USERNAME, username.as_bytes());
    b.attribute(
        ATTR_ICE_CONTROLLING,
        &0x1122_3344_5566_7788u64.to_be_bytes(),
    );
    b.attribute(ATTR_PRIORITY, &0x6e00_01ffu32.to_be_bytes());
    if use_candidate {
        b.attribute(ATTR_USE_CANDIDATE, &[]);
    }
    for (k, v) in extra {
        b.attribute(*k, v);
    }
    b.message_integrity(password.as_bytes());
    b.fingerprint();
    out
}

fn agent(now: Instant) -> IceLite {
    let mut config = IceLiteConfig::new(UFRAG, PASSWORD);
    config.remote_ufrag = Some("brws".into());
    IceLite::new(config, now).unwrap()
}

fn src() -> SocketAddr {
    "127.0.0.1:50000".parse().unwrap()
}

#[test]
fn answers_a_check_and_selects_on_use_candidate() {
    let t0 = Instant::now();
    let mut a = agent(t0);
    let mut out = Vec::new();

    let req = check("sluiceUfrag:brws", PASSWORD, false, &[]);
    assert_eq!(
        a.handle_stun(&Message::parse(&req).unwrap(), src(), t0, &mut out),
        StunOutcome::Answered
    );
    let resp = Message::parse(&out).unwrap();
    assert_eq!(resp.class(), Class::SuccessResponse);
    assert_eq!(resp.transaction_id(), [7; 12]);
    assert_eq!(resp.xor_mapped_address(), Some(src()));
    resp.verify_integrity(PASSWORD.as_bytes()).unwrap();
    assert!(resp.has_fingerprint());
    assert_eq!(a.state(), IceState::Checking);
    assert!(a.knows(src()));
    assert_eq!(a.poll_event(), None);

    out.clear();
    let req = check("sluiceUfrag:brws", PASSWORD, true, &[]);
    assert_eq!(
        a.handle_stun(&Message::parse(&req).unwrap(), src(), t0, &mut out),
        StunOutcome::Answered
    );
    assert_eq!(a.state(), IceState::Connected);
    assert_eq!(a.selected(), Some(src()));
    assert_eq!(a.poll_event(), Some(IceEvent::Selected(src())));
    assert_eq!(a.poll_event(), None);
}

#[test]
fn consent_expires_30_s_after_the_last_check_on_the_selected_pair() {
    let t0 = Instant::now();
    let mut a = agent(t0);
    let mut out = Vec::new();
    let nominate = check("sluiceUfrag:brws", PASSWORD, true, &[]);
    a.handle_stun(&Message::parse(&nominate).unwrap(), src(), t0, &mut out);
    let refresh = check("sluiceUfrag:brws", PASSWORD, false, &[]);
    let t1 = t0 + Duration::from_secs(20);
    a.handle_stun(&Message::parse(&refresh).unwrap(), src(), t1, &mut out);
    a.handle_timeout(t0 + Duration::from_secs(31));
    assert_eq!(a.state(), IceState::Connected, "refreshed at 20 s");
    assert_eq!(a.poll_timeout(), Some(t1 + Duration::from_secs(30)));
    a.handle_timeout(t1 + Duration::from_secs(30));
    assert_eq!(a.state(), IceState::Closed);
    assert_eq!(a.selected(), None);
    let _ = a.poll_event();
    assert_eq!(a.poll_event(), Some(IceEvent::Closed));
    out.clear();
    assert_eq!(
        a.handle_stun(&Message::parse(&refresh).unwrap(), src(), t1, &mut out),
        StunOutcome::Ignored
    );
    assert!(out.is_empty());
}

#[test]
fn connect_timeout_without_nomination() {
    let t0 = Instant::now();
    let mut a = agent(t0);
    a.handle_timeout(t0 + Duration::from_secs(29));
    assert_eq!(a.state(), IceState::Checking);
    a.handle_timeout(t0 + Duration::from_secs(30));
    assert_eq!(a.state(), IceState::Closed);
    assert_eq!(a.poll_event(), Some(IceEvent::Closed));
    a.close();
    assert_eq!(a.poll_event(), None, "close is idempotent");
}

#[test]
fn refusals_never_select_and_never_amplify() {
    let t0 = Instant::now();
    let mut a = agent(t0);
    let mut out = Vec::new();
    // Wrong password: 401 with no MESSAGE-INTEGRITY.
    let req = check("sluiceUfrag:brws", "wrongwrongwrongwrongwrong", true, &[]);
    assert_eq!(
        a.handle_stun(&Message::parse(&req).unwrap(), src(), t0, &mut out),
        StunOutcome::Refused(401)
    );
    let resp = Message::parse(&out).unwrap();
    assert_eq!(resp.class(), Class::ErrorResponse);
    assert_eq!(resp.error_code().map(|e| e.0), Some(401));
    assert!(out.len() <= req.len());
    // Wrong remote ufrag: 401.
    out.clear();
    let req = check("sluiceUfrag:evil", PASSWORD, true, &[]);
    assert_eq!(
        a.handle_stun(&Message::parse(&req).unwrap(), src(), t0, &mut out),
        StunOutcome::Refused(401)
    );
    // ICE-CONTROLLED from the peer: 487.
    out.clear();
    let req = check(
        "sluiceUfrag:brws",
        PASSWORD,
        true,
        &[(ATTR_ICE_CONTROLLED, &[0; 8])],
    );
    assert_eq!(
        a.handle_stun(&Message::parse(&req).unwrap(), src(), t0, &mut out),
        StunOutcome::Refused(487)
    );
    // Unknown comprehension-required attribute: 420 listing it.
    out.clear();
    let req = check("sluiceUfrag:brws", PASSWORD, true, &[(0x7777, b"xxxx")]);
    assert_eq!(
        a.handle_stun(&Message::parse(&req).unwrap(), src(), t0, &mut out),
        StunOutcome::Refused(420)
    );
    let resp = Message::parse(&out).unwrap();
    assert_eq!(
        resp.attribute(ATTR_UNKNOWN_ATTRIBUTES).unwrap().value,
        &[0x77, 0x77]
    );
    // A bare 20-byte request: its 400 would be larger, so nothing is sent.
    out.clear();
    let mut bare = Vec::new();
    MessageBuilder::new(&mut bare, Class::Request, METHOD_BINDING, &[1; 12]);
    assert_eq!(
        a.handle_stun(&Message::parse(&bare).unwrap(), src(), t0, &mut out),
        StunOutcome::Ignored
    );
    assert!(out.is_empty());

    assert_eq!(a.state(), IceState::Checking);
    assert!(!a.knows(src()));
    assert_eq!(a.poll_event(), None);
    assert_eq!(a.checks(), 0);
}

#[test]
fn invalid_credentials_are_refused_at_construction() {
    let t0 = Instant::now();
    assert!(IceLite::new(IceLiteConfig::new("abc", PASSWORD), t0).is_err());
    assert!(IceLite::new(IceLiteConfig::new(UFRAG, "short"), t0).is_err());
    assert!(IceLite::new(IceLiteConfig::new("bad:ufrag", PASSWORD), t0).is_err());
}

#[test]
fn demux_routes_stun_by_ufrag_and_the_rest_by_address() {
    let mut d: Demux<u32> = Demux::new();
    assert!(d.add_peer("aaaa", 1));
    assert!(d.add_peer("bbbb", 2));
    assert!(!d.add_peer("aaaa", 3));
    assert_eq!(d.by_ufrag("bbbb:remote"), Some(2));
    assert_eq!(d.by_ufrag("cccc:remote"), None);
    assert_eq!(d.by_ufrag("no-colon"), None);
    d.bind_address(src(), 1);
    assert_eq!(d.by_address(src()), Some(1));
    d.bind_address(src(), 2);
    assert_eq!(
        d.by_address(src()),
        Some(2),
        "an address moves to the last peer it checked"
    );
    d.remove_peer("bbbb");
    assert_eq!(d.by_address(src()), None);
    assert_eq!((d.peers(), d.addresses()), (1, 0));

    assert_eq!(classify(&[0x00, 0x01]), DatagramKind::Stun);
    assert_eq!(classify(&[22, 0xfe, 0xfd]), DatagramKind::Dtls);
    assert_eq!(classify(&[0x80, 96]), DatagramKind::Rtp);
    assert_eq!(classify(&[0x80, 200]), DatagramKind::Rtcp);
    assert_eq!(classify(&[0x40]), DatagramKind::Other);
    assert_eq!(classify(&[]), DatagramKind::Other);
}
