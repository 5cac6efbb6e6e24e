#!/usr/bin/env bash
# Clean release build time (wall clock, from an empty target dir) of each candidate's dependency
# set, and whether it cross-builds for aarch64-unknown-linux-musl with cargo-zigbuild (Zig from
# the `ziglang` PyPI package is found by cargo-zigbuild through `python3 -m ziglang`).
# Machine load (other processes) is recorded before and after each build: wall clock times are
# only comparable with each other on a similarly loaded machine. A cross-built binary is also run
# (20 handshakes) under qemu-aarch64-static when that is installed. Writes
# target/build-cost-run<date>.json (collect.sh merges every such file into results.json).
#   bash bench/dtls-choice/build-cost.sh
set -uo pipefail
cd "$(dirname "$0")"
OUT=target/build-cost
rm -rf "$OUT" && mkdir -p "$OUT"
CROSS=aarch64-unknown-linux-musl

one() { # one KIND NAME FEATURES BIN
  local kind=$1 name=$2 features=$3 bin=$4 t0 t1 rc
  local dir="$OUT/$kind-$name"
  local load0; load0=$(cut -d' ' -f1-3 /proc/loadavg)
  local cmd=(cargo build) bindir="$dir/release"
  if [ "$kind" = cross ]; then cmd=(cargo zigbuild --target "$CROSS"); bindir="$dir/$CROSS/release"; fi
  t0=$(date +%s.%N)
  CARGO_TARGET_DIR="$dir" nice -n 5 "${cmd[@]}" --release ${features:+--features "$features"} > "$dir.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  local size=null file="" runs=null
  if [ $rc -eq 0 ]; then
    size=$(stat -c %s "$bindir/$bin")
    file=$(file -b "$bindir/$bin" | cut -c1-120)
    # Does the cross-built binary work? 20 handshakes under qemu-user (if installed).
    if [ "$kind" = cross ] && command -v qemu-aarch64-static > /dev/null; then
      qemu-aarch64-static "$bindir/$bin" 20 > "$dir.qemu.json" 2>&1 && runs=true || runs=false
    fi
  fi
  jq -n --arg kind "$kind" --arg name "$name" --arg features "$features" --argjson ok "$([ $rc -eq 0 ] && echo true || echo false)" \
    --argjson wall_s "$(echo "$t1 - $t0" | awk '{printf "%.1f", $1 - $3}')" --argjson size "$size" --arg file "$file" --argjson runs_under_qemu "$runs" \
    --arg load_before "$load0" --arg load_after "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg error "$([ $rc -eq 0 ] || grep -E '^(error|  = note|warning: .*failed)' "$dir.log" | head -5)" \
    '{kind: $kind, name: $name, features: $features, ok: $ok, wall_s: $wall_s, binary_bytes: $size, file: $file,
      runs_under_qemu: $runs_under_qemu,
      loadavg_before: $load_before, loadavg_after: $load_after, error: $error}' >> "$OUT/rows.jsonl"
  # keep the logs, drop the build trees (several GiB together)
  rm -rf "$dir"
}

one native baseline      ""            baseline
one native dimpl-rc      dimpl-rc      bench-dimpl-rc
one native dimpl-aws     dimpl-aws     bench-dimpl-aws
one native ossl          ossl          bench-ossl
one native ossl-vendored ossl-vendored bench-ossl
one cross  dimpl-rc      dimpl-rc      bench-dimpl-rc
one cross  dimpl-aws     dimpl-aws     bench-dimpl-aws
one cross  ossl-vendored ossl-vendored bench-ossl
one cross  ossl          ossl          bench-ossl

jq -s --arg zig "$(python3 -m ziglang version 2>&1)" --arg zigbuild "$(cargo-zigbuild --version 2>&1)" \
  '{zig: $zig, cargo_zigbuild: $zigbuild, cross_target: "'"$CROSS"'", builds: .}' "$OUT/rows.jsonl" > "target/build-cost-run$(date -u +%Y%m%dT%H%M%S).json"
echo "wrote $PWD/target/build-cost-run*.json"
