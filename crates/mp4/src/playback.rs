//! Reading recordings back: the [`index`] of a fragmented MP4 file this crate wrote (where its
//! init segment and each fragment are, and when each fragment plays), and [`rebase`], which
//! moves a fragment on the timeline (its `tfdt`s) so fragments of several files play as one
//! fMP4 (the playback API).
//!
//! A file cut by a crash indexes up to its last whole fragment. Only the boxes needed are
//! decoded (by `mp4-atom`: `tkhd`, `mdhd`, `tfhd`, `tfdt`, `trun`; the containers are walked
//! here), and [`rebase`] patches `tfdt`s and the `mfhd` sequence number in place (this crate
//! writes version-1, 64-bit `tfdt`s), so the whole-`moov`/`moof` decoders of every box type stay
//! out of the binary. A `moof` larger than [`MAX_MOOF`] is refused, so nothing read from a file
//! allocates without bound.

use std::io::{Read, Seek, SeekFrom};

use mp4_atom::{Decode, FourCC, Mdhd, ReadFrom, Tfdt, Tfhd, Tkhd, Trun};

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

/// The child boxes of a container's body: `(kind, offset of the box in body, box length)`.
/// Stops at a box that does not fit.
fn children(body: &[u8]) -> Vec<(FourCC, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= body.len() {
        let size = u32::from_be_bytes(body[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind = FourCC::new(body[at + 4..at + 8].try_into().expect("4 bytes"));
        let (header, total) = match size {
            1 if at + 16 <= body.len() => (16, u64::from_be_bytes(body[at + 8..at + 16].try_into().expect("8 bytes")) as usize),
            0 => (8, body.len() - at),
            n => (8, n),
        };
        if total < header || at + total > body.len() {
            break;
        }
        out.push((kind, at, total));
        at += total;
    }
    out
}

/// The first child box of `kind` in a container's body, as its whole box bytes.
fn child<'a>(body: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(body).into_iter().find(|(k, _, _)| *k == FourCC::new(kind)).map(|(_, at, len)| &body[at..at + len])
}

/// A box's body (after its 8-byte header).
fn body_of(atom: &[u8]) -> &[u8] {
    atom.get(8..).unwrap_or_default()
}

fn decode<T: Decode>(atom: &[u8], what: &str) -> Result<T, Mp4Error> {
    T::decode(&mut std::io::Cursor::new(atom)).map_err(|e| Mp4Error::MalformedTag(format!("{what}: {e}")))
}

/// `(track id, timescale)` of every `trak` in a `moov`'s body.
fn timescales_of(moov: &[u8]) -> Result<Vec<(u32, u32)>, Mp4Error> {
    let mut out = Vec::new();
    for (kind, at, len) in children(moov) {
        if kind != FourCC::new(b"trak") {
            continue;
        }
        let trak = body_of(&moov[at..at + len]);
        let tkhd: Tkhd = decode(child(trak, b"tkhd").ok_or_else(|| Mp4Error::MalformedTag("trak without tkhd".into()))?, "tkhd")?;
        let mdia = child(trak, b"mdia").map(body_of).ok_or_else(|| Mp4Error::MalformedTag("trak without mdia".into()))?;
        let mdhd: Mdhd = decode(child(mdia, b"mdhd").ok_or_else(|| Mp4Error::MalformedTag("mdia without mdhd".into()))?, "mdhd")?;
        out.push((tkhd.track_id, mdhd.timescale));
    }
    Ok(out)
}

/// When a `moof` (its body) plays: the earliest decode time and the latest end, ms.
fn moof_times(moof: &[u8], timescales: &[(u32, u32)]) -> Result<(f64, f64), Mp4Error> {
    let (mut start, mut end) = (f64::INFINITY, f64::NEG_INFINITY);
    for (kind, at, len) in children(moof) {
        if kind != FourCC::new(b"traf") {
            continue;
        }
        let traf = body_of(&moof[at..at + len]);
        let tfhd: Tfhd = decode(child(traf, b"tfhd").ok_or_else(|| Mp4Error::MalformedTag("traf without tfhd".into()))?, "tfhd")?;
        let Some(ts) = timescales.iter().find(|(id, _)| *id == tfhd.track_id).map(|(_, ts)| f64::from(*ts)) else { continue };
        let base = match child(traf, b"tfdt") {
            Some(atom) => decode::<Tfdt>(atom, "tfdt")?.base_media_decode_time as f64,
            None => 0.0,
        };
        let mut duration = 0.0;
        for (k, a, l) in children(traf) {
            if k == FourCC::new(b"trun") {
                let trun: Trun = decode(&traf[a..a + l], "trun")?;
                duration += trun.samples.iter().map(|s| f64::from(s.duration.or(tfhd.default_sample_duration).unwrap_or(0))).sum::<f64>();
            }
        }
        start = start.min(base * 1000.0 / ts);
        end = end.max((base + duration) * 1000.0 / ts);
    }
    Ok((start, end))
}

/// Indexes a fragmented MP4 file of `file_len` bytes: `ftyp`, `moov` (the track timescales),
/// then `moof` + `mdat` pairs. Stops at the first box that is cut short (a crash) or is not one
/// of these. Errors: [`Mp4Error::MalformedTag`] when the file does not begin with an init
/// segment (or cannot be read).
pub fn index<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<FileIndex, Mp4Error> {
    let mut at = 0;
    let mut timescales = Vec::new();
    let mut init_length = 0;
    while let Some((kind, header, total)) = next_box(r, at, file_len)? {
        if kind == FourCC::new(b"moov") {
            let moov = read_at(r, at, total)?;
            timescales = timescales_of(&moov[header as usize..])?;
            init_length = at + total;
            at += total;
            break;
        }
        if kind != FourCC::new(b"ftyp") {
            break;
        }
        at += total;
    }
    if init_length == 0 || timescales.is_empty() || timescales.iter().any(|(_, ts)| *ts == 0) {
        return Err(Mp4Error::MalformedTag("no init segment (ftyp + moov) at the start".into()));
    }
    let mut fragments = Vec::new();
    while let Some((kind, header, moof_len)) = next_box(r, at, file_len)? {
        if kind != FourCC::new(b"moof") {
            break;
        }
        let Some((mdat_kind, _, mdat_len)) = next_box(r, at + moof_len, file_len)? else { break };
        if mdat_kind != FourCC::new(b"mdat") {
            break;
        }
        let moof = read_at(r, at, moof_len)?;
        let (start, end) = moof_times(&moof[header as usize..], &timescales)?;
        if start.is_finite() {
            fragments.push(IndexedFragment { offset: at, length: moof_len + mdat_len, start_ms: start, end_ms: end });
        }
        at += moof_len + mdat_len;
    }
    Ok(FileIndex { init_length, timescales, fragments })
}

/// A fragment (`moof` + `mdat`, as [`index`] found it) moved by `shift_ms` on the timeline
/// (every `tfdt` + `shift_ms` in its track's ticks, later when positive, earlier when negative,
/// never below 0) and numbered `sequence`, patched in place (sizes do not change). Errors:
/// [`Mp4Error::MalformedTag`] when it does not begin with a `moof`, or a `tfdt` is version 0
/// and the new time does not fit its 32 bits.
pub fn rebase(fragment: &[u8], shift_ms: f64, sequence: u32, timescales: &[(u32, u32)]) -> Result<Vec<u8>, Mp4Error> {
    let mut out = fragment.to_vec();
    let (kind, moof_at, moof_len) = children(&out).into_iter().next().ok_or_else(|| Mp4Error::MalformedTag("no moof".into()))?;
    if kind != FourCC::new(b"moof") || moof_at != 0 {
        return Err(Mp4Error::MalformedTag("a fragment begins with its moof".into()));
    }
    let moof_body = 8..moof_len;
    for (kind, at, len) in children(&out[moof_body.clone()]) {
        let box_at = moof_body.start + at;
        if kind == FourCC::new(b"mfhd") && len >= 16 {
            out[box_at + 12..box_at + 16].copy_from_slice(&sequence.to_be_bytes());
        }
        if kind != FourCC::new(b"traf") {
            continue;
        }
        let traf_body = box_at + 8..box_at + len;
        let track_id = match child(&out[traf_body.clone()], b"tfhd") {
            Some(atom) => decode::<Tfhd>(atom, "tfhd")?.track_id,
            None => continue,
        };
        let ts = timescales.iter().find(|(id, _)| *id == track_id).map_or(1000, |(_, ts)| *ts);
        let shift = (shift_ms * f64::from(ts) / 1000.0).round() as i64;
        for (k, a, l) in children(&out[traf_body.clone()]) {
            if k != FourCC::new(b"tfdt") || l < 16 {
                continue;
            }
            let tfdt = traf_body.start + a;
            let version = out[tfdt + 8];
            if version == 1 && l >= 20 {
                let old = u64::from_be_bytes(out[tfdt + 12..tfdt + 20].try_into().expect("8 bytes"));
                out[tfdt + 12..tfdt + 20].copy_from_slice(&old.saturating_add_signed(shift).to_be_bytes());
            } else {
                let old = u64::from(u32::from_be_bytes(out[tfdt + 12..tfdt + 16].try_into().expect("4 bytes")));
                let new = u32::try_from(old.saturating_add_signed(shift)).map_err(|_| Mp4Error::MalformedTag("a 32-bit tfdt cannot hold the new time".into()))?;
                out[tfdt + 12..tfdt + 16].copy_from_slice(&new.to_be_bytes());
            }
        }
    }
    Ok(out)
}
