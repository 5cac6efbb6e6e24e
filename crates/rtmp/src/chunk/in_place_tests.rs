//! `push_in_place` against `push`: the same messages for any stream and any split into reads,
//! with interleaved chunk streams, chunk size changes, Abort, extended timestamps and empty
//! messages.

use super::*;
use crate::message::Message;

/// Small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A decoded message with its payload bytes.
type Flat = (u32, u32, u8, u32, Vec<u8>);

fn basic_header(fmt: u8, csid: u32, out: &mut Vec<u8>) {
    match csid {
        2..=63 => out.push(fmt << 6 | csid as u8),
        64..=319 => out.extend_from_slice(&[fmt << 6, (csid - 64) as u8]),
        _ => {
            let v = csid - 64;
            out.extend_from_slice(&[fmt << 6 | 1, v as u8, (v >> 8) as u8]);
        }
    }
}

/// A message being written chunk by chunk.
struct Open {
    csid: u32,
    timestamp: u32,
    type_id: u8,
    payload: Vec<u8>,
    sent: usize,
}

/// A random chunk stream: up to three messages in progress at once on different chunk streams,
/// their chunks interleaved; fmt 0 first chunks (extended timestamp when the time is ≥ 0xFFFFFF,
/// repeated on continuations); Set Chunk Size and Abort messages among them. Returns the bytes
/// (starting at chunk size 128).
fn random_stream(rng: &mut Rng, messages: usize) -> Vec<u8> {
    let csids = [3u32, 4, 6, 9, 63, 64, 319, 320, 65599];
    let mut out = Vec::new();
    let mut chunk_size = 128usize;
    let mut open: Vec<Open> = Vec::new();
    let mut started = 0;
    while started < messages || !open.is_empty() {
        let start_new =
            started < messages && (open.is_empty() || (open.len() < 3 && rng.below(3) == 0));
        if start_new {
            let (csid, type_id, payload) = match rng.below(12) {
                0 => {
                    let size = [1usize, 7, 128, 4096, 60_000][rng.below(5)];
                    (2, 1u8, (size as u32).to_be_bytes().to_vec())
                }
                1 if !open.is_empty() => {
                    // Abort the first open message's chunk stream (it is then dropped here too).
                    let victim = open.remove(0);
                    (2, 2u8, victim.csid.to_be_bytes().to_vec())
                }
                _ => {
                    let csid = csids[rng.below(csids.len())];
                    if open.iter().any(|o| o.csid == csid) {
                        continue;
                    }
                    let len = [0usize, 1, 100, 1000, 5000, 20_000][rng.below(6)] + rng.below(50);
                    let payload = (0..len).map(|_| rng.next() as u8).collect();
                    (csid, [8u8, 9, 20, 18][rng.below(4)], payload)
                }
            };
            if csid == 2 && open.iter().any(|o| o.csid == 2) {
                continue;
            }
            started += 1;
            let timestamp = if rng.below(5) == 0 {
                0x0100_0000 + rng.below(1000) as u32
            } else {
                rng.below(100_000) as u32
            };
            let field = timestamp.min(0xFF_FFFF);
            basic_header(0, csid, &mut out);
            out.extend_from_slice(&field.to_be_bytes()[1..]);
            out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
            out.push(type_id);
            out.extend_from_slice(&1u32.to_le_bytes());
            if field == 0xFF_FFFF {
                out.extend_from_slice(&timestamp.to_be_bytes());
            }
            open.push(Open {
                csid,
                timestamp,
                type_id,
                payload,
                sent: 0,
            });
        } else {
            let i = rng.below(open.len());
            let o = &mut open[i];
            if o.sent > 0 {
                basic_header(3, o.csid, &mut out);
                if o.timestamp >= 0xFF_FFFF {
                    out.extend_from_slice(&o.timestamp.to_be_bytes());
                }
            }
            let n = (o.payload.len() - o.sent).min(chunk_size);
            out.extend_from_slice(&o.payload[o.sent..o.sent + n]);
            o.sent += n;
            if o.sent == o.payload.len() {
                let done = open.remove(i);
                if done.type_id == 1 && done.csid == 2 {
                    chunk_size = u32::from_be_bytes(done.payload[..4].try_into().unwrap()) as usize;
                }
            }
            continue;
        }
        // A new message's first chunk: its payload follows right away.
        // Control messages (csid 2) are sent whole, so an Abort takes effect before its chunk
        // stream is used again.
        let o = open.last_mut().unwrap();
        let n = o.payload.len().min(chunk_size);
        out.extend_from_slice(&o.payload[..n]);
        o.sent = n;
        while o.csid == 2 && o.sent < o.payload.len() {
            basic_header(3, 2, &mut out);
            let n = (o.payload.len() - o.sent).min(chunk_size);
            out.extend_from_slice(&o.payload[o.sent..o.sent + n]);
            o.sent += n;
        }
        if o.sent == o.payload.len() {
            let done = open.pop().unwrap();
            if done.type_id == 1 && done.csid == 2 {
                chunk_size = u32::from_be_bytes(done.payload[..4].try_into().unwrap()) as usize;
            }
        }
    }
    out
}

fn flat(m: Message) -> Flat {
    (
        m.csid,
        m.timestamp,
        m.type_id,
        m.message_stream_id,
        m.payload.to_vec(),
    )
}

fn by_push(bytes: &[u8]) -> Vec<Flat> {
    let mut d = ChunkDecoder::new(DecoderLimits::default());
    let mut out = Vec::new();
    d.push(bytes, &mut out).unwrap();
    out.into_iter().map(flat).collect()
}

/// Feeds `bytes` in reads cut at `cuts`, each read a fresh buffer that is overwritten with 0xEE
/// once its messages were read (as a reused socket buffer would be); returns the messages and how
/// many came out as input ranges.
fn by_push_in_place(bytes: &[u8], cuts: &[usize]) -> (Vec<Flat>, usize) {
    let mut d = ChunkDecoder::new(DecoderLimits::default());
    let mut got = Vec::new();
    let mut in_input = 0;
    let mut out = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let mut read = bytes[from..to].to_vec();
        d.push_in_place(&mut read, &mut out).unwrap();
        for m in out.drain(..) {
            in_input += matches!(m.payload, Body::Input(_)) as usize;
            got.push(flat(m.into_shared(&read)));
        }
        read.fill(0xEE);
        from = to;
    }
    (got, in_input)
}

#[test]
fn in_place_reads_give_the_same_messages_as_copying_reads() {
    let mut total_in_input = 0;
    let mut total = 0;
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let bytes = random_stream(&mut rng, 60);
        let expected = by_push(&bytes);
        // One read, reads of random sizes (1 byte to 64 KiB), and single bytes.
        let mut cuts = Vec::new();
        let mut at = 0;
        loop {
            let most = [16usize, 1500, 65_536][rng.below(3)];
            at += 1 + rng.below(most);
            if at >= bytes.len() {
                break;
            }
            cuts.push(at);
        }
        for cuts in [Vec::new(), cuts] {
            let (got, in_input) = by_push_in_place(&bytes, &cuts);
            assert_eq!(got.len(), expected.len(), "seed {seed}");
            for (n, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert_eq!(g, e, "seed {seed} message {n} ({} cuts)", cuts.len());
            }
            total_in_input += in_input;
            total += got.len();
        }
        if seed <= 4 {
            let every_byte: Vec<usize> = (1..bytes.len()).collect();
            assert_eq!(
                by_push_in_place(&bytes, &every_byte).0,
                expected,
                "seed {seed}, byte by byte"
            );
        }
    }
    assert!(
        total_in_input * 3 > total,
        "most messages stay in the input: {total_in_input} of {total}"
    );
}

#[test]
fn a_message_whole_in_one_read_is_reassembled_over_its_chunk_headers() {
    let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let mut enc = ChunkEncoder::new();
    let mut bytes = Vec::new();
    enc.encode(6, 40, 9, 1, &payload, &mut bytes); // 12 + 128, 1 + 128, 1 + 44
    let mut d = ChunkDecoder::new(DecoderLimits::default());
    let mut out = Vec::new();
    d.push_in_place(&mut bytes, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].payload,
        Body::Input(12..312),
        "starts at the first payload byte"
    );
    assert_eq!(&bytes[12..312], &payload[..]);
    assert_eq!(d.buffered(), 0);
}

#[test]
fn a_message_interleaved_with_one_in_the_input_goes_to_a_slab() {
    // Video (csid 6) in progress in the input; an audio message (csid 4) starts between its
    // chunks, so the audio is copied out and the video's next chunk can move over it.
    let (mut bytes, video, audio) = super::tests::video_interleaved_with_audio();
    let mut d = ChunkDecoder::new(DecoderLimits::default());
    let mut out = Vec::new();
    d.push_in_place(&mut bytes, &mut out).unwrap();
    assert!(matches!(&out[0].payload, Body::Payload(p) if *p == audio));
    assert_eq!(out[1].payload, Body::Input(12..212));
    assert_eq!(&bytes[12..212], &video[..]);
}

#[test]
fn a_message_left_in_progress_at_the_end_of_a_read_counts_against_max_buffered() {
    let mut enc = ChunkEncoder::new();
    let mut bytes = Vec::new();
    enc.encode(6, 0, 9, 1, &[7u8; 1000], &mut bytes);
    let limits = DecoderLimits {
        max_buffered: 999,
        ..DecoderLimits::default()
    };
    let mut d = ChunkDecoder::new(limits);
    let mut out = Vec::new();
    let mut first = bytes[..500].to_vec();
    assert!(matches!(
        d.push_in_place(&mut first, &mut out),
        Err(crate::error::RtmpError::TooMuchBuffered { .. })
    ));
    let mut d = ChunkDecoder::new(DecoderLimits::default());
    let mut first = bytes[..500].to_vec();
    d.push_in_place(&mut first, &mut out).unwrap();
    assert_eq!(
        d.buffered(),
        1000,
        "moved to a slab with its announced length"
    );
    let mut rest = bytes[500..].to_vec();
    d.push_in_place(&mut rest, &mut out).unwrap();
    assert!(matches!(&out[0].payload, Body::Payload(p) if *p == vec![7u8; 1000]));
    assert_eq!(d.buffered(), 0);
}

#[test]
fn a_failed_in_place_read_leaves_no_range_for_a_later_push() {
    // A 300-byte message starts in the read (its first chunk reassembled in place at 12..140),
    // then a fmt 1 chunk on a chunk stream without a previous header fails the read. Fed the
    // rest of the message afterwards, the decoder used to complete it as `Body::Input(12..312)`
    // of the *new* read, 175 bytes long, and `into_shared` panicked on the range. Errors are
    // final now: the decoder dropped the message and returns the same error, reading nothing.
    let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let mut enc = ChunkEncoder::new();
    let mut bytes = Vec::new();
    enc.encode(3, 0, 9, 1, &payload, &mut bytes); // 12 + 128, 1 + 128, 1 + 44
    let mut first = bytes[..140].to_vec();
    first.extend_from_slice(&[0x44, 0, 0, 0, 0, 0, 4, 8]); // fmt 1 on csid 4: no fmt 0 yet
    let mut d = ChunkDecoder::new(DecoderLimits::default());
    let mut out = Vec::new();
    let err = d.push_in_place(&mut first, &mut out).unwrap_err();
    assert!(matches!(
        err,
        crate::error::RtmpError::MissingPreviousHeader { csid: 4, fmt: 1 }
    ));
    assert!(d.is_failed());
    assert_eq!(d.buffered(), 0, "the message in progress was dropped");
    let mut shared = Vec::new();
    assert_eq!(d.push(&bytes[140..], &mut shared), Err(err.clone()));
    let mut rest = bytes[140..].to_vec();
    assert_eq!(d.push_in_place(&mut rest, &mut out), Err(err));
    assert!(out.is_empty() && shared.is_empty());
}
