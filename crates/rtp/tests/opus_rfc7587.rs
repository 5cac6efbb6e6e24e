//! Opus packetization, RFC 7587.

use sluice_rtp::packet::RtpHeader;
use sluice_rtp::packetizer::{OpusPacketizer, PacketBatch, Packetizer};
use sluice_rtp::RtpError;

#[test]
fn rfc7587_4_2_one_opus_packet_per_rtp_packet_byte_exact() {
    // TOC 0xFC: config 31 (CELT FB 20 ms), stereo, code 0 (one frame).
    let opus = [0xFC, 0x01, 0x02, 0x03, 0x04];
    let mut p = OpusPacketizer::new(0xAABB_CCDD, 111).unwrap();
    p.state_mut().set_sequence_number(0x0102);
    let mut batch = PacketBatch::new();
    p.packetize(&opus, 960, &mut batch).unwrap();
    assert_eq!(batch.ends, vec![17]);
    assert_eq!(
        batch.data,
        vec![
            0x80, 111, 0x01, 0x02, 0x00, 0x00, 0x03, 0xC0, 0xAA, 0xBB, 0xCC, 0xDD, 0xFC, 0x01,
            0x02, 0x03, 0x04
        ]
    );
    assert_eq!(p.clock_rate(), 48_000);
}

#[test]
fn rfc7587_4_1_marker_zero_except_first_packet_of_a_talkspurt() {
    let mut p = OpusPacketizer::new(1, 111).unwrap();
    let mut batch = PacketBatch::new();
    for i in 0..3u32 {
        if i == 1 {
            p.mark_next_packet();
        }
        p.packetize(&[0x78, i as u8], i * 960, &mut batch).unwrap();
    }
    let headers: Vec<(bool, u16, u32)> = batch
        .iter()
        .map(|b| {
            let (h, _, _) = RtpHeader::parse(b).unwrap();
            (h.marker, h.sequence_number, h.timestamp)
        })
        .collect();
    assert_eq!(
        headers,
        vec![(false, 0, 0), (true, 1, 960), (false, 2, 1920)]
    );
}

#[test]
fn rfc7587_4_2_empty_or_oversized_packets_are_errors_and_emit_nothing() {
    let mut p = OpusPacketizer::new(1, 111).unwrap();
    p.state_mut().set_sequence_number(65_535);
    let mut batch = PacketBatch::new();
    assert_eq!(p.packetize(&[], 0, &mut batch), Err(RtpError::EmptyFrame));
    assert_eq!(
        p.packetize(&[0u8; 1189], 0, &mut batch),
        Err(RtpError::PayloadTooLarge {
            size: 1189,
            max: 1188
        })
    );
    assert!(batch.is_empty());
    assert_eq!(p.state().sequence_number(), 65_535);
    p.packetize(&[0u8; 1188], 0, &mut batch).unwrap();
    assert_eq!(batch.get(0).map(<[u8]>::len), Some(1200));
    assert_eq!(p.state().sequence_number(), 0, "wrapped");
}

#[test]
fn rfc3550_5_1_payload_type_above_127_is_rejected() {
    assert_eq!(
        OpusPacketizer::new(1, 128).map(|_| ()),
        Err(RtpError::InvalidPayloadType { payload_type: 128 })
    );
}
