//! [`Certificate`]: the self-signed ECDSA P-256 certificate a WebRTC endpoint presents in DTLS,
//! and its SHA-256 fingerprint for the SDP (`a=fingerprint:sha-256 AB:CD:…`, RFC 8122 §5).
//!
//! Browsers do not validate the chain: the certificate only has to match the fingerprint in the
//! SDP. One certificate serves every peer of a server (as in mediasoup's `WebRtcServer`); the
//! serial number is random (Firefox refuses two certificates with the same issuer and serial).

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::EncodePrivateKey;
use sha2::{Digest, Sha256};

use crate::WebRtcError;

/// A DTLS certificate and its private key.
#[derive(Clone)]
pub struct Certificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The private key, PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// SHA-256 of `der`.
    pub fingerprint: [u8; 32],
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate").field("fingerprint", &self.fingerprint_sdp()).finish_non_exhaustive()
    }
}

struct Key {
    signing: SigningKey,
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
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let signature: Signature = self.signing.sign(message);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

impl Certificate {
    /// A new self-signed certificate (CN "sluice", random 128-bit serial, valid from now for
    /// rcgen's default span), with a fresh P-256 key from the OS RNG.
    ///
    /// # Errors
    /// [`WebRtcError::Certificate`] when the OS RNG or encoding fails (not expected).
    pub fn generate() -> Result<Certificate, WebRtcError> {
        let signing = SigningKey::generate();
        let public = signing.verifying_key().to_sec1_point(false).as_bytes().to_vec();
        let key = Key { signing, public };
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| WebRtcError::Certificate(e.to_string()))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, "sluice");
        let mut serial = [0u8; 16];
        getrandom::getrandom(&mut serial).map_err(|e| WebRtcError::Certificate(e.to_string()))?;
        serial[0] &= 0x7F; // a positive INTEGER
        params.serial_number = Some(serial.to_vec().into());
        let cert = params.self_signed(&key).map_err(|e| WebRtcError::Certificate(e.to_string()))?;
        let private_key = key.signing.to_pkcs8_der().map_err(|e| WebRtcError::Certificate(e.to_string()))?.as_bytes().to_vec();
        let der = cert.der().to_vec();
        let fingerprint = Sha256::digest(&der).into();
        Ok(Certificate { der, private_key, fingerprint })
    }

    /// The SDP attribute value: `sha-256 AB:CD:…` (RFC 8122 §5, upper-case hex).
    pub fn fingerprint_sdp(&self) -> String {
        format!("sha-256 {}", format_fingerprint(&self.fingerprint))
    }

    pub(crate) fn dtls(&self) -> dimpl::DtlsCertificate {
        dimpl::DtlsCertificate { certificate: self.der.clone(), private_key: self.private_key.clone() }
    }
}

/// `AB:CD:…` for a digest.
pub fn format_fingerprint(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Reads an SDP `a=fingerprint` value, `sha-256 AB:CD:…` (hash name case-insensitive, RFC 8122
/// §5); only SHA-256 is accepted (what every browser sends).
///
/// # Errors
/// [`WebRtcError::Fingerprint`] for another hash or malformed hex.
pub fn parse_fingerprint(value: &str) -> Result<[u8; 32], WebRtcError> {
    let (hash, hex) = value.trim().split_once(' ').ok_or(WebRtcError::Fingerprint("expected `sha-256 AB:CD:…`"))?;
    if !hash.eq_ignore_ascii_case("sha-256") {
        return Err(WebRtcError::Fingerprint("only sha-256 fingerprints are accepted"));
    }
    let bytes: Vec<u8> = hex
        .trim()
        .split(':')
        .map(|h| if h.len() == 2 { u8::from_str_radix(h, 16).ok() } else { None })
        .collect::<Option<_>>()
        .ok_or(WebRtcError::Fingerprint("malformed hex"))?;
    bytes.try_into().map_err(|_| WebRtcError::Fingerprint("a sha-256 fingerprint has 32 bytes"))
}
