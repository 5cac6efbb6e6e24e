//! AMF0 values ⇄ JS values. Decoded values reach JS as JSON text given to the engine's own
//! `JSON.parse` ([`to_js`], [`Json`]): one call makes a whole tree of objects, where setting
//! each property through N-API costs about as much as parsing 40 bytes of JSON. JS values to
//! encode come in through serde_json with ordered maps. Object property order is kept both
//! ways.
//!
//! Mapping: Number ↔ number; Boolean ↔ boolean; String / LongString / XmlDocument → string
//! (strings over 65 535 bytes encode as LongString); Object and EcmaArray → plain object (JS
//! objects encode as AMF0 Object; a `__proto__` key is an own property, as `JSON.parse` makes
//! it); StrictArray ↔ array; Null and Undefined → null; Date → number (ms since the epoch);
//! numbers and dates that are not finite → null.

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;
use sluice_amf0::{decode_all, encode_all, Amf0Value};

/// Serializes an AMF0 value as the JSON of its JS value (see the module's mapping).
pub struct Json<'a>(pub &'a Amf0Value);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            // serde_json writes a number that is not finite as null.
            Amf0Value::Number(n) | Amf0Value::Date { millis: n, .. } => s.serialize_f64(*n),
            Amf0Value::Boolean(b) => s.serialize_bool(*b),
            Amf0Value::String(v) | Amf0Value::LongString(v) => s.serialize_str(v),
            Amf0Value::Object(props) | Amf0Value::EcmaArray(props) => {
                let mut map = s.serialize_map(Some(props.len()))?;
                for (k, v) in props {
                    map.serialize_entry(k, &Json(v))?;
                }
                map.end()
            }
            Amf0Value::StrictArray(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Json(item))?;
                }
                seq.end()
            }
            other => match other.as_str() {
                Some(v) => s.serialize_str(v),
                None => s.serialize_unit(),
            },
        }
    }
}

/// Serializes consecutive AMF0 values as a JSON array.
pub struct JsonAll<'a>(pub &'a [Amf0Value]);

impl Serialize for JsonAll<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Json))
    }
}

/// Any serializable value → JS value, through one `JSON.parse` call. Throws what `JSON.parse`
/// throws (never for serde_json's output).
pub fn to_js<'env>(env: &'env Env, value: &impl Serialize) -> Result<Unknown<'env>> {
    // SAFETY: `env` is this call's env; the value is alive for the call.
    unsafe {
        let raw = json_to_js(env.raw(), value)?;
        Unknown::from_napi_value(env.raw(), raw)
    }
}

/// `to_js` on a raw env.
///
/// # Safety
/// `env` is a live env of this thread.
unsafe fn json_to_js(env: sys::napi_env, value: &impl Serialize) -> Result<sys::napi_value> {
    let json = serde_json::to_string(value)
        .map_err(|e| Error::new(Status::GenericFailure, format!("JSON of a value: {e}")))?;
    let mut global = std::ptr::null_mut();
    let mut json_object = std::ptr::null_mut();
    let mut parse = std::ptr::null_mut();
    let mut text = std::ptr::null_mut();
    let mut out = std::ptr::null_mut();
    // SAFETY: plain N-API calls on this env; the string is passed with its length.
    unsafe {
        check_status!(sys::napi_get_global(env, &mut global))?;
        check_status!(sys::napi_get_named_property(
            env,
            global,
            c"JSON".as_ptr(),
            &mut json_object
        ))?;
        check_status!(sys::napi_get_named_property(
            env,
            json_object,
            c"parse".as_ptr(),
            &mut parse
        ))?;
        check_status!(sys::napi_create_string_utf8(
            env,
            json.as_ptr().cast(),
            json.len() as isize,
            &mut text
        ))?;
        check_status!(sys::napi_call_function(
            env,
            json_object,
            parse,
            1,
            &text,
            &mut out
        ))?;
    }
    Ok(out)
}

impl ToNapiValue for Json<'_> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        // SAFETY: napi-rs calls this with a live env.
        unsafe { json_to_js(env, &val) }
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
#[napi(js_name = "decodeAmf0", ts_return_type = "Array<any>")]
pub fn decode_amf0<'env>(env: &'env Env, data: &[u8]) -> Result<Unknown<'env>> {
    let values = decode_all(data)
        .map_err(|e| Error::new(Status::InvalidArg, format!("RTMP_AMF_MALFORMED: {e}")))?;
    to_js(env, &JsonAll(&values))
}
