use super::*;
use super::layers::LayerPolicy;

/// A 12-byte-header RTP packet with payload type 96, then `payload`.
fn rtp(seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn seq(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[2], p[3]])
}

/// `Keyframe` when `keyframe`, else `Delta`.
fn keyframe_if(keyframe: bool) -> FrameStart {
    if keyframe {
        FrameStart::Keyframe
    } else {
        FrameStart::Delta
    }
}

#[test]
fn ring_answers_only_for_the_sequence_number_it_holds() {
    let mut ring = RetransmissionRing::new(1000);
    assert_eq!(ring.capacity(), 1024);
    assert!(ring.store(&rtp(5, 0, 1, b"a")));
    assert_eq!(ring.get(5).map(|p| &p[12..]), Some(&b"a"[..]));
    assert!(ring.get(5 + 1024).is_none());
    assert!(ring.store(&rtp(5 + 1024, 0, 1, b"b")));
    assert!(ring.get(5).is_none());
    assert!(!ring.store(&[0x80; 11]));
    ring.clear();
    assert!(ring.get(5 + 1024).is_none());
}

#[test]
fn a_ring_takes_memory_at_its_first_packet_and_gives_it_back_on_release() {
    let mut ring = RetransmissionRing::new(16);
    assert!(ring.is_released() && ring.get(3).is_none());
    assert!(ring.store(&rtp(3, 0, 1, b"a")));
    assert!(!ring.is_released() && ring.get(3).is_some());
    ring.release();
    assert!(ring.is_released() && ring.get(3).is_none());
    assert_eq!(ring.capacity(), 16);
    assert!(ring.store(&rtp(4, 0, 1, b"b")) && ring.get(4).is_some(), "usable again");
}

#[test]
fn a_gop_replay_is_kept_for_nacks_until_a_rings_length_of_live_packets_followed_it() {
    let mut f = Fanout::new(64, 16);
    assert!(f.add(1, config("s")));
    let mut targets = Vec::new();
    let replay: Vec<Vec<u8>> = (0..4).map(|s| rtp(s, 0, 9, b"g")).collect();
    let replay_refs: Vec<&[u8]> = replay.iter().map(Vec::as_slice).collect();
    f.inject(1, MediaKind::Video, &replay_refs, 0, true).unwrap();
    // 15 live packets after it: the replay still answers NACKs
    for s in 4..19u16 {
        let p = rtp(s, 0, 9, b"v");
        f.media("s", MediaKind::Video, &[&p], FrameStart::Delta, 0.0, &mut targets);
    }
    assert_eq!(f.resolve_nack(1, 2).map(|r| &r.packet[12..]), Some(&b"g"[..]));
    // the 16th: released; a NACK for it goes to the stream ring, which has no such packet
    let p = rtp(19, 0, 9, b"v");
    f.media("s", MediaKind::Video, &[&p], FrameStart::Delta, 0.0, &mut targets);
    assert!(f.resolve_nack(1, 2).is_none());
    assert_eq!(f.resolve_nack(1, 18).map(|r| &r.packet[12..]), Some(&b"v"[..]), "live packets still answer");
    // a later injection is kept again, and counted from there
    let again = rtp(20, 0, 9, b"h");
    f.inject(1, MediaKind::Video, &[&again], 0, true).unwrap();
    assert_eq!(f.resolve_nack(1, 20).map(|r| &r.packet[12..]), Some(&b"h"[..]));
}

#[test]
fn offsets_map_back_across_wraparound() {
    let mut o = SequenceOffsets::default();
    assert_eq!(o.at(10), 0);
    o.set(100, Some(65_530));
    assert_eq!(o.current(), 100);
    assert_eq!(o.at(65_529), 0);
    assert_eq!(o.at(65_530), 100);
    assert_eq!(o.at(3), 100, "after the wrap");
    for i in 0..20 {
        o.set(i, Some(i * 10));
    }
    assert_eq!(o.at(135), 13);
    assert_eq!(o.at(55), 12, "older than the history: the oldest kept");
}

#[test]
fn patch_rewrites_payload_type_and_sequence_but_not_rtcp() {
    let mut out = [0u8; 64];
    let n = patch_into(&rtp(65_535, 9, 7, b"xy"), &mut out, 102, 3).unwrap();
    assert_eq!(n, 14);
    assert_eq!(out[1] & 0x7F, 102);
    assert_eq!(seq(&out), 2);
    // an RTCP sender report (PT 200) passes unchanged
    let sr = [0x80, 200, 0, 6, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
    assert_eq!(patch_into(&sr, &mut out, 102, 3).unwrap(), sr.len());
    assert_eq!(&out[..sr.len()], &sr);
    assert!(patch_into(&[0x80; 5], &mut out, 96, 0).is_err());
    assert!(patch_into(&rtp(1, 1, 1, &[0; 60]), &mut out, 96, 0).is_err());
}

#[test]
fn rewriter_strips_extensions_and_continues_across_a_new_publisher() {
    let mut w = RtpRewriter::new(0xABCD, 111, 48_000, 999, 5_000);
    // CSRC count 1 and a one-byte extension of one word
    let mut p = vec![0x91, 0x80 | 100, 0, 10, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0xBE, 0xDE, 0, 1, 0x10, 0xFF, 0, 0];
    p.extend_from_slice(b"opus");
    let mut out = [0u8; 64];
    assert_eq!(w.output_len(&p).unwrap(), 16);
    let n = w.rewrite_into(&p, &mut out, 1_000.0).unwrap();
    assert_eq!(&out[..n], &[0x80, 0x80 | 111, 0x03, 0xE8, 0, 0, 0x13, 0x88, 0, 0, 0xAB, 0xCD, b'o', b'p', b'u', b's']);
    assert!(w.started());
    assert_eq!(w.timestamp(256 + 960), 5_000 + 960);
    // the same publisher goes on: deltas kept
    w.rewrite_into(&rtp(11, 256 + 960, 1, b"x"), &mut out, 1_020.0).unwrap();
    assert_eq!(seq(&out), 1001);
    // a new publisher (SSRC 2) 100 ms later: sequence continues, timestamp advances 4800 ticks
    w.rewrite_into(&rtp(40_000, 77, 2, b"x"), &mut out, 1_120.0).unwrap();
    assert_eq!(seq(&out), 1002);
    assert_eq!(u32::from_be_bytes([out[4], out[5], out[6], out[7]]), 5_000 + 960 + 4_800);
    assert_eq!((w.packets(), w.octets()), (3, 16 + 13 + 13));
    assert!(w.rewrite_into(&[0x40; 12], &mut out, 0.0).is_err(), "version 1");
    assert!(w.rewrite_into(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 9], &mut out, 0.0).is_err(), "extension past the end");
}

fn config(key: &str) -> SubscriberConfig {
    SubscriberConfig { stream_key: key.into(), video_payload_type: Some(102), audio_payload_type: Some(111), takes_descriptor: false }
}

#[test]
fn fanout_sends_live_subscribers_and_resolves_nacks_through_offsets() {
    let mut f = Fanout::new(1024, 1024);
    assert!(f.add(1, config("live/a")));
    assert!(!f.add(1, config("live/a")));
    assert!(f.add(2, config("live/a")));
    let mut targets = Vec::new();
    let frame: Vec<Vec<u8>> = (100..103).map(|s| rtp(s, 0, 9, b"v")).collect();
    let refs: Vec<&[u8]> = frame.iter().map(Vec::as_slice).collect();
    f.media("live/a", MediaKind::Video, &refs, keyframe_if(false), 0.0, &mut targets);
    assert!(targets.is_empty(), "nobody live yet");
    // subscriber 1 gets a GOP replay numbered 500..502, then lives with offset 403 (103 → 506... )
    let replay: Vec<Vec<u8>> = (500..503).map(|s| rtp(s, 0, 9, b"g")).collect();
    let replay_refs: Vec<&[u8]> = replay.iter().map(Vec::as_slice).collect();
    let t = f.inject(1, MediaKind::Video, &replay_refs, 400, true).unwrap();
    assert_eq!(t, FanoutTarget { id: 1, payload_type: 102, seq_offset: 0, ts_offset: 0 });
    let live: Vec<Vec<u8>> = (103..105).map(|s| rtp(s, 0, 9, b"v")).collect();
    let live_refs: Vec<&[u8]> = live.iter().map(Vec::as_slice).collect();
    f.media("live/a", MediaKind::Video, &live_refs, keyframe_if(false), 0.0, &mut targets);
    assert_eq!(targets, vec![FanoutTarget { id: 1, payload_type: 102, seq_offset: 400, ts_offset: 0 }]);
    // NACK 501: the injected copy, as sent; NACK 503 (= stream 103 + 400): the stream ring
    let r = f.resolve_nack(1, 501).unwrap();
    assert_eq!((seq(r.packet), r.seq_offset, &r.packet[12..]), (501, 0, &b"g"[..]));
    let r = f.resolve_nack(1, 503).unwrap();
    assert_eq!((seq(r.packet), r.seq_offset), (103, 400));
    assert!(f.resolve_nack(1, 900).is_none());
    assert!(f.resolve_nack(2, 103).is_some(), "subscriber 2's offset is 0");
    // audio goes with the audio payload type and its own offset: 0 until audio is injected
    f.media("live/a", MediaKind::Audio, &live_refs, keyframe_if(false), 0.0, &mut targets);
    assert_eq!(targets, vec![FanoutTarget { id: 1, payload_type: 111, seq_offset: 0, ts_offset: 0 }]);
    let t = f.inject(1, MediaKind::Audio, &replay_refs, 7, true).unwrap();
    assert_eq!(t, FanoutTarget { id: 1, payload_type: 111, seq_offset: 0, ts_offset: 0 });
    f.media("live/a", MediaKind::Audio, &live_refs, keyframe_if(false), 0.0, &mut targets);
    assert_eq!(targets, vec![FanoutTarget { id: 1, payload_type: 111, seq_offset: 7, ts_offset: 0 }]);
    f.media("live/a", MediaKind::Video, &live_refs, keyframe_if(false), 0.0, &mut targets);
    assert_eq!(targets[0].seq_offset, 400, "an audio injection leaves the video numbering");
    assert!(f.remove(1) && f.remove(2) && !f.remove(2));
    assert_eq!(f.subscribers_of("live/a"), 0);
    assert!(f.is_empty());
}

#[test]
fn fanout_skips_to_a_keyframe_when_behind_without_a_sequence_gap() {
    let mut f = Fanout::new(64, 64);
    f.add(1, config("s"));
    f.inject(1, MediaKind::Video, &[], 10, true);
    let mut targets = Vec::new();
    assert_eq!(f.pace("s", 20.0), Pace::Send);
    assert_eq!(f.pace("s", 1500.0), Pace::FellBehind);
    let skipped: Vec<Vec<u8>> = (0..5).map(|s| rtp(s, 0, 9, b"v")).collect();
    let skipped_refs: Vec<&[u8]> = skipped.iter().map(Vec::as_slice).collect();
    f.skip("s", &skipped_refs);
    assert_eq!(f.pace("s", 500.0), Pace::Skip);
    assert_eq!(f.pace("s", 50.0), Pace::Send);
    // a delta frame: still waiting
    let delta: Vec<Vec<u8>> = (5..7).map(|s| rtp(s, 0, 9, b"v")).collect();
    let delta_refs: Vec<&[u8]> = delta.iter().map(Vec::as_slice).collect();
    f.media("s", MediaKind::Video, &delta_refs, keyframe_if(false), 0.0, &mut targets);
    assert!(targets.is_empty());
    f.media("s", MediaKind::Audio, &delta_refs, keyframe_if(false), 0.0, &mut targets);
    assert!(targets.is_empty(), "audio waits with the video");
    // the keyframe at stream 7: the subscriber last got 9 + 10 = ... its offset drops by 7
    let key: Vec<Vec<u8>> = (7..9).map(|s| rtp(s, 0, 9, b"k")).collect();
    let key_refs: Vec<&[u8]> = key.iter().map(Vec::as_slice).collect();
    f.media("s", MediaKind::Video, &key_refs, keyframe_if(true), 0.0, &mut targets);
    assert_eq!(targets, vec![FanoutTarget { id: 1, payload_type: 102, seq_offset: 3, ts_offset: 0 }]);
    // NACK of its 10 (stream 7 + 3) finds stream packet 7
    assert_eq!(f.resolve_nack(1, 10).map(|r| seq(r.packet)), Some(7));
    assert_eq!(f.counters(), FanoutCounters { lag_events: 1, packets_skipped: 5 });
}

/// RFC 3550 §6.4.1: each live subscriber gets its own counts, the RTP timestamp extrapolated
/// from the newest packet sent (a B-frame's older timestamp does not move it back), or from a
/// publisher's report once one anchored the clock.
#[test]
fn sender_reports_carry_each_subscribers_counts_and_the_extrapolated_clock() {
    use crate::rtcp::{unix_ms_from_ntp, RtcpPacket};
    let report = |r: &crate::egress::SubscriberReport| match RtcpPacket::read(&r.packet).unwrap().0 {
        RtcpPacket::SenderReport(sr) => (r.id, sr.ssrc, sr.rtp_timestamp, sr.packet_count, sr.octet_count, unix_ms_from_ntp(sr.ntp_time).round()),
        other => panic!("{other:?}"),
    };
    let mut f = Fanout::new(64, 64);
    f.add(1, config("s"));
    f.add(2, config("s"));
    f.inject(1, MediaKind::Video, &[], 0, true);
    let mut targets = Vec::new();
    let frame: Vec<Vec<u8>> = (0..2).map(|s| rtp(s, 9000, 77, b"0123456789")).collect();
    let refs: Vec<&[u8]> = frame.iter().map(Vec::as_slice).collect();
    f.media("s", MediaKind::Video, &refs, keyframe_if(true), 1_000.0, &mut targets);
    let b_frame = rtp(2, 6000, 77, b"01234");
    f.media("s", MediaKind::Video, &[&b_frame], keyframe_if(false), 1_010.0, &mut targets);
    let mut out = Vec::new();
    f.sender_reports(1_100.0, &mut out);
    // subscriber 2 is not live: no report; 1 got 3 packets, 25 payload octets; 9000 + 100 ms × 90
    assert_eq!(out.iter().map(report).collect::<Vec<_>>(), vec![(1, 77, 18_000, 3, 25, 1_100.0)]);
    f.inject(2, MediaKind::Video, &[], 0, true);
    f.set_clock_rate("s", MediaKind::Audio, 44_100);
    let audio = rtp(0, 1000, 78, b"aa");
    f.media("s", MediaKind::Audio, &[&audio], keyframe_if(false), 2_000.0, &mut targets);
    f.sender_reports(2_000.0, &mut out);
    let got: Vec<_> = out.iter().map(report).collect();
    assert!(got.contains(&(1, 78, 1000, 1, 2, 2_000.0)) && got.contains(&(2, 78, 1000, 1, 2, 2_000.0)), "{got:?}");
    // a publisher's report anchors the clock; later packets do not move it
    f.anchor("s", MediaKind::Audio, 500, 1_900.0);
    let later = rtp(1, 99_999, 78, b"aa");
    f.media("s", MediaKind::Audio, &[&later], keyframe_if(false), 2_000.0, &mut targets);
    f.sender_reports(2_000.0, &mut out);
    assert!(out.iter().map(report).any(|r| r == (1, 78, 500 + 4_410, 2, 4, 2_000.0)));
}

/// Audio is kept too (a relay link NACKs AAC): a NACK for the audio SSRC finds the packet
/// injected for the subscriber, or the stream's through its audio offset.
#[test]
fn audio_nacks_resolve_through_the_audio_offset() {
    let mut f = Fanout::new(64, 64);
    f.add(1, config("s"));
    let replay: Vec<Vec<u8>> = (40..42).map(|s| rtp(s, 0, 78, b"g")).collect();
    let replay_refs: Vec<&[u8]> = replay.iter().map(Vec::as_slice).collect();
    f.inject(1, MediaKind::Audio, &replay_refs, 30, true);
    assert_eq!(f.kind_of_ssrc(1, 78), Some(MediaKind::Audio), "known from the injected packets already");
    let mut targets = Vec::new();
    let live = rtp(12, 0, 78, b"a");
    f.media("s", MediaKind::Audio, &[&live], keyframe_if(false), 0.0, &mut targets);
    assert_eq!(targets[0].seq_offset, 30);
    assert_eq!(f.kind_of_ssrc(1, 78), Some(MediaKind::Audio));
    assert_eq!(f.kind_of_ssrc(1, 77), None);
    let r = f.resolve_audio_nack(1, 41).unwrap();
    assert_eq!((seq(r.packet), r.seq_offset, r.payload_type), (41, 0, 111));
    let r = f.resolve_audio_nack(1, 42).unwrap(); // stream 12 + 30
    assert_eq!((seq(r.packet), r.seq_offset, &r.packet[12..]), (12, 30, &b"a"[..]));
    assert!(f.resolve_nack(1, 42).is_none(), "not a video packet");
}

#[test]
fn fanout_switches_simulcast_layers_at_keyframes_with_continuous_numbering_and_timeline() {
    let mut f = Fanout::new(1024, 1024);
    f.set_layers("live/a", vec!["live/a~q".into(), "live/a~h".into()], false);
    assert_eq!(f.layers("live/a"), ["live/a~q", "live/a~h", "live/a"]);
    assert!(f.add(1, config("live/a")));
    f.inject(1, MediaKind::Video, &[], 0, true);
    let mut targets = Vec::new();
    let send = |f: &mut Fanout, key: &str, seqs: std::ops::Range<u16>, ts: u32, keyframe: bool, now: f64, targets: &mut Vec<FanoutTarget>| {
        let frame: Vec<Vec<u8>> = seqs.map(|s| rtp(s, ts, 9, key.as_bytes())).collect();
        let refs: Vec<&[u8]> = frame.iter().map(Vec::as_slice).collect();
        f.media(key, MediaKind::Video, &refs, keyframe_if(keyframe), now, targets);
    };
    // the top layer (the stream itself) to begin with; lower layers measured, not sent
    send(&mut f, "live/a", 100..103, 9000, true, 0.0, &mut targets);
    assert_eq!(targets, vec![FanoutTarget { id: 1, payload_type: 102, seq_offset: 0, ts_offset: 0 }]);
    send(&mut f, "live/a~q", 7000..7001, 50, true, 0.0, &mut targets);
    assert!(targets.is_empty());
    assert!(!f.switch_video(1, "live/a"), "already there");
    assert!(!f.switch_video(1, "live/b"), "not a layer");
    assert!(f.switch_video(1, "live/a~q"));
    assert_eq!(f.video_layer(1), Some(("live/a", Some("live/a~q"))));
    send(&mut f, "live/a~q", 7001..7002, 3050, false, 10.0, &mut targets);
    assert!(targets.is_empty(), "not before the layer's keyframe");
    send(&mut f, "live/a", 103..105, 12000, false, 33.0, &mut targets);
    assert_eq!(targets.len(), 1, "the old layer goes on meanwhile");
    // q's keyframe 67 ms after the last packet sent: numbering from 105, timestamp 12000 + 67 × 90
    send(&mut f, "live/a~q", 7002..7004, 6050, true, 100.0, &mut targets);
    let t = targets[0];
    assert_eq!(7002u16.wrapping_add(t.seq_offset), 105);
    assert_eq!(6050u32.wrapping_add(t.ts_offset), 12000 + 67 * 90);
    assert_eq!(f.video_layer(1), Some(("live/a~q", None)));
    send(&mut f, "live/a", 105..106, 15000, false, 120.0, &mut targets);
    assert!(targets.is_empty(), "the old layer is left");
    // audio stays on the stream
    let audio = [rtp(1, 0, 5, b"o")];
    f.media("live/a", MediaKind::Audio, &[&audio[0]], keyframe_if(false), 120.0, &mut targets);
    assert_eq!(targets.len(), 1);
    // NACKs: 104 went out from the top layer, 106 (= q's 7003) from q, with their offsets
    let r = f.resolve_nack(1, 104).unwrap();
    assert_eq!((seq(r.packet), r.ts_offset, &r.packet[12..]), (104, 0, &b"live/a"[..]));
    let r = f.resolve_nack(1, 106).unwrap();
    assert_eq!((seq(r.packet).wrapping_add(r.seq_offset), r.ts_offset, &r.packet[12..]), (106, t.ts_offset, &b"live/a~q"[..]));
    // sender reports: video from q's clock with the offset, audio from the stream's
    let mut reports = Vec::new();
    f.sender_reports(200.0, &mut reports);
    assert_eq!(reports.iter().filter(|r| r.kind == MediaKind::Video).count(), 1);
    assert_eq!(reports.iter().filter(|r| r.kind == MediaKind::Audio).count(), 1);
    // rates: 1 s windows; removal leaves no stream behind
    send(&mut f, "live/a~h", 1..2, 0, false, 0.0, &mut targets);
    send(&mut f, "live/a~h", 2..3, 0, false, 1000.0, &mut targets);
    assert!(f.layer_rates("live/a", 1000.0)[1] > 0.0);
    assert_eq!(f.layer_rates("live/a", 5000.0)[1], 0.0, "stale: not flowing");
    // declared again (a publisher's layers re-read): the rates measured are kept, the top's too
    send(&mut f, "live/a", 106..107, 18000, false, 1100.0, &mut targets);
    let before = f.layer_rates("live/a", 1100.0);
    assert!(before[2] > 0.0);
    f.set_layers("live/a", vec!["live/a~q".into(), "live/a~h".into()], false);
    assert_eq!(f.layer_rates("live/a", 1100.0), before);
    assert!(f.remove(1));
    assert_eq!(f.subscribers_of("live/a") + f.subscribers_of("live/a~q"), 0);
    f.set_layers("live/a", vec![], false);
    assert!(f.layers("live/a").is_empty());
}

#[test]
fn a_scalable_streams_subscriber_moves_down_at_the_next_picture_without_a_keyframe() {
    let mut f = Fanout::new(1024, 1024);
    f.set_layers("live/s", vec!["live/s~S0".into(), "live/s~S1".into()], true);
    f.add(1, config("live/s"));
    f.inject(1, MediaKind::Video, &[], 0, true);
    let mut targets = Vec::new();
    // one picture per batch, the marker on its last packet
    let picture = |f: &mut Fanout, key: &str, seq: u16, ts: u32, marker: bool, keyframe: bool, now: f64, targets: &mut Vec<FanoutTarget>| {
        let mut p = rtp(seq, ts, 9, key.as_bytes());
        if marker {
            p[1] |= 0x80;
        }
        f.media(key, MediaKind::Video, &[&p], keyframe_if(keyframe), now, targets);
    };
    picture(&mut f, "live/s", 10, 0, true, true, 0.0, &mut targets);
    picture(&mut f, "live/s~S0", 500, 0, false, true, 0.0, &mut targets);
    assert!(f.switch_video(1, "live/s~S0"));
    picture(&mut f, "live/s~S0", 501, 0, true, false, 10.0, &mut targets);
    assert!(targets.is_empty(), "mid-picture (the last batch did not end one)");
    picture(&mut f, "live/s~S0", 502, 3000, true, false, 40.0, &mut targets);
    assert_eq!(targets.len(), 1, "down at the next picture start, no keyframe");
    assert_eq!(502u16.wrapping_add(targets[0].seq_offset), 11, "numbering continues");
    assert_eq!(f.video_layer(1), Some(("live/s~S0", None)));
    // up waits for a keyframe
    assert!(f.switch_video(1, "live/s~S1"));
    picture(&mut f, "live/s~S1", 800, 3000, true, false, 50.0, &mut targets);
    picture(&mut f, "live/s~S1", 801, 6000, true, false, 80.0, &mut targets);
    assert!(targets.is_empty(), "up: not before a keyframe");
    picture(&mut f, "live/s~S1", 802, 9000, true, true, 110.0, &mut targets);
    assert_eq!(targets.len(), 1);
    // simulcast layers (not scalable) wait for a keyframe down too
    f.set_layers("live/s", vec!["live/s~S0".into(), "live/s~S1".into()], false);
    assert!(f.switch_video(1, "live/s~S0"));
    picture(&mut f, "live/s~S0", 503, 6000, true, false, 120.0, &mut targets);
    picture(&mut f, "live/s~S0", 504, 9000, true, false, 150.0, &mut targets);
    assert!(targets.is_empty());
}

#[test]
fn subscribers_without_the_descriptor_are_held_at_the_layer_they_decode() {
    let mut f = Fanout::new(1024, 1024);
    f.set_layers("live/s", vec!["live/s~S0".into()], true);
    f.set_layers_without_descriptor("live/s", Some(0));
    f.add(1, config("live/s"));
    f.add(2, SubscriberConfig { takes_descriptor: true, ..config("live/s") });
    for id in [1, 2] {
        f.inject(id, MediaKind::Video, &[], 0, true);
    }
    let mut targets = Vec::new();
    for i in 0..=10u16 {
        let now = f64::from(i) * 100.0;
        f.media("live/s~S0", MediaKind::Video, &[&rtp(i, 0, 9, &[0; 200])], keyframe_if(false), now, &mut targets);
        f.media("live/s", MediaKind::Video, &[&rtp(i, 0, 9, &[0; 1200])], keyframe_if(false), now, &mut targets);
    }
    let (switch, _) = f.select_layers(1, None, 1000.0);
    assert_eq!(switch, None, "down among operating points: no keyframe asked for");
    assert_eq!(f.video_layer(1), Some(("live/s", Some("live/s~S0"))), "held at S0 whatever its estimate");
    assert_eq!(f.select_layers(2, None, 1000.0), (None, None));
    assert_eq!(f.video_layer(2), Some(("live/s", None)), "with the descriptor: the top");
    f.pin_layer(1, Some(1));
    f.select_layers(1, None, 1000.0);
    assert_eq!(f.video_layer(1), Some(("live/s", Some("live/s~S0"))), "a pin does not lift the hold");
}

#[test]
fn fanout_selects_layers_by_estimate() {
    let mut f = Fanout::new(1024, 1024);
    f.set_layers("live/a", vec!["live/a~q".into()], false);
    f.add(1, config("live/a"));
    f.inject(1, MediaKind::Video, &[], 0, true);
    let mut targets = Vec::new();
    // q at ~100 kbit/s, the top at ~1 Mbit/s
    for i in 0..=20u16 {
        let now = i as f64 * 100.0;
        let q = rtp(i, 0, 9, &[0; 1238]);
        let top: Vec<Vec<u8>> = (0..10).map(|k| rtp(i * 10 + k, 0, 9, &[0; 1238])).collect();
        f.media("live/a~q", MediaKind::Video, &[&q], keyframe_if(false), now, &mut targets);
        let refs: Vec<&[u8]> = top.iter().map(Vec::as_slice).collect();
        f.media("live/a", MediaKind::Video, &refs, keyframe_if(false), now, &mut targets);
    }
    let rates = f.layer_rates("live/a", 2000.0);
    assert!((90_000.0..110_000.0).contains(&rates[0]) && (900_000.0..1_100_000.0).contains(&rates[1]), "{rates:?}");
    assert_eq!(f.select_layers(1, None, 2000.0), (None, None), "no estimate: the top");
    let (switch, _) = f.select_layers(1, Some(400_000.0), 2000.0);
    assert_eq!(switch.as_deref(), Some("live/a~q"), "down at once: ask q for a keyframe");
    assert_eq!(f.select_layers(1, Some(400_000.0), 2100.0).0, None, "pending already");
    let (_, probe) = f.select_layers(1, Some(400_000.0), 2100.0);
    assert!(probe.is_none() || probe.unwrap() > 1_000_000.0);
}

#[test]
fn a_stream_policy_caps_only_that_streams_subscribers() {
    let mut f = Fanout::new(1024, 1024);
    for key in ["room/a", "room/b"] {
        f.set_layers(key, vec![format!("{key}~q")], false);
    }
    f.set_stream_policy("room/a", Some(LayerPolicy { max_layer: Some(0), ..LayerPolicy::default() }));
    assert_eq!(f.policy_of("room/a").max_layer, Some(0));
    assert_eq!(f.policy_of("room/b"), LayerPolicy::default());
    f.add(1, config("room/a"));
    f.add(2, config("room/b"));
    f.inject(1, MediaKind::Video, &[], 0, true);
    f.inject(2, MediaKind::Video, &[], 0, true);
    let mut targets = Vec::new();
    for i in 0..=20u16 {
        let now = i as f64 * 100.0;
        for key in ["room/a", "room/b"] {
            let q = rtp(i, 0, 9, &[0; 1238]);
            f.media(&format!("{key}~q"), MediaKind::Video, &[&q], keyframe_if(false), now, &mut targets);
            let top = rtp(i, 0, 9, &[0; 1238]);
            f.media(key, MediaKind::Video, &[&top], keyframe_if(false), now, &mut targets);
        }
    }
    // a plentiful estimate: room/a's subscriber is held at q by its room's policy, room/b's stays on top
    assert_eq!(f.select_layers(1, Some(50_000_000.0), 2000.0).0.as_deref(), Some("room/a~q"));
    assert_eq!(f.select_layers(2, Some(50_000_000.0), 2000.0).0, None);
    f.set_stream_policy("room/a", None);
    assert_eq!(f.policy_of("room/a"), LayerPolicy::default());
}

#[test]
fn rewriter_skips_padding_in_order_without_a_hole() {
    let mut w = RtpRewriter::new(7, 96, 90_000, 99, 0);
    let mut out = [0u8; 64];
    w.rewrite_into(&rtp(10, 0, 1, b"a"), &mut out, 0.0).unwrap();
    assert_eq!(seq(&out), 100);
    w.skip(&rtp(11, 0, 1, b""));
    w.skip(&rtp(12, 0, 1, b""));
    w.rewrite_into(&rtp(13, 0, 1, b"b"), &mut out, 0.0).unwrap();
    assert_eq!(seq(&out), 101, "two padding packets left no hole");
    w.skip(&rtp(20, 0, 1, b""));
    w.skip(&rtp(5, 0, 2, b""));
    w.rewrite_into(&rtp(14, 0, 1, b"c"), &mut out, 0.0).unwrap();
    assert_eq!(seq(&out), 102, "out-of-order and foreign padding change nothing");
}

#[test]
fn a_scalable_streams_subscriber_moves_up_at_a_switching_point_without_asking_for_a_keyframe() {
    let mut f = Fanout::new(1024, 1024);
    f.set_layers("live/t", vec!["live/t~T0".into()], true);
    f.add(1, config("live/t"));
    f.inject(1, MediaKind::Video, &[], 0, true);
    let mut targets = Vec::new();
    let picture = |f: &mut Fanout, key: &str, seq: u16, ts: u32, start: FrameStart, now: f64, targets: &mut Vec<FanoutTarget>| {
        let mut p = rtp(seq, ts, 9, key.as_bytes());
        p[1] |= 0x80;
        f.media(key, MediaKind::Video, &[&p], start, now, targets);
    };
    // both operating points flow; the subscriber starts on T0 (pinned)
    f.pin_layer(1, Some(0));
    let mut now = 0.0;
    for i in 0..40u16 {
        // T0 every 4th frame of the top (L1T3): a switching point of both
        let start = if i % 4 == 0 { FrameStart::SwitchPoint } else { FrameStart::Delta };
        picture(&mut f, "live/t", 100 + i, u32::from(i) * 3000, if i == 0 { FrameStart::Keyframe } else { start }, now, &mut targets);
        if i % 4 == 0 {
            picture(&mut f, "live/t~T0", 500 + i / 4, u32::from(i) * 3000, if i == 0 { FrameStart::Keyframe } else { start }, now, &mut targets);
        }
        now += 33.0;
    }
    assert_eq!(f.select_layers(1, None, now), (None, None), "down to the pin: at the next picture, no keyframe asked");
    // (T0's picture starts are followed before it has subscribers: its first picture will do)
    picture(&mut f, "live/t~T0", 510, 120_000, FrameStart::Delta, now, &mut targets);
    assert_eq!(f.video_layer(1), Some(("live/t~T0", None)));
    // unpinned, no estimate: the top; it showed switching points lately, so no keyframe is asked
    f.pin_layer(1, None);
    now += 33.0;
    assert_eq!(f.select_layers(1, None, now), (None, None));
    assert_eq!(f.video_layer(1), Some(("live/t~T0", Some("live/t"))));
    picture(&mut f, "live/t", 140, 123_000, FrameStart::Delta, now, &mut targets);
    assert!(!targets.iter().any(|t| t.id == 1), "not at a delta frame");
    picture(&mut f, "live/t", 141, 126_000, FrameStart::SwitchPoint, now + 33.0, &mut targets);
    assert!(targets.iter().any(|t| t.id == 1), "up at the switching point");
    assert_eq!(f.video_layer(1), Some(("live/t", None)));
    // a simulcast layer's (not scalable) switching point is no place to move
    f.set_layers("live/t", vec!["live/t~T0".into()], false);
    assert!(f.switch_video(1, "live/t~T0"));
    picture(&mut f, "live/t~T0", 512, 129_000, FrameStart::SwitchPoint, now + 66.0, &mut targets);
    assert!(targets.is_empty());
}

#[test]
fn an_up_switch_asks_for_a_keyframe_when_its_target_shows_no_switching_points() {
    let mut f = Fanout::new(1024, 1024);
    f.set_layers("live/s", vec!["live/s~S0".into()], true);
    f.add(1, config("live/s"));
    f.inject(1, MediaKind::Video, &[], 0, true);
    f.pin_layer(1, Some(0));
    let mut targets = Vec::new();
    let mut now = 0.0;
    for i in 0..40u16 {
        for key in ["live/s", "live/s~S0"] {
            let mut p = rtp(10 + i, u32::from(i) * 3000, 9, key.as_bytes());
            p[1] |= 0x80;
            f.media(key, MediaKind::Video, &[&p], keyframe_if(i == 0), now, &mut targets);
        }
        now += 33.0;
        if i == 35 {
            f.select_layers(1, None, now);
        }
    }
    assert_eq!(f.video_layer(1), Some(("live/s~S0", None)));
    f.pin_layer(1, None);
    // spatial layers: only keyframes (none of the top's batches was a switching point)
    assert_eq!(f.select_layers(1, None, now), (Some("live/s".into()), None));
}
