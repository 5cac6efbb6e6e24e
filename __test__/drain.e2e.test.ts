/**
 * Graceful drain of `sluice` (ts/drain.ts) on SIGTERM: real ffmpeg players over RTMP and HTTP-FLV
 * are told at once that the stream ended (not after `hub.unpublishGraceMs`) and end cleanly; the
 * listeners close (new connections refused, the ports free); a player that never hangs up is closed when
 * `shutdown.graceMs` is over; a second signal exits at once. In process, `sluice.drain()` closes a
 * Chromium WHEP viewer's PeerConnection at once (WebRTC has no in-band end of stream).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameHashes, makeSource, publish, run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor } from './helpers/sluice'
import { launchChromium } from './helpers/browser'

const dir = mkdtempSync(join(tmpdir(), 'sluice-drain-'))
const source = join(dir, 'source.flv')
const procs: Proc[] = []

function cli(config: string): Proc {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')))
  const child = spawn('node', ['dist/cli.js', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const p = { child, stdout: () => out, stderr: () => err, exited }
  procs.push(p)
  return p
}

function track(p: Proc): Proc {
  procs.push(p)
  return p
}

/** A config on loopback ports chosen by the system, with this grace and a long unpublish grace. */
function config(name: string, graceMs: number): string {
  const path = join(dir, name)
  writeFileSync(
    path,
    `rtmp: {port: 0, host: 127.0.0.1}\nhttp: {port: 0, host: 127.0.0.1}\nwebrtc: {bindAddress: 127.0.0.1}\n` +
      `hub:\n  unpublishGraceMs: 10000\nshutdown:\n  graceMs: ${graceMs}\n`,
  )
  return path
}

/** Starts the CLI, a publisher and waits until `players` players of `live/d` are attached. */
async function liveServer(p: Proc): Promise<{ rtmp: number; http: number; publisher: Proc }> {
  const m = await waitFor(() => /sluice listening: rtmp:\/\/[^ ]+:(\d+) {2}http:\/\/[^ ]+:(\d+)/.exec(p.stderr()), 10_000, 'listening line')
  const ports = { rtmp: Number(m[1]), http: Number(m[2]) }
  const publisher = track(publish(source, `rtmp://127.0.0.1:${ports.rtmp}/live/d`))
  await waitFor(() => p.stdout().includes('"publish started"'), 10_000, 'publish started')
  return { ...ports, publisher }
}

async function players(httpPort: number): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${httpPort}/api/streams`)
  const body = (await r.json()) as { streams: { name: string; players: number }[] }
  return body.streams.find((s) => s.name === 'd')?.players ?? 0
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Ms from `start` until `p` exits, and its exit code. */
async function exitAfter(p: Proc, start: number): Promise<{ code: number | null; ms: number }> {
  const code = await p.exited
  return { code, ms: Date.now() - start }
}

function logLines(p: Proc): { msg: string; [k: string]: unknown }[] {
  return p
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string })
}

beforeAll(async () => {
  await makeSource(source, 20)
}, 60_000)

afterAll(() => {
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGCONT')
      p.child.kill('SIGKILL')
    }
  }
})

describe('graceful drain on SIGTERM', () => {
  it('an ffmpeg RTMP player and an HTTP-FLV player see the stream end at once and exit 0; the process exits 0 well within the grace', async () => {
    const graceMs = 3000
    const p = cli(config('drain.yaml', graceMs))
    const { rtmp, http, publisher } = await liveServer(p)
    const rtmpOut = join(dir, 'rtmp.flv')
    const flvOut = join(dir, 'http.flv')
    const rtmpPlayer = track(run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', `rtmp://127.0.0.1:${rtmp}/live/d`, '-c', 'copy', '-f', 'flv', rtmpOut]))
    const flvPlayer = track(run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', `http://127.0.0.1:${http}/live/d.flv`, '-c', 'copy', '-f', 'flv', flvOut]))
    await until(async () => (await players(http)) === 2, 10_000, 'two players')
    await new Promise((r) => setTimeout(r, 1500)) // media flowing

    const start = Date.now()
    p.child.kill('SIGTERM')
    const [server, rtmpEnd, flvEnd] = await Promise.all([exitAfter(p, start), exitAfter(rtmpPlayer, start), exitAfter(flvPlayer, start)])
    console.log(`drain: RTMP player exited ${rtmpEnd.code} after ${rtmpEnd.ms} ms, HTTP-FLV player ${flvEnd.code} after ${flvEnd.ms} ms, server ${server.code} after ${server.ms} ms`)
    expect(rtmpEnd.code, rtmpPlayer.stderr()).toBe(0)
    expect(flvEnd.code, flvPlayer.stderr()).toBe(0)
    expect(server.code, p.stderr()).toBe(0)
    // told at once: neither the 10 s unpublish grace nor the 3 s drain grace was waited
    expect(rtmpEnd.ms).toBeLessThan(2000)
    expect(flvEnd.ms).toBeLessThan(2000)
    expect(server.ms).toBeLessThan(graceMs + 1000)
    expect(await publisher.exited).not.toBe(0) // its connection was closed under it

    // what the players kept is whole media
    for (const out of [rtmpOut, flvOut]) {
      const got = await frameHashes(out)
      expect(got.errors).toBe('')
      expect(got.video.length).toBeGreaterThan(25)
    }
    const logs = logLines(p)
    expect(logs.find((l) => l.msg === 'shutting down')).toMatchObject({ signal: 'SIGTERM', graceMs })
    expect(logs.find((l) => l.msg === 'drained')).toMatchObject({ publishersClosed: 1, playersTold: 2, clientsLeftOver: 0 })
  }, 60_000)

  it('closes its listeners while draining (new connections refused, ports free); a player that never hangs up is closed when the grace is over', async () => {
    const graceMs = 2000
    const p = cli(config('stuck.yaml', graceMs))
    const { rtmp, http } = await liveServer(p)
    const stuck = track(run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', `rtmp://127.0.0.1:${rtmp}/live/d`, '-c', 'copy', '-f', 'flv', join(dir, 'stuck.flv')]))
    await until(async () => (await players(http)) === 1, 10_000, 'one player')
    stuck.child.kill('SIGSTOP') // it will never read UnpublishNotify nor close

    const start = Date.now()
    p.child.kill('SIGTERM')
    await waitFor(() => p.stdout().includes('draining: streams ended'), 2000, 'drain started')
    // both listeners are closed: new connections are refused, and a replacement process can bind the ports
    await expect(fetch(`http://127.0.0.1:${http}/healthz`)).rejects.toThrow()
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(rtmp, '127.0.0.1')
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
      s.on('connect', () => (s.destroy(), resolve('connected')))
    })
    expect(refused).toBe('ECONNREFUSED')
    for (const port of [rtmp, http]) {
      const replacement = net.createServer()
      await new Promise<void>((resolve, reject) => replacement.once('error', reject).listen(port, '127.0.0.1', () => resolve()))
      await new Promise<void>((resolve) => replacement.close(() => resolve()))
    }

    const server = await exitAfter(p, start)
    expect(server.code, p.stderr()).toBe(0)
    expect(server.ms).toBeGreaterThanOrEqual(graceMs - 100)
    expect(server.ms).toBeLessThan(graceMs + 1000)
    expect(logLines(p).find((l) => l.msg === 'grace period over: closing the clients left')).toMatchObject({ clients: 1, graceMs })
  }, 60_000)

  it('a second signal exits at once', async () => {
    const p = cli(config('twice.yaml', 30_000))
    const { rtmp, http } = await liveServer(p)
    const stuck = track(run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', `rtmp://127.0.0.1:${rtmp}/live/d`, '-c', 'copy', '-f', 'flv', join(dir, 'twice.flv')]))
    await until(async () => (await players(http)) === 1, 10_000, 'one player')
    stuck.child.kill('SIGSTOP')
    p.child.kill('SIGTERM')
    await waitFor(() => p.stdout().includes('draining: streams ended'), 2000, 'drain started')
    const start = Date.now()
    p.child.kill('SIGINT')
    const server = await exitAfter(p, start)
    expect(server.code).toBe(130)
    expect(server.ms).toBeLessThan(1000)
    expect(p.stderr()).toContain('sluice: SIGINT again: exiting now')
  }, 60_000)

  it('sluice.drain(): a Chromium WHEP viewer is closed at once, without waiting for the grace', async () => {
    const server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1 } })
    const browser = await launchChromium()
    try {
      track(publish(source, server.rtmpUrl('live/w')))
      await waitFor(() => server.logs.find((l) => l.msg === 'publish started'), 10_000, 'publisher')
      const page = await browser.newPage()
      await page.goto(server.httpUrl('/?play=live/w'))
      await page.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout: 10_000 })
      expect([...server.sluice.clients.sessions()].map((c) => `${c.protocol} ${c.role}`).sort()).toEqual(['rtmp publisher', 'whep player'])

      const result = await server.sluice.drain(5000)
      expect(result).toMatchObject({ publishersClosed: 1, clientsLeftOver: 0 })
      expect(result.elapsedMs).toBeLessThan(1500)
      await page.waitForFunction(() => (window as any).sluicePlayer?.pc?.connectionState !== 'connected', null, { timeout: 10_000 })
      expect(await server.sluice.drain()).toBe(result) // idempotent
    } finally {
      await browser.close()
      await server.close()
    }
  }, 60_000)
})
