#!/usr/bin/env bash
# Runs every cargo-fuzz target of crates/fuzz (or the ones named) one after the other, each
# for a set time or a set number of runs, and prints one line per target: executions, crashes,
# seconds, exec/s. Exits 1 if any target crashed (or failed to run), 2 on a usage error.
#
#   bash crates/fuzz/run-all.sh                          # every target, 60 s each
#   FUZZ_SECONDS=300 bash crates/fuzz/run-all.sh         # every target, 5 min each
#   FUZZ_RUNS=10000000 bash crates/fuzz/run-all.sh       # every target, 10 M executions each
#   bash crates/fuzz/run-all.sh --runs 100000 rtp_packet session_server
#   npm run fuzz -- --seconds 30
#
# Options (each also an environment variable; options win):
#   --seconds N   FUZZ_SECONDS  stop each target after N seconds (-max_total_time)
#   --runs N      FUZZ_RUNS     stop each target after N executions (-runs)
#                 With both, a target stops at whichever comes first; with neither, 60 s.
#   --no-build    FUZZ_NO_BUILD=1  use the binaries already built
#                 FUZZ_ARGS     extra libFuzzer flags for every target, e.g. "-max_len=8192"
#                 FUZZ_NICE     nice level of builds and runs (default 19; the box is shared)
#                 FUZZ_TOOLCHAIN  cargo toolchain (default +nightly)
#
# One fuzz process at a time. Corpora grow in crates/fuzz/corpus/<target>/, crashes go to
# crates/fuzz/artifacts/<target>/, full logs to crates/fuzz/target/run-all/<target>.log.
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain.
set -uo pipefail
# openh264 (linked by the mixer) defines two C++ tables twice across its decoder sources: ASan
# reports that ODR violation at start-up, before any input; it is not ours to fix, so it is not
# checked (any other report still counts).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root" || exit 2

seconds="${FUZZ_SECONDS:-}"
runs="${FUZZ_RUNS:-}"
build=1
[[ "${FUZZ_NO_BUILD:-}" == 1 ]] && build=0
nice_level="${FUZZ_NICE:-19}"
toolchain="${FUZZ_TOOLCHAIN:-+nightly}"
targets=()

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --seconds) seconds="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --runs) runs="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
    --runs=*) runs="${1#*=}"; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
for v in "$seconds" "$runs"; do
  if [[ -n "$v" && ! "$v" =~ ^[0-9]+$ ]]; then
    echo "--seconds/--runs take a whole number, got '$v'" >&2
    exit 2
  fi
done
[[ -z "$seconds" && -z "$runs" ]] && seconds=60

fuzz_dir=crates/fuzz
all_targets=($(cargo "$toolchain" fuzz list --fuzz-dir "$fuzz_dir")) || {
  echo "cargo $toolchain fuzz list failed: install cargo-fuzz and a nightly toolchain" >&2
  exit 2
}
if ((${#targets[@]} == 0)); then
  targets=("${all_targets[@]}")
else
  for t in "${targets[@]}"; do
    if [[ " ${all_targets[*]} " != *" $t "* ]]; then
      echo "no fuzz target '$t' (have: ${all_targets[*]})" >&2
      exit 2
    fi
  done
fi

if ((build)); then
  echo "building ${#targets[@]} target(s) (cargo $toolchain fuzz build, nice $nice_level)..." >&2
  if ((${#targets[@]} == ${#all_targets[@]})); then
    nice -n "$nice_level" cargo "$toolchain" fuzz build --fuzz-dir "$fuzz_dir" >&2 || exit 1
  else
    for t in "${targets[@]}"; do
      nice -n "$nice_level" cargo "$toolchain" fuzz build --fuzz-dir "$fuzz_dir" "$t" >&2 || exit 1
    done
  fi
fi

triple="$(rustc "$toolchain" -vV | sed -n 's/^host: //p')"
bin_dir="$fuzz_dir/target/$triple/release"
log_dir="$fuzz_dir/target/run-all"
mkdir -p "$log_dir"

limit_flags=()
[[ -n "$seconds" ]] && limit_flags+=("-max_total_time=$seconds")
[[ -n "$runs" ]] && limit_flags+=("-runs=$runs")
read -r -a extra <<<"${FUZZ_ARGS:-}"

echo "limit per target: ${limit_flags[*]}" >&2
printf '%-18s %14s %8s %9s %10s  %s\n' target executions crashes seconds exec/s note
failed=0
for t in "${targets[@]}"; do
  bin="$bin_dir/$t"
  corpus="$fuzz_dir/corpus/$t"
  artifacts="$fuzz_dir/artifacts/$t"
  log="$log_dir/$t.log"
  mkdir -p "$corpus" "$artifacts"
  if [[ ! -x "$bin" ]]; then
    printf '%-18s %14s %8s %9s %10s  %s\n' "$t" - - - - "not built: $bin"
    failed=1
    continue
  fi
  before="$(ls "$artifacts" | wc -l)"
  start="$(date +%s.%N)"
  nice -n "$nice_level" "$bin" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "${limit_flags[@]}" "${extra[@]}" "$corpus" >"$log" 2>&1
  status=$?
  end="$(date +%s.%N)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  new_artifacts="$(ls -t "$artifacts" | head -n $(( $(ls "$artifacts" | wc -l) - before )))"
  crashes="$(grep -c . <<<"$new_artifacts")"
  note=""
  if ((status != 0)); then
    ((crashes == 0)) && crashes=1
    first="$(head -n 1 <<<"$new_artifacts")"
    note="exit $status${first:+, $artifacts/$first}; log $log"
    failed=1
  fi
  secs="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
  rate="$(awk -v n="${execs:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')"
  printf '%-18s %14s %8s %9s %10s  %s\n' "$t" "${execs:-?}" "$crashes" "$secs" "$rate" "$note"
done
exit "$failed"
