#!/usr/bin/env bash
# AAC-LC encoder comparison: Fraunhofer FDK AAC (what Sluice bundles, through the `fdk-aac`
# crate; settings of crates/audio/src/opus_to_aac.rs) against FFmpeg's native `aac` encoder,
# the candidate for a build without FDK. Measures: see the docstring of analyze.py.
#
#   bash bench/aac-quality/run.sh            # all materials, 64 and 128 kb/s
#   BITRATES="96000 128000" VISQOL=0 bash bench/aac-quality/run.sh
#
# Needs: ffmpeg (with its native aac encoder), espeak-ng, timidity + freepats (installed with
# apt-get when missing and run as root), python3 (a venv under target/aac-quality/ gets numpy,
# and visqol-python unless VISQOL=0, from PyPI), cargo. Downloads nothing else.
# Writes bench/aac-quality/results.json and prints a table. Work files: target/aac-quality/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="${AAC_QUALITY_WORK:-$ROOT/target/aac-quality}"
BITRATES="${BITRATES:-64000 128000}"
VISQOL="${VISQOL:-1}"
SECONDS_OF_AUDIO=30
NICE="nice -n 5"
mkdir -p "$WORK"

log() { printf '== %s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------------
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v timidity >/dev/null || missing+=(timidity)
[ -f /etc/timidity/freepats.cfg ] || missing+=(freepats)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} (apt-get install them)" >&2
    exit 1
  fi
fi
ffmpeg -hide_banner -h encoder=aac 2>/dev/null | grep -q 'AAC encoder AVOptions' || {
  echo "this ffmpeg has no native aac encoder" >&2
  exit 1
}

VENV="$WORK/venv"
if [ ! -x "$VENV/bin/python" ]; then
  log "python venv in $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c 'import numpy' 2>/dev/null || "$VENV/bin/pip" install -q numpy
if [ "$VISQOL" = 1 ]; then
  "$VENV/bin/python" -c 'import visqol' 2>/dev/null || $NICE "$VENV/bin/pip" install -q visqol-python
fi

log "building the FDK example (cargo, release)"
(cd "$ROOT" && $NICE cargo build --release -q -p sluice-audio --example fdk_encode_wav)
FDK="$ROOT/target/release/examples/fdk_encode_wav"

# --- test material: 48 kHz, 16-bit, stereo, 30 s, peaks at -1 dBFS ---------------------------
normalize() { # in.wav out.wav: trim to length, 48 kHz s16 stereo, peak to -1 dBFS
  local peak
  peak=$(ffmpeg -hide_banner -nostats -i "$1" -af "atrim=0:$SECONDS_OF_AUDIO,volumedetect" -f null - 2>&1 |
    sed -n 's/.*max_volume: \(-\?[0-9.]*\) dB.*/\1/p')
  ffmpeg -hide_banner -loglevel error -y -i "$1" \
    -af "atrim=0:$SECONDS_OF_AUDIO,volume=$(awk -v p="$peak" 'BEGIN{print -1 - p}')dB" \
    -ar 48000 -ac 2 -c:a pcm_s16le "$2"
}

MAT="$WORK/material"
mkdir -p "$MAT"
if [ ! -f "$MAT/speech.wav" ]; then
  log "speech: espeak-ng, two voices"
  espeak-ng -v en-us -s 165 -w "$MAT/s1.wav" "The quick brown fox jumps over the lazy dog. \
Sluice relays live audio and video between RTMP publishers, WebRTC viewers and everything in \
between. Every packet that arrives late is concealed, every frame is timestamped, and nothing \
is buffered for longer than it must be."
  espeak-ng -v en-us+f3 -s 160 -p 60 -w "$MAT/s2.wav" "She sells sea shells by the sea shore, \
and the shells she sells are surely seashells. Please check the microphone level before the \
stream starts: speak clearly, keep a steady distance, and avoid sudden loud noises. Thank you \
for watching, and see you at the next broadcast."
  # espeak-ng speaks at 22.05 kHz: resample to 48 kHz (swresample, long filter: soxr through
  # ffmpeg 5.1 is not bit-reproducible run to run), same signal on both channels.
  ffmpeg -hide_banner -loglevel error -y -i "$MAT/s1.wav" -i "$MAT/s2.wav" \
    -filter_complex "[0:a][1:a]concat=n=2:v=0:a=1,aresample=48000:filter_size=64:cutoff=0.98" \
    -c:a pcm_s16le "$MAT/speech_raw.wav"
  normalize "$MAT/speech_raw.wav" "$MAT/speech.wav"
fi
if [ ! -f "$MAT/music.wav" ]; then
  log "music: a generated General MIDI piece rendered by timidity with freepats"
  python3 "$HERE/make_midi.py" "$MAT/music.mid"
  timidity -c /etc/timidity/freepats.cfg -Ow -s 48000 -o "$MAT/music_raw.wav" "$MAT/music.mid" >/dev/null
  normalize "$MAT/music_raw.wav" "$MAT/music.wav"
fi
if [ ! -f "$MAT/noise_tones.wav" ]; then
  log "noise_tones: independent pink noise per channel + 440 Hz / 1 kHz / 5 kHz / 12 kHz sines"
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "anoisesrc=c=pink:a=0.35:r=48000:s=1:d=$SECONDS_OF_AUDIO" \
    -f lavfi -i "anoisesrc=c=pink:a=0.35:r=48000:s=2:d=$SECONDS_OF_AUDIO" \
    -f lavfi -i "sine=f=440:r=48000:d=$SECONDS_OF_AUDIO" \
    -f lavfi -i "sine=f=1000:r=48000:d=$SECONDS_OF_AUDIO" \
    -f lavfi -i "sine=f=5000:r=48000:d=$SECONDS_OF_AUDIO" \
    -f lavfi -i "sine=f=12000:r=48000:d=$SECONDS_OF_AUDIO" \
    -filter_complex "[2:a]volume=0.5[s1];[3:a]volume=0.5[s2];[4:a]volume=0.2[s3];[5:a]volume=0.1[s4];\
[0:a][s1][s3]amix=inputs=3:normalize=0[l];[1:a][s2][s4]amix=inputs=3:normalize=0[r];\
[l][r]join=inputs=2:channel_layout=stereo" \
    -c:a pcm_s16le "$MAT/noise_tones_raw.wav"
  normalize "$MAT/noise_tones_raw.wav" "$MAT/noise_tones.wav"
fi
MATERIALS="speech music noise_tones"

# --- encode, decode ----------------------------------------------------------------------------
OUT="$WORK/coded"
mkdir -p "$OUT"
MANIFEST="$WORK/manifest.tsv"
printf 'material\tbitrate\tencoder\tref\tcoded\tdecoded\tcpu_s\n' >"$MANIFEST"
for m in $MATERIALS; do
  ref="$MAT/$m.wav"
  for br in $BITRATES; do
    log "$m @ $br: FDK"
    f="$OUT/$m.$br.fdk.aac"
    line=$($NICE "$FDK" "$ref" "$f" "$br")
    cpu=$(sed -n 's/.* in \([0-9.]*\) s:.*/\1/p' <<<"$line")
    ffmpeg -hide_banner -loglevel error -y -i "$f" -c:a pcm_f32le "$OUT/$m.$br.fdk.wav"
    printf '%s\t%s\tfdk\t%s\t%s\t%s\t%s\n' "$m" "$br" "$ref" "$f" "$OUT/$m.$br.fdk.wav" "$cpu" >>"$MANIFEST"

    log "$m @ $br: FFmpeg aac"
    f="$OUT/$m.$br.ffaac.m4a"
    # -benchmark: the process' user+system CPU time; the aac encoder is single-threaded.
    bench=$($NICE ffmpeg -hide_banner -nostats -benchmark -y -i "$ref" -c:a aac -b:a "$br" -threads 1 "$f" 2>&1 |
      sed -n 's/^bench: utime=\([0-9.]*\)s stime=\([0-9.]*\)s.*/\1 \2/p' | tail -1)
    cpu=$(awk '{print $1 + $2}' <<<"$bench")
    ffmpeg -hide_banner -loglevel error -y -i "$f" -c:a pcm_f32le "$OUT/$m.$br.ffaac.wav"
    printf '%s\t%s\tffmpeg-aac\t%s\t%s\t%s\t%s\n' "$m" "$br" "$ref" "$f" "$OUT/$m.$br.ffaac.wav" "$cpu" >>"$MANIFEST"
  done
done

# --- measure -------------------------------------------------------------------------------------
log "measuring"
$NICE "$VENV/bin/python" "$HERE/analyze.py" "$MANIFEST" "$HERE/results.json" \
  --ffmpeg-version "$(ffmpeg -version | head -1)" --visqol "$VISQOL"
