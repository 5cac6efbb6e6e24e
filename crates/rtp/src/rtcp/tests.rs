//! Round trips, hand-made wire vectors (from the RFC figures) and malformed input.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn round_trip(p: RtcpPacket) -> Vec<u8> {
    let mut out = Vec::new();
    p.write(&mut out).unwrap();
    assert_eq!(out.len() % 4, 0);
    let parsed: Vec<_> = parse_compound(&out).collect::<Result<_, _>>().unwrap();
    assert_eq!(parsed, vec![p]);
    out
}

fn block(ssrc: u32) -> ReportBlock {
    ReportBlock { ssrc, fraction_lost: 26, cumulative_lost: -3, highest_sequence: 0x0001_FFFE, jitter: 90, last_sr: 0x1234_5678, delay_since_last_sr: 65_536 }
}

#[test]
fn sender_report_wire_layout() {
    // RFC 3550 §6.4.1: V=2 RC=0 PT=200 length=6, SSRC, NTP (2 words), RTP ts, packets, octets.
    let sr = SenderReport { ssrc: 0x0102_0304, ntp_time: 0xE000_0001_8000_0000, rtp_timestamp: 90_000, packet_count: 10, octet_count: 12_000, blocks: vec![] };
    let out = round_trip(RtcpPacket::SenderReport(sr.clone()));
    assert_eq!(out, hex("80c80006 01020304 e0000001 80000000 00015f90 0000000a 00002ee0"));
    assert_eq!(sr.ntp_middle(), 0x0001_8000);
}

#[test]
fn reports_with_blocks_round_trip() {
    let out = round_trip(RtcpPacket::SenderReport(SenderReport { ssrc: 7, ntp_time: 1, rtp_timestamp: 2, packet_count: 3, octet_count: 4, blocks: vec![block(1), block(2)] }));
    assert_eq!(out[0], 0x82);
    assert_eq!(out.len(), 28 + 48);
    let out = round_trip(RtcpPacket::ReceiverReport(ReceiverReport { ssrc: 9, blocks: vec![block(5)] }));
    // cumulative lost −3 as 24-bit two's complement after the fraction lost byte.
    assert_eq!(&out[12..16], &[26, 0xFF, 0xFF, 0xFD]);
    let too_many = ReceiverReport { ssrc: 9, blocks: vec![block(5); 32] };
    let mut out = vec![1, 2, 3];
    assert_eq!(RtcpPacket::ReceiverReport(too_many).write(&mut out), Err(RtcpError::TooLarge("more than 31 report blocks")));
    assert_eq!(out, vec![1, 2, 3]);
}

#[test]
fn round_trip_time_from_lsr_and_dlsr() {
    let b = ReportBlock { last_sr: 0x0001_0000, delay_since_last_sr: 0x0000_8000, ..block(1) };
    // A = 2.0 s, LSR = 1.0 s, DLSR = 0.5 s → 0.5 s.
    assert_eq!(b.round_trip(0x0002_0000), Some(0x8000));
    assert_eq!(ReportBlock { last_sr: 0, ..b }.round_trip(5), None);
    assert_eq!(b.round_trip(0x0001_0000), Some(0), "clock skew gives 0, not 18 hours");
}

#[test]
fn ntp_time_conversions() {
    let ntp = ntp_from_unix_ms(1_500.25);
    assert_eq!(ntp >> 32, report::NTP_UNIX_OFFSET_S + 1);
    assert!((unix_ms_from_ntp(ntp) - 1_500.25).abs() < 0.001);
}

#[test]
fn sdes_and_bye_round_trip() {
    let sdes = SourceDescription { chunks: vec![SdesChunk { ssrc: 1, items: vec![(sdes::SDES_CNAME, b"sluice".to_vec())] }, SdesChunk { ssrc: 2, items: vec![(2, b"ab".to_vec()), (sdes::SDES_CNAME, b"x".to_vec())] }] };
    round_trip(RtcpPacket::SourceDescription(sdes.clone()));
    assert_eq!(sdes.chunks[0].cname(), Some("sluice"));
    let out = round_trip(RtcpPacket::Goodbye(Goodbye { sources: vec![1, 2], reason: b"done".to_vec() }));
    assert_eq!(out, hex("82cb0004 00000001 00000002 04646f6e 65000000"));
    round_trip(RtcpPacket::Goodbye(Goodbye { sources: vec![3], reason: vec![] }));
}

#[test]
fn nack_packs_pid_and_blp() {
    // RFC 4585 §6.2.1: PID 1000, BLP bit i set for PID + i + 1.
    let nack = Nack { sender_ssrc: 1, media_ssrc: 2, lost: vec![1000, 1001, 1016, 1017, 1000] };
    let mut out = Vec::new();
    RtcpPacket::Nack(nack).write(&mut out).unwrap();
    assert_eq!(out, hex("81cd0004 00000001 00000002 03e88001 03f90000"));
    let parsed = parse_compound(&out).next().unwrap().unwrap();
    assert_eq!(parsed, RtcpPacket::Nack(Nack { sender_ssrc: 1, media_ssrc: 2, lost: vec![1000, 1001, 1016, 1017] }));
    // A BLP that wraps past 65 535.
    let parsed = parse_compound(&hex("81cd0003 00000001 00000002 ffff0001")).next().unwrap().unwrap();
    assert_eq!(parsed, RtcpPacket::Nack(Nack { sender_ssrc: 1, media_ssrc: 2, lost: vec![65_535, 0] }));
}

#[test]
fn pli_fir_remb() {
    let out = round_trip(RtcpPacket::Pli(Pli { sender_ssrc: 1, media_ssrc: 2 }));
    assert_eq!(out, hex("81ce0002 00000001 00000002"));
    let out = round_trip(RtcpPacket::Fir(Fir { sender_ssrc: 1, entries: vec![(3, 7)] }));
    assert_eq!(out, hex("84ce0004 00000001 00000000 00000003 07000000"));
    // REMB of 1 000 000 bit/s: 1e6 = 0x0F4240 → exp 2, mantissa 0x3D090 (draft §2.2).
    let out = round_trip(RtcpPacket::Remb(Remb { sender_ssrc: 1, bitrate: 1_000_000, ssrcs: vec![0xAABB_CCDD] }));
    assert_eq!(out, hex("8fce0005 00000001 00000000 52454d42 010bd090 aabbccdd"));
    let big = Remb { sender_ssrc: 1, bitrate: 10_000_000_000, ssrcs: vec![] };
    let mut out = Vec::new();
    RtcpPacket::Remb(big).write(&mut out).unwrap();
    let RtcpPacket::Remb(r) = parse_compound(&out).next().unwrap().unwrap() else { panic!() };
    assert!(r.bitrate <= 10_000_000_000 && r.bitrate > 9_999_900_000, "18-bit mantissa keeps 4 digits: {}", r.bitrate);
    // An application-layer feedback that is not REMB is kept as unknown.
    let afb = hex("8fce0003 00000001 00000000 41424344");
    assert!(matches!(parse_compound(&afb).next(), Some(Ok(RtcpPacket::Unknown(Header { packet_type: 206, count: 15, .. })))));
}

fn twcc(packets: &[(u16, Option<i64>)]) -> TransportFeedback {
    TransportFeedback {
        sender_ssrc: 1,
        media_ssrc: 2,
        reference_time: 10,
        feedback_count: 3,
        packets: packets.iter().map(|&(sequence, arrival_us)| TwccPacket { sequence, arrival_us }).collect(),
    }
}

#[test]
fn twcc_one_bit_status_vector() {
    // Three statuses: received (small), lost, received (small); deltas 4 and 8 × 250 µs.
    let wire = hex("8fcd0005 00000001 00000002 00640003 00000a03 a8000408");
    let RtcpPacket::TransportFeedback(f) = parse_compound(&wire).next().unwrap().unwrap() else { panic!() };
    let base = 10 * 64_000;
    assert_eq!(f, twcc(&[(100, Some(base + 1_000)), (101, None), (102, Some(base + 3_000))]));
    let mut out = Vec::new();
    f.write(&mut out).unwrap();
    assert_eq!(out, wire);
}

#[test]
fn twcc_run_length_and_two_bit_chunks() {
    let base = 10 * 64_000;
    // 20 packets received 1 ms apart: one run-length chunk (symbol 01, run 20).
    let run: Vec<_> = (0..20).map(|i| (65_530u16.wrapping_add(i), Some(base + 1_000 * (i as i64 + 1)))).collect();
    let f = twcc(&run);
    let out = round_trip(RtcpPacket::TransportFeedback(f));
    assert_eq!(&out[20..22], &[0x20, 0x14]);
    // A negative delta needs the 2-bit vector (symbol 10, 16-bit delta).
    let f = twcc(&[(5, Some(base + 10_000)), (6, Some(base + 9_000)), (7, None), (8, Some(base + 100_000))]);
    let out = round_trip(RtcpPacket::TransportFeedback(f));
    assert_eq!(out[20] & 0xC0, 0xC0);
    // Non-consecutive sequence numbers cannot be written.
    let mut out = Vec::new();
    assert!(matches!(twcc(&[(1, None), (3, None)]).write(&mut out), Err(RtcpError::Malformed(_))));
}

#[test]
fn compound_stops_at_the_first_broken_part() {
    let mut buf = Vec::new();
    RtcpPacket::ReceiverReport(ReceiverReport { ssrc: 1, blocks: vec![] }).write(&mut buf).unwrap();
    RtcpPacket::Pli(Pli { sender_ssrc: 1, media_ssrc: 2 }).write(&mut buf).unwrap();
    buf.extend_from_slice(&hex("81cd00ff 00000001"));
    let parts: Vec<_> = parse_compound(&buf).collect();
    assert_eq!(parts.len(), 3);
    assert!(parts[0].is_ok() && parts[1].is_ok());
    assert_eq!(parts[2], Err(RtcpError::TooShort("length field beyond the datagram")));
    assert!(is_rtcp(&buf));
    assert!(!is_rtcp(&hex("80600001 00000000 00000001")));
}

#[test]
fn malformed_parts_are_errors_not_panics() {
    let cases: &[(&str, RtcpError)] = &[
        ("40c90001 00000001", RtcpError::BadVersion(1)),
        ("80c8", RtcpError::TooShort("common header")),
        ("80c80001 00000001", RtcpError::TooShort("sender info")),
        ("81c90001 00000001", RtcpError::Malformed("report count beyond the packet")),
        ("a0c90001 00000000", RtcpError::BadPadding),
        ("a0c90001 00000005", RtcpError::BadPadding),
        ("81ca0001 00000001", RtcpError::Malformed("SDES item list without its end")),
        ("82cb0001 00000001", RtcpError::Malformed("BYE source count beyond the packet")),
        ("81cb0002 00000001 09616263", RtcpError::Malformed("BYE reason beyond the packet")),
        ("8fce0004 00000001 00000000 52454d42 05000000", RtcpError::Malformed("REMB SSRC count beyond the packet")),
        ("8fcd0004 00000001 00000002 0000ffff 00000000", RtcpError::Malformed("more packet statuses than accepted")),
        ("8fcd0004 00000001 00000002 00000020 00000000", RtcpError::Malformed("packet chunks beyond the packet")),
        ("8fcd0005 00000001 00000002 00000005 00000000 20050000", RtcpError::Malformed("receive deltas beyond the packet")),
        ("8fcd0005 00000001 00000002 00000001 00000000 60010000", RtcpError::Malformed("reserved packet status symbol")),
        ("81cd0001 00000001", RtcpError::TooShort("feedback SSRCs")),
    ];
    for (wire, expected) in cases {
        let first = parse_compound(&hex(wire)).next().unwrap();
        assert_eq!(first.as_ref().err(), Some(expected), "{wire}");
    }
    assert!(parse_compound(&[]).next().is_none());
}

#[test]
fn padded_packet_body_excludes_the_padding() {
    // An RR with 4 bytes of padding (P bit, last byte = 4).
    let wire = hex("a0c90002 00000007 00000004");
    assert_eq!(parse_compound(&wire).next().unwrap().unwrap(), RtcpPacket::ReceiverReport(ReceiverReport { ssrc: 7, blocks: vec![] }));
}

#[test]
fn unknown_types_are_kept_and_skipped() {
    let wire = hex("80cc0002 00000001 41505031 81ce0002 00000001 00000002");
    let parts: Vec<_> = parse_compound(&wire).collect::<Result<_, _>>().unwrap();
    assert!(matches!(parts[0], RtcpPacket::Unknown(Header { packet_type: 204, size: 12, .. })));
    assert_eq!(parts[1], RtcpPacket::Pli(Pli { sender_ssrc: 1, media_ssrc: 2 }));
    let mut out = Vec::new();
    assert!(parts[0].write(&mut out).is_err());
    assert!(out.is_empty());
}
