//! Chunk stream demux as an explicit state machine: a parse stage, and the previous message
//! header per chunk stream id (RTMP 1.0 §5.3.1).
//!
//! Two ways to feed it: [`ChunkDecoder::push`] copies each message's payload into slab memory
//! ([`super::arena`]); [`ChunkDecoder::push_in_place`] reassembles messages inside the input
//! buffer itself, moving each later chunk's payload down over the chunk headers before it, and
//! copies only a message that continues into the next read.
//!
//! Errors are final, as in the handshake: a decoder whose `push` or `push_in_place` returned an
//! error has failed. It drops its messages in progress there and then (so nothing it holds can
//! name a range of a read that is over), and every later `push`/`push_in_place` returns the
//! same error again without reading its input. Only a new decoder reads a new connection.

use std::collections::HashMap;
use std::ops::Range;

use super::arena::{Arena, Payload, Reservation};
use super::{DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP_MARK};
use crate::error::RtmpError;
use crate::message::{Message, ABORT, SET_CHUNK_SIZE};

/// Bounds on what a peer can make the decoder hold. Every length read from the wire is
/// checked against these before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderLimits {
    /// Largest chunk size (bytes) a Set Chunk Size may announce. Default 65 536.
    pub max_chunk_size: u32,
    /// Largest message length (bytes) a message header may announce. Default 8 MiB.
    pub max_message_size: u32,
    /// Most bytes reserved for partial messages across all chunk streams at once (each message
    /// in progress counts with its announced length). Default 32 MiB.
    pub max_buffered: usize,
}

impl Default for DecoderLimits {
    fn default() -> Self {
        DecoderLimits {
            max_chunk_size: 65_536,
            max_message_size: 8 * 1024 * 1024,
            max_buffered: 32 * 1024 * 1024,
        }
    }
}

/// The previous header and partial payload of one chunk stream.
#[derive(Debug, Default)]
struct StreamState {
    /// A fmt 0 header has been seen, so fmt 1/2/3 can inherit from it.
    has_header: bool,
    /// Absolute timestamp (ms) of the current or last message.
    timestamp: u32,
    /// Timestamp delta (ms) a fmt 3 chunk starting a new message adds. After fmt 0 it is the
    /// fmt 0 timestamp field, as ffmpeg and SRS read it.
    delta: u32,
    /// Message length in bytes.
    length: u32,
    type_id: u8,
    message_stream_id: u32,
    /// The extended timestamp field of the last fmt 0/1/2 header, if it had one; fmt 3 chunks
    /// then carry it again.
    extended: Option<u32>,
    /// Where the message in progress is being reassembled (`None` between messages).
    payload: Option<Target>,
    /// A message is in progress (some but not all of its payload arrived).
    in_message: bool,
}

/// Where the payload of a message in progress is being reassembled.
#[derive(Debug)]
enum Target {
    /// In a slab reservation, copied chunk by chunk.
    Slab(Reservation),
    /// In the buffer of the current [`ChunkDecoder::push_in_place`] call: the message's first
    /// payload byte is at `start`, and each later chunk's payload is moved down to
    /// `start + filled`, over the chunk headers in between. At most one message at a time.
    Input {
        start: usize,
        len: usize,
        filled: usize,
    },
}

impl Target {
    fn filled(&self) -> usize {
        match self {
            Target::Slab(r) => r.filled(),
            Target::Input { filled, .. } => *filled,
        }
    }

    fn len(&self) -> usize {
        match self {
            Target::Slab(r) => r.len(),
            Target::Input { len, .. } => *len,
        }
    }

    /// Appends the chunk payload at `src` of the input (never more than the message has left).
    fn append<W: Wire>(&mut self, input: &mut W, src: Range<usize>) {
        match self {
            Target::Slab(r) => {
                r.write(&input.bytes()[src]);
            }
            Target::Input { start, filled, .. } => {
                let dest = *start + *filled;
                *filled += src.len();
                if dest != src.start {
                    input.move_down(src, dest);
                }
            }
        }
    }
}

/// Where a message decoded by [`ChunkDecoder::push_in_place`] has its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// In slab memory (the message began in an earlier read, or shared its read with another
    /// message in progress).
    Payload(Payload),
    /// Bytes `range` of the buffer given to the `push_in_place` call that returned the message.
    Input(Range<usize>),
}

impl Message<Body> {
    /// The same message with its payload in shared memory: a [`Body::Input`] range of `input`
    /// (the buffer the message was decoded from) is copied into a slab of its own.
    ///
    /// # Panics
    ///
    /// If `input` is not (at least as long as) the buffer of the `push_in_place` call that
    /// returned the message: the range is sliced as is. The decoder never hands out a range of
    /// an earlier read, even after an error (see [`ChunkDecoder::push_in_place`]).
    pub fn into_shared(self, input: &[u8]) -> Message {
        Message {
            csid: self.csid,
            timestamp: self.timestamp,
            type_id: self.type_id,
            message_stream_id: self.message_stream_id,
            payload: match self.payload {
                Body::Payload(p) => p,
                Body::Input(r) => Payload::from(input[r].to_vec()),
            },
        }
    }
}

/// The decoder's view of its input: read-only for [`ChunkDecoder::push`], writable for
/// [`ChunkDecoder::push_in_place`].
trait Wire {
    /// Whether messages may be reassembled inside the input.
    const IN_PLACE: bool;
    fn bytes(&self) -> &[u8];
    /// Moves the bytes at `src` down to `dest` (`dest < src.start`).
    fn move_down(&mut self, src: Range<usize>, dest: usize);
}

impl Wire for &[u8] {
    const IN_PLACE: bool = false;
    fn bytes(&self) -> &[u8] {
        self
    }
    fn move_down(&mut self, _: Range<usize>, _: usize) {
        // Never called: without IN_PLACE no message is reassembled in the input.
    }
}

impl Wire for &mut [u8] {
    const IN_PLACE: bool = true;
    fn bytes(&self) -> &[u8] {
        self
    }
    fn move_down(&mut self, src: Range<usize>, dest: usize) {
        self.copy_within(src, dest);
    }
}

/// A parsed chunk header, before it is applied to its stream state.
#[derive(Debug, Clone, Copy)]
struct ChunkHeader {
    fmt: u8,
    csid: u32,
    /// The 24-bit field or the extended timestamp that replaced it.
    time_field: u32,
    extended: Option<u32>,
    length: u32,
    type_id: u8,
    message_stream_id: u32,
}

#[derive(Debug, Clone, Copy)]
enum Stage {
    /// Waiting for (the rest of) a chunk header; its first bytes may be in `header`.
    Header,
    /// Copying `remaining` payload bytes of the current chunk for `csid`.
    Payload { csid: u32, remaining: usize },
}

/// Longest chunk header: 3-byte basic header + 11-byte fmt 0 header + 4-byte extended timestamp.
const MAX_HEADER: usize = 18;
/// Chunk stream ids below this live in a flat table; others in a map.
const FLAT_CSIDS: usize = 64;

/// Reassembles RTMP messages from chunks, bytes in and messages out (sans-IO).
///
/// State transitions: `Header` → (header complete) → `Payload` → (chunk's payload copied) →
/// `Header`. A message completes when its last chunk's payload is copied. Set Chunk Size and
/// Abort Message are applied here, at the point in the byte stream where they arrive, and are
/// still returned to the caller.
///
/// An error from [`ChunkDecoder::push`] or [`ChunkDecoder::push_in_place`] is final: the decoder
/// is then inert (every later call returns that error and reads nothing), see the module docs.
#[derive(Debug)]
pub struct ChunkDecoder {
    limits: DecoderLimits,
    chunk_size: u32,
    flat: Vec<StreamState>,
    other: HashMap<u32, StreamState>,
    header: [u8; MAX_HEADER],
    header_len: usize,
    stage: Stage,
    buffered: usize,
    arena: Arena,
    /// The chunk stream whose message is being reassembled in the input (in-place reads only).
    in_input: Option<u32>,
    /// Scratch list for [`ChunkDecoder::push`].
    decoded: Vec<Message<Body>>,
    /// The error that ended decoding: from then on every push returns it and reads nothing.
    failed: Option<RtmpError>,
}

impl ChunkDecoder {
    /// A decoder at the default chunk size of 128 bytes.
    pub fn new(limits: DecoderLimits) -> Self {
        ChunkDecoder {
            limits,
            chunk_size: DEFAULT_CHUNK_SIZE,
            flat: (0..FLAT_CSIDS).map(|_| StreamState::default()).collect(),
            other: HashMap::new(),
            header: [0; MAX_HEADER],
            header_len: 0,
            stage: Stage::Header,
            buffered: 0,
            arena: Arena::new(),
            in_input: None,
            decoded: Vec::new(),
            failed: None,
        }
    }

    /// The peer's current chunk size in bytes.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Applies a chunk size (bytes); errors when it is 0, has the reserved top bit set
    /// (§5.4.1) or is above `max_chunk_size`.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), RtmpError> {
        let max = self.limits.max_chunk_size.min(0x7FFF_FFFF);
        if size == 0 || size > max {
            return Err(RtmpError::ChunkSizeOutOfRange {
                requested: size,
                max,
            });
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Drops every message in progress and the current slab, so the memory can return to the
    /// pool once the payloads made from it are gone. Meant for a connection that is closing; a
    /// later chunk is read as after an Abort Message (§5.4.2) on every chunk stream (unless the
    /// decoder has failed: it reads nothing more). A failing push calls it itself.
    pub fn release_payload_memory(&mut self) {
        for state in self.flat.iter_mut().chain(self.other.values_mut()) {
            state.payload = None;
            state.in_message = false;
        }
        self.buffered = 0;
        self.stage = Stage::Header;
        self.header_len = 0;
        self.arena = Arena::new();
        self.in_input = None;
    }

    /// Bytes reserved for partial messages now (their announced lengths).
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    fn state(&mut self, csid: u32) -> &mut StreamState {
        if (csid as usize) < FLAT_CSIDS {
            &mut self.flat[csid as usize]
        } else {
            self.other.entry(csid).or_default()
        }
    }

    fn peek_state(&self, csid: u32) -> Option<&StreamState> {
        if (csid as usize) < FLAT_CSIDS {
            Some(&self.flat[csid as usize])
        } else {
            self.other.get(&csid)
        }
    }

    /// Feeds bytes as they arrive (any split) and appends every message they complete to
    /// `out`, its payload copied into slab memory.
    ///
    /// # Errors
    ///
    /// Malformed or over-limit input ([`RtmpError`]). The messages completed before the fault
    /// are still appended to `out`. An error is final: the decoder drops its messages in
    /// progress, and this and every later `push`/`push_in_place` call returns the same error
    /// without reading its input (the connection must be closed).
    pub fn push(&mut self, input: &[u8], out: &mut Vec<Message>) -> Result<(), RtmpError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut decoded = std::mem::take(&mut self.decoded);
        let result = self.decode(&mut &*input, &mut decoded);
        // Without IN_PLACE every payload is in a slab already (`into_shared` copies nothing).
        out.extend(decoded.drain(..).map(|m| m.into_shared(input)));
        self.decoded = decoded;
        result.map_err(|e| self.fail(e))
    }

    /// Whether a `push`/`push_in_place` call has returned an error (then every later one
    /// returns it again and reads nothing).
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Ends decoding with `e`: drops every message in progress (a message being reassembled in
    /// the input names ranges of a read that is over once the call returns) and keeps `e` for
    /// every later call. Returns `e`.
    fn fail(&mut self, e: RtmpError) -> RtmpError {
        self.release_payload_memory();
        self.failed = Some(e.clone());
        e
    }

    /// Like [`ChunkDecoder::push`], but reassembles messages inside `input`: a message whose
    /// chunks all lie in this read is returned as [`Body::Input`], a range of `input` where its
    /// chunks' payloads have been moved together (the chunk headers between them are
    /// overwritten). Only one message is reassembled in the input at a time: a message that
    /// starts while another is in progress here (interleaved chunk streams), or that began in an
    /// earlier read, goes to slab memory as with `push`, and so does a message still in
    /// progress when the read ends (its bytes so far are copied there, counted against
    /// `max_buffered`). The caller must read the returned ranges before it changes `input`.
    ///
    /// # Errors
    ///
    /// As [`ChunkDecoder::push`]: the messages completed before the fault are in `out` (their
    /// [`Body::Input`] ranges of `input` stay valid), and the error is final. A message that
    /// was being reassembled in `input` is dropped, not moved to a slab, so no later call can
    /// complete it with a range of this read; every later call returns the same error.
    pub fn push_in_place(
        &mut self,
        mut input: &mut [u8],
        out: &mut Vec<Message<Body>>,
    ) -> Result<(), RtmpError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = match self.decode(&mut input, out) {
            Ok(()) => self.move_input_message_to_slab(input),
            Err(e) => Err(e),
        };
        result.map_err(|e| self.fail(e))
    }

    /// At the end of an in-place read: the message in progress in the input moves to a slab.
    fn move_input_message_to_slab(&mut self, input: &[u8]) -> Result<(), RtmpError> {
        let Some(csid) = self.in_input.take() else {
            return Ok(());
        };
        let (buffered, max) = (self.buffered, self.limits.max_buffered);
        let state = self.state(csid);
        let Some(Target::Input { start, len, filled }) = state.payload else {
            return Ok(());
        };
        if buffered + len > max {
            return Err(RtmpError::TooMuchBuffered {
                buffered: buffered + len,
                max,
            });
        }
        self.buffered += len;
        let mut reservation = self.arena.reserve(len);
        reservation.write(&input[start..start + filled]);
        self.state(csid).payload = Some(Target::Slab(reservation));
        Ok(())
    }

    fn decode<W: Wire>(
        &mut self,
        input: &mut W,
        out: &mut Vec<Message<Body>>,
    ) -> Result<(), RtmpError> {
        let end = input.bytes().len();
        let mut pos = 0;
        while pos < end {
            match self.stage {
                Stage::Header => {
                    if let Some(used) = self.continuation_chunk(input, pos, out)? {
                        pos += used;
                        continue;
                    }
                    let rest = &input.bytes()[pos..];
                    if self.header_len == 0 {
                        match self.parse_header(rest)? {
                            Some((header, used)) => {
                                pos += used;
                                self.apply_header(header, input, Some(pos), out)?;
                            }
                            None => {
                                // Fewer bytes than the header needs: keep them (< MAX_HEADER).
                                let n = rest.len().min(MAX_HEADER);
                                self.header[..n].copy_from_slice(&rest[..n]);
                                self.header_len = n;
                                pos += n;
                            }
                        }
                    } else {
                        let have = self.header_len;
                        let take = (MAX_HEADER - have).min(rest.len());
                        let mut buf = self.header;
                        buf[have..have + take].copy_from_slice(&rest[..take]);
                        match self.parse_header(&buf[..have + take])? {
                            Some((header, used)) if used >= have => {
                                pos += used - have;
                                self.header_len = 0;
                                self.apply_header(header, input, Some(pos), out)?;
                            }
                            Some((header, used)) => {
                                // The header ended inside the bytes kept from the last read (a
                                // fmt 3 chunk's optional extended timestamp was absent): the
                                // kept bytes after it are the chunk's payload and come first.
                                self.header_len = 0;
                                self.apply_header(header, input, None, out)?;
                                self.decode(&mut &buf[used..have], out)?;
                            }
                            None => {
                                self.header = buf;
                                self.header_len = have + take;
                                pos += take;
                            }
                        }
                    }
                }
                Stage::Payload { csid, remaining } => {
                    let n = remaining.min(end - pos);
                    if let Some(target) = &mut self.state(csid).payload {
                        target.append(input, pos..pos + n);
                    }
                    pos += n;
                    if n == remaining {
                        self.stage = Stage::Header;
                        self.finish_chunk(csid, input, out)?;
                    } else {
                        self.stage = Stage::Payload {
                            csid,
                            remaining: remaining - n,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// Fast path for the most common chunk: fmt 3 with a 1-byte basic header continuing a message
    /// in progress without an extended timestamp, its whole payload in the input at `pos`.
    /// Decodes it (the same result as the general path) and returns the bytes used, or `None` to
    /// take the general path.
    #[inline]
    fn continuation_chunk<W: Wire>(
        &mut self,
        input: &mut W,
        pos: usize,
        out: &mut Vec<Message<Body>>,
    ) -> Result<Option<usize>, RtmpError> {
        if self.header_len != 0 {
            return Ok(None);
        }
        let b = &input.bytes()[pos..];
        let Some(&first) = b.first() else {
            return Ok(None);
        };
        let csid = (first & 0x3F) as usize;
        if first >> 6 != 3 || csid < 2 {
            return Ok(None);
        }
        let end = input.bytes().len();
        let chunk_size = self.chunk_size as usize;
        let state = &mut self.flat[csid];
        let (true, None, Some(target)) = (state.in_message, state.extended, &mut state.payload)
        else {
            return Ok(None);
        };
        // The chunks that follow on the same chunk stream, back to back (a message sent whole),
        // are taken in this loop.
        let mut at = pos;
        loop {
            let want = (target.len() - target.filled()).min(chunk_size);
            if at + 1 + want > end {
                break;
            }
            target.append(input, at + 1..at + 1 + want);
            at += 1 + want;
            if target.filled() == target.len() {
                self.finish_chunk(csid as u32, input, out)?;
                break;
            }
            if input.bytes().get(at) != Some(&first) {
                break;
            }
        }
        Ok((at > pos).then_some(at - pos))
    }

    /// Parses a whole chunk header from the front of `b`; `None` when more bytes are needed.
    fn parse_header(&self, b: &[u8]) -> Result<Option<(ChunkHeader, usize)>, RtmpError> {
        let Some(&first) = b.first() else {
            return Ok(None);
        };
        let fmt = first >> 6;
        let (csid, mut at) = match first & 0x3F {
            0 => match b.get(1) {
                Some(&x) => (x as u32 + 64, 2),
                None => return Ok(None),
            },
            1 => match (b.get(1), b.get(2)) {
                (Some(&lo), Some(&hi)) => (((hi as u32) << 8 | lo as u32) + 64, 3),
                _ => return Ok(None),
            },
            id => (id as u32, 1),
        };
        let prev = self.peek_state(csid);
        let has_prev = prev.is_some_and(|s| s.has_header);
        if fmt != 0 && !has_prev {
            return Err(RtmpError::MissingPreviousHeader { csid, fmt });
        }
        let size = [11usize, 7, 3, 0][fmt as usize];
        let Some(mh) = b.get(at..at + size) else {
            return Ok(None);
        };
        at += size;
        let mut header = ChunkHeader {
            fmt,
            csid,
            time_field: 0,
            extended: None,
            length: 0,
            type_id: 0,
            message_stream_id: 0,
        };
        if fmt <= 2 {
            header.time_field = u24(&mh[0..3]);
        }
        if fmt <= 1 {
            header.length = u24(&mh[3..6]);
            header.type_id = mh[6];
        }
        if fmt == 0 {
            header.message_stream_id = u32::from_le_bytes([mh[7], mh[8], mh[9], mh[10]]);
        }
        if fmt <= 2 && header.time_field == EXTENDED_TIMESTAMP_MARK {
            let Some(ext) = b.get(at..at + 4) else {
                return Ok(None);
            };
            let value = u32::from_be_bytes([ext[0], ext[1], ext[2], ext[3]]);
            header.time_field = value;
            header.extended = Some(value);
            at += 4;
        } else if fmt == 3 {
            if let Some(state) = prev {
                if let Some(stored) = state.extended {
                    // Extended timestamps repeat on fmt 3 chunks (Adobe, ffmpeg); some encoders
                    // omit them on continuations, so there they are taken only if they match.
                    let Some(ext) = b.get(at..at + 4) else {
                        return Ok(None);
                    };
                    let value = u32::from_be_bytes([ext[0], ext[1], ext[2], ext[3]]);
                    if !state.in_message || value == stored {
                        header.time_field = value;
                        header.extended = Some(value);
                        at += 4;
                    }
                }
            }
        }
        Ok(Some((header, at)))
    }

    /// Applies a parsed header to its chunk stream. `pos` is where the chunk's payload begins in
    /// `input`, or `None` when it begins in bytes kept from an earlier read (then a new message
    /// goes to a slab).
    fn apply_header<W: Wire>(
        &mut self,
        h: ChunkHeader,
        input: &mut W,
        pos: Option<usize>,
        out: &mut Vec<Message<Body>>,
    ) -> Result<(), RtmpError> {
        let chunk_size = self.chunk_size as usize;
        let max_message = self.limits.max_message_size;
        let state = self.state(h.csid);
        if state.in_message && h.fmt != 3 {
            return Err(RtmpError::HeaderChangedMidMessage { csid: h.csid });
        }
        match h.fmt {
            0 => {
                state.timestamp = h.time_field;
                state.delta = h.time_field;
                state.length = h.length;
                state.type_id = h.type_id;
                state.message_stream_id = h.message_stream_id;
                state.extended = h.extended;
                state.has_header = true;
            }
            1 => {
                state.delta = h.time_field;
                state.timestamp = state.timestamp.wrapping_add(h.time_field);
                state.length = h.length;
                state.type_id = h.type_id;
                state.extended = h.extended;
            }
            2 => {
                state.delta = h.time_field;
                state.timestamp = state.timestamp.wrapping_add(h.time_field);
                state.extended = h.extended;
            }
            _ => {
                if !state.in_message {
                    if let Some(ext) = h.extended {
                        state.delta = ext;
                    }
                    state.timestamp = state.timestamp.wrapping_add(state.delta);
                }
            }
        }
        if !state.in_message {
            if state.length > max_message {
                return Err(RtmpError::MessageTooLarge {
                    length: state.length,
                    max: max_message,
                });
            }
            let length = state.length as usize;
            let target = if let (true, None, Some(start)) = (W::IN_PLACE, self.in_input, pos) {
                // Reassembled where its first payload byte is; bounded by the input's length.
                self.in_input = Some(h.csid);
                Target::Input {
                    start,
                    len: length,
                    filled: 0,
                }
            } else {
                // The whole announced length is reserved at once (one copy per byte, no
                // regrowth); the length is the peer's word, so reservations are bounded by
                // `max_buffered`.
                if self.buffered + length > self.limits.max_buffered {
                    return Err(RtmpError::TooMuchBuffered {
                        buffered: self.buffered + length,
                        max: self.limits.max_buffered,
                    });
                }
                self.buffered += length;
                Target::Slab(self.arena.reserve(length))
            };
            let state = self.state(h.csid);
            state.in_message = true;
            state.payload = Some(target);
        }
        let state = self.state(h.csid);
        let filled = state.payload.as_ref().map_or(0, Target::filled);
        let remaining = (state.length as usize)
            .saturating_sub(filled)
            .min(chunk_size);
        if remaining == 0 {
            return self.finish_chunk(h.csid, input, out);
        }
        self.stage = Stage::Payload {
            csid: h.csid,
            remaining,
        };
        Ok(())
    }

    /// Called when a chunk's payload is complete: emits the message if it is whole.
    fn finish_chunk<W: Wire>(
        &mut self,
        csid: u32,
        input: &W,
        out: &mut Vec<Message<Body>>,
    ) -> Result<(), RtmpError> {
        let state = self.state(csid);
        let filled = state.payload.as_ref().map_or(0, Target::filled);
        if filled < state.length as usize {
            return Ok(());
        }
        state.in_message = false;
        let Some(target) = state.payload.take() else {
            return Ok(());
        };
        let message = Message {
            csid,
            timestamp: state.timestamp,
            type_id: state.type_id,
            message_stream_id: state.message_stream_id,
            payload: match target {
                Target::Slab(reservation) => {
                    self.buffered -= reservation.len();
                    Body::Payload(reservation.finish())
                }
                Target::Input { start, len, .. } => {
                    self.in_input = None;
                    Body::Input(start..start + len)
                }
            },
        };
        if message.type_id == SET_CHUNK_SIZE || message.type_id == ABORT {
            let bytes = match &message.payload {
                Body::Payload(p) => &p[..],
                Body::Input(r) => &input.bytes()[r.clone()],
            };
            self.apply_chunk_layer_control(message.type_id, bytes)?;
        }
        out.push(message);
        Ok(())
    }

    /// Set Chunk Size (§5.4.1) and Abort Message (§5.4.2) change how the following bytes are
    /// read, so they take effect here.
    fn apply_chunk_layer_control(&mut self, type_id: u8, payload: &[u8]) -> Result<(), RtmpError> {
        let Some(v) = payload.get(0..4) else {
            return Err(RtmpError::ControlMessageTooShort {
                type_id,
                length: payload.len(),
            });
        };
        let value = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        if type_id == SET_CHUNK_SIZE {
            self.set_chunk_size(value)
        } else {
            // Only streams that exist are touched: an Abort never creates state.
            let state = if (value as usize) < FLAT_CSIDS {
                Some(&mut self.flat[value as usize])
            } else {
                self.other.get_mut(&value)
            };
            if let Some(state) = state {
                state.in_message = false;
                match state.payload.take() {
                    Some(Target::Slab(r)) => self.buffered -= r.len(),
                    Some(Target::Input { .. }) => self.in_input = None,
                    None => {}
                }
            }
            Ok(())
        }
    }
}

fn u24(b: &[u8]) -> u32 {
    (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32
}
