//! `whep_load`: N WHEP viewers in one thread, light enough that 1000 fit beside the server on a
//! small machine — the load client of the native transport's fan-out measurements.
//!
//! Each viewer: `POST` an SDP offer (H.264 pt 102, Opus pt 111, recvonly, BUNDLE, `setup:actpass`)
//! to the WHEP URL, read the answer's ICE credentials and first host candidate, then from its own
//! UDP socket on 127.0.0.1: ICE checks as the controlling agent (RFC 8445, `USE-CANDIDATE` at once,
//! a consent check every 5 s), a DTLS 1.2 client handshake (`dimpl`, the same engine as the
//! server; the server's certificate is checked against the answer's fingerprint) and the SRTP
//! keys. Then every video packet is counted by sequence number (in the clear in SRTP), and every
//! packet of one viewer in `--verify-every` (default 8) is decrypted and authenticated (all of a
//! viewer's packets, not a sample of each: SRTP's rollover counter is estimated from the packets
//! a context sees, so a sampled context could guess it wrong across a wrap). No NACKs are sent:
//! on loopback nothing is lost unless a receive buffer overflows, and that shows as gaps.
//!
//! Sockets ask for UDP GRO (`UDP_GRO`, Linux ≥ 5.0) unless `--gro 0`: the server sends a frame's
//! packets to one viewer as one GSO datagram, and on loopback a GRO socket takes it whole (one
//! `recvmsg`, cut at the `UDP_GRO` control message's segment size) where a plain socket makes
//! the *sender's* kernel cut it and queue every packet on its own, in the sender's system call.
//! A NIC with UDP segmentation offload does that cutting in hardware and the viewers' costs fall
//! on their own machines, so `--gro 1` (the default) is the closer model of a server on a
//! network; `--gro 0` measures the loopback worst case.
//!
//! Each viewer negotiates transport-wide congestion control (unless `--twcc 0`) and, as Chromium
//! does, reports every RTP packet's arrival back (transport-cc feedback, draft-holmer-rmcat-
//! transport-wide-cc-extensions-01 §3.1, SRTCP) every 50 ms: the server's per-viewer estimator
//! then runs as it does for browsers.
//!
//! `--join-rate N`: viewers join N per second, from inside the receive loop (the first ones
//! receive while the others join), instead of all before it; the server's memory then shows
//! what a viewer costs once its join is behind it.
//!
//! ```sh
//! cargo run --release -p sluice-webrtc --example whep_load -- \
//!   --url http://127.0.0.1:8000/whep/live/test --viewers 500 --duration 20 [--verify-every 8] [--gro 0|1] [--twcc 0|1] [--join-rate N]
//! ```
//! Prints one JSON object: viewers asked, connected, connect ms (median, max), video packets per
//! viewer (min, median), gaps (sequence numbers never seen between the first and the last),
//! packets verified and failed, transport-cc feedback packets sent, this process's CPU % (100 =
//! one core). Exit 0 when every viewer
//! connected and no packet failed verification.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use sluice_ice::attribute::*;
use sluice_ice::demux::{classify, DatagramKind};
use sluice_ice::{Class, Message, MessageBuilder, METHOD_BINDING};
use sluice_rtp::bwe::recorder::FeedbackRecorder;
use sluice_rtp::packet::RtpHeader;
use sluice_srtp::{SrtpContext, SrtpOptions};
use sluice_webrtc::{dtls_config, parse_fingerprint, srtp_contexts, srtp_profile, Certificate};

struct Args {
    url: String,
    viewers: usize,
    duration: Duration,
    verify_every: u64,
    gro: bool,
    /// Negotiate transport-cc and send its feedback.
    twcc: bool,
    /// Viewers joining per second, in the receive loop (default: all before it).
    join_rate: Option<f64>,
}

fn args() -> Args {
    let mut a = Args { url: String::new(), viewers: 10, duration: Duration::from_secs(10), verify_every: 8, gro: true, twcc: true, join_rate: None };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--url" => a.url = v,
            "--viewers" => a.viewers = v.parse().expect("--viewers N"),
            "--duration" => a.duration = Duration::from_secs_f64(v.parse().expect("--duration S")),
            "--verify-every" => a.verify_every = v.parse::<u64>().expect("--verify-every N").max(1),
            "--gro" => a.gro = v != "0",
            "--twcc" => a.twcc = v != "0",
            "--join-rate" => a.join_rate = Some(v.parse::<f64>().expect("--join-rate N").max(0.1)),
            _ => panic!("unknown option {k}"),
        }
    }
    assert!(a.url.starts_with("http://"), "--url http://HOST:PORT/whep/APP/STREAM");
    a
}

fn random_chars(n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).expect("rng");
    b.iter().map(|x| A[*x as usize % A.len()] as char).collect()
}

/// The transport-wide sequence number's extension id in the offer.
const TWCC_ID: u8 = 3;
/// How often a viewer sends transport-cc feedback (Chromium: every 50 ms or so).
const FEEDBACK_INTERVAL: Duration = Duration::from_millis(50);

fn offer(ufrag: &str, pwd: &str, fingerprint: &str, twcc: bool) -> String {
    let twcc = if twcc { format!("a=extmap:{TWCC_ID} http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\na=rtcp-fb:102 transport-cc\r\n") } else { String::new() };
    let section = |kind: &str, pt: u8, mid: u8, codec: &str| {
        format!(
            "m={kind} 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\na=fingerprint:{fingerprint}\r\na=setup:actpass\r\na=mid:{mid}\r\na=recvonly\r\na=rtcp-mux\r\n{codec}"
        )
    };
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n{}{}",
        section("video", 102, 0, &format!("a=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack\r\na=rtcp-fb:102 nack pli\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n{twcc}")),
        section("audio", 111, 1, "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"),
    )
}

/// What a viewer needs of the answer.
struct Answer {
    ufrag: String,
    pwd: String,
    fingerprint: [u8; 32],
    /// The first host candidate.
    address: SocketAddr,
    /// The transport-wide sequence number's extension id, when the answer kept it.
    twcc_id: Option<u8>,
}

/// POSTs the offer; returns what the answer says.
fn post(url: &str, body: &str) -> Result<Answer, String> {
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').ok_or("URL without a path")?;
    let mut s = TcpStream::connect(host).map_err(|e| e.to_string())?;
    write!(s, "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| e.to_string())?;
    if !text.starts_with("HTTP/1.1 201") {
        return Err(text.lines().next().unwrap_or("no answer").to_owned());
    }
    let attr = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned());
    let ufrag = attr("a=ice-ufrag:").ok_or("no ice-ufrag")?;
    let pwd = attr("a=ice-pwd:").ok_or("no ice-pwd")?;
    let fingerprint = parse_fingerprint(&attr("a=fingerprint:").ok_or("no fingerprint")?).map_err(|e| e.to_string())?;
    let candidate = attr("a=candidate:").ok_or("no candidate")?;
    let f: Vec<&str> = candidate.split_whitespace().collect();
    let address = format!("{}:{}", f.get(4).ok_or("candidate ip")?, f.get(5).ok_or("candidate port")?).parse().map_err(|_| "candidate address")?;
    let twcc_id = text.lines().find_map(|l| l.strip_prefix("a=extmap:").filter(|l| l.contains("transport-wide-cc")).and_then(|l| l.split_whitespace().next()?.parse().ok()));
    Ok(Answer { ufrag, pwd, fingerprint, address, twcc_id })
}

struct Viewer {
    socket: UdpSocket,
    server: SocketAddr,
    username: String,
    server_pwd: String,
    server_fingerprint: [u8; 32],
    /// Transport-cc: the extension id, arrivals to report, when next, the video SSRC, feedback
    /// packets sent.
    twcc_id: Option<u8>,
    recorder: FeedbackRecorder,
    next_feedback: Instant,
    media_ssrc: u32,
    feedbacks: u64,
    /// Outbound SRTCP (the feedback).
    tx: Option<SrtpContext>,
    dtls: dimpl::Dtls,
    dtls_timeout: Option<Instant>,
    started: Instant,
    ice_ok: bool,
    next_check: Instant,
    connected_at: Option<Instant>,
    fingerprint_ok: bool,
    rx: Option<SrtpContext>,
    /// Extended video sequence numbers seen: first, last, distinct count.
    first: Option<i64>,
    last: i64,
    seen: std::collections::HashSet<i64>,
    video: u64,
    verified: u64,
    failed: u64,
    error: Option<String>,
}

impl Viewer {
    fn check(&mut self) {
        let mut out = Vec::new();
        let mut tid = [0u8; 12];
        getrandom::getrandom(&mut tid).expect("rng");
        let mut b = MessageBuilder::new(&mut out, Class::Request, METHOD_BINDING, &tid);
        b.attribute(ATTR_USERNAME, self.username.as_bytes());
        b.attribute(ATTR_ICE_CONTROLLING, &7u64.to_be_bytes());
        b.attribute(ATTR_PRIORITY, &0x6e00_01ffu32.to_be_bytes());
        b.attribute(ATTR_USE_CANDIDATE, &[]);
        b.message_integrity(self.server_pwd.as_bytes());
        b.fingerprint();
        let _ = self.socket.send_to(&out, self.server);
    }

    fn drain_dtls(&mut self, scratch: &mut Vec<u8>) {
        loop {
            match self.dtls.poll_output(scratch) {
                dimpl::Output::Packet(p) => {
                    let _ = self.socket.send_to(p, self.server);
                }
                dimpl::Output::BufferTooSmall { needed } => scratch.resize(needed, 0),
                dimpl::Output::Timeout(t) => {
                    self.dtls_timeout = Some(t);
                    return;
                }
                dimpl::Output::PeerCert(der) => {
                    use sha2::Digest;
                    let digest: [u8; 32] = sha2::Sha256::digest(der).into();
                    self.fingerprint_ok = digest == self.server_fingerprint;
                }
                dimpl::Output::KeyingMaterial(m, p) => {
                    // We are the DTLS client: what the server sends is our inbound context.
                    let options = SrtpOptions { replay_window: 1024, ..SrtpOptions::default() };
                    if let Ok((outbound, inbound)) = srtp_profile(p).and_then(|p| srtp_contexts(p, &m, true, options)) {
                        self.tx = Some(outbound);
                        self.rx = Some(inbound);
                    }
                }
                dimpl::Output::Connected => {}
                _ => {}
            }
        }
    }

    fn on_datagram(&mut self, data: &[u8], now: Instant, scratch: &mut Vec<u8>, verify: bool) {
        match classify(data) {
            DatagramKind::Stun => {
                if let Ok(m) = Message::parse(data) {
                    if m.class() == Class::SuccessResponse && m.verify_integrity(self.server_pwd.as_bytes()).is_ok() && !self.ice_ok {
                        self.ice_ok = true;
                        self.next_check = now + Duration::from_secs(5);
                        let _ = self.dtls.handle_timeout(now);
                        self.drain_dtls(scratch);
                    }
                }
            }
            DatagramKind::Dtls => {
                let _ = self.dtls.handle_timeout(now);
                if let Err(e) = self.dtls.handle_packet(data) {
                    self.error = Some(format!("DTLS: {e}"));
                }
                self.drain_dtls(scratch);
                if self.connected_at.is_none() && self.rx.is_some() && self.fingerprint_ok {
                    self.connected_at = Some(now);
                }
            }
            DatagramKind::Rtp if self.rx.is_some() => {
                // every RTP packet's arrival (audio too); video is counted and verified
                self.record_arrival(data, now);
                if data.len() < 12 || data[1] & 0x7F != 102 {
                    return;
                }
                let seq = u16::from_be_bytes([data[2], data[3]]) as i64;
                let ext = match self.first {
                    None => {
                        self.first = Some(seq);
                        seq
                    }
                    Some(_) => self.last + (((seq - self.last) & 0xFFFF) ^ 0x8000) - 0x8000,
                };
                self.last = self.last.max(ext);
                self.seen.insert(ext);
                self.video += 1;
                if verify {
                    let mut p = data.to_vec();
                    match self.rx.as_mut().map(|rx| rx.unprotect_rtp_vec(&mut p)) {
                        Some(Ok(())) => self.verified += 1,
                        Some(Err(e)) => {
                            self.failed += 1;
                            if self.failed == 1 && std::env::var_os("WHEP_LOAD_GAPS").is_some() {
                                let roc = self.rx.as_ref().and_then(|rx| rx.rollover_counter(u32::from_be_bytes([data[8], data[9], data[10], data[11]])));
                                eprintln!("whep_load: first failure: seq {seq} ext {ext} first {:?} video #{} verified {} rx roc {roc:?} ({} bytes): {e}", self.first, self.video, self.verified, data.len());
                            }
                        }
                        None => self.failed += 1,
                    }
                }
            }
            _ => {}
        }
    }

    /// Transport-cc: the packet's transport-wide sequence number arrived now.
    fn record_arrival(&mut self, data: &[u8], now: Instant) {
        let Some(id) = self.twcc_id else { return };
        let Ok((header, _, _)) = RtpHeader::parse(data) else { return };
        if header.payload_type == 102 {
            self.media_ssrc = header.ssrc;
        }
        if let Some(&[hi, lo, ..]) = header.extension.and_then(|e| e.find(id)) {
            self.recorder.record(u16::from_be_bytes([hi, lo]), (now - self.started).as_micros() as i64);
        }
    }

    /// Transport-cc feedback of the arrivals since the last, as SRTCP.
    fn send_feedback(&mut self) {
        let (Some(tx), Some(feedback)) = (self.tx.as_mut(), self.recorder.feedback(1, self.media_ssrc)) else { return };
        let mut out = Vec::new();
        if feedback.write(&mut out).is_ok() && tx.protect_rtcp_vec(&mut out).is_ok() {
            let _ = self.socket.send_to(&out, self.server);
            self.feedbacks += 1;
        }
    }

    fn on_time(&mut self, now: Instant, scratch: &mut Vec<u8>) {
        if self.twcc_id.is_some() && now >= self.next_feedback {
            self.next_feedback = now + FEEDBACK_INTERVAL;
            self.send_feedback();
        }
        if now >= self.next_check {
            self.check();
            self.next_check = now + if self.ice_ok { Duration::from_secs(5) } else { Duration::from_millis(100) };
        }
        if self.ice_ok && self.dtls_timeout.is_some_and(|t| now >= t) {
            if let Err(e) = self.dtls.handle_timeout(now) {
                self.error = Some(format!("DTLS: {e}"));
            }
            self.drain_dtls(scratch);
        }
    }
}

/// One datagram read into `buf`: its length and, when the kernel joined several (UDP GRO), the
/// size of each but the last (`UDP_GRO` control message). `None`: nothing to read.
fn receive(socket: &UdpSocket, buf: &mut [u8]) -> Option<(usize, Option<usize>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrIn};
    use std::os::fd::AsRawFd;
    let mut cmsg = nix::cmsg_space!(i32);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let m = recvmsg::<SockaddrIn>(socket.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).ok()?;
    let segment = m.cmsgs().ok()?.find_map(|c| match c {
        ControlMessageOwned::UdpGroSegments(size) => usize::try_from(size).ok(),
        _ => None,
    });
    Some((m.bytes, segment))
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// One viewer: its offer answered, its socket bound and its first ICE check sent. Exits the
/// process (status 2) when the server refuses the offer.
fn join(a: &Args, cert: &Certificate, config: &Arc<dimpl::Config>) -> Viewer {
    let (ufrag, pwd) = (random_chars(8), random_chars(24));
    let answer = match post(&a.url, &offer(&ufrag, &pwd, &cert.fingerprint_sdp(), a.twcc)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("whep_load: offer refused: {e}");
            std::process::exit(2);
        }
    };
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_nonblocking(true).expect("non-blocking");
    // The GOP replay at join comes as a burst of a few hundred kB: a default 208 kB receive
    // buffer drops its tail (the kernel counts it in UdpRcvbufErrors). Browsers NACK that
    // back; this client does not NACK, so it takes a 4 MB buffer (past rmem_max as root).
    let _ = nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &(4 << 20))
        .or_else(|_| nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBuf, &(4 << 20)));
    let mut dtls = dimpl::Dtls::new_12(Arc::clone(config), dimpl::DtlsCertificate { certificate: cert.der.clone(), private_key: cert.private_key.clone() }, Instant::now());
    dtls.set_active(true);
    if a.gro {
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::UdpGroSegment, &true).expect("UDP_GRO (use --gro 0 on a kernel without it)");
    }
    let mut v = Viewer {
        socket,
        server: answer.address,
        username: format!("{}:{ufrag}", answer.ufrag),
        server_pwd: answer.pwd,
        server_fingerprint: answer.fingerprint,
        twcc_id: answer.twcc_id,
        recorder: FeedbackRecorder::default(),
        next_feedback: Instant::now(),
        media_ssrc: 0,
        feedbacks: 0,
        tx: None,
        dtls,
        dtls_timeout: None,
        started: Instant::now(),
        ice_ok: false,
        next_check: Instant::now(),
        connected_at: None,
        fingerprint_ok: false,
        rx: None,
        first: None,
        last: 0,
        seen: Default::default(),
        video: 0,
        verified: 0,
        failed: 0,
        error: None,
    };
    v.check();
    v
}

fn main() {
    let a = args();
    let cert = Certificate::generate().expect("certificate");
    let config: Arc<dimpl::Config> = dtls_config();
    let mut viewers = Vec::with_capacity(a.viewers);
    let t0 = Instant::now();
    // all at once, or (--join-rate) paced inside the receive loop below
    let up_front = if a.join_rate.is_some() { 0 } else { a.viewers };
    for _ in 0..up_front {
        viewers.push(join(&a, &cert, &config));
    }
    let mut announced = a.join_rate.is_none();
    if announced {
        eprintln!("whep_load: {} offers answered in {} ms", viewers.len(), t0.elapsed().as_millis());
    }

    let mut scratch = vec![0u8; 2048];
    let mut buf = vec![0u8; 65_536];
    let end = Instant::now() + a.duration;
    let cpu0 = cpu_seconds();
    let wall0 = Instant::now();
    while Instant::now() < end {
        if let Some(rate) = a.join_rate {
            let due = ((wall0.elapsed().as_secs_f64() * rate) as usize + 1).min(a.viewers);
            while viewers.len() < due {
                viewers.push(join(&a, &cert, &config));
            }
            if !announced && viewers.len() == a.viewers {
                announced = true;
                eprintln!("whep_load: {} offers answered in {} ms", viewers.len(), t0.elapsed().as_millis());
            }
        }
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd> = viewers.iter().map(|v| PollFd::new(v.socket.as_fd(), PollFlags::POLLIN)).collect();
            let _ = poll(&mut fds, PollTimeout::from(10u16));
            fds.iter().enumerate().filter(|(_, f)| f.revents().is_some_and(|r| r.contains(PollFlags::POLLIN))).map(|(i, _)| i).collect()
        };
        let now = Instant::now();
        for i in ready {
            let v = &mut viewers[i];
            let verify = (i as u64).is_multiple_of(a.verify_every);
            while let Some((n, segment)) = receive(&v.socket, &mut buf) {
                for d in buf[..n].chunks(segment.unwrap_or(n).max(1)) {
                    v.on_datagram(d, now, &mut scratch, verify);
                }
            }
        }
        for v in viewers.iter_mut() {
            v.on_time(now, &mut scratch);
        }
    }
    let cpu = (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64() * 100.0;
    if std::env::var_os("WHEP_LOAD_GAPS").is_some() {
        let failing: Vec<(u64, u64)> = viewers.iter().filter(|v| v.failed > 0).map(|v| (v.failed, v.verified)).collect();
        eprintln!("whep_load: viewers with failures (failed, verified): {failing:?}");
        for v in viewers.iter().take(3) {
            let mut seqs: Vec<i64> = v.seen.iter().copied().collect();
            seqs.sort_unstable();
            let holes: Vec<(i64, i64)> = seqs.windows(2).filter(|w| w[1] - w[0] > 1).map(|w| (w[0] + 1, w[1] - w[0] - 1)).collect();
            eprintln!("whep_load: first {:?} holes (start, count) {:?}", v.first, holes);
        }
    }

    let mut connect_ms: Vec<f64> = viewers.iter().filter_map(|v| v.connected_at.map(|c| (c - v.started).as_secs_f64() * 1000.0)).collect();
    connect_ms.sort_by(|x, y| x.total_cmp(y));
    let mut packets: Vec<u64> = viewers.iter().map(|v| v.video).collect();
    packets.sort_unstable();
    let gaps: i64 = viewers.iter().filter_map(|v| v.first.map(|_| (v.seen.iter().max().unwrap() - v.seen.iter().min().unwrap() + 1) - v.seen.len() as i64)).sum();
    let verified: u64 = viewers.iter().map(|v| v.verified).sum();
    let failed: u64 = viewers.iter().map(|v| v.failed).sum();
    let errors: Vec<&str> = viewers.iter().filter_map(|v| v.error.as_deref()).collect();
    let median = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(0.0);
    println!(
        "{{\"viewers\":{},\"connected\":{},\"connectMsMedian\":{:.1},\"connectMsMax\":{:.1},\"videoPacketsMin\":{},\"videoPacketsMedian\":{},\"gaps\":{},\"verified\":{},\"failed\":{},\"errors\":{},\"feedbacks\":{},\"clientCpuPercent\":{:.1}}}",
        viewers.len(),
        connect_ms.len(),
        median(&connect_ms),
        connect_ms.last().copied().unwrap_or(0.0),
        packets.first().copied().unwrap_or(0),
        packets.get(packets.len() / 2).copied().unwrap_or(0),
        gaps,
        verified,
        failed,
        errors.len(),
        viewers.iter().map(|v| v.feedbacks).sum::<u64>(),
        cpu
    );
    if connect_ms.len() != viewers.len() || failed > 0 {
        std::process::exit(1);
    }
}
