//! Chunk demux throughput without N-API, for bench/chunk.bench.mjs (the crossing cost is the gap
//! to the `feed()`/`feedInPlace()` figures). Each file is a byte stream a client sent to a server
//! (handshake included); a fresh server `Session` is fed it in 64 KiB reads and every event is
//! polled, as the binding does: once with `handle_input` (payloads copied into slabs), once with
//! `handle_input_in_place`, each read copied into its buffer just before (not timed), as a socket
//! read arrives. Prints one JSON object:
//! `{"<file>": {"mbPerSec": <10^6 wire bytes/s>, "inPlaceMbPerSec": <same>, "messagesPerPass": n}}`.
//!
//!   cargo run --release -p sluice-rtmp --example demux_throughput -- <ms per file> <file>...

use sluice_rtmp::session::{Role, Session, SessionConfig};
use std::time::{Duration, Instant};

const READ: usize = 64 * 1024;

/// One pass over `reads`; returns the events seen and the time spent in the session. In place,
/// each read is first copied into its buffer in `buffers` (not timed), as the kernel fills a
/// socket read's buffer just before the server parses it.
fn pass(reads: &[&[u8]], buffers: &mut [Vec<u8>], in_place: bool) -> (usize, Duration) {
    let mut busy = Duration::ZERO;
    let mut start = Instant::now();
    let mut s = Session::new(Role::Server, SessionConfig::default(), [7; 1528], 0);
    let mut events = 0;
    for (read, buffer) in reads.iter().zip(buffers.iter_mut()) {
        let result = if in_place {
            busy += start.elapsed();
            buffer.copy_from_slice(read);
            start = Instant::now();
            s.handle_input_in_place(buffer)
        } else {
            s.handle_input(read)
        };
        if let Err(e) = result {
            eprintln!("demux error: {e}");
            std::process::exit(1);
        }
        while let Some(e) = s.poll_event() {
            std::hint::black_box(&e);
            events += 1;
        }
        std::hint::black_box(s.take_transmit());
    }
    (events, busy + start.elapsed())
}

/// 10^6 bytes per second of feeding for `ms` milliseconds of passes.
fn throughput(bytes: &[u8], ms: u64, in_place: bool) -> (f64, usize) {
    let reads: Vec<&[u8]> = bytes.chunks(READ).collect();
    let mut buffers: Vec<Vec<u8>> = reads.iter().map(|r| r.to_vec()).collect();
    let messages = pass(&reads, &mut buffers, in_place).0;
    let (mut busy, mut passes) = (Duration::ZERO, 0u64);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(ms) {
        busy += std::hint::black_box(pass(&reads, &mut buffers, in_place)).1;
        passes += 1;
    }
    (
        (passes as f64 * bytes.len() as f64) / busy.as_secs_f64() / 1e6,
        messages,
    )
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
        let (mb, messages) = throughput(&bytes, ms / 2, false);
        let (in_place, in_place_messages) = throughput(&bytes, ms / 2, true);
        if messages != in_place_messages {
            eprintln!("{file}: {messages} events copying, {in_place_messages} in place");
            std::process::exit(1);
        }
        out.push(format!(
            "{file:?}: {{\"mbPerSec\": {mb:.1}, \"inPlaceMbPerSec\": {in_place:.1}, \"messagesPerPass\": {messages}}}"
        ));
    }
    println!("{{{}}}", out.join(", "));
}
