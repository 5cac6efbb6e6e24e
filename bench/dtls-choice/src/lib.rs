//! In-memory DTLS 1.2 handshake harness: any client [`Peer`] against any server [`Peer`],
//! datagrams handed over in memory (no sockets), CPU time of each side measured per handshake
//! with the thread CPU clock. See README.md.

use std::time::{Duration, Instant};

#[cfg(any(feature = "dimpl-rc", feature = "dimpl-aws"))]
pub mod dimpl_peer;
#[cfg(feature = "ossl")]
pub mod ossl_peer;

/// The RFC 5764 §4.2 exporter label.
pub const SRTP_LABEL: &str = "EXTRACTOR-dtls_srtp";

/// What a side learned when its handshake completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keying {
    /// RFC 5764 keying material (client key, server key, client salt, server salt), bytes.
    pub material: Vec<u8>,
    /// RFC 5764 / RFC 7714 profile name, e.g. `SRTP_AES128_CM_SHA1_80`.
    pub profile: String,
    /// The peer's leaf certificate (DER), to be checked against the SDP fingerprint.
    pub peer_cert: Vec<u8>,
}

/// One side of a DTLS association, driven from outside.
pub trait Peer {
    /// A datagram from the other side, received at `now`.
    fn handle(&mut self, datagram: &[u8], now: Instant) -> Result<(), String>;
    /// Make progress at `now` (the client's first flight, due retransmission timers) and move
    /// the datagrams to send into `out`.
    fn poll(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) -> Result<(), String>;
    /// When `poll` next needs to be called although no datagram arrives (retransmission).
    fn next_timeout(&self) -> Option<Instant>;
    /// True if the library reads the wall clock itself (OpenSSL): the harness must then really
    /// wait until `next_timeout` instead of only passing a later `now`.
    fn wall_clock(&self) -> bool {
        false
    }
    /// Set once the handshake completed and the SRTP keying material was exported.
    fn keying(&self) -> Option<&Keying>;
    /// What was negotiated (version, cipher suite, group) when the library tells; else empty.
    fn describe(&self) -> String {
        String::new()
    }
}

/// Boxed constructor of one side; gets the handshake's start instant.
pub type MakePeer<'a> = &'a dyn Fn(Instant) -> Box<dyn Peer>;

/// CPU time consumed so far by the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec; CLOCK_THREAD_CPUTIME_ID always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A flight whose datagrams are all dropped, once. Flights are counted per side, 1-based, as
/// the non-empty output of one `poll` (a retransmission counts as a new flight).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    Client(usize),
    Server(usize),
}

/// Result of one handshake.
pub struct Outcome {
    /// Server CPU time: construction plus every call into the server object, nanoseconds.
    pub server_ns: u64,
    /// Client CPU time likewise, nanoseconds.
    pub client_ns: u64,
    pub client: Keying,
    pub server: Keying,
    /// Datagrams and bytes that crossed (including dropped ones).
    pub datagrams: usize,
    pub bytes: usize,
    /// Datagrams dropped by the `Loss`.
    pub dropped: usize,
    /// Each time the harness had to move the clock to a timer: milliseconds since the start.
    pub clock_jumps_ms: Vec<u64>,
    pub server_desc: String,
    pub client_desc: String,
}

/// Runs one handshake. `mk_*` construct the peers (construction is timed as part of that
/// side). Without `loss` and with in-order delivery no timer is due, so time stays at the start
/// instant. With `loss`, whenever nothing is in flight the harness moves `now` to the earliest
/// timer either side asked for; for a wall-clock peer (OpenSSL) it also sleeps until then.
pub fn handshake(mk_client: MakePeer, mk_server: MakePeer, loss: Option<Loss>) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut now = start;
    let t = thread_cpu_ns();
    let mut client = mk_client(now);
    let mut client_ns = thread_cpu_ns() - t;
    let t = thread_cpu_ns();
    let mut server = mk_server(now);
    let mut server_ns = thread_cpu_ns() - t;

    let (mut to_server, mut to_client): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    let (mut datagrams, mut bytes, mut dropped) = (0, 0, 0);
    let (mut client_flights, mut server_flights) = (0, 0);
    let mut clock_jumps_ms = Vec::new();
    for _round in 0..64 {
        let t = thread_cpu_ns();
        for d in to_client.drain(..) {
            client.handle(&d, now).map_err(|e| format!("client: {e}"))?;
        }
        client.poll(now, &mut to_server).map_err(|e| format!("client: {e}"))?;
        client_ns += thread_cpu_ns() - t;
        datagrams += to_server.len();
        bytes += to_server.iter().map(Vec::len).sum::<usize>();
        if !to_server.is_empty() {
            client_flights += 1;
            if loss == Some(Loss::Client(client_flights)) {
                dropped += to_server.len();
                to_server.clear();
            }
        }

        let t = thread_cpu_ns();
        for d in to_server.drain(..) {
            server.handle(&d, now).map_err(|e| format!("server: {e}"))?;
        }
        server.poll(now, &mut to_client).map_err(|e| format!("server: {e}"))?;
        server_ns += thread_cpu_ns() - t;
        datagrams += to_client.len();
        bytes += to_client.iter().map(Vec::len).sum::<usize>();
        if !to_client.is_empty() {
            server_flights += 1;
            if loss == Some(Loss::Server(server_flights)) {
                dropped += to_client.len();
                to_client.clear();
            }
        }

        if to_client.is_empty() && to_server.is_empty() {
            if let (Some(c), Some(s)) = (client.keying(), server.keying()) {
                return Ok(Outcome {
                    server_ns,
                    client_ns,
                    client: c.clone(),
                    server: s.clone(),
                    datagrams,
                    bytes,
                    dropped,
                    clock_jumps_ms,
                    server_desc: server.describe(),
                    client_desc: client.describe(),
                });
            }
            if loss.is_none() {
                break; // stalled although nothing was lost
            }
            let next = [client.next_timeout(), server.next_timeout()].into_iter().flatten().min();
            let Some(next) = next else { break };
            if client.wall_clock() || server.wall_clock() {
                // OpenSSL treats a timer with < 15 ms left as expired; 2 ms margin is plenty.
                std::thread::sleep(next.saturating_duration_since(Instant::now()) + Duration::from_millis(2));
            }
            now = now.max(next);
            clock_jumps_ms.push((now - start).as_millis() as u64);
        }
    }
    Err(format!(
        "no completion (client done: {}, server done: {}, client flights {client_flights}, server flights {server_flights})",
        client.keying().is_some(),
        server.keying().is_some()
    ))
}

/// Expected RFC 5764 keying material length (bytes) of a profile: 2 * (key + salt).
pub fn keying_len(profile: &str) -> Option<usize> {
    match profile {
        "SRTP_AES128_CM_SHA1_80" => Some(2 * (16 + 14)),
        "SRTP_AEAD_AES_128_GCM" => Some(2 * (16 + 12)),
        "SRTP_AEAD_AES_256_GCM" => Some(2 * (32 + 12)),
        _ => None,
    }
}

/// Checks one handshake's outcome: same profile on both sides, same keying material of the
/// profile's length, and each side saw the other's certificate.
pub fn check(o: &Outcome, client_cert: &[u8], server_cert: &[u8]) -> Result<(), String> {
    if o.client.profile != o.server.profile {
        return Err(format!("profile mismatch: client {} server {}", o.client.profile, o.server.profile));
    }
    let want = keying_len(&o.client.profile).ok_or_else(|| format!("unexpected profile {}", o.client.profile))?;
    if o.client.material.len() != want || o.server.material.len() != want {
        return Err(format!("keying length {}/{} (want {want})", o.client.material.len(), o.server.material.len()));
    }
    if o.client.material != o.server.material {
        return Err("keying material differs".into());
    }
    if o.client.material.iter().all(|&b| b == 0) {
        return Err("keying material all zero".into());
    }
    if o.client.peer_cert != server_cert {
        return Err("client did not see the server's certificate".into());
    }
    if o.server.peer_cert != client_cert {
        return Err("server did not see the client's certificate".into());
    }
    Ok(())
}

/// Summary of samples given in nanoseconds; all fields except `n` in microseconds.
pub struct Stats {
    pub n: usize,
    pub median_us: f64,
    pub p10_us: f64,
    pub p90_us: f64,
    pub mean_us: f64,
    pub min_us: f64,
}

impl Stats {
    pub fn from_ns(v: &[u64]) -> Stats {
        let mut v = v.to_vec();
        v.sort_unstable();
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1e3;
        Stats {
            n: v.len(),
            median_us: q(0.5),
            p10_us: q(0.1),
            p90_us: q(0.9),
            mean_us: v.iter().sum::<u64>() as f64 / v.len() as f64 / 1e3,
            min_us: v[0] as f64 / 1e3,
        }
    }
    pub fn json(&self) -> String {
        format!(
            "{{\"n\": {}, \"median_us\": {:.1}, \"p10_us\": {:.1}, \"p90_us\": {:.1}, \"mean_us\": {:.1}, \"min_us\": {:.1}}}",
            self.n, self.median_us, self.p10_us, self.p90_us, self.mean_us, self.min_us
        )
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Thread CPU time (ns) of each of `n` calls of `f`, after 5 unmeasured ones.
pub fn time_each(n: usize, mut f: impl FnMut()) -> Vec<u64> {
    for _ in 0..5 {
        f();
    }
    (0..n)
        .map(|_| {
            let t = thread_cpu_ns();
            f();
            thread_cpu_ns() - t
        })
        .collect()
}

/// One candidate for [`run_bench`]: peers on fixed certificates plus the cost of making one.
pub struct Candidate<'a> {
    pub name: &'a str,
    pub notes: &'a str,
    pub mk_client: MakePeer<'a>,
    pub mk_server: MakePeer<'a>,
    pub client_cert: &'a [u8],
    pub server_cert: &'a [u8],
    /// Generates one self-signed ECDSA P-256 certificate with its key (timed, result dropped).
    pub gen_cert: &'a dyn Fn(),
}

/// The benchmark every `bench-*` binary runs (`bench-* [N]`, default N = 200): 20 unmeasured
/// handshakes, then N measured ones, each checked (equal keying material, certificates seen);
/// N certificate generations; then one handshake for each lost-flight case. Prints one JSON
/// object; times in microseconds of thread CPU time.
pub fn run_bench(c: &Candidate) {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let warmup = 20;
    let (mut server, mut client) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut last = None;
    let wall = Instant::now();
    for i in 0..warmup + n {
        let o = handshake(c.mk_client, c.mk_server, None).unwrap_or_else(|e| panic!("{}: handshake {i}: {e}", c.name));
        check(&o, c.client_cert, c.server_cert).unwrap_or_else(|e| panic!("{}: handshake {i}: {e}", c.name));
        if i >= warmup {
            server.push(o.server_ns);
            client.push(o.client_ns);
        }
        last = Some(o);
    }
    let wall_s = wall.elapsed().as_secs_f64();
    let o = last.unwrap();
    let total: Vec<u64> = server.iter().zip(&client).map(|(s, c)| s + c).collect();
    let (server, client, total) = (Stats::from_ns(&server), Stats::from_ns(&client), Stats::from_ns(&total));
    let cert = Stats::from_ns(&time_each(n, c.gen_cert));
    let losses = [Loss::Server(1), Loss::Client(2), Loss::Server(2)]
        .iter()
        .map(|&l| loss_json(&format!("{l:?}"), handshake(c.mk_client, c.mk_server, Some(l)), c.client_cert, c.server_cert))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "{{\"candidate\": \"{}\", \"handshakes\": {n}, \"warmup\": {warmup}, \
\"server_cpu\": {}, \"client_cpu\": {}, \"total_cpu\": {}, \
\"server_handshakes_per_core_s\": {:.0}, \"wall_s\": {wall_s:.2}, \"cert_gen_cpu\": {}, \
\"profile\": \"{}\", \"keying_len\": {}, \"keying_equal\": true, \"keying_sample\": \"{}\", \
\"datagrams\": {}, \"bytes\": {}, \"negotiated\": \"{}\", \"lost_flight\": [{losses}], \"notes\": \"{}\"}}",
        c.name,
        server.json(),
        client.json(),
        total.json(),
        1e6 / server.median_us,
        cert.json(),
        o.server.profile,
        o.server.material.len(),
        hex(&o.server.material[..8]),
        o.datagrams,
        o.bytes,
        if o.server_desc.is_empty() { o.client_desc } else { o.server_desc },
        c.notes,
    );
}

/// JSON for a lost-flight handshake result.
pub fn loss_json(case: &str, r: Result<Outcome, String>, client_cert: &[u8], server_cert: &[u8]) -> String {
    match r.and_then(|o| check(&o, client_cert, server_cert).map(|()| o)) {
        Ok(o) => format!(
            "{{\"drop\": \"{case}\", \"ok\": true, \"dropped_datagrams\": {}, \"clock_jumps_ms\": {:?}, \"keying_equal\": true}}",
            o.dropped, o.clock_jumps_ms
        ),
        Err(e) => format!("{{\"drop\": \"{case}\", \"ok\": false, \"error\": {e:?}}}"),
    }
}
