//! The CPU clock the examples time codecs with.

/// CPU time of this thread in ns (Linux, `/proc/thread-self/schedstat`), else wall time since
/// the first call.
pub fn cpu_ns() -> u128 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| {
            static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
            START.get_or_init(std::time::Instant::now).elapsed().as_nanos()
        })
}
