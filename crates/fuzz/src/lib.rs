//! Fuzz harnesses, one per parser of untrusted input (DESIGN.md: "fuzz every parser, crash
//! reproducers become regression tests"). Each `fuzz_targets/<name>.rs` calls the function of
//! the same name re-exported here.
//!
//! The harnesses are plain Rust with no libFuzzer dependency, one file per protocol crate, so
//! that crate's `tests/regressions.rs` includes that file with `#[path]` and replays crash
//! inputs through exactly the same code under plain `cargo test`:
//!
//! | file       | crates                    | replayed by                          |
//! |------------|---------------------------|--------------------------------------|
//! | `rtmp.rs`  | sluice-rtmp, sluice-amf0  | `crates/rtmp/tests/regressions.rs`   |
//! | `rtp.rs`   | sluice-rtp                | `crates/rtp/tests/regressions.rs`    |
//! | `srtp.rs`  | sluice-srtp               | `crates/srtp/tests/regressions.rs`   |
//! | `ice.rs`   | sluice-ice                | `crates/ice/tests/regressions.rs`    |
//! | `audio.rs` | sluice-audio              | `crates/audio/tests/regressions.rs`  |
//! | `mpegts.rs`| sluice-mpegts             | `crates/mpegts/tests/regressions.rs` |
//! | `webrtc.rs`| sluice-webrtc             | `crates/webrtc/tests/regressions.rs` |
//! | `mixer.rs` | sluice-mixer              | `crates/mixer/tests/regressions.rs`  |
//! | `mp4.rs`   | sluice-mp4                | `crates/mp4/tests/regressions.rs`    |
//!
//! Each file names crates only by absolute paths (never `crate::`) and only crates its own
//! protocol crate can see, so it compiles in both places.
#![forbid(unsafe_code)]

mod audio;
mod ice;
mod mixer;
mod mp4;
mod mpegts;
mod rtmp;
mod rtp;
mod srtp;
mod webrtc;

pub use audio::*;
pub use ice::*;
pub use mixer::*;
pub use mp4::*;
pub use mpegts::*;
pub use rtmp::*;
pub use rtp::*;
pub use srtp::*;
pub use webrtc::*;
