/**
 * Cluster placement and registry rules with two nodes on loopback and a real `redis-server`: a
 * node past `cluster.maxViewers` redirects WHEP viewers (307) to the other, and Chromium follows
 * it and plays, and RTMP players and publishers (RTMP 302), which Sluice's own pulls and pushes follow; SFU rooms are pinned to the node where they began (a join elsewhere is told
 * where); SRT and LL-HLS players on a node without the stream get it; a P2P room spans nodes; a node with an upstream pulls through it (tiers); a stale registration (its node
 * gone) is never served; the cluster's metrics and
 * `GET /api/cluster`.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { run, runOk, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { SignalingClient } from './helpers/signaling-client'
import { launchChromium, playerStats } from './helpers/browser'
import { signToken } from '../dist/index.js'

const SECRET = 'placement-relay-secret-01'
const dir = mkdtempSync(join(tmpdir(), 'sluice-placement-'))
let redis: Proc
let port: number
let a: TestServer
let b: TestServer
let pub: Proc
let browser: Browser | null = null

function node(id: string, extra: Record<string, unknown> = {}): Promise<TestServer> {
  return startSluice({
    rtp: { relaySecret: SECRET, advertisedHost: '127.0.0.1' },
    cluster: { redis: { url: `redis://127.0.0.1:${port}` }, nodeId: id, heartbeatMs: 200, ttlMs: 1000, ...extra },
  })
}

/** This node's cluster links (`GET /api/cluster`). */
async function links(s: TestServer): Promise<unknown[]> {
  return (await (await fetch(s.httpUrl('/api/cluster'))).json()).links
}

/** Video frames ffmpeg decodes from `path` over RTMP, stopping at `count`. */
async function decodedFrames(s: TestServer, path: string, count: number): Promise<number> {
  const out = await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-i', s.rtmpUrl(path), '-map', '0:v', '-frames:v', String(count), '-f', 'framemd5', '-'])
  return out.split('\n').filter((l) => l.startsWith('0,')).length
}

beforeAll(async () => {
  port = 30_000 + Math.floor(Math.random() * 10_000)
  redis = run('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'])
  await waitFor(async () => (await runOk('redis-cli', ['-p', String(port), 'ping']).catch(() => '')).includes('PONG'), 5000, 'redis up')
  a = await node('a', { maxViewers: 0 }) // always past its limit: every new viewer goes elsewhere
  b = await node('b')
  pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine',
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-bf', '0', '-c:a', 'aac', '-f', 'flv', b.rtmpUrl('live/p')])
  await waitFor(async () => (await (await fetch(a.httpUrl('/api/cluster'))).json()).streams?.some((s: any) => s.name === 'p'), 10_000, 'live/p registered')
}, 30_000)

afterAll(async () => {
  await browser?.close()
  pub?.child.kill('SIGKILL')
  await a?.close()
  await b?.close()
  redis?.child.kill('SIGKILL')
})

describe('cluster placement', () => {
  it('a node past maxViewers answers WHEP and WHIP with 307 to the least loaded node; Chromium follows it and plays', async () => {
    const r = await fetch(a.httpUrl('/whep/live/p'), { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n', redirect: 'manual' })
    expect(r.status).toBe(307)
    expect(r.headers.get('location')).toBe(b.httpUrl('/whep/live/p'))
    const whip = await fetch(a.httpUrl('/whip/live/new'), { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n', redirect: 'manual' })
    expect([whip.status, whip.headers.get('location')]).toEqual([307, b.httpUrl('/whip/live/new')])
    browser = await launchChromium()
    const page = await browser.newPage()
    await page.goto(a.httpUrl('/?play=live/p'))
    const stats = await waitFor(async () => {
      const s = await playerStats(page).catch(() => null)
      return (s?.video?.framesDecoded ?? 0) > 25 && s
    }, 15_000, 'Chromium playing after the redirect')
    expect(b.sluice.whep.sessions).toBe(1)
    expect(a.sluice.whep.sessions).toBe(0)
    console.log('placement: Chromium sent from a to b, decoded', stats.video!.framesDecoded, 'frames')
  }, 40_000)

  it('a node past maxViewers sends RTMP players and publishers to the least loaded node (RTMP 302): Sluice pulls and pushes follow it, ffmpeg is told', async () => {
    // ffmpeg's RTMP client does not follow redirects: it fails with the server's description
    const probe = run('ffprobe', ['-v', 'error', a.rtmpUrl('live/p')])
    expect(await probe.exited).not.toBe(0)
    expect(probe.stderr()).toContain('RTMP 302 Redirect')
    const post = (s: TestServer, route: string, body: unknown) =>
      fetch(s.httpUrl(route), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    // a pull made on a, from a: a sends its own client to b, which has the stream
    const pull = await post(a, '/api/pulls', { app: 'live', name: 'pulled', url: a.rtmpUrl('live/p') })
    expect(pull.status).toBe(201)
    const pulled = await waitFor(async () => {
      const [st] = (await (await fetch(a.httpUrl('/api/pulls'))).json()) as { connected: boolean; framesReceived: number; connects: number }[]
      return st && st.connected && st.framesReceived > 50 && st
    }, 10_000, 'the pull redirected to b and playing')
    expect(pulled.connects).toBe(1)
    // a push from b to a: a sends the publisher back to b, where the stream goes live
    const push = await post(b, '/api/pushes', { app: 'live', name: 'p', url: a.rtmpUrl('live/pushed') })
    expect(push.status).toBe(201)
    await waitFor(() => b.sluice.hub.get('live', 'pushed')?.isLive === true, 10_000, 'the push redirected to b and live there')
    expect(a.sluice.hub.get('live', 'pushed')?.isLive ?? false).toBe(false)
    const out = await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-i', b.rtmpUrl('live/pushed'), '-map', '0:v', '-frames:v', '10', '-f', 'framemd5', '-'])
    expect(out.split('\n').filter((l) => l.startsWith('0,')).length).toBe(10)
    for (const [s, route] of [[a, '/api/pulls'], [b, '/api/pushes']] as const) {
      for (const l of (await (await fetch(s.httpUrl(route))).json()) as { id: string }[]) await fetch(s.httpUrl(`${route}/${l.id}`), { method: 'DELETE' })
    }
    console.log('placement: RTMP pull and push sent from a to b; frames received by the pull:', pulled.framesReceived)
  }, 40_000)

  it('an SFU room is pinned to the node where it began: a join on the other node is told where', async () => {
    const first = await SignalingClient.connect(b.httpUrl('/signaling').replace('http', 'ws'))
    first.send({ type: 'join', room: 'pinned', mode: 'sfu', id: 1 })
    expect((await first.next('joined')).room).toBe('pinned')
    const other = await SignalingClient.connect(a.httpUrl('/signaling').replace('http', 'ws'))
    other.send({ type: 'join', room: 'pinned', mode: 'sfu', id: 2 })
    const error = await other.next('error')
    expect(error).toMatchObject({ code: 'ROOM_ELSEWHERE', redirect: b.sluice.cluster!.node.http, id: 2 })
    first.ws.close()
    other.ws.close()
    // the room ended on b: the pin is released and the next room of that name starts where it is joined
    await waitFor(async () => (await runOk('redis-cli', ['-p', String(port), 'exists', 'sluice:room:pinned'])).trim() === '0', 5000, 'pin released')
  })

  it('a P2P room spans nodes: peers on two nodes see each other and exchange offer, answer and candidates', async () => {
    const ws = (s: TestServer) => SignalingClient.connect(s.httpUrl('/signaling').replace('http', 'ws'))
    const x = await ws(a)
    x.send({ type: 'join', room: 'span', name: 'x', id: 1 })
    const xJoined = await x.next('joined')
    expect(xJoined.peers).toEqual([])
    const y = await ws(b)
    y.send({ type: 'join', room: 'span', name: 'y', id: 2 })
    const yJoined = await y.next('joined')
    expect(yJoined.peers).toEqual([{ id: xJoined.peerId, name: 'x' }]) // x is on the other node
    expect((await x.next('peer-joined')).peer).toEqual({ id: yJoined.peerId, name: 'y' })
    y.send({ type: 'offer', to: xJoined.peerId, sdp: 'v=0 offer' })
    expect(await x.next('offer')).toMatchObject({ from: yJoined.peerId, sdp: 'v=0 offer' })
    x.send({ type: 'answer', to: yJoined.peerId, sdp: 'v=0 answer' })
    expect(await y.next('answer')).toMatchObject({ from: xJoined.peerId, sdp: 'v=0 answer' })
    x.send({ type: 'candidate', to: yJoined.peerId, candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' } })
    expect((await y.next('candidate')).from).toBe(xJoined.peerId)
    y.ws.close()
    expect((await x.next('peer-left')).peerId).toBe(yJoined.peerId)
    // a peer of a node that died without a word (no live record): it leaves the room within seconds
    await runOk('redis-cli', ['-p', String(port), 'publish', 'sluice:p2p:span', JSON.stringify({ node: 'crashed', event: { type: 'peer-joined', peer: { id: 'ghost1' } } })])
    expect((await x.next('peer-joined')).peer).toEqual({ id: 'ghost1' })
    expect((await x.next('peer-left', 5000)).peerId).toBe('ghost1')
    x.ws.close()
  }, 20_000)

  it('SRT and LL-HLS players on a node that does not hold the stream get it too', async () => {
    const c = await node('c2')
    try {
      const out = join(dir, 'srt.ts')
      const srt = run('sh', ['-c', `timeout 6 srt-live-transmit -q '${c.srtUrl('live/p')}' file://con > '${out}'`])
      await srt.exited
      const probe = await runOk('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', out])
      expect([...new Set(probe.split('\n').filter(Boolean))].sort()).toEqual(['aac', 'h264']) // (listed once per program too)
      const playlist = await waitFor(async () => {
        const r = await fetch(c.httpUrl('/hls/live/p/index.m3u8'))
        const text = await r.text()
        return r.status === 200 && text.includes('#EXT-X-PART:') && text
      }, 15_000, 'an LL-HLS playlist with parts')
      expect(playlist).toMatch(/^#EXTM3U/)
      expect(await links(c)).toEqual([expect.objectContaining({ stream: 'live/p', node: 'b' })]) // one link for both
    } finally {
      await c.close()
    }
  }, 40_000)

  it('tiers: a node with an upstream pulls through it, and the upstream pulls from the stream\'s node', async () => {
    const c = await node('c', { upstream: 'a' })
    try {
      expect(await decodedFrames(c, 'live/p', 30)).toBe(30)
      expect(await links(c)).toEqual([expect.objectContaining({ stream: 'live/p', node: 'a', kind: 'relay' })])
      expect(await links(a)).toEqual([expect.objectContaining({ stream: 'live/p', node: 'b', kind: 'relay' })])
    } finally {
      await c.close()
    }
  }, 30_000)

  it('cluster.links rtmp: every stream comes over RTMP', async () => {
    const c = await node('c3', { links: 'rtmp' })
    try {
      expect(await decodedFrames(c, 'live/p', 30)).toBe(30)
      expect(await links(c)).toEqual([expect.objectContaining({ stream: 'live/p', node: 'b', kind: 'rtmp' })])
    } finally {
      await c.close()
    }
  }, 30_000)

  it('an RTMP link from another node is served by a node past its limits: its node token spares it the redirect', async () => {
    const pubA = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine',
      '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-bf', '0', '-c:a', 'aac', '-f', 'mpegts', a.srtUrl('#!::r=live/ona,m=publish')])
    const c = await node('c4', { links: 'rtmp' })
    try {
      await waitFor(() => a.sluice.hub.get('live', 'ona')?.isLive, 10_000, 'live/ona published on a (SRT: no placement there)')
      expect(await decodedFrames(c, 'live/ona', 20)).toBe(20)
      expect(await links(c)).toEqual([expect.objectContaining({ stream: 'live/ona', node: 'a', kind: 'rtmp' })])
      expect(a.logs.filter((l) => String(l.msg).startsWith('redirected') && l.stream === 'live/ona')).toEqual([])
    } finally {
      pubA.child.kill('SIGKILL')
      await c.close()
      // gone from the registry before the next cases count streams
      await waitFor(async () => !(await (await fetch(b.httpUrl('/api/cluster'))).json()).streams?.some((x: any) => x.name === 'ona'), 15_000, 'live/ona withdrawn')
    }
  }, 40_000)

  it('codecs a relay link does not carry (MP3 audio) come over an RTMP link, which a token-only origin lets in by its node token', async () => {
    const secret = 'origin-access-secret-0123'
    const d = await node('d', { maxViewers: null })
    const origin = await startSluice({
      access: { policy: 'token', token: { secret } },
      rtp: { relaySecret: SECRET, advertisedHost: '127.0.0.1' },
      cluster: { redis: { url: `redis://127.0.0.1:${port}` }, nodeId: 'o2', heartbeatMs: 200, ttlMs: 1000 },
    })
    const mp3 = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine',
      '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-bf', '0', '-c:a', 'libmp3lame', '-ar', '44100', '-f', 'flv',
      `${origin.rtmpUrl('live/mp3')}?token=${signToken(secret, 'publish', 'live/mp3', Math.floor(Date.now() / 1000) + 600)}`])
    try {
      await waitFor(async () => (await (await fetch(d.httpUrl('/api/cluster'))).json()).streams?.some((s: any) => s.name === 'mp3' && s.audio === 'MP3'), 10_000, 'live/mp3 registered')
      const probe = await runOk('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', d.rtmpUrl('live/mp3')])
      expect(probe.split('\n').filter(Boolean).sort()).toEqual(['h264', 'mp3'])
      expect(await links(d)).toEqual([expect.objectContaining({ stream: 'live/mp3', node: 'o2', kind: 'rtmp' })])
      // the same stream without a token is refused by the origin's policy
      const refused = run('ffprobe', ['-v', 'error', origin.rtmpUrl('live/mp3')])
      expect(await refused.exited).not.toBe(0)
    } finally {
      mp3.child.kill('SIGKILL')
      await d.close()
      await origin.close()
    }
  }, 40_000)

  it('a stale registration (its node gone) is never served', async () => {
    await runOk('redis-cli', ['-p', String(port), 'set', 'sluice:stream:live/ghost', JSON.stringify({ app: 'live', name: 'ghost', node: 'gone', since: 0, video: 'H264', audio: 'AAC' })])
    const before = b.sluice.cluster!.registry.lookups.stale
    const r = await fetch(b.httpUrl('/live/ghost.flv'))
    expect(r.status).toBe(404)
    await r.body?.cancel()
    expect(b.sluice.cluster!.registry.lookups.stale).toBeGreaterThan(before)
  }, 20_000)

  it('GET /api/cluster and the cluster metrics', async () => {
    const cluster = await (await fetch(b.httpUrl('/api/cluster'))).json()
    expect(cluster.registry).toBe('up')
    expect(cluster.nodes.map((n: any) => n.id).sort()).toEqual(['a', 'b']) // c left cleanly
    expect(cluster.nodes.find((n: any) => n.id === 'a').accepting).toBe(false)
    expect(cluster.streams).toEqual([expect.objectContaining({ app: 'live', name: 'p', node: 'b', video: 'H264', audio: 'AAC' })])
    const metrics = await (await fetch(b.httpUrl('/metrics'))).text()
    expect(metrics).toMatch(/^sluice_cluster_registry_up 1$/m)
    expect(metrics).toMatch(/^sluice_cluster_lookups_total\{result="stale"\} [1-9]/m)
    expect(metrics).toMatch(/^sluice_cluster_links 0$/m)
    expect(metrics).toMatch(/^sluice_cluster_link_events_total\{event="opened"\} 0$/m)
  })
})
