//! Enhanced RTMP video in fragmented MP4: ffmpeg encodes AV1 (SVT-AV1), VP9 (libvpx) and H.265
//! (x265) into fMP4; its samples become Enhanced RTMP tag bodies (`av01`/`vp09`/`hvc1`
//! SequenceStart with the configuration record, CodedFrames), go through `Fmp4Muxer`, and
//! ffmpeg decodes the result frame for frame like its own file.

use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

use mp4_atom::{Any, Codec, Decode, Encode, Moof, Moov};
use sluice_mp4::{Fmp4Muxer, Pushed};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-mp4-ex-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn ffmpeg(args: &[&str]) -> String {
    let out = Command::new("ffmpeg").args(["-hide_banner", "-v", "error", "-y"]).args(args).output().expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hashes(path: &std::path::Path) -> Vec<String> {
    let out = ffmpeg(&["-i", path.to_str().unwrap(), "-map", "0:v", "-f", "framemd5", "-"]);
    out.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(',').nth(5).map(|h| h.trim().to_owned())).collect()
}

/// A video sample of an fMP4 file ffmpeg wrote: decode time (ms), composition offset (ms), sync, data.
struct Sample {
    dts_ms: f64,
    cts_ms: f64,
    sync: bool,
    data: Vec<u8>,
}

/// The video sample entry's configuration box body (without its header) and the samples.
fn read_fmp4(bytes: &[u8]) -> (Codec, Vec<Sample>) {
    let mut cursor = Cursor::new(bytes);
    let mut codec = None;
    let mut timescale = 0;
    let mut samples = Vec::new();
    while (cursor.position() as usize) < bytes.len() {
        let start = cursor.position() as usize;
        match Any::decode(&mut cursor).unwrap() {
            Any::Moov(Moov { trak, .. }) => {
                codec = Some(trak[0].mdia.minf.stbl.stsd.codecs[0].clone());
                timescale = trak[0].mdia.mdhd.timescale;
            }
            Any::Moof(Moof { traf, .. }) => {
                let traf = &traf[0];
                let mut dts = traf.tfdt.as_ref().unwrap().base_media_decode_time;
                for trun in &traf.trun {
                    let mut at = start + trun.data_offset.unwrap() as usize;
                    for (i, s) in trun.samples.iter().enumerate() {
                        let size = s.size.or(traf.tfhd.default_sample_size).unwrap() as usize;
                        let flags = s.flags.or(if i == 0 { None } else { traf.tfhd.default_sample_flags }).or(traf.tfhd.default_sample_flags).unwrap_or(0);
                        let ms = |t: f64| t * 1000.0 / f64::from(timescale);
                        samples.push(Sample { dts_ms: ms(dts as f64), cts_ms: ms(s.cts.unwrap_or(0) as f64), sync: flags & 0x0001_0000 == 0, data: bytes[at..at + size].to_vec() });
                        at += size;
                        dts += u64::from(s.duration.or(traf.tfhd.default_sample_duration).unwrap());
                    }
                }
            }
            _ => {}
        }
    }
    (codec.unwrap(), samples)
}

/// A box's body: the box encoded, its 8-byte header (and a FullBox's 4 bytes with `full`) cut.
fn body<T: Encode>(atom: &T, full: bool) -> Vec<u8> {
    let mut out = Vec::new();
    atom.encode(&mut out).unwrap();
    out[if full { 12 } else { 8 }..].to_vec()
}

/// Enhanced RTMP video tag bodies (v1: `[IsExHeader|FrameType|PacketType][FourCC]…`) for the samples.
fn enhanced_tags(codec: &Codec, samples: &[Sample]) -> Vec<(f64, Vec<u8>)> {
    let (fourcc, record, with_cts): (&[u8; 4], Vec<u8>, bool) = match codec {
        Codec::Av01(c) => (b"av01", body(&c.av1c, false), false),
        Codec::Vp09(c) => (b"vp09", body(&c.vpcc, true), false),
        Codec::Hev1(c) => (b"hvc1", body(&c.hvcc, false), true),
        Codec::Hvc1(c) => (b"hvc1", body(&c.hvcc, false), true),
        other => panic!("unexpected codec {other:?}"),
    };
    let mut tags = vec![(0.0, [&[0x80 | (1 << 4)][..], fourcc, &record].concat())];
    for s in samples {
        let frame_type = if s.sync { 1 } else { 2 };
        let mut tag = vec![0x80 | (frame_type << 4) | 1];
        tag.extend_from_slice(fourcc);
        if with_cts {
            tag.extend_from_slice(&(s.cts_ms.round() as i32).to_be_bytes()[1..]);
        }
        tag.extend_from_slice(&s.data);
        tags.push((s.dts_ms, tag));
    }
    tags
}

fn round_trip(name: &str, encoder: &[&str], codec_prefix: &str, size: (u16, u16)) {
    let source = tmp(&format!("{name}.mp4"));
    let mut args = vec!["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3"];
    args.extend_from_slice(encoder);
    args.extend_from_slice(&["-g", "25", "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", source.to_str().unwrap()]);
    ffmpeg(&args);
    let (codec, samples) = read_fmp4(&std::fs::read(&source).unwrap());
    let tags = enhanced_tags(&codec, &samples);
    let mut m = Fmp4Muxer::new();
    let mut file = Vec::new();
    for (dts, tag) in &tags {
        let pushed = m.push_video(tag, *dts).unwrap();
        if file.is_empty() {
            assert_eq!(pushed, Pushed::Config { changed: false });
            let track = m.video_track().unwrap();
            assert!(track.codec_string.starts_with(codec_prefix), "{}", track.codec_string);
            assert_eq!((track.width, track.height), size, "{name}: sample entry size");
            file = m.init_segment().unwrap();
        } else if tag[0] >> 4 & 7 == 1 {
            if let Some(f) = m.fragment(Some(*dts)).unwrap() {
                file.extend(f.bytes);
            }
        }
    }
    file.extend(m.finish().unwrap().unwrap().bytes);
    let out = tmp(&format!("{name}-out.mp4"));
    std::fs::write(&out, &file).unwrap();
    let (want, got) = (hashes(&source), hashes(&out));
    assert_eq!(got.len(), 75, "{name}: frames");
    assert_eq!(got, want, "{name}: frames as ffmpeg's own file");
}

#[test]
fn av1_from_enhanced_rtmp() {
    round_trip("av1", &["-c:v", "libsvtav1", "-preset", "12"], "av01.0.", (320, 240));
}

#[test]
fn vp9_from_enhanced_rtmp() {
    round_trip("vp9", &["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"], "vp09.00.", (0, 0));
}

#[test]
fn hevc_from_enhanced_rtmp() {
    round_trip("hevc", &["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:bframes=2"], "hvc1.", (320, 240));
}

#[test]
fn flac_from_enhanced_rtmp() {
    let source = tmp("flac.mp4");
    ffmpeg(&[
        "-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", "3", "-c:a", "flac", "-strict", "-2",
        "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "500000", "-f", "mp4", source.to_str().unwrap(),
    ]);
    let (codec, samples) = read_fmp4(&std::fs::read(&source).unwrap());
    let Codec::Flac(flac) = codec else { panic!("not FLAC: {codec:?}") };
    // SequenceStart: "fLaC" and the metadata blocks (the dfLa body after its FullBox header)
    let mut m = Fmp4Muxer::new();
    let start = [&[0x90u8][..], b"fLaC", b"fLaC", &body(&flac.dfla, true)].concat();
    assert_eq!(m.push_audio(&start, 0.0).unwrap(), Pushed::Config { changed: false });
    assert_eq!(m.audio_track().unwrap().timescale, 48_000);
    let mut file = m.init_segment().unwrap();
    for s in &samples {
        assert_eq!(m.push_audio(&[&[0x91u8][..], b"fLaC", &s.data].concat(), s.dts_ms).unwrap(), Pushed::Sample);
    }
    file.extend(m.finish().unwrap().unwrap().bytes);
    let out = tmp("flac-out.mp4");
    std::fs::write(&out, &file).unwrap();
    let decode = |p: &std::path::Path| ffmpeg(&["-strict", "-2", "-i", p.to_str().unwrap(), "-map", "0:a", "-f", "framemd5", "-"]).lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(',').nth(5).map(|h| h.trim().to_owned())).collect::<Vec<_>>();
    let want = decode(&source);
    assert!(want.len() > 30);
    assert_eq!(decode(&out), want, "FLAC frames as ffmpeg's own file");
}

/// Enhanced RTMP v2 multitrack: two H.265 encodings of one picture (320x240 and 160x120, an
/// OBS-style ladder, same GOP) sent as ManyTracks messages (one sequence start for both, then
/// per frame one message with both tracks' samples). The all-track muxer writes a file of two
/// video tracks, each decoding like its source; a muxer of track 1 only writes that ladder step
/// as track 1 of a file of its own.
#[test]
fn multitrack_ladder_from_enhanced_rtmp() {
    let x265 = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:bframes=2:b-adapt=0:scenecut=0:keyint=25:min-keyint=25"];
    let mut sources = Vec::new();
    for (i, size) in ["320x240", "160x120"].iter().enumerate() {
        let source = tmp(&format!("ladder{i}.mp4"));
        let mut args = vec!["-f", "lavfi", "-i", "testsrc2=rate=25", "-t", "3", "-s", size];
        args.extend_from_slice(&x265);
        args.extend_from_slice(&["-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", source.to_str().unwrap()]);
        ffmpeg(&args);
        sources.push(source);
    }
    let tracks: Vec<(Codec, Vec<Sample>)> = sources.iter().map(|s| read_fmp4(&std::fs::read(s).unwrap())).collect();
    let tags: Vec<Vec<(f64, Vec<u8>)>> = tracks.iter().map(|(c, s)| enhanced_tags(c, s)).collect();
    assert_eq!(tags[0].len(), tags[1].len());
    // [IsExHeader|FrameType|Multitrack][ManyTracks|PacketType]["hvc1"] then per track [id][UI24 size][body]
    let many_tracks = |i: usize| -> (f64, Vec<u8>) {
        let (dts, first) = &tags[0][i];
        assert_eq!(*dts, tags[1][i].0, "both encodings' decode times");
        let mut message = vec![(first[0] & 0xF0) | 6, (1 << 4) | (first[0] & 0x0F)];
        message.extend_from_slice(b"hvc1");
        for (id, t) in tags.iter().enumerate() {
            let data = &t[i].1[5..];
            message.push(id as u8);
            message.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
            message.extend_from_slice(data);
        }
        (*dts, message)
    };
    let messages: Vec<(f64, Vec<u8>)> = (0..tags[0].len()).map(many_tracks).collect();
    for (muxer, name, want) in [(Fmp4Muxer::new(), "ladder-all", vec![0, 1]), (Fmp4Muxer::with_video_track(1), "ladder-1", vec![1])] {
        let mut m = muxer;
        assert_eq!(m.push_video(&messages[0].1, 0.0).unwrap(), Pushed::Config { changed: false });
        let ids: Vec<(u8, u32, u16)> = m.tracks().map(|t| (t.flv_track, t.id, t.track.width)).collect();
        let expected: Vec<(u8, u32, u16)> = want.iter().map(|&t| (t as u8, if t == want[0] { 1 } else { 3 }, if t == 0 { 320 } else { 160 })).collect();
        assert_eq!(ids, expected, "{name}: tracks");
        let mut file = m.init_segment().unwrap();
        for (dts, message) in &messages[1..] {
            let pushed = m.push_video(message, *dts).unwrap();
            assert_eq!(pushed, if message[0] >> 4 & 7 == 1 { Pushed::Keyframe } else { Pushed::Sample });
            if pushed == Pushed::Keyframe {
                if let Some(f) = m.fragment(Some(*dts)).unwrap() {
                    assert!(f.independent);
                    file.extend(f.bytes);
                }
            }
        }
        file.extend(m.finish().unwrap().unwrap().bytes);
        let out = tmp(&format!("{name}.mp4"));
        std::fs::write(&out, &file).unwrap();
        for (index, &track) in want.iter().enumerate() {
            let decode = |p: &std::path::Path, map: &str| {
                ffmpeg(&["-i", p.to_str().unwrap(), "-map", map, "-f", "framemd5", "-"]).lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(',').nth(5).map(|h| h.trim().to_owned())).collect::<Vec<_>>()
            };
            let got = decode(&out, &format!("0:v:{index}"));
            assert_eq!(got.len(), 75, "{name}: track {track} frames");
            assert_eq!(got, decode(&sources[track], "0:v:0"), "{name}: track {track} as its source");
        }
    }
    // a track that comes after the init segment was made is a change (a new file, a new HLS init)
    let mut m = Fmp4Muxer::new();
    m.push_video(&tags[0][0].1, 0.0).unwrap();
    m.init_segment().unwrap();
    let one_track = [&[0x80 | (1 << 4) | 6, 0x00][..], b"hvc1", &[1], &tags[1][0].1[5..]].concat();
    assert_eq!(m.push_video(&one_track, 0.0).unwrap(), Pushed::Config { changed: true });
}
