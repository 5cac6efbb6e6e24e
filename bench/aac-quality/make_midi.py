#!/usr/bin/env python3
"""Writes a 32 s General MIDI piece (standard MIDI file, format 1) for the AAC comparison.

120 bpm, 16 bars of I-vi-IV-V in C: drums (kick, snare, closed/open hi-hat, ride, crash),
finger bass, piano chords, steel-guitar arpeggios, string pad and an alto-sax melody, panned
across the stereo field, all with instruments that Debian's freepats set has. Deterministic
(fixed seed), no dependencies: `make_midi.py out.mid`.
"""

import random
import struct
import sys

PPQ = 480
BPM = 120
BARS = 16
BAR = 4 * PPQ

CHORDS = [  # root (MIDI note) and triad of each bar, repeating
    (48, [60, 64, 67]),  # C
    (45, [57, 60, 64]),  # Am
    (41, [57, 60, 65]),  # F
    (43, [55, 59, 62]),  # G
]
PENTATONIC = [72, 74, 76, 79, 81, 84, 86]


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.insert(0, 0x80 | (n & 0x7F))
        n >>= 7
    return bytes(out)


def track(events):
    """events: (tick, bytes) pairs, any order; note-offs sort before note-ons at a tick."""
    events = sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80))
    data, last = b"", 0
    for tick, msg in events:
        data += vlq(tick - last) + msg
        last = tick
    data += vlq(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(data)) + data


def note(events, ch, tick, dur, key, vel):
    events.append((tick, bytes([0x90 | ch, key, vel])))
    events.append((tick + dur, bytes([0x80 | ch, key, 0])))


def setup(ch, program, pan, volume=100, reverb=40):
    return [
        (0, bytes([0xC0 | ch, program])),
        (0, bytes([0xB0 | ch, 10, pan])),
        (0, bytes([0xB0 | ch, 7, volume])),
        (0, bytes([0xB0 | ch, 91, reverb])),
    ]


def main(path):
    rnd = random.Random(20240607)
    tempo = [(0, b"\xff\x51\x03" + (60_000_000 // BPM).to_bytes(3, "big"))]
    drums, bass = [], setup(1, 33, 64, 110, 10)
    piano, guitar = setup(2, 0, 40, 90), setup(3, 25, 96, 85)
    strings, sax = setup(4, 48, 88, 70, 70), setup(5, 65, 56, 100, 50)
    drums += [(0, bytes([0xB9, 7, 110])), (0, bytes([0xB9, 91, 30]))]
    for bar in range(BARS):
        t0 = bar * BAR
        root, triad = CHORDS[bar % 4]
        # Drums (channel 10): kick on 1 and 3, snare on 2 and 4, eighth hi-hats (open on the
        # last), ride in the second half, crash every 4 bars.
        for beat in range(4):
            t = t0 + beat * PPQ
            note(drums, 9, t, 120, 36 if beat % 2 == 0 else 38, 110 if beat % 2 == 0 else 100)
            for half in range(2):
                hat = 46 if (beat == 3 and half == 1) else 42
                if bar >= 8 and hat == 42:
                    hat = 51
                note(drums, 9, t + half * PPQ // 2, 100, hat, 70 + rnd.randint(0, 25))
        if bar % 4 == 0:
            note(drums, 9, t0, 480, 49, 100)
        # Bass: root on 1, fifth on 3, passing eighths.
        for i, (off, step) in enumerate([(0, 0), (PPQ, 0), (2 * PPQ, 7), (3 * PPQ, 12), (3 * PPQ + PPQ // 2, 7)]):
            note(bass, 1, t0 + off, PPQ // 2 - 20, root - 12 + step + 12, 100 - 5 * (i % 2))
        # Piano: chord on 1 and the "and" of 2.
        for off in (0, PPQ + PPQ // 2):
            for k in triad:
                note(piano, 2, t0 + off, PPQ - 40, k, 80)
        # Guitar: sixteenth arpeggio an octave down.
        arp = [triad[0] - 12, triad[1] - 12, triad[2] - 12, triad[1]]
        for i in range(16):
            note(guitar, 3, t0 + i * PPQ // 4, PPQ // 4, arp[i % 4], 60 + rnd.randint(0, 20))
        # Strings: held chord, from bar 4 on.
        if bar >= 4:
            for k in triad:
                note(strings, 4, t0, BAR - 10, k + 12, 70)
        # Sax melody, from bar 2 on: random walk on the pentatonic scale, mixed durations.
        if bar >= 2:
            t, idx = t0, rnd.randrange(len(PENTATONIC))
            while t < t0 + BAR:
                dur = rnd.choice([PPQ // 2, PPQ // 2, PPQ, PPQ + PPQ // 2])
                dur = min(dur, t0 + BAR - t)
                idx = max(0, min(len(PENTATONIC) - 1, idx + rnd.choice([-2, -1, 1, 1, 2])))
                if rnd.random() > 0.15:
                    note(sax, 5, t, dur - 20, PENTATONIC[idx] - 12, 90 + rnd.randint(0, 20))
                t += dur
    tracks = [tempo, drums, bass, piano, guitar, strings, sax]
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), PPQ)
    with open(path, "wb") as f:
        f.write(header + b"".join(track(t) for t in tracks))


if __name__ == "__main__":
    main(sys.argv[1])
