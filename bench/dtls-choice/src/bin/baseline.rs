//! Size baseline: the harness (timing, stats, JSON printing) with no DTLS library linked.
fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut v: Vec<u64> = (0..n as u64).map(|i| dtls_choice::thread_cpu_ns() ^ i).collect();
    v.sort_unstable();
    let s = dtls_choice::Stats::from_ns(&v);
    println!("{}", s.json());
}
