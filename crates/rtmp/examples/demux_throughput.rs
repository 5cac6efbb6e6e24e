//! Chunk demux throughput without N-API, for bench/chunk.bench.mjs (the crossing cost is the gap
//! to the `feed()` figures). Each file is a byte stream a client sent to a server (handshake
//! included); a fresh server `Session` is fed it in 64 KiB reads and every event is polled, as
//! the binding does. Prints one JSON object: `{"<file>": {"mbPerSec": <10^6 wire bytes/s>,
//! "messagesPerPass": n}}`.
//!
//!   cargo run --release -p sluice-rtmp --example demux_throughput -- <ms per file> <file>...

use sluice_rtmp::session::{Role, Session, SessionConfig};
use std::time::{Duration, Instant};

const READ: usize = 64 * 1024;

fn pass(bytes: &[u8]) -> usize {
    let mut s = Session::new(Role::Server, SessionConfig::default(), [7; 1528], 0);
    let mut events = 0;
    for read in bytes.chunks(READ) {
        if let Err(e) = s.handle_input(read) {
            eprintln!("demux error: {e}");
            std::process::exit(1);
        }
        while let Some(e) = s.poll_event() {
            std::hint::black_box(&e);
            events += 1;
        }
        std::hint::black_box(s.take_transmit());
    }
    events
}

fn main() {
    let mut args = std::env::args().skip(1);
    let ms: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let mut out = Vec::new();
    for file in args {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| {
            eprintln!("{file}: {e}");
            std::process::exit(1);
        });
        let messages = pass(&bytes);
        let start = Instant::now();
        let mut passes = 0u64;
        while start.elapsed() < Duration::from_millis(ms) {
            std::hint::black_box(pass(&bytes));
            passes += 1;
        }
        let mb = (passes as f64 * bytes.len() as f64) / start.elapsed().as_secs_f64() / 1e6;
        out.push(format!(
            "{:?}: {{\"mbPerSec\": {mb:.1}, \"messagesPerPass\": {messages}}}",
            file
        ));
    }
    println!("{{{}}}", out.join(", "));
}
