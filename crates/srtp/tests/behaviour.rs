//! Rollover counter, replay window, rejection of damaged packets, limits, and a 100k-packet
//! random/mutated input run against unprotect (no panic, nothing accepted that should not be).

mod common;
use common::{key_material, rtcp_packet, rtp_packet, Rng};
use sluice_srtp::{Profile, SrtpContext, SrtpError, SrtpOptions, MAX_PACKET_LEN};

fn pair(profile: Profile, options: SrtpOptions) -> (SrtpContext, SrtpContext) {
    let key = key_material(profile, 7);
    (
        SrtpContext::from_key_material(profile, &key, options).unwrap(),
        SrtpContext::from_key_material(profile, &key, options).unwrap(),
    )
}

fn protect_seqs(tx: &mut SrtpContext, rng: &mut Rng, seqs: &[u16]) -> Vec<(Vec<u8>, Vec<u8>)> {
    seqs.iter()
        .map(|&s| {
            let plain = rtp_packet(rng, 42, s, 100);
            let mut p = plain.clone();
            tx.protect_rtp_vec(&mut p).unwrap();
            (plain, p)
        })
        .collect()
}

#[test]
fn roc_at_wrap_with_reordering_across_it() {
    for profile in Profile::ALL {
        let (mut tx, mut rx) = pair(profile, SrtpOptions::default());
        let mut rng = Rng(3);
        let seqs: Vec<u16> = (65_530..=65_535).chain(0..6).collect();
        let pkts = protect_seqs(&mut tx, &mut rng, &seqs);
        assert_eq!(tx.rollover_counter(42), Some(1));
        // 65530..65533, then 0 before 65534 and 65535, then 2 before 1, ...
        for k in [0, 1, 2, 3, 6, 4, 5, 8, 7, 9, 11, 10] {
            let mut p = pkts[k].1.clone();
            assert_eq!(
                rx.unprotect_rtp_vec(&mut p),
                Ok(()),
                "{profile:?} seq {}",
                seqs[k]
            );
            assert_eq!(p, pkts[k].0);
        }
        assert_eq!(rx.rollover_counter(42), Some(1));
        // Every one again: duplicates.
        for (_, prot) in &pkts {
            let mut p = prot.clone();
            assert_eq!(
                rx.unprotect_rtp_vec(&mut p),
                Err(SrtpError::ReplayDuplicate)
            );
        }
    }
}

#[test]
fn many_wraps_and_late_packet_from_previous_roc() {
    let (mut tx, mut rx) = pair(Profile::AesCm128HmacSha1_80, SrtpOptions::default());
    let mut rng = Rng(5);
    let mut held = None;
    for n in 0..(3 * 65_536 + 100) as u32 {
        let seq = n as u16;
        let plain = rtp_packet(&mut rng, 42, seq, 0);
        let mut p = plain.clone();
        tx.protect_rtp_vec(&mut p).unwrap();
        if n == 2 * 65_536 - 3 {
            held = Some((plain, p)); // delivered 10 packets late, after the wrap
            continue;
        }
        let mut q = p.clone();
        assert_eq!(rx.unprotect_rtp_vec(&mut q), Ok(()), "n {n}");
        if n == 2 * 65_536 + 6 {
            let (plain, p) = held.take().unwrap();
            let mut q = p.clone();
            assert_eq!(rx.unprotect_rtp_vec(&mut q), Ok(()), "late pre-wrap packet");
            assert_eq!(q, plain);
        }
    }
    assert_eq!(tx.rollover_counter(42), Some(3));
    assert_eq!(rx.rollover_counter(42), Some(3));
}

#[test]
fn replay_window_default_and_configured() {
    let (mut tx, mut rx) = pair(Profile::AeadAes128Gcm, SrtpOptions::default());
    let mut rng = Rng(9);
    let seqs: Vec<u16> = (1000..1100).collect();
    let pkts = protect_seqs(&mut tx, &mut rng, &seqs);
    let mut p = pkts[99].1.clone();
    rx.unprotect_rtp_vec(&mut p).unwrap(); // top = 1099
    let mut p = pkts[35].1.clone(); // 1035: 64 behind
    assert_eq!(rx.unprotect_rtp_vec(&mut p), Err(SrtpError::ReplayOld));
    let mut p = pkts[36].1.clone(); // 1036: 63 behind
    assert_eq!(rx.unprotect_rtp_vec(&mut p), Ok(()));

    let options = SrtpOptions {
        replay_window: 1024,
        ..SrtpOptions::default()
    };
    let (mut tx, mut rx) = pair(Profile::AesCm128HmacSha1_32, options);
    let seqs: Vec<u16> = (0..2000).collect();
    let pkts = protect_seqs(&mut tx, &mut rng, &seqs);
    rx.unprotect_rtp_vec(&mut pkts[1999].1.clone()).unwrap();
    assert_eq!(rx.unprotect_rtp_vec(&mut pkts[1000].1.clone()), Ok(())); // 999 behind
    assert_eq!(
        rx.unprotect_rtp_vec(&mut pkts[1000].1.clone()),
        Err(SrtpError::ReplayDuplicate)
    );
    assert_eq!(
        rx.unprotect_rtp_vec(&mut pkts[975].1.clone()),
        Err(SrtpError::ReplayOld)
    ); // 1024 behind
    assert!(SrtpContext::from_key_material(
        Profile::AeadAes128Gcm,
        &key_material(Profile::AeadAes128Gcm, 1),
        SrtpOptions {
            replay_window: 0,
            ..SrtpOptions::default()
        }
    )
    .is_err());
}

#[test]
fn srtcp_replay_and_index() {
    for profile in Profile::ALL {
        let (mut tx, mut rx) = pair(profile, SrtpOptions::default());
        let mut rng = Rng(11);
        let mut sent = Vec::new();
        for _ in 0..100 {
            let plain = rtcp_packet(&mut rng, 77);
            let mut p = plain.clone();
            tx.protect_rtcp_vec(&mut p).unwrap();
            assert_eq!(p.len(), plain.len() + profile.rtcp_overhead());
            sent.push((plain, p));
        }
        // SRTCP index of the first packet is 1, E set.
        let t = &sent[0].1;
        let at = if profile.is_gcm() {
            t.len() - 4
        } else {
            t.len() - 14
        };
        assert_eq!(&t[at..at + 4], &[0x80, 0, 0, 1]);
        for k in (0..100).rev().take(64) {
            let mut p = sent[k].1.clone();
            assert_eq!(rx.unprotect_rtcp_vec(&mut p), Ok(()));
            assert_eq!(p, sent[k].0);
        }
        let mut p = sent[99].1.clone();
        assert_eq!(
            rx.unprotect_rtcp_vec(&mut p),
            Err(SrtpError::ReplayDuplicate)
        );
        let mut p = sent[0].1.clone();
        assert_eq!(rx.unprotect_rtcp_vec(&mut p), Err(SrtpError::ReplayOld));
    }
}

#[test]
fn tampered_truncated_and_wrong_key_rejected_without_state_change() {
    for profile in Profile::ALL {
        let (mut tx, mut rx) = pair(profile, SrtpOptions::default());
        let other_key = key_material(profile, 99);
        let mut wrong =
            SrtpContext::from_key_material(profile, &other_key, SrtpOptions::default()).unwrap();
        let mut rng = Rng(13);
        let plain = rtp_packet(&mut rng, 5, 100, 300);
        let mut good = plain.clone();
        tx.protect_rtp_vec(&mut good).unwrap();
        for at in [1, 3, 8, 11, 12, good.len() / 2, good.len() - 1] {
            let mut t = good.clone();
            t[at] ^= 0x20;
            let r = rx.unprotect_rtp_vec(&mut t);
            assert!(
                matches!(
                    r,
                    Err(SrtpError::AuthenticationFailed | SrtpError::Malformed(_))
                ),
                "{profile:?} byte {at}: {r:?}"
            );
        }
        for cut in 1..=good.len().min(40) {
            let mut t = good[..good.len() - cut].to_vec();
            assert!(
                rx.unprotect_rtp_vec(&mut t).is_err(),
                "{profile:?} cut {cut}"
            );
        }
        assert_eq!(
            wrong.unprotect_rtp_vec(&mut good.clone()),
            Err(SrtpError::AuthenticationFailed)
        );
        assert_eq!(wrong.ssrc_count(), 0, "unauthenticated SSRC not added");
        // Nothing above moved the state: the genuine packet is still accepted.
        let mut g = good.clone();
        assert_eq!(rx.unprotect_rtp_vec(&mut g), Ok(()));
        assert_eq!(g, plain);

        let rtcp = rtcp_packet(&mut rng, 6);
        let mut good = rtcp.clone();
        tx.protect_rtcp_vec(&mut good).unwrap();
        for at in [0usize, 4, 9, good.len() / 2, good.len() - 5, good.len() - 1] {
            let mut t = good.clone();
            t[at] ^= 0x04;
            assert!(
                rx.unprotect_rtcp_vec(&mut t).is_err(),
                "{profile:?} RTCP byte {at}"
            );
        }
        assert!(rx
            .unprotect_rtcp_vec(&mut good[..good.len() - 1].to_vec())
            .is_err());
        assert_eq!(
            wrong.unprotect_rtcp_vec(&mut good.clone()),
            Err(SrtpError::AuthenticationFailed)
        );
        let mut g = good.clone();
        assert_eq!(rx.unprotect_rtcp_vec(&mut g), Ok(()));
        assert_eq!(g, rtcp);
    }
}

#[test]
fn limits_and_malformed_input() {
    let options = SrtpOptions {
        max_ssrcs: 2,
        ..SrtpOptions::default()
    };
    let (mut tx, mut rx) = pair(Profile::AesCm128HmacSha1_80, options);
    let mut rng = Rng(17);
    let mut pkts = Vec::new();
    for ssrc in [1, 2, 3] {
        let mut p = rtp_packet(&mut rng, ssrc, 1, 10);
        if ssrc == 3 {
            assert_eq!(tx.protect_rtp_vec(&mut p), Err(SrtpError::TooManySsrcs));
            tx.remove_ssrc(1);
        }
        tx.protect_rtp_vec(&mut p).unwrap();
        pkts.push(p);
    }
    rx.unprotect_rtp_vec(&mut pkts[0].clone()).unwrap();
    rx.unprotect_rtp_vec(&mut pkts[1].clone()).unwrap();
    assert_eq!(
        rx.unprotect_rtp_vec(&mut pkts[2].clone()),
        Err(SrtpError::TooManySsrcs)
    );

    let mut buf = [0u8; 64];
    buf[0] = 0x80;
    assert!(matches!(
        tx.protect_rtp(&mut buf, 60),
        Err(SrtpError::BufferTooSmall {
            needed: 70,
            available: 64
        })
    ));
    assert_eq!(tx.protect_rtp(&mut buf, 11), Err(SrtpError::TooShort));
    buf[0] = 0x40;
    assert!(matches!(
        tx.protect_rtp(&mut buf, 40),
        Err(SrtpError::Malformed(_))
    ));
    buf[0] = 0x8f; // 15 CSRCs = 72 bytes of header
    assert!(matches!(
        tx.protect_rtp(&mut buf, 40),
        Err(SrtpError::Malformed(_))
    ));
    buf[0] = 0x90; // extension header with length 0xffff words
    buf[14] = 0xff;
    buf[15] = 0xff;
    assert!(matches!(
        tx.protect_rtp(&mut buf, 40),
        Err(SrtpError::Malformed(_))
    ));
    let mut big = vec![0u8; MAX_PACKET_LEN + 100];
    big[0] = 0x80;
    assert_eq!(
        tx.protect_rtp(&mut big, MAX_PACKET_LEN + 1),
        Err(SrtpError::TooLong)
    );
    assert_eq!(tx.protect_rtcp(&mut buf, 7), Err(SrtpError::TooShort));
    assert_eq!(rx.unprotect_rtcp(&mut buf[..21]), Err(SrtpError::TooShort));
    assert_eq!(rx.unprotect_rtp(&mut buf[..21]), Err(SrtpError::TooShort));
    assert!(SrtpContext::new(Profile::AeadAes256Gcm, &[0; 16], &[0; 12], options).is_err());
    assert!(SrtpContext::new(Profile::AeadAes128Gcm, &[0; 16], &[0; 14], options).is_err());
}

/// 100,000 random and mutated packets (25,000 per profile), half RTP, half RTCP: no panic, and
/// no mutated packet authenticates.
#[test]
fn unprotect_survives_random_and_mutated_input() {
    let mut rng = Rng(0x00f0_0d5e_ed00);
    for profile in Profile::ALL {
        let (mut tx, mut rx) = pair(profile, SrtpOptions::default());
        let mut seeds = Vec::new();
        for i in 0..32u16 {
            let plen = rng.below(200) as usize;
            let mut p = rtp_packet(&mut rng, 9, i, plen);
            tx.protect_rtp_vec(&mut p).unwrap();
            let mut c = rtcp_packet(&mut rng, 9);
            c.truncate(8 + 4 * rng.below(50) as usize);
            let words = ((c.len() / 4) - 1) as u16;
            c[2..4].copy_from_slice(&words.to_be_bytes());
            tx.protect_rtcp_vec(&mut c).unwrap();
            seeds.push((p, c));
        }
        for n in 0..12_500 {
            let pick = rng.below(seeds.len() as u64) as usize;
            let (p, c) = &seeds[pick];
            for (rtcp, base) in [(false, p), (true, c)] {
                let mut m = if n % 4 == 0 {
                    let n = rng.below(300) as usize;
                    rng.bytes(n)
                } else {
                    let mut m = base.clone();
                    for _ in 0..=rng.below(4) {
                        match rng.below(4) {
                            0 if !m.is_empty() => {
                                let at = rng.below(m.len() as u64) as usize;
                                m[at] ^= 1 << rng.below(8);
                            }
                            1 => m.truncate(rng.below(m.len() as u64 + 1) as usize),
                            2 => {
                                let n = rng.below(8) as usize;
                                m.extend(rng.bytes(n))
                            }
                            _ if !m.is_empty() => {
                                let at = rng.below(m.len() as u64) as usize;
                                m[at] = rng.next() as u8;
                            }
                            _ => {}
                        }
                    }
                    m
                };
                let changed = &m != base;
                let r = if rtcp {
                    rx.unprotect_rtcp(&mut m)
                } else {
                    rx.unprotect_rtp(&mut m)
                };
                if changed {
                    assert!(r.is_err(), "{profile:?} mutated packet accepted");
                }
            }
        }
    }
}
