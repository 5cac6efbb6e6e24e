//! A mix of two synthetic inputs (a red and a blue picture, two tones), decoded back.

use sluice_audio::{AacDecoder, AacEncoder};
use sluice_mixer::h264::{EncoderSettings, H264Decoder, H264Encoder};
use sluice_mixer::{Layout, MixConfig, MixFrame, MixKind, Mixer, Picture, Rect};

const RED: [u8; 3] = [81, 90, 240];
const BLUE: [u8; 3] = [41, 240, 110];

struct Source {
    encoder: H264Encoder,
    picture: Picture,
    aac: AacEncoder,
    asc: Vec<u8>,
    tone_hz: f32,
    phase: f32,
}

impl Source {
    fn new(colour: [u8; 3], tone_hz: f32) -> Source {
        let settings = EncoderSettings {
            width: 320,
            height: 180,
            frame_rate: 30.0,
            bitrate: 400_000,
            keyframe_interval: 30,
        };
        let aac = AacEncoder::new(2, 96_000).unwrap();
        let asc = aac.info().unwrap().asc;
        Source {
            encoder: H264Encoder::new(&settings).unwrap(),
            picture: Picture::filled(320, 180, colour),
            aac,
            asc,
            tone_hz,
            phase: 0.0,
        }
    }

    /// FLV video bodies of the next frame (a sequence header first when there is one).
    fn video(&mut self, ts: u64) -> Vec<Vec<u8>> {
        let e = self.encoder.encode(&self.picture, ts).unwrap().unwrap();
        let mut bodies = Vec::new();
        if let Some(r) = e.record {
            bodies.push([&[0x17u8, 0, 0, 0, 0][..], &r].concat());
        }
        bodies.push(
            [
                &[if e.keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0][..],
                &e.access_unit,
            ]
            .concat(),
        );
        bodies
    }

    /// The FLV AAC body of the next 1 024 samples (none while the encoder fills its delay).
    fn audio(&mut self) -> Option<Vec<u8>> {
        let mut pcm = vec![0i16; 2048];
        for k in 0..1024 {
            let v = (self.phase.sin() * 0.4 * 32767.0) as i16;
            pcm[2 * k] = v;
            pcm[2 * k + 1] = v;
            self.phase += 2.0 * std::f32::consts::PI * self.tone_hz / 48_000.0;
        }
        let mut unit = vec![0u8; 4096];
        let r = self.aac.encode(&pcm, &mut unit).unwrap();
        (r.output_size > 0).then(|| [&[0xAFu8, 1][..], &unit[..r.output_size]].concat())
    }
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12)
}

#[test]
fn two_inputs_side_by_side_with_both_tones_on_the_host_timeline() {
    let config = MixConfig {
        width: 640,
        height: 360,
        video_bitrate: 1_000_000,
        latency_ms: 60,
        ..MixConfig::default()
    };
    let mut mixer = Mixer::new(config).unwrap();
    let mut host = Source::new(RED, 440.0);
    let mut guest = Source::new(BLUE, 1000.0);
    mixer.add_input(1, 1.0, true).unwrap();
    mixer.add_input(2, 1.0, false).unwrap();
    for (id, s) in [(1, &host), (2, &guest)] {
        mixer
            .push_audio(id, &[&[0xAFu8, 0][..], &s.asc].concat(), 0, 0)
            .unwrap();
    }
    // The host's timeline starts at 50 000 ms, the guest's at 0; 3 s of media in real time.
    let mut out: Vec<MixFrame> = Vec::new();
    let mut next_audio = 0.0f64;
    for now in 0..3000i64 {
        if now % 33 == 0 {
            let ts = now as u64;
            for b in host.video(ts) {
                mixer.push_video(1, &b, 50_000 + now, now).unwrap();
            }
            for b in guest.video(ts) {
                mixer.push_video(2, &b, now, now).unwrap();
            }
        }
        while next_audio <= now as f64 {
            let ts = next_audio.round() as i64;
            if let Some(b) = host.audio() {
                mixer.push_audio(1, &b, 50_000 + ts, now).unwrap();
            }
            if let Some(b) = guest.audio() {
                mixer.push_audio(2, &b, ts, now).unwrap();
            }
            next_audio += 1024.0 / 48.0;
        }
        mixer.poll(now, &mut out).unwrap();
    }
    let video: Vec<&MixFrame> = out.iter().filter(|f| f.kind == MixKind::Video).collect();
    let audio: Vec<&MixFrame> = out.iter().filter(|f| f.kind == MixKind::Audio).collect();
    assert!(video[0].sequence_header && audio[0].sequence_header);
    assert!(video.len() > 80, "{} video frames in 3 s", video.len());
    assert!(audio.len() > 120, "{} audio frames in 3 s", audio.len());
    for w in video[1..].windows(2) {
        assert!(w[1].timestamp_ms > w[0].timestamp_ms);
    }
    // On the host's timeline: the mix's timestamps are the host's (50 000 + elapsed - latency).
    let last = video.last().unwrap().timestamp_ms;
    assert!(
        (52_800..=53_000).contains(&last),
        "last video timestamp {last}"
    );

    // The last picture: host (red) on the left, guest (blue) on the right, letterboxed.
    let mut decoder = H264Decoder::new().unwrap();
    decoder.configure(&video[0].body[5..]).unwrap();
    let mut picture = None;
    for f in &video[1..] {
        picture = decoder.decode(&f.body[5..]).unwrap().or(picture);
    }
    let p = picture.unwrap();
    assert_eq!((p.width(), p.height()), (640, 360));
    assert!(
        close(p.pixel(160, 180), RED),
        "left {:?}",
        p.pixel(160, 180)
    );
    assert!(
        close(p.pixel(480, 180), BLUE),
        "right {:?}",
        p.pixel(480, 180)
    );
    assert!(
        close(p.pixel(160, 20), sluice_mixer::BLACK),
        "letterbox {:?}",
        p.pixel(160, 20)
    );
    assert!(close(mixer.canvas().pixel(480, 180), BLUE));

    // The audio: both tones, not clipped.
    let mut dec = AacDecoder::new(&audio[0].body[2..]).unwrap();
    let mut pcm: Vec<f32> = Vec::new();
    for f in &audio[audio.len() - 40..] {
        dec.decode(&f.body[2..], |s| pcm.extend(s.iter().step_by(2)))
            .unwrap();
    }
    let power = |hz: f32| {
        let (mut re, mut im) = (0.0f32, 0.0f32);
        for (k, v) in pcm.iter().enumerate() {
            let w = 2.0 * std::f32::consts::PI * hz * k as f32 / 48_000.0;
            re += v * w.cos();
            im += v * w.sin();
        }
        (re * re + im * im).sqrt() / pcm.len() as f32
    };
    let (a, b, off) = (power(440.0), power(1000.0), power(700.0));
    assert!(
        a > 0.1 && b > 0.1 && off < 0.02,
        "440 Hz {a}, 1 kHz {b}, 700 Hz {off}"
    );
    let peak = pcm.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(peak <= 1.0, "peak {peak}");
    assert_eq!(mixer.stats().video.errors, 0);
}

#[test]
fn a_stalled_input_keeps_its_picture_then_leaves_the_layout() {
    let config = MixConfig {
        width: 320,
        height: 180,
        latency_ms: 0,
        input_timeout_ms: 500,
        layout: Layout::Grid,
        ..MixConfig::default()
    };
    let mut mixer = Mixer::new(config).unwrap();
    let mut a = Source::new(RED, 440.0);
    let mut b = Source::new(BLUE, 1000.0);
    mixer.add_input(1, 1.0, false).unwrap();
    mixer.add_input(2, 1.0, false).unwrap();
    let mut out = Vec::new();
    for now in (0..2000i64).step_by(33) {
        for f in a.video(now as u64) {
            mixer.push_video(1, &f, now, now).unwrap();
        }
        if now < 600 {
            for f in b.video(now as u64) {
                mixer.push_video(2, &f, now, now).unwrap();
            }
        }
        mixer.poll(now, &mut out).unwrap();
        if (300..600).contains(&now) || (700..1000).contains(&now) {
            assert_eq!(mixer.visible_inputs(now), 2, "at {now}");
        }
        if now > 1200 {
            assert_eq!(mixer.visible_inputs(now), 1, "at {now}");
        }
    }
    // Alone again, the first input fills the canvas.
    assert!(close(mixer.canvas().pixel(160, 90), RED));
    assert!(
        close(mixer.canvas().pixel(300, 90), RED),
        "{:?}",
        mixer.canvas().pixel(300, 90)
    );
}

#[test]
fn explicit_rects_and_bad_input() {
    let config = MixConfig {
        width: 320,
        height: 180,
        latency_ms: 0,
        layout: Layout::Rects(vec![Rect {
            x: 0,
            y: 0,
            width: 160,
            height: 90,
        }]),
        ..MixConfig::default()
    };
    let mut mixer = Mixer::new(config).unwrap();
    mixer.add_input(7, 1.0, false).unwrap();
    assert_eq!(
        mixer.push_video(8, &[0x17, 0], 0, 0).unwrap_err().code(),
        "MIX_UNKNOWN_INPUT"
    );
    assert_eq!(
        mixer
            .push_video(7, &[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41], 0, 0)
            .unwrap_err()
            .code(),
        "MIX_UNSUPPORTED_INPUT"
    );
    assert_eq!(
        mixer
            .push_video(7, &[0x1C, 0, 0, 0, 0], 0, 0)
            .unwrap_err()
            .code(),
        "MIX_UNSUPPORTED_INPUT"
    );
    assert_eq!(
        mixer
            .push_audio(7, &[0xAF, 1, 1, 2], 0, 0)
            .unwrap_err()
            .code(),
        "MIX_UNSUPPORTED_INPUT"
    );
    assert_eq!(
        mixer
            .push_audio(7, &[0x2F, 0, 1, 2], 0, 0)
            .unwrap_err()
            .code(),
        "MIX_UNSUPPORTED_INPUT"
    );
    assert!(Mixer::new(MixConfig {
        width: 17,
        ..MixConfig::default()
    })
    .is_err());
    let mut s = Source::new(RED, 440.0);
    let mut out = Vec::new();
    for now in (0..300i64).step_by(33) {
        for f in s.video(now as u64) {
            mixer.push_video(7, &f, now, now).unwrap();
        }
        mixer.poll(now, &mut out).unwrap();
    }
    assert!(close(mixer.canvas().pixel(80, 45), RED));
    assert!(close(mixer.canvas().pixel(240, 45), sluice_mixer::BLACK));
}

#[test]
fn the_timeline_input_stamps_the_output_even_when_polled_before_its_first_frame() {
    let mut mixer = Mixer::new(MixConfig {
        width: 320,
        height: 180,
        frame_rate: 25.0,
        ..MixConfig::default()
    })
    .unwrap();
    let mut host = Source::new(RED, 440.0);
    mixer.add_input(0, 1.0, true).unwrap();
    let mut out = Vec::new();
    mixer.poll(0, &mut out).unwrap();
    let bodies: Vec<Vec<u8>> = (0..50).flat_map(|k| host.video(k * 40)).collect();
    // The sequence header carries the publish time (0); the cached GOP arrives at once.
    mixer.push_video(0, &bodies[0], 0, 5).unwrap();
    for (k, b) in bodies[1..].iter().enumerate() {
        mixer.push_video(0, b, 2_000 + k as i64 * 40, 5).unwrap();
    }
    for now in 5..400 {
        mixer.poll(now, &mut out).unwrap();
    }
    let first = out
        .iter()
        .find(|f| f.kind == MixKind::Video && !f.sequence_header)
        .unwrap();
    assert!(first.timestamp_ms > 3_800, "{}", first.timestamp_ms);
}

/// Power of `hz` in mono `pcm` at 48 kHz (a single DFT bin).
fn tone_power(pcm: &[f32], hz: f32) -> f32 {
    let (mut re, mut im) = (0.0f32, 0.0f32);
    for (k, v) in pcm.iter().enumerate() {
        let w = 2.0 * std::f32::consts::PI * hz * k as f32 / 48_000.0;
        re += v * w.cos();
        im += v * w.sin();
    }
    (re * re + im * im).sqrt() / pcm.len() as f32
}

#[test]
fn each_input_hears_the_others_but_not_itself() {
    let mut mixer = Mixer::new(MixConfig { width: 160, height: 90, latency_ms: 40, ..MixConfig::default() }).unwrap();
    let tones = [440.0, 660.0, 1000.0];
    let mut sources: Vec<Source> = tones.iter().map(|&t| Source::new(RED, t)).collect();
    for (i, s) in sources.iter().enumerate() {
        mixer.add_input(i as u32, 1.0, false).unwrap();
        mixer.set_minus(i as u32, true, 64_000).unwrap();
        mixer.push_audio(i as u32, &[&[0xAFu8, 0][..], &s.asc].concat(), 0, 0).unwrap();
    }
    let mut out = Vec::new();
    let mut next_audio = 0.0f64;
    for now in 0..2000i64 {
        while next_audio <= now as f64 {
            for (i, s) in sources.iter_mut().enumerate() {
                if let Some(b) = s.audio() {
                    mixer.push_audio(i as u32, &b, next_audio.round() as i64, now).unwrap();
                }
            }
            next_audio += 1024.0 / 48.0;
        }
        mixer.poll(now, &mut out).unwrap();
    }
    for (i, own) in tones.iter().enumerate() {
        let packets: Vec<&MixFrame> = out.iter().filter(|f| f.kind == MixKind::Minus(i as u32)).collect();
        assert!(packets.len() > 80, "{} packets for input {i}", packets.len());
        for w in packets.windows(2) {
            assert_eq!(w[1].timestamp_ms - w[0].timestamp_ms, 20);
        }
        let mut dec = opus::Decoder::new(48_000, opus::Channels::Stereo).unwrap();
        let mut pcm = Vec::new();
        for p in &packets[packets.len() - 40..] {
            let mut buf = vec![0.0f32; 2 * 960];
            let n = dec.decode_float(&p.body, &mut buf, false).unwrap();
            pcm.extend(buf[..2 * n].iter().step_by(2));
        }
        let others: Vec<f32> = tones.iter().filter(|t| *t != own).map(|&t| tone_power(&pcm, t)).collect();
        let mine = tone_power(&pcm, *own);
        assert!(others.iter().all(|&p| p > 0.05) && mine < 0.01, "input {i}: own {own} Hz {mine}, others {others:?}");
    }
}
