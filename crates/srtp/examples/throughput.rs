//! Native protect/unprotect throughput without N-API, for bench/srtp.bench.mjs (the crossing
//! cost is the gap to the batched binding figures). Prints one JSON object:
//! `{"<profile>": {"<payload bytes>": {"protect": pps, "unprotect": pps}}}`.
//!
//!   cargo run --release -p sluice-srtp --example throughput [-- <ms per case, default 1000>]

use sluice_srtp::{Profile, SrtpContext, SrtpOptions};
use std::time::{Duration, Instant};

const BATCH: usize = 256;

fn packets(payload: usize) -> Vec<Vec<u8>> {
    (0..BATCH)
        .map(|i| {
            let mut p = vec![0u8; 12 + payload + 16];
            p[0] = 0x80;
            p[1] = 96;
            p[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            p[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
            for (k, b) in p[12..12 + payload].iter_mut().enumerate() {
                *b = (k * 7 + i) as u8;
            }
            p
        })
        .collect()
}

fn rate(budget: Duration, mut round: impl FnMut()) -> f64 {
    round();
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < budget {
        round();
        n += BATCH;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let ms: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let budget = Duration::from_millis(ms);
    let mut out = Vec::new();
    for profile in Profile::ALL {
        let key: Vec<u8> =
            (0..(profile.master_key_len() + profile.master_salt_len()) as u8).collect();
        let mut sizes = Vec::new();
        for payload in [1200usize, 160] {
            let len = 12 + payload;
            let template = packets(payload);
            let mut tx =
                SrtpContext::from_key_material(profile, &key, SrtpOptions::default()).unwrap();
            let mut work = template.clone();
            let protect = rate(budget, || {
                for (w, t) in work.iter_mut().zip(&template) {
                    w[..len].copy_from_slice(&t[..len]);
                    std::hint::black_box(tx.protect_rtp(w, len).unwrap());
                }
            });
            // Unprotect: a window-sized ring of protected packets with ever-increasing sequence
            // numbers would need re-protection; instead reset the receiver when the batch is
            // used up (context creation is outside the per-packet cost but inside the timing,
            // amortized over 256 packets).
            let mut protected = Vec::new();
            let mut tx =
                SrtpContext::from_key_material(profile, &key, SrtpOptions::default()).unwrap();
            for t in &template {
                let mut p = t.clone();
                let n = tx.protect_rtp(&mut p, len).unwrap();
                p.truncate(n);
                protected.push(p);
            }
            let mut work = protected.clone();
            let unprotect = rate(budget, || {
                let mut rx =
                    SrtpContext::from_key_material(profile, &key, SrtpOptions::default()).unwrap();
                for (w, p) in work.iter_mut().zip(&protected) {
                    w.copy_from_slice(p);
                    std::hint::black_box(rx.unprotect_rtp(w).unwrap());
                }
            });
            sizes.push(format!(
                "\"{payload}\": {{\"protect\": {protect:.0}, \"unprotect\": {unprotect:.0}}}"
            ));
        }
        out.push(format!("\"{}\": {{{}}}", profile.name(), sizes.join(", ")));
    }
    println!("{{{}}}", out.join(", "));
}
