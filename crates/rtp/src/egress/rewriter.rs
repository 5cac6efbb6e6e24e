//! [`RtpRewriter`]: one forwarded track re-numbered for its receiver.

use super::kept_extension;
use crate::packet::{RtpHeader, FIXED_HEADER_LEN};
use crate::svc::{SvcFilter, SvcVerdict};
use crate::RtpError;

/// Re-numbers one forwarded RTP track (RFC 3550 §5.1) so its receiver sees one continuous
/// source whatever happens upstream: every output packet carries the rewriter's SSRC and
/// payload type; sequence numbers and timestamps are the input's plus deltas fixed whenever the
/// input SSRC changes (a publisher restart, or a new publisher, continues right after the last
/// packet sent, the timestamp advanced by the wallclock gap); the header extension and CSRCs
/// are dropped (extension ids are negotiated per connection, not shared by publisher and
/// receiver) — but one element may be kept ([`keep_extension`](Self::keep_extension)).
/// Padding is kept.
///
/// Output layout: the 12-byte fixed header (`V=2`, `P` as the input's, `X=0`, `CC=0`), then the
/// input's payload from its payload offset to its end; with a kept element, `X=1` and its
/// block between them (`kept_extension`).
#[derive(Debug, Clone)]
pub struct RtpRewriter {
    ssrc: u32,
    payload_type: u8,
    clock_rate: u32,
    input_ssrc: Option<u32>,
    seq_delta: u16,
    ts_delta: u32,
    last_seq: u16,
    last_ts: u32,
    /// Wallclock of the last packet, ms.
    last_at_ms: Option<f64>,
    packets: u32,
    octets: u32,
    /// Scalable video: the operating point this track keeps ([`forward_into`](Self::forward_into)).
    svc: Option<SvcFilter>,
    /// The last packet forwarded starts a switching point ([`switch_point`](Self::switch_point)).
    switch_point: bool,
    /// The input's extension element id kept in the output, if any.
    keep: Option<u8>,
}

/// The payload offset of an RTP packet (after CSRCs and the header extension), padding left in.
fn payload_offset(p: &[u8]) -> Result<usize, RtpError> {
    if p.len() < FIXED_HEADER_LEN {
        return Err(RtpError::PacketTooShort { needed: FIXED_HEADER_LEN, length: p.len() });
    }
    if p[0] >> 6 != 2 {
        return Err(RtpError::UnsupportedVersion { version: p[0] >> 6 });
    }
    let mut at = FIXED_HEADER_LEN + 4 * (p[0] & 0x0F) as usize;
    if p[0] & 0x10 != 0 {
        if p.len() < at + 4 {
            return Err(RtpError::PacketTooShort { needed: at + 4, length: p.len() });
        }
        at += 4 + 4 * u16::from_be_bytes([p[at + 2], p[at + 3]]) as usize;
    }
    if at > p.len() {
        return Err(RtpError::PacketTooShort { needed: at, length: p.len() });
    }
    Ok(at)
}

impl RtpRewriter {
    /// `ssrc` and `payload_type` (7 bits) go into every output packet; `clock_rate` (Hz: 90 000
    /// video, 48 000 Opus) advances timestamps across an input SSRC change; the first output
    /// continues from `initial_seq` + 1 and `initial_timestamp` (random values from the caller,
    /// RFC 3550 §5.1).
    pub fn new(ssrc: u32, payload_type: u8, clock_rate: u32, initial_seq: u16, initial_timestamp: u32) -> RtpRewriter {
        RtpRewriter {
            ssrc,
            payload_type: payload_type & 0x7F,
            clock_rate,
            input_ssrc: None,
            seq_delta: 0,
            ts_delta: 0,
            last_seq: initial_seq,
            last_ts: initial_timestamp,
            last_at_ms: None,
            packets: 0,
            octets: 0,
            svc: None,
            switch_point: false,
            keep: None,
        }
    }

    /// Keeps the input's header extension element `id` (1–255; None: none) in the output,
    /// under [`kept_extension::KEPT_ID`] in the layout `kept_extension` documents.
    pub fn keep_extension(&mut self, id: Option<u8>) {
        self.keep = id;
    }

    /// The element to keep from `packet`, if any.
    fn kept<'a>(&self, packet: &'a [u8]) -> Option<&'a [u8]> {
        let id = self.keep?;
        RtpHeader::parse(packet).ok()?.0.extension?.find(id)
    }

    /// The output SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Whether a packet was rewritten since the last input SSRC change (deltas are known).
    pub fn started(&self) -> bool {
        self.input_ssrc.is_some()
    }

    /// Output sequence number of the last packet rewritten.
    pub fn last_sequence_number(&self) -> u16 {
        self.last_seq
    }

    /// Packets rewritten (for sender reports, RFC 3550 §6.4.1; wraps at 2^32).
    pub fn packets(&self) -> u32 {
        self.packets
    }

    /// Header and payload octets written (wraps at 2^32).
    pub fn octets(&self) -> u32 {
        self.octets
    }

    /// The output timestamp of an input RTP timestamp (to re-base the publisher's sender reports).
    pub fn timestamp(&self, input_timestamp: u32) -> u32 {
        input_timestamp.wrapping_add(self.ts_delta)
    }

    /// Output size of `packet`. Errors: not RTP version 2, or shorter than its header says.
    pub fn output_len(&self, packet: &[u8]) -> Result<usize, RtpError> {
        let block = self.kept(packet).map_or(0, |e| kept_extension::block_len(e.len()));
        Ok(FIXED_HEADER_LEN + block + packet.len() - payload_offset(packet)?)
    }

    /// Leaves `packet` out of the output without a hole (a padding-only packet: the sender's
    /// bandwidth probe, RFC 3550 §5.1), the way mediasoup's sequence manager drops one: when it
    /// is the next input sequence number of the current input SSRC, the packets after it are
    /// numbered one lower. Anything else (another SSRC, out of order, after a gap) changes
    /// nothing: its number then stays a hole the receiver may NACK.
    pub fn skip(&mut self, packet: &[u8]) {
        if packet.len() < FIXED_HEADER_LEN {
            return;
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if self.input_ssrc == Some(ssrc) && seq.wrapping_add(self.seq_delta) == self.last_seq.wrapping_add(1) {
            self.seq_delta = self.seq_delta.wrapping_sub(1);
        }
    }

    /// Keeps only the packets of one operating point of a scalable input from now on (`None`:
    /// every packet), see [`forward_into`](Self::forward_into).
    pub fn set_svc(&mut self, filter: Option<SvcFilter>) {
        self.svc = filter;
    }

    /// Whether the last packet [`forward_into`](Self::forward_into) wrote starts a switching
    /// point into its operating point (`crate::svc`): a receiver of a lower operating point
    /// may move up to this one there, without a key frame. False without an SVC filter.
    pub fn switch_point(&self) -> bool {
        self.switch_point
    }

    /// [`rewrite_into`](Self::rewrite_into) through the SVC filter, if one is set: a packet of a
    /// layer the operating point leaves out is [skipped](Self::skip) (`Ok(None)`), a kept one
    /// rewritten with the marker bit set where it now ends a picture (`crate::svc`). Errors: as
    /// `rewrite_into`, and `MalformedPayload` for a VP9 descriptor or dependency descriptor
    /// that cannot be read (nothing written; the packet is skipped like a layer left out, so
    /// its number leaves no hole a receiver would ask for in vain).
    pub fn forward_into(&mut self, packet: &[u8], out: &mut [u8], now_ms: f64) -> Result<Option<usize>, RtpError> {
        self.switch_point = false;
        let Some(filter) = self.svc.as_mut() else { return self.rewrite_into(packet, out, now_ms).map(Some) };
        let verdict = match filter.admit(packet) {
            Ok(verdict) => verdict,
            Err(e) => {
                self.skip(packet);
                return Err(e);
            }
        };
        match verdict {
            SvcVerdict::Drop => {
                self.skip(packet);
                Ok(None)
            }
            SvcVerdict::Forward { marker, switch_point } => {
                let n = self.rewrite_into(packet, out, now_ms)?;
                if marker {
                    out[1] |= 0x80;
                }
                self.switch_point = switch_point;
                Ok(Some(n))
            }
        }
    }

    /// Rewrites `packet` into `out` and returns the bytes written. `now_ms`: wallclock in ms,
    /// for the timestamp jump across an input SSRC change. Errors (nothing written, no state
    /// changed): [`RtpError::PacketTooShort`], [`RtpError::UnsupportedVersion`],
    /// [`RtpError::BufferTooSmall`].
    pub fn rewrite_into(&mut self, packet: &[u8], out: &mut [u8], now_ms: f64) -> Result<usize, RtpError> {
        let at = payload_offset(packet)?;
        let kept = self.kept(packet);
        let block = kept.map_or(0, |e| kept_extension::block_len(e.len()));
        let n = FIXED_HEADER_LEN + block + packet.len() - at;
        if out.len() < n {
            return Err(RtpError::BufferTooSmall { needed: n, available: out.len() });
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if self.input_ssrc != Some(ssrc) {
            self.input_ssrc = Some(ssrc);
            self.seq_delta = self.last_seq.wrapping_add(1).wrapping_sub(seq);
            let elapsed = self.last_at_ms.map_or(0, |at| (((now_ms - at) * self.clock_rate as f64 / 1000.0).round() as i64).max(1) as u32);
            self.ts_delta = self.last_ts.wrapping_add(elapsed).wrapping_sub(ts);
        }
        self.last_seq = seq.wrapping_add(self.seq_delta);
        self.last_ts = ts.wrapping_add(self.ts_delta);
        self.last_at_ms = Some(now_ms);
        out[0] = 0x80 | (packet[0] & 0x20);
        out[1] = (packet[1] & 0x80) | self.payload_type;
        out[2..4].copy_from_slice(&self.last_seq.to_be_bytes());
        out[4..8].copy_from_slice(&self.last_ts.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        if let Some(element) = kept {
            out[0] |= 0x10;
            kept_extension::write_block(&mut out[FIXED_HEADER_LEN..], element);
        }
        out[FIXED_HEADER_LEN + block..n].copy_from_slice(&packet[at..]);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(n as u32);
        Ok(n)
    }
}
