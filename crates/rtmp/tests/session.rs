//! Rust sessions against each other on simulated time, no sockets (DESIGN.md, "two test
//! layers"): a client `Session` and a server `Session` wired by moving `take_transmit()` bytes
//! between them in random, deterministic splits (xorshift). Test names carry the RTMP 1.0
//! specification section they exercise.

mod common;

use common::{Link, XorShift, CLIENT_EPOCH_MS, SERVER_EPOCH_MS};
use sluice_rtmp::amf0::{encode_all, Amf0Value};
use sluice_rtmp::chunk::DecoderLimits;
use sluice_rtmp::command::Command;
use sluice_rtmp::control::UserControlEvent;
use sluice_rtmp::handshake::{HandshakeError, HandshakeKind, HANDSHAKE_SIZE};
use sluice_rtmp::message::*;
use sluice_rtmp::session::{Role, Session, SessionConfig, SessionEvent};
use sluice_rtmp::RtmpError;

const KINDS: [HandshakeKind; 2] = [HandshakeKind::Complex, HandshakeKind::Simple];
const SEEDS: u64 = 16;

/// Every domain code `RtmpError::code` can return.
const CODES: &[&str] = &[
    "RTMP_HANDSHAKE_FAILED",
    "RTMP_CHUNK_SIZE_OUT_OF_RANGE",
    "RTMP_MESSAGE_TOO_LARGE",
    "RTMP_TOO_MUCH_BUFFERED",
    "RTMP_CHUNK_MALFORMED",
    "RTMP_CONTROL_MALFORMED",
    "RTMP_AMF_MALFORMED",
    "RTMP_COMMAND_MALFORMED",
    "RTMP_AGGREGATE_MALFORMED",
    "RTMP_HANDSHAKE_NOT_DONE",
];

fn connect_command() -> Command {
    Command {
        name: "connect".into(),
        transaction_id: 1.0,
        // Deliberately not in alphabetical order: the order must survive.
        command_object: Amf0Value::object([
            ("app", Amf0Value::from("live")),
            ("type", "nonprivate".into()),
            ("flashVer", "FMLE/3.0 (compatible; FMSc/1.0)".into()),
            ("swfUrl", "rtmp://localhost/live".into()),
            ("tcUrl", "rtmp://localhost/live".into()),
            ("fpad", false.into()),
            ("capabilities", 239.0.into()),
            ("audioCodecs", 3575.0.into()),
            ("videoCodecs", 252.0.into()),
            ("videoFunction", 1.0.into()),
            ("objectEncoding", 0.0.into()),
        ]),
        arguments: vec![
            Amf0Value::object([("extra", Amf0Value::from("arg"))]),
            Amf0Value::Null,
        ],
    }
}

/// One FLV tag as an aggregate message holds it (§7.1.6): header, body, back pointer.
fn flv_tag(type_id: u8, timestamp: u32, body: &[u8], back_pointer: bool) -> Vec<u8> {
    let mut t = vec![type_id];
    t.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    t.extend_from_slice(&timestamp.to_be_bytes()[1..]);
    t.push((timestamp >> 24) as u8);
    t.extend_from_slice(&[0, 0, 0]);
    t.extend_from_slice(body);
    if back_pointer {
        t.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
    }
    t
}

fn media_events(events: &[SessionEvent]) -> Vec<(u8, u32, u32, Vec<u8>)> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Media {
                type_id,
                message_stream_id,
                timestamp,
                payload,
            } => Some((*type_id, *message_stream_id, *timestamp, payload.to_vec())),
            _ => None,
        })
        .collect()
}

/// A fmt 0 chunk header (§5.3.1.2.1) on a one-byte-basic-header csid.
fn fmt0_header(csid: u8, timestamp: u32, length: u32, type_id: u8, msid: u32) -> Vec<u8> {
    let mut h = vec![csid];
    h.extend_from_slice(&timestamp.to_be_bytes()[1..]);
    h.extend_from_slice(&length.to_be_bytes()[1..]);
    h.push(type_id);
    h.extend_from_slice(&msid.to_le_bytes());
    h
}

// ------------------------------------------------------------------ §5.2 handshake

#[test]
fn rtmp_5_2_handshake_both_kinds_report_handshake_done() {
    for kind in KINDS {
        for seed in 0..SEEDS {
            let mut link = Link::new(kind, seed);
            link.pump();
            assert_eq!(link.client.error, None, "{kind:?} seed {seed}");
            assert_eq!(link.server.error, None, "{kind:?} seed {seed}");
            assert!(link.client.session.is_handshake_done());
            assert!(link.server.session.is_handshake_done());
            assert_eq!(
                link.client.events,
                vec![SessionEvent::HandshakeDone { kind }]
            );
            assert_eq!(
                link.server.events,
                vec![SessionEvent::HandshakeDone { kind }]
            );
            // C0+C1+C2 and S0+S1+S2 are all that moved.
            assert_eq!(
                link.server.session.bytes_received(),
                1 + 2 * HANDSHAKE_SIZE as u64
            );
            assert_eq!(
                link.client.session.bytes_received(),
                1 + 2 * HANDSHAKE_SIZE as u64
            );
        }
    }
}

#[test]
fn rtmp_5_2_handshake_one_byte_at_a_time_then_chunks_in_the_same_read() {
    for kind in KINDS {
        let mut rng = XorShift::new(7);
        let mut client = Session::new(
            Role::Client(kind),
            SessionConfig::default(),
            rng.random_block(),
            1,
        );
        let mut server = Session::new(
            Role::Server,
            SessionConfig::default(),
            rng.random_block(),
            2,
        );
        let c0c1 = client.take_transmit();
        for b in &c0c1 {
            server.handle_input(std::slice::from_ref(b)).unwrap();
        }
        let s0s1s2 = server.take_transmit();
        assert_eq!(s0s1s2.len(), 1 + 2 * HANDSHAKE_SIZE);
        for b in &s0s1s2 {
            client.handle_input(std::slice::from_ref(b)).unwrap();
        }
        assert_eq!(
            client.poll_event(),
            Some(SessionEvent::HandshakeDone { kind })
        );
        // The client's first command is queued right behind C2 and arrives in the same read.
        client.send_command(0, &connect_command());
        let c2_and_connect = client.take_transmit();
        assert!(c2_and_connect.len() > HANDSHAKE_SIZE);
        server.handle_input(&c2_and_connect).unwrap();
        assert_eq!(
            server.poll_event(),
            Some(SessionEvent::HandshakeDone { kind })
        );
        match server.poll_event() {
            Some(SessionEvent::Command { command, .. }) => assert_eq!(command, connect_command()),
            other => panic!("expected the connect command, got {other:?}"),
        }
        assert_eq!(server.poll_event(), None);
    }
}

#[test]
fn rtmp_5_2_2_c0_of_6_is_a_handshake_error() {
    for input in [vec![6u8], {
        let mut v = vec![6u8];
        v.extend_from_slice(&[0u8; HANDSHAKE_SIZE]);
        v
    }] {
        let mut server = Session::new(Role::Server, SessionConfig::default(), [0; 1528], 0);
        let err = server.handle_input(&input).unwrap_err();
        assert_eq!(
            err,
            RtmpError::Handshake(HandshakeError::UnsupportedVersion(6))
        );
        assert_eq!(err.code(), "RTMP_HANDSHAKE_FAILED");
        assert!(err.to_string().contains("RTMPE"), "{err}");
        // The failure sticks, and nothing was answered.
        assert_eq!(server.handle_input(&[3]).unwrap_err(), err);
        assert!(server.take_transmit().is_empty());
        assert!(!server.is_handshake_done());
        assert_eq!(server.poll_event(), None);
    }
}

#[test]
fn rtmp_5_2_2_s0_other_than_3_is_a_handshake_error_on_the_client() {
    for kind in KINDS {
        let mut client = Session::new(Role::Client(kind), SessionConfig::default(), [1; 1528], 0);
        assert_eq!(client.take_transmit().len(), 1 + HANDSHAKE_SIZE);
        let err = client.handle_input(&[9, 0, 0]).unwrap_err();
        assert_eq!(
            err,
            RtmpError::Handshake(HandshakeError::UnsupportedVersion(9))
        );
        assert_eq!(err.code(), "RTMP_HANDSHAKE_FAILED");
    }
}

// ------------------------------------------------------------------ §7.2.1.1 connect

#[test]
fn rtmp_7_2_1_1_connect_command_arrives_identical_with_property_order() {
    for kind in KINDS {
        for seed in 0..SEEDS {
            let mut link = Link::connected(kind, seed);
            link.client.session.send_command(0, &connect_command());
            link.pump();
            assert_eq!(link.server.error, None);
            let events = link.server.take_events();
            assert_eq!(
                events,
                vec![SessionEvent::Command {
                    message_stream_id: 0,
                    timestamp: 0,
                    command: connect_command(),
                }]
            );
            let SessionEvent::Command { command, .. } = &events[0] else {
                unreachable!()
            };
            let keys: Vec<&str> = command
                .command_object
                .properties()
                .unwrap()
                .iter()
                .map(|(k, _)| k.as_str())
                .collect();
            assert_eq!(keys[..3], ["app", "type", "flashVer"]);
            assert_eq!(keys.last(), Some(&"objectEncoding"));

            // And the answer travels back: _result with properties and information objects.
            let result = Command {
                name: "_result".into(),
                transaction_id: 1.0,
                command_object: Amf0Value::object([
                    ("fmsVer", Amf0Value::from("FMS/3,0,1,123")),
                    ("capabilities", 31.0.into()),
                ]),
                arguments: vec![Amf0Value::object([
                    ("level", Amf0Value::from("status")),
                    ("code", "NetConnection.Connect.Success".into()),
                    ("description", "Connection succeeded.".into()),
                    ("objectEncoding", 0.0.into()),
                ])],
            };
            link.server.session.send_command(0, &result);
            link.pump();
            match link.client.take_events().as_slice() {
                [SessionEvent::Command { command, .. }] => assert_eq!(command, &result),
                other => panic!("expected _result, got {other:?}"),
            }
        }
    }
}

#[test]
fn rtmp_7_1_1_amf3_command_type_17_skips_the_format_byte() {
    for kind in KINDS {
        let mut link = Link::connected(kind, 3);
        let mut payload = vec![0x00];
        encode_all(
            &[
                Amf0Value::from("publish"),
                Amf0Value::Number(5.0),
                Amf0Value::Null,
                Amf0Value::from("stream"),
            ],
            &mut payload,
        );
        // One argument through the AVM+ switch (AMF0 §3.1): AMF3 string "live" (0x06, U29 4<<1|1).
        payload.extend_from_slice(&[0x11, 0x06, 0x09, b'l', b'i', b'v', b'e']);
        link.client
            .session
            .send_message(CSID_COMMAND, 0, COMMAND_AMF3, 1, &payload);
        link.pump();
        assert_eq!(link.server.error, None);
        assert_eq!(
            link.server.take_events(),
            vec![SessionEvent::Command {
                message_stream_id: 1,
                timestamp: 0,
                command: Command {
                    name: "publish".into(),
                    transaction_id: 5.0,
                    command_object: Amf0Value::Null,
                    arguments: vec![Amf0Value::from("stream"), Amf0Value::from("live")],
                },
            }]
        );
    }
}

#[test]
fn rtmp_7_1_1_command_without_a_name_is_malformed() {
    let mut link = Link::connected(HandshakeKind::Simple, 4);
    let mut payload = Vec::new();
    encode_all(
        &[Amf0Value::Number(1.0), Amf0Value::from("connect")],
        &mut payload,
    );
    link.client
        .session
        .send_message(CSID_COMMAND, 0, COMMAND_AMF0, 0, &payload);
    link.pump();
    let err = link.server.error.clone().expect("error");
    assert!(matches!(err, RtmpError::MalformedCommand(_)), "{err:?}");
    assert_eq!(err.code(), "RTMP_COMMAND_MALFORMED");
}

// ------------------------------------------------------------------ §7.1.2 data

#[test]
fn rtmp_7_1_2_set_data_frame_on_metadata_with_ecma_array() {
    let values = vec![
        Amf0Value::from("@setDataFrame"),
        Amf0Value::from("onMetaData"),
        Amf0Value::ecma_array([
            ("duration", Amf0Value::Number(0.0)),
            ("width", 1920.0.into()),
            ("height", 1080.0.into()),
            ("videodatarate", 2500.0.into()),
            ("framerate", 30.0.into()),
            ("videocodecid", 7.0.into()),
            ("audiodatarate", 160.0.into()),
            ("audiosamplerate", 48000.0.into()),
            ("audiosamplesize", 16.0.into()),
            ("stereo", true.into()),
            ("audiocodecid", 10.0.into()),
            (
                "encoder",
                "obs-output module (libobs version 30.0.0)".into(),
            ),
            ("filesize", 0.0.into()),
        ]),
    ];
    for kind in KINDS {
        for seed in 0..SEEDS {
            let mut link = Link::connected(kind, seed);
            link.client.session.send_data(1, 0, &values);
            link.pump();
            assert_eq!(link.server.error, None);
            assert_eq!(
                link.server.take_events(),
                vec![SessionEvent::Data {
                    message_stream_id: 1,
                    timestamp: 0,
                    values: values.clone(),
                }]
            );
        }
    }
}

#[test]
fn rtmp_7_1_2_amf3_data_message_type_15() {
    let mut link = Link::connected(HandshakeKind::Complex, 5);
    let values = vec![
        Amf0Value::from("onTextData"),
        Amf0Value::object([("text", Amf0Value::from("hi"))]),
    ];
    let mut payload = vec![0x00];
    encode_all(&values, &mut payload);
    link.client
        .session
        .send_message(CSID_DATA, 40, DATA_AMF3, 1, &payload);
    link.pump();
    assert_eq!(
        link.server.take_events(),
        vec![SessionEvent::Data {
            message_stream_id: 1,
            timestamp: 40,
            values
        }]
    );
}

// ------------------------------------------------------------------ §5.4.1 Set Chunk Size

#[test]
fn rtmp_5_4_1_set_chunk_size_4096_then_10000_byte_video() {
    for kind in KINDS {
        for seed in 0..SEEDS {
            let mut link = Link::connected(kind, seed);
            let mut rng = XorShift::new(seed + 100);
            let video = rng.bytes(10_000);
            link.server.session.set_chunk_size(4096);
            assert_eq!(link.server.session.chunk_size(), 4096);
            let set_chunk_size = link.server.session.take_transmit();
            assert_eq!(
                set_chunk_size,
                [0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0]
            );
            link.server
                .session
                .send_message(CSID_VIDEO, 33, VIDEO, 1, &video);
            let chunks = link.server.session.take_transmit();
            // fmt 0 header (12) + 4096 + fmt 3 (1) + 4096 + fmt 3 (1) + 1808.
            assert_eq!(chunks.len(), 12 + 10_000 + 2);
            assert_eq!(chunks[12 + 4096], 0xC0 | CSID_VIDEO as u8);
            assert_eq!(chunks[12 + 4096 + 1 + 4096], 0xC0 | CSID_VIDEO as u8);
            let mut all = set_chunk_size;
            all.extend_from_slice(&chunks);
            link.client.feed(&all, &mut link.rng);
            assert_eq!(link.client.error, None);
            assert_eq!(link.client.session.peer_chunk_size(), 4096);
            assert_eq!(
                link.client.take_events(),
                vec![
                    SessionEvent::ChunkSize(4096),
                    SessionEvent::Media {
                        type_id: VIDEO,
                        message_stream_id: 1,
                        timestamp: 33,
                        payload: video.into(),
                    }
                ]
            );
        }
    }
}

#[test]
fn rtmp_5_4_1_set_chunk_size_0x7fffffff_is_out_of_range() {
    for kind in KINDS {
        let mut link = Link::connected(kind, 6);
        link.client.session.set_chunk_size(0x7FFF_FFFF);
        link.pump();
        let err = link.server.error.clone().expect("error");
        assert_eq!(
            err,
            RtmpError::ChunkSizeOutOfRange {
                requested: 0x7FFF_FFFF,
                max: DecoderLimits::default().max_chunk_size,
            }
        );
        assert_eq!(err.code(), "RTMP_CHUNK_SIZE_OUT_OF_RANGE");
    }
}

#[test]
fn rtmp_5_4_1_set_chunk_size_zero_is_out_of_range() {
    let mut link = Link::connected(HandshakeKind::Simple, 7);
    link.client
        .session
        .send_message(CSID_PROTOCOL_CONTROL, 0, SET_CHUNK_SIZE, 0, &[0, 0, 0, 0]);
    link.pump();
    assert!(matches!(
        link.server.error,
        Some(RtmpError::ChunkSizeOutOfRange { requested: 0, .. })
    ));
}

#[test]
fn rtmp_5_4_1_set_chunk_size_top_bit_is_rejected_even_with_a_huge_limit() {
    // "The first bit MUST be zero" (§5.4.1): even when the configured maximum allows anything.
    let limits = DecoderLimits {
        max_chunk_size: u32::MAX,
        ..DecoderLimits::default()
    };
    let server_config = SessionConfig { limits };
    let mut link = Link::with_config_connected(
        HandshakeKind::Simple,
        8,
        SessionConfig::default(),
        server_config,
    );
    link.client.session.send_message(
        CSID_PROTOCOL_CONTROL,
        0,
        SET_CHUNK_SIZE,
        0,
        &0x8000_0080u32.to_be_bytes(),
    );
    link.pump();
    let err = link
        .server
        .error
        .clone()
        .expect("a chunk size with the top bit set is an error");
    assert_eq!(
        err,
        RtmpError::ChunkSizeOutOfRange {
            requested: 0x8000_0080,
            max: 0x7FFF_FFFF
        }
    );
}

#[test]
fn rtmp_5_4_1_set_chunk_size_too_short_is_a_control_error() {
    let mut link = Link::connected(HandshakeKind::Simple, 9);
    link.client
        .session
        .send_message(CSID_PROTOCOL_CONTROL, 0, SET_CHUNK_SIZE, 0, &[0, 1]);
    link.pump();
    let err = link.server.error.clone().expect("error");
    assert_eq!(
        err,
        RtmpError::ControlMessageTooShort {
            type_id: SET_CHUNK_SIZE,
            length: 2
        }
    );
    assert_eq!(err.code(), "RTMP_CONTROL_MALFORMED");
}

// ------------------------------------------------------------------ §5.4.2 Abort

#[test]
fn rtmp_5_4_2_abort_discards_the_partial_message() {
    let mut link = Link::connected(HandshakeKind::Simple, 10);
    let mut bytes = fmt0_header(6, 0, 300, VIDEO, 1);
    bytes.extend_from_slice(&[0xEE; 128]); // first chunk only of 300 bytes
    bytes.extend_from_slice(&fmt0_header(2, 0, 4, ABORT, 0));
    bytes.extend_from_slice(&6u32.to_be_bytes());
    bytes.extend_from_slice(&fmt0_header(6, 40, 10, VIDEO, 1));
    bytes.extend_from_slice(&[0x17; 10]);
    link.server.feed(&bytes, &mut link.rng);
    assert_eq!(link.server.error, None);
    assert_eq!(
        media_events(&link.server.events),
        vec![(VIDEO, 1, 40, vec![0x17; 10])]
    );
}

// ------------------------------------------------------------------ §5.4.3 / §5.4.4 acks

#[test]
fn rtmp_5_4_3_acknowledgement_after_window() {
    for kind in KINDS {
        for seed in 0..SEEDS {
            let mut link = Link::connected(kind, seed);
            link.client.session.send_window_ack_size(5000);
            link.pump();
            assert_eq!(
                link.server.take_events(),
                vec![SessionEvent::WindowAckSize(5000)]
            );
            let window_set_at = link.server.log.len() - 1;
            let mut rng = XorShift::new(seed);
            for i in 0..20u32 {
                let len = rng.range(100, 3000);
                let frame = rng.bytes(len);
                link.client
                    .session
                    .send_message(CSID_VIDEO, i * 40, VIDEO, 1, &frame);
                link.pump();
            }
            assert_eq!(link.server.error, None);
            assert_eq!(link.client.error, None);
            assert!(link.server.session.bytes_received() > 5000 * 3);
            // The acknowledgements the server must have sent: once at least 5000 bytes arrived
            // since the last one, at the end of that read, carrying the total received.
            let mut expected = Vec::new();
            let mut acked = 0u64;
            for &(received, _) in &link.server.log[window_set_at..] {
                if received - acked >= 5000 {
                    expected.push(received as u32);
                    acked = received;
                }
            }
            assert!(expected.len() >= 3, "{expected:?}");
            let acks: Vec<u32> = link
                .client
                .events
                .iter()
                .filter_map(|e| match e {
                    SessionEvent::Acknowledgement(n) => Some(*n),
                    _ => None,
                })
                .collect();
            assert_eq!(acks, expected, "{kind:?} seed {seed}");
            assert!(acks[0] >= 5000);
            assert!(acks.windows(2).all(|w| w[1] - w[0] >= 5000));
            // Nothing else reached the client.
            assert_eq!(link.client.events.len(), acks.len());
        }
    }
}

#[test]
fn rtmp_5_4_4_no_acknowledgement_without_a_window() {
    let mut link = Link::connected(HandshakeKind::Complex, 11);
    for i in 0..10 {
        link.client
            .session
            .send_message(CSID_AUDIO, i * 20, AUDIO, 1, &[0xAF; 2000]);
    }
    link.pump();
    assert_eq!(media_events(&link.server.events).len(), 10);
    assert!(link.client.events.is_empty(), "{:?}", link.client.events);
}

#[test]
fn rtmp_5_4_5_set_peer_bandwidth() {
    let mut link = Link::connected(HandshakeKind::Complex, 12);
    link.server.session.send_peer_bandwidth(2_500_000, 2);
    link.server.session.send_message(
        CSID_PROTOCOL_CONTROL,
        0,
        SET_PEER_BANDWIDTH,
        0,
        &[0, 0, 1, 0],
    );
    link.pump();
    assert_eq!(
        link.client.take_events(),
        vec![
            SessionEvent::PeerBandwidth {
                size: 2_500_000,
                limit_type: 2
            },
            // A missing limit type reads as dynamic.
            SessionEvent::PeerBandwidth {
                size: 256,
                limit_type: 2
            },
        ]
    );
}

// ------------------------------------------------------------------ §6.2 / §7.1.7 user control

#[test]
fn rtmp_7_1_7_ping_request_is_answered_with_ping_response() {
    for kind in KINDS {
        for seed in 0..SEEDS {
            let mut link = Link::connected(kind, seed);
            // Simulated time: the server pings at its own clock.
            let now = SERVER_EPOCH_MS + 30_000 + seed as u32;
            link.server
                .session
                .send_user_control(UserControlEvent::PingRequest(now));
            link.pump();
            assert_eq!(
                link.client.take_events(),
                vec![SessionEvent::UserControl(UserControlEvent::PingRequest(
                    now
                ))]
            );
            assert_eq!(
                link.server.take_events(),
                vec![SessionEvent::UserControl(UserControlEvent::PingResponse(
                    now
                ))]
            );
        }
    }
}

#[test]
fn rtmp_7_1_7_user_control_events_round_trip() {
    let mut link = Link::connected(HandshakeKind::Simple, 13);
    let events = [
        UserControlEvent::StreamBegin(1),
        UserControlEvent::SetBufferLength {
            stream_id: 1,
            buffer_ms: 3000,
        },
        UserControlEvent::StreamIsRecorded(1),
        UserControlEvent::StreamDry(1),
        UserControlEvent::StreamEof(1),
        UserControlEvent::Other {
            event_type: 31,
            value: CLIENT_EPOCH_MS,
        },
    ];
    for e in events {
        link.server.session.send_user_control(e);
    }
    link.pump();
    let expected: Vec<SessionEvent> = events.into_iter().map(SessionEvent::UserControl).collect();
    assert_eq!(link.client.take_events(), expected);
}

#[test]
fn rtmp_6_2_short_user_control_is_a_control_error() {
    let mut link = Link::connected(HandshakeKind::Simple, 14);
    link.server.session.send_message(
        CSID_PROTOCOL_CONTROL,
        0,
        USER_CONTROL,
        0,
        &[0, 3, 0, 0, 0, 1],
    );
    link.pump();
    let err = link
        .client
        .error
        .clone()
        .expect("SetBufferLength needs 10 bytes");
    assert_eq!(
        err,
        RtmpError::ControlMessageTooShort {
            type_id: USER_CONTROL,
            length: 6
        }
    );
}

// ------------------------------------------------------------------ §7.1.6 aggregate

#[test]
fn rtmp_7_1_6_aggregate_splits_into_media_with_rebased_timestamps() {
    let audio = [0xAF, 0x01, 0x21, 0x10, 0x04];
    let video = [
        0x17, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x65, 0x88,
    ];
    for kind in KINDS {
        for seed in 0..SEEDS {
            let mut link = Link::connected(kind, seed);
            let mut payload = flv_tag(AUDIO, 1000, &audio, true);
            payload.extend_from_slice(&flv_tag(VIDEO, 1040, &video, seed % 2 == 0));
            link.client
                .session
                .send_message(CSID_VIDEO, 5000, AGGREGATE, 1, &payload);
            link.pump();
            assert_eq!(link.server.error, None);
            assert_eq!(
                link.server.take_events(),
                vec![
                    SessionEvent::Media {
                        type_id: AUDIO,
                        message_stream_id: 1,
                        timestamp: 5000,
                        payload: audio.to_vec().into(),
                    },
                    SessionEvent::Media {
                        type_id: VIDEO,
                        message_stream_id: 1,
                        timestamp: 5040,
                        payload: video.to_vec().into(),
                    },
                ]
            );
        }
    }
}

#[test]
fn rtmp_7_1_6_aggregate_timestamps_use_the_extended_byte() {
    let mut link = Link::connected(HandshakeKind::Simple, 15);
    // 0x01_00_00_10 and 0x01_00_00_30: the fourth byte of the FLV tag timestamp is the high one.
    let mut payload = flv_tag(VIDEO, 0x0100_0010, &[0x27, 1, 0, 0, 0], true);
    payload.extend_from_slice(&flv_tag(VIDEO, 0x0100_0030, &[0x27, 1, 0, 0, 0], true));
    link.client
        .session
        .send_message(CSID_VIDEO, 100, AGGREGATE, 1, &payload);
    link.pump();
    let ts: Vec<u32> = media_events(&link.server.events)
        .iter()
        .map(|m| m.2)
        .collect();
    assert_eq!(ts, vec![100, 132]);
}

#[test]
fn rtmp_7_1_6_truncated_aggregate_is_malformed() {
    for cut in [1usize, 5, 10, 12, 20] {
        let mut link = Link::connected(HandshakeKind::Simple, 16);
        let mut payload = flv_tag(AUDIO, 0, &[0xAF, 1, 2, 3, 4, 5, 6, 7, 8, 9], true);
        payload.extend_from_slice(&flv_tag(VIDEO, 0, &[0x17; 20], true));
        let full = payload.len();
        payload.truncate(full - cut - 4);
        link.client
            .session
            .send_message(CSID_VIDEO, 0, AGGREGATE, 1, &payload);
        link.pump();
        let err = link.server.error.clone().expect("error");
        assert_eq!(err, RtmpError::MalformedAggregate, "cut {cut}");
        assert_eq!(err.code(), "RTMP_AGGREGATE_MALFORMED");
        // The whole first tag still arrived before the fault.
        assert_eq!(media_events(&link.server.events).len(), 1);
    }
}

// ------------------------------------------------------------------ §5.3 chunking, end to end

#[test]
fn rtmp_5_3_1_random_messages_round_trip_both_ways() {
    // Random csids (1-, 2- and 3-byte basic headers), timestamps (repeating deltas for fmt 3,
    // going back for fmt 0, above 0xFFFFFF for extended timestamps), sizes (0 included) and
    // chunk sizes changed in the middle of the stream.
    for kind in KINDS {
        for seed in 0..SEEDS {
            let mut link = Link::connected(kind, seed);
            let mut rng = XorShift::new(seed ^ 0xC0FFEE);
            let csids = [3u32, 4, 6, 63, 64, 319, 320, 65599];
            let mut clocks = [0u32; 8];
            let mut sent_up = Vec::<Message>::new();
            let mut sent_down = Vec::<Message>::new();
            for _ in 0..300 {
                let up = rng.chance(2);
                if rng.chance(40) {
                    let size = rng.range(1, 70_000) as u32;
                    let peer = if up {
                        &mut link.client
                    } else {
                        &mut link.server
                    };
                    peer.session.set_chunk_size(size.min(65_536));
                }
                let i = rng.below(csids.len());
                clocks[i] = match rng.below(8) {
                    0 => clocks[i].wrapping_sub(rng.below(1000) as u32),
                    1 => 0xFFFF_FF00u32.wrapping_add(rng.below(0x200) as u32),
                    2 => clocks[i].wrapping_add(0x0100_0000 + rng.below(5) as u32),
                    3 => 0xFF_FFFF,
                    _ => clocks[i].wrapping_add(if rng.chance(2) {
                        40
                    } else {
                        rng.below(100) as u32
                    }),
                };
                let len = match rng.below(5) {
                    0 => 0,
                    1 => rng.range(1, 130),
                    2 => rng.range(1, 5000),
                    _ => 100,
                };
                let payload = rng.bytes(len);
                let type_id = [AUDIO, VIDEO, 0x30, 0x41][rng.below(4)];
                let msid = [0u32, 1, 0xFFFF_FFFF][rng.below(3)];
                let m: Message = Message {
                    csid: csids[i],
                    timestamp: clocks[i],
                    type_id,
                    message_stream_id: msid,
                    payload: payload.into(),
                };
                let peer = if up {
                    &mut link.client
                } else {
                    &mut link.server
                };
                peer.session.send_message(
                    m.csid,
                    m.timestamp,
                    m.type_id,
                    m.message_stream_id,
                    &m.payload,
                );
                if up {
                    sent_up.push(m)
                } else {
                    sent_down.push(m)
                }
                if rng.chance(5) {
                    link.pump();
                }
            }
            link.pump();
            assert_eq!(link.server.error, None, "{kind:?} seed {seed}");
            assert_eq!(link.client.error, None, "{kind:?} seed {seed}");
            for (sent, peer) in [(sent_up, &link.server), (sent_down, &link.client)] {
                let got: Vec<Message> = peer
                    .events
                    .iter()
                    .filter_map(|e| match e {
                        SessionEvent::Media {
                            type_id,
                            message_stream_id,
                            timestamp,
                            payload,
                        } => Some((
                            None,
                            *type_id,
                            *message_stream_id,
                            *timestamp,
                            payload.clone(),
                        )),
                        SessionEvent::Other(m) => Some((
                            Some(m.csid),
                            m.type_id,
                            m.message_stream_id,
                            m.timestamp,
                            m.payload.clone(),
                        )),
                        _ => None,
                    })
                    .zip(sent.iter())
                    .map(|((csid, type_id, msid, timestamp, payload), s)| Message {
                        csid: csid.unwrap_or(s.csid),
                        timestamp,
                        type_id,
                        message_stream_id: msid,
                        payload,
                    })
                    .collect();
                assert_eq!(got.len(), sent.len(), "{kind:?} seed {seed}");
                for (n, (g, s)) in got.iter().zip(sent.iter()).enumerate() {
                    assert_eq!(g, s, "{kind:?} seed {seed} message {n}");
                }
            }
        }
    }
}

#[test]
fn rtmp_5_3_1_3_extended_timestamps_through_a_session() {
    let mut link = Link::connected(HandshakeKind::Complex, 17);
    let frame = vec![0x27u8; 300]; // three chunks at 128: fmt 3 continuations repeat the field
    let stamps = [
        0xFF_FFFEu32,
        0xFF_FFFF,
        0x0100_0000,
        0x0100_0028,
        0x0100_0050,
        0x0100_0078,
        0x0000_0010,
    ];
    for ts in stamps {
        link.client
            .session
            .send_message(CSID_VIDEO, ts, VIDEO, 1, &frame);
    }
    link.pump();
    assert_eq!(link.server.error, None);
    let ts: Vec<u32> = media_events(&link.server.events)
        .iter()
        .map(|m| m.2)
        .collect();
    assert_eq!(ts, stamps);
}

// ------------------------------------------------------------------ malformed input

#[test]
fn random_bytes_after_handshake_give_a_coded_error_and_never_panic() {
    let mut errors = 0;
    let runs = 300u64;
    for seed in 0..runs {
        let kind = KINDS[seed as usize % 2];
        let mut link = Link::connected(kind, seed);
        let mut rng = XorShift::new(seed.wrapping_mul(31) + 1);
        let len = rng.range(1, 4096);
        let garbage = rng.bytes(len);
        let target = if seed % 3 == 0 {
            &mut link.client
        } else {
            &mut link.server
        };
        target.feed(&garbage, &mut rng);
        if let Some(err) = target.error.clone() {
            errors += 1;
            assert!(
                CODES.contains(&err.code()),
                "{err:?} has code {}",
                err.code()
            );
            assert!(!err.to_string().is_empty());
            // Feeding a failed session more bytes must not panic either.
            let _ = target.session.handle_input(&rng.bytes(64));
            let _ = target.session.handle_input(&garbage);
        }
    }
    // Short garbage may still be waiting for the rest of a plausible chunk; most must fail.
    assert!(
        errors * 10 >= runs * 9,
        "only {errors} of {runs} runs failed"
    );
}

#[test]
fn garbage_first_byte_without_a_fmt0_header_is_chunk_malformed() {
    let mut link = Link::connected(HandshakeKind::Simple, 18);
    let err = link.server.feed_once(&[0x43, 1, 2, 3]).unwrap_err();
    assert_eq!(err, RtmpError::MissingPreviousHeader { csid: 3, fmt: 1 });
    assert_eq!(err.code(), "RTMP_CHUNK_MALFORMED");
}

#[test]
fn rtmp_5_3_1_2_message_length_0xffffff_at_chunk_size_128_is_too_large() {
    for kind in KINDS {
        let mut link = Link::connected(kind, 19);
        assert_eq!(link.server.session.peer_chunk_size(), 128);
        let mut bytes = fmt0_header(6, 0, 0xFF_FFFF, VIDEO, 1);
        bytes.extend_from_slice(&[0; 128]);
        let err = link.server.feed_once(&bytes).unwrap_err();
        assert_eq!(
            err,
            RtmpError::MessageTooLarge {
                length: 0xFF_FFFF,
                max: DecoderLimits::default().max_message_size,
            }
        );
        assert_eq!(err.code(), "RTMP_MESSAGE_TOO_LARGE");
    }
}

#[test]
fn too_much_buffered_across_chunk_streams() {
    let limits = DecoderLimits {
        max_buffered: 1000,
        ..DecoderLimits::default()
    };
    let mut link = Link::with_config_connected(
        HandshakeKind::Simple,
        20,
        SessionConfig::default(),
        SessionConfig { limits },
    );
    let mut bytes = Vec::new();
    for csid in 3..20u8 {
        bytes.extend_from_slice(&fmt0_header(csid, 0, 10_000, VIDEO, 1));
        bytes.extend_from_slice(&[0; 128]);
    }
    link.server.feed(&bytes, &mut link.rng);
    let err = link.server.error.clone().expect("error");
    assert!(
        matches!(err, RtmpError::TooMuchBuffered { max: 1000, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "RTMP_TOO_MUCH_BUFFERED");
}
