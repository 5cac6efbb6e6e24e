//! RTP header read/write: RFC 3550 §5.1 and §5.3.1, RFC 8285 §4.2/§4.3.

use sluice_rtp::packet::{
    ExtensionElement, ExtensionForm, HeaderExtension, RtpHeader, ONE_BYTE_PROFILE, TWO_BYTE_PROFILE,
};
use sluice_rtp::RtpError;

/// V=2, M=1, PT=96, seq 0x1234, ts 0xDEADBEEF, SSRC 0x01020304, payload "abc".
const MINIMAL: [u8; 15] = [
    0x80, 0xE0, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, b'a', b'b', b'c',
];

#[test]
fn rfc3550_5_1_parse_fixed_header_fields() {
    let (h, offset, len) = RtpHeader::parse(&MINIMAL).unwrap();
    assert!(h.marker);
    assert_eq!(h.payload_type, 96);
    assert_eq!(h.sequence_number, 0x1234);
    assert_eq!(h.timestamp, 0xDEAD_BEEF);
    assert_eq!(h.ssrc, 0x0102_0304);
    assert!(h.csrcs().is_empty());
    assert_eq!(h.extension, None);
    assert_eq!(h.padding, 0);
    assert_eq!((offset, len), (12, 3));
    assert_eq!(&MINIMAL[offset..offset + len], b"abc");
}

#[test]
fn rfc3550_5_1_write_fixed_header_is_byte_exact() {
    let mut h = RtpHeader::new(96, 0x1234, 0xDEAD_BEEF, 0x0102_0304);
    h.marker = true;
    let mut buf = [0u8; 15];
    assert_eq!(h.write_packet(b"abc", &mut buf).unwrap(), 15);
    assert_eq!(buf, MINIMAL);
}

#[test]
fn rfc3550_5_1_csrcs_extension_and_padding_round_trip() {
    let ext_data = [0x10, 0xAA, 0x21, 0xBB, 0xCC, 0x00, 0x00, 0x00];
    let mut h = RtpHeader::new(111, 65535, 48_000, 0xCAFE_BABE);
    h.set_csrcs(&[1, 2, 3]).unwrap();
    h.extension = Some(HeaderExtension {
        profile: ONE_BYTE_PROFILE,
        data: &ext_data,
    });
    h.padding = 4;
    assert_eq!(h.header_len(), 12 + 12 + 4 + 8);
    let mut buf = [0xFFu8; 64];
    let n = h.write_packet(b"opus", &mut buf).unwrap();
    assert_eq!(n, 36 + 4 + 4);
    assert_eq!(buf[0], 0x80 | 0x20 | 0x10 | 3, "V=2 P X CC=3");
    assert_eq!(&buf[36..40], b"opus");
    assert_eq!(&buf[40..44], &[0, 0, 0, 4], "padding: zeros then the count");

    let (p, offset, len) = RtpHeader::parse(&buf[..n]).unwrap();
    assert_eq!(p, h);
    assert_eq!(p.csrcs(), &[1, 2, 3]);
    assert_eq!((offset, len), (36, 4));
}

#[test]
fn rfc3550_5_1_version_other_than_2_is_rejected() {
    for v in [0u8, 1, 3] {
        let mut p = MINIMAL;
        p[0] = (v << 6) | (p[0] & 0x3F);
        assert_eq!(
            RtpHeader::parse(&p),
            Err(RtpError::UnsupportedVersion { version: v })
        );
    }
}

#[test]
fn rfc3550_5_1_truncated_headers_are_errors() {
    assert_eq!(
        RtpHeader::parse(&MINIMAL[..11]),
        Err(RtpError::PacketTooShort {
            needed: 12,
            length: 11
        })
    );
    // CC=2 but only one CSRC present.
    let mut p = MINIMAL.to_vec();
    p[0] |= 2;
    p.push(0);
    assert_eq!(p.len(), 16);
    assert_eq!(
        RtpHeader::parse(&p),
        Err(RtpError::PacketTooShort {
            needed: 20,
            length: 16
        })
    );
    // X set, extension header cut short.
    let mut p = MINIMAL[..12].to_vec();
    p[0] |= 0x10;
    p.extend_from_slice(&[0xBE, 0xDE]);
    assert_eq!(
        RtpHeader::parse(&p),
        Err(RtpError::PacketTooShort {
            needed: 16,
            length: 14
        })
    );
    // Extension length says 2 words, one present.
    p.extend_from_slice(&[0x00, 0x02, 1, 2, 3, 4]);
    assert_eq!(
        RtpHeader::parse(&p),
        Err(RtpError::PacketTooShort {
            needed: 24,
            length: 20
        })
    );
}

#[test]
fn rfc3550_5_1_padding_is_excluded_from_the_payload() {
    let mut p = MINIMAL.to_vec();
    p[0] |= 0x20;
    p.extend_from_slice(&[0, 0, 3]);
    let (h, offset, len) = RtpHeader::parse(&p).unwrap();
    assert_eq!(h.padding, 3);
    assert_eq!(&p[offset..offset + len], b"abc");
    // Padding covering the whole payload is allowed.
    let mut p = MINIMAL[..12].to_vec();
    p[0] |= 0x20;
    p.extend_from_slice(&[0, 2]);
    assert_eq!(RtpHeader::parse(&p).unwrap().2, 0);
}

#[test]
fn rfc3550_5_1_padding_count_zero_or_past_the_header_is_invalid() {
    let mut p = MINIMAL.to_vec();
    p[0] |= 0x20;
    p.push(0);
    assert_eq!(
        RtpHeader::parse(&p),
        Err(RtpError::InvalidPadding {
            count: 0,
            available: 4
        })
    );
    *p.last_mut().unwrap() = 5;
    assert_eq!(
        RtpHeader::parse(&p),
        Err(RtpError::InvalidPadding {
            count: 5,
            available: 4
        })
    );
    // P set on a header-only packet: the "count" is the SSRC's last byte, past the header.
    let mut p = MINIMAL[..12].to_vec();
    p[0] |= 0x20;
    assert_eq!(
        RtpHeader::parse(&p),
        Err(RtpError::InvalidPadding {
            count: 4,
            available: 0
        })
    );
}

#[test]
fn rfc3550_5_3_1_unknown_profile_is_skipped() {
    let mut p = MINIMAL[..12].to_vec();
    p[0] |= 0x10;
    p.extend_from_slice(&[0x12, 0x34, 0x00, 0x01, 9, 9, 9, 9]);
    p.extend_from_slice(b"xyz");
    let (h, offset, len) = RtpHeader::parse(&p).unwrap();
    let ext = h.extension.unwrap();
    assert_eq!(ext.form(), ExtensionForm::Other(0x1234));
    assert_eq!(ext.data, &[9, 9, 9, 9]);
    assert_eq!(ext.elements().count(), 0);
    assert_eq!(&p[offset..offset + len], b"xyz");
}

#[test]
fn rfc8285_4_2_one_byte_elements_skip_padding_and_stop_at_id_15() {
    // id 1 len 1 (L=0), padding, id 2 len 2 (L=1), padding ×2, id 15 stops, then junk.
    let data = [
        0x10, 0xAA, 0x00, 0x21, 0xBB, 0xCC, 0x00, 0x00, 0xF0, 0x31, 0x00, 0x00,
    ];
    let ext = HeaderExtension {
        profile: ONE_BYTE_PROFILE,
        data: &data,
    };
    assert_eq!(ext.form(), ExtensionForm::OneByte);
    let elements: Vec<_> = ext.elements().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        elements,
        vec![
            ExtensionElement {
                id: 1,
                data: &[0xAA]
            },
            ExtensionElement {
                id: 2,
                data: &[0xBB, 0xCC]
            },
        ]
    );
    assert_eq!(ext.find(2), Some(&[0xBB, 0xCC][..]));
    assert_eq!(ext.find(3), None);
}

#[test]
fn rfc8285_4_2_one_byte_element_past_the_end_is_malformed() {
    let data = [0x10, 0xAA, 0x23, 0xBB];
    let ext = HeaderExtension {
        profile: ONE_BYTE_PROFILE,
        data: &data,
    };
    let items: Vec<_> = ext.elements().collect();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1],
        Err(RtpError::MalformedExtensionElement { offset: 2 })
    );
    assert_eq!(ext.find(1), Some(&[0xAA][..]));
}

#[test]
fn rfc8285_4_3_two_byte_elements_with_zero_length_and_padding() {
    // appbits 5; id 1 len 0, padding, id 200 len 3, trailing padding.
    let data = [0x01, 0x00, 0x00, 0xC8, 0x03, 1, 2, 3];
    let ext = HeaderExtension {
        profile: TWO_BYTE_PROFILE | 5,
        data: &data,
    };
    assert_eq!(ext.form(), ExtensionForm::TwoByte { appbits: 5 });
    let elements: Vec<_> = ext.elements().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        elements,
        vec![
            ExtensionElement { id: 1, data: &[] },
            ExtensionElement {
                id: 200,
                data: &[1, 2, 3]
            }
        ]
    );
    let cut = [0x07, 0x04, 1, 2];
    let ext = HeaderExtension {
        profile: TWO_BYTE_PROFILE,
        data: &cut,
    };
    assert_eq!(
        ext.elements().next(),
        Some(Err(RtpError::MalformedExtensionElement { offset: 0 }))
    );
}

#[test]
fn rfc3550_5_1_write_rejects_bad_fields_and_small_buffers() {
    let mut h = RtpHeader::new(128, 0, 0, 0);
    let mut buf = [0u8; 64];
    assert_eq!(
        h.write_into(&mut buf),
        Err(RtpError::InvalidPayloadType { payload_type: 128 })
    );
    h.payload_type = 0;
    assert_eq!(
        h.set_csrcs(&[0; 16]),
        Err(RtpError::TooManyCsrcs { count: 16 })
    );
    h.extension = Some(HeaderExtension {
        profile: ONE_BYTE_PROFILE,
        data: &[1, 2, 3],
    });
    assert_eq!(
        h.write_into(&mut buf),
        Err(RtpError::InvalidExtensionLength { length: 3 })
    );
    h.extension = None;
    assert_eq!(
        h.write_into(&mut buf[..11]),
        Err(RtpError::BufferTooSmall {
            needed: 12,
            available: 11
        })
    );
    assert_eq!(
        h.write_packet(&[0; 60], &mut buf),
        Err(RtpError::BufferTooSmall {
            needed: 72,
            available: 64
        })
    );
}

/// Not a spec vector: random and mutated inputs must give `Ok` or `Err`, never a panic, and
/// every `Ok` range must lie inside the input.
#[test]
fn parse_never_panics_on_random_or_mutated_input() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut valid = [0u8; 44];
    let mut h = RtpHeader::new(96, 1, 2, 3);
    h.set_csrcs(&[7, 8]).unwrap();
    let ext = [0x10, 0xAA, 0x21, 0xBB, 0xCC, 0, 0, 0];
    h.extension = Some(HeaderExtension {
        profile: ONE_BYTE_PROFILE,
        data: &ext,
    });
    h.padding = 3;
    let n = h.write_packet(b"payload", &mut valid).unwrap();
    for i in 0..200_000 {
        let mut p = [0u8; 48];
        let len = (next() % 48) as usize;
        if i % 2 == 0 {
            p[..n].copy_from_slice(&valid[..n]);
            let at = (next() % n as u64) as usize;
            p[at] ^= next() as u8;
        } else {
            for b in p.iter_mut() {
                *b = next() as u8;
            }
            p[0] = 0x80 | (p[0] & 0x3F);
        }
        if let Ok((h, offset, plen)) = RtpHeader::parse(&p[..len]) {
            assert!(offset + plen <= len);
            if let Some(e) = h.extension {
                for _ in e.elements() {}
            }
        }
    }
}
