/**
 * `sluice --config`: the YAML file, `SLUICE_*` variables and flags (in that order of
 * precedence) through one schema; `--print-config`; the shipped example; `sluice token`.
 * Every test runs `node dist/cli.js` as a user would, on loopback.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { parse as parseYaml } from 'yaml'
import { verifyToken } from '../dist/index.js'
import { settings } from '../dist/config/env.js'
import { makeSource, publish, type Proc } from './helpers/ffmpeg'
import { waitFor } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'))
const source = join(dir, 'source.flv')
const SECRET = 'token-secret-0123456789'
const ADMIN = 'admin-token-0123456789'
const RELAY = 'relay-secret-0123456789'

/** Runs the CLI with only the given `SLUICE_*` variables (none inherited). */
function cli(args: string[], env: Record<string, string> = {}): Proc {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')))
  const child = spawn('node', ['dist/cli.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...base, ...env } })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { child, stdout: () => out, stderr: () => err, exited }
}

function file(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

/** The effective config printed by `--print-config` (exit 0 expected). */
async function printed(args: string[], env: Record<string, string> = {}): Promise<any> {
  const p = cli([...args, '--print-config'], env)
  expect(await p.exited, p.stderr()).toBe(0)
  return parseYaml(p.stdout())
}

/** Starts the CLI and waits for its listening line; returns its bound ports. */
async function started(p: Proc): Promise<{ rtmp: number; http: number }> {
  const line = await waitFor(() => /sluice listening: rtmp:\/\/[^ ]+:(\d+) {2}http:\/\/[^ ]+:(\d+)/.exec(p.stderr()), 10_000, `listening line (${p.stderr()})`)
  return { rtmp: Number(line[1]), http: Number(line[2]) }
}

async function stop(p: Proc): Promise<number | null> {
  p.child.kill('SIGTERM')
  return p.exited
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.on('connect', () => (s.destroy(), resolve(true)))
    s.on('error', () => resolve(false))
  })
}

async function live(httpPort: number, key: string): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${httpPort}/api/streams`)
  const body = (await r.json()) as { streams: { app: string; name: string }[] }
  return body.streams.some((s) => `${s.app}/${s.name}` === key)
}

/** Polls an async check every 100 ms until it is true. */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

beforeAll(async () => {
  await makeSource(source, 3)
}, 60_000)

const hooks: { path: string; body: any }[] = []
let hookServer: http.Server
let hookPort = 0
beforeAll(async () => {
  hookServer = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      hooks.push({ path: req.url ?? '', body: JSON.parse(body || '{}') })
      res.end('ok')
    })
  })
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()))
  hookPort = (hookServer.address() as net.AddressInfo).port
})
afterAll(() => hookServer?.close())

describe('sluice --config', () => {
  it('a YAML file with every section starts the server: /healthz, WHEP ICE servers, the signaling path, token publishing, the unpublish webhook', async () => {
    const config = file(
      'full.yaml',
      `
rtmp:
  port: 0
  host: 127.0.0.1
  chunkSize: 8192
  playerMergeWriteMs: 20
srt:
  port: 0
  host: 127.0.0.1
  latencyMs: 200
http:
  port: 0
  host: 127.0.0.1
  bodyLimitBytes: 32768
  cors:
    origins: [http://localhost:3000]
webrtc:
  iceServers: [stun:stun.example.net:3478]
  bindAddress: 127.0.0.1
  workers: 1
rtp:
  host: 127.0.0.1
  relaySecret: ${RELAY}
  allowedDestinations: [10.0.0.0/8]
hub:
  gopLimits:
    maxFrames: 2000
  unpublishGraceMs: 200
  publisherTimeoutMs: 4000
signaling:
  path: /ws
  heartbeatMs: 5000
  rateLimit:
    burst: 100
sfu:
  enabled: false
access:
  policy: token
  token:
    secret: ${SECRET}
webhooks:
  onUnpublish: http://127.0.0.1:${hookPort}/on_unpublish
  timeoutMs: 1000
admin:
  token: ${ADMIN}
metrics:
  enabled: true
  path: /metrics
shutdown:
  graceMs: 1000
log:
  level: info
`,
    )
    const p = cli(['--config', config])
    try {
      const ports = await started(p)
      const health = await fetch(`http://127.0.0.1:${ports.http}/healthz`)
      expect(health.status).toBe(200)
      expect(await health.json()).toEqual({ status: 'ok' })
      const options = await fetch(`http://127.0.0.1:${ports.http}/whep/live/x`, { method: 'OPTIONS' })
      expect(options.headers.get('link')).toBe('<stun:stun.example.net:3478>; rel="ice-server"')
      // signaling.path moved the WebSocket endpoint
      const ws = new WebSocket(`ws://127.0.0.1:${ports.http}/ws`)
      await new Promise<void>((resolve, reject) => (ws.on('open', () => resolve()), ws.on('error', reject)))
      ws.close()

      // access.policy token: a publish without a token is refused, one with a `sluice token` token goes live
      const refused = publish(source, `rtmp://127.0.0.1:${ports.rtmp}/live/cfg`)
      expect(await refused.exited).not.toBe(0)
      expect(await live(ports.http, 'live/cfg')).toBe(false)
      const t = cli(['token', '--config', config, '--action', 'publish', '--stream', 'live/cfg', '--ttl', '60'])
      expect(await t.exited, t.stderr()).toBe(0)
      const token = t.stdout().split('\n')[0]!
      const pub = publish(source, `rtmp://127.0.0.1:${ports.rtmp}/live/cfg?token=${token}`)
      await until(() => live(ports.http, 'live/cfg'), 10_000, 'live/cfg to be live')
      expect(await pub.exited, pub.stderr()).toBe(0)
      // webhooks.onUnpublish was called when it ended
      const hook = await waitFor(() => hooks.find((h) => h.path === '/on_unpublish' && h.body.stream === 'cfg'), 5000, 'on_unpublish webhook')
      expect(hook.body.app).toBe('live')
    } finally {
      expect(await stop(p)).toBe(0)
    }
  }, 60_000)

  it('the shipped sluice.example.yaml starts the server, secrets from the environment, ports from flags', async () => {
    expect((JSON.parse(readFileSync('package.json', 'utf8')) as { files: string[] }).files).toContain('sluice.example.yaml')
    const env = { SLUICE_ADMIN_TOKEN: ADMIN, SLUICE_RTP_RELAY_SECRET: RELAY, SLUICE_ACCESS_TOKEN_SECRET: SECRET }
    const flags = ['--config', 'sluice.example.yaml', '--rtmp-port', '0', '--http-port', '0', '--srt-port', '0', '--host', '127.0.0.1', '--webrtc-bind', '127.0.0.1']
    const effective = await printed(flags, env)
    expect(effective.admin.token).toBe('<redacted>')
    expect(effective.access).toEqual({ policy: 'loopback', token: { secret: '<redacted>' } })
    const p = cli(flags, env)
    try {
      const ports = await started(p)
      expect((await fetch(`http://127.0.0.1:${ports.http}/healthz`)).status).toBe(200)
      const pub = publish(source, `rtmp://127.0.0.1:${ports.rtmp}/live/example`)
      await until(() => live(ports.http, 'live/example'), 10_000, 'live/example to be live')
      expect(await pub.exited, pub.stderr()).toBe(0)
    } finally {
      expect(await stop(p)).toBe(0)
    }
  }, 60_000)

  it('sluice.example.yaml names every key of the schema, and its commented-out keys are valid when set', async () => {
    // "# key: value" lines are keys without a default; uncomment them all (but publicKey, which excludes access.jwt.secret)
    const text = readFileSync('sluice.example.yaml', 'utf8')
      .split('\n')
      .map((l) => l.replace(/^(\s*)# (\s*[a-z][A-Za-z0-9]*:(\s.*)?)$/, '$1$2'))
    const leaves = (o: unknown, path: string[] = []): string[] =>
      o && typeof o === 'object' && !Array.isArray(o) ? Object.entries(o).flatMap(([k, v]) => leaves(v, [...path, k])) : [path.join('.')]
    const all = parseYaml(text.join('\n'))
    expect(leaves(all).sort()).toEqual(settings().map((s: { path: string[] }) => s.path.join('.')).sort())
    const uncommented = file('example-uncommented.yaml', text.filter((l) => !/^\s*publicKey:/.test(l)).join('\n'))
    const effective = await printed(['--config', uncommented])
    expect(effective.webrtc.portRangeBegin).toBe(40000)
    expect(effective.access.jwt.secret).toBe('<redacted>')
  }, 20_000)

  it('a wrong type, an unknown key, an invalid port, a YAML syntax error, a bad variable or flag: exit 2 naming the source and key', async () => {
    const cases: [string, string[], Record<string, string>, RegExp][] = [
      ['wrong type', ['--config', file('type.yaml', 'rtmp:\n  port: "1935"\n')], {}, /^sluice: .*type\.yaml:2: rtmp\.port: .*expected number/m],
      ['unknown key', ['--config', file('unknown.yaml', 'http:\n  port: 8000\n  prot: 80\n')], {}, /^sluice: .*unknown\.yaml:3: http\.prot: unknown key$/m],
      ['unknown section', ['--config', file('section.yaml', 'rtmpp:\n  port: 1\n')], {}, /^sluice: .*section\.yaml:1: rtmpp: unknown key$/m],
      ['invalid port', ['--config', file('port.yaml', 'rtmp:\n  port: 70000\n')], {}, /^sluice: .*port\.yaml:2: rtmp\.port: .*65535/m],
      ['YAML syntax', ['--config', file('syntax.yaml', 'rtmp:\n  port: [1935\nhttp:\n')], {}, /^sluice: .*syntax\.yaml:\d+:\d+: YAML syntax error: /m],
      ['missing file', ['--config', join(dir, 'absent.yaml')], {}, /^sluice: .*absent\.yaml: cannot read the config file: .*ENOENT/m],
      ['variable type', [], { SLUICE_RTMP_PORT: 'abc' }, /^sluice: SLUICE_RTMP_PORT: rtmp\.port: expected a number, got "abc"$/m],
      ['variable range', [], { SLUICE_HTTP_PORT: '65536' }, /^sluice: SLUICE_HTTP_PORT: http\.port: .*65535/m],
      ['variable boolean', [], { SLUICE_SFU_ENABLED: 'maybe' }, /^sluice: SLUICE_SFU_ENABLED: sfu\.enabled: expected true or false/m],
      ['flag port', ['--http-port', '99999'], {}, /^sluice: --http-port: http\.port: .*65535/m],
      ['cross-section', [], { SLUICE_ACCESS_POLICY: 'token' }, /^sluice: SLUICE_ACCESS_POLICY: access\.token: policy "token" needs access\.token\.secret$/m],
    ]
    await Promise.all(
      cases.map(async ([what, args, env, expected]) => {
        const p = cli(args, env)
        expect(await p.exited, what).toBe(2)
        expect(p.stderr(), what).toMatch(expected)
        expect(p.stderr(), what).not.toContain('sluice listening')
      }),
    )
  }, 30_000)

  it('all the issues of a file are reported at once', async () => {
    const p = cli(['--config', file('many.yaml', 'rtmp:\n  port: -1\n  chunkSize: big\nhttp:\n  bogus: true\nlog:\n  level: loud\n')])
    expect(await p.exited, p.stderr()).toBe(2)
    const lines = p.stderr().trim().split('\n')
    expect(lines.map((l) => l.split(': ')[2])).toEqual(['rtmp.port', 'rtmp.chunkSize', 'http.bogus', 'log.level'])
  })

  it('the environment overrides the file and flags override the environment: --print-config and the bound port', async () => {
    const [a, b, c] = [await freePort(), await freePort(), await freePort()]
    // Two servers run at once below: each needs its own SRT port too.
    const config = file('precedence.yaml', `rtmp:\n  port: ${a}\n  host: 127.0.0.1\nsrt:\n  port: 0\n  host: 127.0.0.1\nhttp:\n  port: 0\n  host: 127.0.0.1\n  cors:\n    origins: [http://file.example]\nsfu:\n  enabled: true\nlog:\n  level: warn\n`)
    expect((await printed(['--config', config])).rtmp.port).toBe(a)
    const env = { SLUICE_RTMP_PORT: String(b), SLUICE_HTTP_CORS_ORIGINS: 'http://a.example, http://b.example', SLUICE_SFU_ENABLED: 'false', SLUICE_LOG_LEVEL: 'error' }
    const fromEnv = await printed(['--config', config], env)
    expect(fromEnv.rtmp.port).toBe(b)
    expect(fromEnv.http.cors.origins).toEqual(['http://a.example', 'http://b.example'])
    expect(fromEnv.sfu.enabled).toBe(false)
    expect(fromEnv.log.level).toBe('error')
    expect(fromEnv.rtmp.host).toBe('127.0.0.1') // untouched keys of the file stay
    expect((await printed(['--config', config, '--rtmp-port', String(c)], env)).rtmp.port).toBe(c)
    // lists as JSON too
    expect((await printed(['--config', config], { SLUICE_HTTP_CORS_ORIGINS: '["http://j.example"]' })).http.cors.origins).toEqual(['http://j.example'])

    const viaEnv = cli(['--config', config], env)
    const viaFlag = cli(['--config', config, '--rtmp-port', String(c)], env)
    try {
      expect((await started(viaEnv)).rtmp).toBe(b)
      expect((await started(viaFlag)).rtmp).toBe(c)
      expect(await connects(b)).toBe(true)
      expect(await connects(c)).toBe(true)
      expect(await connects(a)).toBe(false)
    } finally {
      expect(await stop(viaEnv)).toBe(0)
      expect(await stop(viaFlag)).toBe(0)
    }
  }, 30_000)

  it('keeps SLUICE_LOG_LEVEL and SLUICE_RELAY_SECRET; an unknown SLUICE_ variable is a warning with the nearest name', async () => {
    const p = cli(['--print-config'], { SLUICE_LOG_LEVEL: 'debug', SLUICE_RELAY_SECRET: RELAY, SLUICE_RTMP_PROT: '1936' })
    expect(await p.exited).toBe(0)
    expect(p.stderr()).toContain('sluice: warning: SLUICE_RTMP_PROT: unknown setting, ignored (did you mean SLUICE_RTMP_PORT?)')
    const effective = parseYaml(p.stdout())
    expect(effective.log.level).toBe('debug')
    expect(effective.rtp.relaySecret).toBe('<redacted>')
    expect(effective.rtmp.port).toBe(1935)
  })

  it('--print-config shows every section with defaults and redacts secrets, passwords in URLs included', async () => {
    const config = file(
      'secrets.yaml',
      `access:\n  policy: jwt\n  jwt:\n    secret: jwt-secret-0123456789\nadmin:\n  token: ${ADMIN}\nrtp:\n  relaySecret: ${RELAY}\n` +
        `webrtc:\n  iceServers: ["turn:alice:turn-password@127.0.0.1:3478", "stun:127.0.0.1:3478"]\nwebhooks:\n  onStop: http://hook:hook-password@127.0.0.1:9/on_stop\n`,
    )
    const p = cli(['--config', config, '--print-config'], { SLUICE_ACCESS_TOKEN_SECRET: SECRET })
    expect(await p.exited).toBe(0)
    const out = p.stdout()
    for (const secret of ['jwt-secret-0123456789', ADMIN, RELAY, SECRET, 'turn-password', 'hook-password']) expect(out).not.toContain(secret)
    const effective = parseYaml(out)
    expect(Object.keys(effective)).toEqual(['rtmp', 'mix', 'record', 'hls', 'srt', 'http', 'webrtc', 'rtp', 'hub', 'signaling', 'sfu', 'access', 'webhooks', 'admin', 'metrics', 'shutdown', 'log', 'cluster'])
    expect(effective.access).toEqual({ policy: 'jwt', token: { secret: '<redacted>' }, jwt: { secret: '<redacted>' } })
    expect(effective.admin.token).toBe('<redacted>')
    expect(effective.rtp.relaySecret).toBe('<redacted>')
    expect(effective.webrtc.iceServers).toEqual(['turn:alice:<redacted>@127.0.0.1:3478', 'stun:127.0.0.1:3478'])
    expect(effective.webhooks.onStop).toBe('http://hook:<redacted>@127.0.0.1:9/on_stop')
    expect(effective.rtmp.port).toBe(1935) // defaults filled in
    expect(effective.shutdown.graceMs).toBe(5000)
  })
})

describe('sluice token', () => {
  it('mints a token that verifies for its action and stream only, with the RTMP URL form', async () => {
    const before = Math.floor(Date.now() / 1000)
    const p = cli(['token', '--action', 'publish', '--stream', 'live/cam', '--ttl', '120', '--secret', SECRET])
    expect(await p.exited, p.stderr()).toBe(0)
    const [token, url] = p.stdout().trim().split('\n')
    expect(verifyToken(SECRET, token!, 'publish', 'live/cam')).toBeNull()
    expect(verifyToken(SECRET, token!, 'play', 'live/cam')).toMatch(/signature/)
    expect(verifyToken(SECRET, token!, 'publish', 'live/other')).toMatch(/signature/)
    const expires = Number(token!.split('.')[0])
    expect(expires).toBeGreaterThanOrEqual(before + 120)
    expect(expires).toBeLessThanOrEqual(before + 122)
    expect(verifyToken(SECRET, token!, 'publish', 'live/cam', expires + 1)).toBe('token expired')
    expect(url).toMatch(new RegExp(`^rtmp://[^/]+:1935/live/cam\\?token=${token!.replace('.', '\\.')}$`))
    expect(p.stderr()).toMatch(/valid until \d{4}-/)
  })

  it('takes the secret from SLUICE_ACCESS_TOKEN_SECRET or the config file, and prints the HTTP-FLV URL for play', async () => {
    const fromEnv = cli(['token', '--action', 'play', '--stream', 'live/cam'], { SLUICE_ACCESS_TOKEN_SECRET: SECRET })
    expect(await fromEnv.exited, fromEnv.stderr()).toBe(0)
    const [token, , flv] = fromEnv.stdout().trim().split('\n')
    expect(verifyToken(SECRET, token!, 'play', 'live/cam')).toBeNull()
    expect(flv).toMatch(/^http:\/\/[^/]+:8000\/live\/cam\.flv\?token=/)

    const config = file('token.yaml', `rtmp:\n  port: 1940\n  host: 127.0.0.1\naccess:\n  policy: token\n  token:\n    secret: ${SECRET}\n`)
    const fromFile = cli(['token', '-c', config, '--action', 'publish', '--stream', 'live/cam'])
    expect(await fromFile.exited, fromFile.stderr()).toBe(0)
    const [token2, url2] = fromFile.stdout().trim().split('\n')
    expect(verifyToken(SECRET, token2!, 'publish', 'live/cam')).toBeNull()
    expect(url2).toBe(`rtmp://127.0.0.1:1940/live/cam?token=${token2}`)
  })

  it('refuses without a secret, with a short one, a bad action or stream; prints --help', async () => {
    const cases: [string[], RegExp][] = [
      [['token', '--action', 'publish', '--stream', 'live/cam'], /no secret/],
      [['token', '--action', 'publish', '--stream', 'live/cam', '--secret', 'short'], /--secret: access\.token\.secret: .*16 characters/],
      [['token', '--action', 'delete', '--stream', 'live/cam', '--secret', SECRET], /--action must be publish or play/],
      [['token', '--action', 'play', '--stream', 'cam', '--secret', SECRET], /--stream must be app\/name/],
      [['token', '--action', 'play', '--stream', 'live/cam', '--ttl', '-5', '--secret', SECRET], /--ttl/],
    ]
    for (const [args, expected] of cases) {
      const p = cli(args)
      expect(await p.exited, args.join(' ')).toBe(2)
      expect(p.stderr()).toMatch(expected)
    }
    const help = cli(['token', '--help'])
    expect(await help.exited).toBe(0)
    expect(help.stdout()).toContain('--action')
    expect(help.stdout()).toContain('SLUICE_ACCESS_TOKEN_SECRET')
  })
})
