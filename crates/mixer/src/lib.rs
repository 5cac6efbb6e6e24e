//! Sluice's MCU mixer, sans-IO: several hub streams in (FLV video and audio tag bodies with
//! their ms timestamps and arrival times), one composed stream out (H.264 + AAC-LC FLV tag
//! bodies), driven by [`Mixer::poll`] with the time. The binding runs one mixer per thread.
//!
//! - [`video::VideoMixer`]: each input's H.264 (OpenH264) or VP8 (libvpx, [`vp8`]) decoded as
//!   it arrives, the pictures
//!   due at each output tick scaled into the [`Layout`]'s cells (fast_image_resize, bilinear,
//!   aspect ratio kept) on an I420 canvas ([`Picture`]), the canvas encoded once (OpenH264,
//!   bitrate rate control, keyframes every `keyframe_interval_ms` and on request).
//! - [`audio::AudioMixer`]: each input's AAC (Symphonia, resampled to 48 kHz by rubato) or
//!   Opus (libopus) decoded to 48 kHz stereo, placed on the mixer clock, summed with per-input
//!   gain, peak-limited (no clipping, no clicks), encoded once as AAC-LC (FDK AAC); and, for
//!   inputs that ask, a mix-minus (everyone but that input) encoded as Opus for conferences.
//! - [`clock::InputClock`]: an input's timestamps onto the mixer clock from their arrival
//!   (audio and video of one input share it: lip sync is kept), held back by
//!   `latency_ms` to absorb jitter. An input that stalls keeps its last picture and goes
//!   silent; after `input_timeout_ms` it leaves the layout.
//!
//! Timestamps out: ms, either from the mixer's start or, with a timeline input, on that
//! input's own timeline (a mixed frame carries the timestamp of the input frame it shows), so
//! a stream can switch between that input passed through and the mix without a jump.
//!
//! Errors: [`MixError`], with stable codes. A malformed or unsupported input body is an error
//! for that body only; nothing here panics on input.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod audio;
pub mod clock;
mod error;
pub mod h264;
pub mod layout;
mod mixer;
pub mod picture;
pub mod video;
#[cfg(feature = "vp8")]
#[allow(unsafe_code)] // libvpx FFI, nowhere else
pub mod vp8;

pub use error::MixError;
pub use layout::{Layout, Rect};
pub use mixer::{MixConfig, MixFrame, MixKind, MixStats, Mixer};
pub use picture::{Picture, Yuv, BLACK};
