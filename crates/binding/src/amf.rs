//! AMF0 values ⇄ JS values: decoded values become JS values directly ([`to_js`]); JS values
//! to encode come in through serde_json with ordered maps. Object property order is kept both
//! ways.
//!
//! Mapping: Number ↔ number; Boolean ↔ boolean; String / LongString / XmlDocument → string
//! (strings over 65 535 bytes encode as LongString); Object and EcmaArray → plain object (JS
//! objects encode as AMF0 Object); StrictArray ↔ array; Null and Undefined → null; Date →
//! number (ms since the epoch).

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use serde_json::Value;
use sluice_amf0::{decode_all, encode_all, Amf0Value};

/// AMF0 value → JS value, made with N-API calls (no intermediate tree). Numbers and dates that
/// are not finite become null, as JSON would have them.
pub fn to_js<'env>(env: &'env Env, v: &Amf0Value) -> Result<Unknown<'env>> {
    let raw = raw_js(env.raw(), v)?;
    // SAFETY: a value just made in this env.
    unsafe { Unknown::from_napi_value(env.raw(), raw) }
}

/// Consecutive AMF0 values → JS values.
pub fn to_js_all<'env>(env: &'env Env, values: &[Amf0Value]) -> Result<Vec<Unknown<'env>>> {
    values.iter().map(|v| to_js(env, v)).collect()
}

fn raw_js(env: sys::napi_env, v: &Amf0Value) -> Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: plain N-API value constructors on this env; strings are passed with their length.
    unsafe {
        match v {
            Amf0Value::Number(n) | Amf0Value::Date { millis: n, .. } if n.is_finite() => {
                check_status!(sys::napi_create_double(env, *n, &mut out))?
            }
            Amf0Value::Boolean(b) => check_status!(sys::napi_get_boolean(env, *b, &mut out))?,
            Amf0Value::String(s) | Amf0Value::LongString(s) => string(env, s, &mut out)?,
            Amf0Value::Object(props) | Amf0Value::EcmaArray(props) => {
                check_status!(sys::napi_create_object(env, &mut out))?;
                for (k, v) in props {
                    let mut key = std::ptr::null_mut();
                    string(env, k, &mut key)?;
                    let value = raw_js(env, v)?;
                    check_status!(sys::napi_set_property(env, out, key, value))?;
                }
            }
            Amf0Value::StrictArray(items) => {
                check_status!(sys::napi_create_array_with_length(
                    env,
                    items.len(),
                    &mut out
                ))?;
                for (i, item) in items.iter().enumerate() {
                    let value = raw_js(env, item)?;
                    check_status!(sys::napi_set_element(env, out, i as u32, value))?;
                }
            }
            other => match other.as_str() {
                Some(s) => string(env, s, &mut out)?,
                None => check_status!(sys::napi_get_null(env, &mut out))?,
            },
        }
    }
    Ok(out)
}

/// # Safety
/// `env` is a live env of this thread.
unsafe fn string(env: sys::napi_env, s: &str, out: &mut sys::napi_value) -> Result<()> {
    check_status!(unsafe {
        sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, out)
    })
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
#[napi(js_name = "decodeAmf0", ts_return_type = "Array<any>")]
pub fn decode_amf0<'env>(env: &'env Env, data: &[u8]) -> Result<Vec<Unknown<'env>>> {
    let values = decode_all(data)
        .map_err(|e| Error::new(Status::InvalidArg, format!("RTMP_AMF_MALFORMED: {e}")))?;
    to_js_all(env, &values)
}
