//! Sluice's audio transcoding, sans-IO, both ways between RTMP and WebRTC: AAC from RTMP
//! publishers to Opus for WebRTC viewers (browsers play Opus over WebRTC, never AAC), and Opus
//! from WebRTC (WHIP) publishers to AAC-LC for RTMP/FLV players.
//!
//! - [`asc`]: the AudioSpecificConfig of an AAC sequence header (ISO/IEC 14496-3 §1.6.2.1).
//! - [`AacToOpus`]: one stream's transcoder: raw AAC frames with ms timestamps in, 20 ms Opus
//!   packets with 48 kHz timestamps out.
//! - [`OpusToAac`]: the other way: Opus packets with their 48 kHz RTP timestamps in (lost
//!   packets concealed, DTX gaps filled), raw AAC-LC access units at 48 kHz with timestamps
//!   out, plus the AudioSpecificConfig for the FLV sequence header.
//!
//! The codecs are well-kept libraries, not ours: AAC-LC decoding is Symphonia's pure-Rust
//! decoder (`symphonia-codec-aac`), Opus encoding and decoding is libopus 1.6 built from source
//! and linked statically by `opusic-sys` (reached through the safe `opus` crate), resampling to
//! 48 kHz is rubato's synchronous FFT resampler, and AAC-LC encoding is Fraunhofer's FDK AAC,
//! built from the source bundled in `fdk-aac-sys` and reached through the safe `fdk-aac` crate
//! (the library is under the FDK AAC license, not MIT: redistributions of a binary keep its
//! notice). Nothing here touches a socket or a clock.
//!
//! # Channels
//! Mono AAC becomes mono Opus and stereo AAC stereo Opus; nothing is up- or down-mixed (a mono
//! Opus stream plays on both speakers in browsers). HE-AAC v2's parametric stereo is not
//! decoded, so it comes out as its mono core. Channel configurations 3–7 (3.0 … 7.1) and 0
//! (program config element) are refused by [`AacToOpus::new`]: Symphonia's AAC decoder stops
//! at two channels, and FLV's audio header can only say mono or stereo.
//!
//! [`OpusToAac`] outputs the channel count it is given (1 or 2, default 2): libopus' decoder
//! mixes a stereo packet down or plays a mono one on both channels (WebRTC senders signal
//! `opus/48000/2` whatever they carry).
//!
//! # Latency
//! [`AacToOpus::delay_samples`] reports the algorithmic delay in 48 kHz samples: the
//! resampler's half FFT block (0 at 48 kHz, 160 = 3.3 ms at 44.1 kHz, 320 = 6.7 ms at
//! 22.05 kHz, 768 = 16 ms at 8 kHz) plus libopus' 312-sample (6.5 ms) lookahead. On top comes
//! framing: up to one Opus frame (20 ms) waiting to fill, and with resampling up to one FFT
//! block of input held in the resampler (≤ 6.7 ms at 44.1 kHz). The delay is trimmed from the
//! start of the output, so timestamps stay exact. Each AAC frame and silence fill is handled in
//! the call that brings it: no threads, no timers.
//!
//! [`OpusToAac::delay_samples`] is FDK AAC's encoder delay, 2 048 samples (42.7 ms), trimmed the
//! same way; framing adds up to one AAC frame (1 024 samples, 21.3 ms) waiting to fill.
//!
//! # Errors
//! One [`AudioError`] enum. A malformed AAC frame or Opus packet is an error for that frame
//! only: the caller drops it and pushes the next; the gap it leaves is filled (with silence for
//! AAC, by libopus' concealment for Opus) when the next frame's timestamp shows it. No input makes these functions panic: lengths and timestamps are
//! checked before they reach the codecs, and the decoder reports malformed frames as errors.
//!
//! ```no_run
//! use sluice_audio::{AacToOpus, OpusPacket};
//! # fn send_rtp(_: &[u8], _: u32) {}
//! # let (sequence_header_body, raw_bodies): (Vec<u8>, Vec<(Vec<u8>, i64)>) = (vec![], vec![]);
//! // FLV AAC sequence header body minus its 2-byte header: the AudioSpecificConfig.
//! let asc = sequence_header_body.get(2..).unwrap_or_default();
//! let mut transcoder = AacToOpus::new(asc, 96_000)?;
//! let mut packets: Vec<OpusPacket> = Vec::new();
//! for (body, timestamp_ms) in &raw_bodies {
//!     let frame = body.get(2..).unwrap_or_default(); // an empty frame is an error, not a panic
//!     if let Err(e) = transcoder.push(frame, *timestamp_ms, &mut packets) {
//!         eprintln!("dropping an AAC frame: {} {e}", e.code());
//!         continue;
//!     }
//!     for p in packets.drain(..) {
//!         send_rtp(&p.data, p.timestamp as u32); // RTP timestamps wrap at 2^32
//!     }
//! }
//! # Ok::<(), sluice_audio::AudioError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod aac_decoder;
mod aac_encoder;
pub mod asc;
mod error;
mod opus_to_aac;
mod transcoder;

pub use aac_decoder::AacDecoder;
pub use aac_encoder::{AacEncoded, AacEncoder, AacEncoderInfo, AAC_ENCODER_AVAILABLE};
pub use error::AudioError;
pub use opus_to_aac::{
    AacFrame, OpusToAac, OpusToAacStats, AAC_SAMPLE_RATE, DEFAULT_AAC_BITRATE, MAX_AAC_BITRATE,
    MAX_CONCEAL_SAMPLES, MAX_OPUS_PACKET_BYTES, MIN_AAC_BITRATE,
};
pub use transcoder::{
    AacToOpus, OpusPacket, AAC_FRAME_SAMPLES, DEFAULT_BITRATE_MONO, DEFAULT_BITRATE_STEREO,
    FRAME_SAMPLES, MAX_BITRATE, MAX_FRAME_BYTES, MAX_GAP_FILL_MS, MAX_PTS_MS, MIN_BITRATE,
    OUTPUT_SAMPLE_RATE,
};
