//! Chunk stream tests with the RTMP 1.0 spec's own examples (§5.3.2.1, §5.3.2.2).

use super::*;
use crate::error::RtmpError;
use crate::message::Message;

fn decode_all_at_once(bytes: &[u8], chunk_size: u32) -> Vec<Message> {
    let mut d = ChunkDecoder::new(DecoderLimits::default());
    d.set_chunk_size(chunk_size).unwrap();
    let mut out = Vec::new();
    d.push(bytes, &mut out).unwrap();
    out
}

fn decode_byte_by_byte(bytes: &[u8], chunk_size: u32) -> Vec<Message> {
    let mut d = ChunkDecoder::new(DecoderLimits::default());
    d.set_chunk_size(chunk_size).unwrap();
    let mut out = Vec::new();
    for b in bytes {
        d.push(std::slice::from_ref(b), &mut out).unwrap();
    }
    out
}

/// Splits encoded bytes back into chunk sizes given the known payload per chunk.
fn fmt_of(byte: u8) -> u8 {
    byte >> 6
}

#[test]
fn spec_5_3_2_1_audio_example_chunks_44_36_33_33() {
    let mut enc = ChunkEncoder::new();
    let payload = [0xAAu8; 32];
    let mut sizes = Vec::new();
    let mut fmts = Vec::new();
    let mut all = Vec::new();
    for (i, ts) in [1000u32, 1020, 1040, 1060].into_iter().enumerate() {
        let mut out = Vec::new();
        enc.encode(3, ts, 8, 12345, &payload, &mut out);
        sizes.push(out.len());
        fmts.push(fmt_of(out[0]));
        assert_eq!(out[0] & 0x3F, 3, "csid 3 in message {i}");
        all.extend_from_slice(&out);
    }
    assert_eq!(sizes, vec![44, 36, 33, 33]);
    assert_eq!(fmts, vec![0, 2, 3, 3]);
    // fmt 2 chunk carries delta 20
    assert_eq!(&all[45..48], &[0, 0, 20]);
    for msgs in [
        decode_all_at_once(&all, 128),
        decode_byte_by_byte(&all, 128),
    ] {
        let ts: Vec<u32> = msgs.iter().map(|m| m.timestamp).collect();
        assert_eq!(ts, vec![1000, 1020, 1040, 1060]);
        assert!(msgs
            .iter()
            .all(|m| m.message_stream_id == 12345 && m.type_id == 8 && m.payload == payload));
    }
}

#[test]
fn spec_5_3_2_1_audio_example_decodes_from_hand_written_bytes() {
    let mut bytes = vec![
        0x03, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x20, 0x08, 0x39, 0x30, 0x00, 0x00,
    ];
    bytes.extend_from_slice(&[1u8; 32]);
    bytes.extend_from_slice(&[0x83, 0x00, 0x00, 0x14]);
    bytes.extend_from_slice(&[2u8; 32]);
    bytes.push(0xC3);
    bytes.extend_from_slice(&[3u8; 32]);
    bytes.push(0xC3);
    bytes.extend_from_slice(&[4u8; 32]);
    let msgs = decode_all_at_once(&bytes, 128);
    assert_eq!(msgs.len(), 4);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m.timestamp, 1000 + 20 * i as u32);
        assert_eq!(m.message_stream_id, 12345);
        assert_eq!(m.payload, vec![i as u8 + 1; 32]);
    }
}

#[test]
fn spec_5_3_2_2_video_example_307_bytes_in_128_byte_chunks() {
    let payload: Vec<u8> = (0..307u32).map(|i| i as u8).collect();
    let mut enc = ChunkEncoder::new();
    let mut out = Vec::new();
    enc.encode(4, 1000, 9, 12346, &payload, &mut out);
    // fmt 0 header (12 bytes) + 128, fmt 3 (1) + 128, fmt 3 (1) + 51
    assert_eq!(out.len(), 12 + 128 + 1 + 128 + 1 + 51);
    assert_eq!(fmt_of(out[0]), 0);
    assert_eq!(out[12 + 128], 0xC4);
    assert_eq!(out[12 + 128 + 1 + 128], 0xC4);
    let mut standalone = Vec::new();
    encode_standalone(4, 1000, 9, 12346, &payload, 128, &mut standalone);
    assert_eq!(standalone, out);
    for msgs in [
        decode_all_at_once(&out, 128),
        decode_byte_by_byte(&out, 128),
    ] {
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].payload, payload);
        assert_eq!(msgs[0].timestamp, 1000);
        assert_eq!(msgs[0].message_stream_id, 12346);
    }
}

#[test]
fn extended_timestamps_repeat_on_fmt3_continuations() {
    let payload = vec![7u8; 300];
    let mut enc = ChunkEncoder::new();
    let mut out = Vec::new();
    enc.encode(6, 0x0100_0000, 9, 1, &payload, &mut out);
    enc.encode(6, 0x0100_0040, 9, 1, &payload, &mut out);
    enc.encode(6, 0x0100_0080, 9, 1, &payload, &mut out);
    // first chunk: basic 1 + header 11 + ext 4
    assert_eq!(&out[1..4], &[0xFF, 0xFF, 0xFF]);
    assert_eq!(&out[12..16], &[0x01, 0x00, 0x00, 0x00]);
    // continuation: fmt 3 then the same extended timestamp
    assert_eq!(out[16 + 128], 0xC6);
    assert_eq!(&out[16 + 129..16 + 133], &[0x01, 0x00, 0x00, 0x00]);
    for msgs in [
        decode_all_at_once(&out, 128),
        decode_byte_by_byte(&out, 128),
    ] {
        let ts: Vec<u32> = msgs.iter().map(|m| m.timestamp).collect();
        assert_eq!(ts, vec![0x0100_0000, 0x0100_0040, 0x0100_0080]);
        assert!(msgs.iter().all(|m| m.payload == payload));
    }
}

#[test]
fn extended_timestamp_omitted_on_continuation_is_accepted() {
    // fmt 0 with extended timestamp, then a fmt 3 continuation without it (some encoders).
    let mut bytes = vec![0x06, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x90, 0x09, 1, 0, 0, 0];
    bytes.extend_from_slice(&0x0123_4567u32.to_be_bytes());
    bytes.extend_from_slice(&[5u8; 128]);
    bytes.push(0xC6);
    bytes.extend_from_slice(&[6u8; 16]);
    let msgs = decode_all_at_once(&bytes, 128);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].timestamp, 0x0123_4567);
    assert_eq!(&msgs[0].payload[..128], &[5u8; 128][..]);
    assert_eq!(&msgs[0].payload[128..], &[6u8; 16][..]);
    // Split inside the 4 bytes that could have been the extended timestamp: the decoder keeps
    // them until it can tell, and they turn out to be payload (found by fuzzing: they were
    // dropped, and the rest of the stream was read out of step).
    for cut in 145..150 {
        let mut d = ChunkDecoder::new(DecoderLimits::default());
        let mut split = Vec::new();
        d.push(&bytes[..cut], &mut split).unwrap();
        d.push(&bytes[cut..], &mut split).unwrap();
        assert_eq!(split, msgs, "cut at {cut}");
    }
    assert_eq!(decode_byte_by_byte(&bytes, 128), msgs);
}

#[test]
fn two_and_three_byte_basic_headers() {
    for csid in [2u32, 63, 64, 319, 320, 1000, 65599] {
        let mut out = Vec::new();
        ChunkEncoder::new().encode(csid, 5, 20, 0, b"hello", &mut out);
        let expected_basic = match csid {
            2..=63 => 1,
            64..=319 => 2,
            _ => 3,
        };
        assert_eq!(out.len(), expected_basic + 11 + 5, "csid {csid}");
        let msgs = decode_byte_by_byte(&out, 128);
        assert_eq!(msgs[0].csid, csid);
        assert_eq!(msgs[0].payload, b"hello");
    }
    // 3-byte form: fmt|1, then (csid - 64) little-endian
    let mut out = Vec::new();
    ChunkEncoder::new().encode(65599, 0, 20, 0, b"x", &mut out);
    assert_eq!(&out[..3], &[0x01, 0xFF, 0xFF]);
}

/// A 200-byte video message (csid 6, timestamp 10) at chunk size 128 with a 20-byte audio
/// message (csid 4, timestamp 12) between its two chunks, as a muxer may send them; returns the
/// bytes, the video payload and the audio payload.
pub(super) fn video_interleaved_with_audio() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let video: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
    let audio = vec![9u8; 20];
    let mut bytes = vec![0x06, 0, 0, 10, 0, 0, 200, 9, 1, 0, 0, 0];
    bytes.extend_from_slice(&video[..128]);
    bytes.extend_from_slice(&[0x04, 0, 0, 12, 0, 0, 20, 8, 1, 0, 0, 0]);
    bytes.extend_from_slice(&audio);
    bytes.push(0xC6);
    bytes.extend_from_slice(&video[128..]);
    (bytes, video, audio)
}

#[test]
fn interleaved_chunk_streams_reassemble() {
    let (bytes, video, audio) = video_interleaved_with_audio();
    let msgs = decode_byte_by_byte(&bytes, 128);
    assert_eq!(msgs.len(), 2);
    assert_eq!(
        (msgs[0].csid, msgs[0].timestamp, &msgs[0].payload[..]),
        (4, 12, &audio[..])
    );
    assert_eq!(
        (msgs[1].csid, msgs[1].timestamp, &msgs[1].payload[..]),
        (6, 10, &video[..])
    );
}

#[test]
fn set_chunk_size_applies_to_following_bytes_in_the_same_read() {
    let mut enc = ChunkEncoder::new();
    let mut out = Vec::new();
    enc.encode(2, 0, 1, 0, &4096u32.to_be_bytes(), &mut out);
    enc.set_chunk_size(4096);
    let big = vec![3u8; 5000];
    enc.encode(6, 40, 9, 1, &big, &mut out);
    let mut d = ChunkDecoder::new(DecoderLimits::default());
    let mut msgs = Vec::new();
    d.push(&out, &mut msgs).unwrap();
    assert_eq!(d.chunk_size(), 4096);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1].payload, big);
}

#[test]
fn fmt1_and_fmt2_inherit_stream_id_and_type() {
    let mut enc = ChunkEncoder::new();
    let mut out = Vec::new();
    enc.encode(4, 100, 8, 7, &[1; 10], &mut out);
    enc.encode(4, 120, 8, 7, &[2; 11], &mut out); // fmt 1 (length changed)
    enc.encode(4, 150, 8, 7, &[3; 11], &mut out); // fmt 2 (delta changed)
    enc.encode(4, 180, 8, 7, &[4; 11], &mut out); // fmt 3
    enc.encode(4, 170, 8, 7, &[5; 11], &mut out); // fmt 0 (timestamp went back)
    let fmts: Vec<u8> = [0usize, 22, 22 + 19, 22 + 19 + 15, 22 + 19 + 15 + 12]
        .iter()
        .map(|&i| fmt_of(out[i]))
        .collect();
    assert_eq!(fmts, vec![0, 1, 2, 3, 0]);
    let msgs = decode_byte_by_byte(&out, 128);
    let ts: Vec<u32> = msgs.iter().map(|m| m.timestamp).collect();
    assert_eq!(ts, vec![100, 120, 150, 180, 170]);
    assert!(msgs
        .iter()
        .all(|m| m.message_stream_id == 7 && m.type_id == 8));
}

#[test]
fn abort_discards_the_partial_message() {
    let mut bytes = vec![0x06, 0, 0, 0, 0, 1, 0, 9, 1, 0, 0, 0];
    bytes.extend_from_slice(&[1u8; 128]);
    // Abort Message for csid 6 on csid 2
    bytes.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 6]);
    bytes.extend_from_slice(&[0x06, 0, 0, 5, 0, 0, 3, 9, 1, 0, 0, 0, 7, 8, 9]);
    let msgs = decode_all_at_once(&bytes, 128);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].type_id, 2);
    assert_eq!(msgs[1].payload, vec![7, 8, 9]);
}

#[test]
fn bounded_lengths_are_errors() {
    let mut d = ChunkDecoder::new(DecoderLimits::default());
    let mut out = Vec::new();
    // 16 MB message announced on the default 128-byte chunk size
    let bytes = [0x06, 0, 0, 0, 0xFF, 0xFF, 0xFF, 9, 1, 0, 0, 0];
    assert!(matches!(
        d.push(&bytes, &mut out),
        Err(RtmpError::MessageTooLarge { .. })
    ));

    let mut d = ChunkDecoder::new(DecoderLimits::default());
    let absurd = [
        0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF,
    ];
    assert!(matches!(
        d.push(&absurd, &mut out),
        Err(RtmpError::ChunkSizeOutOfRange { .. })
    ));

    let mut d = ChunkDecoder::new(DecoderLimits::default());
    assert!(matches!(
        d.push(&[0x46, 0, 0, 1, 0, 0, 1, 9], &mut out),
        Err(RtmpError::MissingPreviousHeader { csid: 6, fmt: 1 })
    ));
}

#[test]
fn random_bytes_never_panic() {
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let len = (next() % 300) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let mut d = ChunkDecoder::new(DecoderLimits {
            max_chunk_size: 65536,
            max_message_size: 1 << 20,
            max_buffered: 1 << 22,
        });
        let mut out = Vec::new();
        let _ = d.push(&bytes, &mut out);
    }
}

#[test]
fn standalone_len_is_exact() {
    for (csid, ts, len, cs) in [
        (4u32, 0u32, 0usize, 128u32),
        (6, 1000, 307, 128),
        (6, 0x0100_0000, 300, 128),
        (320, 5, 10_000, 4096),
        (70, 0xFFFFFF, 4096, 4096),
    ] {
        let payload = vec![1u8; len];
        let mut out = Vec::new();
        encode_standalone(csid, ts, 9, 1, &payload, cs, &mut out);
        assert_eq!(
            out.len(),
            standalone_len(csid, ts, len, cs as usize),
            "csid {csid} ts {ts} len {len} cs {cs}"
        );
    }
}

/// The fmt 3 continuation fast path (whole chunk in one read) and the general path (a byte at
/// a time) must give the same messages, over interleaved streams, extended timestamps, 2- and
/// 3-byte basic headers and chunk sizes from 1 to larger than the messages.
#[test]
fn continuation_fast_path_matches_the_general_path() {
    for chunk_size in [1u32, 7, 128, 4096] {
        let mut enc = ChunkEncoder::new();
        enc.set_chunk_size(chunk_size);
        let mut bytes = Vec::new();
        for i in 0..40u32 {
            let csid = [3, 4, 6, 63, 64, 320][i as usize % 6];
            let ts = if i % 5 == 0 {
                0x0100_0000 + i * 40
            } else {
                i * 40
            };
            let payload: Vec<u8> = (0..(i * 97 % 5000)).map(|k| (k * 31 + i) as u8).collect();
            enc.encode(
                csid,
                ts,
                if i % 2 == 0 { 8 } else { 9 },
                1,
                &payload,
                &mut bytes,
            );
        }
        let whole = decode_all_at_once(&bytes, chunk_size);
        assert_eq!(whole.len(), 40);
        assert_eq!(
            whole,
            decode_byte_by_byte(&bytes, chunk_size),
            "chunk size {chunk_size}"
        );
    }
}
