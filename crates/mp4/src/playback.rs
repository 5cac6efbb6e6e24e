//! Reading recordings back: the [`index`] of a fragmented MP4 file this crate wrote (where its
//! init segment and each fragment are, and when each fragment plays), and [`rebase`], which
//! moves a fragment on the timeline (its `tfdt`s) so fragments of several files play as one
//! fMP4 (the playback API).
//!
//! A file cut by a crash indexes up to its last whole fragment. Boxes are decoded by `mp4-atom`;
//! a `moof` larger than [`MAX_MOOF`] is refused, so nothing read from a file allocates without
//! bound.

use std::io::{Read, Seek, SeekFrom};

use mp4_atom::{Decode, Encode, FourCC, Moof, Moov, ReadFrom};

use crate::Mp4Error;

/// Largest `moof` (or `ftyp` + `moov`) read, bytes.
pub const MAX_MOOF: usize = 4 << 20;

/// Where a fragment is and when it plays.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedFragment {
    /// Byte offset of its `moof`.
    pub offset: u64,
    /// `moof` + `mdat` bytes.
    pub length: u64,
    /// Earliest decode time, ms from the file's time 0.
    pub start_ms: f64,
    /// Latest end of a sample, ms from the file's time 0.
    pub end_ms: f64,
}

/// A recording's layout.
#[derive(Debug, Clone, PartialEq)]
pub struct FileIndex {
    /// Bytes of the init segment (`ftyp` + `moov`), from offset 0.
    pub init_length: u64,
    /// `(track id, timescale)` of every track.
    pub timescales: Vec<(u32, u32)>,
    pub fragments: Vec<IndexedFragment>,
}

fn io(e: std::io::Error) -> Mp4Error {
    Mp4Error::MalformedTag(format!("read: {e}"))
}

/// A box's header at the reader's position: `(kind, header bytes, total bytes)`, or `None` at
/// the end of the file or before a box that does not fit in it.
fn next_box<R: Read + Seek>(r: &mut R, at: u64, file_len: u64) -> Result<Option<(FourCC, u64, u64)>, Mp4Error> {
    if at + 8 > file_len {
        return Ok(None);
    }
    r.seek(SeekFrom::Start(at)).map_err(io)?;
    let header = match <Option<mp4_atom::Header> as ReadFrom>::read_from(r) {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(None),
        Err(_) => return Ok(None),
    };
    let header_len = r.stream_position().map_err(io)? - at;
    let Some(size) = header.size else { return Ok(None) };
    let total = header_len + size as u64;
    if at + total > file_len {
        return Ok(None);
    }
    Ok(Some((header.kind, header_len, total)))
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, len: u64) -> Result<Vec<u8>, Mp4Error> {
    if len as usize > MAX_MOOF {
        return Err(Mp4Error::MalformedTag(format!("a box of {len} bytes where at most {MAX_MOOF} are read")));
    }
    let mut buf = vec![0u8; len as usize];
    r.seek(SeekFrom::Start(at)).map_err(io)?;
    r.read_exact(&mut buf).map_err(io)?;
    Ok(buf)
}

/// Indexes a fragmented MP4 file of `file_len` bytes: `ftyp`, `moov` (the track timescales),
/// then `moof` + `mdat` pairs. Stops at the first box that is cut short (a crash) or is not one
/// of these. Errors: [`Mp4Error::MalformedTag`] when the file does not begin with an init
/// segment (or cannot be read).
pub fn index<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<FileIndex, Mp4Error> {
    let mut at = 0;
    let mut timescales = Vec::new();
    let mut init_length = 0;
    while let Some((kind, _, total)) = next_box(r, at, file_len)? {
        if kind == FourCC::new(b"moov") {
            let moov = Moov::decode(&mut std::io::Cursor::new(read_at(r, at, total)?.as_slice())).map_err(|e| Mp4Error::MalformedTag(format!("moov: {e}")))?;
            timescales = moov.trak.iter().map(|t| (t.tkhd.track_id, t.mdia.mdhd.timescale)).collect();
            init_length = at + total;
            at += total;
            break;
        }
        if kind != FourCC::new(b"ftyp") {
            break;
        }
        at += total;
    }
    if init_length == 0 || timescales.iter().any(|(_, ts)| *ts == 0) {
        return Err(Mp4Error::MalformedTag("no init segment (ftyp + moov) at the start".into()));
    }
    let mut fragments = Vec::new();
    while let Some((kind, _, moof_len)) = next_box(r, at, file_len)? {
        if kind != FourCC::new(b"moof") {
            break;
        }
        let Some((mdat_kind, _, mdat_len)) = next_box(r, at + moof_len, file_len)? else { break };
        if mdat_kind != FourCC::new(b"mdat") {
            break;
        }
        let moof = Moof::decode(&mut std::io::Cursor::new(read_at(r, at, moof_len)?.as_slice())).map_err(|e| Mp4Error::MalformedTag(format!("moof: {e}")))?;
        let (mut start, mut end) = (f64::INFINITY, f64::NEG_INFINITY);
        for traf in &moof.traf {
            let Some(ts) = timescales.iter().find(|(id, _)| *id == traf.tfhd.track_id).map(|(_, ts)| f64::from(*ts)) else { continue };
            let base = traf.tfdt.as_ref().map_or(0, |t| t.base_media_decode_time) as f64;
            let duration: f64 = traf.trun.iter().flat_map(|t| t.samples.iter()).map(|s| f64::from(s.duration.or(traf.tfhd.default_sample_duration).unwrap_or(0))).sum();
            start = start.min(base * 1000.0 / ts);
            end = end.max((base + duration) * 1000.0 / ts);
        }
        if start.is_finite() {
            fragments.push(IndexedFragment { offset: at, length: moof_len + mdat_len, start_ms: start, end_ms: end });
        }
        at += moof_len + mdat_len;
    }
    Ok(FileIndex { init_length, timescales, fragments })
}

/// A fragment (`moof` + `mdat`, as [`index`] found it) moved by `shift_ms` on the timeline
/// (every `tfdt` + `shift_ms` in its track's ticks, later when positive, earlier when negative,
/// never below 0) and numbered `sequence`; the `trun` data
/// offsets follow if the `moof` changes size. Errors: [`Mp4Error::MalformedTag`] when it does
/// not decode, [`Mp4Error::Encode`].
pub fn rebase(fragment: &[u8], shift_ms: f64, sequence: u32, timescales: &[(u32, u32)]) -> Result<Vec<u8>, Mp4Error> {
    let mut cursor = std::io::Cursor::new(fragment);
    let mut moof = Moof::decode(&mut cursor).map_err(|e| Mp4Error::MalformedTag(format!("moof: {e}")))?;
    let old_len = cursor.position() as usize;
    moof.mfhd.sequence_number = sequence;
    for traf in &mut moof.traf {
        let ts = timescales.iter().find(|(id, _)| *id == traf.tfhd.track_id).map_or(1000, |(_, ts)| *ts);
        let shift = (shift_ms * f64::from(ts) / 1000.0).round() as i64;
        if let Some(tfdt) = traf.tfdt.as_mut() {
            tfdt.base_media_decode_time = tfdt.base_media_decode_time.saturating_add_signed(shift);
        }
    }
    let mut out = Vec::with_capacity(fragment.len() + 16);
    moof.encode(&mut out)?;
    if out.len() != old_len {
        let delta = out.len() as i64 - old_len as i64;
        for traf in &mut moof.traf {
            for trun in &mut traf.trun {
                if let Some(o) = trun.data_offset.as_mut() {
                    *o = i32::try_from(i64::from(*o) + delta).map_err(|_| Mp4Error::Encode("data offset out of range".into()))?;
                }
            }
        }
        out.clear();
        moof.encode(&mut out)?;
    }
    out.extend_from_slice(&fragment[old_len..]);
    Ok(out)
}
