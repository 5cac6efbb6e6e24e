//! Native packetizer throughput (no N-API): a synthetic 50 KB IDR access unit and a 5 KB P
//! access unit, each packetized 100 000 times at MTU 1200, plus 160-byte Opus packets.
//!
//! Run with `cargo run --release -p sluice-rtp --example packetize_throughput`.
//! MB/s counts input (access unit) bytes, 1 MB = 10^6 bytes.

use std::hint::black_box;
use std::time::Instant;

use sluice_rtp::packetizer::{H264Packetizer, OpusPacketizer, PacketBatch, Packetizer};

const ITERATIONS: u32 = 100_000;

/// An AVCC access unit (4-byte lengths): AUD, SEI (30 bytes), then one slice filling `size`.
fn access_unit(slice_header: u8, size: usize) -> Vec<u8> {
    fn push(au: &mut Vec<u8>, nal: &[u8]) {
        au.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        au.extend_from_slice(nal);
    }
    let mut au = Vec::with_capacity(size);
    push(&mut au, &[0x09, 0xF0]);
    let sei: Vec<u8> = std::iter::once(0x06)
        .chain((1..30).map(|i| i as u8))
        .collect();
    push(&mut au, &sei);
    let slice_len = size - au.len() - 4;
    let slice: Vec<u8> = std::iter::once(slice_header)
        .chain((1..slice_len).map(|i| (i * 31) as u8))
        .collect();
    push(&mut au, &slice);
    au
}

fn report(name: &str, frame_len: usize, packets: usize, seconds: f64) {
    let per_second = ITERATIONS as f64 / seconds;
    println!(
        "{name:<40} {frame_len:>6} B  {packets:>3} pkt/AU  {:>10.0} AU/s  {:>8.0} MB/s  {:>6.0} ns/AU  {:>5.1} Mpkt/s",
        per_second,
        per_second * frame_len as f64 / 1e6,
        seconds * 1e9 / ITERATIONS as f64,
        per_second * packets as f64 / 1e6,
    );
}

fn bench(name: &str, p: &mut impl Packetizer, frame: &[u8], fresh_batch_per_call: bool) {
    let mut batch = PacketBatch::new();
    p.packetize(frame, 0, &mut batch).unwrap();
    let packets = batch.len();
    let start = Instant::now();
    for i in 0..ITERATIONS {
        if fresh_batch_per_call {
            // What the N-API binding does: the Vec becomes the returned Buffer.
            let mut batch = PacketBatch::new();
            p.packetize(black_box(frame), i * 3000, &mut batch).unwrap();
            black_box(&batch);
        } else {
            batch.clear();
            p.packetize(black_box(frame), i * 3000, &mut batch).unwrap();
            black_box(&batch);
        }
    }
    report(name, frame.len(), packets, start.elapsed().as_secs_f64());
}

fn main() {
    let idr = access_unit(0x65, 50_000);
    let p_frame = access_unit(0x41, 5_000);
    let mut h264 = H264Packetizer::new(0x1234_5678, 102).unwrap();
    h264.set_parameter_sets(vec![vec![0x67; 25]], vec![vec![0x68; 4]]);

    bench("H.264 IDR 50 KB, reused batch", &mut h264, &idr, false);
    bench("H.264 P 5 KB, reused batch", &mut h264, &p_frame, false);
    bench("H.264 IDR 50 KB, fresh batch per AU", &mut h264, &idr, true);
    bench(
        "H.264 P 5 KB, fresh batch per AU",
        &mut h264,
        &p_frame,
        true,
    );

    let opus_frame: Vec<u8> = (0..160).map(|i| i as u8).collect();
    let mut opus = OpusPacketizer::new(0x8765_4321, 111).unwrap();
    bench("Opus 160 B, reused batch", &mut opus, &opus_frame, false);
    bench(
        "Opus 160 B, fresh batch per packet",
        &mut opus,
        &opus_frame,
        true,
    );
}
