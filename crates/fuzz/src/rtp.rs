//! Fuzz harnesses of the RTP core (sluice-rtp): the RTP header with its CSRCs, header
//! extension and padding, the H.264, VP8 and AAC depacketizers, which read what a WebRTC or RTP
//! publisher sends (untrusted), and compound RTCP, which every viewer and publisher sends.
//!
//! Plain Rust with no libFuzzer dependency: `crates/rtp/tests/regressions.rs` includes this file
//! with `#[path]` and replays crash inputs through exactly the same code under
//! `cargo test -p sluice-rtp`. So it names crates only by absolute paths (`sluice_rtp::…`),
//! never `crate::`, and uses no crate sluice-rtp does not depend on.

use sluice_rtp::depacketizer::{
    AacAccessUnit, AacDepacketizer, H264AccessUnit, H264Depacketizer, Vp8Depacketizer, Vp8Frame,
};
use sluice_rtp::packet::{ExtensionForm, RtpHeader};
use sluice_rtp::rtcp::{parse_compound, Header, RtcpPacket};

// ------------------------------------------------------------------ rtp_packet

/// RTP header parse (RFC 3550 §5.1, §5.3.1, RFC 8285): never panics; the payload range lies in
/// the packet right after the header; the RFC 8285 elements lie in the extension data and end;
/// and writing the parsed header back with its payload and padding gives the same bytes (the
/// padding bytes before the count excepted: they are written as zeros).
pub fn rtp_packet(data: &[u8]) {
    let Ok((header, offset, len)) = RtpHeader::parse(data) else {
        return;
    };
    assert_eq!(offset, header.header_len());
    assert!(offset + len <= data.len());
    assert_eq!(offset + len + header.padding as usize, data.len());
    assert_eq!(header.csrcs().len(), (data[0] & 0x0F) as usize);

    if let Some(ext) = header.extension {
        assert_eq!(ext.data.len() % 4, 0);
        let mut count = 0usize;
        let mut errors = 0usize;
        for element in ext.elements() {
            count += 1;
            // Each element takes at least one byte, so the iteration is bounded by the data.
            assert!(count <= ext.data.len() + 1, "elements do not end");
            match element {
                Ok(e) => {
                    assert_ne!(e.id, 0, "padding is skipped");
                    match ext.form() {
                        ExtensionForm::OneByte => {
                            assert!((1..=14).contains(&e.id));
                            assert!((1..=16).contains(&e.data.len()));
                        }
                        ExtensionForm::TwoByte { .. } => assert!(e.data.len() <= 255),
                        ExtensionForm::Other(_) => panic!("no elements in an unknown profile"),
                    }
                    let start = e.data.as_ptr() as usize - ext.data.as_ptr() as usize;
                    assert!(start + e.data.len() <= ext.data.len());
                }
                Err(_) => errors += 1,
            }
        }
        assert!(errors <= 1, "an error ends the iteration");
        for id in [1u8, 14, 15, 255] {
            if let Some(found) = ext.find(id) {
                assert!(found.len() <= ext.data.len());
            }
        }
    }

    let payload = &data[offset..offset + len];
    let mut buf = vec![0u8; data.len()];
    let written = header
        .write_packet(payload, &mut buf)
        .expect("a parsed header writes back");
    assert_eq!(written, data.len());
    let end = data.len() - (header.padding > 0) as usize;
    assert_eq!(
        &buf[..offset + len],
        &data[..offset + len],
        "header round trip"
    );
    assert_eq!(buf[end..], data[end..], "padding count round trip");
    let (again, again_offset, again_len) = RtpHeader::parse(&buf).expect("written packet parses");
    assert_eq!(again, header);
    assert_eq!((again_offset, again_len), (offset, len));
}

// ------------------------------------------------------------------ depacketizers

/// One RTP packet of a depacketizer input: the input is a series of records
/// `control (1) | length (1) | payload (length, cut short at the end)`; control bit 0 is the
/// marker, bit 1 reports a loss before the packet, bits 2–3 step the timestamp (same, +3000 or
/// +1024, +1, or back by 3000).
struct Packet<'a> {
    marker: bool,
    lost_before: bool,
    timestamp: u32,
    payload: &'a [u8],
}

fn packets(mut data: &[u8]) -> Vec<Packet<'_>> {
    let mut out = Vec::new();
    let mut timestamp = 0x1234_5678u32;
    while let [control, len, rest @ ..] = data {
        let n = (*len as usize).min(rest.len());
        timestamp = match control >> 2 & 3 {
            0 => timestamp,
            1 => timestamp.wrapping_add(3000),
            2 => timestamp.wrapping_add(1),
            _ => timestamp.wrapping_sub(3000),
        };
        out.push(Packet {
            marker: control & 1 != 0,
            lost_before: control & 2 != 0,
            timestamp,
            payload: &rest[..n],
        });
        data = &rest[n..];
    }
    out
}

/// Largest access unit in the H.264 harness: small, so the fuzzer reaches the limit.
const FUZZ_MAX_ACCESS_UNIT: usize = 4096;

/// Checks one H.264 access unit: AVCC NAL units (4-byte length, then at least the NAL header)
/// tiling the data exactly, without SPS, PPS, AUD or filler, within the size limit.
fn check_h264_access_unit(au: &H264AccessUnit) {
    assert!(!au.data.is_empty());
    assert!(au.data.len() <= FUZZ_MAX_ACCESS_UNIT);
    let mut at = 0;
    let mut idr = false;
    while at < au.data.len() {
        let len = au
            .data
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .expect("a whole length prefix");
        assert!(len >= 1, "empty NAL unit");
        let nal = au
            .data
            .get(at + 4..at + 4 + len)
            .expect("NAL inside the AU");
        let nal_type = nal[0] & 0x1F;
        assert!(
            ![7, 8, 9, 12].contains(&nal_type),
            "parameter sets, AUD and filler are taken out"
        );
        idr |= nal_type == 5;
        at += 4 + len;
    }
    assert_eq!(at, au.data.len());
    assert_eq!(au.keyframe, idr, "keyframe iff it holds an IDR slice");
}

/// H.264 depacketizer (RFC 6184 single NAL, STAP-A, FU-A): never panics; every access unit
/// out is well-formed AVCC within the limit; at most two come out per packet; the first, and
/// the first after a loss, is an IDR with parameter sets known.
pub fn h264_depacketize(data: &[u8]) {
    let mut depacketizer = H264Depacketizer::new(FUZZ_MAX_ACCESS_UNIT);
    let mut out = Vec::new();
    let mut need_keyframe = true;
    for (seq, p) in packets(data).into_iter().enumerate() {
        if p.lost_before {
            depacketizer.lost();
            need_keyframe = true;
        }
        let mut header = RtpHeader::new(96, seq as u16, p.timestamp, 0x5EED);
        header.marker = p.marker;
        let before = out.len();
        let _ = depacketizer.push(&header, p.payload, &mut out);
        assert!(out.len() - before <= 2);
        for au in &out[before..] {
            check_h264_access_unit(au);
            if need_keyframe {
                assert!(au.keyframe, "output starts at an IDR");
                need_keyframe = false;
            }
        }
        if out.len() > before {
            let (sps, pps) = depacketizer
                .parameter_sets()
                .expect("parameter sets known once output started");
            assert!(sps[0] & 0x1F == 7 && pps[0] & 0x1F == 8);
        }
        let _ = depacketizer.take_keyframe_request();
        out.clear();
    }
}

/// VP8 depacketizer (RFC 7741): never panics; at most two frames come out per packet, each
/// within the limit and at least 3 bytes (the frame tag); a key frame has its start code and a
/// size; the first frame out, and the first after a loss, is a key frame.
pub fn vp8_depacketize(data: &[u8]) {
    let mut depacketizer = Vp8Depacketizer::new(FUZZ_MAX_ACCESS_UNIT);
    let mut out: Vec<Vp8Frame> = Vec::new();
    let mut need_keyframe = true;
    for (seq, p) in packets(data).into_iter().enumerate() {
        if p.lost_before {
            depacketizer.lost();
            need_keyframe = true;
        }
        let mut header = RtpHeader::new(96, seq as u16, p.timestamp, 0x5EED);
        header.marker = p.marker;
        let _ = depacketizer.push(&header, p.payload, &mut out);
        assert!(out.len() <= 2);
        for frame in &out {
            assert!(frame.data.len() >= 3 && frame.data.len() <= FUZZ_MAX_ACCESS_UNIT);
            assert_eq!(frame.keyframe, frame.data[0] & 1 == 0);
            if frame.keyframe {
                assert_eq!(frame.data[3..6], [0x9d, 0x01, 0x2a]);
                assert!(frame.size.is_some());
            }
            if need_keyframe {
                assert!(frame.keyframe, "output starts at a key frame");
                need_keyframe = false;
            }
        }
        let _ = depacketizer.take_keyframe_request();
        out.clear();
    }
}

/// H.265 packetizer (RFC 7798) on an access unit from a publisher: byte 0 picks the MTU
/// (64–1263) and bit 0 of byte 1 sets VPS/SPS/PPS; the rest is the access unit (4-byte lengths).
/// Never panics; an error appends nothing; every packet fits the MTU; the marker only on the
/// last; aggregation packets hold whole NAL units; FUs start once and end once per NAL unit.
pub fn h265_packetize(data: &[u8]) {
    use sluice_rtp::packetizer::{H265Packetizer, PacketBatch, Packetizer};
    let (Some(&m), Some(&flags)) = (data.first(), data.get(1)) else {
        return;
    };
    let mtu = 64 + usize::from(m) * 4;
    let mut p = H265Packetizer::new(1, 96).unwrap();
    p.state_mut().set_mtu(mtu).unwrap();
    if flags & 1 != 0 {
        p.set_parameter_sets(vec![vec![0x40, 1, 7]], vec![vec![0x42, 1, 8]], vec![vec![0x44, 1, 9]]);
    }
    let mut out = PacketBatch::new();
    if p.packetize(&data[2..], 3000, &mut out).is_err() {
        assert!(out.is_empty());
        return;
    }
    let n = out.len();
    let mut in_fu = false;
    for (i, packet) in out.iter().enumerate() {
        assert!(packet.len() <= mtu && packet.len() >= 14);
        assert_eq!(packet[1] & 0x80 != 0, i + 1 == n, "marker on the last packet only");
        let payload = &packet[12..];
        match (payload[0] >> 1) & 0x3F {
            48 => {
                let mut at = 2;
                while at < payload.len() {
                    let len = usize::from(u16::from_be_bytes([payload[at], payload[at + 1]]));
                    assert!(len >= 2 && at + 2 + len <= payload.len());
                    at += 2 + len;
                }
                assert!(!in_fu);
            }
            49 => {
                let h = payload[2];
                assert_eq!(h & 0x80 != 0, !in_fu, "an FU starts once");
                in_fu = h & 0x40 == 0;
            }
            _ => assert!(!in_fu),
        }
    }
    assert!(!in_fu, "the last FU ends");
}

/// AV1 packetizer (AOM RTP payload format for AV1) on a temporal unit from a publisher: byte 0
/// picks the MTU (64–1263), byte 1 bit 0 gives a sequence header to keep first, the rest is the
/// temporal unit. Never panics; an error appends nothing; every packet fits the MTU, carries
/// W = 0, Z only after a packet with Y, N only on the first, the marker only on the last; and
/// the elements' pieces add up to whole OBUs without size fields.
pub fn av1_packetize(data: &[u8]) {
    use sluice_rtp::packetizer::{Av1Packetizer, PacketBatch, Packetizer};
    let (Some(&m), Some(&flags)) = (data.first(), data.get(1)) else {
        return;
    };
    let mtu = 64 + usize::from(m) * 4;
    let mut p = Av1Packetizer::new(1, 45).unwrap();
    p.state_mut().set_mtu(mtu).unwrap();
    if flags & 1 != 0 {
        let _ = p.set_sequence_header(&[0x0A, 3, 0, 0, 0]);
    }
    let mut out = PacketBatch::new();
    if p.packetize(&data[2..], 3000, &mut out).is_err() {
        assert!(out.is_empty());
        return;
    }
    let n = out.len();
    let mut continues = false;
    for (i, packet) in out.iter().enumerate() {
        assert!(packet.len() <= mtu && packet.len() > 13);
        assert_eq!(packet[1] & 0x80 != 0, i + 1 == n, "marker on the last packet only");
        let aggregation = packet[12];
        assert_eq!(aggregation & 0x30, 0);
        assert_eq!(aggregation & 0x80 != 0, continues, "Z after Y");
        assert!(i == 0 || aggregation & 0x08 == 0, "N on the first packet only");
        continues = aggregation & 0x40 != 0;
        let mut at = 13;
        let mut first = true;
        while at < packet.len() {
            let (len, used) = sluice_rtp::packetizer::av1::read_leb128(&packet[at..]).expect("length");
            at += used;
            assert!(len > 0 && at + len <= packet.len());
            if !(first && aggregation & 0x80 != 0) {
                assert_eq!(packet[at] & 0x02, 0, "an element has no obu_size");
            }
            at += len;
            first = false;
        }
    }
    assert!(!continues, "the last packet does not continue");
}

/// AAC depacketizer (RFC 3640 AAC-hbr): never panics; an error appends nothing; access units
/// fit their 13-bit AU-size; the units of one packet carry consecutive timestamps 1024 apart.
pub fn aac_depacketize(data: &[u8]) {
    let mut depacketizer = AacDepacketizer::new();
    let mut out: Vec<AacAccessUnit> = Vec::new();
    for p in packets(data) {
        if p.lost_before {
            depacketizer.lost();
        }
        let result = depacketizer.push(p.timestamp, p.marker, p.payload, &mut out);
        if result.is_err() {
            assert!(out.is_empty(), "nothing of a rejected packet is appended");
        }
        for au in &out {
            assert!(au.data.len() <= 0x1FFF);
        }
        if out.len() > 1 {
            for (i, au) in out.iter().enumerate() {
                assert_eq!(
                    au.timestamp,
                    p.timestamp.wrapping_add(1024 * i as u32),
                    "AU {i} of a packet"
                );
            }
        }
        out.clear();
    }
}

// ------------------------------------------------------------------ rtcp_compound

/// Compound RTCP (RFC 3550 §6.1 and the feedback of RFC 4585, RFC 5104, REMB, TWCC): never
/// panics; an error ends the walk; the packets read tile a prefix of the input; every packet
/// read, written back, reads to itself (NACK lists compared sorted and without duplicates, as
/// the writer packs them; a saturated REMB bitrate excepted).
pub fn rtcp_compound(data: &[u8]) {
    let mut consumed = 0usize;
    let mut failed = false;
    for part in parse_compound(data) {
        assert!(!failed, "nothing after an error");
        let packet = match part {
            Ok(p) => p,
            Err(e) => {
                assert!(e.code().starts_with("RTCP_"));
                failed = true;
                continue;
            }
        };
        let header = Header::read(&data[consumed..]).expect("a packet read has a header");
        consumed += header.size;
        assert!(consumed <= data.len());
        if let RtcpPacket::Unknown(h) = packet {
            assert_eq!(h, header);
            continue;
        }
        if let RtcpPacket::Remb(r) = &packet {
            if r.bitrate == u64::MAX {
                continue;
            }
        }
        let mut out = Vec::new();
        packet.write(&mut out).expect("a packet read can be written");
        let again = parse_compound(&out).collect::<Result<Vec<_>, _>>().expect("what we wrote reads");
        assert_eq!(again.len(), 1);
        let canonical = |p: &RtcpPacket| match p {
            RtcpPacket::Nack(n) => {
                let mut n = n.clone();
                n.lost.sort_unstable();
                n.lost.dedup();
                RtcpPacket::Nack(n)
            }
            other => other.clone(),
        };
        assert_eq!(canonical(&again[0]), canonical(&packet));
    }
}

// ------------------------------------------------------------------ reorder_buffer

/// The reordering buffer (RTP packets of a WHIP track, an RTP ingest, a relay link arrive in
/// any order, with any sequence numbers). Byte 0 picks the capacity (1..=64) and byte 1 the
/// wait (0..=255 ms); then records `sequence step (2, BE, wrapping) | time step ms (1) |
/// pops (1)`, each pushing a 2-byte packet holding its own sequence number.
///
/// Checks besides "no panic": output runs in strictly increasing extended sequence numbers
/// (packets and lost runs never overlap or go back); a released packet is the one pushed with
/// that sequence number; nothing is held beyond the capacity; a packet accepted is released
/// or reported lost at most once; missing reports come at most 1024 at a time.
pub fn reorder_buffer(data: &[u8]) {
    use sluice_rtp::depacketizer::{PushOutcome, Released, ReorderBuffer};
    let [capacity, wait, rest @ ..] = data else {
        return;
    };
    let capacity = 1 + (*capacity as usize % 64);
    let mut buffer = ReorderBuffer::new(*wait as u32, capacity);
    let mut seq = 0u16;
    let mut now = 0u64;
    let mut last_out: Option<u64> = None;
    fn check(last_out: &mut Option<u64>, from: u64, to: u64) {
        if let Some(last) = *last_out {
            assert!(from > last, "output went back: {from} after {last}");
        }
        *last_out = Some(to);
    }
    for record in rest.chunks_exact(4) {
        seq = seq.wrapping_add(u16::from_be_bytes([record[0], record[1]]));
        now += record[2] as u64;
        let outcome = buffer.push(seq, &seq.to_be_bytes(), now);
        assert!(buffer.held() <= capacity, "held {} > capacity {capacity}", buffer.held());
        if outcome == PushOutcome::Restarted {
            last_out = None;
        }
        assert!(buffer.take_missing().len() <= 1024);
        for _ in 0..(record[3] & 7) {
            match buffer.pop(now) {
                Some(Released::Packet { extended_sequence, data }) => {
                    assert_eq!(data, &(extended_sequence as u16).to_be_bytes()[..]);
                    check(&mut last_out, extended_sequence, extended_sequence);
                }
                Some(Released::Lost { first, count }) => {
                    assert!(count > 0);
                    check(&mut last_out, first, first + count - 1);
                }
                None => break,
            }
        }
        if let Some(deadline) = buffer.next_deadline_ms() {
            assert!(deadline <= now + *wait as u64, "deadline beyond the wait");
        }
    }
}

// ------------------------------------------------------------------ rtp_egress

/// The egress pipeline on publisher packets (WHIP, SFU, RTP ingest: untrusted) — records
/// `op (1) | length (1) | bytes`: op bit 0 sends the bytes through the [`RtpRewriter`]
/// (bit 1 first flips the SSRC's low byte: a new publisher), else through the [`Fanout`] as a
/// video batch (bit 2 a keyframe, bit 3 an injection for subscriber 1 with the next op byte as
/// its offset, bit 6 also a publisher's report anchoring its clock), bits 4–5 NACK subscriber 1
/// or 2 for the packet's sequence number; after every fan-out batch the sender reports are made;
/// every 16th record removes and re-adds subscriber 2. Never panics; a sender report is 28 bytes
/// for a subscriber there is; a rewritten packet is its input's
/// payload behind a plain 12-byte header with the rewriter's SSRC and payload type; its sequence
/// number is the previous output's + 1 for a new input SSRC, and keeps the input's distance to
/// the previous packet for the same SSRC (gaps and reordering stay visible to the receiver, who
/// NACKs them); a resolved NACK is a packet the fan-out was given, patched back to the sequence
/// number asked for.
///
/// [`RtpRewriter`]: sluice_rtp::egress::RtpRewriter
/// [`Fanout`]: sluice_rtp::egress::Fanout
pub fn rtp_egress(data: &[u8]) {
    use sluice_rtp::egress::{patch_into, Fanout, MediaKind, RtpRewriter, SubscriberConfig};
    let mut rewriter = RtpRewriter::new(0x5EED, 111, 90_000, 0xFFF0, 7);
    let mut fanout = Fanout::new(64, 16);
    let sub = |key: &str| SubscriberConfig { stream_key: key.into(), video_payload_type: Some(102), audio_payload_type: None, takes_descriptor: false };
    fanout.add(1, sub("s"));
    fanout.add(2, sub("s"));
    let mut out = vec![0u8; 300];
    let mut targets = Vec::new();
    let mut now = 0.0;
    let mut rest = data;
    let mut records = 0u32;
    // The input SSRC and sequence number of the last packet rewritten.
    let mut last_input: Option<(u32, u16)> = None;
    while rest.len() >= 2 {
        let (op, len) = (rest[0], rest[1] as usize);
        let packet_owned: Vec<u8>;
        let packet = rest.get(2..2 + len).unwrap_or(&rest[2..]);
        rest = &rest[(2 + len).min(rest.len())..];
        records += 1;
        now += 20.0;
        if op & 1 != 0 {
            let packet = if op & 2 != 0 && packet.len() >= 12 {
                let mut p = packet.to_vec();
                p[11] ^= 0xFF;
                packet_owned = p;
                &packet_owned[..]
            } else {
                packet
            };
            let before = rewriter.last_sequence_number();
            let expected = rewriter.output_len(packet);
            match rewriter.rewrite_into(packet, &mut out, now) {
                Ok(n) => {
                    assert_eq!(Ok(n), expected);
                    assert_eq!(out[0] & 0x1F, 0, "no extension, no CSRC");
                    assert_eq!(out[1] & 0x7F, 111);
                    assert_eq!(u32::from_be_bytes([out[8], out[9], out[10], out[11]]), 0x5EED);
                    let seq = u16::from_be_bytes([packet[2], packet[3]]);
                    let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
                    let step = match last_input {
                        Some((s, prev)) if s == ssrc => seq.wrapping_sub(prev),
                        _ => 1,
                    };
                    assert_eq!(u16::from_be_bytes([out[2], out[3]]), before.wrapping_add(step));
                    assert_eq!(&out[12..n], &packet[packet.len() - (n - 12)..]);
                    last_input = Some((ssrc, seq));
                }
                Err(_) => assert_eq!(rewriter.last_sequence_number(), before, "an error changes nothing"),
            }
        } else {
            let batch = [packet];
            if op & 8 != 0 {
                let offset = rest.first().copied().unwrap_or(0) as u16 * 257;
                fanout.inject(1, MediaKind::Video, &batch, offset, true);
            } else {
                let start = if op & 4 != 0 { sluice_rtp::egress::FrameStart::Keyframe } else { sluice_rtp::egress::FrameStart::Delta };
                fanout.media("s", MediaKind::Video, &batch, start, now, &mut targets);
                for t in &targets {
                    let _ = patch_into(packet, &mut out, t.payload_type, t.seq_offset);
                }
                if op & 0x40 != 0 && packet.len() >= 8 {
                    // a publisher's report re-based: any timestamp, any time
                    fanout.anchor("s", MediaKind::Video, u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]), now - 500.0);
                }
                let mut reports = Vec::new();
                fanout.sender_reports(now, &mut reports);
                for r in &reports {
                    assert_eq!(r.packet.len(), 28, "an SR without report blocks");
                    assert!(r.id == 1 || r.id == 2);
                }
            }
            if packet.len() >= 4 && op & 0x30 != 0 {
                let id = if op & 0x10 != 0 { 1 } else { 2 };
                let seq = u16::from_be_bytes([packet[2], packet[3]]);
                if let Some(r) = fanout.resolve_nack(id, seq) {
                    assert_eq!(r.payload_type, 102);
                    let n = patch_into(r.packet, &mut out, r.payload_type, r.seq_offset).expect("kept packets are RTP-sized");
                    assert_eq!(n, r.packet.len());
                    assert_eq!(u16::from_be_bytes([out[2], out[3]]), seq, "a NACK gets the sequence number it asked for");
                }
            }
        }
        if records % 16 == 0 {
            assert!(fanout.remove(2));
            assert!(fanout.add(2, sub("s")));
        }
    }
}

// ------------------------------------------------------------------ bwe_feedback

/// The send-side bandwidth estimator (`sluice_rtp::bwe`) driven by a receiver's untrusted
/// transport-wide CC feedback. Input: records of `[kind][len][body]`: kind bit 0 set, `len`
/// packets sent (transport-wide sequence numbers following on, 1200 bytes, 1 ms apart); clear,
/// the body parsed as compound RTCP and its feedback (and REMB) given to the estimator 10 ms
/// later. Checks: never panics; the estimate stays a finite number within its bounds; the
/// retransmission budget never admits more than the estimate's bytes in a second (with the
/// record's kind byte as that second's media bytes).
pub fn bwe_feedback(data: &[u8]) {
    use sluice_rtp::bwe::{BandwidthEstimator, BweConfig, RetransmissionBudget};
    let config = BweConfig::default();
    let mut bwe = BandwidthEstimator::new(config);
    let mut budget = RetransmissionBudget::default();
    let mut next: u16 = 0;
    let mut now_us = 0i64;
    let mut rest = data;
    while rest.len() >= 2 {
        let (kind, len) = (rest[0], usize::from(rest[1]));
        let body = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        if kind & 1 != 0 {
            for _ in 0..len {
                bwe.sent(next, now_us, 1200);
                next = next.wrapping_add(1);
                now_us += 1000;
            }
            continue;
        }
        now_us += 10_000;
        for packet in parse_compound(body).flatten() {
            match packet {
                RtcpPacket::TransportFeedback(f) => {
                    let u = bwe.feedback(&f, now_us);
                    assert!(u.estimate_bps.is_finite() && u.estimate_bps >= config.min_bps && u.estimate_bps <= config.max_bps);
                    assert!((0.0..=1.0).contains(&u.loss));
                    assert!(u.received_bps.is_none_or(|r| r.is_finite() && r >= 0.0));
                }
                RtcpPacket::Remb(r) => bwe.remb(r.bitrate as f64),
                _ => {}
            }
        }
        let estimate = bwe.estimate_bps();
        assert!(estimate.is_finite() && estimate >= config.min_bps);
        budget.media(now_us, usize::from(kind));
        let admitted = (0..200).filter(|i| budget.allow(now_us + i, 1200, Some(estimate))).count();
        assert!(admitted as f64 * 1200.0 * 8.0 <= estimate + 1.0);
        now_us += 1_000_000; // the next record starts a new budget second
    }
}

// ------------------------------------------------------------------ twcc_recorder

/// The receive side of transport-wide congestion control (`sluice_rtp::bwe::recorder`): a
/// publisher's untrusted transport-wide sequence numbers in any order, then feedback for it.
/// Input: records of 3 bytes `[seq hi][seq lo][step]`: packet `seq` arrived `step` × 100 µs
/// after the previous one (our clock only moves forward); every record with `step` 0xFF builds
/// a feedback. Checks: never panics; a feedback reports at most
/// `MAX_FEEDBACK_PACKETS` consecutive numbers, writes, parses back to the same statuses, and
/// every packet it reports as received was recorded, at its arrival time (±250 µs rounding).
pub fn twcc_recorder(data: &[u8]) {
    use sluice_rtp::bwe::recorder::{FeedbackRecorder, MAX_FEEDBACK_PACKETS};
    use std::collections::HashMap;
    let mut recorder = FeedbackRecorder::default();
    let mut arrived: HashMap<u16, i64> = HashMap::new();
    let mut now_us = 0i64;
    for record in data.chunks_exact(3) {
        let seq = u16::from_be_bytes([record[0], record[1]]);
        now_us += i64::from(record[2]) * 100;
        recorder.record(seq, now_us);
        arrived.entry(seq).or_insert(now_us);
        if record[2] != 0xFF {
            continue;
        }
        let Some(feedback) = recorder.feedback(1, 2) else { continue };
        assert!(!feedback.packets.is_empty() && feedback.packets.len() <= MAX_FEEDBACK_PACKETS);
        let mut out = Vec::new();
        feedback.write(&mut out).expect("our own feedback writes");
        let parsed = match parse_compound(&out).next() {
            Some(Ok(RtcpPacket::TransportFeedback(f))) => f,
            other => panic!("our feedback parses back: {other:?}"),
        };
        assert_eq!(parsed.packets.len(), feedback.packets.len());
        for (a, b) in feedback.packets.iter().zip(&parsed.packets) {
            assert_eq!(a.sequence, b.sequence);
            assert_eq!(a.arrival_us.is_some(), b.arrival_us.is_some());
            if let (Some(t), Some(u)) = (a.arrival_us, b.arrival_us) {
                assert!((t - u).abs() < 250 * 2, "arrival {t} read back as {u}");
                // a duplicate keeps its first arrival; a wrapped number may be reported anew
                assert!(arrived.contains_key(&a.sequence));
            }
        }
    }
}

// ------------------------------------------------------------------ simulcast_layers

/// The fan-out's simulcast layer switching (`sluice_rtp::egress::Fanout` with `set_layers`):
/// two layers of one stream (`s~l` and `s` itself), one subscriber moved between them by
/// untrusted estimates and pins. Input: byte 0 bit 0 declares the layers scalable (SVC operating
/// points: down at a picture start, up at a switching point); then records `[op][len][packet]`:
/// op bit 0 picks the layer the packet arrives on, bit 1 marks a keyframe (bit 6: else a
/// switching point), bit 2 asks `select_layers` with an estimate of `op × 10 kbit/s`, bit 3
/// pins (bit 4: to the low layer, else unpins), bit 5 NACKs the packet's number. Checks: never
/// panics; every packet sent to the subscriber is one of its current layer's; a switch happens
/// at a keyframe, or (scalable) down to `s~l` at a picture start (the layer's last packet had
/// the marker bit) or up to `s` at a switching point; its sequence numbers continue by +1 at a
/// switch (no hole, no repeat), and its
/// timestamps never go back across one; a resolved NACK comes from the layer it was sent from.
pub fn simulcast_layers(data: &[u8]) {
    use sluice_rtp::egress::{Fanout, FrameStart, MediaKind, SubscriberConfig};
    let Some((&flags, data)) = data.split_first() else { return };
    let scalable = flags & 1 != 0;
    let mut fanout = Fanout::new(64, 16);
    fanout.set_layers("s", vec!["s~l".into()], scalable);
    // the low layer's last packet had the marker bit: its next one starts a picture
    let mut low_at_picture_start = false;
    fanout.add(1, SubscriberConfig { stream_key: "s".into(), video_payload_type: Some(102), audio_payload_type: None, takes_descriptor: false });
    fanout.inject(1, MediaKind::Video, &[], 0, true);
    let mut targets = Vec::new();
    let mut now = 0.0;
    let mut rest = data;
    // the last (sequence number, timestamp) sent to the subscriber, its numbering
    let mut last: Option<(u16, u32)> = None;
    // which layer each of its sequence numbers came from
    let mut origin: std::collections::HashMap<u16, bool> = std::collections::HashMap::new();
    while rest.len() >= 2 {
        let (op, len) = (rest[0], rest[1] as usize);
        let packet = rest.get(2..2 + len).unwrap_or(&rest[2..]);
        rest = &rest[(2 + len).min(rest.len())..];
        now += 10.0;
        let low = op & 1 != 0;
        // RTP as the fan-out tells it (a second byte of 192–223 reads as RTCP: not numbered)
        if packet.len() >= 12 && packet[0] >> 6 == 2 && !(192..=223).contains(&packet[1]) {
            let key = if low { "s~l" } else { "s" };
            let before = fanout.video_layer(1).map(|(k, p)| (k.to_owned(), p.map(str::to_owned)));
            let start = match (op & 2 != 0, op & 0x40 != 0) {
                (true, _) => FrameStart::Keyframe,
                (false, true) => FrameStart::SwitchPoint,
                (false, false) => FrameStart::Delta,
            };
            fanout.media(key, MediaKind::Video, &[packet], start, now, &mut targets);
            let down_at_picture = scalable && low && low_at_picture_start;
            let up_at_switch_point = scalable && !low && start == FrameStart::SwitchPoint;
            if low {
                low_at_picture_start = packet[1] & 0x80 != 0;
            }
            if let Some(t) = targets.iter().find(|t| t.id == 1) {
                let (from, _) = before.clone().expect("subscribed");
                let switched = from != key;
                assert!(!switched || before.as_ref().and_then(|b| b.1.as_deref()) == Some(key), "only to the pending layer");
                assert!(!switched || op & 2 != 0 || down_at_picture || up_at_switch_point, "a switch happens at a keyframe, or down at a scalable stream's picture start, or up at its switching point");
                let seq = u16::from_be_bytes([packet[2], packet[3]]).wrapping_add(t.seq_offset);
                let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]).wrapping_add(t.ts_offset);
                if let (true, Some((s, tprev))) = (switched, last) {
                    assert_eq!(seq, s.wrapping_add(1), "numbering continues across a switch");
                    assert!(ts.wrapping_sub(tprev) < 0x8000_0000, "the timeline does not go back at a switch");
                }
                origin.insert(seq, low);
                last = Some((seq, ts));
            }
        }
        if op & 4 != 0 {
            let (key, _) = fanout.select_layers(1, Some(f64::from(op) * 10_000.0), now);
            if let Some(k) = key {
                assert!(k == "s" || k == "s~l");
            }
        }
        if op & 8 != 0 {
            fanout.pin_layer(1, (op & 0x10 != 0).then_some(0));
        }
        if op & 0x20 != 0 && packet.len() >= 4 {
            let seq = u16::from_be_bytes([packet[2], packet[3]]);
            if let Some(r) = fanout.resolve_nack(1, seq) {
                let sent = u16::from_be_bytes([r.packet[2], r.packet[3]]).wrapping_add(r.seq_offset);
                assert_eq!(sent, seq, "a NACK gets the number it asked for");
            }
        }
    }
}

// ------------------------------------------------------------------ svc_filter

/// VP9 SVC forwarding (`sluice_rtp::svc`): the payload descriptor parser and an operating point
/// kept by the RTP rewriter's SVC filter. Input: byte 0 picks the operating point (bits 0–1
/// `max_spatial`, bits 2–3 `max_temporal`); then records `[flags][len][payload]`, each one RTP
/// packet in order (flags bit 0: the marker bit). Checks: never panics; a parsed descriptor is
/// no longer than its payload; every packet forwarded is of a kept layer, numbered one after
/// the last one forwarded (the layers left out leave no hole), and carries the marker bit
/// exactly when its input did or it ends the top spatial layer kept; a packet whose descriptor
/// cannot be read is not forwarded (and, skipped, leaves no hole).
pub fn svc_filter(data: &[u8]) {
    use sluice_rtp::egress::RtpRewriter;
    use sluice_rtp::svc::{SvcFilter, Vp9Descriptor};
    let Some((&op, mut rest)) = data.split_first() else { return };
    let filter = SvcFilter::vp9(op & 3, (op >> 2) & 3);
    let mut rewriter = RtpRewriter::new(7, 98, 90_000, 1000, 0);
    rewriter.set_svc(Some(filter.clone()));
    let mut out = vec![0u8; 1600];
    let mut last = 1000u16;
    let mut seq = 0u16;
    while rest.len() >= 2 {
        let (flags, len) = (rest[0], rest[1] as usize);
        let payload = rest.get(2..2 + len).unwrap_or(&rest[2..]);
        rest = &rest[(2 + len).min(rest.len())..];
        let parsed = Vp9Descriptor::parse(payload);
        if let Ok(d) = &parsed {
            assert!(d.length <= payload.len());
        }
        let marker = flags & 1 != 0;
        let mut packet = vec![0x80, if marker { 0x80 | 96 } else { 96 }, 0, 0, 0, 0, 0, 9, 0, 0, 0, 5];
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        seq = seq.wrapping_add(1);
        packet.extend_from_slice(payload);
        match rewriter.forward_into(&packet, &mut out, 0.0) {
            Ok(Some(n)) => {
                let d = parsed.expect("a forwarded packet has a readable descriptor");
                assert!(d.spatial_id <= filter.max_spatial && d.temporal_id <= filter.max_temporal);
                let out_seq = u16::from_be_bytes([out[2], out[3]]);
                assert_eq!(out_seq, last.wrapping_add(1), "no hole, no repeat");
                last = out_seq;
                assert_eq!(out[1] & 0x80 != 0, marker || (d.end && d.spatial_id == filter.max_spatial));
                assert_eq!(&out[12..n], payload);
                let switch_point = filter.max_spatial == 0 && d.begin && d.spatial_id == 0 && d.temporal_id == 0 && d.switching_up;
                assert_eq!(rewriter.switch_point(), switch_point, "a switching point: a base layer frame's start with U");
            }
            Ok(None) => {
                let d = parsed.expect("a dropped packet was read");
                assert!(d.spatial_id > filter.max_spatial || d.temporal_id > filter.max_temporal);
                assert!(!rewriter.switch_point());
            }
            Err(_) => assert!(parsed.is_err() && !rewriter.switch_point()),
        }
    }
}

// ------------------------------------------------------------------ dependency_descriptor

/// The Dependency Descriptor extension (`sluice_rtp::svc::dependency_descriptor`) and an
/// operating point kept by the RTP rewriter's SVC filter reading it. Input: byte 0 picks the
/// operating point (bits 0–1 `max_spatial`, bits 2–3 `max_temporal`); then records
/// `[flags][len][descriptor]`, each one RTP packet in order carrying that descriptor as header
/// extension element 5 (flags bit 0: the marker bit; bit 1: no extension at all). Checks: never
/// panics; every descriptor parsed alone parses the same with any structure known; every
/// packet forwarded is of a kept layer of the last structure seen (tracked here beside the
/// filter), numbered one after the last one forwarded, with the marker bit exactly when its
/// input had it or it ends the top spatial layer kept, and a switching point exactly when it
/// starts a base layer frame whose DTIs (its own or its template's) say `Switch` for the
/// operating point's decode target; nothing is forwarded before a structure.
pub fn dependency_descriptor(data: &[u8]) {
    use sluice_rtp::egress::RtpRewriter;
    use sluice_rtp::svc::{DecodeTargetIndication, DependencyDescriptor, SvcFilter};
    let Some((&op, mut rest)) = data.split_first() else { return };
    let (max_spatial, max_temporal) = (op & 3, (op >> 2) & 3);
    let mut rewriter = RtpRewriter::new(7, 98, 90_000, 1000, 0);
    rewriter.set_svc(Some(SvcFilter::dependency_descriptor(max_spatial, max_temporal, 5)));
    let mut structure = None;
    let mut out = vec![0u8; 1600];
    let (mut last, mut seq) = (1000u16, 0u16);
    while rest.len() >= 2 {
        let (flags, len) = (rest[0], rest[1] as usize);
        let dd = rest.get(2..2 + len).unwrap_or(&rest[2..]);
        rest = &rest[(2 + len).min(rest.len())..];
        let parsed = DependencyDescriptor::parse(dd, structure.as_ref());
        if let Ok(d) = &parsed {
            if d.structure.is_some() {
                assert_eq!(DependencyDescriptor::parse(dd, None).as_ref(), Ok(d), "a structure's own mask width wins");
            }
        }
        let marker = flags & 1 != 0;
        let with_extension = flags & 2 == 0 && !dd.is_empty();
        let mut packet = vec![if with_extension { 0x90 } else { 0x80 }, if marker { 0x80 | 98 } else { 98 }, 0, 0, 0, 0, 0, 9, 0, 0, 0, 5];
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        seq = seq.wrapping_add(1);
        if with_extension {
            let mut ext = vec![5, dd.len() as u8];
            ext.extend_from_slice(dd);
            ext.resize(ext.len().div_ceil(4) * 4, 0);
            packet.extend_from_slice(&[0x10, 0x00]);
            packet.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
            packet.extend_from_slice(&ext);
        }
        packet.extend_from_slice(&[0xEE, 0xEE]);
        let verdict = rewriter.forward_into(&packet, &mut out, 0.0);
        let frame = match (&parsed, with_extension) {
            (Ok(d), true) => {
                if let Some(s) = &d.structure {
                    structure = Some(s.clone());
                }
                structure.as_ref().and_then(|s| s.layer_of(d.template_id)).map(|layer| {
                    let s = structure.as_ref().expect("a layer comes from a structure");
                    let switch = s.decode_target_of(max_spatial, max_temporal).is_some_and(|dt| d.dtis(s).is_some_and(|w| DecodeTargetIndication::of(w, dt) == DecodeTargetIndication::Switch));
                    (layer, d.end_of_frame, d.start_of_frame && layer == (0, 0) && switch)
                })
            }
            _ => None,
        };
        match verdict {
            Ok(Some(n)) => {
                let ((spatial, temporal), end, switch_point) = frame.expect("a forwarded packet has a known layer");
                assert_eq!(rewriter.switch_point(), switch_point);
                assert!(spatial <= max_spatial && temporal <= max_temporal);
                let out_seq = u16::from_be_bytes([out[2], out[3]]);
                assert_eq!(out_seq, last.wrapping_add(1), "no hole, no repeat");
                last = out_seq;
                assert_eq!(out[1] & 0x80 != 0, marker || (end && spatial == max_spatial));
                assert_eq!(&out[12..n], &[0xEE, 0xEE]);
            }
            Ok(None) => {
                if let Some(((spatial, temporal), _, _)) = frame {
                    assert!(spatial > max_spatial || temporal > max_temporal);
                }
                assert!(!rewriter.switch_point());
            }
            Err(_) => assert!(with_extension && parsed.is_err()),
        }
    }
}
