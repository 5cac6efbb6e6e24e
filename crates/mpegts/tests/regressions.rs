//! Fuzz crash reproducers, kept as tests (DESIGN.md: "crash reproducers become regression
//! tests"). Each input runs through the very harness its fuzz target runs
//! (`crates/fuzz/src/mpegts.rs`, included below), so a reproducer fails here exactly as it
//! crashed there, under plain `cargo test -p sluice-mpegts`.

#[allow(dead_code)]
#[path = "../../fuzz/src/mpegts.rs"]
mod harness;

/// Empty input, garbage, a lone sync byte, and the harness's own PAT/PMT/IDR with truncated and
/// corrupted tails.
#[test]
fn harness_accepts_trivial_and_broken_streams() {
    harness::mpegts_demux(&[]);
    harness::mpegts_demux(&[0]);
    harness::mpegts_demux(&[0x80]);
    harness::mpegts_demux(&[0x85, 0x47]);
    harness::mpegts_demux(&[0x03, 0x47, 0x40, 0x00, 0x10, 0x00, 0x00, 0xB0, 0x0D]);
    let mut junk = vec![0x81];
    junk.extend((0..2000u32).map(|i| {
        if i % 188 == 0 {
            0x47
        } else {
            (i * 31 % 251) as u8
        }
    }));
    harness::mpegts_demux(&junk);
}
