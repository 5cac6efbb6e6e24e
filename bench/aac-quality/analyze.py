#!/usr/bin/env python3
"""Measures decoded AAC against its reference for bench/aac-quality/run.sh.

analyze.py manifest.tsv results.json [--visqol 0|1] [--ffmpeg-version STR]

For each manifest row (material, bitrate, encoder, ref WAV, coded file, decoded WAV, encode CPU
seconds):
- alignment: the decoded signal's lag (encoder delay/priming left in the stream) found by FFT
  cross-correlation of the channel sums, then both cut to the common span;
- sdr_db: 10·log10(Σref² / Σ(ref − dec)²) over both channels (plain, no gain fitted); ffmpeg's
  asdr filter is also run on the aligned pair as a cross-check (asdr_db: ffmpeg 5.1 prints
  20·log10 of that energy ratio, twice sdr_db);
- band_snr_db: the same ratio inside frequency bands, from an STFT (Hann, 2048, hop 1024);
- bandwidth_hz: highest frequency where the long-term decoded power is within 10 dB of the
  reference's (bins where the reference has power within 70 dB of its peak bin; 1/12 octave
  smoothing);
- loudness: integrated loudness of reference and decoded (ffmpeg ebur128), and the difference;
- visqol_moslqo: ViSQOL v3 audio mode (48 kHz) MOS-LQO, 1..~4.75 (visqol-python), mean of the
  per-channel scores (ViSQOL is mono), if on;
- kbps / peak_kbps_1s: bitrate of the access units without container/ADTS headers, over the
  whole file and in the busiest 1 s window (47 units);
- speed_x: seconds of audio per CPU second of encoding.
"""

import argparse
import csv
import json
import os
import platform
import re
import subprocess
import sys

import numpy as np

RATE = 48_000
BANDS = [(0, 4000), (4000, 8000), (8000, 12000), (12000, 16000), (16000, 20000)]


def read_wav(path):
    """(rate, float64 array [frames, channels]) of a 16-bit PCM or 32-bit float WAV."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not RIFF/WAVE")
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag = int.from_bytes(body[0:2], "little")
            ch = int.from_bytes(body[2:4], "little")
            rate = int.from_bytes(body[4:8], "little")
            bits = int.from_bytes(body[14:16], "little")
            if tag == 0xFFFE:
                tag = int.from_bytes(body[24:26], "little")
            fmt = (tag, ch, rate, bits)
        elif cid == b"data":
            tag, ch, rate, bits = fmt
            if tag == 1 and bits == 16:
                x = np.frombuffer(body[: len(body) // 2 * 2], "<i2").astype(np.float64) / 32768.0
            elif tag == 3 and bits == 32:
                x = np.frombuffer(body[: len(body) // 4 * 4], "<f4").astype(np.float64)
            else:
                raise ValueError(f"{path}: unsupported format {fmt}")
            return rate, x[: len(x) // ch * ch].reshape(-1, ch)
        pos += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")


def align(ref, dec, max_lag=16384):
    """Lag L (dec[n + L] ≈ ref[n]) maximising the cross-correlation of the channel sums."""
    a, b = ref.sum(axis=1), dec.sum(axis=1)
    n = 1
    while n < len(a) + len(b):
        n *= 2
    xc = np.fft.irfft(np.conj(np.fft.rfft(a, n)) * np.fft.rfft(b, n), n)
    # xc[L] = Σ a[i] b[i + L]; negative lags wrap to the end.
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    vals = np.concatenate([xc[: max_lag + 1], xc[n - max_lag:]])
    return int(lags[np.argmax(vals)])


def cut(ref, dec, lag):
    if lag >= 0:
        dec = dec[lag:]
    else:
        ref = ref[-lag:]
    n = min(len(ref), len(dec))
    return ref[:n], dec[:n]


def sdr(ref, dec):
    return 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - dec) ** 2), 1e-20))


def stft_power(x, n=2048, hop=1024):
    win = np.hanning(n)
    frames = 1 + (len(x) - n) // hop
    idx = np.arange(n)[None, :] + hop * np.arange(frames)[:, None]
    return np.fft.rfft(x[idx] * win, axis=1)


def spectral(ref, dec):
    """Band SNRs and bandwidth from STFTs of each channel."""
    freqs = np.fft.rfftfreq(2048, 1 / RATE)
    num = np.zeros(len(freqs))
    err = np.zeros(len(freqs))
    pdec = np.zeros(len(freqs))
    for c in range(ref.shape[1]):
        R, D = stft_power(ref[:, c]), stft_power(dec[:, c])
        num += np.sum(np.abs(R) ** 2, axis=0)
        err += np.sum(np.abs(R - D) ** 2, axis=0)
        pdec += np.sum(np.abs(D) ** 2, axis=0)
    bands = {}
    for lo, hi in BANDS:
        m = (freqs >= lo) & (freqs < hi)
        if num[m].sum() < 1e-6 * num.sum():
            bands[f"{lo}-{hi}"] = None  # the reference has (next to) nothing there
        else:
            bands[f"{lo}-{hi}"] = round(float(10 * np.log10(num[m].sum() / max(err[m].sum(), 1e-20))), 2)
    # 1/12-octave smoothing of both long-term spectra, then the last frequency kept.
    sm_ref, sm_dec = np.zeros(len(freqs)), np.zeros(len(freqs))
    for i, f in enumerate(freqs):
        if f < 100:
            continue
        m = (freqs >= f * 2 ** (-1 / 24)) & (freqs <= f * 2 ** (1 / 24))
        sm_ref[i], sm_dec[i] = num[m].mean(), pdec[m].mean()
    floor = sm_ref.max() * 1e-7
    kept = (sm_ref > floor) & (sm_dec >= sm_ref * 0.1)
    ref_top = float(freqs[np.nonzero(sm_ref > floor)[0].max()])
    bandwidth = float(freqs[np.nonzero(kept)[0].max()]) if kept.any() else 0.0
    return bands, bandwidth, ref_top


def ebur128(path):
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", path, "-af", "ebur128", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr
    summary = out[out.rfind("Summary:"):]
    return float(re.search(r"I:\s+(-?[0-9.]+) LUFS", summary).group(1))


def asdr(ref_path, dec_path, lag, frames):
    """ffmpeg's asdr on the aligned pair (cross-check of sdr_db), mean of the channels."""
    trim = f"atrim=start_sample={max(lag, 0)}:end_sample={max(lag, 0) + frames},asetpts=PTS-STARTPTS"
    rtrim = f"atrim=start_sample={max(-lag, 0)}:end_sample={max(-lag, 0) + frames},asetpts=PTS-STARTPTS"
    graph = f"[0:a]{rtrim},aformat=sample_fmts=dblp[r];[1:a]{trim},aformat=sample_fmts=dblp[d];[r][d]asdr"
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", ref_path, "-i", dec_path, "-lavfi", graph, "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr
    vals = [float(v) for v in re.findall(r"SDR ch\d+: (-?[0-9.]+) dB", out)]
    return round(sum(vals) / len(vals), 2) if vals else None


def au_sizes(path):
    """Access-unit sizes in bytes, ADTS headers (FDK's file) or the MP4 container left out."""
    if path.endswith(".aac"):
        data, pos, sizes = open(path, "rb").read(), 0, []
        while pos + 7 <= len(data) and data[pos] == 0xFF and data[pos + 1] & 0xF0 == 0xF0:
            header = 7 if data[pos + 1] & 1 else 9
            length = ((data[pos + 3] & 3) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
            sizes.append(length - header)
            pos += length
        return sizes
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=size",
         "-of", "default=nw=1:nk=1", path], capture_output=True, text=True, check=True,
    ).stdout
    return [int(v) for v in out.split()]


def bitrates(path, seconds):
    """(mean kb/s over the input's duration, peak kb/s over any 47 consecutive units ≈ 1 s)."""
    sizes = np.array(au_sizes(path), dtype=np.float64)
    per_s = 48_000 / 1024
    window = np.convolve(sizes, np.ones(47), "valid").max() * 8 * per_s / 47 / 1000
    return sizes.sum() * 8 / seconds / 1000, window


def visqol_scores(ref, dec):
    """ViSQOL audio mode (48 kHz, MOS-LQO) of each channel of the aligned pair: ViSQOL itself
    is mono (it would average the channels, hiding stereo-coding errors)."""
    from visqol import VisqolApi  # noqa: PLC0415 (optional dependency)

    api = VisqolApi()
    api.create(mode="audio")
    return [float(api.measure_from_arrays(ref[:, c].copy(), dec[:, c].copy(), RATE).moslqo) for c in range(ref.shape[1])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("out")
    ap.add_argument("--visqol", default="1")
    ap.add_argument("--ffmpeg-version", default="")
    args = ap.parse_args()
    rows = list(csv.DictReader(open(args.manifest), delimiter="\t"))
    loud_ref = {}
    results = []
    for r in rows:
        _, ref = read_wav(r["ref"])
        _, dec = read_wav(r["decoded"])
        lag = align(ref, dec)
        a, b = cut(ref, dec, lag)
        seconds = len(ref) / RATE
        kbps, peak = bitrates(r["coded"], seconds)
        bands, bandwidth, ref_top = spectral(a, b)
        if r["ref"] not in loud_ref:
            loud_ref[r["ref"]] = ebur128(r["ref"])
        loud_dec = ebur128(r["decoded"])
        res = {
            "material": r["material"],
            "bitrate": int(r["bitrate"]),
            "encoder": r["encoder"],
            "kbps": round(kbps, 1),
            "peak_kbps_1s": round(peak, 1),
            "lag_samples": lag,
            "sdr_db": round(float(sdr(a, b)), 2),
            "asdr_db": asdr(r["ref"], r["decoded"], lag, len(a)),
            "band_snr_db": bands,
            "bandwidth_hz": round(bandwidth),
            "ref_top_hz": round(ref_top),
            "loudness_ref_lufs": loud_ref[r["ref"]],
            "loudness_dec_lufs": loud_dec,
            "loudness_diff_lu": round(loud_dec - loud_ref[r["ref"]], 2),
            "cpu_s": float(r["cpu_s"]),
            "speed_x": round(seconds / float(r["cpu_s"]), 1),
        }
        if args.visqol == "1":
            per_channel = visqol_scores(a, b)
            res["visqol_moslqo_channels"] = [round(v, 3) for v in per_channel]
            res["visqol_moslqo"] = round(sum(per_channel) / len(per_channel), 3)
        results.append(res)
        print(f"  {res['material']} {res['bitrate']} {res['encoder']}: SDR {res['sdr_db']} dB", file=sys.stderr)

    doc = {
        "what": "AAC-LC at 48 kHz stereo: FDK AAC (fdk-aac crate, Sluice's CBR settings, ADTS) vs "
        "FFmpeg's native aac encoder (-c:a aac -b:a), decoded by FFmpeg's aac decoder",
        "ffmpeg": args.ffmpeg_version,
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "notes": "asdr_db is ffmpeg's asdr filter on the aligned pair; ffmpeg 5.1 prints 20*log10 of the "
        "energy ratio there, i.e. twice sdr_db (the 10*log10 value, which the table shows).",
        "results": results,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")

    vq = args.visqol == "1"
    head = f"{'material':<12}{'kb/s':>7} {'encoder':<11}{'real':>6}{'peak':>6}{'SDR dB':>8}{'0-4k':>7}{'4-8k':>7}{'8-12k':>7}{'12-16k':>7}" \
        f"{'dLU':>7}{'BW kHz':>8}{'speed x':>9}" + (f"{'ViSQOL':>8}" if vq else "")
    print(head)
    print("-" * len(head))
    for r in results:
        b = r["band_snr_db"]
        def f(v):
            return f"{v:7.1f}" if v is not None else f"{'-':>7}"

        print(f"{r['material']:<12}{r['bitrate'] // 1000:>7} {r['encoder']:<11}{r['kbps']:>6.0f}{r['peak_kbps_1s']:>6.0f}{r['sdr_db']:>8.2f}"
              f"{f(b['0-4000'])}{f(b['4000-8000'])}{f(b['8000-12000'])}{f(b['12000-16000'])}"
              f"{r['loudness_diff_lu']:>+7.2f}{r['bandwidth_hz'] / 1000:>8.1f}{r['speed_x']:>9.0f}"
              + (f"{r['visqol_moslqo']:>8.2f}" if vq else ""))
    print("\nSDR and band SNRs (bands in kHz) in dB; real/peak: kb/s of the access units, mean and busiest 1 s;"
          "\ndLU: decoded minus reference integrated loudness; BW: highest frequency kept within 10 dB;"
          "\nspeed: x realtime per CPU core" + ("; ViSQOL: audio-mode MOS-LQO, mean of L and R" if vq else ""))
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
