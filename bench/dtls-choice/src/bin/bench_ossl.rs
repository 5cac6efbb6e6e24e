//! Candidate (3): the `openssl` crate (system OpenSSL 3.0, or vendored with `ossl-vendored`).
//! `bench-ossl [N] [--gcm]`: both sides offer only SRTP_AES128_CM_SHA1_80 (or, with `--gcm`,
//! only SRTP_AEAD_AES_128_GCM). Prints one JSON object.
use dtls_choice::ossl_peer::{OsslPeer, cert, context};
use dtls_choice::{Candidate, Peer, run_bench};

fn main() {
    let gcm = std::env::args().any(|a| a == "--gcm");
    let (sc, cc) = (cert(), cert());
    let profiles = if gcm { "SRTP_AEAD_AES_128_GCM" } else { "SRTP_AES128_CM_SHA1_80" };
    let sctx = context(&sc.der(), &sc.key_pkcs8_der(), profiles);
    let cctx = context(&cc.der(), &cc.key_pkcs8_der(), profiles);
    let base = if cfg!(feature = "ossl-vendored") { "openssl-vendored" } else { "openssl-system" };
    let name = if gcm { format!("{base}+gcm") } else { base.to_string() };
    let (sder, cder) = (sc.der(), cc.der());
    run_bench(&Candidate {
        name: &name,
        notes: "no cookie exchange (OpenSSL server default)",
        mk_client: &|_| Box::new(OsslPeer::new(&cctx, true)) as Box<dyn Peer>,
        mk_server: &|_| Box::new(OsslPeer::new(&sctx, false)) as Box<dyn Peer>,
        client_cert: &cder,
        server_cert: &sder,
        gen_cert: &|| drop(cert()),
    });
}
