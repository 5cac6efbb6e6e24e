//! The muxer against a real peer: ffmpeg makes an FLV (H.264 with B-frames + AAC), its tags go
//! through `Fmp4Muxer` one GOP per fragment, and ffmpeg decodes the fMP4 frame for frame like
//! the FLV (framemd5 hashes, video and audio), also when the file is cut inside its last
//! fragment (a crash mid-write).

use std::path::{Path, PathBuf};
use std::process::Command;

use sluice_mp4::{Fmp4Muxer, Pushed};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-mp4-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn ffmpeg(args: &[&str]) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Hashes of the decoded frames of stream `index` (framemd5: `index, dts, pts, duration, size, hash`).
fn hashes(path: &Path, index: u32) -> Vec<String> {
    let out = ffmpeg(&[
        "-i",
        path.to_str().unwrap(),
        "-map",
        &format!("0:{index}"),
        "-f",
        "framemd5",
        "-",
    ]);
    out.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(',').nth(5).map(|h| h.trim().to_owned()))
        .collect()
}

/// FLV tags (FLV spec E.4.1): `(type, timestamp ms, body)`.
fn flv_tags(flv: &[u8]) -> Vec<(u8, u32, Vec<u8>)> {
    let mut tags = Vec::new();
    let mut at = u32::from_be_bytes(flv[5..9].try_into().unwrap()) as usize + 4;
    while at + 11 <= flv.len() {
        let kind = flv[at];
        let size = u32::from_be_bytes([0, flv[at + 1], flv[at + 2], flv[at + 3]]) as usize;
        let ts = u32::from_be_bytes([flv[at + 7], flv[at + 4], flv[at + 5], flv[at + 6]]);
        tags.push((kind, ts, flv[at + 11..at + 11 + size].to_vec()));
        at += 11 + size + 4;
    }
    tags
}

/// The FLV muxed as a recorder does: init segment, then a fragment before every keyframe.
fn mux(tags: &[(u8, u32, Vec<u8>)]) -> (Vec<u8>, Vec<usize>) {
    let mut m = Fmp4Muxer::new();
    let mut file = Vec::new();
    let mut fragment_ends = Vec::new();
    for (kind, ts, body) in tags {
        let pushed = match kind {
            9 => m.push_video(body, f64::from(*ts)).unwrap(),
            8 => m.push_audio(body, f64::from(*ts)).unwrap(),
            _ => continue,
        };
        if file.is_empty() && m.video_track().is_some() && m.audio_track().is_some() {
            file = m.init_segment().unwrap();
        }
        let keyframe = pushed == Pushed::Keyframe;
        assert_eq!(keyframe, *kind == 9 && pushed != Pushed::Ignored && body[0] >> 4 == 1 && body[1] == 1);
        if keyframe {
            if let Some(f) = m.fragment(Some(f64::from(*ts))).unwrap() {
                file.extend_from_slice(&f.bytes);
                fragment_ends.push(file.len());
            }
        }
    }
    let last = m.finish().unwrap().unwrap();
    assert!(last.end_ms > last.start_ms);
    file.extend_from_slice(&last.bytes);
    fragment_ends.push(file.len());
    (file, fragment_ends)
}

#[test]
fn ffmpeg_decodes_the_fmp4_like_the_flv() {
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        panic!("ffmpeg is needed (apt-get install ffmpeg)");
    }
    let flv = tmp("source.flv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        "4",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-bf",
        "2",
        "-g",
        "25",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-f",
        "flv",
        flv.to_str().unwrap(),
    ]);
    let tags = flv_tags(&std::fs::read(&flv).unwrap());
    let (file, ends) = mux(&tags);
    let mp4 = tmp("out.mp4");
    std::fs::write(&mp4, &file).unwrap();
    assert_eq!(hashes(&mp4, 0), hashes(&flv, 0), "video frames");
    assert_eq!(hashes(&mp4, 1), hashes(&flv, 1), "audio frames");
    assert!(ends.len() >= 4, "one fragment per GOP: {ends:?}");

    // Cut inside the last fragment: everything before it still decodes.
    let cut = tmp("cut.mp4");
    let whole = ends[ends.len() - 2];
    std::fs::write(&cut, &file[..whole + (ends[ends.len() - 1] - whole) / 2]).unwrap();
    let got = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-v",
            "error",
            "-i",
            cut.to_str().unwrap(),
            "-map",
            "0:0",
            "-f",
            "framemd5",
            "-",
        ])
        .output()
        .unwrap();
    let video: Vec<String> = String::from_utf8_lossy(&got.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(',').nth(5).map(|h| h.trim().to_owned()))
        .collect();
    let source = hashes(&flv, 0);
    assert!(
        video.len() >= 75,
        "decoded {} frames of the first three GOPs",
        video.len()
    );
    assert_eq!(video[..], source[..video.len()]);
}

#[test]
fn refuses_bad_tags_and_keeps_going() {
    let mut m = Fmp4Muxer::new();
    assert_eq!(
        m.push_video(&[], 0.0).unwrap_err().code(),
        "MP4_MALFORMED_TAG"
    );
    assert_eq!(
        m.push_video(&[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65], 0.0)
            .unwrap_err()
            .code(),
        "MP4_NO_SEQUENCE_HEADER"
    );
    assert_eq!(
        m.push_video(&[0x17, 0, 0, 0, 0, 1, 2], 0.0)
            .unwrap_err()
            .code(),
        "MP4_MALFORMED_TAG"
    );
    assert_eq!(
        m.push_audio(&[0x2F, 0x00], 0.0).unwrap_err().code(),
        "MP4_UNSUPPORTED_CODEC"
    );
    assert_eq!(
        m.init_segment().unwrap_err().code(),
        "MP4_NO_SEQUENCE_HEADER"
    );
    // AAC-LC 44.1 kHz stereo: a track, then frames.
    assert_eq!(
        m.push_audio(&[0xAF, 0, 0x12, 0x10], 0.0).unwrap(),
        Pushed::Config { changed: false }
    );
    assert_eq!(
        m.push_audio(&[0xAF, 0, 0x12, 0x10], 0.0).unwrap(),
        Pushed::Ignored
    );
    assert_eq!(m.audio_track().unwrap().codec_string, "mp4a.40.2");
    assert_eq!(
        m.push_audio(&[0xAF, 1, 0x21, 0x00], 0.0).unwrap(),
        Pushed::Sample
    );
    assert_eq!(
        m.push_audio(&[0xAF, 1, 0x21, 0x00], 23.0).unwrap(),
        Pushed::Sample
    );
    let f = m.fragment(None).unwrap().unwrap();
    assert_eq!(f.samples, 1, "the last sample waits for its duration");
    assert!(m
        .init_segment()
        .unwrap()
        .starts_with(&[0, 0, 0, 28, b'f', b't', b'y', b'p']));
    assert_eq!(
        m.push_audio(&[0xAF, 0, 0x11, 0x90], 40.0).unwrap(),
        Pushed::Config { changed: true }
    );
}

#[test]
fn index_and_rebase_play_two_files_as_one() {
    let flv = tmp("index-source.flv");
    ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", "3",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-f", "flv", flv.to_str().unwrap(),
    ]);
    let (file, ends) = mux(&flv_tags(&std::fs::read(&flv).unwrap()));
    let index = sluice_mp4::playback::index(&mut std::io::Cursor::new(&file), file.len() as u64).unwrap();
    assert_eq!(index.fragments.len(), ends.len());
    assert_eq!(index.timescales, vec![(1, 90_000), (2, 48_000)]);
    assert_eq!(index.fragments.last().map(|f| f.offset + f.length), Some(file.len() as u64));
    let duration = index.fragments.last().unwrap().end_ms;
    assert!((2990.0..3100.0).contains(&duration), "{duration}");
    for w in index.fragments.windows(2) {
        assert!(w[1].start_ms >= w[0].start_ms && w[0].offset + w[0].length == w[1].offset);
    }
    // A cut file: whole fragments only.
    let cut = sluice_mp4::playback::index(&mut std::io::Cursor::new(&file[..file.len() - 10]), file.len() as u64 - 10).unwrap();
    assert_eq!(cut.fragments.len(), ends.len() - 1);

    // The file, then its fragments again `duration` later: one fMP4 twice as long.
    let mut joined = file.clone();
    for (i, f) in index.fragments.iter().enumerate() {
        let bytes = &file[f.offset as usize..(f.offset + f.length) as usize];
        joined.extend(sluice_mp4::playback::rebase(bytes, duration, 1000 + i as u32, &index.timescales).unwrap());
    }
    let out = tmp("joined.mp4");
    std::fs::write(&out, &joined).unwrap();
    let once = hashes(&flv, 0);
    let twice = hashes(&out, 0);
    assert_eq!(twice.len(), 2 * once.len());
    assert_eq!(twice[once.len()..], once[..]);
    let probe = Command::new("ffprobe").args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", out.to_str().unwrap()]).output().unwrap();
    let seconds: f64 = String::from_utf8_lossy(&probe.stdout).trim().parse().unwrap();
    assert!((5.9..6.3).contains(&seconds), "joined duration {seconds} s");
}
