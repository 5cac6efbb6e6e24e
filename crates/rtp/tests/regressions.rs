//! Fuzz crash reproducers, kept as tests (DESIGN.md: "crash reproducers become regression
//! tests"). Each input runs through the very harness its fuzz target runs
//! (`crates/fuzz/src/rtp.rs`, included below), so a reproducer fails here exactly as it
//! crashed there, under plain `cargo test -p sluice-rtp`.
//!
//! To add one: `xxd -i crates/fuzz/artifacts/<target>/crash-<hash>` (or `cargo fuzz fmt`), paste
//! the bytes into a test named after what it broke, call `harness::<target>(&bytes)`, fix the
//! bug, and keep the test. Minimise first with `cargo +nightly fuzz tmin`.

#[allow(dead_code)]
#[path = "../../fuzz/src/rtp.rs"]
mod harness;

/// The inputs every harness must survive, as a smoke test that the included harness code
/// builds and runs here: empty input, short garbage, and a minimal valid RTP packet.
#[test]
fn harnesses_accept_trivial_inputs() {
    for input in [&[][..], &[0], &[0x80], &[0xFF; 64]] {
        harness::rtp_packet(input);
        harness::h264_depacketize(input);
        harness::vp8_depacketize(input);
        harness::av1_packetize(input);
        harness::h265_packetize(input);
        harness::aac_depacketize(input);
        harness::rtcp_compound(input);
        harness::reorder_buffer(input);
        harness::rtp_egress(input);
        harness::bwe_feedback(input);
        harness::twcc_recorder(input);
        harness::simulcast_layers(input);
        harness::svc_filter(input);
        harness::dependency_descriptor(input);
    }
    harness::rtp_packet(&[0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xAB]);
}

/// A packet with two CSRCs, a one-byte header extension (elements 1 and 2, then padding) and
/// three bytes of padding; and an IDR access unit carried as STAP-A (SPS, PPS) then FU-A.
#[test]
fn rtp_harnesses_replay_realistic_packets() {
    let mut packet = vec![
        0xB2, 0xE0, 0x12, 0x34, 0, 0, 0x10, 0, 0xDE, 0xAD, 0xBE, 0xEF,
    ];
    packet.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]); // CSRCs
    packet.extend_from_slice(&[0xBE, 0xDE, 0, 2, 0x10, 0xAA, 0x21, 0xBB, 0xCC, 0, 0, 0]);
    packet.extend_from_slice(&[1, 2, 3, 4, 5]); // payload
    packet.extend_from_slice(&[0, 0, 3]); // padding
    harness::rtp_packet(&packet);

    let mut stream = Vec::new();
    // STAP-A: SPS (4 bytes), PPS (2 bytes), no marker.
    let stap = [24u8, 0, 4, 0x67, 0x42, 0, 0x1F, 0, 2, 0x68, 0xCE];
    stream.extend_from_slice(&[0, stap.len() as u8]);
    stream.extend_from_slice(&stap);
    // FU-A start and end of an IDR slice, the end with the marker.
    stream.extend_from_slice(&[0, 4, 0x7C, 0x85, 0x88, 0x84]);
    stream.extend_from_slice(&[1, 4, 0x7C, 0x45, 0x21, 0x00]);
    harness::h264_depacketize(&stream);
}

/// An IRAP access unit (an IDR slice larger than the MTU) with parameter sets kept first.
#[test]
fn h265_packetize_replays_a_fragmented_irap() {
    let mut au = vec![0, 1, 0, 0, 1, 44]; // MTU 64, parameter sets; a 300-byte IDR_N_LP (20)
    au.extend_from_slice(&[20 << 1, 1]);
    au.extend(std::iter::repeat_n(0x5A, 298));
    harness::h265_packetize(&au);
}

/// h265_packetize, found in its first minute of fuzzing: a publisher's NAL unit of type 48
/// (unspecified in H.265) went out as a single NAL unit packet, which a receiver reads as an
/// aggregation packet (RFC 7798 §4.4.2) with a size running past its end. Types 48–63 are now
/// dropped, as H.264's 24–31 are.
#[test]
fn h265_nal_unit_of_a_type_rtp_uses_is_not_sent() {
    harness::h265_packetize(&[0x00, 0x5a, 0x00, 0x00, 0x00, 0x06, 0x60, 0x2a, 0x0a, 0x09, 0x09, 0x09]);
}

/// A temporal unit with a temporal delimiter and a key frame larger than the MTU, with and
/// without a sequence header kept first.
#[test]
fn av1_packetize_replays_a_fragmented_key_frame() {
    let mut tu = vec![0, 1, 0x12, 0]; // MTU 64, a sequence header; temporal delimiter
    tu.extend_from_slice(&[0x32, 0xC8, 0x01]); // frame OBU, 200 bytes
    tu.push(0x10); // show_existing_frame 0, KEY_FRAME
    tu.extend(std::iter::repeat_n(0xAB, 199));
    harness::av1_packetize(&tu);
    tu[1] = 0;
    harness::av1_packetize(&tu);
}

/// h264_depacketize, found in its first seconds of fuzzing: a loss (`lost()`), then an FU-A
/// start fragment, then a packet with a new timestamp ending an FU-A. Finishing the broken
/// access unit emptied it but, through a `broken || fu_start.take()` short circuit, kept the
/// FU-A start offset, so the end fragment computed `au.len() - fu_start - 4` below zero and
/// sliced past the end (a panic a publisher could trigger with three packets). The start
/// offset is now always dropped with the access unit.
#[test]
fn h264_fu_a_end_after_a_lost_unfinished_fu_a_does_not_slice_past_the_access_unit() {
    let input: [u8; 11] = [
        0x0e, 0x02, 0x7c, 0x8c, 0xcc, 0xcc, 0x7c, 0x41, 0x8c, 0xcc, 0xcc,
    ];
    harness::h264_depacketize(&input);

    // The same directly: nothing comes out (no IDR yet), and nothing panics.
    use sluice_rtp::depacketizer::H264Depacketizer;
    use sluice_rtp::packet::RtpHeader;
    let mut d = H264Depacketizer::new(4096);
    let mut out = Vec::new();
    d.lost();
    let _ = d.push(&RtpHeader::new(96, 0, 1000, 1), &[0x7c, 0x8c], &mut out);
    let end = d.push(
        &RtpHeader::new(96, 1, 4000, 1),
        &[0x7c, 0x41, 0xAA],
        &mut out,
    );
    assert!(
        end.is_ok(),
        "a mid-unit join while waiting for an IDR is not an error"
    );
    assert!(out.is_empty());
}

/// A compound packet as a browser sends it: RR, SDES CNAME, then a NACK and a PLI.
#[test]
fn rtcp_harness_replays_a_browser_compound() {
    let wire = [
        0x81, 0xC9, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0x0A, 0, 0, 3, 0, 1, 0, 10, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, // RR
        0x81, 0xCA, 0, 3, 0, 0, 0, 1, 1, 4, b'a', b'b', b'c', b'd', 0, 0, // SDES
        0x81, 0xCD, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0x03, 0xE8, 0x80, 0x01, // NACK
        0x81, 0xCE, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, // PLI
    ];
    harness::rtcp_compound(&wire);
}

/// The egress harness on a realistic run: packets rewritten across a publisher change, a video
/// batch fanned out, a GOP replay injected for subscriber 1, and NACKs resolved for both.
#[test]
fn rtp_egress_replays_a_publisher_change_and_nacks() {
    let rtp = |seq: u16, ssrc: u8| vec![0x80, 96, (seq >> 8) as u8, seq as u8, 0, 0, 0, 9, 0, 0, 0, ssrc, 0xAA, 0xBB];
    let mut input = Vec::new();
    let mut record = |op: u8, p: Vec<u8>| {
        input.push(op);
        input.push(p.len() as u8);
        input.extend_from_slice(&p);
    };
    record(1, rtp(10, 1));
    record(1, rtp(11, 1));
    record(3, rtp(500, 1)); // a new publisher (SSRC flipped)
    record(0x08, rtp(900, 1)); // injected for subscriber 1
    record(0x04, rtp(20, 1)); // keyframe batch
    record(0x30, rtp(20, 1)); // NACK both for it
    record(0x10, rtp(900, 1));
    harness::rtp_egress(&input);
}

/// cargo-fuzz `rtp_egress` crash (2026-12-05, 167 k runs): two packets of one input SSRC whose
/// sequence numbers are not consecutive. The rewriter was right (it keeps the input's distance,
/// so the receiver still sees the gap); the harness expected +1 and now expects the distance.
#[test]
fn rtp_egress_keeps_the_distance_between_packets_of_one_publisher() {
    let rtp = |seq: u16| vec![0x80, 96, (seq >> 8) as u8, seq as u8, 0, 0, 0, 9, 0, 0, 0, 7, 0xAA];
    let mut input = Vec::new();
    for seq in [100u16, 105, 103, 65535, 2] {
        let p = rtp(seq);
        input.push(1);
        input.push(p.len() as u8);
        input.extend_from_slice(&p);
    }
    harness::rtp_egress(&input);
    // The crash input itself (crash-4d57303b47a57036205f7280159d6a3acbad3a7e, 502 bytes).
    let crash: &[u8] = &[
        0x26, 0x12, 0x08, 0x00, 0xF4, 0x13, 0x12, 0x12, 0xED, 0xED, 0xED, 0xEC, 0xFA, 0xFF, 0x12,
        0x12, 0x12, 0x12, 0x00, 0x4D, 0x26, 0x12, 0x08, 0x00, 0xF4, 0x0C, 0x0C, 0x3C, 0x0C, 0x0C,
        0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x1C, 0x2B, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87,
        0x12, 0x12, 0x0C, 0x0C, 0x0C, 0x0C, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83,
        0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83,
        0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83,
        0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C,
        0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x3C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C,
        0x1C, 0x2B, 0x0C, 0x0D, 0x0C, 0x0C, 0x0C, 0x0A, 0x75, 0xF3, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C,
        0x0E, 0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C,
        0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C, 0x0C,
        0x0C, 0x2B, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C,
        0x0E, 0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C,
        0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C, 0x0E,
        0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D,
        0x0C, 0x13, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x3C, 0x0C, 0x0C, 0x0C, 0x0C,
        0x0C, 0x0C, 0x3C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C,
        0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x3C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C,
        0x0C, 0x0C, 0x0C, 0x1C, 0x2B, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x12, 0x12, 0x0C, 0x0C,
        0x0C, 0x0C, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83,
        0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83,
        0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x0C, 0x0C, 0x4D, 0x0C,
        0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C,
        0x0C, 0x3C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x1C, 0x2B, 0x0C, 0x0D,
        0x0C, 0x0C, 0x0C, 0x0A, 0x75, 0xF3, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C,
        0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87,
        0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x2B, 0x0C, 0x0C,
        0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C,
        0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87,
        0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0E, 0x87, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C,
        0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x3C, 0x0C, 0x0C, 0x0C, 0x0C, 0xFF, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0xB4, 0x0C, 0x0C, 0x3C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C,
        0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x0C, 0x4D, 0x0C, 0x0C, 0x3C, 0x0C, 0x0C,
        0x0C, 0x0C, 0x0C, 0x0C, 0x3C, 0x0C, 0x0C,
    ];
    harness::rtp_egress(crash);
}

/// The estimator harness with a real feedback: 40 packets sent, then a transport-wide CC
/// feedback (written by the RTCP writer) reporting them received 1 ms apart.
#[test]
fn bwe_harness_replays_a_feedback() {
    use sluice_rtp::rtcp::{RtcpPacket, TransportFeedback, TwccPacket};
    let feedback = TransportFeedback { packets: (0..40).map(|s| TwccPacket { sequence: s, arrival_us: Some(i64::from(s) * 1000) }).collect(), ..Default::default() };
    let mut wire = Vec::new();
    RtcpPacket::TransportFeedback(feedback).write(&mut wire).unwrap();
    let mut input = vec![1, 40, 0, wire.len() as u8];
    input.extend_from_slice(&wire);
    harness::bwe_feedback(&input);
}

/// A deterministic sweep of pseudo-random inputs through the two harnesses added with simulcast
/// (cargo-fuzz runs them unbounded; this keeps them exercised under `cargo test`).
#[test]
fn simulcast_and_twcc_recorder_harnesses_survive_a_sweep() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..400 {
        let len = (next() % 600) as usize;
        let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        harness::twcc_recorder(&input);
        // mostly RTP-looking records for the layer harness: version 2, small lengths
        for chunk in input.chunks_mut(16) {
            if chunk.len() == 16 {
                chunk[1] = 14;
                chunk[2] = 0x80 | (chunk[2] & 0x3F);
            }
        }
        harness::simulcast_layers(&input);
    }
}

/// A VP9 L3T3_KEY-shaped stream through each operating point of the SVC filter: a key picture
/// (S0 with the scalability structure, S1, S2) and inter pictures of each temporal layer, then
/// every truncation and one-byte corruption of it.
#[test]
fn svc_filter_sweeps_every_operating_point() {
    let mut stream = Vec::new();
    let mut record = |flags: u8, payload: &[u8]| {
        stream.push(flags);
        stream.push(payload.len() as u8);
        stream.extend_from_slice(payload);
    };
    // key picture: S0 (B, SS of 3 layers, 1 TID group entry), S1 (D), S2 (D, E, marker)
    record(0, &[0xAA, 0x81, 0x00, 0x00, 0x05, 0x50, 1, 64, 0, 180, 2, 128, 1, 104, 5, 0, 2, 208, 0xEE]);
    record(0, &[0xAC, 0x81, 0x00, 0x03, 0x05, 0xEE]);
    record(1, &[0xAC, 0x81, 0x00, 0x05, 0x05, 0xEE]);
    for (tid, pid) in [(2u8, 1u8), (1, 2), (2, 3)] {
        for sid in 0..3u8 {
            let b0 = 0x80 | 0x40 | 0x20 | 0x08 | 0x04;
            record(u8::from(sid == 2), &[b0, pid, (tid << 5) | 0x10 | (sid << 1), 0x05, 0xEE, 0xEE]);
        }
    }
    for op in 0..16u8 {
        let mut input = vec![op];
        input.extend_from_slice(&stream);
        harness::svc_filter(&input);
        for cut in 1..input.len() {
            harness::svc_filter(&input[..cut]);
        }
        for at in 1..input.len() {
            let mut bad = input.clone();
            bad[at] ^= 0xA5;
            harness::svc_filter(&bad);
        }
    }
}

/// The dependency descriptor harness over Chromium's own `L3T3_KEY` key frame structure (the
/// 90-byte element of `svc::tests::CHROMIUM_L3T3_KEY_STRUCTURE`) and then a picture of frames
/// naming each of its templates, at every operating point; then every truncation and a byte
/// flip at every offset.
#[test]
fn dependency_descriptor_sweeps_chromiums_structure() {
    let key = "80005c80081485214eaaaaa8000600004000100002aa80a8000600004000100002a000a800060000400016d549241b5524906d54923157e001974ca864330e222396eca8655304224390eca87753013f00b3027f016704ff02cf";
    let key: Vec<u8> = (0..key.len()).step_by(2).map(|i| u8::from_str_radix(&key[i..i + 2], 16).unwrap()).collect();
    let mut stream = vec![0u8, key.len() as u8];
    stream.extend_from_slice(&key);
    for template in 0..16u8 {
        // start and end of frame, template id from the key frame's onwards, frame number 93 + n
        let id = (key[0] & 0x3F).wrapping_add(template) & 0x3F;
        stream.extend_from_slice(&[u8::from(template % 3 == 2), 3, 0xC0 | id, 0, 93 + template]);
    }
    stream.extend_from_slice(&[2, 3, 0xC0, 0, 1]); // a packet without the extension
    for op in 0..16u8 {
        let mut input = vec![op];
        input.extend_from_slice(&stream);
        harness::dependency_descriptor(&input);
        for cut in 1..input.len() {
            harness::dependency_descriptor(&input[..cut]);
        }
        for at in 1..input.len() {
            let mut bad = input.clone();
            bad[at] ^= 0xA5;
            harness::dependency_descriptor(&bad);
        }
    }
}
