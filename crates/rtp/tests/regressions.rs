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
        harness::aac_depacketize(input);
        harness::rtcp_compound(input);
        harness::reorder_buffer(input);
        harness::rtp_egress(input);
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
