//! dimpl 0.9 (sans-IO). Time is an input: `Dtls::handle_timeout(now)` sets dimpl's logical clock
//! (it must be called before the first `handle_packet` / `poll_output` and whenever time moved)
//! and fires due retransmissions; `poll_output` is drained until it returns `Output::Timeout(at)`,
//! the instant at which `handle_timeout` is due next.

use std::sync::Arc;
use std::time::Instant;

use dimpl::{Config, Dtls, DtlsCertificate, Output};

use crate::{Keying, Peer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    #[cfg(feature = "dimpl-rc")]
    RustCrypto,
    #[cfg(feature = "dimpl-aws")]
    AwsLc,
}

/// Shared configuration (dimpl defaults otherwise: MTU 1150, first RTO 1 s doubling with ±25 %
/// jitter, 4 retries, 40 s handshake timeout, client certificate required).
/// `cookie`: answer a ClientHello with a HelloVerifyRequest first (dimpl's default; an OpenSSL
/// server does not unless SSL_OP_COOKIE_EXCHANGE is set; not needed behind ICE).
pub fn config(backend: Backend, cookie: bool) -> Arc<Config> {
    let provider = match backend {
        #[cfg(feature = "dimpl-rc")]
        Backend::RustCrypto => dimpl::crypto::rust_crypto::default_provider(),
        #[cfg(feature = "dimpl-aws")]
        Backend::AwsLc => dimpl::crypto::aws_lc_rs::default_provider(),
    };
    Arc::new(
        Config::builder()
            .with_crypto_provider(provider)
            .use_server_cookie(cookie)
            .build()
            .expect("dimpl config"),
    )
}

/// A self-signed ECDSA P-256 certificate without any C crypto: rcgen (default features off,
/// so no ring / aws-lc-rs) serialises the certificate, p256 (already in dimpl's rust-crypto
/// backend) generates the key and signs. The private key goes to dimpl as PKCS#8 DER.
#[cfg(feature = "dimpl-rc")]
pub fn cert_rust_crypto() -> DtlsCertificate {
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use p256::elliptic_curve::Generate;
    use p256::pkcs8::EncodePrivateKey;

    struct Key {
        sk: SigningKey,
        public: Vec<u8>,
    }
    impl rcgen::PublicKeyData for Key {
        fn der_bytes(&self) -> &[u8] {
            &self.public
        }
        fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
            &rcgen::PKCS_ECDSA_P256_SHA256
        }
    }
    impl rcgen::SigningKey for Key {
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
            let sig: Signature = self.sk.sign(msg);
            Ok(sig.to_der().as_bytes().to_vec())
        }
    }

    let sk = SigningKey::generate();
    let public = sk.verifying_key().to_sec1_point(false).as_bytes().to_vec();
    let key = Key { sk, public };
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, "WebRTC");
    let mut serial = [0u8; 16];
    getrandom_fill(&mut serial);
    serial[0] &= 0x7f;
    params.serial_number = Some(serial.to_vec().into());
    let cert = params.self_signed(&key).expect("self-signed");
    let private_key = key.sk.to_pkcs8_der().expect("pkcs8").as_bytes().to_vec();
    DtlsCertificate { certificate: cert.der().to_vec(), private_key }
}

#[cfg(feature = "dimpl-rc")]
fn getrandom_fill(b: &mut [u8]) {
    // SAFETY: writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    assert_eq!(n as usize, b.len());
}

/// dimpl's own generator (`rcgen` feature: rcgen + aws-lc-rs).
#[cfg(feature = "dimpl-aws")]
pub fn cert_aws() -> DtlsCertificate {
    dimpl::certificate::generate_self_signed_certificate().expect("certificate")
}

/// A `Dtls` plus what its events told so far.
pub struct DimplPeer {
    dtls: Dtls,
    buf: Vec<u8>,
    /// dimpl's logical clock as last given to `handle_timeout`.
    clock: Option<Instant>,
    next_timeout: Option<Instant>,
    peer_cert: Vec<u8>,
    keying: Option<Keying>,
    connected: bool,
}

impl DimplPeer {
    /// `Dtls::new_12` starts in the server role.
    pub fn server(config: Arc<Config>, cert: DtlsCertificate, now: Instant) -> Self {
        Self::new(Dtls::new_12(config, cert, now))
    }
    /// `set_active(true)` switches to the client role (before the handshake starts).
    pub fn client(config: Arc<Config>, cert: DtlsCertificate, now: Instant) -> Self {
        let mut dtls = Dtls::new_12(config, cert, now);
        dtls.set_active(true);
        Self::new(dtls)
    }
    fn new(dtls: Dtls) -> Self {
        DimplPeer {
            dtls,
            buf: vec![0; 2048],
            clock: None,
            next_timeout: None,
            peer_cert: Vec::new(),
            keying: None,
            connected: false,
        }
    }

    /// Advances dimpl's clock to `now` (also fires due timers). dimpl requires this before the
    /// first packet: the server draws its ServerHello random there.
    fn tick(&mut self, now: Instant) -> Result<(), String> {
        if self.clock != Some(now) {
            self.clock = Some(now);
            self.dtls.handle_timeout(now).map_err(|e| format!("{e:?}"))?;
        }
        Ok(())
    }
}

impl Peer for DimplPeer {
    fn handle(&mut self, datagram: &[u8], now: Instant) -> Result<(), String> {
        self.tick(now)?;
        self.dtls.handle_packet(datagram).map_err(|e| format!("{e:?}"))
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) -> Result<(), String> {
        self.tick(now)?;
        loop {
            match self.dtls.poll_output(&mut self.buf) {
                Output::Packet(p) => out.push(p.to_vec()),
                Output::BufferTooSmall { needed } => self.buf.resize(needed, 0),
                Output::Timeout(t) => {
                    self.next_timeout = Some(t);
                    break;
                }
                Output::Connected => self.connected = true,
                Output::PeerCert(der) => self.peer_cert = der.to_vec(),
                Output::KeyingMaterial(km, profile) => {
                    self.keying = Some(Keying { material: km.to_vec(), profile: profile.to_string(), peer_cert: Vec::new() })
                }
                _ => {}
            }
        }
        if let Some(k) = &mut self.keying {
            k.peer_cert.clone_from(&self.peer_cert);
        }
        Ok(())
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.next_timeout
    }

    fn keying(&self) -> Option<&Keying> {
        if self.connected { self.keying.as_ref() } else { None }
    }
}
