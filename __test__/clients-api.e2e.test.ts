/**
 * The clients API (issue 17, item 4): while ffmpeg publishes over RTMP, `GET /api/clients` lists
 * an RTMP player (ffmpeg), an HTTP-FLV player (a node HTTP GET) and a WHEP viewer (Chromium on
 * the player page) with growing byte counters; `DELETE /api/clients/{id}` kicks each in turn and
 * closes exactly that one: it leaves the list and stops receiving, while the others stay listed
 * and keep receiving. An unknown id answers 404.
 */
import http from 'node:http'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, type Proc } from './helpers/ffmpeg'
import { launchChromium, playerStats } from './helpers/browser'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

interface ClientInfo {
  id: string
  protocol: string
  role: 'publisher' | 'player'
  app: string
  stream: string
  remoteAddress: string
  startedAt: string
  bytesIn: number
  bytesOut: number
  queueBytes: number
  bitrate: number
}

let server: TestServer
let browser: Browser
const procs: Proc[] = []

async function clients(): Promise<ClientInfo[]> {
  const r = await fetch(server.httpUrl('/api/clients'))
  expect(r.status).toBe(200)
  return (await r.json()) as ClientInfo[]
}

const kick = (id: string) => fetch(server.httpUrl(`/api/clients/${encodeURIComponent(id)}`), { method: 'DELETE' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** An HTTP-FLV player: counts the bytes of `GET /live/x.flv` until the response ends. */
function flvPlayer(path: string): { bytes: () => number; ended: Promise<void> } {
  let bytes = 0
  let resolveEnded!: () => void
  const ended = new Promise<void>((r) => (resolveEnded = r))
  const req = http.get(server.httpUrl(path), (res) => {
    res.on('data', (d: Buffer) => (bytes += d.length))
    res.on('close', resolveEnded)
    res.on('error', resolveEnded)
  })
  req.on('error', resolveEnded)
  return { bytes: () => bytes, ended }
}

async function received(page: Page): Promise<number> {
  const s = await playerStats(page)
  return (s.video?.packetsReceived ?? 0) + (s.audio?.packetsReceived ?? 0)
}

/** Every player in `ids` sends more bytes over `ms`. */
async function expectFlowing(ids: string[], ms = 1500): Promise<void> {
  const before = new Map((await clients()).map((c) => [c.id, c.bytesOut]))
  await sleep(ms)
  const after = new Map((await clients()).map((c) => [c.id, c.bytesOut]))
  for (const id of ids) {
    expect(after.has(id), `${id} still listed`).toBe(true)
    expect(after.get(id)!, `${id} keeps receiving`).toBeGreaterThan(before.get(id)!)
  }
}

beforeAll(async () => {
  server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1 } })
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL')
  await browser?.close()
  await server?.close()
})

describe('clients API', () => {
  it('lists an RTMP, an HTTP-FLV and a WHEP player; kicking each closes exactly that one', async () => {
    procs.push(run('ffmpeg', [
      '-hide_banner', '-v', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '90',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-ac', '2',
      '-f', 'flv', server.rtmpUrl('live/cl'),
    ]))
    await waitFor(() => server.logs.find((l) => l.msg === 'publish started' && l.stream === 'live/cl'), 15_000, 'publisher')

    const rtmpPlayer = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', server.rtmpUrl('live/cl'), '-c', 'copy', '-f', 'null', '-'])
    procs.push(rtmpPlayer)
    const flv = flvPlayer('/live/cl.flv')
    const page = await browser.newPage()
    await page.goto(server.httpUrl('/?play=live/cl'))
    await page.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout: 15_000 })

    let list: ClientInfo[] = []
    const p = (protocol: string) => list.find((c) => c.protocol === protocol && c.role === 'player' && c.stream === 'cl')
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(200)) {
      list = await clients()
      if (p('rtmp') && p('http-flv') && p('whep')) break
    }
    expect(list.filter((c) => c.stream === 'cl').map((c) => `${c.protocol}/${c.role}`).sort()).toEqual(['http-flv/player', 'rtmp/player', 'rtmp/publisher', 'whep/player'])
    const players = { rtmp: p('rtmp')!, flv: p('http-flv')!, whep: p('whep')! }
    const publisher = list.find((c) => c.role === 'publisher' && c.protocol === 'rtmp' && c.stream === 'cl')
    expect(publisher).toBeDefined()
    for (const c of [players.rtmp, players.flv, players.whep]) {
      expect(c.app).toBe('live')
      expect(c.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/)
      expect(Date.parse(c.startedAt)).toBeGreaterThan(Date.now() - 60_000)
    }
    await expectFlowing([players.rtmp.id, players.flv.id, players.whep.id])

    // HTTP-FLV: its response ends; the RTMP player and the WHEP viewer go on
    expect((await kick(players.flv.id)).status).toBe(204)
    await Promise.race([flv.ended, sleep(5000).then(() => Promise.reject(new Error('HTTP-FLV response did not end')))])
    expect((await clients()).map((c) => c.id)).not.toContain(players.flv.id)
    await expectFlowing([players.rtmp.id, players.whep.id])
    const flvBytes = flv.bytes()
    await sleep(500)
    expect(flv.bytes()).toBe(flvBytes)

    // RTMP: ffmpeg's connection is closed (it exits); the WHEP viewer goes on
    expect((await kick(players.rtmp.id)).status).toBe(204)
    await Promise.race([rtmpPlayer.exited, sleep(8000).then(() => Promise.reject(new Error('RTMP player still running')))])
    expect((await clients()).map((c) => c.id)).not.toContain(players.rtmp.id)
    await expectFlowing([players.whep.id])
    const before = await received(page)
    await sleep(1000)
    expect(await received(page)).toBeGreaterThan(before)

    // WHEP: the PeerConnection closes, the page receives nothing more
    expect((await kick(players.whep.id)).status).toBe(204)
    const remaining = await clients()
    expect(remaining.map((c) => c.id)).not.toContain(players.whep.id)
    expect(remaining.filter((c) => c.stream === 'cl').map((c) => `${c.protocol}/${c.role}`)).toEqual(['rtmp/publisher'])
    await sleep(1000)
    const settled = await received(page)
    await sleep(1500)
    expect(await received(page)).toBe(settled)

    // unknown (and already kicked) ids
    expect((await kick('nobody')).status).toBe(404)
    expect((await kick(players.whep.id)).status).toBe(404)
    expect(server.sluice.clients.kicks).toBe(3)
    await page.close()
  }, 90_000)
})
