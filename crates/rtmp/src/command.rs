//! Command messages (RTMP 1.0 §7.1.1, §7.2): name, transaction id, command object, arguments.

use sluice_amf0::{decode_all, encode_all, Amf0Value};

use crate::error::RtmpError;
use crate::message::COMMAND_AMF3;

/// A decoded command message (type 20, or type 17 after its 0x00 format byte).
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Command name, e.g. `connect`, `createStream`, `publish`, `play`, `onStatus`, `_result`.
    pub name: String,
    /// Transaction id (0 when no response is expected).
    pub transaction_id: f64,
    /// The command object (AMF0 object, or `Null`).
    pub command_object: Amf0Value,
    /// Remaining arguments in order.
    pub arguments: Vec<Amf0Value>,
}

impl Command {
    /// Decodes a command payload. Type 17 (AMF3 command) payloads start with a format byte
    /// (0x00) that is skipped; values may then switch to AMF3 (marker 0x11).
    pub fn decode(type_id: u8, payload: &[u8]) -> Result<Self, RtmpError> {
        let body = strip_amf3_format_byte(type_id, payload);
        let mut values = decode_all(body)?.into_iter();
        let name = match values.next() {
            Some(Amf0Value::String(s)) | Some(Amf0Value::LongString(s)) => s,
            other => {
                return Err(RtmpError::MalformedCommand(format!(
                    "command name is {other:?}, not a string"
                )))
            }
        };
        let transaction_id = match values.next() {
            Some(v) => v.as_number().unwrap_or(0.0),
            None => 0.0,
        };
        let command_object = values.next().unwrap_or(Amf0Value::Null);
        Ok(Command {
            name,
            transaction_id,
            command_object,
            arguments: values.collect(),
        })
    }

    /// The type-20 (AMF0) payload of this command.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        let head = [
            Amf0Value::String(self.name.clone()),
            Amf0Value::Number(self.transaction_id),
        ];
        encode_all(&head, &mut out);
        sluice_amf0::encode_value(&self.command_object, &mut out);
        encode_all(&self.arguments, &mut out);
        out
    }
}

/// Type 15 and 17 payloads begin with a 0x00 format byte before the AMF0 values.
pub fn strip_amf3_format_byte(type_id: u8, payload: &[u8]) -> &[u8] {
    let amf3_type = type_id == COMMAND_AMF3 || type_id == crate::message::DATA_AMF3;
    match payload.first() {
        Some(0) if amf3_type => &payload[1..],
        _ => payload,
    }
}
