/**
 * `npm install sluice` as a user does it (issue 18): the main package and the host's platform
 * package are packed by `scripts/release-pack.mjs --targets host --skip-build` from the build that
 * `npm run build` already made (no Rust is built here), installed into an empty project with the
 * Rust toolchain, cmake and C compilers hidden from PATH, then `npx sluice --help`, the server on
 * free ports, an ffmpeg publish and an ffmpeg play that decodes frames. Also checks the .node size
 * budget written in the README ("Prebuilt packages") and prints the tarball listings, the install
 * time and the `require('sluice')` time.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { makeSource, publish, run, type Proc } from './helpers/ffmpeg'

const root = path.resolve(__dirname, '..')
const work = mkdtempSync(path.join(os.tmpdir(), 'sluice-install-'))
const project = path.join(work, 'project')
const packages = path.join(work, 'packages')
const bin = path.join(work, 'bin')

interface PackInfo {
  tarball: string
  name: string
  size: number
  unpackedSize: number
  files: { path: string; size: number }[]
}
interface PackResult {
  version: string
  main: PackInfo
  platforms: (PackInfo & { platform: string; node: string; nodeSize: number })[]
}

/** A PATH with node, npm, npx, ffmpeg and sh only: no cargo, rustc, cmake, cc, gcc, c++, make. */
function userPath(): string {
  mkdirSync(bin, { recursive: true })
  const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim()
  for (const cmd of ['node', 'npm', 'npx', 'ffmpeg', 'sh']) {
    const found = which(cmd)
    if (!found) throw new Error(`install test needs ${cmd} on PATH`)
    symlinkSync(realpathSync(found), path.join(bin, cmd))
  }
  return bin
}

/** The environment of a user's shell: this PATH, none of npm's or vitest's variables. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|VITEST|NODE_OPTIONS$|NODE_PATH$|NAPI_RS_|CARGO|RUSTUP)/i.test(k)) continue
    env[k] = v
  }
  env.PATH = userPath()
  return env
}

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = project) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

/** The budget line in the README's "Prebuilt packages": `.node size budget: N MiB`. */
function sizeBudgetBytes(): number {
  const m = readFileSync(path.join(root, 'README.md'), 'utf8').match(/\.node size budget:\s*\**\s*([\d.]+)\s*MiB/)
  if (!m) throw new Error('README.md has no ".node size budget: N MiB" line (section "Prebuilt packages")')
  return Math.round(Number(m[1]) * 1024 * 1024)
}

function listing(info: PackInfo): string {
  const lines = info.files.map((f) => `  ${String(f.size).padStart(9)}  ${f.path}`)
  return `${path.basename(info.tarball)}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${info.files.length} files\n${lines.join('\n')}`
}

const procs: Proc[] = []
afterAll(() => {
  for (const p of procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null || !p.child.pid) continue
    try {
      process.kill(-p.child.pid, 'SIGKILL') // a process group (runGroup)
    } catch {
      p.child.kill('SIGKILL')
    }
  }
  rmSync(work, { recursive: true, force: true })
})

/** Runs a command in its own process group (npx → sh → node), so that it can be stopped whole. */
function runGroup(cmd: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(cmd, args, { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const p = { child, stdout: () => out, stderr: () => err, exited }
  procs.push(p)
  return p
}

describe('npm install of the packed packages (host target)', () => {
  it('installs without Rust or cmake, runs npx sluice, relays an ffmpeg publish to an ffmpeg player', async () => {
    const started = Date.now()
    const host = `${process.platform}-${process.arch}`
    const nodeFile = readdirNode()
    expect(nodeFile, 'npm run build makes sluice.<platform>.node at the root').toBeTruthy()

    // Pack from the current build, as `npm run release:pack` does (without building).
    const packed = spawnSync(process.execPath, [path.join(root, 'scripts/release-pack.mjs'), '--targets', 'host', '--skip-build', '--out', packages, '--json'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    })
    if (packed.status !== 0) throw new Error(`release-pack failed:\n${packed.stderr}`)
    const result = JSON.parse(packed.stdout) as PackResult
    expect(result.platforms).toHaveLength(1)
    const platform = result.platforms[0]!
    expect(platform.platform.startsWith(host)).toBe(true)
    console.log(`tarball listings (pack ${Date.now() - started} ms):\n${listing(result.main)}\n${listing(platform)}`)

    // What each tarball carries: the addon only in the platform package, with its licences.
    expect(result.main.files.some((f) => f.path.endsWith('.node'))).toBe(false)
    for (const f of ['package.json', 'binding.js', 'dist/index.js', 'dist/cli.js']) expect(result.main.files.map((x) => x.path)).toContain(f)
    const mainManifest = JSON.parse(sh('tar', ['-xOzf', result.main.tarball, 'package/package.json'], process.env, root)) as { optionalDependencies: Record<string, string> }
    expect(mainManifest.optionalDependencies[platform.name]).toBe(result.version)
    expect(Object.keys(mainManifest.optionalDependencies)).toHaveLength(7)
    const platformFiles = platform.files.map((x) => x.path)
    expect(platformFiles).toContain(`sluice.${platform.platform}.node`)
    expect(platformFiles).toContain('licenses/FDK-AAC-NOTICE')
    expect(platformFiles).toContain('licenses/OPENH264-LICENSE')
    expect(platformFiles).toContain('licenses/LIBVPX-COPYRIGHT')

    // Size budget (README "Prebuilt packages").
    const budget = sizeBudgetBytes()
    console.log(`sluice.${platform.platform}.node: ${platform.nodeSize} bytes (budget ${budget} bytes)`)
    expect(platform.nodeSize).toBeLessThanOrEqual(budget)
    if (process.platform === 'linux') expect(hasSymbolTable(platform.node), `${platform.node}: the release profile strips symbols`).toBe(false)

    // An empty project and a user's PATH: no Rust toolchain, no cmake, no C compiler.
    mkdirSync(project, { recursive: true })
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'sluice-install-test', version: '1.0.0', private: true }, null, 2))
    const env = userEnv()
    const tools = spawnSync('/bin/sh', ['-c', 'for t in cargo rustc rustup cmake cc gcc c++ make; do command -v $t; done'], { env, encoding: 'utf8' })
    expect(tools.stdout.trim(), 'build tools hidden from PATH').toBe('')

    const installStart = Date.now()
    sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', result.main.tarball, platform.tarball], env)
    const installMs = Date.now() - installStart
    console.log(`npm install of the two tarballs into an empty project: ${installMs} ms`)
    expect(existsSync(path.join(project, 'node_modules', platform.name, `sluice.${platform.platform}.node`))).toBe(true)
    expect(existsSync(path.join(project, 'node_modules', 'sluice', `sluice.${platform.platform}.node`))).toBe(false)

    // The binding comes from the platform package; require and import both work.
    const loaded = sh('node', ['-e', "require('sluice'); console.log(Object.keys(require.cache).find((f) => f.endsWith('.node')))"], env)
    expect(realpathSync(loaded.trim())).toBe(realpathSync(path.join(project, 'node_modules', platform.name, `sluice.${platform.platform}.node`)))
    expect(sh('node', ['--input-type=module', '-e', "import { Sluice } from 'sluice'; console.log(typeof Sluice)"], env).trim()).toBe('function')

    // require('sluice') time: median of five fresh processes.
    const times: number[] = []
    for (let i = 0; i < 5; i++) {
      times.push(Number(sh('node', ['-e', "const t=process.hrtime.bigint();require('sluice');console.log(Number(process.hrtime.bigint()-t)/1e6)"], env).trim()))
    }
    times.sort((a, b) => a - b)
    console.log(`require('sluice'): median ${times[2]!.toFixed(1)} ms (${times.map((t) => t.toFixed(1)).join(', ')})`)

    // npx sluice --help
    const help = sh('npx', ['sluice', '--help'], env)
    expect(help).toContain('--rtmp-port')

    // The server on free loopback ports, from the installed package.
    const server = runGroup('npx', ['sluice', '--rtmp-port', '0', '--http-port', '0', '--srt-port', '0', '--host', '127.0.0.1', '--webrtc-bind', '127.0.0.1'], env)
    const listening = await waitFor(() => server.stderr().match(/sluice listening: rtmp:\/\/127\.0\.0\.1:(\d+)\s+http:\/\/127\.0\.0\.1:(\d+)/), 15_000, 'sluice listening')
    const [rtmpPort, httpPort] = [Number(listening[1]), Number(listening[2])]
    expect(rtmpPort).toBeGreaterThan(0)
    expect(await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()).toEqual({ status: 'ok' })

    // ffmpeg publishes; a second ffmpeg plays over RTMP and decodes 25 video frames.
    const source = path.join(work, 'source.flv')
    await makeSource(source, 4)
    const url = `rtmp://127.0.0.1:${rtmpPort}/live/install`
    const publisher = publish(source, url)
    procs.push(publisher)
    await waitForStream(httpPort)
    const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', url, '-map', '0:v', '-frames:v', '25', '-f', 'framemd5', '-'])
    procs.push(player)
    expect(await player.exited).toBe(0)
    const frames = player.stdout().split('\n').filter((l) => l && !l.startsWith('#'))
    expect(frames.length).toBe(25)
    expect(await publisher.exited).toBe(0)

    process.kill(-server.child.pid!, 'SIGTERM')
    await server.exited
    console.log(`install test: ${Date.now() - started} ms in all`)
  }, 120_000)
})

function waitFor<T>(check: () => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
  const start = Date.now()
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = check()
      if (v) return resolve(v)
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      setTimeout(tick, 50)
    }
    tick()
  })
}

/** Whether an ELF64 little-endian file has a .symtab section (SHT_SYMTAB): unstripped. */
function hasSymbolTable(file: string): boolean {
  const elf = readFileSync(file)
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw new Error(`${file}: not an ELF64 LE file`)
  const shoff = Number(elf.readBigUInt64LE(0x28))
  const shentsize = elf.readUInt16LE(0x3a)
  const shnum = elf.readUInt16LE(0x3c)
  for (let i = 0; i < shnum; i++) if (elf.readUInt32LE(shoff + i * shentsize + 4) === 2) return true
  return false
}

function readdirNode(): string | undefined {
  const abi = process.platform === 'linux' ? (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime ? 'gnu' : 'musl' : undefined
  const name = `sluice.${process.platform}-${process.arch}${abi ? `-${abi}` : process.platform === 'win32' ? '-msvc' : ''}.node`
  return existsSync(path.join(root, name)) ? name : undefined
}

async function waitForStream(httpPort: number): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const body = (await (await fetch(`http://127.0.0.1:${httpPort}/api/streams`)).json()) as { streams: unknown[] }
    if (body.streams.length > 0) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('the published stream never appeared in /api/streams')
}
