//! Fuzz harnesses of the RTMP core and AMF (sluice-rtmp, sluice-amf0), one per parser
//! (DESIGN.md: "fuzz every parser, crash reproducers become regression tests"). Each
//! `fuzz_targets/<name>.rs` calls the function of the same name (re-exported by `lib.rs`).
//!
//! This file is plain Rust with no libFuzzer dependency: `crates/rtmp/tests/regressions.rs`
//! includes it with `#[path]` and replays crash inputs through exactly the same code under
//! `cargo test -p sluice-rtmp`. So it names crates only by absolute paths (`sluice_rtmp::…`,
//! `sluice_amf0::…`), never `crate::`, and uses no crate sluice-rtmp does not depend on.
//!
//! Besides "no panic", each harness checks properties the rest of Sluice relies on:
//! decoded values re-encode to themselves, the chunk decoder gives the same messages whatever
//! the read splits, the session's own output always decodes on the peer, a session or decoder
//! that returned an error stays failed without reading, and FLV header offsets stay inside the
//! tag body.

use sluice_amf0::{
    decode_all, decode_all_strict, decode_value, decode_value_strict, encode_all, encode_to_vec,
    Amf0Value,
};
use sluice_rtmp::chunk::{ChunkDecoder, ChunkEncoder, DecoderLimits};
use sluice_rtmp::flv::{
    split_tracks, AudioSpecificConfig, AudioTagHeader, AvcDecoderConfigurationRecord, VideoTagHeader,
};
use sluice_rtmp::handshake::{
    ClientHandshake, HandshakeError, HandshakeKind, ServerHandshake, HANDSHAKE_SIZE, RANDOM_SIZE,
};
use sluice_rtmp::message::{Message, ABORT, SET_CHUNK_SIZE};
use sluice_rtmp::session::{Role, Session, SessionConfig, SessionEvent};
use sluice_rtmp::RtmpError;

/// Read sizes derived from the input (xorshift), so a run is a pure function of its bytes.
struct Splits(u64);

impl Splits {
    fn new(seed: u64) -> Self {
        Splits(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next read size: 1, small or large, like a socket.
    fn next(&mut self) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        match x % 4 {
            0 => 1,
            1 => 1 + (x >> 8) as usize % 16,
            2 => 1 + (x >> 8) as usize % 512,
            _ => 1 + (x >> 8) as usize % 8192,
        }
    }

    /// `data` cut into pieces.
    fn pieces<'a>(&mut self, mut data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let n = self.next().min(data.len());
            out.push(&data[..n]);
            data = &data[n..];
        }
        out
    }
}

// ------------------------------------------------------------------ amf0_decode

/// Values whose re-encoding cannot compare equal: NaN (never equal to itself) and strings
/// longer than 65535 bytes reached through AMF3 (re-encoded as AMF0 long strings).
fn not_comparable(v: &Amf0Value) -> bool {
    match v {
        Amf0Value::Number(n) => n.is_nan(),
        Amf0Value::Date { millis, .. } => millis.is_nan(),
        Amf0Value::String(s) => s.len() > 0xFFFF,
        Amf0Value::StrictArray(items) => items.iter().any(not_comparable),
        _ => v
            .properties()
            .is_some_and(|p| p.iter().any(|(k, v)| k.len() > 0xFFFF || not_comparable(v))),
    }
}

/// AMF0 (and the AMF3 switch): the four decoders never panic, consume no more than they were
/// given, and whatever decodes re-encodes to bytes that decode strictly to the same values.
pub fn amf0_decode(data: &[u8]) {
    let lenient = decode_value(data);
    if let Ok((value, used)) = &lenient {
        assert!(*used <= data.len());
        if !not_comparable(value) {
            let bytes = encode_to_vec(value);
            let (again, n) = decode_value_strict(&bytes).expect("canonical encoding decodes");
            assert_eq!(n, bytes.len());
            assert_eq!(&again, value);
        }
    }
    if let Ok((strict, strict_used)) = decode_value_strict(data) {
        // Strict success implies the lenient decoder read exactly the same thing (compared as
        // canonical bytes: NaN is not equal to itself, but its bits round-trip).
        let (value, used) = lenient.expect("lenient decodes what strict decodes");
        assert_eq!(used, strict_used);
        assert_eq!(encode_to_vec(&value), encode_to_vec(&strict));
    }
    let all = decode_all(data);
    if let Ok(values) = &all {
        if !values.iter().any(not_comparable) {
            let mut bytes = Vec::new();
            encode_all(values, &mut bytes);
            assert_eq!(decode_all_strict(&bytes).as_ref(), Ok(values));
        }
    }
    if let Ok(strict) = decode_all_strict(data) {
        let values = all.expect("lenient decodes what strict decodes");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        encode_all(&values, &mut a);
        encode_all(&strict, &mut b);
        assert_eq!(a, b);
    }
}

// ------------------------------------------------------------------ amf3_decode

/// AMF3 (AMF 3 spec §3, reached through the AMF0 avmplus-object switch `0x11` as in type 17
/// commands and type 15 data): the input is the AMF3 bytes after the switch, so every mutation
/// lands in the AMF3 decoder (reference tables, traits, vectors, dictionaries, expansion
/// limits). Same properties as [`amf0_decode`].
pub fn amf3_decode(data: &[u8]) {
    let mut input = Vec::with_capacity(1 + data.len());
    input.push(0x11);
    input.extend_from_slice(data);
    amf0_decode(&input);
}

// ------------------------------------------------------------------ chunk_decoder

/// Limits small enough that the fuzzer reaches them with inputs of a few kilobytes.
fn fuzz_limits() -> DecoderLimits {
    DecoderLimits {
        max_chunk_size: 65_536,
        max_message_size: 64 * 1024,
        max_buffered: 256 * 1024,
    }
}

/// The chunk size the first input byte chooses: 1..=128 for 0..=127, else 128 << (b % 10)
/// (128 ..= 65 536).
fn chosen_chunk_size(b: u8) -> u32 {
    if b < 128 {
        b as u32 + 1
    } else {
        128u32 << (b % 10)
    }
}

/// Feeds the pieces to a fresh decoder, with `push` or (each piece a fresh buffer that is
/// overwritten once its messages were copied out) with `push_in_place`.
fn decode_chunks(
    pieces: &[&[u8]],
    chunk_size: u32,
    limits: DecoderLimits,
    in_place: bool,
) -> (Vec<Message>, Result<(), RtmpError>) {
    let mut decoder = ChunkDecoder::new(limits);
    decoder
        .set_chunk_size(chunk_size)
        .expect("chosen chunk size is valid");
    let mut out = Vec::new();
    let mut decoded = Vec::new();
    for piece in pieces {
        let result = if in_place {
            let mut read = piece.to_vec();
            let result = decoder.push_in_place(&mut read, &mut decoded);
            out.extend(decoded.drain(..).map(|m| m.into_shared(&read)));
            read.fill(0xEE);
            result
        } else {
            decoder.push(piece, &mut out)
        };
        if let Err(e) = result {
            // Errors are final: fed again, either way, the decoder reads nothing and returns
            // the same error (before, an in-place message in progress outlived its read).
            assert!(decoder.is_failed());
            let mut again = Vec::new();
            assert_eq!(decoder.push(piece, &mut again).as_ref(), Err(&e));
            let mut read = piece.to_vec();
            let mut decoded = Vec::new();
            assert_eq!(
                decoder.push_in_place(&mut read, &mut decoded).as_ref(),
                Err(&e)
            );
            assert!(again.is_empty() && decoded.is_empty());
            return (out, Err(e));
        }
        assert!(decoder.buffered() <= limits.max_buffered);
    }
    (out, Ok(()))
}

/// Chunk demux (§5.3): the first byte chooses the chunk size, the rest is the chunk stream.
/// Fed whole and in pieces, the decoder must give the same messages and the same error, and so
/// must in-place decoding of the pieces (unless `max_buffered` is reached: in place, a message
/// counts against it only when it continues past the end of a read); every message stays within
/// the limits; the messages, re-encoded by [`ChunkEncoder`], decode to themselves.
pub fn chunk_decoder(data: &[u8]) {
    let Some((&choice, stream)) = data.split_first() else {
        return;
    };
    let chunk_size = chosen_chunk_size(choice);
    let limits = fuzz_limits();
    let (whole, whole_result) = decode_chunks(&[stream], chunk_size, limits, false);
    let pieces = Splits::new(data.len() as u64 ^ choice as u64).pieces(stream);
    let (split, split_result) = decode_chunks(&pieces, chunk_size, limits, false);
    assert_eq!(whole, split, "messages depend on the read splits");
    assert_eq!(
        whole_result, split_result,
        "result depends on the read splits"
    );
    let (in_place, in_place_result) = decode_chunks(&pieces, chunk_size, limits, true);
    let bounded = |r: &Result<(), RtmpError>| matches!(r, Err(RtmpError::TooMuchBuffered { .. }));
    if !bounded(&split_result) && !bounded(&in_place_result) {
        assert_eq!(split, in_place, "in-place messages differ");
        assert_eq!(split_result, in_place_result, "in-place result differs");
    }
    if let Err(e) = &whole_result {
        assert!(e.code().starts_with("RTMP_"));
    }
    for m in &whole {
        assert!(m.payload.len() <= limits.max_message_size as usize);
        assert!((2..=65_599).contains(&m.csid));
    }

    // Round trip through the encoder (Set Chunk Size and Abort would change how the decoder
    // reads the rest, so they are left out).
    let replay: Vec<&Message> = whole
        .iter()
        .filter(|m| m.type_id != SET_CHUNK_SIZE && m.type_id != ABORT)
        .collect();
    let mut encoder = ChunkEncoder::new();
    encoder.set_chunk_size(chunk_size);
    let mut bytes = Vec::new();
    for m in &replay {
        encoder.encode(
            m.csid,
            m.timestamp,
            m.type_id,
            m.message_stream_id,
            &m.payload,
            &mut bytes,
        );
    }
    let (again, result) = decode_chunks(&[&bytes], chunk_size, limits, false);
    assert_eq!(result, Ok(()), "the encoder's output must decode");
    assert_eq!(again.len(), replay.len());
    for (a, m) in again.iter().zip(replay) {
        assert_eq!(a, m, "encode/decode round trip");
    }
}

// ------------------------------------------------------------------ handshake_server

/// Handshake (§5.2): the input is C0 + C1 + C2 (+ chunk bytes) to a [`ServerHandshake`], fed in
/// pieces. Only a C0 other than 3 may fail; S0+S1+S2 are all or nothing; consumption stops
/// exactly after C2; whatever the server answers completes a [`ClientHandshake`]. The same bytes
/// read as S0+S1+S2 by a client only fail on S0.
pub fn handshake_server(data: &[u8]) {
    let mut splits = Splits::new(data.len() as u64);
    let mut server = ServerHandshake::new([0x5A; RANDOM_SIZE], 1234);
    let mut s0s1s2 = Vec::new();
    let mut consumed = 0usize;
    for piece in splits.pieces(data) {
        match server.feed(piece, &mut s0s1s2) {
            Ok(used) => {
                assert!(used <= piece.len());
                consumed += used;
                if used < piece.len() {
                    assert!(
                        server.is_done(),
                        "input left over before the handshake is done"
                    );
                }
            }
            Err(e) => {
                assert_eq!(e, HandshakeError::UnsupportedVersion(data[0]));
                assert_ne!(data[0], 3);
                assert!(s0s1s2.is_empty());
                break;
            }
        }
    }
    assert!(s0s1s2.is_empty() || s0s1s2.len() == 1 + 2 * HANDSHAKE_SIZE);
    if data.first() == Some(&3) {
        let needed = 1 + 2 * HANDSHAKE_SIZE;
        assert_eq!(server.is_done(), data.len() >= needed);
        assert_eq!(consumed, data.len().min(needed));
        assert_eq!(s0s1s2.is_empty(), data.len() < 1 + HANDSHAKE_SIZE);
    }
    if !s0s1s2.is_empty() {
        assert!(server.kind().is_some());
        for kind in [HandshakeKind::Simple, HandshakeKind::Complex] {
            let mut client = ClientHandshake::new([0xA5; RANDOM_SIZE], 99, kind);
            let mut c0c1 = Vec::new();
            client.start(&mut c0c1);
            let mut c2 = Vec::new();
            assert_eq!(client.feed(&s0s1s2, &mut c2), Ok(s0s1s2.len()));
            assert!(client.is_done());
            assert_eq!(c2.len(), HANDSHAKE_SIZE);
        }
    }

    let mut client = ClientHandshake::new([0xA5; RANDOM_SIZE], 99, HandshakeKind::Complex);
    let mut out = Vec::new();
    client.start(&mut out);
    out.clear();
    match client.feed(data, &mut out) {
        Ok(used) => assert!(used <= data.len()),
        Err(e) => assert_eq!(e, HandshakeError::UnsupportedVersion(data[0])),
    }
}

// ------------------------------------------------------------------ session_server

/// Moves bytes between two sessions until both are quiet; panics on any error (both sides are
/// ours, so they must understand each other).
fn pump(a: &mut Session, b: &mut Session) {
    loop {
        let to_b = a.take_transmit();
        let to_a = b.take_transmit();
        if to_a.is_empty() && to_b.is_empty() {
            return;
        }
        b.handle_input(&to_b).expect("server accepts our client");
        a.handle_input(&to_a).expect("client accepts our server");
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
    }
}

/// A whole connection (§5.2–§7): a real handshake with a client [`Session`] first (bit 0 of the
/// first byte chooses simple or complex; bit 1 makes the client announce a small window so the
/// server acknowledges often), then the rest of the input is the client's chunk stream, fed to
/// the server in pieces, every other piece in place. Errors must carry a code; whatever the
/// server sends back (pings answered, acknowledgements) must decode on the client. A session
/// that returned an error is inert: fed again, in place or not, it returns the same error and
/// produces no events, no output and no byte count.
pub fn session_server(data: &[u8]) {
    let Some((&choice, stream)) = data.split_first() else {
        return;
    };
    let kind = if choice & 1 == 0 {
        HandshakeKind::Simple
    } else {
        HandshakeKind::Complex
    };
    let config = SessionConfig {
        limits: fuzz_limits(),
    };
    let mut client = Session::new(
        Role::Client(kind),
        SessionConfig::default(),
        [0x11; RANDOM_SIZE],
        1,
    );
    let mut server = Session::new(Role::Server, config, [0x22; RANDOM_SIZE], 2);
    pump(&mut client, &mut server);
    assert!(client.is_handshake_done() && server.is_handshake_done());
    if choice & 2 != 0 {
        client.send_window_ack_size(64 + choice as u32);
        pump(&mut client, &mut server);
    }

    let mut splits = Splits::new(data.len() as u64 ^ choice as u64);
    for (n, piece) in splits.pieces(stream).into_iter().enumerate() {
        // Every other read goes in place (as the server's socket reads do); the ranges its
        // media events name must lie in that read.
        let result = if n % 2 == 1 {
            let mut read = piece.to_vec();
            let result = server.handle_input_in_place(&mut read);
            while let Some(e) = server.poll_event() {
                if let SessionEvent::MediaInInput { range, .. } = e {
                    assert!(range.start <= range.end && range.end <= read.len());
                }
            }
            result
        } else {
            let result = server.handle_input(piece);
            while server.poll_event().is_some() {}
            result
        };
        let reply = server.take_transmit();
        client
            .handle_input(&reply)
            .expect("the server's own output decodes on the client");
        while client.poll_event().is_some() {}
        if let Err(e) = result {
            assert!(e.code().starts_with("RTMP_"));
            assert!(!e.to_string().is_empty());
            // A failed session fed more must not panic, and must not read: errors are final.
            assert!(server.is_failed());
            let received = server.bytes_received();
            assert_eq!(server.handle_input(stream).as_ref(), Err(&e));
            let mut again = stream.to_vec();
            assert_eq!(server.handle_input_in_place(&mut again).as_ref(), Err(&e));
            assert!(server.poll_event().is_none());
            assert!(!server.has_transmit());
            assert_eq!(server.bytes_received(), received);
            break;
        }
    }
}

// ------------------------------------------------------------------ flv_tags

/// FLV tag bodies (FLV §E.4.2/§E.4.3, Enhanced RTMP): the header parsers never panic and their
/// `data_offset` stays inside the body (callers slice `body[data_offset..]`); the sequence
/// header bodies behind them parse without panicking.
pub fn flv_tags(data: &[u8]) {
    if let Some(h) = VideoTagHeader::parse(data) {
        assert!(h.data_offset <= data.len());
        assert!((-(1 << 23)..(1 << 23)).contains(&h.composition_time));
        assert!(h.frame_type <= 15);
        let _ = h.is_keyframe();
        if h.is_sequence_header {
            if let Some(r) = AvcDecoderConfigurationRecord::parse(&data[h.data_offset..]) {
                let _ = r.codec_string();
            }
        }
    }
    // multitrack split: each track's message is no longer than the whole plus its own header,
    // parses as a plain (not multitrack) message of the same kind
    for audio in [false, true] {
        for (_, message) in split_tracks(data, audio).unwrap_or_default() {
            assert!(message.len() <= data.len() + 5);
            if matches!(message, std::borrow::Cow::Owned(_)) {
                let multitrack = if audio { AudioTagHeader::parse(&message).map(|h| h.multitrack) } else { VideoTagHeader::parse(&message).map(|h| h.multitrack) };
                assert!(multitrack.is_none_or(|m| m.is_none()), "a split track is not multitrack");
            }
        }
    }
    if let Some(h) = AudioTagHeader::parse(data) {
        assert!(h.data_offset <= data.len());
        assert!(h.sound_rate <= 3 && h.sound_size <= 1 && h.sound_type <= 1);
        if h.is_sequence_header {
            if let Some(c) = AudioSpecificConfig::parse(&data[h.data_offset..]) {
                let _ = c.codec_string();
            }
        }
    }
    if let Some(r) = AvcDecoderConfigurationRecord::parse(data) {
        assert!((1..=4).contains(&r.nalu_length_size));
        assert_eq!(r.codec_string().len(), "avc1.64001f".len());
        let held: usize = r.sps.iter().chain(&r.pps).map(|s| s.len() + 2).sum();
        assert!(held <= data.len());
    }
    if let Some(c) = AudioSpecificConfig::parse(data) {
        assert!(c.object_type <= 32 + 63);
        assert!(c.channels <= 15);
        let _ = c.codec_string();
    }
}
