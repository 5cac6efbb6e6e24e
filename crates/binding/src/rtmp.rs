//! `RtmpSession`: one RTMP connection's protocol state, fed once per socket read.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::sys;
use napi::Unknown;
use napi_derive::napi;
use sluice_rtmp::chunk::arena::Slab;
use sluice_rtmp::chunk::{encode_standalone, DecoderLimits};
use sluice_rtmp::command::Command;
use sluice_rtmp::control::UserControlEvent;
use sluice_rtmp::flv::{AudioTagHeader, VideoTagHeader};
use sluice_rtmp::handshake::HandshakeKind;
use sluice_rtmp::message::{AUDIO, VIDEO};
use sluice_rtmp::session::{Role, Session, SessionConfig, SessionEvent};

use crate::amf::{from_js, to_js, values_from_js, Json};
use crate::raw_method;
use serde::Serialize;

/// Number of u32 slots per media message in `RtmpFeedResult.mediaIndex`.
pub const MEDIA_INDEX_STRIDE: usize = 8;
/// Media flag: keyframe (video frame type 1).
pub const FLAG_KEYFRAME: u32 = 1;
/// Media flag: sequence header (AVC/HEVC decoder configuration record, AAC AudioSpecificConfig).
pub const FLAG_SEQUENCE_HEADER: u32 = 2;

/// Options of an `RtmpSession`.
#[napi(object)]
pub struct RtmpSessionOptions {
    /// `"server"` (default) or `"client"`.
    pub role: Option<String>,
    /// Client only: `"complex"` (digest, default) or `"simple"` handshake.
    pub handshake: Option<String>,
    /// Largest chunk size (bytes) the peer may set. Default 65 536.
    pub max_chunk_size: Option<u32>,
    /// Largest message length (bytes) the peer may announce. Default 8 MiB.
    pub max_message_size: Option<u32>,
    /// Most bytes of partial messages held at once. Default 32 MiB.
    pub max_buffered: Option<u32>,
    /// Handshake time field (ms). Default 0.
    pub epoch_ms: Option<u32>,
}

/// A non-media event, in arrival order. `takeDetails()` makes all of a read's events with one
/// `JSON.parse` (see `amf.rs`).
#[napi(object, object_from_js = false)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RtmpEvent<'a> {
    /// `handshake`, `command`, `data`, `userControl`, `acknowledgement`, `windowAckSize`,
    /// `peerBandwidth`, `chunkSize` or `other`.
    pub kind: &'a str,
    /// How many media messages of the same read came before this event.
    pub media_before: u32,
    /// Message stream id (commands, data, other).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_stream_id: Option<u32>,
    /// Timestamp in ms (commands, data, other).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u32>,
    /// Command name, or `"simple"`/`"complex"` for `handshake`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// Command transaction id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<f64>,
    /// Command object (AMF0 object as a JS object, or null).
    #[napi(ts_type = "any")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_object: Option<Json<'a>>,
    /// Command arguments after the command object, or the values of a data message.
    #[napi(ts_type = "any[]")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Json<'a>>>,
    /// User control event type (0 StreamBegin … 7 PingResponse), or message type id for `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<u32>,
    /// Acknowledgement sequence number, window size, chunk size, or the user control value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Second value: SetBufferLength's buffer length (ms), Set Peer Bandwidth's limit type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value2: Option<f64>,
}

/// What a read produced besides media, from `RtmpSession.takeDetails()`.
#[napi(object, object_from_js = false)]
pub struct RtmpFeedDetails<'env> {
    /// Bytes to write to the socket now (handshake replies, acknowledgements, ping responses,
    /// and anything queued by `send*` calls).
    pub transmit: Option<Buffer>,
    /// Non-media events in arrival order (absent when there are none).
    #[napi(ts_type = "Array<RtmpEvent>")]
    pub events: Option<Unknown<'env>>,
    /// Set when the input was malformed: a stable code (`RTMP_CHUNK_MALFORMED`, ...). Everything
    /// before the fault is still returned (media in the index, events above); the session must
    /// then be closed.
    pub error_code: Option<String>,
    /// Human-readable reason for `errorCode`.
    pub error_message: Option<String>,
}

/// One RTMP connection (client or server side), sans-IO: feed it socket bytes, write what it
/// returns. See `crates/rtmp/src/session.rs` for the protocol behaviour.
#[napi(custom_finalize)]
pub struct RtmpSession {
    inner: Session,
    /// Slabs handed to JS that the decoder may still complete messages in, with their slot in
    /// `slab_table`.
    exported: Vec<ExportedSlab>,
    /// The JS Array of slab Buffers (strong reference), `slabs` in JS; made on first use.
    slab_table: Option<sys::napi_ref>,
    /// Slots of slabs let go of in the last read: emptied at the start of the next read (that
    /// read's index may still name them), then reused.
    stale_slots: Vec<u32>,
    /// Empty slots of `slab_table` (slot 0 is never used: it stands for the input).
    free_slots: Vec<u32>,
    /// Length of `slab_table`.
    slots: u32,
    /// This read's media index, before it is copied into `index_array`.
    index: Vec<u32>,
    /// The JS `Uint32Array` the index is copied into (strong reference); made on the first
    /// media message, replaced only to grow (or when JS detached its buffer).
    index_array: Option<sys::napi_ref>,
    /// The last read's non-media events (with the number of media messages before each) and
    /// error, until `takeDetails()` or the next read.
    events: Vec<(u32, SessionEvent)>,
    error: Option<sluice_rtmp::RtmpError>,
}

/// Bit of `feed()`'s result: transmit bytes, events or an error wait in `takeDetails()`.
#[napi]
pub const RTMP_FEED_DETAILS: u32 = 1;
/// Bit of `feed()`'s result: `mediaIndex` is a new array (the last one was too small).
#[napi]
pub const RTMP_FEED_NEW_INDEX: u32 = 2;
/// `feed()`'s result shifted right by this many bits is the read's number of media messages.
#[napi]
pub const RTMP_FEED_COUNT_SHIFT: u32 = 2;

/// The slab slot that stands for the input Buffer of an in-place read.
const INPUT_SLOT: u32 = 0;

/// Slots of the first media index array (64 messages per read; a read with more gets a larger
/// one, in powers of two).
const INDEX_SLOTS_MIN: usize = 64 * MEDIA_INDEX_STRIDE;

/// A slab whose JS Buffer sits in `slabs[slot]` while the decoder can still complete a
/// message in it, so every message of a slab is a view of one Buffer object.
struct ExportedSlab {
    slab: Arc<Slab>,
    slot: u32,
}

/// Finalizer of a slab's external Buffer: drops the `Arc<Slab>` the Buffer held. (Node tells
/// V8 about the slab's size when the Buffer is made and when it is freed.)
unsafe extern "C" fn release_slab(
    _env: sys::napi_env,
    _data: *mut std::ffi::c_void,
    hint: *mut std::ffi::c_void,
) {
    // SAFETY: `hint` is the `Box<Arc<Slab>>` leaked in `export_slab`, released exactly once here.
    drop(unsafe { Box::from_raw(hint as *mut Arc<Slab>) });
}

/// Wraps a slab's whole memory in an external Buffer (no copy).
fn export_slab(env: &Env, slab: &Arc<Slab>) -> Result<sys::napi_value> {
    let hint = Box::into_raw(Box::new(slab.clone()));
    let mut value = std::ptr::null_mut();
    // SAFETY: the memory lives as long as the `Arc<Slab>` in `hint`, which the Buffer's
    // finalizer drops; JS reads only ranges of finished payloads (the index says which).
    let status = unsafe {
        sys::napi_create_external_buffer(
            env.raw(),
            slab.len(),
            slab.as_ptr() as *mut std::ffi::c_void,
            Some(release_slab),
            hint as *mut std::ffi::c_void,
            &mut value,
        )
    };
    if status != sys::Status::napi_ok {
        // SAFETY: the finalizer was not registered, so the hint is still ours.
        drop(unsafe { Box::from_raw(hint) });
        return Err(Error::new(
            Status::GenericFailure,
            format!("napi_create_external_buffer failed ({status})"),
        ));
    }
    Ok(value)
}

impl ObjectFinalize for RtmpSession {
    fn finalize(self, env: Env) -> Result<()> {
        if let Some(table) = self.slab_table {
            // SAFETY: made by `slab_table` in this env, deleted once.
            unsafe { sys::napi_delete_reference(env.raw(), table) };
        }
        if let Some(array) = self.index_array {
            // SAFETY: made by `index_array` in this env, deleted once.
            unsafe { sys::napi_delete_reference(env.raw(), array) };
        }
        Ok(())
    }
}

fn event(kind: &'static str, media_before: u32) -> RtmpEvent<'static> {
    RtmpEvent {
        kind,
        media_before,
        message_stream_id: None,
        timestamp: None,
        name: None,
        transaction_id: None,
        command_object: None,
        values: None,
        event_type: None,
        value: None,
        value2: None,
    }
}

/// A non-media session event as a JS event (borrowing its AMF0 values); `before` is how many
/// media messages of the read came before it.
fn js_event(before: u32, e: &SessionEvent) -> RtmpEvent<'_> {
    match e {
        SessionEvent::HandshakeDone { kind } => RtmpEvent {
            name: Some(match kind {
                HandshakeKind::Simple => "simple",
                HandshakeKind::Complex => "complex",
            }),
            ..event("handshake", before)
        },
        SessionEvent::Command {
            message_stream_id,
            timestamp,
            command,
        } => RtmpEvent {
            message_stream_id: Some(*message_stream_id),
            timestamp: Some(*timestamp),
            transaction_id: Some(command.transaction_id),
            command_object: Some(Json(&command.command_object)),
            values: Some(command.arguments.iter().map(Json).collect()),
            name: Some(&command.name),
            ..event("command", before)
        },
        SessionEvent::Data {
            message_stream_id,
            timestamp,
            values,
        } => RtmpEvent {
            message_stream_id: Some(*message_stream_id),
            timestamp: Some(*timestamp),
            values: Some(values.iter().map(Json).collect()),
            ..event("data", before)
        },
        SessionEvent::UserControl(u) => {
            let (t, v, v2) = u.fields();
            RtmpEvent {
                event_type: Some(t as u32),
                value: Some(v as f64),
                value2: v2.map(|x| x as f64),
                ..event("userControl", before)
            }
        }
        SessionEvent::Acknowledgement(v) => RtmpEvent {
            value: Some(*v as f64),
            ..event("acknowledgement", before)
        },
        SessionEvent::WindowAckSize(v) => RtmpEvent {
            value: Some(*v as f64),
            ..event("windowAckSize", before)
        },
        SessionEvent::PeerBandwidth { size, limit_type } => RtmpEvent {
            value: Some(*size as f64),
            value2: Some(*limit_type as f64),
            ..event("peerBandwidth", before)
        },
        SessionEvent::ChunkSize(v) => RtmpEvent {
            value: Some(*v as f64),
            ..event("chunkSize", before)
        },
        SessionEvent::Other(m) => RtmpEvent {
            event_type: Some(m.type_id as u32),
            message_stream_id: Some(m.message_stream_id),
            timestamp: Some(m.timestamp),
            ..event("other", before)
        },
        // Media goes to the index (`drain`), never here.
        _ => event("other", before),
    }
}

/// The media index slots of one message whose body is `body`, at `offset` in `slabs[slot]`.
fn index_entry(
    type_id: u8,
    message_stream_id: u32,
    timestamp: u32,
    slot: u32,
    offset: usize,
    body: &[u8],
) -> [u32; MEDIA_INDEX_STRIDE] {
    let (flags, cts) = media_flags(type_id, body);
    [
        type_id as u32,
        message_stream_id,
        timestamp,
        slot,
        offset as u32,
        body.len() as u32,
        flags,
        cts as u32,
    ]
}

fn media_flags(type_id: u8, payload: &[u8]) -> (u32, i32) {
    if type_id == VIDEO {
        match VideoTagHeader::parse(payload) {
            Some(h) => {
                let mut flags = 0;
                // a OneTrack message of another track than the default 0 (Enhanced RTMP v2
                // multitrack) is no place for a player to start
                let default_track = h.multitrack.is_none_or(|m| m.kind != sluice_rtmp::flv::MULTITRACK_ONE_TRACK || m.first_track_id == 0);
                if h.is_keyframe() && !h.is_sequence_header && default_track {
                    flags |= FLAG_KEYFRAME;
                }
                if h.is_sequence_header {
                    flags |= FLAG_SEQUENCE_HEADER;
                }
                (flags, h.composition_time)
            }
            None => (0, 0),
        }
    } else {
        match AudioTagHeader::parse(payload) {
            Some(h) if h.is_sequence_header => (FLAG_SEQUENCE_HEADER, 0),
            _ => (0, 0),
        }
    }
}

thread_local! {
    /// splitmix64 state for handshake random bytes, seeded once per thread from the OS RNG.
    static HANDSHAKE_RNG: std::cell::Cell<u64> = std::cell::Cell::new({
        let mut seed = [0u8; 8];
        // The OS RNG only fails on platforms Node does not run on; a fixed seed still works.
        let _ = getrandom::getrandom(&mut seed);
        u64::from_le_bytes(seed)
    });
}

/// The random field of C1/S1 (RTMP 1.0 §5.2.3): it only has to differ between handshakes (the
/// peer echoes it back), so it comes from splitmix64 seeded by the OS RNG rather than from a
/// 1528-byte `getrandom` call per connection.
fn random_1528() -> [u8; 1528] {
    let mut r = [0u8; 1528];
    HANDSHAKE_RNG.with(|state| {
        let mut x = state.get();
        for chunk in r.chunks_mut(8) {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        state.set(x);
    });
    r
}

#[napi]
impl RtmpSession {
    /// Creates a session. A client session has C0+C1 ready in `takeTransmit()`.
    #[napi(constructor)]
    pub fn new(options: Option<RtmpSessionOptions>) -> Result<Self> {
        let o = options.unwrap_or(RtmpSessionOptions {
            role: None,
            handshake: None,
            max_chunk_size: None,
            max_message_size: None,
            max_buffered: None,
            epoch_ms: None,
        });
        let defaults = DecoderLimits::default();
        let limits = DecoderLimits {
            max_chunk_size: o.max_chunk_size.unwrap_or(defaults.max_chunk_size),
            max_message_size: o.max_message_size.unwrap_or(defaults.max_message_size),
            max_buffered: o.max_buffered.map_or(defaults.max_buffered, |v| v as usize),
        };
        let role = match o.role.as_deref() {
            None | Some("server") => Role::Server,
            Some("client") => Role::Client(match o.handshake.as_deref() {
                Some("simple") => HandshakeKind::Simple,
                _ => HandshakeKind::Complex,
            }),
            Some(other) => {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("role must be \"server\" or \"client\", not {other:?}"),
                ))
            }
        };
        let config = SessionConfig { limits };
        Ok(RtmpSession {
            inner: Session::new(role, config, random_1528(), o.epoch_ms.unwrap_or(0)),
            exported: Vec::new(),
            slab_table: None,
            stale_slots: Vec::new(),
            free_slots: Vec::new(),
            slots: 1,
            index: Vec::new(),
            index_array: None,
            events: Vec::new(),
            error: None,
        })
    }

    /// Feeds one socket read; `data` is only read (each media payload is copied into a slab).
    ///
    /// Returns `mediaCount << RTMP_FEED_COUNT_SHIFT | flags` (a number, so a read builds no JS
    /// object): the read's media messages are described in `mediaIndex` (8 u32 per message)
    /// and sit in `slabs`; `flags & RTMP_FEED_NEW_INDEX` means `mediaIndex` is a new array;
    /// `flags & RTMP_FEED_DETAILS` means transmit bytes, events or an error wait in
    /// `takeDetails()`, which must be called before the next read (that read drops what was
    /// not taken, except transmit bytes). Never throws for malformed input: see
    /// `takeDetails().errorCode`. Throws only when Node cannot create a Buffer or array, when
    /// `data` is not a Buffer/Uint8Array, when `this` is not an `RtmpSession`, or when it is
    /// called from inside another call on the same session, e.g. from a `toJSON` run by
    /// `sendCommand` (an error saying the session is borrowed). JS calls it through the raw
    /// callback `feed_raw`, see `install_rtmp_fast_paths`.
    #[napi]
    pub fn feed(&mut self, env: &Env, data: &[u8]) -> Result<u32> {
        let result = self.inner.handle_input(data);
        self.drain(env, result, None)
    }

    /// Feeds one socket read and reassembles messages inside `data` itself: each message's
    /// chunk payloads are moved together over the chunk headers between them, and a media
    /// message whose chunks all arrived in this read is described in `mediaIndex` with slab
    /// slot 0, which stands for `data` itself (no copy). Messages that continue into the next
    /// read, or that are interleaved with one being reassembled in `data`, are copied into
    /// slabs as with `feed()`. Use it for a Buffer nothing else reads afterwards and that is
    /// never fed again, such as a socket read's; the views of it keep `data` alive. Result and
    /// errors as `feed()` (JS calls it through the raw callback `feed_in_place_raw`).
    #[napi]
    pub fn feed_in_place(&mut self, env: &Env, mut data: BufferSlice) -> Result<u32> {
        let result = self.inner.handle_input_in_place(&mut data);
        self.drain(env, result, Some(&data))
    }

    /// The Buffers media messages sit in, by the slab slot of `mediaIndex`: payload slabs (4 KiB
    /// growing ×4 per slab to 2 MiB; a message over 512 KiB gets one of its own size). Slot 0
    /// is always empty: it stands for the input of `feedInPlace()`. The same Array for the
    /// session's whole life; a slab stays in its slot while the decoder can still complete
    /// messages in it and until the read after its last one, then the slot is emptied and
    /// reused. Messages are reassembled straight from the chunks into the slabs (one copy,
    /// `crates/rtmp/src/chunk/arena.rs`). Views keep a slab alive: copy payloads that live for
    /// the whole connection (sequence headers) out of it.
    #[napi(getter, ts_return_type = "Array<Buffer | undefined>")]
    pub fn slabs<'env>(&mut self, env: &'env Env) -> Result<Unknown<'env>> {
        let table = self.slab_table(env)?;
        // SAFETY: a live Array of this env.
        unsafe { Unknown::from_napi_value(env.raw(), table) }
    }

    /// The media index of the last read, a `Uint32Array` the session keeps (null before the
    /// first media message): 8 u32 per media message, typeId (8/9), messageStreamId, timestamp
    /// (ms), slab slot (in `slabs`; 0 = the `feedInPlace()` input), offset and length in that
    /// Buffer (bytes), flags (1 keyframe, 2 sequence header), composition time (ms, signed
    /// 32-bit). Only the first `mediaCount * 8` slots are the last read's; the next read
    /// overwrites them, and a read that needs more room makes a new array (`RTMP_FEED_NEW_INDEX`).
    #[napi(getter, ts_return_type = "Uint32Array | null")]
    pub fn media_index<'env>(&self, env: &'env Env) -> Result<Option<Unknown<'env>>> {
        let Some(held) = self.index_array else {
            return Ok(None);
        };
        let mut array = std::ptr::null_mut();
        // SAFETY: a reference of this env.
        check_status!(unsafe { sys::napi_get_reference_value(env.raw(), held, &mut array) })?;
        // SAFETY: a live Uint32Array of this env.
        Ok(Some(unsafe { Unknown::from_napi_value(env.raw(), array) }?))
    }

    /// What the last read produced besides media (see `feed()`): transmit bytes, events and
    /// the error, each once; null when there is nothing.
    #[napi]
    pub fn take_details<'env>(&mut self, env: &'env Env) -> Result<Option<RtmpFeedDetails<'env>>> {
        let transmit = self.take_transmit();
        let error = self.error.take();
        if transmit.is_none() && error.is_none() && self.events.is_empty() {
            return Ok(None);
        }
        let events = std::mem::take(&mut self.events);
        let events = if events.is_empty() {
            None
        } else {
            let list: Vec<RtmpEvent> = events
                .iter()
                .map(|(before, e)| js_event(*before, e))
                .collect();
            Some(to_js(env, &list)?)
        };
        Ok(Some(RtmpFeedDetails {
            transmit,
            events,
            error_code: error.as_ref().map(|e| e.code().to_string()),
            error_message: error.map(|e| e.to_string()),
        }))
    }

    /// Sorts the session's events after a read: media into the index, the rest kept for
    /// `takeDetails()`. `input` is the read's bytes for an in-place read. Returns `feed()`'s
    /// result.
    fn drain(
        &mut self,
        env: &Env,
        result: std::result::Result<(), sluice_rtmp::RtmpError>,
        input: Option<&[u8]>,
    ) -> Result<u32> {
        self.empty_stale_slots(env)?;
        self.events.clear();
        self.error = result.err();
        let mut index = std::mem::take(&mut self.index);
        index.clear();
        while let Some(e) = self.inner.poll_event() {
            match e {
                SessionEvent::Media {
                    type_id,
                    message_stream_id,
                    timestamp,
                    payload,
                } => {
                    let slot = self.slab_slot(env, payload.slab())?;
                    index.extend_from_slice(&index_entry(
                        type_id,
                        message_stream_id,
                        timestamp,
                        slot,
                        payload.offset(),
                        &payload,
                    ));
                }
                SessionEvent::MediaInInput {
                    type_id,
                    message_stream_id,
                    timestamp,
                    range,
                } => {
                    let Some(bytes) = input else {
                        continue; // only made by in-place reads
                    };
                    index.extend_from_slice(&index_entry(
                        type_id,
                        message_stream_id,
                        timestamp,
                        INPUT_SLOT,
                        range.start,
                        &bytes[range],
                    ));
                }
                e => self
                    .events
                    .push(((index.len() / MEDIA_INDEX_STRIDE) as u32, e)),
            }
        }
        self.release_finished_slabs();
        let media_count = (index.len() / MEDIA_INDEX_STRIDE) as u32;
        let mut flags = 0;
        if !index.is_empty() && self.index_array(env, &index)? {
            flags |= RTMP_FEED_NEW_INDEX;
        }
        self.index = index;
        if self.error.is_some() || !self.events.is_empty() || self.inner.has_transmit() {
            flags |= RTMP_FEED_DETAILS;
        }
        Ok(media_count << RTMP_FEED_COUNT_SHIFT | flags)
    }

    /// Copies `index` into the session's `Uint32Array`, made (or replaced by a larger one)
    /// when it is too small; returns whether it was made.
    fn index_array(&mut self, env: &Env, index: &[u32]) -> Result<bool> {
        // The array's memory and length are read from the live array every time: JS may have
        // transferred or detached its buffer (length 0), and then it gets a new array.
        let mut current = None;
        if let Some(held) = self.index_array {
            let mut array = std::ptr::null_mut();
            let (mut kind, mut slots, mut data) =
                (sys::TypedarrayType::uint32_array, 0, std::ptr::null_mut());
            let (mut buffer, mut offset) = (std::ptr::null_mut(), 0);
            // SAFETY: plain N-API calls on a reference of this env.
            unsafe {
                check_status!(sys::napi_get_reference_value(env.raw(), held, &mut array))?;
                check_status!(sys::napi_get_typedarray_info(
                    env.raw(),
                    array,
                    &mut kind,
                    &mut slots,
                    &mut data,
                    &mut buffer,
                    &mut offset
                ))?;
            }
            if slots >= index.len() && !data.is_null() {
                current = Some(data as *mut u32);
            }
        }
        let made = current.is_none();
        let data = match current {
            Some(found) => found,
            None => {
                let slots = index.len().max(INDEX_SLOTS_MIN).next_power_of_two();
                let (mut data, mut buffer, mut array, mut held) = (
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                );
                // SAFETY: plain N-API calls on this env; the reference keeps the array alive.
                unsafe {
                    check_status!(sys::napi_create_arraybuffer(
                        env.raw(),
                        slots * 4,
                        &mut data,
                        &mut buffer
                    ))?;
                    check_status!(sys::napi_create_typedarray(
                        env.raw(),
                        sys::TypedarrayType::uint32_array,
                        slots,
                        buffer,
                        0,
                        &mut array,
                    ))?;
                    check_status!(sys::napi_create_reference(env.raw(), array, 1, &mut held))?;
                    if let Some(old) = self.index_array.replace(held) {
                        sys::napi_delete_reference(env.raw(), old);
                    }
                }
                data as *mut u32
            }
        };
        // SAFETY: `data` holds at least `index.len()` u32s (checked or just made), alive while
        // the array is; JS runs only after this call returns.
        unsafe { std::ptr::copy_nonoverlapping(index.as_ptr(), data, index.len()) };
        Ok(made)
    }

    /// The session's Array of slab Buffers, made on first use.
    fn slab_table(&mut self, env: &Env) -> Result<sys::napi_value> {
        let mut table = std::ptr::null_mut();
        // SAFETY: plain N-API calls on this env; the reference keeps the array alive.
        unsafe {
            match self.slab_table {
                Some(held) => {
                    check_status!(sys::napi_get_reference_value(env.raw(), held, &mut table))?
                }
                None => {
                    let mut held = std::ptr::null_mut();
                    check_status!(sys::napi_create_array(env.raw(), &mut table))?;
                    check_status!(sys::napi_create_reference(env.raw(), table, 1, &mut held))?;
                    self.slab_table = Some(held);
                }
            }
        }
        Ok(table)
    }

    /// The slot of a slab in `slabs`; its Buffer is made and put there on its first message.
    fn slab_slot(&mut self, env: &Env, slab: &Arc<Slab>) -> Result<u32> {
        if let Some(e) = self.exported.iter().find(|e| Arc::ptr_eq(&e.slab, slab)) {
            return Ok(e.slot);
        }
        let buffer = export_slab(env, slab)?;
        let table = self.slab_table(env)?;
        let slot = self.free_slots.pop().unwrap_or_else(|| {
            self.slots += 1;
            self.slots - 1
        });
        // SAFETY: a live Array and Buffer of this env.
        check_status!(unsafe { sys::napi_set_element(env.raw(), table, slot, buffer) })?;
        self.exported.push(ExportedSlab {
            slab: slab.clone(),
            slot,
        });
        Ok(slot)
    }

    /// Lets go of the slabs no message in progress can land in any more (then only this list
    /// and the Buffer's finalizer hold the slab; the decoder's current slab and its reservations
    /// hold more): their slots are emptied at the next read, and JS frees each Buffer once its
    /// views are gone.
    fn release_finished_slabs(&mut self) {
        let stale = &mut self.stale_slots;
        self.exported.retain(|e| {
            let active = Arc::strong_count(&e.slab) > 2;
            if !active {
                stale.push(e.slot);
            }
            active
        });
    }

    /// Empties the slots of slabs let go of in the last read, for reuse.
    fn empty_stale_slots(&mut self, env: &Env) -> Result<()> {
        if self.stale_slots.is_empty() {
            return Ok(());
        }
        let table = self.slab_table(env)?;
        let mut undefined = std::ptr::null_mut();
        // SAFETY: plain N-API calls on this env.
        check_status!(unsafe { sys::napi_get_undefined(env.raw(), &mut undefined) })?;
        for slot in self.stale_slots.drain(..) {
            // SAFETY: a live Array of this env.
            check_status!(unsafe { sys::napi_set_element(env.raw(), table, slot, undefined) })?;
            self.free_slots.push(slot);
        }
        Ok(())
    }

    /// Lets go of this session's payload slabs now instead of when the session is collected
    /// (call it when the connection closes, after the last read's media was used): `slabs` is
    /// emptied, Buffers and views already handed out stay valid, and the slabs' memory returns
    /// to the pool once they are gone. Messages in progress are dropped; a later `feed()`
    /// starts new slabs.
    #[napi]
    pub fn release(&mut self, env: &Env) -> Result<()> {
        self.inner.release_payload_memory();
        self.release_finished_slabs();
        self.empty_stale_slots(env)
    }

    /// Bytes queued by `send*` calls since the last call, or null.
    #[napi]
    pub fn take_transmit(&mut self) -> Option<Buffer> {
        let out = self.inner.take_transmit();
        (!out.is_empty()).then(|| out.into())
    }

    /// Whether the handshake has completed.
    #[napi(getter)]
    pub fn handshake_done(&self) -> bool {
        self.inner.is_handshake_done()
    }

    /// Total bytes received.
    #[napi(getter)]
    pub fn bytes_received(&self) -> f64 {
        self.inner.bytes_received() as f64
    }

    /// Our outgoing chunk size in bytes.
    #[napi(getter)]
    pub fn chunk_size(&self) -> u32 {
        self.inner.chunk_size()
    }

    /// The peer's chunk size in bytes.
    #[napi(getter)]
    pub fn peer_chunk_size(&self) -> u32 {
        self.inner.peer_chunk_size()
    }

    /// Queues one message (chunked with the smallest fmt). `timestamp` in ms.
    #[napi]
    pub fn send_message(
        &mut self,
        csid: u32,
        timestamp: u32,
        type_id: u32,
        message_stream_id: u32,
        payload: &[u8],
    ) {
        self.inner
            .send_message(csid, timestamp, type_id as u8, message_stream_id, payload);
    }

    /// Queues a type-20 command: name, transaction id, command object, then arguments (JS
    /// values converted to AMF0 as `encodeAmf0` does). Throws an error with code `InvalidArg`
    /// when `arguments` is given and not an array, and what `JSON.stringify` throws.
    #[napi(
        ts_args_type = "messageStreamId: number, name: string, transactionId: number, commandObject: any, arguments?: Array<any> | undefined | null"
    )]
    pub fn send_command(
        &mut self,
        env: &Env,
        message_stream_id: u32,
        name: String,
        transaction_id: f64,
        command_object: Unknown,
        arguments: Option<Unknown>,
    ) -> Result<()> {
        let command = Command {
            name,
            transaction_id,
            command_object: from_js(env, command_object)?,
            arguments: match arguments {
                Some(values) => values_from_js(env, values, "sendCommand: arguments")?,
                None => Vec::new(),
            },
        };
        self.inner.send_command(message_stream_id, &command);
        Ok(())
    }

    /// Queues a type-18 data message with these values (converted to AMF0 as `encodeAmf0`
    /// does). Throws an error with code `InvalidArg` when `values` is not an array, and what
    /// `JSON.stringify` throws.
    #[napi(ts_args_type = "messageStreamId: number, timestamp: number, values: Array<any>")]
    pub fn send_data(
        &mut self,
        env: &Env,
        message_stream_id: u32,
        timestamp: u32,
        values: Unknown,
    ) -> Result<()> {
        let values = values_from_js(env, values, "sendData: values")?;
        self.inner.send_data(message_stream_id, timestamp, &values);
        Ok(())
    }

    /// Queues a user control event (RTMP 1.0 §7.1.7): type 0 StreamBegin, 1 StreamEOF,
    /// 2 StreamDry, 3 SetBufferLength (value2 = buffer ms), 4 StreamIsRecorded, 6 PingRequest,
    /// 7 PingResponse.
    #[napi]
    pub fn send_user_control(&mut self, event_type: u32, value: u32, value2: Option<u32>) {
        let e = match event_type {
            0 => UserControlEvent::StreamBegin(value),
            1 => UserControlEvent::StreamEof(value),
            2 => UserControlEvent::StreamDry(value),
            3 => UserControlEvent::SetBufferLength {
                stream_id: value,
                buffer_ms: value2.unwrap_or(0),
            },
            4 => UserControlEvent::StreamIsRecorded(value),
            6 => UserControlEvent::PingRequest(value),
            7 => UserControlEvent::PingResponse(value),
            t => UserControlEvent::Other {
                event_type: t as u16,
                value,
            },
        };
        self.inner.send_user_control(e);
    }

    /// Queues Set Chunk Size and uses it for what follows (bytes).
    #[napi]
    pub fn set_chunk_size(&mut self, size: u32) {
        self.inner.set_chunk_size(size);
    }

    /// Queues Window Acknowledgement Size (bytes).
    #[napi]
    pub fn send_window_ack_size(&mut self, size: u32) {
        self.inner.send_window_ack_size(size);
    }

    /// Queues Set Peer Bandwidth (bytes; limit type 0 hard, 1 soft, 2 dynamic).
    #[napi]
    pub fn send_peer_bandwidth(&mut self, size: u32, limit_type: u32) {
        self.inner.send_peer_bandwidth(size, limit_type as u8);
    }
}

/// Muxes one message without per-connection state (fmt 0 then fmt 3 chunks of `chunkSize`
/// bytes), so the same bytes can be written to every player whose outgoing chunk size is
/// `chunkSize`. `timestamp` in ms.
#[napi(js_name = "muxMessage")]
pub fn mux_message(
    csid: u32,
    timestamp: u32,
    type_id: u32,
    message_stream_id: u32,
    payload: &[u8],
    chunk_size: u32,
) -> Buffer {
    let mut out = Vec::new(); // sized exactly by encode_standalone
    encode_standalone(
        csid,
        timestamp,
        type_id as u8,
        message_stream_id,
        payload,
        chunk_size,
        &mut out,
    );
    out.into()
}

/// Media type ids, re-exported for TS.
#[napi]
pub const RTMP_AUDIO: u32 = AUDIO as u32;
/// Video message type id.
#[napi]
pub const RTMP_VIDEO: u32 = VIDEO as u32;

/// Puts the per-read methods (`feed`, `feedInPlace`) on `RtmpSession.prototype` as raw
/// callbacks (`raw_method.rs`): the same Rust bodies without napi-rs's per-call glue. Runs
/// once when the addon loads, after napi-rs has registered the class.
#[napi(module_exports)]
pub fn install_rtmp_fast_paths(exports: Object, env: Env) -> Result<()> {
    let class: Unknown = exports.get_named_property("RtmpSession")?;
    raw_method::install(&env, class, c"feed", feed_raw)?;
    raw_method::install(&env, class, c"feedInPlace", feed_in_place_raw)
}

/// `RtmpSession.prototype.feed` (see `RtmpSession::feed`).
unsafe extern "C" fn feed_raw(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by N-API with a live env and callback info.
    unsafe { feed_read(env, info, false) }
}

/// `RtmpSession.prototype.feedInPlace` (see `RtmpSession::feed_in_place`).
unsafe extern "C" fn feed_in_place_raw(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by N-API with a live env and callback info.
    unsafe { feed_read(env, info, true) }
}

/// One read, `(data: Uint8Array) -> number`, through `feed` or `feedInPlace`.
///
/// # Safety
/// As `raw_method::call`.
unsafe fn feed_read(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    in_place: bool,
) -> sys::napi_value {
    // SAFETY: as this function's contract.
    unsafe {
        raw_method::call(env, info, |env, s: &mut RtmpSession, [data]| {
            let data = BufferSlice::from_napi_value(env.raw(), data)?;
            let result = if in_place {
                s.feed_in_place(env, data)?
            } else {
                s.feed(env, &data)?
            };
            u32::to_napi_value(env.raw(), result)
        })
    }
}
