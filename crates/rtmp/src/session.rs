//! An RTMP connection, sans-IO: bytes in, events out; commands and media in, bytes out.
//!
//! Drain rule: after each [`Session::handle_input`] (and after each `send_*` call), the caller
//! writes [`Session::take_transmit`] to the socket and drains [`Session::poll_event`] until it
//! returns `None`. The session answers on its own what the protocol requires of it: the rest of
//! the handshake, Set Chunk Size and Abort (applied where they arrive), Acknowledgements once a
//! peer's window is received (§5.4.3/§5.4.4), and PingResponse to PingRequest (§7.1.7).
//! Nothing here reads a clock: time stamps given to `new` are inputs.
//!
//! Errors are final: once [`Session::handle_input`] or [`Session::handle_input_in_place`]
//! returned an error, the session is inert. Every later call to either returns the same error
//! without reading its input (no bytes counted, no events, nothing to transmit), so a caller
//! that feeds a failed session once more by mistake gets the error again, never stale state.
//! Events and transmit bytes produced before the error stay available; close the connection.

use std::collections::VecDeque;
use std::ops::Range;

use sluice_amf0::{decode_all, encode_all, Amf0Value};

use crate::chunk::{Body, ChunkDecoder, ChunkEncoder, DecoderLimits, Payload};
use crate::command::{strip_amf3_format_byte, Command};
use crate::control::{read_u32, UserControlEvent};
use crate::error::RtmpError;
use crate::handshake::{ClientHandshake, HandshakeKind, ServerHandshake};
use crate::message::*;

/// Which end of the connection this session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts C0/C1/C2 and answers S0/S1/S2 (simple or digest, as the client chose).
    Server,
    /// Sends C0/C1 of the given kind first.
    Client(HandshakeKind),
}

/// Settings of one session.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionConfig {
    /// Bounds on what the peer can make the decoder hold.
    pub limits: DecoderLimits,
}

/// What the peer said, in arrival order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The handshake completed; chunks follow.
    HandshakeDone {
        /// Simple or complex (digest) handshake.
        kind: HandshakeKind,
    },
    /// A command message (type 20 or 17).
    Command {
        /// Message stream id (0 for NetConnection commands).
        message_stream_id: u32,
        /// Timestamp in ms.
        timestamp: u32,
        /// The decoded command.
        command: Command,
    },
    /// A data message (type 18 or 15), e.g. `@setDataFrame`, `onMetaData`.
    Data {
        /// Message stream id.
        message_stream_id: u32,
        /// Timestamp in ms.
        timestamp: u32,
        /// The AMF values it holds.
        values: Vec<Amf0Value>,
    },
    /// An audio (8) or video (9) message: an FLV tag body. Aggregates arrive split into these.
    Media {
        /// [`AUDIO`] or [`VIDEO`].
        type_id: u8,
        /// Message stream id.
        message_stream_id: u32,
        /// Timestamp in ms (the FLV dts).
        timestamp: u32,
        /// The FLV tag body (shared memory, see [`crate::chunk::arena`]).
        payload: Payload,
    },
    /// An audio (8) or video (9) message left by [`Session::handle_input_in_place`] in the
    /// buffer it was given: the FLV tag body is bytes `range` of that buffer, valid until the
    /// caller changes or reuses it (drain the events after every call).
    MediaInInput {
        /// [`AUDIO`] or [`VIDEO`].
        type_id: u8,
        /// Message stream id.
        message_stream_id: u32,
        /// Timestamp in ms (the FLV dts).
        timestamp: u32,
        /// Byte range of the input buffer holding the tag body.
        range: Range<usize>,
    },
    /// A user control event; PingRequest has already been answered.
    UserControl(UserControlEvent),
    /// The peer acknowledged this many bytes (§5.4.3).
    Acknowledgement(u32),
    /// The peer's window acknowledgement size in bytes (§5.4.4); acknowledgements are now sent.
    WindowAckSize(u32),
    /// The peer limited our output bandwidth (§5.4.5).
    PeerBandwidth {
        /// Window size in bytes.
        size: u32,
        /// 0 hard, 1 soft, 2 dynamic.
        limit_type: u8,
    },
    /// The peer's chunk size changed (already applied).
    ChunkSize(u32),
    /// Any other message, unparsed (shared objects, unknown types).
    Other(Message),
}

#[derive(Debug)]
enum Handshaker {
    Server(Box<ServerHandshake>),
    Client(Box<ClientHandshake>),
}

/// One RTMP connection's protocol state.
#[derive(Debug)]
pub struct Session {
    handshake: Handshaker,
    handshake_done: bool,
    decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    transmit: Vec<u8>,
    events: VecDeque<SessionEvent>,
    scratch: Vec<Message>,
    scratch_in_place: Vec<Message<Body>>,
    /// Total bytes received (for Acknowledgement sequence numbers).
    received: u64,
    /// `received` when the last Acknowledgement was sent.
    acked: u64,
    /// The peer's window acknowledgement size in bytes (0: none announced yet).
    ack_window: u32,
    /// The error that ended input: from then on every `handle_input*` returns it.
    failed: Option<RtmpError>,
}

impl Session {
    /// A session in the given role. `random` fills C1/S1 and S2/C2 (the caller supplies it);
    /// `epoch_ms` is the handshake time field. A client's C0+C1 are ready in `take_transmit`.
    pub fn new(role: Role, config: SessionConfig, random: [u8; 1528], epoch_ms: u32) -> Self {
        let mut transmit = Vec::with_capacity(4096);
        let handshake = match role {
            Role::Server => Handshaker::Server(Box::new(ServerHandshake::new(random, epoch_ms))),
            Role::Client(kind) => {
                let mut h = ClientHandshake::new(random, epoch_ms, kind);
                h.start(&mut transmit);
                Handshaker::Client(Box::new(h))
            }
        };
        Session {
            handshake,
            handshake_done: false,
            decoder: ChunkDecoder::new(config.limits),
            encoder: ChunkEncoder::new(),
            transmit,
            events: VecDeque::new(),
            scratch: Vec::new(),
            scratch_in_place: Vec::new(),
            received: 0,
            acked: 0,
            ack_window: 0,
            failed: None,
        }
    }

    /// Whether the handshake is complete.
    pub fn is_handshake_done(&self) -> bool {
        self.handshake_done
    }

    /// Total bytes received so far.
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// The peer's chunk size in bytes.
    pub fn peer_chunk_size(&self) -> u32 {
        self.decoder.chunk_size()
    }

    /// Our outgoing chunk size in bytes.
    pub fn chunk_size(&self) -> u32 {
        self.encoder.chunk_size()
    }

    /// Feeds bytes read from the socket.
    ///
    /// # Errors
    ///
    /// Malformed or over-limit input ([`RtmpError`]); the events of the messages before the
    /// fault are still queued. An error is final: this and every later `handle_input` or
    /// [`Session::handle_input_in_place`] returns the same error without reading its input, and
    /// the session must be closed (see the module docs).
    pub fn handle_input(&mut self, input: &[u8]) -> Result<(), RtmpError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.read_input(input);
        self.record_failure(result)
    }

    /// Whether `handle_input*` has returned an error (then it returns it again on every call).
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Keeps an error as the session's final one.
    fn record_failure(&mut self, result: Result<(), RtmpError>) -> Result<(), RtmpError> {
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn read_input(&mut self, input: &[u8]) -> Result<(), RtmpError> {
        let Some(used) = self.handshake_input(input)? else {
            return Ok(());
        };
        let mut messages = std::mem::take(&mut self.scratch);
        let result = self.decoder.push(&input[used..], &mut messages);
        let mut dispatched = Ok(());
        for m in messages.drain(..) {
            if dispatched.is_ok() {
                dispatched = self.dispatch(m);
            }
        }
        self.scratch = messages;
        // Messages before a fault are delivered; then the fault ends the session.
        dispatched?;
        result?;
        self.acknowledge();
        Ok(())
    }

    /// Like [`Session::handle_input`], but reassembles messages inside `input` (see
    /// [`ChunkDecoder::push_in_place`]): `input` is rewritten, and audio/video messages whose
    /// chunks all arrived in it come out as [`SessionEvent::MediaInInput`] ranges of it instead of
    /// copies. For a buffer nothing else reads afterwards, such as a socket read's.
    ///
    /// # Errors
    ///
    /// As [`Session::handle_input`], and just as final: the [`SessionEvent::MediaInInput`]
    /// events queued before the fault name valid ranges of this `input`; a message that was
    /// still being reassembled in it is dropped, so no later call can name a range of it.
    pub fn handle_input_in_place(&mut self, input: &mut [u8]) -> Result<(), RtmpError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.read_input_in_place(input);
        self.record_failure(result)
    }

    fn read_input_in_place(&mut self, input: &mut [u8]) -> Result<(), RtmpError> {
        let Some(used) = self.handshake_input(input)? else {
            return Ok(());
        };
        let mut messages = std::mem::take(&mut self.scratch_in_place);
        let result = self
            .decoder
            .push_in_place(&mut input[used..], &mut messages);
        let mut dispatched = Ok(());
        for m in messages.drain(..) {
            if dispatched.is_ok() {
                dispatched = self.dispatch_in_place(m, &input[used..], used);
            }
        }
        self.scratch_in_place = messages;
        dispatched?;
        result?;
        self.acknowledge();
        Ok(())
    }

    /// Counts the bytes and feeds the handshake; returns how many bytes of `input` it used once
    /// it is complete (chunks follow), or `None` while it is not.
    fn handshake_input(&mut self, input: &[u8]) -> Result<Option<usize>, RtmpError> {
        self.received += input.len() as u64;
        if self.handshake_done {
            return Ok(Some(0));
        }
        let (used, done, kind) = match &mut self.handshake {
            Handshaker::Server(h) => {
                let used = h.feed(input, &mut self.transmit)?;
                (used, h.is_done(), h.kind())
            }
            Handshaker::Client(h) => {
                let used = h.feed(input, &mut self.transmit)?;
                (used, h.is_done(), h.kind())
            }
        };
        if !done {
            return Ok(None);
        }
        self.handshake_done = true;
        let kind = kind.unwrap_or(HandshakeKind::Simple);
        self.events.push_back(SessionEvent::HandshakeDone { kind });
        Ok(Some(used.min(input.len())))
    }

    /// Sends an Acknowledgement when a window's worth of bytes arrived since the last (§5.4.3).
    fn acknowledge(&mut self) {
        if self.ack_window > 0 && self.received - self.acked >= self.ack_window as u64 {
            self.acked = self.received;
            let seq = (self.received & 0xFFFF_FFFF) as u32;
            self.send_message(
                CSID_PROTOCOL_CONTROL,
                0,
                ACKNOWLEDGEMENT,
                0,
                &seq.to_be_bytes(),
            );
        }
    }

    /// Dispatches a message of an in-place read: its input range is of `chunks`, which starts at
    /// `base` in the buffer the caller gave. Audio and video stay in the input; anything else is
    /// copied out (a few small messages per connection).
    fn dispatch_in_place(
        &mut self,
        m: Message<Body>,
        chunks: &[u8],
        base: usize,
    ) -> Result<(), RtmpError> {
        let range = match (&m.payload, m.type_id) {
            (Body::Input(r), AUDIO | VIDEO | AGGREGATE) => r.clone(),
            _ => return self.dispatch(m.into_shared(chunks)),
        };
        if m.type_id == AGGREGATE {
            return for_each_aggregate_part(
                &chunks[range.clone()],
                m.timestamp,
                |type_id, timestamp, r| {
                    let sub = Message {
                        csid: m.csid,
                        timestamp,
                        type_id,
                        message_stream_id: m.message_stream_id,
                        payload: Body::Input(range.start + r.start..range.start + r.end),
                    };
                    self.dispatch_in_place(sub, chunks, base)
                },
            );
        }
        self.events.push_back(SessionEvent::MediaInInput {
            type_id: m.type_id,
            message_stream_id: m.message_stream_id,
            timestamp: m.timestamp,
            range: range.start + base..range.end + base,
        });
        Ok(())
    }

    fn dispatch(&mut self, m: Message) -> Result<(), RtmpError> {
        let event = match m.type_id {
            SET_CHUNK_SIZE => SessionEvent::ChunkSize(self.decoder.chunk_size()),
            ABORT => return Ok(()),
            ACKNOWLEDGEMENT => SessionEvent::Acknowledgement(read_u32(m.type_id, &m.payload)?),
            WINDOW_ACK_SIZE => {
                let size = read_u32(m.type_id, &m.payload)?;
                self.ack_window = size;
                SessionEvent::WindowAckSize(size)
            }
            SET_PEER_BANDWIDTH => {
                let size = read_u32(m.type_id, &m.payload)?;
                SessionEvent::PeerBandwidth {
                    size,
                    limit_type: m.payload.get(4).copied().unwrap_or(2),
                }
            }
            USER_CONTROL => {
                let event = UserControlEvent::parse(&m.payload)?;
                if let UserControlEvent::PingRequest(t) = event {
                    self.send_user_control(UserControlEvent::PingResponse(t));
                }
                SessionEvent::UserControl(event)
            }
            AUDIO | VIDEO => SessionEvent::Media {
                type_id: m.type_id,
                message_stream_id: m.message_stream_id,
                timestamp: m.timestamp,
                payload: m.payload,
            },
            COMMAND_AMF0 | COMMAND_AMF3 => SessionEvent::Command {
                message_stream_id: m.message_stream_id,
                timestamp: m.timestamp,
                command: Command::decode(m.type_id, &m.payload)?,
            },
            DATA_AMF0 | DATA_AMF3 => SessionEvent::Data {
                message_stream_id: m.message_stream_id,
                timestamp: m.timestamp,
                values: decode_all(strip_amf3_format_byte(m.type_id, &m.payload))?,
            },
            AGGREGATE => return self.split_aggregate(&m),
            _ => SessionEvent::Other(m),
        };
        self.events.push_back(event);
        Ok(())
    }

    /// Aggregate message (§7.1.6): each sub-message shares the aggregate's memory.
    fn split_aggregate(&mut self, m: &Message) -> Result<(), RtmpError> {
        for_each_aggregate_part(&m.payload, m.timestamp, |type_id, timestamp, r| {
            let sub = Message {
                csid: m.csid,
                timestamp,
                type_id,
                message_stream_id: m.message_stream_id,
                payload: m.payload.slice(r).ok_or(RtmpError::MalformedAggregate)?,
            };
            self.dispatch(sub)
        })
    }

    /// Drops the payload memory this session holds: messages in progress and the decoder's
    /// current slab (see [`ChunkDecoder::release_payload_memory`]).
    pub fn release_payload_memory(&mut self) {
        self.decoder.release_payload_memory();
    }

    /// The next event, in arrival order.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Whether bytes wait for [`Session::take_transmit`].
    pub fn has_transmit(&self) -> bool {
        !self.transmit.is_empty()
    }

    /// Bytes to write to the socket since the last call (empty when none).
    pub fn take_transmit(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.transmit)
    }

    /// Appends pending bytes to `out` instead of handing over a new Vec.
    pub fn drain_transmit_into(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.transmit);
    }

    /// Chunks one message onto the connection (smallest fmt per chunk). `timestamp` in ms.
    pub fn send_message(
        &mut self,
        csid: u32,
        timestamp: u32,
        type_id: u8,
        msid: u32,
        payload: &[u8],
    ) {
        self.encoder
            .encode(csid, timestamp, type_id, msid, payload, &mut self.transmit);
    }

    /// Sends a type-20 command on csid 3.
    pub fn send_command(&mut self, message_stream_id: u32, command: &Command) {
        let payload = command.encode();
        self.send_message(CSID_COMMAND, 0, COMMAND_AMF0, message_stream_id, &payload);
    }

    /// Sends a type-18 data message (AMF0 values) on csid 5.
    pub fn send_data(&mut self, message_stream_id: u32, timestamp: u32, values: &[Amf0Value]) {
        let mut payload = Vec::new();
        encode_all(values, &mut payload);
        self.send_message(CSID_DATA, timestamp, DATA_AMF0, message_stream_id, &payload);
    }

    /// Sends a user control event (type 4, csid 2, message stream id 0).
    pub fn send_user_control(&mut self, event: UserControlEvent) {
        let payload = event.to_payload();
        self.send_message(CSID_PROTOCOL_CONTROL, 0, USER_CONTROL, 0, &payload);
    }

    /// Sends Set Chunk Size (§5.4.1) and uses the new size (bytes, 1..=0x7FFFFFFF) from here on.
    pub fn set_chunk_size(&mut self, size: u32) {
        let size = size.clamp(1, 0x7FFF_FFFF);
        self.send_message(
            CSID_PROTOCOL_CONTROL,
            0,
            SET_CHUNK_SIZE,
            0,
            &size.to_be_bytes(),
        );
        self.encoder.set_chunk_size(size);
    }

    /// Sends Window Acknowledgement Size (§5.4.4), in bytes.
    pub fn send_window_ack_size(&mut self, size: u32) {
        self.send_message(
            CSID_PROTOCOL_CONTROL,
            0,
            WINDOW_ACK_SIZE,
            0,
            &size.to_be_bytes(),
        );
    }

    /// Sends Set Peer Bandwidth (§5.4.5): window in bytes, limit type 0 hard / 1 soft / 2 dynamic.
    pub fn send_peer_bandwidth(&mut self, size: u32, limit_type: u8) {
        let mut p = size.to_be_bytes().to_vec();
        p.push(limit_type);
        self.send_message(CSID_PROTOCOL_CONTROL, 0, SET_PEER_BANDWIDTH, 0, &p);
    }
}

/// Walks an aggregate message's payload (§7.1.6): FLV tags (type u8, size u24, timestamp u24 +
/// u8 high byte, stream id u24, body, back pointer u32). Calls `f` with each sub-message's type
/// id, timestamp in ms (re-based so the first takes `timestamp`, the aggregate's) and body range
/// in `payload`, in order, until `f` fails. A truncated tag or a nested aggregate is
/// [`RtmpError::MalformedAggregate`] (the parts before it are still delivered).
fn for_each_aggregate_part(
    payload: &[u8],
    timestamp: u32,
    mut f: impl FnMut(u8, u32, Range<usize>) -> Result<(), RtmpError>,
) -> Result<(), RtmpError> {
    let mut at = 0;
    let mut base: Option<u32> = None;
    while at < payload.len() {
        let h = payload
            .get(at..at + 11)
            .ok_or(RtmpError::MalformedAggregate)?;
        let size = (h[1] as usize) << 16 | (h[2] as usize) << 8 | h[3] as usize;
        let ts = (h[7] as u32) << 24 | (h[4] as u32) << 16 | (h[5] as u32) << 8 | h[6] as u32;
        let body = at + 11..at + 11 + size;
        if body.end > payload.len() || h[0] == AGGREGATE {
            return Err(RtmpError::MalformedAggregate);
        }
        let first = *base.get_or_insert(ts);
        f(h[0], timestamp.wrapping_add(ts.wrapping_sub(first)), body)?;
        // The back pointer may be missing after the last tag.
        at += 11 + size + 4;
    }
    Ok(())
}
