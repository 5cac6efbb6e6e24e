//! AMF0 values ⇄ JS values (through serde_json with ordered maps, so object property order is
//! kept both ways).
//!
//! Mapping: Number ↔ number; Boolean ↔ boolean; String / LongString / XmlDocument → string
//! (strings over 65 535 bytes encode as LongString); Object and EcmaArray → plain object (JS
//! objects encode as AMF0 Object); StrictArray ↔ array; Null and Undefined → null; Date →
//! number (ms since the epoch).

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{Map, Number, Value};
use sluice_amf0::{decode_all, encode_all, Amf0Value};

/// AMF0 value → JSON value for JS.
pub fn to_json(v: &Amf0Value) -> Value {
    match v {
        Amf0Value::Number(n) => Number::from_f64(*n)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Amf0Value::Boolean(b) => Value::Bool(*b),
        Amf0Value::String(s) | Amf0Value::LongString(s) => Value::String(s.clone()),
        Amf0Value::Object(props) | Amf0Value::EcmaArray(props) => {
            let mut map = Map::with_capacity(props.len());
            for (k, v) in props {
                map.insert(k.clone(), to_json(v));
            }
            Value::Object(map)
        }
        Amf0Value::StrictArray(items) => Value::Array(items.iter().map(to_json).collect()),
        Amf0Value::Date { millis, .. } => Number::from_f64(*millis)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        other => match other.as_str() {
            Some(s) => Value::String(s.to_string()),
            None => Value::Null,
        },
    }
}

/// JSON value from JS → AMF0 value.
pub fn from_json(v: &Value) -> Amf0Value {
    match v {
        Value::Null => Amf0Value::Null,
        Value::Bool(b) => Amf0Value::Boolean(*b),
        Value::Number(n) => Amf0Value::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Amf0Value::String(s.clone()),
        Value::Array(items) => Amf0Value::StrictArray(items.iter().map(from_json).collect()),
        Value::Object(map) => {
            Amf0Value::Object(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

/// Encodes JS values as consecutive AMF0 values (AMF0 spec §2).
#[napi(js_name = "encodeAmf0")]
pub fn encode_amf0(values: Vec<Value>) -> Buffer {
    let values: Vec<Amf0Value> = values.iter().map(from_json).collect();
    let mut out = Vec::new();
    encode_all(&values, &mut out);
    out.into()
}

/// Decodes consecutive AMF0 values (with the AMF3 switch). Throws `RTMP_AMF_MALFORMED: ...`
/// when the bytes are not valid AMF0.
#[napi(js_name = "decodeAmf0")]
pub fn decode_amf0(data: &[u8]) -> Result<Vec<Value>> {
    decode_all(data)
        .map(|values| values.iter().map(to_json).collect())
        .map_err(|e| Error::new(Status::InvalidArg, format!("RTMP_AMF_MALFORMED: {e}")))
}
