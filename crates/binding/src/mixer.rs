//! `NativeMixer`: one MCU mix ([`sluice_mixer::Mixer`]) on its own thread. JS pushes input
//! frames (FLV tag bodies) and commands; the thread decodes, composes and encodes at the
//! mix's frame rate and calls back with the mix's FLV tag bodies, never on the event loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::Buffer;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Error, Result, Status};
use napi_derive::napi;
use sluice_mixer::{Layout, MixConfig, MixFrame, MixKind, Mixer, Rect};

/// A rectangle of an explicit layout, px.
#[napi(object)]
pub struct MixRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The mix's settings (see `MixConfig` in `crates/mixer`).
#[napi(object)]
pub struct NativeMixerOptions {
    /// Output size, px (even).
    pub width: u32,
    pub height: u32,
    /// Output frames per second.
    pub frame_rate: f64,
    /// H.264 target, bits/s.
    pub video_bitrate: u32,
    /// AAC-LC target, bits/s.
    pub audio_bitrate: u32,
    /// Ms between keyframes.
    pub keyframe_interval_ms: u32,
    /// `grid`, `speaker`, `pip` or `rects`.
    pub layout: String,
    /// The rectangles of a `rects` layout, one per input in order.
    pub rects: Option<Vec<MixRect>>,
    /// Background as `#rrggbb` (BT.601).
    pub background: Option<String>,
    /// Ms every input is held back to absorb jitter.
    pub latency_ms: u32,
    /// Ms without video after which an input leaves the layout.
    pub input_timeout_ms: u32,
}

/// One FLV tag body of the mix.
#[napi(object)]
pub struct NativeMixFrame {
    /// `audio`, `video`, or `minus` (the mix without input `input`'s audio: one Opus packet,
    /// 20 ms, 48 kHz stereo; `timestamp` × 48 is its RTP timestamp).
    pub kind: String,
    /// For `minus`: the input it leaves out.
    pub input: Option<u32>,
    /// Ms on the output timeline.
    pub timestamp: f64,
    pub keyframe: bool,
    pub sequence_header: bool,
    pub payload: Buffer,
}

/// What the mix did so far.
#[napi(object)]
pub struct NativeMixerStats {
    /// Input access units decoded.
    pub decoded: f64,
    /// Input bodies refused (malformed, unsupported codec, decoder errors).
    pub input_errors: f64,
    /// Pictures composed and encoded.
    pub encoded: f64,
    /// Output ticks skipped because the thread fell behind.
    pub ticks_skipped: f64,
    /// Inputs in the layout now.
    pub visible_inputs: u32,
    /// Ms the mix thread spent working (decode, compose, encode, mix) since it started.
    pub busy_ms: f64,
    /// Ms since the mix started.
    pub elapsed_ms: f64,
    /// Frames dropped because the thread's queue was full.
    pub frames_dropped: f64,
    /// The last error, `CODE: message`.
    pub last_error: Option<String>,
    /// Mix latency of recent pictures: an input picture's arrival → the mixed picture that
    /// first shows it encoded, ms (up to 1024 samples).
    pub latency_ms: Vec<f64>,
    /// Each input's audio.
    pub audio_inputs: Vec<NativeMixerAudioInput>,
}

/// What one input's audio did (`sluice_mixer::audio::AudioInputStats`), in ms of audio.
#[napi(object)]
pub struct NativeMixerAudioInput {
    /// The input's id.
    pub input: u32,
    /// Frames decoded and placed on the mix clock.
    pub frames: f64,
    /// Audio summed into the mix, ms.
    pub mixed_ms: f64,
    /// Audio that came after its place in the mix had been mixed, ms.
    pub late_ms: f64,
    /// Audio dropped because more than 2 s were queued ahead of the mix, ms.
    pub overflow_ms: f64,
    /// Times the input's audio was placed anew (a jump backwards, a gap over 1 s).
    pub resets: f64,
}

type FramesFn =
    ThreadsafeFunction<Vec<NativeMixFrame>, (), Vec<NativeMixFrame>, Status, false, true>;

enum Command {
    Add {
        id: u32,
        gain: f32,
        timeline: bool,
    },
    Remove(u32),
    Gain {
        id: u32,
        gain: f32,
    },
    CaptureClock {
        id: u32,
        on: bool,
    },
    Minus {
        id: u32,
        on: bool,
        bitrate: u32,
    },
    Layout(Layout),
    Keyframe,
    Frame {
        id: u32,
        video: bool,
        data: Vec<u8>,
        timestamp: i64,
        at: Instant,
    },
    Shutdown,
}

/// Input frames queued for the thread, at most (about 3 s of four 30 fps inputs with audio).
const QUEUE: usize = 1024;
const LATENCY_SAMPLES: usize = 1024;

#[derive(Default)]
struct Counters {
    decoded: u64,
    input_errors: u64,
    encoded: u64,
    ticks_skipped: u64,
    visible: u32,
    busy: Duration,
    last_error: Option<String>,
    latency: Vec<f64>,
    next_latency: usize,
    audio_inputs: Vec<sluice_mixer::audio::AudioInputStats>,
}

/// One MCU mix on its own thread.
#[napi]
pub struct NativeMixer {
    commands: SyncSender<Command>,
    counters: Arc<Mutex<Counters>>,
    dropped: Arc<AtomicU64>,
    started: Instant,
    thread: Option<JoinHandle<()>>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(
        Status::InvalidArg,
        format!("MIX_INVALID_CONFIG: {}", message.into()),
    )
}

fn layout(name: &str, rects: Option<Vec<MixRect>>) -> Result<Layout> {
    Ok(match name {
        "grid" => Layout::Grid,
        "speaker" => Layout::Speaker,
        "pip" => Layout::PictureInPicture,
        "rects" => Layout::Rects(
            rects
                .ok_or_else(|| invalid("a rects layout needs rects"))?
                .into_iter()
                .map(|r| Rect {
                    x: r.x,
                    y: r.y,
                    width: r.width,
                    height: r.height,
                })
                .collect(),
        ),
        other => {
            return Err(invalid(format!(
                "layout {other:?} (grid, speaker, pip or rects)"
            )))
        }
    })
}

/// `#rrggbb` to BT.601 limited-range Y, Cb, Cr.
fn yuv(hex: &str) -> Result<[u8; 3]> {
    let h = hex.strip_prefix('#').unwrap_or(hex);
    let v = u32::from_str_radix(h, 16)
        .ok()
        .filter(|_| h.len() == 6)
        .ok_or_else(|| invalid(format!("background {hex:?} is not #rrggbb")))?;
    let (r, g, b) = (
        ((v >> 16) & 255) as f32,
        ((v >> 8) & 255) as f32,
        (v & 255) as f32,
    );
    let y = 16.0 + 0.257 * r + 0.504 * g + 0.098 * b;
    let cb = 128.0 - 0.148 * r - 0.291 * g + 0.439 * b;
    let cr = 128.0 + 0.439 * r - 0.368 * g - 0.071 * b;
    Ok([y.round() as u8, cb.round() as u8, cr.round() as u8])
}

fn ms(since: Instant, at: Instant) -> i64 {
    at.saturating_duration_since(since).as_millis() as i64
}

#[napi]
impl NativeMixer {
    /// Starts a mix thread. `onFrames` receives the mix's FLV tag bodies in timestamp order,
    /// a batch per tick. Throws `MIX_INVALID_CONFIG` for settings out of range (size, rate,
    /// bitrates, layout, background) and `MIX_AUDIO_FAILED` when the build has no AAC encoder.
    #[napi(
        constructor,
        ts_args_type = "options: NativeMixerOptions, onFrames: (frames: NativeMixFrame[]) => void"
    )]
    pub fn new(options: NativeMixerOptions, on_frames: FramesFn) -> Result<Self> {
        let config = MixConfig {
            width: options.width,
            height: options.height,
            frame_rate: options.frame_rate as f32,
            video_bitrate: options.video_bitrate,
            audio_bitrate: options.audio_bitrate,
            keyframe_interval_ms: options.keyframe_interval_ms,
            layout: layout(&options.layout, options.rects)?,
            background: options
                .background
                .as_deref()
                .map(yuv)
                .transpose()?
                .unwrap_or(sluice_mixer::BLACK),
            latency_ms: options.latency_ms,
            input_timeout_ms: options.input_timeout_ms,
        };
        let mixer = Mixer::new(config)
            .map_err(|e| Error::new(Status::InvalidArg, format!("{}: {e}", e.code())))?;
        let (commands, receiver) = sync_channel(QUEUE);
        let counters = Arc::new(Mutex::new(Counters::default()));
        let started = Instant::now();
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("sluice-mixer".into())
            .spawn(move || run(mixer, receiver, c, on_frames, started))
            .map_err(|e| Error::new(Status::GenericFailure, format!("MIX_THREAD_FAILED: {e}")))?;
        Ok(NativeMixer {
            commands,
            counters,
            dropped: Arc::new(AtomicU64::new(0)),
            started,
            thread: Some(thread),
        })
    }

    /// Adds input `id` after those there, with a linear audio `gain`; with `timeline` the
    /// output is stamped on this input's timeline (see `Mixer::add_input`).
    #[napi]
    pub fn add_input(&self, id: u32, gain: f64, timeline: bool) {
        let _ = self.commands.send(Command::Add {
            id,
            gain: gain as f32,
            timeline,
        });
    }

    /// Removes input `id`.
    #[napi]
    pub fn remove_input(&self, id: u32) {
        let _ = self.commands.send(Command::Remove(id));
    }

    /// Whether input `id` also gets a mix of everyone but itself, as Opus at `bitrate` bits/s
    /// (`minus` frames): what a conference participant hears.
    #[napi]
    pub fn set_minus(&self, id: u32, on: bool, bitrate: u32) {
        let _ = self.commands.send(Command::Minus { id, on, bitrate });
    }

    /// Sets input `id`'s linear audio gain (0 mutes).
    #[napi]
    pub fn set_gain(&self, id: u32, gain: f64) {
        let _ = self.commands.send(Command::Gain {
            id,
            gain: gain as f32,
        });
    }

    /// Whether input `id`'s timestamps (`push`) are from now on capture times, ms on its
    /// sender's wallclock (from RTCP sender reports): such inputs are placed on one shared
    /// clock, so different senders' pictures of one moment are shown together (see
    /// `Mixer::set_capture_clock`).
    #[napi]
    pub fn set_capture_clock(&self, id: u32, on: bool) {
        let _ = self.commands.send(Command::CaptureClock { id, on });
    }

    /// Changes the layout. Throws `MIX_INVALID_CONFIG` for an unknown name or a `rects`
    /// layout without rects.
    #[napi]
    pub fn set_layout(&self, name: String, rects: Option<Vec<MixRect>>) -> Result<()> {
        let _ = self.commands.send(Command::Layout(layout(&name, rects)?));
        Ok(())
    }

    /// The next mixed picture is a keyframe.
    #[napi]
    pub fn request_keyframe(&self) {
        let _ = self.commands.send(Command::Keyframe);
    }

    /// An FLV tag body of input `id` (`video` or audio) with its timestamp in ms (the input's
    /// dts). Copied and queued; dropped (counted) when the thread is more than 1024 frames
    /// behind.
    #[napi]
    pub fn push(&self, id: u32, video: bool, payload: &[u8], timestamp: f64) {
        let command = Command::Frame {
            id,
            video,
            data: payload.to_vec(),
            timestamp: timestamp as i64,
            at: Instant::now(),
        };
        if let Err(TrySendError::Full(_)) = self.commands.try_send(command) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counters and recent latencies.
    #[napi]
    pub fn stats(&self) -> NativeMixerStats {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        NativeMixerStats {
            decoded: c.decoded as f64,
            input_errors: c.input_errors as f64,
            encoded: c.encoded as f64,
            ticks_skipped: c.ticks_skipped as f64,
            visible_inputs: c.visible,
            busy_ms: c.busy.as_secs_f64() * 1000.0,
            elapsed_ms: self.started.elapsed().as_secs_f64() * 1000.0,
            frames_dropped: self.dropped.load(Ordering::Relaxed) as f64,
            last_error: c.last_error.clone(),
            latency_ms: c.latency.clone(),
            audio_inputs: c
                .audio_inputs
                .iter()
                .map(|a| NativeMixerAudioInput {
                    input: a.input,
                    frames: a.frames as f64,
                    mixed_ms: a.mixed as f64 / 48.0,
                    late_ms: a.late as f64 / 48.0,
                    overflow_ms: a.overflow as f64 / 48.0,
                    resets: a.resets as f64,
                })
                .collect(),
        }
    }

    /// Forgets the latency samples so far.
    #[napi]
    pub fn reset_latency(&self) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        c.latency.clear();
        c.next_latency = 0;
    }

    /// Stops the thread (idempotent); no callback follows.
    #[napi]
    pub fn close(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.commands.send(Command::Shutdown);
            let _ = t.join();
        }
    }
}

impl Drop for NativeMixer {
    fn drop(&mut self) {
        self.close();
    }
}

fn run(
    mut mixer: Mixer,
    commands: std::sync::mpsc::Receiver<Command>,
    counters: Arc<Mutex<Counters>>,
    on_frames: FramesFn,
    started: Instant,
) {
    let mut out: Vec<MixFrame> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut busy = Duration::ZERO;
    let mut latencies: Vec<f64> = Vec::new();
    loop {
        let now = ms(started, Instant::now());
        let wait = Duration::from_millis(mixer.next_due_ms(now).clamp(0, 100) as u64);
        let command = match commands.recv_timeout(wait) {
            Ok(c) => Some(c),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Command::Shutdown),
        };
        let work = Instant::now();
        let idle = command.is_none();
        match command {
            Some(Command::Shutdown) => return,
            Some(Command::Add { id, gain, timeline }) => {
                if let Err(e) = mixer.add_input(id, gain, timeline) {
                    errors.push(format!("{}: {e}", e.code()));
                }
            }
            Some(Command::Remove(id)) => mixer.remove_input(id),
            Some(Command::Gain { id, gain }) => mixer.set_gain(id, gain),
            Some(Command::CaptureClock { id, on }) => mixer.set_capture_clock(id, on),
            Some(Command::Minus { id, on, bitrate }) => {
                if let Err(e) = mixer.set_minus(id, on, bitrate) {
                    errors.push(format!("{}: {e}", e.code()));
                }
            }
            Some(Command::Layout(l)) => mixer.set_layout(l),
            Some(Command::Keyframe) => mixer.request_keyframe(),
            Some(Command::Frame {
                id,
                video,
                data,
                timestamp,
                at,
            }) => {
                let arrived = ms(started, at);
                let r = if video {
                    mixer.push_video(id, &data, timestamp, arrived)
                } else {
                    mixer.push_audio(id, &data, timestamp, arrived)
                };
                if let Err(e) = r {
                    errors.push(format!("{}: {e}", e.code()));
                }
            }
            None => {}
        }
        let now = ms(started, Instant::now());
        if let Err(e) = mixer.poll(now, &mut out) {
            errors.push(format!("{}: {e}", e.code()));
        }
        let done = Instant::now();
        busy += done - work;
        if !out.is_empty() {
            let end = ms(started, done);
            latencies.extend(
                out.iter()
                    .filter_map(|f| f.source_arrival_ms)
                    .map(|a| (end - a) as f64),
            );
            let frames = out
                .drain(..)
                .map(|f| NativeMixFrame {
                    kind: match f.kind {
                        MixKind::Video => "video",
                        MixKind::Audio => "audio",
                        MixKind::Minus(_) => "minus",
                    }
                    .into(),
                    input: match f.kind {
                        MixKind::Minus(id) => Some(id),
                        _ => None,
                    },
                    timestamp: f.timestamp_ms as f64,
                    keyframe: f.keyframe,
                    sequence_header: f.sequence_header,
                    payload: f.body.into(),
                })
                .collect();
            on_frames.call(frames, ThreadsafeFunctionCallMode::NonBlocking);
        }
        if !errors.is_empty() || !latencies.is_empty() || idle {
            let stats = mixer.stats();
            let mut c = counters.lock().unwrap_or_else(|p| p.into_inner());
            c.decoded = stats.video.decoded;
            c.encoded = stats.video.encoded;
            c.input_errors = stats.video.errors + stats.audio_errors;
            c.ticks_skipped = stats.ticks_skipped;
            c.visible = mixer.visible_inputs(now) as u32;
            c.audio_inputs = mixer.audio_input_stats();
            c.busy = busy;
            if let Some(e) = errors.pop() {
                c.last_error = Some(e);
            }
            errors.clear();
            for l in latencies.drain(..) {
                if c.latency.len() < LATENCY_SAMPLES {
                    c.latency.push(l);
                } else {
                    let k = c.next_latency % LATENCY_SAMPLES;
                    c.latency[k] = l;
                }
                c.next_latency = (c.next_latency + 1) % LATENCY_SAMPLES;
            }
        }
    }
}
