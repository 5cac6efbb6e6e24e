//! Candidate (2): dimpl 0.9, aws-lc-rs backend; certificates from `dimpl::certificate`
//! (rcgen + aws-lc-rs). `bench-dimpl-aws [N] [--cookie]`: prints one JSON object.
use dtls_choice::dimpl_peer::{Backend, DimplPeer, cert_aws, config};
use dtls_choice::{Candidate, Peer, run_bench};

fn main() {
    let cookie = std::env::args().any(|a| a == "--cookie");
    let (sc, cc) = (cert_aws(), cert_aws());
    let cfg = config(Backend::AwsLc, cookie);
    run_bench(&Candidate {
        name: if cookie { "dimpl-aws-lc-rs+cookie" } else { "dimpl-aws-lc-rs" },
        notes: if cookie {
            "dimpl default: HelloVerifyRequest cookie round trip"
        } else {
            "use_server_cookie(false), like the OpenSSL server"
        },
        mk_client: &|now| Box::new(DimplPeer::client(cfg.clone(), cc.clone(), now)) as Box<dyn Peer>,
        mk_server: &|now| Box::new(DimplPeer::server(cfg.clone(), sc.clone(), now)) as Box<dyn Peer>,
        client_cert: &cc.certificate,
        server_cert: &sc.certificate,
        gen_cert: &|| drop(cert_aws()),
    });
}
