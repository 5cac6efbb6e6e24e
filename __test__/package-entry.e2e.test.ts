/**
 * The package as a user installs it: `npm pack`, unpacked into an empty project's node_modules
 * (its dependencies linked from this checkout's node_modules, nothing fetched), then loaded
 * through the `exports` map with `require('sluice')` and `import ... from 'sluice'`, typed under
 * `tsc --moduleResolution node16` and `bundler`; without the native binary first (a clear error
 * naming the platform package; `sluice --help` still works), then with it. The install test of
 * the real platform packages is the packaging's own.
 */
import { describe, it, expect, beforeAll } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

const root = join(__dirname, '..')
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const dir = mkdtempSync(join(tmpdir(), 'sluice-consumer-'))
const installed = join(dir, 'node_modules', 'sluice')
let listing: string[] = []

/** The platform package napi-rs names for this machine (glibc Linux here: `-gnu`). */
const glibc = Boolean((process.report.getReport() as any).header.glibcVersionRuntime)
const platformPackage = `sluice-${process.platform}-${process.arch}${process.platform === 'linux' ? (glibc ? '-gnu' : '-musl') : process.platform === 'win32' ? '-msvc' : ''}`

function node(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

function tsc(project: string) {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project, '--explainFiles'], { cwd: dir, encoding: 'utf8' })
  return { status: r.status, out: r.stdout + r.stderr }
}

beforeAll(() => {
  const pack = JSON.parse(execFileSync('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))[0]
  listing = pack.files.map((f: { path: string }) => f.path).sort()
  console.log(`npm pack: ${pack.filename}, ${pack.size} bytes packed, ${pack.unpackedSize} unpacked, ${listing.length} files:\n${listing.join('\n')}`)
  mkdirSync(installed, { recursive: true })
  execFileSync('tar', ['-xzf', join(dir, pack.filename), '-C', installed, '--strip-components=1'])
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
  for (const dep of [...Object.keys(rootPkg.dependencies), '@types/node']) {
    mkdirSync(dirname(join(dir, 'node_modules', dep)), { recursive: true })
    symlinkSync(join(root, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir')
  }
}, 60_000)

describe('the packed package', () => {
  it('ships the entry points, LICENSE and the native code notices, and no binary of its own', () => {
    for (const f of ['LICENSE', 'licenses/LIBOPUS-COPYING', 'licenses/OPENH264-LICENSE', 'licenses/LIBVPX-COPYRIGHT', 'crates/audio/licenses/FDK-AAC-NOTICE', 'dist/index.js', 'dist/index.d.ts', 'dist/index.mjs', 'dist/index.d.mts', 'dist/cli.js', 'binding.js', 'sluice.example.yaml']) {
      expect(listing, f).toContain(f)
    }
    expect(listing.filter((f) => f.endsWith('.node'))).toEqual([])
    expect(readFileSync(join(installed, 'licenses/LIBOPUS-COPYING'), 'utf8')).toContain('Redistributions in binary form must reproduce the above copyright')
    // Source maps carry their sources (tsconfig inlineSources): ts/ itself is not shipped.
    const maps = listing.filter((f) => f.endsWith('.js.map'))
    expect(maps.length).toBeGreaterThan(10)
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(installed, m), 'utf8'))
      expect(map.sourcesContent?.length, m).toBe(map.sources.length)
    }
  })
})

describe('without the native binary', () => {
  it('require/import fail with NativeBindingError naming the platform package', () => {
    for (const args of [['-e', "require('sluice')"], ['--input-type=module', '-e', "import 'sluice'"]]) {
      const r = node(args)
      expect(r.status).not.toBe(0)
      expect(r.stderr).toContain('NativeBindingError')
      expect(r.stderr).toContain(`npm install ${platformPackage}@${rootPkg.version}`)
    }
    const r = node(['-e', "try { require('sluice') } catch (e) { console.log(e.code, e.packageName) }"])
    expect(r.stdout.trim()).toBe(`NATIVE_BINDING_MISSING ${platformPackage}`)
  })

  it('sluice --help, --print-config and sluice token work; starting the server says what to install (exit 1)', () => {
    const cli = join(installed, 'dist/cli.js')
    const help = node([cli, '--help'])
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('Usage: sluice [options]')
    const config = node([cli, '--print-config', '--rtmp-port', '1936'])
    expect(config.status).toBe(0)
    expect(config.stdout).toMatch(/port: 1936/)
    const token = node([cli, 'token', '--action', 'play', '--stream', 'live/cam', '--secret', 'a-secret-of-16-chars'])
    expect(token.status).toBe(0)
    const start = node([cli, '--rtmp-port', '0', '--http-port', '0', '--srt-port', '0', '--host', '127.0.0.1'])
    console.log(`sluice without its binary:\n${start.stderr}`)
    expect(start.status).toBe(1)
    expect(start.stderr).toMatch(new RegExp(`^sluice: Sluice's native binary for ${process.platform}-${process.arch} could not be loaded\\. It comes in the package ${platformPackage}`))
  })

  it('NAPI_RS_NATIVE_LIBRARY_PATH pointing at a missing file gives the same message (the checkout itself)', () => {
    const r = spawnSync(process.execPath, ['-e', "require('./dist/index.js')"], { cwd: root, encoding: 'utf8', env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: join(dir, 'missing.node') } })
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain(`It comes in the package ${platformPackage}`)
    expect(r.stderr).toContain(`tried: Cannot find module '${join(dir, 'missing.node')}'`)
  })
})

describe('with the native binary', () => {
  beforeAll(() => {
    // What the platform package provides; binding.js also loads it from beside itself.
    const binary = readdirSync(root).find((f) => /^sluice\..+\.node$/.test(f))!
    copyFileSync(join(root, binary), join(installed, binary))
  })

  it("require('sluice') and import from 'sluice' give the same exports, from one instance", () => {
    const cjs = node(['-e', "console.log(JSON.stringify(Object.keys(require('sluice')).filter((k) => k !== '__esModule').sort()))"])
    expect(cjs.status, cjs.stderr).toBe(0)
    const cjsNames = JSON.parse(cjs.stdout)
    expect(cjsNames).toContain('Sluice')
    expect(cjsNames).toContain('NativeBindingError')
    const esm = node([
      '--input-type=module',
      '-e',
      "import { Sluice } from 'sluice'; import * as m from 'sluice'; import { createRequire } from 'node:module';" +
        "const c = createRequire(import.meta.url)('sluice');" +
        "console.log(JSON.stringify({ same: Sluice === c.Sluice && m.default === c, names: Object.keys(m).filter((k) => k !== 'default').sort() }))",
    ])
    expect(esm.status, esm.stderr).toBe(0)
    const { same, names } = JSON.parse(esm.stdout)
    expect(same).toBe(true)
    expect(names).toEqual(cjsNames)
    console.log(`'sluice' exports ${names.length} names to require and import alike`)
  })

  it('an ESM program starts and stops a server; ./package.json is exported, internals are not', () => {
    const r = node([
      '--input-type=module',
      '-e',
      "import { Sluice } from 'sluice';" +
        "const s = new Sluice({ rtmp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, srt: { enabled: false }, log: { level: 'silent' } });" +
        "await s.start(); const r = await fetch(`http://127.0.0.1:${s.http.port}/healthz`); console.log(r.status, await r.text()); await s.close()",
    ])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe('200 {"status":"ok"}')
    expect(node(['-p', "require('sluice/package.json').version"]).stdout.trim()).toBe(rootPkg.version)
    expect(node(['-e', "require('sluice/dist/server.js')"]).stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED')
  })
})

describe('types of the installed package', () => {
  const esm = `import { Sluice, ConfigError, type SluiceConfigInput, type AccessRequest, type StreamInfo } from 'sluice'
const options: SluiceConfigInput = { rtmp: { port: 0 }, access: { policy: 'open' } }
const sluice: Sluice = new Sluice(options)
sluice.on('publish', (req: AccessRequest) => (req.app === 'live' ? req.accept() : req.reject('unknown app')))
const streams: StreamInfo[] = []
// @ts-expect-error rtmp.port is a number (proves the types are Sluice's, not any)
new Sluice({ rtmp: { port: '1935' } })
export const used = [sluice, streams, ConfigError] as const
`
  const cjs = `import sluice = require('sluice')
const server: sluice.Sluice = new sluice.Sluice({ http: { port: 0 } })
server.on('unpublish', (client: sluice.ClientEnded) => console.log(client.bytesIn))
// @ts-expect-error unknown event
server.on('nope', () => {})
export = server
`
  beforeAll(() => {
    writeFileSync(join(dir, 'esm.mts'), esm)
    writeFileSync(join(dir, 'cjs.cts'), cjs)
    writeFileSync(join(dir, 'bundler.ts'), esm)
    const common = { target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }
    writeFileSync(join(dir, 'tsconfig.node16.json'), JSON.stringify({ compilerOptions: { ...common, module: 'node16', moduleResolution: 'node16' }, files: ['esm.mts', 'cjs.cts'] }))
    writeFileSync(join(dir, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...common, module: 'esnext', moduleResolution: 'bundler' }, files: ['bundler.ts'] }))
  })

  it('resolve under --moduleResolution node16: import → dist/index.d.mts, require → dist/index.d.ts', () => {
    const r = tsc('tsconfig.node16.json')
    expect(r.status, r.out).toBe(0)
    expect(r.out).toMatch(/node_modules\/sluice\/dist\/index\.d\.mts\n\s+Imported via 'sluice' from file 'esm\.mts'/)
    // dist/index.d.ts: imported by cjs.cts directly (and by index.d.mts, which re-exports it).
    expect(r.out).toMatch(/node_modules\/sluice\/dist\/index\.d\.ts\n(\s+Imported via .*\n)*\s+Imported via 'sluice' from file 'cjs\.cts'/)
  }, 60_000)

  it('resolve under --moduleResolution bundler', () => {
    const r = tsc('tsconfig.bundler.json')
    expect(r.status, r.out).toBe(0)
    expect(r.out).toMatch(/node_modules\/sluice\/dist\/index\.d\.mts\n\s+Imported via 'sluice' from file 'bundler\.ts'/)
  }, 60_000)
})
