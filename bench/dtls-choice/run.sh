#!/usr/bin/env bash
# Builds every candidate and runs the measurements: handshake CPU time (5 interleaved runs of N
# handshakes each), interop matrix, release binary sizes. Writes target/measure.json; `build-cost.sh`
# measures clean build times and the aarch64-musl cross build. See README.md.
#   bash bench/dtls-choice/run.sh [N]      (N handshakes per run, default 500)
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="$PWD/target"
N="${1:-500}"
OUT=target/out
mkdir -p "$OUT" target/bins

# One build per feature set; the binaries are copied away because `ossl` and `ossl-vendored`
# produce the same binary names.
build() { # build NAME FEATURES BIN...
  local name=$1 features=$2; shift 2
  nice -n 5 cargo build --release --quiet ${features:+--features "$features"}
  mkdir -p "target/bins/$name"
  for b in "$@"; do cp "target/release/$b" "target/bins/$name/"; done
}
build baseline ""                        baseline
build dimpl-rc dimpl-rc                  bench-dimpl-rc
build dimpl-aws dimpl-aws                bench-dimpl-aws
build ossl ossl                          bench-ossl
build ossl-vendored ossl-vendored        bench-ossl
build interop ossl,dimpl-rc,dimpl-aws    interop

# Five rounds, each running every configuration once, so that changes in machine load hit all
# candidates alike. One JSON object per line per run.
configs=(
  "dimpl-rc          target/bins/dimpl-rc/bench-dimpl-rc $N"
  "dimpl-rc-cookie   target/bins/dimpl-rc/bench-dimpl-rc $N --cookie"
  "dimpl-aws         target/bins/dimpl-aws/bench-dimpl-aws $N"
  "dimpl-aws-cookie  target/bins/dimpl-aws/bench-dimpl-aws $N --cookie"
  "ossl              target/bins/ossl/bench-ossl $N"
  "ossl-gcm          target/bins/ossl/bench-ossl $N --gcm"
  "ossl-vendored     target/bins/ossl-vendored/bench-ossl $N"
  "ossl-vendored-gcm target/bins/ossl-vendored/bench-ossl $N --gcm"
)
rm -f "$OUT"/*.jsonl
for _round in 1 2 3 4 5; do
  for c in "${configs[@]}"; do
    read -r name cmd <<< "$c"
    nice -n 5 $cmd >> "$OUT/$name.jsonl"
  done
done
nice -n 5 target/bins/interop/interop > "$OUT/interop.json"

# Sizes (bytes) of the stripped LTO binaries, and what the system-OpenSSL one loads at run time.
{
  echo "{"
  for p in baseline/baseline dimpl-rc/bench-dimpl-rc dimpl-aws/bench-dimpl-aws ossl/bench-ossl ossl-vendored/bench-ossl; do
    echo "  \"${p%%/*}\": $(stat -c %s "target/bins/$p"),"
  done
  libs=$(ldd target/bins/ossl/bench-ossl | awk '/libssl|libcrypto/ {print $3}')
  echo "  \"system_libssl_libcrypto_so\": $(stat -L -c %s $libs | awk '{s+=$1} END {print s}')"
  echo "}"
} > "$OUT/sizes.json"

jq -n --slurpfile sizes "$OUT/sizes.json" --slurpfile interop "$OUT/interop.json" \
  --arg load "$(cat /proc/loadavg)" --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)" \
  --arg rustc "$(rustc --version)" \
  '{machine: {cpu: $cpu, nproc: '"$(nproc)"', loadavg_at_end: $load, rustc: $rustc},
    sizes_bytes: $sizes[0], interop: $interop[0]}' > target/measure.json
for f in "$OUT"/*.jsonl; do
  jq -s --arg k "$(basename "$f" .jsonl)" '{($k): .}' "$f"
done | jq -s 'add | {bench: .}' | jq -s '.[0] * .[1]' target/measure.json - > target/measure.tmp
mv target/measure.tmp target/measure.json
echo "wrote $PWD/target/measure.json"
