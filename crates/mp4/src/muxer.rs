//! [`Fmp4Muxer`]: hub frames (FLV tag bodies, decode time in ms) into an init segment and
//! fragments.
//!
//! Tracks: the default video track (Enhanced RTMP v2 track 0, or the one chosen with
//! [`Fmp4Muxer::with_video_track`]) is MP4 track 1 and the default audio track 2; other
//! Enhanced RTMP v2 multitrack tracks get ids 3, 4, … in the order their sequence starts come
//! (ManyTracks messages are split per track, `sluice_rtmp::flv::split_tracks`). A muxer made
//! with `with_video_track` muxes that video track and the default audio only (an HLS
//! rendition of a multitrack ladder).
//!
//! Timeline: the first frame pushed (any track) is time 0 of the file; a frame's decode
//! time in ticks is `round((dts_ms − origin_ms) × timescale / 1000)` (never below 0 or the
//! track's previous sample), so durations (the next sample's decode time − this one's) add up
//! without drift; the composition offset is FLV's composition time in ticks. A sample's
//! duration is known once the next sample of its track arrives, so [`fragment`] holds the last
//! sample of each track back; [`finish`] flushes it with the codec's frame duration.
//!
//! [`fragment`]: Fmp4Muxer::fragment
//! [`finish`]: Fmp4Muxer::finish

use mp4_atom::{
    Dinf, Dref, Encode, Ftyp, Hdlr, Mdhd, Mdia, Minf, Moov, Mvex, Mvhd, Smhd, Stbl, Stco, Stsc,
    Stsd, Stsz, Stts, Tkhd, Trak, Trex, Url, Vmhd,
};
use sluice_rtmp::flv::{split_tracks, AudioTagHeader, VideoTagHeader, SOUND_AAC};

use crate::fragment::{encode, Sample, TrackRun};
use crate::track::{Track, TrackKind};
use crate::{Fragment, Mp4Error};

/// MP4 track ids of the default video and audio tracks in the init segment.
const VIDEO_TRACK_ID: u32 = 1;
const AUDIO_TRACK_ID: u32 = 2;
/// The first id of other multitrack tracks.
const OTHER_TRACK_IDS: u32 = 3;

/// What a pushed tag did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// A sample was queued.
    Sample,
    /// A sample was queued, a keyframe (sync sample) of the main video track (MP4 track 1)
    /// among them: a place to cut a fragment or segment that players can start from.
    Keyframe,
    /// A sequence header configured its track: `changed` when the track already had a
    /// different configuration, or is a new track after the init segment was made (an init
    /// segment written before no longer describes what follows: start a new file, or a new
    /// init in HLS).
    Config { changed: bool },
    /// Nothing to mux (an end-of-sequence tag, an empty frame, a repeated sequence header,
    /// a track this muxer does not carry).
    Ignored,
}

impl Pushed {
    /// What a multitrack message did, from what its tracks did: a sample if any track queued
    /// one, else a configuration (changed if any changed), else nothing.
    fn merge(self, other: Pushed) -> Pushed {
        match (self, other) {
            (Pushed::Keyframe, _) | (_, Pushed::Keyframe) => Pushed::Keyframe,
            (Pushed::Sample, _) | (_, Pushed::Sample) => Pushed::Sample,
            (Pushed::Config { changed: a }, Pushed::Config { changed: b }) => Pushed::Config { changed: a || b },
            (c @ Pushed::Config { .. }, Pushed::Ignored) | (Pushed::Ignored, c) => c,
        }
    }
}

/// A track of the file: which Enhanced RTMP track it is and its MP4 track id.
struct TrackState {
    kind: TrackKind,
    /// Enhanced RTMP v2 track id (0: the default track, and every plain message).
    flv_track: u8,
    /// MP4 track id.
    id: u32,
    track: Track,
    samples: Vec<Sample>,
}

/// An Enhanced RTMP track id with its MP4 track id and configuration (see [`Fmp4Muxer::tracks`]).
#[derive(Debug, Clone, Copy)]
pub struct MuxedTrack<'a> {
    pub kind: TrackKind,
    /// Enhanced RTMP v2 track id (0 for the default track).
    pub flv_track: u8,
    /// MP4 track id in the init segment.
    pub id: u32,
    pub track: &'a Track,
}

/// See the [module docs](self).
#[derive(Default)]
pub struct Fmp4Muxer {
    /// By MP4 track id.
    tracks: Vec<TrackState>,
    /// `Some(n)`: only video track `n` and the default audio track are muxed.
    video_only: Option<u8>,
    origin_ms: Option<f64>,
    sequence: u32,
    /// An init segment was made: a track configured after it is a change.
    init_made: bool,
}

impl Fmp4Muxer {
    /// A muxer of every track.
    pub fn new() -> Self {
        Self::default()
    }

    /// A muxer of Enhanced RTMP v2 video track `track` (as MP4 track 1) and the default audio
    /// track; other tracks' messages are ignored.
    pub fn with_video_track(track: u8) -> Self {
        Fmp4Muxer { video_only: Some(track), ..Self::default() }
    }

    /// The Enhanced RTMP track id of the video track in MP4 track 1.
    fn main_video(&self) -> u8 {
        self.video_only.unwrap_or(0)
    }

    fn state(&self, kind: TrackKind, flv_track: u8) -> Option<&TrackState> {
        self.tracks.iter().find(|t| t.kind == kind && t.flv_track == flv_track)
    }

    fn state_mut(&mut self, kind: TrackKind, flv_track: u8) -> Option<&mut TrackState> {
        self.tracks.iter_mut().find(|t| t.kind == kind && t.flv_track == flv_track)
    }

    /// Whether this muxer carries Enhanced RTMP track `flv_track` of `kind`.
    fn carries(&self, kind: TrackKind, flv_track: u8) -> bool {
        match (self.video_only, kind) {
            (None, _) => true,
            (Some(v), TrackKind::Video) => flv_track == v,
            (Some(_), TrackKind::Audio) => flv_track == 0,
        }
    }

    /// The default video track's configuration (MP4 track 1), once its sequence header came.
    pub fn video_track(&self) -> Option<&Track> {
        self.state(TrackKind::Video, self.main_video()).map(|t| &t.track)
    }

    /// The default audio track's configuration (MP4 track 2), once its sequence header came.
    pub fn audio_track(&self) -> Option<&Track> {
        self.state(TrackKind::Audio, 0).map(|t| &t.track)
    }

    /// Every configured track, by MP4 track id.
    pub fn tracks(&self) -> impl Iterator<Item = MuxedTrack<'_>> {
        self.tracks.iter().map(|t| MuxedTrack { kind: t.kind, flv_track: t.flv_track, id: t.id, track: &t.track })
    }

    /// The file's time 0, ms on the stream's timeline (the first frame pushed).
    pub fn origin_ms(&self) -> Option<f64> {
        self.origin_ms
    }

    /// Ticks of `dts_ms` on a `timescale` track.
    fn ticks(&mut self, dts_ms: f64, timescale: u32) -> u64 {
        let origin = *self.origin_ms.get_or_insert(dts_ms);
        ((dts_ms - origin) * f64::from(timescale) / 1000.0)
            .round()
            .max(0.0) as u64
    }

    /// A video tag body (FLV §E.4.3, Enhanced RTMP `avc1`/`hvc1`/`av01`/`vp09`/`vp08`, v2
    /// multitrack) at decode time `dts_ms`. Errors: [`Mp4Error::MalformedTag`],
    /// [`Mp4Error::UnsupportedCodec`] (from its sequence header),
    /// [`Mp4Error::NoSequenceHeader`]; the muxer is unchanged then (of a multitrack message,
    /// the tracks before the one in error keep what they took).
    pub fn push_video(&mut self, body: &[u8], dts_ms: f64) -> Result<Pushed, Mp4Error> {
        self.push(TrackKind::Video, body, dts_ms)
    }

    /// An audio tag body (FLV §E.4.2: AAC; Enhanced RTMP Opus, FLAC, AC-3, E-AC-3, v2
    /// multitrack) at decode time `dts_ms`. Errors as [`push_video`](Self::push_video).
    pub fn push_audio(&mut self, body: &[u8], dts_ms: f64) -> Result<Pushed, Mp4Error> {
        self.push(TrackKind::Audio, body, dts_ms)
    }

    fn push(&mut self, kind: TrackKind, body: &[u8], dts_ms: f64) -> Result<Pushed, Mp4Error> {
        finite(dts_ms)?;
        let mut pushed = Pushed::Ignored;
        for (flv_track, message) in tracks_of(kind, body)? {
            if self.carries(kind, flv_track) {
                let one = match kind {
                    TrackKind::Video => self.push_video_track(flv_track, &message, dts_ms)?,
                    TrackKind::Audio => self.push_audio_track(flv_track, &message, dts_ms)?,
                };
                pushed = pushed.merge(one);
            }
        }
        Ok(pushed)
    }

    /// One track's video message (not multitrack).
    fn push_video_track(&mut self, flv_track: u8, body: &[u8], dts_ms: f64) -> Result<Pushed, Mp4Error> {
        let header = VideoTagHeader::parse(body)
            .ok_or_else(|| Mp4Error::MalformedTag("video tag header truncated".into()))?;
        if header.is_sequence_header {
            return Ok(self.configure_track(TrackKind::Video, flv_track, Track::video(body)?));
        }
        if header.is_end_of_sequence || header.frame_type == 5 {
            return Ok(Pushed::Ignored);
        }
        let data = body.get(header.data_offset..).unwrap_or_default();
        self.queue(TrackKind::Video, flv_track, data, dts_ms, header.composition_time, header.is_keyframe())
    }

    /// One track's audio message (not multitrack).
    fn push_audio_track(&mut self, flv_track: u8, body: &[u8], dts_ms: f64) -> Result<Pushed, Mp4Error> {
        let header = AudioTagHeader::parse(body)
            .ok_or_else(|| Mp4Error::MalformedTag("audio tag header truncated".into()))?;
        if header.is_sequence_header {
            return Ok(self.configure_track(TrackKind::Audio, flv_track, Track::audio(body)?));
        }
        let enhanced = header.is_opus() || matches!(header.fourcc.as_ref(), Some(b"mp4a" | b"fLaC" | b"ac-3" | b"ec-3"));
        let coded = header.sound_format == SOUND_AAC || (enhanced && header.packet_type == Some(1));
        if !coded {
            return match header.packet_type {
                Some(_) => Ok(Pushed::Ignored),
                None => Err(Mp4Error::UnsupportedCodec(format!(
                    "FLV sound format {}",
                    header.sound_format
                ))),
            };
        }
        let data = body.get(header.data_offset..).unwrap_or_default();
        self.queue(TrackKind::Audio, flv_track, data, dts_ms, 0, true)
    }

    /// Configures tracks from a tag without queuing anything: a sequence header (as
    /// [`push_video`](Self::push_video)/[`push_audio`](Self::push_audio) would), or a coded
    /// frame of a codec that has none (Enhanced RTMP `ac-3`/`ec-3`: the frame describes the
    /// track). `Pushed::Ignored` for any other frame. Errors as `push_*`.
    pub fn configure(&mut self, kind: TrackKind, body: &[u8]) -> Result<Pushed, Mp4Error> {
        let mut pushed = Pushed::Ignored;
        for (flv_track, message) in tracks_of(kind, body)? {
            if !self.carries(kind, flv_track) {
                continue;
            }
            let one = match kind {
                TrackKind::Video => match VideoTagHeader::parse(&message) {
                    Some(h) if h.is_sequence_header => self.push_video_track(flv_track, &message, 0.0)?,
                    Some(_) => Pushed::Ignored,
                    None => return Err(Mp4Error::MalformedTag("video tag header truncated".into())),
                },
                TrackKind::Audio => match AudioTagHeader::parse(&message) {
                    Some(h) if h.is_sequence_header => self.push_audio_track(flv_track, &message, 0.0)?,
                    Some(_) => match Track::audio_from_frame(&message)? {
                        Some(track) => self.configure_track(TrackKind::Audio, flv_track, track),
                        None => Pushed::Ignored,
                    },
                    None => return Err(Mp4Error::MalformedTag("audio tag header truncated".into())),
                },
            };
            pushed = pushed.merge(one);
        }
        Ok(pushed)
    }

    /// Sets a track's configuration from a sequence header; a new track gets its MP4 id.
    fn configure_track(&mut self, kind: TrackKind, flv_track: u8, track: Track) -> Pushed {
        let init_made = self.init_made;
        if let Some(state) = self.state_mut(kind, flv_track) {
            if state.track.config == track.config {
                return Pushed::Ignored;
            }
            state.track = track;
            return Pushed::Config { changed: true };
        }
        let id = match kind {
            TrackKind::Video if flv_track == self.main_video() => VIDEO_TRACK_ID,
            TrackKind::Audio if flv_track == 0 => AUDIO_TRACK_ID,
            _ => self.tracks.iter().map(|t| t.id + 1).max().unwrap_or(0).max(OTHER_TRACK_IDS),
        };
        let at = self.tracks.partition_point(|t| t.id < id);
        self.tracks.insert(at, TrackState { kind, flv_track, id, track, samples: Vec::new() });
        Pushed::Config { changed: init_made }
    }

    /// Queues a coded frame on its track: decode time in ticks, composition offset (ms) in
    /// ticks. An empty frame is ignored; one before its track's sequence header refused.
    fn queue(&mut self, kind: TrackKind, flv_track: u8, data: &[u8], dts_ms: f64, composition_ms: i32, sync: bool) -> Result<Pushed, Mp4Error> {
        if data.is_empty() {
            return Ok(Pushed::Ignored);
        }
        let Some(timescale) = self.state(kind, flv_track).map(|t| t.track.timescale) else {
            return Err(Mp4Error::NoSequenceHeader(match kind {
                TrackKind::Video => "video",
                TrackKind::Audio => "audio",
            }));
        };
        let dts = self.ticks(dts_ms, timescale);
        let cts = i64::from(composition_ms) * i64::from(timescale) / 1000;
        let main = kind == TrackKind::Video && flv_track == self.main_video();
        let state = self.state_mut(kind, flv_track).expect("checked");
        push(state, Sample { dts_ms, dts, duration: None, cts, sync, data: data.to_vec() });
        Ok(if main && sync { Pushed::Keyframe } else { Pushed::Sample })
    }

    /// `ftyp` + `moov` for the tracks configured so far (default video track 1, default audio
    /// track 2, others from 3), with `mvex` (every sample in fragments); a track configured
    /// after this is a change (`Pushed::Config { changed: true }`). Errors:
    /// [`Mp4Error::NoSequenceHeader`] with no track; [`Mp4Error::Encode`].
    pub fn init_segment(&mut self) -> Result<Vec<u8>, Mp4Error> {
        if self.tracks.is_empty() {
            return Err(Mp4Error::NoSequenceHeader("any"));
        }
        let ftyp = Ftyp {
            major_brand: b"iso6".into(),
            minor_version: 0,
            compatible_brands: vec![b"iso6".into(), b"cmfc".into(), b"mp41".into()],
        };
        let moov = Moov {
            mvhd: Mvhd {
                timescale: 1000,
                next_track_id: self.tracks.iter().map(|t| t.id + 1).max().unwrap_or(1),
                ..Mvhd::default()
            },
            mvex: Some(Mvex {
                mehd: None,
                trex: self
                    .tracks
                    .iter()
                    .map(|t| Trex {
                        track_id: t.id,
                        default_sample_description_index: 1,
                        default_sample_duration: 0,
                        default_sample_size: 0,
                        default_sample_flags: 0,
                    })
                    .collect(),
            }),
            trak: self.tracks.iter().map(|t| trak(t.id, &t.track)).collect(),
            ..Moov::default()
        };
        let mut out = Vec::new();
        ftyp.encode(&mut out)?;
        moov.encode(&mut out)?;
        self.init_made = true;
        Ok(out)
    }

    /// A fragment of every queued sample whose duration is known and whose decode time is
    /// before `before_ms` (all of them when `None`): call it after pushing a keyframe with the
    /// keyframe's decode time to cut a fragment per GOP, or every part duration for LL-HLS.
    /// `None` when there is nothing to put in one.
    pub fn fragment(&mut self, before_ms: Option<f64>) -> Result<Option<Fragment>, Mp4Error> {
        let counts: Vec<usize> = self
            .tracks
            .iter()
            .map(|s| {
                s.samples
                    .iter()
                    .take_while(|x| x.duration.is_some() && before_ms.is_none_or(|b| x.dts_ms < b))
                    .count()
            })
            .collect();
        self.emit(&counts)
    }

    /// A fragment of everything queued (the stream ended): the last sample of a track lasts as
    /// long as the one before it (the codec's frame duration when it is alone).
    pub fn finish(&mut self) -> Result<Option<Fragment>, Mp4Error> {
        for state in &mut self.tracks {
            let previous = state.samples.iter().rev().nth(1).and_then(|s| s.duration);
            let fallback = state.track.default_duration;
            if let Some(last) = state.samples.last_mut() {
                last.duration.get_or_insert(previous.unwrap_or(fallback));
            }
        }
        let counts: Vec<usize> = self.tracks.iter().map(|s| s.samples.len()).collect();
        self.emit(&counts)
    }

    /// A fragment of the first `counts[i]` samples of track `i` (in `tracks` order).
    fn emit(&mut self, counts: &[usize]) -> Result<Option<Fragment>, Mp4Error> {
        let total: usize = counts.iter().sum();
        if total == 0 {
            return Ok(None);
        }
        let sequence = self.sequence + 1;
        let runs: Vec<TrackRun<'_>> = self
            .tracks
            .iter()
            .zip(counts)
            .map(|(s, &n)| TrackRun { track_id: s.id, samples: &s.samples[..n] })
            .collect();
        let bytes = encode(sequence, &runs)?;
        let mut start_ms = f64::INFINITY;
        let mut end_ms = f64::NEG_INFINITY;
        for (s, &n) in self.tracks.iter().zip(counts) {
            let samples = &s.samples[..n];
            if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
                start_ms = start_ms.min(first.dts_ms);
                end_ms = end_ms.max(last.dts_ms + f64::from(last.duration.unwrap_or(0)) * 1000.0 / f64::from(s.track.timescale));
            }
        }
        let main = self.tracks.iter().zip(counts).find(|(s, _)| s.id == VIDEO_TRACK_ID);
        let fragment = Fragment {
            bytes,
            start_ms,
            end_ms,
            independent: main.is_none_or(|(s, &n)| s.samples[..n].first().is_none_or(|x| x.sync)),
            samples: total as u32,
        };
        self.sequence = sequence;
        for (s, &n) in self.tracks.iter_mut().zip(counts) {
            s.samples.drain(..n);
        }
        Ok(Some(fragment))
    }
}

/// The tracks of a message: itself as track 0 unless it is an Enhanced RTMP v2 multitrack one.
fn tracks_of(kind: TrackKind, body: &[u8]) -> Result<Vec<sluice_rtmp::flv::TrackMessage<'_>>, Mp4Error> {
    split_tracks(body, kind == TrackKind::Audio).ok_or_else(|| {
        Mp4Error::MalformedTag(match kind {
            TrackKind::Video => "video tag header truncated".into(),
            TrackKind::Audio => "audio tag header truncated".into(),
        })
    })
}

/// A decode time must be a number.
fn finite(dts_ms: f64) -> Result<(), Mp4Error> {
    if dts_ms.is_finite() {
        Ok(())
    } else {
        Err(Mp4Error::MalformedTag(format!("decode time {dts_ms} is not a number of ms")))
    }
}

/// Queues a sample: the previous one's duration is now known. A decode time before the
/// previous one's (a publisher's timestamp going back) is taken as the previous one's (in ticks
/// and in ms).
fn push(state: &mut TrackState, mut sample: Sample) {
    if let Some(prev) = state.samples.last_mut() {
        sample.dts = sample.dts.max(prev.dts);
        sample.dts_ms = sample.dts_ms.max(prev.dts_ms);
        prev.duration = Some(u32::try_from(sample.dts - prev.dts).unwrap_or(u32::MAX));
    }
    state.samples.push(sample);
}

/// A `trak` for a track: empty sample tables (the samples are in fragments).
fn trak(id: u32, t: &Track) -> Trak {
    let video = t.kind == TrackKind::Video;
    Trak {
        tkhd: Tkhd {
            track_id: id,
            enabled: true,
            in_movie: true,
            volume: if video { 0.into() } else { 1.into() },
            width: t.width.into(),
            height: t.height.into(),
            ..Tkhd::default()
        },
        mdia: Mdia {
            mdhd: Mdhd {
                timescale: t.timescale,
                language: "und".into(),
                ..Mdhd::default()
            },
            hdlr: Hdlr {
                handler: if video {
                    b"vide".into()
                } else {
                    b"soun".into()
                },
                name: if video {
                    "Sluice video".into()
                } else {
                    "Sluice audio".into()
                },
            },
            minf: Minf {
                vmhd: video.then(Vmhd::default),
                smhd: (!video).then(Smhd::default),
                dinf: Dinf {
                    dref: Dref {
                        entries: vec![Url::default().into()],
                    },
                },
                stbl: Stbl {
                    stsd: Stsd {
                        codecs: vec![t.codec.clone()],
                    },
                    stts: Stts::default(),
                    stsc: Stsc::default(),
                    stsz: Stsz::default(),
                    stco: Some(Stco::default()),
                    ..Stbl::default()
                },
                ..Minf::default()
            },
        },
        ..Trak::default()
    }
}
