//! [`Fmp4Muxer`]: hub frames (FLV tag bodies, decode time in ms) into an init segment and
//! fragments.
//!
//! Enhanced RTMP v2 multitrack messages other than a OneTrack message of the default track 0
//! are not muxed (`Pushed::Ignored`): the file has one video and one audio track.
//!
//! Timeline: the first frame pushed (either track) is time 0 of the file; a frame's decode
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
use sluice_rtmp::flv::{AudioTagHeader, VideoTagHeader, SOUND_AAC};

use crate::fragment::{encode, Sample, TrackRun};
use crate::track::{Track, TrackKind};
use crate::{Fragment, Mp4Error};

/// Track ids in the init segment.
const VIDEO_TRACK_ID: u32 = 1;
const AUDIO_TRACK_ID: u32 = 2;

/// What a pushed tag did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// A sample was queued.
    Sample,
    /// A sequence header configured its track: `changed` when the track already had a
    /// different configuration (an init segment written before no longer describes what
    /// follows: start a new file, or a new init in HLS).
    Config { changed: bool },
    /// Nothing to mux (an end-of-sequence tag, an empty frame, a repeated sequence header).
    Ignored,
}

struct TrackState {
    track: Track,
    samples: Vec<Sample>,
}

/// See the [module docs](self).
#[derive(Default)]
pub struct Fmp4Muxer {
    video: Option<TrackState>,
    audio: Option<TrackState>,
    origin_ms: Option<f64>,
    sequence: u32,
}

impl Fmp4Muxer {
    pub fn new() -> Self {
        Self::default()
    }

    /// The video track's configuration, once its sequence header came.
    pub fn video_track(&self) -> Option<&Track> {
        self.video.as_ref().map(|t| &t.track)
    }

    /// The audio track's configuration, once its sequence header came.
    pub fn audio_track(&self) -> Option<&Track> {
        self.audio.as_ref().map(|t| &t.track)
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

    /// A video tag body (FLV §E.4.3, Enhanced RTMP `avc1`/`hvc1`) at decode time `dts_ms`.
    /// Errors: [`Mp4Error::MalformedTag`], [`Mp4Error::UnsupportedCodec`] (from its sequence
    /// header), [`Mp4Error::NoSequenceHeader`]; the muxer is unchanged then.
    pub fn push_video(&mut self, body: &[u8], dts_ms: f64) -> Result<Pushed, Mp4Error> {
        finite(dts_ms)?;
        let header = VideoTagHeader::parse(body)
            .ok_or_else(|| Mp4Error::MalformedTag("video tag header truncated".into()))?;
        if header.multitrack.is_some_and(|m| !m.is_default_track_only()) {
            return Ok(Pushed::Ignored); // other tracks of an Enhanced RTMP v2 multitrack stream
        }
        if header.is_sequence_header {
            return Ok(configure(&mut self.video, Track::video(body)?));
        }
        if header.is_end_of_sequence || header.frame_type == 5 {
            return Ok(Pushed::Ignored);
        }
        let data = body.get(header.data_offset..).unwrap_or_default();
        self.queue(TrackKind::Video, data, dts_ms, header.composition_time, header.is_keyframe())
    }

    /// An audio tag body (FLV §E.4.2: AAC; Enhanced RTMP Opus) at decode time `dts_ms`.
    /// Errors as [`push_video`](Self::push_video).
    /// Configures a track from a tag without queuing anything: a sequence header (as
    /// [`push_video`](Self::push_video)/[`push_audio`](Self::push_audio) would), or a coded
    /// frame of a codec that has none (Enhanced RTMP `ac-3`/`ec-3`: the frame describes the
    /// track). `Pushed::Ignored` for any other frame. Errors as `push_*`.
    pub fn configure(&mut self, kind: TrackKind, body: &[u8]) -> Result<Pushed, Mp4Error> {
        match kind {
            TrackKind::Video => match VideoTagHeader::parse(body) {
                Some(h) if h.is_sequence_header => self.push_video(body, 0.0),
                Some(_) => Ok(Pushed::Ignored),
                None => Err(Mp4Error::MalformedTag("video tag header truncated".into())),
            },
            TrackKind::Audio => match AudioTagHeader::parse(body) {
                Some(h) if h.is_sequence_header => self.push_audio(body, 0.0),
                Some(h) if h.multitrack.is_some_and(|m| !m.is_default_track_only()) => Ok(Pushed::Ignored),
                Some(_) => Ok(match Track::audio_from_frame(body)? {
                    Some(track) => configure(&mut self.audio, track),
                    None => Pushed::Ignored,
                }),
                None => Err(Mp4Error::MalformedTag("audio tag header truncated".into())),
            },
        }
    }

    pub fn push_audio(&mut self, body: &[u8], dts_ms: f64) -> Result<Pushed, Mp4Error> {
        finite(dts_ms)?;
        let header = AudioTagHeader::parse(body)
            .ok_or_else(|| Mp4Error::MalformedTag("audio tag header truncated".into()))?;
        if header.multitrack.is_some_and(|m| !m.is_default_track_only()) {
            return Ok(Pushed::Ignored);
        }
        if header.is_sequence_header {
            return Ok(configure(&mut self.audio, Track::audio(body)?));
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
        self.queue(TrackKind::Audio, data, dts_ms, 0, true)
    }

    /// Queues a coded frame on its track: decode time in ticks, composition offset (ms) in
    /// ticks. An empty frame is ignored; one before its track's sequence header refused.
    fn queue(&mut self, kind: TrackKind, data: &[u8], dts_ms: f64, composition_ms: i32, sync: bool) -> Result<Pushed, Mp4Error> {
        if data.is_empty() {
            return Ok(Pushed::Ignored);
        }
        let (slot, name) = match kind {
            TrackKind::Video => (&self.video, "video"),
            TrackKind::Audio => (&self.audio, "audio"),
        };
        let Some(timescale) = slot.as_ref().map(|t| t.track.timescale) else {
            return Err(Mp4Error::NoSequenceHeader(name));
        };
        let dts = self.ticks(dts_ms, timescale);
        let cts = i64::from(composition_ms) * i64::from(timescale) / 1000;
        let state = match kind {
            TrackKind::Video => self.video.as_mut(),
            TrackKind::Audio => self.audio.as_mut(),
        }
        .expect("checked");
        push(state, Sample { dts_ms, dts, duration: None, cts, sync, data: data.to_vec() });
        Ok(Pushed::Sample)
    }

    /// `ftyp` + `moov` for the tracks configured so far (video track 1, audio track 2), with
    /// `mvex` (every sample in fragments). Errors: [`Mp4Error::NoSequenceHeader`] with no
    /// track; [`Mp4Error::Encode`].
    pub fn init_segment(&self) -> Result<Vec<u8>, Mp4Error> {
        let tracks: Vec<(u32, &Track)> = [
            (VIDEO_TRACK_ID, self.video_track()),
            (AUDIO_TRACK_ID, self.audio_track()),
        ]
        .into_iter()
        .filter_map(|(id, t)| t.map(|t| (id, t)))
        .collect();
        if tracks.is_empty() {
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
                next_track_id: AUDIO_TRACK_ID + 1,
                ..Mvhd::default()
            },
            mvex: Some(Mvex {
                mehd: None,
                trex: tracks
                    .iter()
                    .map(|(id, _)| Trex {
                        track_id: *id,
                        default_sample_description_index: 1,
                        default_sample_duration: 0,
                        default_sample_size: 0,
                        default_sample_flags: 0,
                    })
                    .collect(),
            }),
            trak: tracks.iter().map(|(id, t)| trak(*id, t)).collect(),
            ..Moov::default()
        };
        let mut out = Vec::new();
        ftyp.encode(&mut out)?;
        moov.encode(&mut out)?;
        Ok(out)
    }

    /// A fragment of every queued sample whose duration is known and whose decode time is
    /// before `before_ms` (all of them when `None`): call it after pushing a keyframe with the
    /// keyframe's decode time to cut a fragment per GOP, or every part duration for LL-HLS.
    /// `None` when there is nothing to put in one.
    pub fn fragment(&mut self, before_ms: Option<f64>) -> Result<Option<Fragment>, Mp4Error> {
        let take = |state: &Option<TrackState>| -> usize {
            state.as_ref().map_or(0, |s| {
                s.samples
                    .iter()
                    .take_while(|x| x.duration.is_some() && before_ms.is_none_or(|b| x.dts_ms < b))
                    .count()
            })
        };
        let (nv, na) = (take(&self.video), take(&self.audio));
        self.emit(nv, na)
    }

    /// A fragment of everything queued (the stream ended): the last sample of a track lasts as
    /// long as the one before it (the codec's frame duration when it is alone).
    pub fn finish(&mut self) -> Result<Option<Fragment>, Mp4Error> {
        for state in [&mut self.video, &mut self.audio].into_iter().flatten() {
            let previous = state.samples.iter().rev().nth(1).and_then(|s| s.duration);
            let fallback = state.track.default_duration;
            if let Some(last) = state.samples.last_mut() {
                last.duration.get_or_insert(previous.unwrap_or(fallback));
            }
        }
        let (nv, na) = (
            self.video.as_ref().map_or(0, |s| s.samples.len()),
            self.audio.as_ref().map_or(0, |s| s.samples.len()),
        );
        self.emit(nv, na)
    }

    fn emit(&mut self, nv: usize, na: usize) -> Result<Option<Fragment>, Mp4Error> {
        if nv + na == 0 {
            return Ok(None);
        }
        let sequence = self.sequence + 1;
        let video = self.video.as_ref().map_or(&[][..], |s| &s.samples[..nv]);
        let audio = self.audio.as_ref().map_or(&[][..], |s| &s.samples[..na]);
        let bytes = encode(
            sequence,
            &[
                TrackRun {
                    track_id: VIDEO_TRACK_ID,
                    samples: video,
                },
                TrackRun {
                    track_id: AUDIO_TRACK_ID,
                    samples: audio,
                },
            ],
        )?;
        let span = |samples: &[Sample], timescale: u32| {
            let first = samples.first()?;
            let last = samples.last()?;
            let end =
                last.dts_ms + f64::from(last.duration.unwrap_or(0)) * 1000.0 / f64::from(timescale);
            Some((first.dts_ms, end))
        };
        let spans = [
            self.video
                .as_ref()
                .and_then(|s| span(video, s.track.timescale)),
            self.audio
                .as_ref()
                .and_then(|s| span(audio, s.track.timescale)),
        ];
        let start_ms = spans
            .iter()
            .flatten()
            .map(|s| s.0)
            .fold(f64::INFINITY, f64::min);
        let end_ms = spans
            .iter()
            .flatten()
            .map(|s| s.1)
            .fold(f64::NEG_INFINITY, f64::max);
        let fragment = Fragment {
            bytes,
            start_ms,
            end_ms,
            independent: video.first().is_none_or(|s| s.sync),
            samples: (nv + na) as u32,
        };
        self.sequence = sequence;
        if let Some(s) = self.video.as_mut() {
            s.samples.drain(..nv);
        }
        if let Some(s) = self.audio.as_mut() {
            s.samples.drain(..na);
        }
        Ok(Some(fragment))
    }
}

/// A decode time must be a number.
fn finite(dts_ms: f64) -> Result<(), Mp4Error> {
    if dts_ms.is_finite() {
        Ok(())
    } else {
        Err(Mp4Error::MalformedTag(format!("decode time {dts_ms} is not a number of ms")))
    }
}

/// Sets a track's configuration from a sequence header.
fn configure(slot: &mut Option<TrackState>, track: Track) -> Pushed {
    match slot {
        Some(state) if state.track.config == track.config => Pushed::Ignored,
        Some(state) => {
            state.track = track;
            Pushed::Config { changed: true }
        }
        None => {
            *slot = Some(TrackState {
                track,
                samples: Vec::new(),
            });
            Pushed::Config { changed: false }
        }
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
