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

#[test]
fn an_operating_point_drops_higher_layers_and_ends_pictures_at_its_top_spatial_layer() {
    let s1 = SvcFilter { max_spatial: 1, max_temporal: 2 };
    assert_eq!(s1.admit(&layer_descriptor(0, 2, true, true), true).unwrap(), SvcVerdict::Drop, "spatial layer 2");
    assert_eq!(s1.admit(&layer_descriptor(0, 1, false, true), false).unwrap(), SvcVerdict::Forward { marker: true }, "the end of layer 1 ends the picture");
    assert_eq!(s1.admit(&layer_descriptor(0, 1, true, false), false).unwrap(), SvcVerdict::Forward { marker: false });
    assert_eq!(s1.admit(&layer_descriptor(0, 0, false, true), false).unwrap(), SvcVerdict::Forward { marker: false }, "layer 0 ends below the top kept");
    let all = SvcFilter { max_spatial: 2, max_temporal: 2 };
    assert_eq!(all.admit(&layer_descriptor(0, 1, false, true), false).unwrap(), SvcVerdict::Forward { marker: false });
    assert_eq!(all.admit(&layer_descriptor(0, 2, false, true), true).unwrap(), SvcVerdict::Forward { marker: true });
    let t1 = SvcFilter { max_spatial: 0, max_temporal: 1 };
    assert_eq!(t1.admit(&layer_descriptor(2, 0, true, true), true).unwrap(), SvcVerdict::Drop, "temporal layer 2");
    assert_eq!(t1.admit(&layer_descriptor(1, 0, true, true), true).unwrap(), SvcVerdict::Forward { marker: true });
    assert!(t1.admit(&[0xA0], false).is_err());
}
