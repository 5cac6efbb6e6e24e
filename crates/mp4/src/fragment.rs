//! One movie fragment: `moof` (`mfhd`, then per track `traf` = `tfhd` with
//! default-base-is-moof, `tfdt`, one `trun` with every sample's duration, size, flags and
//! composition offset) and the `mdat` holding the samples, track after track (ISO/IEC 14496-12
//! §8.8).

use mp4_atom::{Encode, Mdat, Mfhd, Moof, Tfdt, Tfhd, Traf, Trun, TrunEntry, TrunSamples};

use crate::Mp4Error;

/// A sample waiting for its fragment.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    /// Decode time, ms on the stream's timeline (for the caller's cuts).
    pub dts_ms: f64,
    /// Decode time in track ticks from the file's origin.
    pub dts: u64,
    /// Duration in ticks: known once the next sample's decode time is.
    pub duration: Option<u32>,
    /// Composition offset (pts − dts) in ticks.
    pub cts: i64,
    /// A sync sample (video keyframe; every audio frame).
    pub sync: bool,
    /// The sample: AVCC/HVCC length-prefixed NAL units, a raw AAC frame, an Opus packet.
    pub data: Vec<u8>,
}

/// `sample_flags` (§8.8.3.1) of a sync sample: `sample_depends_on` = 2 (does not depend on others).
const SYNC_FLAGS: u32 = 0x0200_0000;
/// … of another sample: `sample_depends_on` = 1, `sample_is_non_sync_sample` = 1.
const NON_SYNC_FLAGS: u32 = 0x0101_0000;

/// A fragment, ready to append after the init segment (or another fragment).
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// `moof` + `mdat`.
    pub bytes: Vec<u8>,
    /// The earliest decode time in it, ms on the stream's timeline.
    pub start_ms: f64,
    /// The end of its last sample (decode time + duration), ms on the stream's timeline.
    pub end_ms: f64,
    /// Its video track begins with a keyframe (or it has no video): playback can start here
    /// (an HLS `INDEPENDENT=YES` part).
    pub independent: bool,
    /// Samples in it, all tracks.
    pub samples: u32,
}

/// One track's part of a fragment.
pub(crate) struct TrackRun<'a> {
    pub track_id: u32,
    pub samples: &'a [Sample],
}

/// Encodes `moof` (sequence number `sequence`) + `mdat` for `runs` (tracks without samples
/// are left out).
pub(crate) fn encode(sequence: u32, runs: &[TrackRun<'_>]) -> Result<Vec<u8>, Mp4Error> {
    let runs: Vec<&TrackRun<'_>> = runs.iter().filter(|r| !r.samples.is_empty()).collect();
    let traf = |run: &TrackRun<'_>, data_offset: i32| Traf {
        tfhd: Tfhd {
            track_id: run.track_id,
            default_base_is_moof: true,
            ..Tfhd::default()
        },
        tfdt: Some(Tfdt {
            base_media_decode_time: run.samples[0].dts,
        }),
        trun: vec![Trun {
            data_offset: Some(data_offset),
            samples: TrunSamples::Explicit(
                run.samples
                    .iter()
                    .map(|s| TrunEntry {
                        duration: Some(s.duration.unwrap_or(0)),
                        size: Some(s.data.len() as u32),
                        flags: Some(if s.sync { SYNC_FLAGS } else { NON_SYNC_FLAGS }),
                        cts: Some(s.cts),
                    })
                    .collect(),
            ),
        }],
        ..Traf::default()
    };
    let moof_with = |offsets: &[i32]| Moof {
        mfhd: Mfhd {
            sequence_number: sequence,
        },
        traf: runs.iter().zip(offsets).map(|(r, o)| traf(r, *o)).collect(),
    };
    // The data offsets do not change the moof's size: measure it with zeros first.
    let mut probe = Vec::new();
    moof_with(&vec![0; runs.len()]).encode(&mut probe)?;
    let data_len: usize = runs
        .iter()
        .flat_map(|r| r.samples.iter())
        .map(|s| s.data.len())
        .sum();
    let mdat_header = if data_len + 8 > u32::MAX as usize {
        16
    } else {
        8
    };
    let mut offsets = Vec::with_capacity(runs.len());
    let mut offset = probe.len() + mdat_header;
    for r in &runs {
        offsets.push(
            i32::try_from(offset).map_err(|_| Mp4Error::Encode("fragment too large".into()))?,
        );
        offset += r.samples.iter().map(|s| s.data.len()).sum::<usize>();
    }
    let mut out = Vec::with_capacity(probe.len() + mdat_header + data_len);
    moof_with(&offsets).encode(&mut out)?;
    let mut data = Vec::with_capacity(data_len);
    for r in &runs {
        for s in r.samples {
            data.extend_from_slice(&s.data);
        }
    }
    Mdat { data }.encode(&mut out)?;
    Ok(out)
}
