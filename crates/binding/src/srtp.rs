//! SRTP/SRTCP sessions (RFC 3711, RFC 7714; `crates/srtp`) for the legs Sluice protects itself:
//! relay links, forwarders, SDES ingest. One `SrtpSession` per direction. The batch methods
//! work in place on caller-owned memory, one N-API crossing per batch and no allocation.

use napi::bindgen_prelude::{
    Buffer, BufferSlice, Error, Int32ArraySlice, Result, Status, Uint32ArraySlice,
};
use napi_derive::napi;
use sluice_srtp::{sdes, Profile, SrtpContext, SrtpError, SrtpOptions};

fn srtp_error(e: SrtpError) -> Error {
    Error::new(Status::InvalidArg, format!("{}: {e}", e.code()))
}

fn invalid(message: String) -> Error {
    Error::new(
        Status::InvalidArg,
        format!("SRTP_INVALID_ARGUMENT: {message}"),
    )
}

fn profile(name: &str) -> Result<Profile> {
    Profile::from_name(name).map_err(|_| {
        invalid(format!(
            "unknown profile {name:?} (AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, \
             AEAD_AES_128_GCM, AEAD_AES_256_GCM)"
        ))
    })
}

/// Options of `new SrtpSession(...)`.
#[napi(object)]
pub struct SrtpSessionOptions {
    /// Protection profile (RFC 4568 / RFC 7714 names; the DTLS-SRTP names
    /// `SRTP_AES128_CM_HMAC_SHA1_80`, `SRTP_AEAD_AES_128_GCM`, ... are accepted too).
    #[napi(
        ts_type = "'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32' | 'AEAD_AES_128_GCM' | 'AEAD_AES_256_GCM'"
    )]
    pub profile: String,
    /// Master key || master salt, as in an SDES `inline:` key (RFC 4568) or the DTLS-SRTP
    /// exporter: 30 bytes (AES_CM_128_*: 16 + 14), 28 (AEAD_AES_128_GCM: 16 + 12) or 44
    /// (AEAD_AES_256_GCM: 32 + 12).
    pub key: Buffer,
    /// Replay window in packets, 1–32768, default 64 (RFC 3711 §3.3.2).
    pub replay_window: Option<u32>,
    /// Most SSRCs tracked, 1–65536, default 256; packets of further SSRCs fail with
    /// `SRTP_TOO_MANY_SSRCS` (status -8).
    pub max_ssrcs: Option<u32>,
}

/// One direction of SRTP + SRTCP with one master key: per-SSRC rollover counters, SRTCP
/// indices and replay windows are kept inside. Output is bit-exact with libsrtp 2.
///
/// Byte layouts: SRTP = `RTP header (12 + 4×CC + extension) | encrypted payload | tag`
/// (tag 10 / 4 / 16 bytes for _80 / _32 / GCM). SRTCP = `header+SSRC (8) | encrypted rest |
/// E+index (4) | tag (10)` for AES-CM, `header+SSRC (8) | encrypted rest | tag (16) |
/// E+index (4)` for GCM.
///
/// Errors thrown (single-packet methods) or returned as per-packet status (batch methods):
/// -1 `SRTP_AUTH_FAILED`, -2 `SRTP_REPLAY_DUPLICATE`, -3 `SRTP_REPLAY_OLD`,
/// -4 `SRTP_TOO_SHORT`, -5 `SRTP_MALFORMED`, -6 `SRTP_TOO_LONG` (over 65535 bytes),
/// -7 `SRTP_BUFFER_TOO_SMALL`, -8 `SRTP_TOO_MANY_SSRCS`, -9 `SRTP_INDEX_EXHAUSTED`.
#[napi]
pub struct SrtpSession {
    inner: SrtpContext,
}

/// Validates a batch layout: `count` packets, packet i at `offsets[i]`, `lengths[i]` bytes,
/// its slot ending at `offsets[i + 1]` (or the end of `buf` for the last).
fn check_layout(buf_len: usize, offsets: &[u32], lengths: &[u32], count: usize) -> Result<()> {
    if count > offsets.len() || count > lengths.len() {
        return Err(invalid(format!(
            "count {count} exceeds offsets ({}) or lengths ({})",
            offsets.len(),
            lengths.len()
        )));
    }
    for i in 0..count {
        let start = offsets[i] as usize;
        let end = if i + 1 < count {
            offsets[i + 1] as usize
        } else {
            buf_len
        };
        if start > end || end > buf_len {
            return Err(invalid(format!(
                "offsets must be non-decreasing and within the buffer (packet {i}: {start}..{end} of {buf_len})"
            )));
        }
        if lengths[i] as usize > end - start {
            return Err(invalid(format!(
                "packet {i}: length {} exceeds its slot of {} bytes",
                lengths[i],
                end - start
            )));
        }
    }
    Ok(())
}

/// The four batch operations.
#[derive(Clone, Copy)]
enum Op {
    ProtectRtp,
    UnprotectRtp,
    ProtectRtcp,
    UnprotectRtcp,
}

/// Runs `op` over each packet of a batch; see `protectRtpBatch` for the layout. Protecting
/// grows each packet into the rest of its slot; unprotecting works on exactly its bytes.
fn batch(
    ctx: &mut SrtpContext,
    op: Op,
    buf: &mut [u8],
    offsets: &[u32],
    lengths: &mut [u32],
    count: Option<u32>,
    mut status: Option<&mut [i32]>,
) -> Result<u32> {
    let count = count.map_or(lengths.len(), |c| c as usize);
    check_layout(buf.len(), offsets, lengths, count)?;
    if let Some(s) = status.as_deref() {
        if s.len() < count {
            return Err(invalid(format!(
                "status has {} entries for {count} packets",
                s.len()
            )));
        }
    }
    let mut ok = 0u32;
    for i in 0..count {
        let start = offsets[i] as usize;
        let len = lengths[i] as usize;
        let slot_end = if i + 1 < count {
            offsets[i + 1] as usize
        } else {
            buf.len()
        };
        let r = match op {
            Op::ProtectRtp => ctx.protect_rtp(&mut buf[start..slot_end], len),
            Op::ProtectRtcp => ctx.protect_rtcp(&mut buf[start..slot_end], len),
            Op::UnprotectRtp => ctx.unprotect_rtp(&mut buf[start..start + len]),
            Op::UnprotectRtcp => ctx.unprotect_rtcp(&mut buf[start..start + len]),
        };
        let code = match r {
            Ok(n) => {
                lengths[i] = n as u32;
                ok += 1;
                0
            }
            Err(e) => e.status(),
        };
        if let Some(s) = status.as_deref_mut() {
            s[i] = code;
        }
    }
    Ok(ok)
}

#[napi]
impl SrtpSession {
    /// Derives the session keys (RFC 3711 §4.3, key derivation rate 0; RFC 7714 §11). Throws
    /// `SRTP_INVALID_ARGUMENT` (unknown profile), `SRTP_INVALID_KEY_LENGTH`,
    /// `SRTP_INVALID_OPTION`.
    #[napi(constructor)]
    pub fn new(options: SrtpSessionOptions) -> Result<Self> {
        let profile = profile(&options.profile)?;
        let mut o = SrtpOptions::default();
        if let Some(w) = options.replay_window {
            o.replay_window = w;
        }
        if let Some(m) = options.max_ssrcs {
            o.max_ssrcs = m as usize;
        }
        let inner = SrtpContext::from_key_material(profile, &options.key, o).map_err(srtp_error)?;
        Ok(SrtpSession { inner })
    }

    /// The profile name.
    #[napi(getter)]
    pub fn profile(&self) -> &'static str {
        self.inner.profile().name()
    }

    /// Bytes `protectRtp` appends: the tag (10, 4 or 16).
    #[napi(getter)]
    pub fn rtp_overhead(&self) -> u32 {
        self.inner.profile().rtp_overhead() as u32
    }

    /// Bytes `protectRtcp` appends: SRTCP index and tag (14 or 20).
    #[napi(getter)]
    pub fn rtcp_overhead(&self) -> u32 {
        self.inner.profile().rtcp_overhead() as u32
    }

    /// Number of SSRCs with state.
    #[napi(getter)]
    pub fn ssrc_count(&self) -> u32 {
        self.inner.ssrc_count() as u32
    }

    /// Forgets an SSRC's rollover counter, SRTCP index and replay windows; true if it was known.
    #[napi]
    pub fn remove_ssrc(&mut self, ssrc: u32) -> bool {
        self.inner.remove_ssrc(ssrc)
    }

    /// Rollover counter of the highest SRTP index seen for `ssrc` (RFC 3711 §3.3.1), or null.
    #[napi]
    pub fn rollover_counter(&self, ssrc: u32) -> Option<u32> {
        self.inner.rollover_counter(ssrc)
    }

    /// Protects one RTP packet (RFC 3711 §3.3 / RFC 7714 §8) into a new Buffer, `rtpOverhead`
    /// bytes longer. Convenience form: allocating a Buffer costs microseconds; use
    /// `protectRtpBatch` on the hot path. Throws `SRTP_*` (see the class).
    #[napi]
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Buffer> {
        let mut v = Vec::with_capacity(packet.len() + self.inner.profile().rtp_overhead());
        v.extend_from_slice(packet);
        self.inner.protect_rtp_vec(&mut v).map_err(srtp_error)?;
        Ok(v.into())
    }

    /// Unprotects one SRTP packet into a new Buffer (the RTP packet). Throws `SRTP_*`,
    /// e.g. `SRTP_AUTH_FAILED`, `SRTP_REPLAY_DUPLICATE`.
    #[napi]
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Buffer> {
        let mut v = packet.to_vec();
        self.inner.unprotect_rtp_vec(&mut v).map_err(srtp_error)?;
        Ok(v.into())
    }

    /// Protects one RTCP compound packet (RFC 3711 §3.4 / RFC 7714 §9) into a new Buffer,
    /// `rtcpOverhead` bytes longer (E flag set, 31-bit SRTCP index from 1 per SSRC).
    #[napi]
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Buffer> {
        let mut v = Vec::with_capacity(packet.len() + self.inner.profile().rtcp_overhead());
        v.extend_from_slice(packet);
        self.inner.protect_rtcp_vec(&mut v).map_err(srtp_error)?;
        Ok(v.into())
    }

    /// Unprotects one SRTCP packet into a new Buffer (the RTCP compound packet).
    #[napi]
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Buffer> {
        let mut v = packet.to_vec();
        self.inner.unprotect_rtcp_vec(&mut v).map_err(srtp_error)?;
        Ok(v.into())
    }

    /// Protects `count` RTP packets in place in `buf` (default `count`: `lengths.length`).
    /// Packet i is `buf[offsets[i], offsets[i] + lengths[i])`; its slot runs to `offsets[i+1]`
    /// (the last one's to the end of `buf`), and must have room for `rtpOverhead` more bytes
    /// (fixed stride: `offsets[i] = i * stride`, stride ≥ largest packet + 16). On return
    /// `lengths[i]` holds the SRTP length and `status[i]` (if given) 0 or a negative code
    /// (see the class); a failed packet is left as it was and only it is dropped. Returns the
    /// number protected. Throws `SRTP_INVALID_ARGUMENT` only for a bad layout (nothing done).
    /// The arrays must not share memory with `buf`.
    #[napi]
    pub fn protect_rtp_batch(
        &mut self,
        mut buf: BufferSlice,
        offsets: Uint32ArraySlice,
        mut lengths: Uint32ArraySlice,
        count: Option<u32>,
        mut status: Option<Int32ArraySlice>,
    ) -> Result<u32> {
        // SAFETY: the call is synchronous on the JS thread, so nothing else touches the
        // arrays' memory while these slices live; the docs require they do not overlap `buf`.
        let (lengths, status) = unsafe { (lengths.as_mut(), status.as_mut().map(|s| s.as_mut())) };
        batch(
            &mut self.inner,
            Op::ProtectRtp,
            &mut buf,
            &offsets,
            lengths,
            count,
            status,
        )
    }

    /// Unprotects `count` SRTP packets in place, laid out as for `protectRtpBatch`; on return
    /// `lengths[i]` is the RTP length and `status[i]` 0, or e.g. -1 (auth failed), -2/-3
    /// (replay): drop those packets. Returns the number accepted.
    #[napi]
    pub fn unprotect_rtp_batch(
        &mut self,
        mut buf: BufferSlice,
        offsets: Uint32ArraySlice,
        mut lengths: Uint32ArraySlice,
        count: Option<u32>,
        mut status: Option<Int32ArraySlice>,
    ) -> Result<u32> {
        // SAFETY: the call is synchronous on the JS thread, so nothing else touches the
        // arrays' memory while these slices live; the docs require they do not overlap `buf`.
        let (lengths, status) = unsafe { (lengths.as_mut(), status.as_mut().map(|s| s.as_mut())) };
        batch(
            &mut self.inner,
            Op::UnprotectRtp,
            &mut buf,
            &offsets,
            lengths,
            count,
            status,
        )
    }

    /// `protectRtpBatch` for RTCP compound packets; each slot needs `rtcpOverhead` spare bytes.
    #[napi]
    pub fn protect_rtcp_batch(
        &mut self,
        mut buf: BufferSlice,
        offsets: Uint32ArraySlice,
        mut lengths: Uint32ArraySlice,
        count: Option<u32>,
        mut status: Option<Int32ArraySlice>,
    ) -> Result<u32> {
        // SAFETY: the call is synchronous on the JS thread, so nothing else touches the
        // arrays' memory while these slices live; the docs require they do not overlap `buf`.
        let (lengths, status) = unsafe { (lengths.as_mut(), status.as_mut().map(|s| s.as_mut())) };
        batch(
            &mut self.inner,
            Op::ProtectRtcp,
            &mut buf,
            &offsets,
            lengths,
            count,
            status,
        )
    }

    /// `unprotectRtpBatch` for SRTCP packets.
    #[napi]
    pub fn unprotect_rtcp_batch(
        &mut self,
        mut buf: BufferSlice,
        offsets: Uint32ArraySlice,
        mut lengths: Uint32ArraySlice,
        count: Option<u32>,
        mut status: Option<Int32ArraySlice>,
    ) -> Result<u32> {
        // SAFETY: the call is synchronous on the JS thread, so nothing else touches the
        // arrays' memory while these slices live; the docs require they do not overlap `buf`.
        let (lengths, status) = unsafe { (lengths.as_mut(), status.as_mut().map(|s| s.as_mut())) };
        batch(
            &mut self.inner,
            Op::UnprotectRtcp,
            &mut buf,
            &offsets,
            lengths,
            count,
            status,
        )
    }
}

/// A parsed SDES key parameter (RFC 4568 §6.1).
#[napi(object)]
pub struct SdesInlineKey {
    /// Master key || master salt, ready for `new SrtpSession({ key })`.
    pub key: Buffer,
    /// Master key lifetime in packets, when given (`2^31` or decimal).
    pub lifetime: Option<f64>,
    /// MKI value, when given. SrtpSession neither sends nor expects MKIs: negotiate without.
    pub mki_value: Option<f64>,
    /// MKI length in bytes (1–128), when given.
    pub mki_length: Option<u32>,
}

/// Parses an SDES key parameter `inline:<base64 key||salt>[|lifetime][|MKI:length]`
/// (RFC 4568 §6.1; the part after the profile in `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:…`)
/// for `profile`, checking the key length. Throws `SRTP_MALFORMED`, `SRTP_INVALID_KEY_LENGTH`.
#[napi]
pub fn parse_sdes_inline(key_params: String, profile_name: String) -> Result<SdesInlineKey> {
    let p = profile(&profile_name)?;
    let k = sdes::parse_inline(&key_params, p).map_err(srtp_error)?;
    Ok(SdesInlineKey {
        key: k.key_and_salt.into(),
        lifetime: k.lifetime.map(|l| l as f64),
        mki_value: k.mki.map(|m| m.0 as f64),
        mki_length: k.mki.map(|m| u32::from(m.1)),
    })
}

/// Formats `inline:<base64 key||salt>` for an SDES `a=crypto` line (RFC 4568 §6.1).
#[napi]
pub fn format_sdes_inline(key: &[u8]) -> String {
    sdes::format_inline(key)
}
