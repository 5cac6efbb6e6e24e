//! Byte-exact encodings of known examples.

mod common;

use common::{amf0_key, amf0_number, amf0_string};
use sluice_amf0::{decode_all, decode_value, encode_all, encode_to_vec, Amf0Value};

#[test]
fn scalar_encodings() {
    let cases: Vec<(Amf0Value, Vec<u8>)> = vec![
        (
            Amf0Value::Number(1.0),
            vec![0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0],
        ),
        (
            Amf0Value::Number(-2.5),
            vec![0x00, 0xC0, 0x04, 0, 0, 0, 0, 0, 0],
        ),
        (Amf0Value::Boolean(true), vec![0x01, 0x01]),
        (Amf0Value::Boolean(false), vec![0x01, 0x00]),
        (Amf0Value::from("hi"), vec![0x02, 0x00, 0x02, b'h', b'i']),
        (Amf0Value::from(""), vec![0x02, 0x00, 0x00]),
        (Amf0Value::Null, vec![0x05]),
        (Amf0Value::Undefined, vec![0x06]),
        (Amf0Value::Reference(0x0102), vec![0x07, 0x01, 0x02]),
        (Amf0Value::Unsupported, vec![0x0D]),
        (
            Amf0Value::LongString("ab".into()),
            vec![0x0C, 0, 0, 0, 2, b'a', b'b'],
        ),
        (
            Amf0Value::XmlDocument("<x/>".into()),
            vec![0x0F, 0, 0, 0, 4, b'<', b'x', b'/', b'>'],
        ),
        (
            Amf0Value::Date {
                millis: 1.0,
                time_zone: -60,
            },
            vec![0x0B, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0xFF, 0xC4],
        ),
        (Amf0Value::Object(vec![]), vec![0x03, 0x00, 0x00, 0x09]),
        (
            Amf0Value::EcmaArray(vec![]),
            vec![0x08, 0, 0, 0, 0, 0x00, 0x00, 0x09],
        ),
        (
            Amf0Value::StrictArray(vec![Amf0Value::Null, Amf0Value::Boolean(true)]),
            vec![0x0A, 0, 0, 0, 2, 0x05, 0x01, 0x01],
        ),
        (
            Amf0Value::TypedObject {
                class_name: "C".into(),
                properties: vec![("k".into(), Amf0Value::Null)],
            },
            vec![
                0x10, 0x00, 0x01, b'C', 0x00, 0x01, b'k', 0x05, 0x00, 0x00, 0x09,
            ],
        ),
        (
            Amf0Value::ecma_array([("a", Amf0Value::Null), ("b", Amf0Value::Undefined)]),
            vec![
                0x08, 0, 0, 0, 2, 0, 1, b'a', 0x05, 0, 1, b'b', 0x06, 0, 0, 9,
            ],
        ),
    ];
    for (value, bytes) in cases {
        assert_eq!(encode_to_vec(&value), bytes, "encoding {value:?}");
        assert_eq!(decode_value(&bytes).unwrap(), (value, bytes.len()));
    }
}

/// The `connect` command ffmpeg (libavformat/rtmpproto.c `gen_connect`)
/// sends when publishing.
#[test]
fn ffmpeg_publish_connect_command() {
    let flash_ver = "FMLE/3.0 (compatible; Lavf60.16.100)";
    let tc_url = "rtmp://127.0.0.1:1935/live";

    let mut expected = vec![0x02, 0x00, 0x07];
    expected.extend_from_slice(b"connect");
    expected.extend_from_slice(&[0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0]);
    expected.push(0x03);
    expected.extend_from_slice(&[0x00, 0x03]);
    expected.extend_from_slice(b"app");
    expected.extend_from_slice(&[0x02, 0x00, 0x04]);
    expected.extend_from_slice(b"live");
    amf0_key(&mut expected, "type");
    amf0_string(&mut expected, "nonprivate");
    amf0_key(&mut expected, "flashVer");
    amf0_string(&mut expected, flash_ver);
    amf0_key(&mut expected, "tcUrl");
    amf0_string(&mut expected, tc_url);
    expected.extend_from_slice(&[0x00, 0x00, 0x09]);

    let command = vec![
        Amf0Value::from("connect"),
        Amf0Value::Number(1.0),
        Amf0Value::object([
            ("app", Amf0Value::from("live")),
            ("type", Amf0Value::from("nonprivate")),
            ("flashVer", Amf0Value::from(flash_ver)),
            ("tcUrl", Amf0Value::from(tc_url)),
        ]),
    ];
    let mut encoded = Vec::new();
    encode_all(&command, &mut encoded);
    assert_eq!(encoded, expected);

    let decoded = decode_all(&expected).unwrap();
    assert_eq!(decoded, command);
    assert_eq!(decoded[0].as_str(), Some("connect"));
    assert_eq!(decoded[1].as_number(), Some(1.0));
    assert_eq!(
        decoded[2].get("tcUrl").and_then(Amf0Value::as_str),
        Some(tc_url)
    );
}

/// The `connect` command ffmpeg sends when playing (extra capability fields).
#[test]
fn ffmpeg_play_connect_command() {
    let mut expected = Vec::new();
    amf0_string(&mut expected, "connect");
    amf0_number(&mut expected, 1.0);
    expected.push(0x03);
    amf0_key(&mut expected, "app");
    amf0_string(&mut expected, "live");
    amf0_key(&mut expected, "flashVer");
    amf0_string(&mut expected, "LNX 9,0,124,2");
    amf0_key(&mut expected, "tcUrl");
    amf0_string(&mut expected, "rtmp://localhost/live");
    amf0_key(&mut expected, "fpad");
    expected.extend_from_slice(&[0x01, 0x00]);
    for (k, n) in [
        ("capabilities", 15.0),
        ("audioCodecs", 4071.0),
        ("videoCodecs", 252.0),
        ("videoFunction", 1.0),
    ] {
        amf0_key(&mut expected, k);
        amf0_number(&mut expected, n);
    }
    expected.extend_from_slice(&[0x00, 0x00, 0x09]);

    let decoded = decode_all(&expected).unwrap();
    assert_eq!(decoded.len(), 3);
    let obj = &decoded[2];
    assert_eq!(obj.get("fpad").and_then(Amf0Value::as_bool), Some(false));
    assert_eq!(
        obj.get("audioCodecs").and_then(Amf0Value::as_number),
        Some(4071.0)
    );
    let mut reencoded = Vec::new();
    encode_all(&decoded, &mut reencoded);
    assert_eq!(reencoded, expected);
}

/// A server `_result` reply to connect: name, transaction id, properties
/// object, information object.
#[test]
fn connect_result_reply() {
    let reply = vec![
        Amf0Value::from("_result"),
        Amf0Value::Number(1.0),
        Amf0Value::object([
            ("fmsVer", Amf0Value::from("FMS/3,0,1,123")),
            ("capabilities", Amf0Value::Number(31.0)),
        ]),
        Amf0Value::object([
            ("level", Amf0Value::from("status")),
            ("code", Amf0Value::from("NetConnection.Connect.Success")),
            ("description", Amf0Value::from("Connection succeeded.")),
            ("objectEncoding", Amf0Value::Number(0.0)),
        ]),
    ];
    let mut expected = Vec::new();
    amf0_string(&mut expected, "_result");
    amf0_number(&mut expected, 1.0);
    expected.push(0x03);
    amf0_key(&mut expected, "fmsVer");
    amf0_string(&mut expected, "FMS/3,0,1,123");
    amf0_key(&mut expected, "capabilities");
    amf0_number(&mut expected, 31.0);
    expected.extend_from_slice(&[0, 0, 9, 0x03]);
    amf0_key(&mut expected, "level");
    amf0_string(&mut expected, "status");
    amf0_key(&mut expected, "code");
    amf0_string(&mut expected, "NetConnection.Connect.Success");
    amf0_key(&mut expected, "description");
    amf0_string(&mut expected, "Connection succeeded.");
    amf0_key(&mut expected, "objectEncoding");
    amf0_number(&mut expected, 0.0);
    expected.extend_from_slice(&[0, 0, 9]);

    let mut encoded = Vec::new();
    encode_all(&reply, &mut encoded);
    assert_eq!(encoded, expected);
    assert_eq!(decode_all(&expected).unwrap(), reply);
}

/// An FLV/RTMP `@setDataFrame` / `onMetaData` data message with an ECMA array.
#[test]
fn on_metadata_ecma_array() {
    let mut expected = Vec::new();
    amf0_string(&mut expected, "onMetaData");
    expected.extend_from_slice(&[0x08, 0, 0, 0, 3]);
    amf0_key(&mut expected, "width");
    amf0_number(&mut expected, 1280.0);
    amf0_key(&mut expected, "height");
    amf0_number(&mut expected, 720.0);
    amf0_key(&mut expected, "encoder");
    amf0_string(&mut expected, "Lavf60.16.100");
    expected.extend_from_slice(&[0, 0, 9]);

    let values = vec![
        Amf0Value::from("onMetaData"),
        Amf0Value::ecma_array([
            ("width", Amf0Value::Number(1280.0)),
            ("height", Amf0Value::Number(720.0)),
            ("encoder", Amf0Value::from("Lavf60.16.100")),
        ]),
    ];
    let mut encoded = Vec::new();
    encode_all(&values, &mut encoded);
    assert_eq!(encoded, expected);
    assert_eq!(decode_all(&expected).unwrap(), values);
}
