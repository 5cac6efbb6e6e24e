//! Candidate (1): dimpl 0.9, RustCrypto backend; certificates from rcgen + p256 (no C code).
//! `bench-dimpl-rc [N] [--cookie]`: prints one JSON object (see `dtls_choice::run_bench`).
use dtls_choice::dimpl_peer::{Backend, DimplPeer, cert_rust_crypto, config};
use dtls_choice::{Candidate, Peer, run_bench};

fn main() {
    let cookie = std::env::args().any(|a| a == "--cookie");
    let (sc, cc) = (cert_rust_crypto(), cert_rust_crypto());
    let cfg = config(Backend::RustCrypto, cookie);
    run_bench(&Candidate {
        name: if cookie { "dimpl-rust-crypto+cookie" } else { "dimpl-rust-crypto" },
        notes: if cookie {
            "dimpl default: HelloVerifyRequest cookie round trip"
        } else {
            "use_server_cookie(false), like the OpenSSL server"
        },
        mk_client: &|now| Box::new(DimplPeer::client(cfg.clone(), cc.clone(), now)) as Box<dyn Peer>,
        mk_server: &|now| Box::new(DimplPeer::server(cfg.clone(), sc.clone(), now)) as Box<dyn Peer>,
        client_cert: &cc.certificate,
        server_cert: &sc.certificate,
        gen_cert: &|| drop(cert_rust_crypto()),
    });
}
