#!/usr/bin/env bash
# Merges target/measure.json (run.sh), target/build-cost*.json (build-cost.sh) and release facts
# from the crates.io sparse index (version, `pubtime`, rust-version) into results.json, with a
# summary: per configuration the median over the runs of each run's median (microseconds).
#   bash bench/dtls-choice/collect.sh
set -euo pipefail
cd "$(dirname "$0")"

index() { # index PATH: newest non-yanked release in the sparse index
  curl -sf -m 30 "https://index.crates.io/$1" | jq -s '[.[] | select(.yanked | not)] | last |
    {name, version: .vers, published: .pubtime, rust_version, releases_total: null}' 2>/dev/null || echo null
}
releases() { # releases PATH SINCE: number of releases published since SINCE
  curl -sf -m 30 "https://index.crates.io/$1" | jq -s --arg since "$2" '[.[] | select((.pubtime // "") >= $since)] | length' 2>/dev/null || echo null
}
since=$(date -u -d '1 year ago' +%Y-%m-%d)
maint='{}'
for p in di/mp/dimpl op/en/openssl op/en/openssl-sys op/en/openssl-src aw/s-/aws-lc-rs aw/s-/aws-lc-sys rc/ge/rcgen p2/56/p256; do
  maint=$(jq --argjson r "$(index $p)" --argjson n "$(releases $p "$since")" --arg since "$since" \
    '. + {($r.name): ($r | del(.releases_total) + {releases_since: {since: $since, count: $n}})}' <<< "$maint")
done

builds='[]'
for f in target/build-cost-*.json; do
  [ -f "$f" ] && builds=$(jq --slurpfile b "$f" --arg f "$f" '. + [$b[0] + {file: $f}]' <<< "$builds")
done

jq --argjson maint "$maint" --argjson builds "$builds" --arg date "$(date -u +%FT%TZ)" '
def med: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
{
  generated: $date,
  machine: .machine,
  summary: (.bench | with_entries(.value |= {
    runs: length,
    handshakes_per_run: .[0].handshakes,
    server_cpu_median_us: ([.[].server_cpu.median_us] | med),
    server_cpu_p90_us: ([.[].server_cpu.p90_us] | med),
    client_cpu_median_us: ([.[].client_cpu.median_us] | med),
    server_handshakes_per_core_s: (1e6 / ([.[].server_cpu.median_us] | med) | floor),
    cert_gen_cpu_median_us: ([.[].cert_gen_cpu.median_us] | med),
    profile: .[0].profile,
    keying_len: .[0].keying_len,
    keying_equal_all_runs: ([.[].keying_equal] | all),
    datagrams: .[0].datagrams,
    bytes: .[0].bytes,
    lost_flight_ok_all_runs: ([.[].lost_flight[].ok] | all),
    negotiated: .[0].negotiated
  })),
  sizes_bytes: .sizes_bytes,
  interop_failures: .interop.failures,
  maintenance: $maint,
  build_cost: $builds,
  raw: {bench: .bench, interop: .interop}
}' target/measure.json > results.json
echo "wrote $PWD/results.json"
