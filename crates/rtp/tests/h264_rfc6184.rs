//! H.264 packetization, RFC 6184 packetization-mode=1.

use sluice_rtp::packet::RtpHeader;
use sluice_rtp::packetizer::h264::{FU_A, STAP_A};
use sluice_rtp::packetizer::{H264Packetizer, PacketBatch, Packetizer};
use sluice_rtp::RtpError;

const SSRC: u32 = 0x1122_3344;
const PT: u8 = 102;

/// A NAL unit: header byte, then `len - 1` bytes of a recognisable pattern.
fn nal(header: u8, len: usize) -> Vec<u8> {
    let mut v = vec![header];
    v.extend((1..len).map(|i| (i * 7 + header as usize) as u8));
    v
}

/// AVCC: each NAL unit preceded by its length in `size` bytes.
fn avcc(nalus: &[&[u8]], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for n in nalus {
        out.extend_from_slice(&(n.len() as u32).to_be_bytes()[4 - size..]);
        out.extend_from_slice(n);
    }
    out
}

struct Packet {
    header: RtpHeader<'static>,
    payload: Vec<u8>,
    len: usize,
}

fn packets(batch: &PacketBatch) -> Vec<Packet> {
    batch
        .iter()
        .map(|p| {
            let (h, offset, len) = RtpHeader::parse(p).expect("a valid RTP packet");
            assert_eq!(offset, 12, "plain 12-byte header");
            assert_eq!(h.padding, 0);
            let mut header = RtpHeader::new(h.payload_type, h.sequence_number, h.timestamp, h.ssrc);
            header.marker = h.marker;
            Packet {
                header,
                payload: p[offset..offset + len].to_vec(),
                len: p.len(),
            }
        })
        .collect()
}

/// A minimal RFC 6184 receiver for mode 1: single NAL unit, STAP-A and FU-A payloads back to
/// NAL units, checking the structure as it goes.
fn depacketize(packets: &[Packet]) -> Vec<Vec<u8>> {
    let mut nalus = Vec::new();
    let mut fu: Option<Vec<u8>> = None;
    for p in packets {
        let b = &p.payload;
        match b[0] & 0x1F {
            STAP_A => {
                let mut at = 1;
                while at < b.len() {
                    let len = u16::from_be_bytes([b[at], b[at + 1]]) as usize;
                    nalus.push(b[at + 2..at + 2 + len].to_vec());
                    at += 2 + len;
                }
                assert_eq!(at, b.len());
            }
            FU_A => {
                let (start, end) = (b[1] & 0x80 != 0, b[1] & 0x40 != 0);
                assert_eq!(b[1] & 0x20, 0, "R bit");
                if start {
                    assert!(fu.is_none());
                    fu = Some(vec![(b[0] & 0xE0) | (b[1] & 0x1F)]);
                }
                fu.as_mut()
                    .expect("FU-A continuation without start")
                    .extend_from_slice(&b[2..]);
                if end {
                    nalus.push(fu.take().unwrap());
                }
            }
            _ => nalus.push(b.clone()),
        }
    }
    assert!(fu.is_none(), "unterminated FU-A");
    nalus
}

fn packetizer() -> H264Packetizer {
    H264Packetizer::new(SSRC, PT).unwrap()
}

#[test]
fn rfc6184_5_6_single_nal_unit_packet() {
    let slice = nal(0x41, 500); // NRI 2, type 1
    let mut p = packetizer();
    p.state_mut().set_sequence_number(1000);
    let mut batch = PacketBatch::new();
    p.packetize(&avcc(&[&slice], 4), 90_000, &mut batch)
        .unwrap();
    let pk = packets(&batch);
    assert_eq!(pk.len(), 1);
    assert_eq!(
        pk[0].payload, slice,
        "the NAL unit unchanged, header byte included"
    );
    assert_eq!(pk[0].len, 512);
    let h = &pk[0].header;
    assert_eq!(
        (h.payload_type, h.sequence_number, h.timestamp, h.ssrc),
        (PT, 1000, 90_000, SSRC)
    );
    assert!(h.marker);
    assert_eq!(p.state().sequence_number(), 1001);
}

#[test]
fn rfc6184_5_6_nal_unit_exactly_filling_the_mtu_is_not_fragmented() {
    let mut p = packetizer();
    let mut batch = PacketBatch::new();
    p.packetize(&avcc(&[&nal(0x41, 1188)], 4), 0, &mut batch)
        .unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch.get(0).unwrap().len(), 1200);
    batch.clear();
    p.packetize(&avcc(&[&nal(0x41, 1189)], 4), 0, &mut batch)
        .unwrap();
    assert_eq!(batch.len(), 2);
}

#[test]
fn rfc6184_5_8_fu_a_splits_a_5000_byte_nal_unit_at_mtu_1200() {
    let idr = nal(0x65, 5000); // F 0, NRI 3, type 5
    let mut p = packetizer();
    assert_eq!(p.state().mtu(), 1200);
    let mut batch = PacketBatch::new();
    p.packetize(&avcc(&[&idr], 4), 3000, &mut batch).unwrap();
    let pk = packets(&batch);
    // 4999 body bytes in fragments of at most 1200 - 12 - 2 = 1186 bytes: 5 packets.
    assert_eq!(pk.len(), 5);
    for (i, packet) in pk.iter().enumerate() {
        assert!(packet.len <= 1200);
        let (ind, hdr) = (packet.payload[0], packet.payload[1]);
        assert_eq!(
            ind,
            0x60 | 28,
            "FU indicator: F 0, NRI 3 preserved, type 28"
        );
        assert_eq!(hdr & 0x1F, 5, "FU header carries the original type");
        assert_eq!(hdr & 0x80 != 0, i == 0, "S only on the first fragment");
        assert_eq!(hdr & 0x40 != 0, i == 4, "E only on the last fragment");
        assert_eq!(hdr & 0x20, 0, "R is 0");
        assert_eq!(packet.header.marker, i == 4);
        assert_eq!(packet.header.timestamp, 3000);
    }
    let sizes: Vec<usize> = pk.iter().map(|p| p.payload.len() - 2).collect();
    assert_eq!(
        sizes.iter().sum::<usize>(),
        4999,
        "original header byte dropped"
    );
    assert!(
        sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
        "even fragments"
    );
    assert_eq!(depacketize(&pk), vec![idr]);
}

#[test]
fn rfc6184_5_8_fu_a_preserves_the_f_bit_and_works_at_the_smallest_mtu() {
    let odd = nal(0xC1, 40); // F 1, NRI 2, type 1
    let mut p = packetizer();
    p.state_mut().set_mtu(15).unwrap();
    assert_eq!(
        p.state_mut().set_mtu(14),
        Err(RtpError::MtuOutOfRange {
            mtu: 14,
            min: 15,
            max: 65_535
        })
    );
    let mut batch = PacketBatch::new();
    p.packetize(&avcc(&[&odd], 4), 0, &mut batch).unwrap();
    let pk = packets(&batch);
    assert_eq!(pk.len(), 39, "one body byte per fragment");
    assert!(pk.iter().all(|p| p.payload[0] == 0xC0 | 28 && p.len == 15));
    assert_eq!(depacketize(&pk), vec![odd]);
}

#[test]
fn rfc6184_5_7_1_stap_a_with_sps_and_pps_before_an_idr_access_unit() {
    let sps = nal(0x67, 25);
    let pps = nal(0x68, 4);
    let idr = nal(0x65, 3000);
    let mut p = packetizer();
    p.set_parameter_sets(vec![sps.clone()], vec![pps.clone()]);
    let mut batch = PacketBatch::new();
    p.packetize(&avcc(&[&idr], 4), 0, &mut batch).unwrap();
    let pk = packets(&batch);
    let stap = &pk[0].payload;
    assert_eq!(stap[0], 0x60 | 24, "F 0, max NRI (3), type 24");
    let mut expected = vec![0x78];
    expected.extend_from_slice(&25u16.to_be_bytes());
    expected.extend_from_slice(&sps);
    expected.extend_from_slice(&4u16.to_be_bytes());
    expected.extend_from_slice(&pps);
    assert_eq!(stap, &expected);
    assert!(!pk[0].header.marker);
    assert_eq!(depacketize(&pk), vec![sps, pps, idr]);
}

#[test]
fn rfc6184_5_7_1_no_parameter_sets_added_to_non_idr_or_in_band_access_units() {
    let (sps, pps) = (nal(0x67, 25), nal(0x68, 4));
    let mut p = packetizer();
    p.set_parameter_sets(vec![sps.clone()], vec![pps.clone()]);
    p.set_aggregation(false);
    let mut batch = PacketBatch::new();
    let slice = nal(0x41, 300);
    p.packetize(&avcc(&[&slice], 4), 0, &mut batch).unwrap();
    assert_eq!(depacketize(&packets(&batch)), vec![slice]);

    batch.clear();
    let idr = nal(0x65, 300);
    p.packetize(&avcc(&[&sps, &pps, &idr], 4), 0, &mut batch)
        .unwrap();
    assert_eq!(
        depacketize(&packets(&batch)),
        vec![sps.clone(), pps.clone(), idr.clone()]
    );
    assert_eq!(
        batch.len(),
        3,
        "in-band sets only, as single NAL unit packets"
    );

    // An IDR with only its SPS in band still gets the stored pair first.
    batch.clear();
    p.packetize(&avcc(&[&sps, &idr], 4), 0, &mut batch).unwrap();
    let nalus = depacketize(&packets(&batch));
    assert_eq!(nalus, vec![sps.clone(), pps.clone(), sps, idr]);
}

#[test]
fn rfc6184_5_7_1_sei_and_slice_are_aggregated_with_or_of_f_and_max_nri() {
    let sei = nal(0x86, 30); // F 1, NRI 0, type 6
    let slice = nal(0x21, 900); // NRI 1, type 1
    let big = nal(0x21, 1500);
    let mut p = packetizer();
    let mut batch = PacketBatch::new();
    p.packetize(&avcc(&[&sei, &slice, &big], 4), 0, &mut batch)
        .unwrap();
    let pk = packets(&batch);
    assert_eq!(pk[0].payload[0], 0x80 | 0x20 | 24);
    assert_eq!(pk[0].payload.len(), 1 + 2 + 30 + 2 + 900);
    assert_eq!(
        pk.len(),
        1 + 2,
        "STAP-A, then the 1500-byte slice as two FU-A"
    );
    assert_eq!(
        depacketize(&pk),
        vec![sei.clone(), slice.clone(), big.clone()]
    );

    batch.clear();
    p.set_aggregation(false);
    p.packetize(&avcc(&[&sei, &slice, &big], 4), 0, &mut batch)
        .unwrap();
    let pk = packets(&batch);
    assert_eq!(pk.len(), 4);
    assert_eq!(pk[0].payload, sei);
    assert_eq!(depacketize(&pk), vec![sei, slice, big]);
}

#[test]
fn rfc6184_5_1_marker_only_on_the_last_packet_and_one_timestamp_per_access_unit() {
    let mut p = packetizer();
    p.set_parameter_sets(vec![nal(0x67, 20)], vec![nal(0x68, 5)]);
    let au = avcc(&[&nal(0x06, 40), &nal(0x65, 7000), &nal(0x65, 2000)], 4);
    let mut batch = PacketBatch::new();
    p.packetize(&au, 123_456, &mut batch).unwrap();
    p.packetize(&avcc(&[&nal(0x41, 2500)], 4), 126_456, &mut batch)
        .unwrap();
    let pk = packets(&batch);
    let first_au = pk
        .iter()
        .take_while(|p| p.header.timestamp == 123_456)
        .count();
    assert!(first_au > 5);
    for (i, p) in pk.iter().enumerate() {
        assert_eq!(
            p.header.marker,
            i == first_au - 1 || i == pk.len() - 1,
            "packet {i}"
        );
    }
    assert!(pk[first_au..].iter().all(|p| p.header.timestamp == 126_456));
    let seqs: Vec<u16> = pk.iter().map(|p| p.header.sequence_number).collect();
    assert_eq!(seqs, (0..pk.len() as u16).collect::<Vec<_>>());
}

#[test]
fn rfc3550_5_1_sequence_number_wraps_from_65535_to_0() {
    let mut p = packetizer();
    p.state_mut().set_sequence_number(65_534);
    let mut batch = PacketBatch::new();
    p.packetize(&avcc(&[&nal(0x65, 4000)], 4), 0, &mut batch)
        .unwrap();
    let seqs: Vec<u16> = packets(&batch)
        .iter()
        .map(|p| p.header.sequence_number)
        .collect();
    assert_eq!(seqs, vec![65_534, 65_535, 0, 1]);
    assert_eq!(p.state().sequence_number(), 2);
}

#[test]
fn rfc6184_5_6_access_unit_delimiter_and_filler_data_are_dropped() {
    let aud = [0x09, 0xF0];
    let filler = nal(0x0C, 100);
    let slice = nal(0x41, 200);
    let mut p = packetizer();
    p.set_aggregation(false);
    let mut batch = PacketBatch::new();
    p.packetize(&avcc(&[&aud, &slice, &filler], 4), 0, &mut batch)
        .unwrap();
    let pk = packets(&batch);
    assert_eq!(pk.len(), 1);
    assert_eq!(pk[0].payload, slice);
    assert!(pk[0].header.marker);

    // An access unit of nothing but an AUD emits nothing and keeps the sequence number.
    batch.clear();
    p.packetize(&avcc(&[&aud], 4), 0, &mut batch).unwrap();
    assert!(batch.is_empty());
    assert_eq!(p.state().sequence_number(), 1);
}

#[test]
fn rfc6184_5_2_nal_types_colliding_with_payload_structures_are_dropped() {
    let mut p = packetizer();
    let mut batch = PacketBatch::new();
    let slice = nal(0x41, 10);
    p.packetize(
        &avcc(&[&[0x78, 1, 2], &nal(0x00, 5), &nal(0x7C, 5), &slice], 4),
        0,
        &mut batch,
    )
    .unwrap();
    assert_eq!(depacketize(&packets(&batch)), vec![slice]);
}

#[test]
fn iso14496_15_truncated_avcc_is_an_error_and_emits_nothing() {
    let mut p = packetizer();
    p.state_mut().set_sequence_number(77);
    let mut batch = PacketBatch::new();
    p.packetize(&avcc(&[&nal(0x41, 50)], 4), 0, &mut batch)
        .unwrap();
    let before = batch.clone();

    // NAL unit length past the end.
    let mut au = avcc(&[&nal(0x06, 10), &nal(0x65, 3000)], 4);
    au.truncate(au.len() - 1);
    assert_eq!(
        p.packetize(&au, 0, &mut batch),
        Err(RtpError::MalformedAvcc {
            offset: 14,
            needed: 3004,
            available: 3003
        })
    );
    // Length prefix cut short.
    let mut au = avcc(&[&nal(0x41, 10)], 4);
    au.extend_from_slice(&[0, 0]);
    assert_eq!(
        p.packetize(&au, 0, &mut batch),
        Err(RtpError::MalformedAvcc {
            offset: 14,
            needed: 4,
            available: 2
        })
    );
    // A length of 0xFFFFFFFF.
    let au = [0xFF, 0xFF, 0xFF, 0xFF, 0x65];
    assert!(matches!(
        p.packetize(&au, 0, &mut batch),
        Err(RtpError::MalformedAvcc { .. })
    ));
    assert_eq!(batch, before, "nothing appended");
    assert_eq!(p.state().sequence_number(), 78, "sequence number unchanged");
    assert_eq!(
        RtpError::MalformedAvcc {
            offset: 0,
            needed: 0,
            available: 0
        }
        .code(),
        "RTP_AVCC_MALFORMED"
    );
}

#[test]
fn iso14496_15_nalu_length_sizes_1_and_2_and_3_is_rejected() {
    let nalus = [nal(0x06, 20), nal(0x41, 200), nal(0x41, 2000)];
    let refs: Vec<&[u8]> = nalus.iter().map(|n| n.as_slice()).collect();
    for size in [1u8, 2] {
        let mut p = packetizer();
        p.set_nalu_length_size(size).unwrap();
        let mut batch = PacketBatch::new();
        let au = if size == 1 {
            avcc(&refs[..2], 1)
        } else {
            avcc(&refs, 2)
        };
        p.packetize(&au, 0, &mut batch).unwrap();
        let expect = if size == 1 { &nalus[..2] } else { &nalus[..] };
        assert_eq!(depacketize(&packets(&batch)), expect);
    }
    assert_eq!(
        packetizer().set_nalu_length_size(3),
        Err(RtpError::InvalidNaluLengthSize { size: 3 })
    );
}

/// Not a spec vector: many random access units at many MTUs must come back NAL unit for NAL
/// unit through the reference receiver, with every packet within the MTU.
#[test]
fn rfc6184_random_access_units_round_trip_at_every_mtu() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let types = [0x06u8, 0x41, 0x65, 0x21, 0x01, 0x67, 0x68];
    for round in 0..400 {
        let count = 1 + (next() % 6) as usize;
        let nalus: Vec<Vec<u8>> = (0..count)
            .map(|_| {
                let len = match next() % 4 {
                    0 => 1 + (next() % 8) as usize,
                    1 => 1 + (next() % 300) as usize,
                    _ => 1 + (next() % 9000) as usize,
                };
                nal(types[(next() % types.len() as u64) as usize], len)
            })
            .collect();
        let refs: Vec<&[u8]> = nalus.iter().map(|n| n.as_slice()).collect();
        let mtu = [15usize, 16, 100, 576, 1200, 1500, 9000][round % 7];
        let mut p = packetizer();
        p.state_mut().set_mtu(mtu).unwrap();
        p.set_aggregation(round % 3 != 0);
        let mut batch = PacketBatch::new();
        p.packetize(&avcc(&refs, 4), round as u32, &mut batch)
            .unwrap();
        let pk = packets(&batch);
        assert!(pk.iter().all(|p| p.len <= mtu));
        assert!(
            pk.iter().rev().skip(1).all(|p| !p.header.marker) && pk.last().unwrap().header.marker
        );
        assert_eq!(depacketize(&pk), nalus, "round {round}, mtu {mtu}");
    }
}
