//! The `openssl` crate, DTLS over an in-memory Read/Write transport: each `write` from OpenSSL
//! is one datagram, each `read` returns one datagram or `WouldBlock`. Not sans-IO with respect
//! to time: OpenSSL's DTLS retransmission timer reads the wall clock itself; the caller can
//! only ask `DTLSv1_get_timeout` and call `DTLSv1_handle_timeout`. Both are C macros over
//! `SSL_ctrl` that neither the `openssl` crate nor `openssl-sys` wraps, so they are spelled out
//! here (unsafe FFI). The interval can be changed with `DTLS_set_timer_cb` (also unwrapped).

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use foreign_types::ForeignTypeRef;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    HandshakeError, MidHandshakeSslStream, Ssl, SslContext, SslContextBuilder, SslMethod,
    SslRef, SslStream, SslVerifyMode, SslVersion,
};
use openssl::x509::{X509, X509NameBuilder};

use crate::{Keying, Peer, SRTP_LABEL};

/// Same as dimpl's default, bytes.
pub const MTU: u32 = 1150;

/// From OpenSSL's ssl.h (`DTLSv1_get_timeout`, `DTLSv1_handle_timeout` are macros over these).
const DTLS_CTRL_GET_TIMEOUT: libc::c_int = 73;
const DTLS_CTRL_HANDLE_TIMEOUT: libc::c_int = 74;

/// `DTLSv1_get_timeout`: time left until the retransmission timer expires, if it runs.
fn dtls_get_timeout(ssl: &SslRef) -> Option<Duration> {
    let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
    // SAFETY: valid SSL*; OpenSSL writes one struct timeval into `tv`.
    let running = unsafe { openssl_sys::SSL_ctrl(ssl.as_ptr(), DTLS_CTRL_GET_TIMEOUT, 0, (&raw mut tv).cast()) };
    (running == 1).then(|| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
}

/// `SSL_get_negotiated_group` (a macro over `SSL_ctrl` as well): the ECDHE group's short name.
fn negotiated_group(ssl: &SslRef) -> &'static str {
    const SSL_CTRL_GET_NEGOTIATED_GROUP: libc::c_int = 134;
    // SAFETY: valid SSL*; returns a NID.
    let nid = unsafe { openssl_sys::SSL_ctrl(ssl.as_ptr(), SSL_CTRL_GET_NEGOTIATED_GROUP, 0, std::ptr::null_mut()) };
    Nid::from_raw(nid as libc::c_int).short_name().unwrap_or("?")
}

/// `DTLSv1_handle_timeout`: retransmits if the timer expired (by OpenSSL's own clock).
fn dtls_handle_timeout(ssl: &SslRef) -> Result<(), String> {
    // SAFETY: valid SSL*; no argument.
    let r = unsafe { openssl_sys::SSL_ctrl(ssl.as_ptr(), DTLS_CTRL_HANDLE_TIMEOUT, 0, std::ptr::null_mut()) };
    if r < 0 { Err("DTLSv1_handle_timeout failed".into()) } else { Ok(()) }
}

/// WebRTC's DTLS 1.2 suites with ECDSA certificates.
const CIPHERS: &str =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305";

pub struct Cert {
    pub key: PKey<Private>,
    pub x509: X509,
}

impl Cert {
    pub fn der(&self) -> Vec<u8> {
        self.x509.to_der().unwrap()
    }
    pub fn key_pkcs8_der(&self) -> Vec<u8> {
        self.key.private_key_to_pkcs8().unwrap()
    }
}

/// Self-signed ECDSA P-256 certificate via OpenSSL's X509 builder (as libwebrtc does).
pub fn cert() -> Cert {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = [0u8; 16];
    openssl::rand::rand_bytes(&mut serial).unwrap();
    serial[0] &= 0x7f;
    let serial = openssl::bn::BigNum::from_slice(&serial).unwrap();
    b.set_serial_number(&openssl::asn1::Asn1Integer::from_bn(&serial).unwrap()).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(30).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, "WebRTC").unwrap();
    let name = name.build();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    Cert { key, x509: b.build() }
}

/// A DTLS context with our certificate (either given as OpenSSL objects or as DER from
/// another generator), `use_srtp` with `profiles` (colon-separated OpenSSL names), mutual
/// certificate authentication with the verification left to the fingerprint check.
pub fn context(cert_der: &[u8], key_pkcs8_der: &[u8], profiles: &str) -> SslContext {
    let mut ctx = SslContextBuilder::new(SslMethod::dtls()).unwrap();
    ctx.set_min_proto_version(Some(SslVersion::DTLS1_2)).unwrap();
    ctx.set_max_proto_version(Some(SslVersion::DTLS1_2)).unwrap();
    ctx.set_cipher_list(CIPHERS).unwrap();
    ctx.set_tlsext_use_srtp(profiles).unwrap();
    ctx.set_verify_callback(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT, |_, _| true);
    ctx.set_certificate(&X509::from_der(cert_der).unwrap()).unwrap();
    ctx.set_private_key(&PKey::private_key_from_der(key_pkcs8_der).unwrap()).unwrap();
    ctx.check_private_key().unwrap();
    ctx.build()
}

/// Datagram queues standing in for the UDP socket.
#[derive(Default)]
pub struct MemIo {
    incoming: VecDeque<Vec<u8>>,
    outgoing: Vec<Vec<u8>>,
}

impl io::Read for MemIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(d) = self.incoming.pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let n = d.len().min(buf.len());
        buf[..n].copy_from_slice(&d[..n]);
        Ok(n)
    }
}

impl io::Write for MemIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum State {
    Init(Ssl, MemIo),
    Mid(MidHandshakeSslStream<MemIo>),
    Done(SslStream<MemIo>),
    Failed,
}

pub struct OsslPeer {
    state: State,
    client: bool,
    keying: Option<Keying>,
}

impl OsslPeer {
    pub fn new(ctx: &SslContext, client: bool) -> Self {
        let mut ssl = Ssl::new(ctx).unwrap();
        ssl.set_mtu(MTU).unwrap();
        OsslPeer { state: State::Init(ssl, MemIo::default()), client, keying: None }
    }

    fn ssl(&self) -> Option<&SslRef> {
        match &self.state {
            State::Init(ssl, _) => Some(ssl),
            State::Mid(m) => Some(m.ssl()),
            State::Done(s) => Some(s.ssl()),
            State::Failed => None,
        }
    }

    fn io(&mut self) -> &mut MemIo {
        match &mut self.state {
            State::Init(_, io) => io,
            State::Mid(m) => m.get_mut(),
            State::Done(s) => s.get_mut(),
            State::Failed => unreachable!(),
        }
    }

    fn drive(&mut self) -> Result<(), String> {
        let r = match std::mem::replace(&mut self.state, State::Failed) {
            State::Init(ssl, io) if self.client => ssl.connect(io),
            State::Init(ssl, io) => ssl.accept(io),
            State::Mid(m) => m.handshake(),
            State::Done(mut s) => {
                // Keep reading after the handshake: that is where OpenSSL answers a retransmitted
                // client Finished flight by retransmitting its own last flight.
                let mut buf = [0u8; 2048];
                let r = loop {
                    match s.ssl_read(&mut buf) {
                        Ok(0) => break Ok(()),
                        Ok(_) => continue,
                        Err(e) if e.code() == openssl::ssl::ErrorCode::WANT_READ => break Ok(()),
                        Err(e) => break Err(format!("read: {e}")),
                    }
                };
                self.state = State::Done(s);
                return r;
            }
            State::Failed => return Err("failed earlier".into()),
        };
        match r {
            Ok(s) => {
                let ssl = s.ssl();
                let profile = ssl.selected_srtp_profile().ok_or("no SRTP profile negotiated")?;
                let len = match profile.name() {
                    "SRTP_AES128_CM_SHA1_80" => 60,
                    "SRTP_AEAD_AES_128_GCM" => 56,
                    "SRTP_AEAD_AES_256_GCM" => 88,
                    p => return Err(format!("unexpected profile {p}")),
                };
                let mut material = vec![0u8; len];
                ssl.export_keying_material(&mut material, SRTP_LABEL, None)
                    .map_err(|e| e.to_string())?;
                let peer_cert = ssl.peer_certificate().ok_or("no peer certificate")?.to_der().unwrap();
                self.keying = Some(Keying { material, profile: profile.name().to_string(), peer_cert });
                self.state = State::Done(s);
                Ok(())
            }
            Err(HandshakeError::WouldBlock(m)) => {
                self.state = State::Mid(m);
                Ok(())
            }
            Err(HandshakeError::SetupFailure(e)) => Err(format!("setup: {e}")),
            Err(HandshakeError::Failure(m)) => Err(format!("failure: {}", m.error())),
        }
    }
}

impl Peer for OsslPeer {
    fn handle(&mut self, datagram: &[u8], _now: Instant) -> Result<(), String> {
        self.io().incoming.push_back(datagram.to_vec());
        self.drive()
    }

    fn poll(&mut self, _now: Instant, out: &mut Vec<Vec<u8>>) -> Result<(), String> {
        // `now` is ignored: OpenSSL reads its own clock. A client starts on the first poll.
        if matches!(self.state, State::Init(..)) && self.client {
            self.drive()?;
        } else if let Some(ssl) = self.ssl()
            && dtls_get_timeout(ssl).is_some()
        {
            dtls_handle_timeout(ssl)?;
        }
        out.append(&mut self.io().outgoing);
        Ok(())
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.ssl().and_then(dtls_get_timeout).map(|left| Instant::now() + left)
    }

    fn wall_clock(&self) -> bool {
        true
    }

    fn keying(&self) -> Option<&Keying> {
        self.keying.as_ref()
    }

    fn describe(&self) -> String {
        match &self.state {
            State::Done(s) => format!(
                "{} {} {} (openssl {})",
                s.ssl().version_str(),
                s.ssl().current_cipher().map(|c| c.name()).unwrap_or("?"),
                negotiated_group(s.ssl()),
                openssl::version::version()
            ),
            _ => String::new(),
        }
    }
}
