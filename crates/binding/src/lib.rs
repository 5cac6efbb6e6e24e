//! The only crate that knows Node: N-API bindings over the protocol crates.
//! Only `ts/` imports the generated `binding.js`.
#![deny(clippy::all)]

mod amf;
mod audio;
mod bwe;
mod depacketize;
mod egress;
mod flv;
mod forward;
mod mixer;
mod mp4;
mod mpegts;
mod raw_method;
mod rtmp;
mod rtcp;
mod rtp;
mod send_batch;
mod srt;
mod srtp;
mod svc;
mod udp_port;
mod webrtc;

/// The wallclock as Unix ms (sender reports carry it as their NTP time).
pub(crate) fn unix_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
