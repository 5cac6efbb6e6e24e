//! AMF0 values ⇄ JS values. Decoded values reach JS as JSON text given to the engine's own
//! `JSON.parse` ([`to_js`], [`Json`]): one call makes a whole tree of objects, where setting
//! each property through N-API costs about as much as parsing 40 bytes of JSON. JS values to
//! encode come the other way, through one `JSON.stringify` ([`from_js`]) parsed by serde_json
//! straight into AMF0 values. Object property order is kept both ways, and every double is
//! exact (serde_json's `float_roundtrip`).
//!
//! Mapping: Number ↔ number; Boolean ↔ boolean; String / LongString / XmlDocument → string
//! (strings over 65 535 bytes encode as LongString); Object and EcmaArray → plain object (JS
//! objects encode as AMF0 Object; a `__proto__` key is an own property, as `JSON.parse` makes
//! it); StrictArray ↔ array; Null and Undefined → null; Date → number (ms since the epoch);
//! numbers and dates that are not finite → null.

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
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

/// Calls the engine's `JSON.<method>` (`parse` or `stringify`) with one argument.
///
/// # Safety
/// `env` is a live env of this thread and `arg` one of its values.
unsafe fn call_json(
    env: sys::napi_env,
    method: &std::ffi::CStr,
    arg: sys::napi_value,
) -> Result<sys::napi_value> {
    let (mut global, mut json, mut function, mut out) = (
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    // SAFETY: plain N-API calls on this env.
    unsafe {
        check_status!(sys::napi_get_global(env, &mut global))?;
        check_status!(sys::napi_get_named_property(
            env,
            global,
            c"JSON".as_ptr(),
            &mut json
        ))?;
        check_status!(sys::napi_get_named_property(
            env,
            json,
            method.as_ptr(),
            &mut function
        ))?;
        check_status!(sys::napi_call_function(
            env, json, function, 1, &arg, &mut out
        ))?;
    }
    Ok(out)
}

/// `to_js` on a raw env.
///
/// # Safety
/// `env` is a live env of this thread.
unsafe fn json_to_js(env: sys::napi_env, value: &impl Serialize) -> Result<sys::napi_value> {
    let json = serde_json::to_string(value)
        .map_err(|e| Error::new(Status::GenericFailure, format!("JSON of a value: {e}")))?;
    let mut text = std::ptr::null_mut();
    // SAFETY: plain N-API calls on this env; the string is passed with its length.
    unsafe {
        check_status!(sys::napi_create_string_utf8(
            env,
            json.as_ptr().cast(),
            json.len() as isize,
            &mut text
        ))?;
        call_json(env, c"parse", text)
    }
}

impl ToNapiValue for Json<'_> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        // SAFETY: napi-rs calls this with a live env.
        unsafe { json_to_js(env, &val) }
    }
}

/// JSON text → AMF0 value, straight from serde_json's parser (no `serde_json::Value` tree):
/// null → Null, booleans → Boolean, numbers → Number (f64), strings → String, arrays →
/// StrictArray, objects → Object with their keys in order.
struct FromJson(Amf0Value);

impl<'de> Deserialize<'de> for FromJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(FromJsonVisitor).map(FromJson)
    }
}

struct FromJsonVisitor;

impl<'de> Visitor<'de> for FromJsonVisitor {
    type Value = Amf0Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> std::result::Result<Amf0Value, E> {
        Ok(Amf0Value::Null)
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Amf0Value, E> {
        Ok(Amf0Value::Boolean(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Amf0Value, E> {
        Ok(Amf0Value::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Amf0Value, E> {
        Ok(Amf0Value::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Amf0Value, E> {
        Ok(Amf0Value::Number(v))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Amf0Value, E> {
        Ok(Amf0Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Amf0Value, E> {
        Ok(Amf0Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Amf0Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(FromJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Amf0Value::StrictArray(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Amf0Value, A::Error> {
        let mut props = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((key, FromJson(value))) = map.next_entry::<String, FromJson>()? {
            props.push((key, value));
        }
        Ok(Amf0Value::Object(props))
    }
}

/// A JS value → AMF0 value, through the engine's `JSON.stringify` (one call for the whole
/// tree, where reading each property through N-API costs more than stringifying it) and
/// serde_json. So JSON's rules apply: `toJSON()` is honoured (a Date becomes its ISO string, a
/// Buffer `{type, data}`), properties that are undefined or functions are left out, numbers
/// that are not finite and a top-level undefined become null. Throws what `JSON.stringify`
/// throws (a TypeError for a BigInt or a cycle).
pub fn from_js(env: &Env, value: Unknown) -> Result<Amf0Value> {
    let raw = env.raw();
    let mut kind = sys::ValueType::napi_undefined;
    // SAFETY: plain N-API calls on this env with one of its values.
    let text = unsafe {
        let text = call_json(raw, c"stringify", value.raw())?;
        check_status!(sys::napi_typeof(raw, text, &mut kind))?;
        text
    };
    if kind != sys::ValueType::napi_string {
        return Ok(Amf0Value::Null); // undefined, a function or a symbol
    }
    // SAFETY: a string value of this env.
    let json = unsafe { String::from_napi_value(raw, text) }?;
    let FromJson(value) = serde_json::from_str(&json)
        .map_err(|e| Error::new(Status::GenericFailure, format!("JSON of a value: {e}")))?;
    Ok(value)
}

/// A JS array → AMF0 values, each converted as [`from_js`] says. `what` names the argument in
/// the error (code `InvalidArg`) thrown when it is not an array.
pub fn values_from_js(env: &Env, values: Unknown, what: &str) -> Result<Vec<Amf0Value>> {
    match from_js(env, values)? {
        Amf0Value::StrictArray(values) => Ok(values),
        _ => Err(Error::new(
            Status::InvalidArg,
            format!("{what} must be an array"),
        )),
    }
}

/// Encodes JS values as consecutive AMF0 values (AMF0 spec §2), converted as [`from_js`] says.
/// Throws an error with code `InvalidArg` when `values` is not an array, and what
/// `JSON.stringify` throws (a TypeError for a BigInt or a cycle).
#[napi(js_name = "encodeAmf0", ts_args_type = "values: Array<any>")]
pub fn encode_amf0(env: &Env, values: Unknown) -> Result<Buffer> {
    let values = values_from_js(env, values, "encodeAmf0: values")?;
    let mut out = Vec::new();
    encode_all(&values, &mut out);
    Ok(out.into())
}

/// Decodes consecutive AMF0 values (with the AMF3 switch). Throws `RTMP_AMF_MALFORMED: ...`
/// when the bytes are not valid AMF0.
#[napi(js_name = "decodeAmf0", ts_return_type = "Array<any>")]
pub fn decode_amf0<'env>(env: &'env Env, data: &[u8]) -> Result<Unknown<'env>> {
    let values = decode_all(data)
        .map_err(|e| Error::new(Status::InvalidArg, format!("RTMP_AMF_MALFORMED: {e}")))?;
    to_js(env, &JsonAll(&values))
}
