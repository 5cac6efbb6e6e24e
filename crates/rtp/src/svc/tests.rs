use super::*;

/// A key picture's first packet of spatial layer 0 in non-flexible mode (RFC 9628 §4.2):
/// 15-bit picture ID 0x1234, layer byte, TL0PICIDX 5, and the SS of three spatial layers
/// (320×180, 640×360, 1280×720) with the L1T3-style picture group TIDs 0, 2, 1, 2.
fn key_descriptor() -> Vec<u8> {
    let mut d = vec![0xAA, 0x80 | 0x12, 0x34, 0x00, 0x05, (2 << 5) | 0x10 | 0x08];
    for (w, h) in [(320u16, 180u16), (640, 360), (1280, 720)] {
        d.extend_from_slice(&w.to_be_bytes());
        d.extend_from_slice(&h.to_be_bytes());
    }
    d.extend_from_slice(&[4, 0x04, 4, 0x54, 1, 0x34, 2, 0x54, 1]);
    d
}

/// A non-key packet: `I` with a 7-bit picture ID, `L`, `B`/`E` as given, layer `tid`/`sid`.
fn layer_descriptor(tid: u8, sid: u8, begin: bool, end: bool) -> Vec<u8> {
    let b0 = 0x80 | 0x40 | 0x20 | if begin { 0x08 } else { 0 } | if end { 0x04 } else { 0 };
    vec![b0, 0x11, (tid << 5) | (sid << 1) | u8::from(sid > 0), 0x06, 0xAB]
}

#[test]
fn parses_a_key_picture_with_its_scalability_structure() {
    let bytes = key_descriptor();
    let d = Vp9Descriptor::parse(&bytes).unwrap();
    assert_eq!(d.picture_id, Some(0x1234));
    assert!(d.starts_keyframe() && !d.flexible && d.begin && !d.end);
    assert_eq!((d.temporal_id, d.spatial_id, d.tl0_pic_idx), (0, 0, Some(5)));
    let ss = d.scalability.unwrap();
    assert_eq!(ss.spatial_layers, 3);
    assert_eq!(ss.temporal_layers, 3);
    assert_eq!(ss.resolutions, vec![(320, 180), (640, 360), (1280, 720)]);
    assert_eq!(d.length, bytes.len());
}

#[test]
fn reads_layer_indices_and_flexible_reference_indices() {
    let d = Vp9Descriptor::parse(&layer_descriptor(2, 1, false, true)).unwrap();
    assert_eq!((d.temporal_id, d.spatial_id, d.inter_layer, d.end, d.picture_id), (2, 1, true, true, Some(0x11)));
    assert!(!d.starts_keyframe());
    // flexible mode, P: two reference indices (N set on the first), no TL0PICIDX
    let flex = [0x80 | 0x40 | 0x20 | 0x10 | 0x08, 0x01, (1 << 5) | 0x10, 0x03, 0x04, 0xFF];
    let d = Vp9Descriptor::parse(&flex).unwrap();
    assert_eq!((d.temporal_id, d.switching_up, d.tl0_pic_idx, d.length), (1, true, None, 5));
    // a fourth reference index is refused
    assert!(Vp9Descriptor::parse(&[0x40 | 0x10, 0x03, 0x03, 0x03, 0x02]).is_err());
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    for bytes in [key_descriptor(), layer_descriptor(1, 2, true, false)] {
        let full = Vp9Descriptor::parse(&bytes).unwrap().length;
        for cut in 0..full {
            assert!(matches!(Vp9Descriptor::parse(&bytes[..cut]), Err(RtpError::MalformedPayload { .. })), "cut at {cut}");
        }
    }
}

/// An RTP packet (PT 98, sequence `seq`) with `payload`, the marker bit as given and, when
/// `dd` is given, a one-byte-form header extension holding it as element `DD_ID` (RFC 8285
/// §4.2; a two-byte form when longer than 16 bytes, §4.3).
fn rtp(seq: u16, payload: &[u8], marker: bool, dd: Option<&[u8]>) -> Vec<u8> {
    let mut p = vec![0x80, if marker { 0x80 | 98 } else { 98 }, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 7];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    if let Some(dd) = dd {
        p[0] |= 0x10;
        let mut ext = if dd.len() <= 16 { vec![(DD_ID << 4) | (dd.len() as u8 - 1)] } else { vec![DD_ID, dd.len() as u8] };
        ext.extend_from_slice(dd);
        while ext.len() % 4 != 0 {
            ext.push(0);
        }
        let profile: u16 = if dd.len() <= 16 { 0xBEDE } else { 0x1000 };
        p.extend_from_slice(&profile.to_be_bytes());
        p.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
        p.extend_from_slice(&ext);
    }
    p.extend_from_slice(payload);
    p
}

const DD_ID: u8 = 12;

#[test]
fn an_operating_point_drops_higher_layers_and_ends_pictures_at_its_top_spatial_layer() {
    let admit = |f: &mut SvcFilter, d: Vec<u8>, marker: bool| f.admit(&rtp(1, &d, marker, None)).unwrap();
    let mut s1 = SvcFilter::vp9(1, 2);
    assert_eq!(admit(&mut s1, layer_descriptor(0, 2, true, true), true), SvcVerdict::Drop, "spatial layer 2");
    assert_eq!(admit(&mut s1, layer_descriptor(0, 1, false, true), false), SvcVerdict::Forward { marker: true, switch_point: false }, "the end of layer 1 ends the picture");
    assert_eq!(admit(&mut s1, layer_descriptor(0, 1, true, false), false), SvcVerdict::Forward { marker: false, switch_point: false });
    assert_eq!(admit(&mut s1, layer_descriptor(0, 0, false, true), false), SvcVerdict::Forward { marker: false, switch_point: false }, "layer 0 ends below the top kept");
    let mut all = SvcFilter::vp9(2, 2);
    assert_eq!(admit(&mut all, layer_descriptor(0, 1, false, true), false), SvcVerdict::Forward { marker: false, switch_point: false });
    assert_eq!(admit(&mut all, layer_descriptor(0, 2, false, true), true), SvcVerdict::Forward { marker: true, switch_point: false });
    let mut t1 = SvcFilter::vp9(0, 1);
    assert_eq!(admit(&mut t1, layer_descriptor(2, 0, true, true), true), SvcVerdict::Drop, "temporal layer 2");
    assert_eq!(admit(&mut t1, layer_descriptor(1, 0, true, true), true), SvcVerdict::Forward { marker: true, switch_point: false });
    assert!(t1.admit(&rtp(1, &[0xA0], false, None)).is_err());
    assert!(t1.admit(&[0x80, 98, 0]).is_err(), "not an RTP packet");
}

/// MSB-first bit writer for dependency descriptors.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    bit: usize,
}

impl Bits {
    fn put(&mut self, n: u32, v: u32) -> &mut Self {
        for i in (0..n).rev() {
            if self.bit % 8 == 0 {
                self.bytes.push(0);
            }
            let last = self.bytes.len() - 1;
            self.bytes[last] |= (((v >> i) & 1) as u8) << (7 - self.bit % 8);
            self.bit += 1;
        }
        self
    }
}

/// The mandatory fields of a dependency descriptor (AV1 RTP Appendix A.8.1).
fn dd_mandatory(start: bool, end: bool, template_id: u8, frame_number: u16) -> Bits {
    let mut b = Bits::default();
    b.put(1, u32::from(start)).put(1, u32::from(end)).put(6, u32::from(template_id)).put(16, u32::from(frame_number));
    b
}

/// A key frame's descriptor carrying an `L2T2`-shaped structure (A.8.2): template id offset
/// 10, templates (S0,T0) (S0,T1) (S1,T0) (S1,T1), 4 decode targets, one chain per spatial
/// layer, render resolutions 640×360 and 1280×720.
fn dd_with_structure(template_id: u8) -> Vec<u8> {
    let mut b = dd_mandatory(true, false, template_id, 100);
    b.put(1, 1).put(1, 0).put(3, 0); // structure present, no active mask, no custom fields
    b.put(6, 10).put(5, 3); // template id offset 10, DtCnt 4
    for idc in [1, 2, 1, 3] {
        b.put(2, idc); // next_layer_idc: T+1, S+1, T+1, end
    }
    for dtis in [[2u32, 2, 2, 2], [0, 1, 0, 1], [0, 0, 2, 2], [0, 0, 0, 1]] {
        for dti in dtis {
            b.put(2, dti);
        }
    }
    for fdiffs in [&[][..], &[1][..], &[1][..], &[1, 2][..]] {
        for &f in fdiffs {
            b.put(1, 1).put(4, f - 1);
        }
        b.put(1, 0);
    }
    // chain_cnt ns(5) = 2: w 3, m 3, value 2 < 3 in 2 bits
    b.put(2, 2);
    for protected_by in [0u32, 0, 1, 1] {
        b.put(1, protected_by); // ns(2): w 2, m 2, one bit
    }
    for _ in 0..4 {
        b.put(4, 1).put(4, 1);
    }
    b.put(1, 1).put(16, 639).put(16, 359).put(16, 1279).put(16, 719);
    b.bytes
}

#[test]
fn reads_a_template_structure_and_each_frames_layer_from_its_template() {
    let bytes = dd_with_structure(10);
    let d = DependencyDescriptor::parse(&bytes, None).unwrap();
    assert!(d.start_of_frame && !d.end_of_frame);
    assert_eq!((d.template_id, d.frame_number, d.active_decode_targets), (10, 100, Some(0b1111)));
    let s = d.structure.unwrap();
    assert_eq!(s.templates, vec![(0, 0), (0, 1), (1, 0), (1, 1)]);
    assert_eq!((s.decode_targets, s.spatial_layers(), s.temporal_layers()), (4, 2, 2));
    assert_eq!(s.resolutions, vec![(640, 360), (1280, 720)]);
    assert_eq!(s.layer_of(10), Some((0, 0)));
    assert_eq!(s.layer_of(13), Some((1, 1)));
    assert_eq!(s.layer_of(14), None, "past the templates");
    assert_eq!(s.layer_of(9), None, "ids wrap at 64: 9 is index 63");
    // a later frame: mandatory fields only
    let d = DependencyDescriptor::parse(&dd_mandatory(false, true, 12, 101).bytes, Some(&s)).unwrap();
    assert!(d.structure.is_none() && d.end_of_frame && d.template_id == 12);
    // an active decode targets mask without a structure takes the known structure's width
    let mut b = dd_mandatory(true, true, 11, 102);
    b.put(1, 0).put(1, 1).put(3, 0).put(4, 0b0101);
    assert_eq!(DependencyDescriptor::parse(&b.bytes, Some(&s)).unwrap().active_decode_targets, Some(0b0101));
}

#[test]
fn every_truncated_dependency_descriptor_is_an_error_not_a_panic() {
    let bytes = dd_with_structure(10);
    for cut in (0..bytes.len()).filter(|&c| c != 3) {
        assert!(matches!(DependencyDescriptor::parse(&bytes[..cut], None), Err(RtpError::MalformedPayload { .. })), "cut at {cut}");
    }
    // 64 templates, then a 65th
    let mut b = dd_mandatory(true, false, 0, 0);
    b.put(5, 0b10000).put(6, 0).put(5, 0);
    for _ in 0..64 {
        b.put(2, 0);
    }
    b.put(2, 3);
    assert!(DependencyDescriptor::parse(&b.bytes, None).is_err());
}

#[test]
fn a_dependency_descriptor_operating_point_learns_the_structure_then_filters_by_template() {
    let mut s0 = SvcFilter::dependency_descriptor(0, 1, DD_ID);
    let later = |start: bool, end: bool, template: u8| dd_mandatory(start, end, template, 7).bytes;
    assert_eq!(s0.admit(&rtp(1, &[1], false, Some(&later(true, true, 10)))).unwrap(), SvcVerdict::Drop, "no structure yet");
    assert_eq!(s0.admit(&rtp(2, &[1], false, Some(&dd_with_structure(10)))).unwrap(), SvcVerdict::Forward { marker: false, switch_point: true }, "S0 key frame start (a 2-byte-form element): a switch point for S0 T0–T1");
    assert_eq!(s0.admit(&rtp(3, &[1], false, Some(&later(false, true, 10)))).unwrap(), SvcVerdict::Forward { marker: true, switch_point: false }, "S0 ends the picture for this point");
    assert_eq!(s0.admit(&rtp(4, &[1], true, Some(&later(true, true, 12)))).unwrap(), SvcVerdict::Drop, "S1");
    assert_eq!(s0.admit(&rtp(5, &[1], false, Some(&later(true, true, 11)))).unwrap(), SvcVerdict::Forward { marker: true, switch_point: false }, "S0 T1");
    assert_eq!(s0.admit(&rtp(6, &[1], false, None)).unwrap(), SvcVerdict::Drop, "no descriptor");
    assert_eq!(s0.admit(&rtp(7, &[1], false, Some(&later(true, true, 30)))).unwrap(), SvcVerdict::Drop, "unknown template");
    let mut t0 = SvcFilter::dependency_descriptor(1, 0, DD_ID);
    t0.admit(&rtp(1, &[1], false, Some(&dd_with_structure(10)))).unwrap();
    assert_eq!(t0.admit(&rtp(2, &[1], false, Some(&later(true, true, 13)))).unwrap(), SvcVerdict::Drop, "T1");
    assert_eq!(t0.admit(&rtp(3, &[1], true, Some(&later(true, true, 12)))).unwrap(), SvcVerdict::Forward { marker: true, switch_point: false });
    assert!(t0.admit(&rtp(4, &[1], false, Some(&[0x80, 0]))).is_err(), "a descriptor shorter than 3 bytes");
}

/// A real key frame descriptor: the first packet of a Chromium 156 AV1 `L3T3_KEY` key frame
/// (WHIP to Sluice, 1280×720 camera), the 90-byte Dependency Descriptor element as sent.
pub(crate) const CHROMIUM_L3T3_KEY_STRUCTURE: &str = "80005c80081485214eaaaaa8000600004000100002aa80a8000600004000100002a000a800060000400016d549241b5524906d54923157e001974ca864330e222396eca8655304224390eca87753013f00b3027f016704ff02cf";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn reads_chromiums_l3t3_key_structure() {
    let d = DependencyDescriptor::parse(&hex(CHROMIUM_L3T3_KEY_STRUCTURE), None).unwrap();
    assert!(d.start_of_frame && !d.end_of_frame);
    let s = d.structure.expect("a key frame carries the structure");
    assert_eq!((s.spatial_layers(), s.temporal_layers(), s.decode_targets), (3, 3, 9));
    assert_eq!(s.resolutions, vec![(320, 180), (640, 360), (1280, 720)]);
    assert_eq!(s.layer_of(d.template_id), Some((0, 0)), "the key frame starts at S0 T0");
    assert_eq!(d.active_decode_targets, Some(0x1FF));
    // every (spatial, temporal) pair has a template
    for sid in 0..3 {
        for tid in 0..3 {
            assert!(s.templates.contains(&(sid, tid)), "S{sid}T{tid}");
        }
    }
}

#[test]
fn decode_targets_come_from_the_template_dtis() {
    let s = DependencyDescriptor::parse(&dd_with_structure(10), None).unwrap().structure.unwrap();
    // dt0 S0T0, dt1 S0T0–T1, dt2 S0T0 + S1T0, dt3 all (the DTIs of dd_with_structure)
    assert_eq!(s.dtis, vec![0b10_10_10_10, 0b01_00_01_00, 0b10_10_00_00, 0b01_00_00_00]);
    assert_eq!(DecodeTargetIndication::of(s.dtis[1], 1), DecodeTargetIndication::Discardable);
    assert_eq!(DecodeTargetIndication::of(s.dtis[0], 3), DecodeTargetIndication::Switch);
    assert_eq!(s.decode_target_of(0, 0), Some(0));
    assert_eq!(s.decode_target_of(0, 7), Some(1));
    assert_eq!(s.decode_target_of(1, 0), Some(2));
    assert_eq!(s.decode_target_of(1, 1), Some(3));
    assert_eq!(s.decode_target_of(7, 7), Some(3));
    // a frame's own DTIs (custom_dtis_flag) follow the extended fields
    let mut b = dd_mandatory(true, true, 11, 102);
    b.put(1, 0).put(1, 0).put(1, 1).put(2, 0).put(2, 3).put(2, 2).put(2, 0).put(2, 1);
    let d = DependencyDescriptor::parse(&b.bytes, Some(&s)).unwrap();
    assert_eq!(d.custom_dtis, Some(0b01_00_10_11));
    assert_eq!(d.dtis(&s), Some(0b01_00_10_11), "in place of the template's");
    assert_eq!(DependencyDescriptor::parse(&b.bytes, None).unwrap().custom_dtis, None, "no structure: their count is unknown");
}

#[test]
fn switching_points_are_base_layer_frames_that_say_so() {
    // VP9: TID 0, SID 0, B and U; only for operating points of spatial layer 0
    let up = |tid: u8| {
        let mut d = layer_descriptor(tid, 0, true, true);
        d[2] |= 0x10;
        d
    };
    let verdict = |f: &mut SvcFilter, d: Vec<u8>| f.admit(&rtp(1, &d, true, None)).unwrap();
    let mut t2 = SvcFilter::vp9(0, 2);
    assert_eq!(verdict(&mut t2, up(0)), SvcVerdict::Forward { marker: true, switch_point: true });
    assert_eq!(verdict(&mut t2, up(1)), SvcVerdict::Forward { marker: true, switch_point: false }, "above the base layer");
    assert_eq!(verdict(&mut t2, layer_descriptor(0, 0, true, true)), SvcVerdict::Forward { marker: true, switch_point: false }, "no U");
    let mut not_begin = up(0);
    not_begin[0] &= !0x08;
    assert_eq!(verdict(&mut t2, not_begin), SvcVerdict::Forward { marker: true, switch_point: false }, "not the frame's start");
    let mut s1 = SvcFilter::vp9(1, 7);
    assert_eq!(verdict(&mut s1, up(0)), SvcVerdict::Forward { marker: true, switch_point: false }, "U says nothing of spatial layers");

    // Dependency Descriptor: a Switch indication for the operating point's decode target
    let later = |start: bool, template: u8| dd_mandatory(start, true, template, 7).bytes;
    let mut s1t0 = SvcFilter::dependency_descriptor(1, 0, DD_ID);
    assert_eq!(s1t0.admit(&rtp(1, &[1], false, Some(&dd_with_structure(10)))).unwrap(), SvcVerdict::Forward { marker: false, switch_point: true }, "key: S for dt2");
    assert_eq!(s1t0.admit(&rtp(2, &[1], false, Some(&later(true, 10)))).unwrap(), SvcVerdict::Forward { marker: false, switch_point: true });
    assert_eq!(s1t0.admit(&rtp(3, &[1], false, Some(&later(false, 10)))).unwrap(), SvcVerdict::Forward { marker: false, switch_point: false }, "not the frame's start");
    assert_eq!(s1t0.admit(&rtp(4, &[1], true, Some(&later(true, 12)))).unwrap(), SvcVerdict::Forward { marker: true, switch_point: false }, "S1: not the base layer");
    let mut s1t1 = SvcFilter::dependency_descriptor(1, 1, DD_ID);
    s1t1.admit(&rtp(1, &[1], false, Some(&dd_with_structure(10)))).unwrap();
    // template 10 with custom DTIs: not a switch for dt3 this time
    let mut b = dd_mandatory(true, true, 10, 8);
    b.put(1, 0).put(1, 0).put(1, 1).put(2, 0).put(2, 3).put(2, 3).put(2, 3).put(2, 3);
    assert_eq!(s1t1.admit(&rtp(2, &[1], false, Some(&b.bytes))).unwrap(), SvcVerdict::Forward { marker: false, switch_point: false }, "its own DTIs rule");
}

#[test]
fn chromiums_l3t3_key_switches_temporal_layers_at_base_frames_only() {
    let s = DependencyDescriptor::parse(&hex(CHROMIUM_L3T3_KEY_STRUCTURE), None).unwrap().structure.unwrap();
    for (sid, tid) in [(0u8, 0u8), (0, 2), (1, 1), (2, 2)] {
        let dt = s.decode_target_of(sid, tid).expect("a decode target");
        let present: Vec<(u8, u8)> = s.templates.iter().zip(&s.dtis).filter(|(_, &w)| DecodeTargetIndication::of(w, dt) != DecodeTargetIndication::NotPresent).map(|(&l, _)| l).collect();
        assert!(present.contains(&(sid, tid)) && present.iter().all(|&(ps, pt)| ps <= sid && pt <= tid), "S{sid}T{tid}: {present:?}");
    }
    // a base layer frame that is no key frame switches S0's temporal layers, not S1's
    let s0 = s.decode_target_of(0, 7).unwrap();
    let s1 = s.decode_target_of(1, 7).unwrap();
    let base: Vec<u64> = s.templates.iter().zip(&s.dtis).filter(|(&l, _)| l == (0, 0)).map(|(_, &w)| w).collect();
    assert!(base.iter().any(|&w| DecodeTargetIndication::of(w, s0) == DecodeTargetIndication::Switch));
    let delta = base.iter().find(|&&w| DecodeTargetIndication::of(w, s1) == DecodeTargetIndication::NotPresent);
    assert!(delta.is_some_and(|&w| DecodeTargetIndication::of(w, s0) == DecodeTargetIndication::Switch), "{base:?}");
}
