//! `Fmp4Muxer`: hub frames (FLV tag bodies, ms decode times) into fragmented MP4 — the init
//! segment (`ftyp` + `moov`) and `moof` + `mdat` fragments cut where JS says (recordings: one
//! per GOP; LL-HLS: one per part). The boxes and timing are `sluice-mp4`'s; see its docs.

use napi::bindgen_prelude::{Buffer, Error, Result, Status};
use napi_derive::napi;
use sluice_mp4::{Fmp4Muxer as Muxer, Fragment, Mp4Error, Pushed, Track, TrackKind};

/// A fragment to append after the init segment.
#[napi(object)]
pub struct Fmp4Fragment {
    /// `moof` + `mdat`.
    pub data: Buffer,
    /// Earliest decode time in it, ms on the stream's timeline.
    pub start_ms: f64,
    /// End of its last sample, ms on the stream's timeline.
    pub end_ms: f64,
    /// Begins with a video keyframe (or has no video): playback can start here.
    pub independent: bool,
    /// Samples in it.
    pub samples: u32,
}

/// A track's configuration.
#[napi(object)]
pub struct Fmp4Track {
    /// RFC 6381 codec string (`avc1.64001f`, `hvc1.1.6.L93.B0`, `mp4a.40.2`, `opus`).
    pub codec: String,
    /// Ticks per second (90 000 video; the sample rate audio).
    pub timescale: u32,
    /// Pixels (video; 0 for audio).
    pub width: u32,
    pub height: u32,
}

fn error(e: Mp4Error) -> Error {
    Error::new(Status::InvalidArg, format!("{}: {e}", e.code()))
}

fn fragment(f: Option<Fragment>) -> Option<Fmp4Fragment> {
    f.map(|f| Fmp4Fragment {
        data: f.bytes.into(),
        start_ms: f.start_ms,
        end_ms: f.end_ms,
        independent: f.independent,
        samples: f.samples,
    })
}

fn track(t: Option<&Track>) -> Option<Fmp4Track> {
    t.map(|t| Fmp4Track {
        codec: t.codec_string.clone(),
        timescale: t.timescale,
        width: u32::from(t.width),
        height: u32::from(t.height),
    })
}

/// A track of the file (`Fmp4Muxer.tracks`).
#[napi(object)]
pub struct Fmp4MuxedTrack {
    /// `video` or `audio`.
    #[napi(ts_type = "'video' | 'audio'")]
    pub kind: String,
    /// Enhanced RTMP v2 track id (0: the default track, and every plain message).
    pub flv_track: u32,
    /// MP4 track id (1 the default video, 2 the default audio, others from 3).
    pub id: u32,
    pub codec: String,
    pub timescale: u32,
    pub width: u32,
    pub height: u32,
}

/// Fragmented MP4 of one stream (one per recording file, one per HLS rendition).
#[napi]
pub struct Fmp4Muxer {
    inner: Muxer,
}

#[napi]
impl Fmp4Muxer {
    /// Every track of the stream (Enhanced RTMP v2 multitrack ones too), or with `videoTrack`
    /// only that video track (as MP4 track 1) and the default audio track: one HLS rendition
    /// of a multitrack ladder. Throws `MP4_INVALID_ARGUMENT` for a track id above 255.
    #[napi(constructor)]
    pub fn new(video_track: Option<u32>) -> Result<Self> {
        let inner = match video_track {
            None => Muxer::new(),
            Some(t) => Muxer::with_video_track(u8::try_from(t).map_err(|_| {
                Error::new(Status::InvalidArg, format!("MP4_INVALID_ARGUMENT: video track {t} is not 0–255"))
            })?),
        };
        Ok(Fmp4Muxer { inner })
    }

    /// The configured tracks, by MP4 track id.
    #[napi(getter)]
    pub fn tracks(&self) -> Vec<Fmp4MuxedTrack> {
        self.inner
            .tracks()
            .map(|t| Fmp4MuxedTrack {
                kind: match t.kind {
                    TrackKind::Video => "video".into(),
                    TrackKind::Audio => "audio".into(),
                },
                flv_track: u32::from(t.flv_track),
                id: t.id,
                codec: t.track.codec_string.clone(),
                timescale: t.track.timescale,
                width: u32::from(t.track.width),
                height: u32::from(t.track.height),
            })
            .collect()
    }

    /// A hub frame: `kind` `video` or `audio`, its FLV tag body and decode time (ms). Returns
    /// `sample` (queued), `keyframe` (queued, a keyframe of the main video track — MP4 track 1 —
    /// among it: a place to cut that players start from), `config` (a track's first sequence header), `config-changed` (a
    /// different configuration of a track the init segment already described: start a new
    /// file) or `ignored`. Throws `MP4_MALFORMED_TAG`, `MP4_UNSUPPORTED_CODEC` (e.g. MP3, VP6)
    /// or `MP4_NO_SEQUENCE_HEADER` (a frame before its track's sequence header); the muxer is
    /// unchanged then.
    #[napi(
        ts_args_type = "kind: 'video' | 'audio', body: Uint8Array, dtsMs: number",
        ts_return_type = "'sample' | 'keyframe' | 'config' | 'config-changed' | 'ignored'"
    )]
    pub fn push(&mut self, kind: String, body: &[u8], dts_ms: f64) -> Result<&'static str> {
        let pushed = match kind.as_str() {
            "video" => self.inner.push_video(body, dts_ms),
            "audio" => self.inner.push_audio(body, dts_ms),
            other => {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("MP4_INVALID_ARGUMENT: kind {other:?} is not video or audio"),
                ))
            }
        }
        .map_err(error)?;
        Ok(match pushed {
            Pushed::Sample => "sample",
            Pushed::Keyframe => "keyframe",
            Pushed::Config { changed: false } => "config",
            Pushed::Config { changed: true } => "config-changed",
            Pushed::Ignored => "ignored",
        })
    }

    /// Configures a track from a hub frame without queuing it: a sequence header, or the
    /// first frame of a codec that describes itself (Enhanced RTMP `ac-3`/`ec-3`, whose frames
    /// are what `Stream.audioConfig` holds). Returns `config`, `config-changed` or `ignored`
    /// (another frame). Throws as `push`.
    #[napi(
        ts_args_type = "kind: 'video' | 'audio', body: Uint8Array",
        ts_return_type = "'config' | 'config-changed' | 'ignored'"
    )]
    pub fn configure(&mut self, kind: String, body: &[u8]) -> Result<&'static str> {
        let kind = match kind.as_str() {
            "video" => TrackKind::Video,
            "audio" => TrackKind::Audio,
            other => {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("MP4_INVALID_ARGUMENT: kind {other:?} is not video or audio"),
                ))
            }
        };
        Ok(match self.inner.configure(kind, body).map_err(error)? {
            Pushed::Config { changed: false } => "config",
            Pushed::Config { changed: true } => "config-changed",
            _ => "ignored",
        })
    }

    /// The default video track (MP4 track 1), once configured.
    #[napi(getter)]
    pub fn video(&self) -> Option<Fmp4Track> {
        track(self.inner.video_track())
    }

    /// The default audio track (MP4 track 2), once configured.
    #[napi(getter)]
    pub fn audio(&self) -> Option<Fmp4Track> {
        track(self.inner.audio_track())
    }

    /// `ftyp` + `moov` for the tracks configured so far; a track configured after it is
    /// `config-changed`. Throws `MP4_NO_SEQUENCE_HEADER` with none.
    #[napi]
    pub fn init_segment(&mut self) -> Result<Buffer> {
        self.inner.init_segment().map(Buffer::from).map_err(error)
    }

    /// A fragment of the queued samples decoded before `beforeMs` (all when omitted) whose
    /// duration is known (the newest sample of each track waits for the next one); null when
    /// there are none.
    #[napi]
    pub fn fragment(&mut self, before_ms: Option<f64>) -> Result<Option<Fmp4Fragment>> {
        self.inner.fragment(before_ms).map(fragment).map_err(error)
    }

    /// A fragment of everything queued (the stream or file ended); null when nothing is.
    #[napi]
    pub fn finish(&mut self) -> Result<Option<Fmp4Fragment>> {
        self.inner.finish().map(fragment).map_err(error)
    }
}

/// Where a fragment of a recording is and when it plays.
#[napi(object)]
pub struct Mp4IndexedFragment {
    /// Byte offset of its `moof`.
    pub offset: f64,
    /// `moof` + `mdat` bytes.
    pub length: f64,
    /// Earliest decode time, ms from the file's time 0.
    pub start_ms: f64,
    /// Latest end of a sample, ms from the file's time 0.
    pub end_ms: f64,
}

/// A recording's layout (`mp4Index`).
#[napi(object)]
pub struct Mp4FileIndex {
    /// Bytes of the init segment (`ftyp` + `moov`) from offset 0.
    pub init_length: f64,
    /// Track ids and their timescales, `[id, timescale, id, timescale, …]`.
    pub timescales: Vec<u32>,
    pub fragments: Vec<Mp4IndexedFragment>,
}

/// Indexes a fragmented MP4 recording on disk (reads box headers and each `moof`, at most
/// 4 MiB each): its init segment and every whole fragment with its times; a file cut by a crash
/// ends at its last whole fragment. Throws `MP4_MALFORMED_TAG` when the file does not begin
/// with an init segment or cannot be read.
#[napi]
pub fn mp4_index(path: String) -> Result<Mp4FileIndex> {
    let mut file = std::fs::File::open(&path).map_err(|e| Error::new(Status::GenericFailure, format!("MP4_MALFORMED_TAG: {path}: {e}")))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let index = sluice_mp4::playback::index(&mut std::io::BufReader::new(&mut file), len).map_err(error)?;
    Ok(Mp4FileIndex {
        init_length: index.init_length as f64,
        timescales: index.timescales.iter().flat_map(|(id, ts)| [*id, *ts]).collect(),
        fragments: index.fragments.iter().map(|f| Mp4IndexedFragment { offset: f.offset as f64, length: f.length as f64, start_ms: f.start_ms, end_ms: f.end_ms }).collect(),
    })
}

/// A fragment (`moof` + `mdat`) moved `shiftMs` on the timeline (every `tfdt`; negative is
/// earlier, never below 0) and
/// numbered `sequence`; `timescales` as `mp4Index` gives them. Throws `MP4_MALFORMED_TAG` when
/// it does not decode.
#[napi]
pub fn mp4_rebase(fragment: &[u8], shift_ms: f64, sequence: u32, timescales: Vec<u32>) -> Result<Buffer> {
    let pairs: Vec<(u32, u32)> = timescales.chunks_exact(2).map(|c| (c[0], c[1])).collect();
    sluice_mp4::playback::rebase(fragment, shift_ms, sequence, &pairs).map(Buffer::from).map_err(error)
}
