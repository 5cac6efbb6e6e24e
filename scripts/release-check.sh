#!/usr/bin/env bash
# `npm run release:check` (by hand, not in `npm test`: it builds four targets, ~20 min on 2
# idle cores): installs the cross tooling it needs, builds and packs every Linux target with
# scripts/release-pack.mjs, then checks each sluice.<platform>.node:
#   - architecture, ELF class and strip state (`file`, `readelf -h`);
#   - libc: the gnu ones name their newest GLIBC_x.y symbol version; the musl ones must need no
#     glibc symbol version and no glibc library, and musl's own dynamic loader (Debian's `musl`,
#     1.2.3, run on the .node with `--list`) must resolve every symbol but N-API's (Node's);
#   - size against the README's ".node size budget";
#   - a run: scripts/release-smoke.cjs (Rust, FDK AAC, libopus, Symphonia) with the host's node
#     for linux-x64-gnu, and under qemu-user with Debian's arm64 node (extracted into a sysroot,
#     not installed: it would replace the host's node) for linux-arm64-gnu. No musl Node is to
#     be had from Debian or the npm registry, so the musl ones are checked with musl's loader.
# Options: --skip-build (check what npm/<platform>/ already holds).
# Environment: SLUICE_ARM64_SYSROOT (default /opt/sluice-arm64-sysroot).
set -euo pipefail
cd "$(dirname "$0")/.."

SKIP_BUILD=0
[ "${1:-}" = "--skip-build" ] && SKIP_BUILD=1
SYSROOT="${SLUICE_ARM64_SYSROOT:-/opt/sluice-arm64-sysroot}"
GLIBC_FLOOR=2.28 # scripts/release-pack.mjs GLIBC_FLOOR
LINUX_TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
say() { printf '\n== %s\n' "$*"; }

say "tooling"
if [ "$SKIP_BUILD" = 0 ]; then
  installed="$(rustup target list --installed)"
  for t in "${LINUX_TARGETS[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
  done
  command -v zig >/dev/null || python3 -m ziglang version >/dev/null 2>&1 || pip install ziglang
  command -v cargo-zigbuild >/dev/null || cargo install cargo-zigbuild --locked
fi
need_apt=()
command -v file >/dev/null || need_apt+=(file)
command -v readelf >/dev/null || need_apt+=(binutils)
command -v qemu-aarch64-static >/dev/null || need_apt+=(qemu-user-static)
[ -e /lib/ld-musl-x86_64.so.1 ] || need_apt+=(musl)
if [ "${#need_apt[@]}" -gt 0 ]; then as_root apt-get update -qq && as_root apt-get install -y -qq "${need_apt[@]}"; fi

# Debian's arm64 node and musl loader, unpacked into a sysroot for qemu-user (-L).
if [ ! -x "$SYSROOT/root/usr/bin/node" ] || [ ! -e "$SYSROOT/root/lib/ld-musl-aarch64.so.1" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || { as_root dpkg --add-architecture arm64 && as_root apt-get update -qq; }
  as_root mkdir -p "$SYSROOT/debs" && as_root chmod 777 "$SYSROOT/debs"
  (cd "$SYSROOT/debs" && apt-get download -qq nodejs:arm64 libnode108:arm64 libc6:arm64 libgcc-s1:arm64 libstdc++6:arm64 \
    libbrotli1:arm64 libc-ares2:arm64 libicu72:arm64 libnghttp2-14:arm64 libssl3:arm64 libuv1:arm64 zlib1g:arm64 \
    musl:arm64 node-acorn node-cjs-module-lexer node-undici)
  for d in "$SYSROOT"/debs/*.deb; do as_root dpkg-deb -x "$d" "$SYSROOT/root"; done
fi
ARM64_NODE=(qemu-aarch64-static -L "$SYSROOT/root" "$SYSROOT/root/usr/bin/node")
echo "arm64 node under qemu: $("${ARM64_NODE[@]}" -p 'process.arch + " " + process.version')"

if [ "$SKIP_BUILD" = 0 ]; then
  say "build and pack: node scripts/release-pack.mjs --targets all"
  start=$(date +%s)
  nice -n 10 node scripts/release-pack.mjs --targets all
  echo "built and packed in $(( $(date +%s) - start )) s"
fi

budget_mib="$(sed -n 's/.*\.node size budget:[* ]*\([0-9.]*\) *MiB.*/\1/p' README.md | head -1)"
budget=$(awk -v m="${budget_mib:-0}" 'BEGIN { printf "%d", m * 1048576 + 0.5 }')
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

for triple in "${LINUX_TARGETS[@]}"; do
  case "$triple" in
    x86_64-*-gnu) p=linux-x64-gnu machine='X86-64' ;;
    aarch64-*-gnu) p=linux-arm64-gnu machine='AArch64' ;;
    x86_64-*-musl) p=linux-x64-musl machine='X86-64' ;;
    aarch64-*-musl) p=linux-arm64-musl machine='AArch64' ;;
  esac
  f="npm/$p/sluice.$p.node"
  say "$p ($triple): $f"
  [ -f "$f" ] || { fail "$f missing"; continue; }
  file -b "$f"
  size=$(stat -c %s "$f")
  echo "size: $size bytes (budget $budget)"
  [ "$budget" -gt 0 ] && [ "$size" -gt "$budget" ] && fail "$p: $size bytes over the budget of $budget"
  readelf -h "$f" | grep -q "Machine:.*$machine" || fail "$p: not $machine: $(readelf -h "$f" | grep Machine)"
  file -b "$f" | grep -q ', stripped' || fail "$p: not stripped"
  needed="$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
  echo "NEEDED: $needed"
  glibc="$(readelf -W --dyn-syms -V "$f" | { grep -o 'GLIBC_[0-9.]*' || true; } | sort -uV | tr '\n' ' ')"
  case "$p" in
    *-gnu)
      echo "glibc symbol versions: $glibc"
      [ -n "$glibc" ] || fail "$p: no GLIBC symbol versions (is it really a gnu build?)"
      newest="$(tr ' ' '\n' <<<"$glibc" | grep . | tail -1 | sed 's/GLIBC_//')"
      [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_FLOOR" | sort -V | tail -1)" = "$GLIBC_FLOOR" ] || fail "$p: needs glibc $newest, newer than $GLIBC_FLOOR"
      ;;
    *-musl)
      [ -z "$glibc" ] || fail "$p: needs glibc symbol versions: $glibc"
      grep -Eq 'libc\.so\.6|ld-linux|libm\.so\.6|libpthread|libdl\.so' <<<"$needed" && fail "$p: needs a glibc library: $needed"
      if [ "$machine" = X86-64 ]; then loader=(/lib/ld-musl-x86_64.so.1); else loader=(qemu-aarch64-static -L "$SYSROOT/root" "$SYSROOT/root/lib/ld-musl-aarch64.so.1"); fi
      unresolved="$("${loader[@]}" --list "$f" 2>&1 | grep -E 'Error (relocating|loading)' || true)"
      others="$(grep -v -E 'Error relocating .*: napi_[a-z0-9_]+: symbol not found' <<<"$unresolved" || true)"
      echo "musl 1.2.3 loader: $(grep -c napi_ <<<"$unresolved") N-API symbols left to Node, $(grep -c . <<<"$others") other unresolved"
      [ -z "$others" ] || fail "$p: musl's loader cannot resolve: $others"
      ;;
  esac
  case "$p" in
    linux-x64-gnu) node scripts/release-smoke.cjs "$f" || fail "$p: smoke run" ;;
    linux-arm64-gnu) "${ARM64_NODE[@]}" scripts/release-smoke.cjs "$f" || fail "$p: smoke run under qemu" ;;
    *) echo "smoke run: none (no musl Node binary from Debian or npm)" ;;
  esac
done

say "dist-packages/"
ls -l dist-packages/
echo
if [ "$failed" -gt 0 ]; then echo "release:check: $failed failed"; exit 1; fi
echo "release:check: all linux targets ok"
