#!/usr/bin/env node
// `npm run build:native` (and release-pack for each target): `napi build <args>` with the
// system's libvpx linked statically into the .node, for the mixer's VP8 decoder (cargo feature
// `vp8`, on by default).
//
// libvpx-native-sys finds libvpx by pkg-config, which links a library under /usr dynamically
// whatever VPX_STATIC says; so the library directory, version and headers are given to it
// directly (VPX_LIB_DIR, VPX_VERSION, VPX_INCLUDE_DIR) with VPX_STATIC=1. When the target has
// no libvpx here (no libvpx.a: Debian `libvpx-dev`; a cross target: arm64, musl), the build goes
// on without the `vp8` feature and says so: such a build's mixes refuse VP8 inputs
// (MIX_UNSUPPORTED_INPUT).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))

/** The Rust triple of this machine's Node (what a build without `--target` produces). */
function hostTriple() {
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch]
  if (process.platform === 'linux') {
    const glibc = process.report?.getReport?.()?.header?.glibcVersionRuntime
    return `${arch}-unknown-linux-${glibc ? 'gnu' : 'musl'}`
  }
  if (process.platform === 'darwin') return `${arch}-apple-darwin`
  return `${arch}-pc-windows-msvc`
}

function pkgConfig(...args) {
  return execFileSync('pkg-config', [...args, 'vpx'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
}

/**
 * Environment that makes libvpx-native-sys link the system's static libvpx for `triple`
 * (a Rust triple, with or without zig's `.2.28` glibc suffix), or `null` with the reason.
 */
export function libvpxEnv(triple) {
  const target = triple.replace(/\.\d+\.\d+$/, '')
  if (target !== hostTriple()) return { env: null, reason: `no libvpx for ${target} on this ${hostTriple()} machine` }
  let libdir, version, includedir
  try {
    libdir = pkgConfig('--variable=libdir')
    version = pkgConfig('--modversion')
    includedir = pkgConfig('--variable=includedir')
  } catch {
    return { env: null, reason: 'pkg-config finds no libvpx (Debian: apt-get install libvpx-dev)' }
  }
  // Debian's vpx.pc says libdir=/usr/lib while the library is in the multiarch directory, the
  // parent of the .pc file's own.
  const dirs = [libdir, path.dirname(pkgConfig('--variable=pcfiledir'))]
  const dir = dirs.find((d) => existsSync(path.join(d, 'libvpx.a')))
  if (!dir) return { env: null, reason: `no libvpx.a in ${dirs.join(' or ')}` }
  return { env: { VPX_LIB_DIR: dir, VPX_VERSION: version, VPX_INCLUDE_DIR: includedir, VPX_STATIC: '1' }, reason: null }
}

/** `napi build` arguments without the `vp8` feature (cargo features only add up). */
export function withoutVp8(args) {
  if (args.includes('--no-default-features')) return args
  return [...args, '--no-default-features', '--features', 'fdk-aac']
}

/** Runs `napi build <args>` for the target they name (the host's without `--target`). */
export function nativeBuild(args, env = process.env) {
  const at = args.indexOf('--target')
  const triple = at >= 0 ? args[at + 1] : hostTriple()
  const vpx = libvpxEnv(triple)
  if (!vpx.env) console.warn(`native-build: building without VP8 decoding (mixes refuse VP8 inputs): ${vpx.reason}`)
  const finalArgs = !vpx.env ? withoutVp8(args) : args.includes('--no-default-features') ? [...args, '--features', 'vp8'] : args
  return spawnSync('npx', ['napi', 'build', ...finalArgs], { cwd: root, stdio: 'inherit', env: { ...env, ...vpx.env } })
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const r = nativeBuild(process.argv.slice(2))
  process.exit(r.status ?? 1)
}
