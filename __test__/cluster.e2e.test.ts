/**
 * A cluster of three Sluice processes, each in its own network namespace on one bridge (private
 * test addresses only), located through a real `redis-server` in the root namespace: ffmpeg
 * publishes to the origin and plays from both edges (decoded frames identical to the source),
 * Chromium plays over WHEP from an edge, the origin serves one relay link per edge; an edge is
 * killed and its player moves to the other; the origin is killed and the publisher republishes
 * on an edge, whose peer edge's player goes on; Redis stops for 20 s: playback goes on, new
 * lookups fail with a clear error and succeed once Redis is back.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { frameHashes, makeSource, play, publish, run, type FrameHash, type Proc } from './helpers/ffmpeg'
import { waitFor } from './helpers/sluice'
import { createBridgedNamespaces, type BridgedNamespaces } from './helpers/netns'
import { launchChromium, playerStats } from './helpers/browser'

const SECRET = 'cluster-relay-secret-0123'
const ADMIN = 'cluster-admin-token-0123456'
const dir = mkdtempSync(join(tmpdir(), 'sluice-cluster-'))
const NAMES = ['origin', 'edge1', 'edge2'] as const
type NodeName = (typeof NAMES)[number]

interface NodeProc {
  name: NodeName
  ip: string
  proc: Proc
  http: string
  rtmp: (path: string) => string
}

let net: BridgedNamespaces
let redis: Proc
let redisPort: number
const nodes = new Map<NodeName, NodeProc>()
const extra: Proc[] = []
let browser: Browser | null = null

function startRedis(): Proc {
  return run('redis-server', ['--bind', net.rootIp, '--port', String(redisPort), '--save', '', '--appendonly', 'no', '--protected-mode', 'no'])
}

async function startNode(name: NodeName): Promise<NodeProc> {
  const i = NAMES.indexOf(name)
  const { ip } = net.nodes[i]!
  const config = join(dir, `${name}.yaml`)
  writeFileSync(config, [
    'srt: {enabled: false}',
    'access: {policy: open}',
    `admin: {token: ${ADMIN}}`,
    `rtp: {relaySecret: ${SECRET}, advertisedHost: ${ip}}`,
    `cluster: {redis: {url: "redis://${net.rootIp}:${redisPort}"}, nodeId: ${name}, idleMs: 3000}`,
  ].join('\n'))
  const [cmd, ...prefix] = net.prefix(i)
  const proc = run(cmd!, [...prefix, process.execPath, 'dist/cli.js', '--config', config])
  const node: NodeProc = { name, ip, proc, http: `http://${ip}:8000`, rtmp: (path) => `rtmp://${ip}:1935/${path}` }
  await waitFor(async () => (await fetch(`${node.http}/healthz`).catch(() => null))?.ok, 15_000, `${name} up`)
  nodes.set(name, node)
  return node
}

async function api(name: NodeName, path: string): Promise<any> {
  const r = await fetch(`${nodes.get(name)!.http}${path}`, { headers: { Authorization: `Bearer ${ADMIN}` } })
  return r.json()
}

/** An RTMP player decoding to framemd5 on stdout, with the arrival time of every decoded video frame. */
function decodingPlayer(url: string): Proc & { frames: () => number[] } {
  const p = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', url, '-map', '0:v', '-f', 'framemd5', '-'])
  const times: number[] = []
  let partial = ''
  p.child.stdout!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n')
    partial = lines.pop()!
    for (const l of lines) if (l.startsWith('0,')) times.push(Date.now())
  })
  extra.push(p)
  return Object.assign(p, { frames: () => times })
}

/** A live H.264 (2 s GOP, no B-frames) + AAC publisher, until killed. */
function livePublisher(url: string): Proc {
  const p = run('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-bf', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', url,
  ])
  extra.push(p)
  return p
}

const largestGap = (times: number[]) => times.slice(1).reduce((m, t, i) => Math.max(m, t - times[i]!), 0)

beforeAll(async () => {
  net = createBridgedNamespaces('scl', 66, 3)
  redisPort = 20_000 + Math.floor(Math.random() * 10_000)
  redis = startRedis()
  for (const name of NAMES) await startNode(name)
  await waitFor(async () => (await api('edge2', '/api/cluster')).nodes?.length === 3, 10_000, 'three nodes in the registry')
}, 60_000)

afterAll(async () => {
  // each node's log, for a failure's post-mortem
  for (const n of nodes.values()) writeFileSync(join(dir, `${n.name}.log`), n.proc.stdout())
  console.log('cluster: node logs in', dir)
  await browser?.close()
  for (const p of extra) p.child.kill('SIGKILL')
  for (const n of nodes.values()) n.proc.child.kill('SIGKILL')
  redis?.child.kill('SIGKILL')
  await Promise.all([...nodes.values()].map((n) => n.proc.exited))
  net?.remove()
})

describe('a cluster of three nodes located through Redis', () => {
  it('edges pull on first play over one relay link each: RTMP players get every frame of the source, Chromium plays over WHEP', async () => {
    const source = join(dir, 'source.flv')
    await makeSource(source, 10)
    const src = await frameHashes(source)
    const srcPackets = await frameHashes(source, true)
    const origin = nodes.get('origin')!
    const pub = publish(source, origin.rtmp('live/a'))
    extra.push(pub)
    await waitFor(async () => (await api('edge1', '/api/cluster')).streams?.some((s: any) => s.name === 'a' && s.video === 'H264'), 10_000, 'live/a in the registry')

    const started = Date.now()
    const out = (k: string) => join(dir, `${k}.flv`)
    const players = [play(nodes.get('edge1')!.rtmp('live/a'), out('e1a')), play(nodes.get('edge1')!.rtmp('live/a'), out('e1b')), play(nodes.get('edge2')!.rtmp('live/a'), out('e2a'))]
    extra.push(...players)
    browser = await launchChromium()
    const page = await browser.newPage()
    await page.goto(`${nodes.get('edge1')!.http}/?play=live/a`)
    const stats = await waitFor(async () => {
      const s = await playerStats(page).catch(() => null)
      return (s?.video?.framesDecoded ?? 0) > 25 && s
    }, 15_000, 'Chromium decoding over WHEP from edge1')
    const forwards = (await api('origin', '/api/forwards')).filter((f: any) => f.stream === 'live/a')
    const edge1 = await api('edge1', '/api/cluster')
    const clients = await api('edge1', '/api/clients')
    console.log('cluster: origin relay links', forwards.length, 'edge1 links', JSON.stringify(edge1.links), 'edge1 players', clients.filter((c: any) => c.role === 'player').length,
      'Chromium first frame after', stats.firstFrameAt && stats.connectedAt ? stats.firstFrameAt - stats.connectedAt : null, 'ms of connecting')
    expect(forwards.length).toBe(2) // one per edge, for 2 + 1 RTMP players and a WHEP viewer
    expect(edge1.links).toEqual([expect.objectContaining({ stream: 'live/a', node: 'origin', kind: 'relay' })])
    await page.close()

    expect(await pub.exited).toBe(0)
    for (const p of players) {
      const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))])
      expect(code, p.stderr()).toBe(0)
    }
    console.log('cluster: players done', Date.now() - started, 'ms after they started')
    for (const k of ['e1a', 'e1b', 'e2a']) {
      const got = await frameHashes(out(k))
      expect(got.errors, k).toBe('')
      const hashes = got.video.map((f: FrameHash) => f.hash)
      const start = src.video.findIndex((f) => f.hash === hashes[0])
      expect(start % 50, `${k} starts on a keyframe`).toBe(0)
      expect(hashes, k).toEqual(src.video.slice(start).map((f) => f.hash))
      // the AAC packets: a contiguous run of the source's, to its end
      const audio = (await frameHashes(out(k), true)).audio.map((f: FrameHash) => f.hash)
      const from = srcPackets.audio.findIndex((f) => f.hash === audio[0])
      expect(audio, `${k} audio`).toEqual(srcPackets.audio.slice(from).map((f) => f.hash))
      console.log(`cluster: ${k} decoded ${hashes.length} frames from source frame ${start}, identical; ${audio.length} AAC packets from source packet ${from}, identical`)
    }
    // the links close idleMs (3 s) after their last player left
    await waitFor(async () => (await api('origin', '/api/forwards')).filter((f: any) => f.stream === 'live/a').length === 0, 15_000, 'relay links closed')
  }, 90_000)

  it('an edge dies: its player reconnects to the other edge and plays on', async () => {
    livePublisher(nodes.get('origin')!.rtmp('live/b'))
    await waitFor(async () => (await api('edge1', '/api/cluster')).streams?.some((s: any) => s.name === 'b'), 10_000, 'live/b in the registry')
    const first = decodingPlayer(nodes.get('edge2')!.rtmp('live/b'))
    await waitFor(() => first.frames().length > 25, 15_000, 'frames through edge2')
    nodes.get('edge2')!.proc.child.kill('SIGKILL')
    await nodes.get('edge2')!.proc.exited
    await Promise.race([first.exited, new Promise((r) => setTimeout(r, 10_000))])
    const moved = decodingPlayer(nodes.get('edge1')!.rtmp('live/b'))
    const at = Date.now()
    await waitFor(() => moved.frames().length > 25, 15_000, 'frames through edge1')
    console.log('cluster: the player moved to edge1 and decoded its first frame after', moved.frames()[0]! - at, 'ms')
    // edge2 returns (an empty node) for the next case
    await startNode('edge2')
    await waitFor(async () => (await api('edge1', '/api/cluster')).nodes?.length === 3, 10_000, 'edge2 back in the registry')
  }, 60_000)

  it('the origin dies and the publisher republishes on an edge: the other edge\'s player goes on after a short stall', async () => {
    const player = extra.filter((p): p is ReturnType<typeof decodingPlayer> => 'frames' in p).at(-1)!
    const before = player.frames().length
    nodes.get('origin')!.proc.child.kill('SIGKILL')
    await nodes.get('origin')!.proc.exited
    const republishedAt = Date.now()
    livePublisher(nodes.get('edge2')!.rtmp('live/b'))
    await new Promise((r) => setTimeout(r, 10_000))
    const after = player.frames().filter((t) => t > republishedAt)
    const edge1 = await api('edge1', '/api/cluster')
    console.log('cluster: after the origin died the player decoded', after.length, 'frames in 10 s; first after', after[0] ? after[0] - republishedAt : null,
      'ms; largest gap', largestGap(player.frames().filter((t) => t > republishedAt - 2000)), 'ms; edge1 links', JSON.stringify(edge1.links))
    expect(player.child.exitCode).toBeNull() // still playing
    expect(player.frames().length).toBeGreaterThan(before)
    expect(after.length).toBeGreaterThan(150) // 10 s at 25 fps, less the stall
    expect(edge1.links).toEqual([expect.objectContaining({ stream: 'live/b', node: 'edge2' })])
  }, 60_000)

  it('Redis stops for 20 s: playback goes on, a new lookup fails with a clear error, and succeeds again once Redis is back', async () => {
    livePublisher(nodes.get('edge2')!.rtmp('live/c'))
    await waitFor(async () => (await api('edge1', '/api/cluster')).streams?.some((s: any) => s.name === 'c'), 10_000, 'live/c in the registry')
    const player = extra.filter((p): p is ReturnType<typeof decodingPlayer> => 'frames' in p).at(-1)!
    redis.child.kill('SIGKILL')
    await redis.exited
    const stoppedAt = Date.now()
    await waitFor(async () => (await api('edge1', '/api/cluster')).registry === 'down', 5000, 'edge1 sees Redis down')
    const refused = await fetch(`${nodes.get('edge1')!.http}/live/c.flv`)
    const reason = await refused.text()
    console.log('cluster: HTTP-FLV of a stream held elsewhere while Redis is down:', refused.status, reason)
    expect(refused.status).toBe(503)
    expect(reason).toMatch(/registry \(Redis\) is unreachable/)
    await new Promise((r) => setTimeout(r, 20_000 - (Date.now() - stoppedAt)))
    const during = player.frames().filter((t) => t > stoppedAt)
    console.log('cluster: frames decoded during the 20 s outage', during.length, 'largest gap', largestGap(during), 'ms')
    expect(during.length).toBeGreaterThan(20 * 25 * 0.9)
    expect(player.child.exitCode).toBeNull()

    redis = startRedis()
    const back = Date.now()
    const res = await waitFor(async () => {
      const r = await fetch(`${nodes.get('edge1')!.http}/live/c.flv`)
      if (r.status === 200) return r
      await r.body?.cancel()
      return null
    }, 15_000, 'HTTP-FLV of live/c after Redis returned')
    const reader = res.body!.getReader()
    let bytes = 0
    while (bytes < 50_000) bytes += (await reader.read()).value?.length ?? 0
    await reader.cancel()
    console.log('cluster: Redis back; the lookup succeeded after', Date.now() - back, 'ms;', bytes, 'bytes of HTTP-FLV from edge1')
  }, 90_000)
})
