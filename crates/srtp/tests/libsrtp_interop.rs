//! Bit-exact interop with the system libsrtp2 (Debian: `apt-get install libsrtp2-dev`), for all
//! four profiles, SRTP and SRTCP, both directions:
//!
//! 1. The same plaintext packets are protected by libsrtp (tests/libsrtp/harness.c, compiled
//!    here with `cc … -lsrtp2`) and by this crate: the outputs must be byte-identical.
//! 2. libsrtp's output is unprotected here, delivered out of order (adjacent swaps, including
//!    across each sequence wrap) with replays injected: every original is accepted once with
//!    the original bytes, recent replays are `ReplayDuplicate`, old ones `ReplayOld`.
//! 3. This crate's output goes through libsrtp's unprotect in the same disorder: libsrtp
//!    accepts every original (same bytes back) and reports replay_fail / replay_old for the
//!    replays. (libsrtp's SRTCP replay window is a fixed 128 packets; ours follows
//!    `replay_window`, 64 here, so old SRTCP replays are sent back more than 128 per SSRC.)
//!
//! Without libsrtp2 the test FAILS (it does not skip).

mod common;
use common::{key_material, rtcp_packet, rtp_packet, to_hex, Rng};
use sluice_srtp::{Profile, SrtpContext, SrtpError, SrtpOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const WINDOW: u32 = 64;
const SSRCS: [u32; 3] = [0x1234_5678, 0xdead_beef, 0x0000_0001];
/// Packets per SSRC; each SSRC starts close enough to 65535 to wrap.
const RTP_PER_SSRC: usize = 1200;
const RTCP_PER_SSRC: usize = 400;

// libsrtp's srtp_err_status_t values.
const LIBSRTP_OK: i32 = 0;
const LIBSRTP_REPLAY_FAIL: i32 = 9;
const LIBSRTP_REPLAY_OLD: i32 = 10;

fn harness() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libsrtp/harness.c");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libsrtp-harness");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let result = Command::new(&cc)
            .args(["-O2", "-o"])
            .arg(&out)
            .arg(&src)
            .arg("-lsrtp2")
            .output();
        match result {
            Ok(o) if o.status.success() => out,
            Ok(o) => panic!(
                "libsrtp2 is required for this test and could not be compiled against \
                 (install it: apt-get install -y libsrtp2-dev). {cc} said:\n{}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!(
                "no C compiler `{cc}` to build the libsrtp2 harness ({e}); this test needs \
                 a C compiler and libsrtp2-dev (apt-get install -y build-essential libsrtp2-dev)"
            ),
        }
    })
}

/// Runs the harness over `packets`; returns (libsrtp status, output bytes) per packet.
fn libsrtp(
    op: &str,
    kind: &str,
    profile: Profile,
    key: &[u8],
    packets: &[Vec<u8>],
) -> Vec<(i32, Vec<u8>)> {
    let mut input = Vec::new();
    for p in packets {
        input.extend_from_slice(&(p.len() as u32).to_le_bytes());
        input.extend_from_slice(p);
    }
    let mut child = Command::new(harness())
        .args([op, kind, profile.name(), &to_hex(key), &WINDOW.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run libsrtp harness");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("libsrtp harness output");
    writer.join().unwrap().expect("write to harness");
    assert!(
        out.status.success(),
        "libsrtp harness {op} {kind} {} failed ({}): {}",
        profile.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut res = Vec::new();
    let b = &out.stdout;
    let mut at = 0;
    while at < b.len() {
        let status = i32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        res.push((status, b[at + 8..at + 8 + len].to_vec()));
        at += 8 + len;
    }
    assert_eq!(res.len(), packets.len(), "harness answered every packet");
    res
}

/// What is delivered to a receiver: index into the sent list, and what to expect.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Fresh,
    Duplicate,
    Old,
}

/// Original order with adjacent swaps (also forced where each SSRC's sequence number wraps),
/// plus replays: recent ones (within the last few deliveries: must be duplicates) and old ones
/// (hundreds of packets back: beyond the 64-packet window).
fn disorder(rng: &mut Rng, sent: usize, wraps: &[usize]) -> Vec<(usize, Expect)> {
    let mut order: Vec<usize> = (0..sent).collect();
    let mut i = 0;
    while i + 1 < sent {
        if rng.chance(20) || wraps.contains(&(i + 1)) {
            order.swap(i, i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(sent + sent / 10);
    for (n, &k) in order.iter().enumerate() {
        out.push((k, Expect::Fresh));
        if n > 4 && rng.chance(5) {
            out.push((order[n - rng.below(4) as usize], Expect::Duplicate));
        }
        if n > 1000 && rng.chance(1) {
            out.push((order[n - 700 - rng.below(200) as usize], Expect::Old));
        }
    }
    out
}

struct RtpRun {
    plain: Vec<Vec<u8>>,
    wraps: Vec<usize>,
}

fn rtp_stream(seed: u64) -> RtpRun {
    let mut rng = Rng(seed);
    let mut seqs: Vec<u16> = SSRCS
        .iter()
        .map(|_| 65_535 - 300 - rng.below(500) as u16)
        .collect();
    let mut plain = Vec::new();
    let mut wraps = Vec::new();
    for _ in 0..RTP_PER_SSRC {
        for (k, &ssrc) in SSRCS.iter().enumerate() {
            if seqs[k] == 0 {
                wraps.push(plain.len());
            }
            let len = if rng.chance(5) {
                0
            } else {
                rng.below(1401) as usize
            };
            plain.push(rtp_packet(&mut rng, ssrc, seqs[k], len));
            seqs[k] = seqs[k].wrapping_add(1);
        }
    }
    assert_eq!(wraps.len(), SSRCS.len(), "every SSRC wraps");
    RtpRun { plain, wraps }
}

fn rust_ctx(profile: Profile, key: &[u8]) -> SrtpContext {
    let options = SrtpOptions {
        replay_window: WINDOW,
        ..SrtpOptions::default()
    };
    SrtpContext::from_key_material(profile, key, options).unwrap()
}

fn check_rust_receives(
    profile: Profile,
    key: &[u8],
    rtcp: bool,
    plain: &[Vec<u8>],
    protected: &[Vec<u8>],
    order: &[(usize, Expect)],
) {
    let mut rx = rust_ctx(profile, key);
    for &(k, expect) in order {
        let mut p = protected[k].clone();
        let r = if rtcp {
            rx.unprotect_rtcp_vec(&mut p)
        } else {
            rx.unprotect_rtp_vec(&mut p)
        };
        match expect {
            Expect::Fresh => {
                assert_eq!(r, Ok(()), "{} packet {k} rejected", profile.name());
                assert_eq!(p, plain[k], "{} packet {k} plaintext", profile.name());
            }
            Expect::Duplicate => assert_eq!(r, Err(SrtpError::ReplayDuplicate), "packet {k}"),
            Expect::Old => assert_eq!(r, Err(SrtpError::ReplayOld), "packet {k}"),
        }
    }
}

fn check_libsrtp_receives(
    profile: Profile,
    key: &[u8],
    rtcp: bool,
    plain: &[Vec<u8>],
    protected: &[Vec<u8>],
    order: &[(usize, Expect)],
) {
    let delivered: Vec<Vec<u8>> = order.iter().map(|&(k, _)| protected[k].clone()).collect();
    let kind = if rtcp { "rtcp" } else { "rtp" };
    let res = libsrtp("unprotect", kind, profile, key, &delivered);
    for (&(k, expect), (status, out)) in order.iter().zip(&res) {
        match expect {
            Expect::Fresh => {
                assert_eq!(*status, LIBSRTP_OK, "libsrtp rejected {kind} packet {k}");
                assert_eq!(out, &plain[k], "libsrtp plaintext of {kind} packet {k}");
            }
            Expect::Duplicate => assert_eq!(*status, LIBSRTP_REPLAY_FAIL, "{kind} packet {k}"),
            Expect::Old => assert_eq!(*status, LIBSRTP_REPLAY_OLD, "{kind} packet {k}"),
        }
    }
}

fn rtp_interop(profile: Profile, seed: u64) {
    let key = key_material(profile, seed);
    let run = rtp_stream(seed);
    // 1. byte-exact protect
    let theirs = libsrtp("protect", "rtp", profile, &key, &run.plain);
    let mut tx = rust_ctx(profile, &key);
    let mut ours = Vec::new();
    for (k, p) in run.plain.iter().enumerate() {
        let mut q = p.clone();
        tx.protect_rtp_vec(&mut q).unwrap();
        assert_eq!(theirs[k].0, LIBSRTP_OK, "libsrtp protect of packet {k}");
        assert_eq!(
            to_hex(&q),
            to_hex(&theirs[k].1),
            "{} SRTP packet {k} differs from libsrtp",
            profile.name()
        );
        ours.push(q);
    }
    for ssrc in SSRCS {
        assert_eq!(tx.rollover_counter(ssrc), Some(1));
    }
    let mut rng = Rng(seed ^ 0x5555);
    let order = disorder(&mut rng, run.plain.len(), &run.wraps);
    assert!(order.iter().any(|o| o.1 == Expect::Old));
    // 2. libsrtp → us
    let theirs: Vec<Vec<u8>> = theirs.into_iter().map(|t| t.1).collect();
    check_rust_receives(profile, &key, false, &run.plain, &theirs, &order);
    // 3. us → libsrtp
    check_libsrtp_receives(profile, &key, false, &run.plain, &ours, &order);
}

fn rtcp_interop(profile: Profile, seed: u64) {
    let key = key_material(profile, seed);
    let mut rng = Rng(seed ^ 0xabcdef);
    let mut plain = Vec::new();
    for _ in 0..RTCP_PER_SSRC {
        for ssrc in SSRCS {
            plain.push(rtcp_packet(&mut rng, ssrc));
        }
    }
    let theirs = libsrtp("protect", "rtcp", profile, &key, &plain);
    let mut tx = rust_ctx(profile, &key);
    let mut ours = Vec::new();
    for (k, p) in plain.iter().enumerate() {
        let mut q = p.clone();
        tx.protect_rtcp_vec(&mut q).unwrap();
        assert_eq!(
            theirs[k].0, LIBSRTP_OK,
            "libsrtp protect of RTCP packet {k}"
        );
        assert_eq!(
            to_hex(&q),
            to_hex(&theirs[k].1),
            "{} SRTCP packet {k} differs from libsrtp",
            profile.name()
        );
        ours.push(q);
    }
    let mut order = Vec::new();
    for (n, k) in (0..plain.len()).enumerate() {
        order.push((k, Expect::Fresh));
        if n > 4 && rng.chance(5) {
            order.push((k - rng.below(3) as usize, Expect::Duplicate));
        }
        // libsrtp's SRTCP replay window is a fixed 128 packets (srtp_rdb_t, whatever
        // window_size says): go back more than 128 per SSRC so both sides call it old.
        if n > 800 && rng.chance(2) {
            order.push((k - 600 - rng.below(100) as usize, Expect::Old));
        }
    }
    let theirs: Vec<Vec<u8>> = theirs.into_iter().map(|t| t.1).collect();
    check_rust_receives(profile, &key, true, &plain, &theirs, &order);
    check_libsrtp_receives(profile, &key, true, &plain, &ours, &order);
}

#[test]
fn libsrtp_rtp_aes_cm_128_hmac_sha1_80() {
    rtp_interop(Profile::AesCm128HmacSha1_80, 0x1001);
}

#[test]
fn libsrtp_rtp_aes_cm_128_hmac_sha1_32() {
    rtp_interop(Profile::AesCm128HmacSha1_32, 0x1002);
}

#[test]
fn libsrtp_rtp_aead_aes_128_gcm() {
    rtp_interop(Profile::AeadAes128Gcm, 0x1003);
}

#[test]
fn libsrtp_rtp_aead_aes_256_gcm() {
    rtp_interop(Profile::AeadAes256Gcm, 0x1004);
}

#[test]
fn libsrtp_rtcp_all_profiles() {
    for (i, profile) in Profile::ALL.into_iter().enumerate() {
        rtcp_interop(profile, 0x2000 + i as u64);
    }
}
