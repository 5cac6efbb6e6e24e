//! H.264 packetizer → reordering buffer → depacketizer: access units come back byte for byte
//! (SPS/PPS aside), in order, through shuffling, duplicates, and loss (dropped until the next
//! IDR, with a keyframe request).

use sluice_rtp::depacketizer::{H264AccessUnit, H264Depacketizer, Released, ReorderBuffer};
use sluice_rtp::packet::RtpHeader;
use sluice_rtp::packetizer::{H264Packetizer, PacketBatch, Packetizer};

const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9];
const PPS: &[u8] = &[0x68, 0xEB, 0xE3, 0xCB];

/// xorshift, so the test needs no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn access_unit(rng: &mut Rng, keyframe: bool) -> Vec<u8> {
    let mut au = Vec::new();
    for i in 0..1 + rng.below(3) {
        let max = if rng.below(4) == 0 { 6000 } else { 900 };
        let len = 1 + rng.below(max) as usize;
        let header = if keyframe && i == 0 { 0x65 } else { 0x41 };
        au.extend_from_slice(&(len as u32).to_be_bytes());
        au.push(header);
        au.extend((1..len).map(|_| rng.next() as u8));
    }
    au
}

fn packets(rng: &mut Rng, frames: usize) -> (Vec<Vec<u8>>, Vec<(u32, Vec<u8>)>) {
    let mut p = H264Packetizer::new(7, 96).unwrap();
    p.set_parameter_sets(vec![SPS.to_vec()], vec![PPS.to_vec()]);
    p.state_mut().set_sequence_number(65_000);
    let mut batch = PacketBatch::new();
    let mut sent = Vec::new();
    for i in 0..frames {
        let au = access_unit(rng, i % 30 == 0);
        let ts = (i as u32) * 3000;
        p.packetize(&au, ts, &mut batch).unwrap();
        sent.push((ts, au));
    }
    let out = (0..batch.len())
        .map(|i| batch.get(i).unwrap().to_vec())
        .collect();
    (out, sent)
}

fn receive(order: &[Vec<u8>]) -> (Vec<H264AccessUnit>, usize) {
    let mut buffer = ReorderBuffer::new(50, 512);
    let mut d = H264Depacketizer::default();
    let mut out = Vec::new();
    let mut requests = 0;
    let mut drain =
        |buffer: &mut ReorderBuffer, d: &mut H264Depacketizer, out: &mut Vec<_>, now| {
            while let Some(r) = buffer.pop(now) {
                match r {
                    Released::Packet { data, .. } => {
                        let (h, off, len) = RtpHeader::parse(data).unwrap();
                        d.push(&h, &data[off..off + len], out).unwrap();
                    }
                    Released::Lost { .. } => d.lost(),
                }
            }
            if d.take_keyframe_request() {
                requests += 1;
            }
        };
    for (i, pkt) in order.iter().enumerate() {
        let (h, _, _) = RtpHeader::parse(pkt).unwrap();
        buffer.push(h.sequence_number, pkt, i as u64);
        drain(&mut buffer, &mut d, &mut out, i as u64);
    }
    drain(&mut buffer, &mut d, &mut out, u64::MAX);
    (out, requests)
}

#[test]
fn shuffled_and_duplicated_packets_give_back_every_access_unit() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut pkts, sent) = packets(&mut rng, 300);
    // Local reordering (swap neighbours within 8) and some duplicates.
    for i in (1..pkts.len() - 8).step_by(3) {
        let j = i + rng.below(8) as usize; // the first packet stays first
        pkts.swap(i, j);
    }
    // Duplicates of packets a few places back (already released, or still held).
    for k in 0..40 {
        let at = 10 + k * 20;
        let dup = pkts[at - 1 - rng.below(6) as usize].clone();
        pkts.insert(at, dup);
    }
    let (got, _) = receive(&pkts);
    assert_eq!(got.len(), sent.len());
    for (g, (ts, au)) in got.iter().zip(&sent) {
        assert_eq!(g.timestamp, *ts);
        assert_eq!(&g.data, au);
    }
    assert!(got[0].parameter_sets_changed && got[0].keyframe);
}

#[test]
fn a_loss_drops_until_the_next_idr_and_asks_for_a_keyframe() {
    let mut rng = Rng(42);
    let (mut pkts, sent) = packets(&mut rng, 60);
    // Drop one packet of frame 10 (a P frame).
    let victim = pkts
        .iter()
        .position(|p| RtpHeader::parse(p).unwrap().0.timestamp == 10 * 3000)
        .unwrap();
    pkts.remove(victim);
    let (got, requests) = receive(&pkts);
    let stamps: Vec<u32> = got.iter().map(|a| a.timestamp / 3000).collect();
    let expected: Vec<u32> = (0..10).chain(30..60).collect();
    assert_eq!(stamps, expected);
    assert!(requests >= 1);
    for g in &got {
        let (_, au) = sent.iter().find(|(ts, _)| *ts == g.timestamp).unwrap();
        assert_eq!(&g.data, au);
    }
}
