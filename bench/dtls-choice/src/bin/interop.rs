//! Cross-library interop: every client (OpenSSL, dimpl/RustCrypto, dimpl/aws-lc-rs) against
//! every server (the same three; dimpl servers with and without the cookie exchange), each with
//! several SRTP profile offers where the library lets us choose them. A case passes when both
//! sides complete, agree on the profile, export identical RFC 5764 keying material
//! ("EXTRACTOR-dtls_srtp", extended master secret) and saw each other's certificate.
//! Then every pair once more with one flight lost (server flight 1, client flight 2, server
//! flight 2): dimpl recovers when only handed a later `Instant`; OpenSSL after a real wait.
//! Prints one JSON object; exits 1 if any case failed.
use std::sync::Arc;
use std::time::Instant;

use dimpl::{Config, DtlsCertificate};
use dtls_choice::dimpl_peer::{Backend, DimplPeer, cert_aws, cert_rust_crypto, config};
use dtls_choice::ossl_peer::{self, OsslPeer};
use dtls_choice::{Loss, Peer, check, handshake, hex, loss_json};

/// One side of a case: a name, its certificate (DER) and a constructor.
struct Side {
    name: String,
    cert: Vec<u8>,
    mk: Box<dyn Fn(Instant) -> Box<dyn Peer>>,
}

/// SRTP profile lists given to OpenSSL (its server picks by its own list's order).
const OFFERS: [&str; 4] = [
    "SRTP_AES128_CM_SHA1_80",
    "SRTP_AEAD_AES_128_GCM",
    "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM",
    "SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80",
];

fn ossl_side(role: &str, der: &[u8], key: &[u8], offer: &str) -> Side {
    let ctx = ossl_peer::context(der, key, offer);
    let client = role == "client";
    Side {
        name: format!("openssl [{offer}]"),
        cert: der.to_vec(),
        mk: Box::new(move |_| Box::new(OsslPeer::new(&ctx, client)) as Box<dyn Peer>),
    }
}

fn dimpl_side(role: &str, name: &str, cfg: Arc<Config>, cert: &DtlsCertificate, cookie: bool) -> Side {
    let c = cert.clone();
    let client = role == "client";
    Side {
        name: if client || !cookie { name.to_string() } else { format!("{name} +cookie") },
        cert: cert.certificate.clone(),
        mk: Box::new(move |now| {
            if client {
                Box::new(DimplPeer::client(cfg.clone(), c.clone(), now)) as Box<dyn Peer>
            } else {
                Box::new(DimplPeer::server(cfg.clone(), c.clone(), now)) as Box<dyn Peer>
            }
        }),
    }
}

fn main() {
    let ossl_cert = ossl_peer::cert();
    let (o_der, o_key) = (ossl_cert.der(), ossl_cert.key_pkcs8_der());
    let dimpls = [
        (Backend::RustCrypto, "dimpl-rust-crypto", cert_rust_crypto()),
        (Backend::AwsLc, "dimpl-aws-lc-rs", cert_aws()),
    ];

    // Sides for the profile matrix: OpenSSL once per offer, dimpl (always offers all three,
    // AES-256-GCM first, and picks by its fixed preference as a server) once.
    let mut clients: Vec<Side> = OFFERS.iter().map(|o| ossl_side("client", &o_der, &o_key, o)).collect();
    let mut servers: Vec<Side> = OFFERS.iter().map(|o| ossl_side("server", &o_der, &o_key, o)).collect();
    for (backend, name, cert) in &dimpls {
        clients.push(dimpl_side("client", name, config(*backend, false), cert, false));
        for cookie in [false, true] {
            servers.push(dimpl_side("server", name, config(*backend, cookie), cert, cookie));
        }
    }

    let mut rows = Vec::new();
    let mut failures = 0;
    for c in &clients {
        for s in &servers {
            // OpenSSL against OpenSSL only with the same list on both sides.
            if c.name.starts_with("openssl") && s.name.starts_with("openssl") && c.name != s.name {
                continue;
            }
            let r = handshake(&*c.mk, &*s.mk, None).and_then(|o| check(&o, &c.cert, &s.cert).map(|()| o));
            let case = format!("{} client -> {} server", c.name, s.name);
            rows.push(match r {
                Ok(o) => format!(
                    "{{\"case\": \"{case}\", \"ok\": true, \"profile\": \"{}\", \"keying_len\": {}, \"keying\": \"{}\", \"negotiated\": \"{}\"}}",
                    o.server.profile,
                    o.server.material.len(),
                    hex(&o.server.material),
                    if o.server_desc.is_empty() { o.client_desc } else { o.server_desc }
                ),
                Err(e) => {
                    failures += 1;
                    format!("{{\"case\": \"{case}\", \"ok\": false, \"error\": {e:?}}}")
                }
            });
        }
    }

    // Lost flights: OpenSSL offering AES_CM + AES-128-GCM; every client/server pair.
    let lossy_clients: Vec<&Side> = clients.iter().filter(|c| !c.name.starts_with("openssl") || c.name.contains(OFFERS[2])).collect();
    let lossy_servers: Vec<&Side> = servers.iter().filter(|s| !s.name.starts_with("openssl") || s.name.contains(OFFERS[2])).collect();
    let mut lossy = Vec::new();
    for c in &lossy_clients {
        for s in &lossy_servers {
            for loss in [Loss::Server(1), Loss::Client(2), Loss::Server(2)] {
                let r = handshake(&*c.mk, &*s.mk, Some(loss));
                let j = loss_json(&format!("{loss:?}"), r, &c.cert, &s.cert);
                if !j.contains("\"ok\": true") {
                    failures += 1;
                }
                lossy.push(format!("{{\"case\": \"{} client -> {} server\", \"result\": {j}}}", c.name, s.name));
            }
        }
    }
    println!(
        "{{\"interop\": [\n  {}\n], \"lost_flight\": [\n  {}\n], \"failures\": {failures}}}",
        rows.join(",\n  "),
        lossy.join(",\n  ")
    );
    if failures > 0 {
        std::process::exit(1);
    }
}
