// Clusters (ts/cluster): what a stream costs and how fast it starts through an edge.
//
// A real `redis-server` and Sluice processes (`node dist/cli.js`, loopback ports, one origin and
// `--edges` edges, the same relay secret, `cluster.idleMs` 1 s); ffmpeg publishes the load tools'
// 2.5 Mbit/s 1280x720@30 H.264 + AAC source to the origin in real time (stream copy, looped).
// RTMP players are bench/load/rtmp-players.mjs (Sluice's Rust RTMP client), which times each
// join from TCP connect to the first keyframe.
//
// 1. First frame: one player joining the origin directly, an edge with no link yet (cold: the
//    lookup, the relay offer and the link's first GOP come first), and an edge whose link is up
//    (warm: its GOP cache) — `--rounds` joins each (the edge's link closes between cold rounds).
// 2. The origin's CPU per edge link against per direct RTMP player: the origin's CPU (utime +
//    stime, /proc) over `--window` s with the publisher only, with N direct players, with N
//    edges each pulling the stream over an SRTP relay link for one player of its own, and with
//    N edges doing it over RTMP (`cluster.links: rtmp`) (N = `--edges`); the four in turn,
//    `--cpu-rounds` times, medians (the runs are in the JSON).
// 3. `--viewers` RTMP players on the origin alone, then half of them on each of two edges: the
//    CPU of every node together, the players that got the stream at the source rate, viewers
//    per core (one box: the nodes share its cores; what it shows is the cluster's overhead).
//
//   node bench/cluster.mjs [--edges 4] [--rounds 5] [--cpu-rounds 3] [--window 10] [--viewers 200 (0: skip 3.)]
// Output: a table and results/cluster.json.

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { here, currentCommit } from './lib.mjs'
import { cpuPercent, encodeSource, freePort, procSample, sleep, startLoopPublisher, startSluice, stopProcess, round, distribution } from './load/lib.mjs'

const { values } = parseArgs({
  options: {
    edges: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    'cpu-rounds': { type: 'string', default: '3' },
    window: { type: 'string', default: '10' },
    viewers: { type: 'string', default: '200' },
  },
})
const VIEWERS = Number(values.viewers)
const EDGES = Number(values.edges)
const ROUNDS = Number(values.rounds)
const CPU_ROUNDS = Number(values['cpu-rounds'])
const WINDOW_S = Number(values.window)
const SECRET = 'bench-cluster-relay-secret'
const players = path.join(here, 'load', 'rtmp-players.mjs')

/** One rtmp-players run in the background: resolves with its summary. */
function playersRun(url, n, seconds) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [players, '--url', url, '--players', String(n), '--duration', String(seconds), '--settle', '0', '--quiet', '--json', '-', '--min-delivery', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (err += d))
    p.on('close', () => {
      try {
        resolve(JSON.parse(out).summary)
      } catch {
        reject(new Error(`rtmp-players failed: ${err.slice(-1000)}`))
      }
    })
  })
}

async function main() {
  const redisPort = await freePort()
  const redis = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  await sleep(300)
  const node = (id, links = 'srtp') => startSluice({
    extraArgs: ['--redis', `redis://127.0.0.1:${redisPort}`, '--node-id', id, '--relay-secret', SECRET],
    env: { SLUICE_RTP_ADVERTISED_HOST: '127.0.0.1', SLUICE_CLUSTER_IDLE_MS: '1000', SLUICE_ACCESS_POLICY: 'open', SLUICE_CLUSTER_LINKS: links },
  })
  const origin = await node('origin')
  const edges = []
  for (let i = 0; i < EDGES; i++) edges.push(await node(`edge${i + 1}`))
  const rtmpEdges = []
  for (let i = 0; i < EDGES; i++) rtmpEdges.push(await node(`rtmp-edge${i + 1}`, 'rtmp'))
  const source = encodeSource({ log: (m) => console.error(m) })
  const pub = startLoopPublisher(source.file, `rtmp://127.0.0.1:${origin.rtmpPort}/live/bench`)
  await pub.waitMedia(3000)
  const url = (s) => `rtmp://127.0.0.1:${s.rtmpPort}/live/bench`
  const results = { commit: currentCommit(), machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model}`, source: { mediaKbps: source.mediaKbps, gop: source.gop, fps: source.fps }, edges: EDGES }

  // 1. first keyframe after connect
  const firstFrame = { origin: [], edgeCold: [], edgeWarm: [] }
  for (let r = 0; r < ROUNDS; r++) {
    firstFrame.origin.push((await playersRun(url(origin), 1, 1)).perPlayer.firstKeyframeMs.median)
    await sleep(2500) // the edge's link (idleMs 1 s) is gone
    const cold = playersRun(url(edges[0]), 1, 3)
    await sleep(1500)
    const warm = playersRun(url(edges[0]), 1, 1)
    firstFrame.edgeCold.push((await cold).perPlayer.firstKeyframeMs.median)
    firstFrame.edgeWarm.push((await warm).perPlayer.firstKeyframeMs.median)
  }
  results.firstKeyframeMs = Object.fromEntries(Object.entries(firstFrame).map(([k, xs]) => [k, { ...distribution(xs), runs: xs }]))
  await sleep(2500)

  // 2. the origin's CPU: publisher only, N direct players, N edge links
  const originCpu = async (load) => {
    const pids = [origin.pid]
    const running = load()
    await sleep(3000) // joined, links up
    const a = procSample(pids)
    await sleep(WINDOW_S * 1000)
    const b = procSample(pids)
    await Promise.all(running)
    await sleep(2500)
    return cpuPercent(a, b)
  }
  // the four loads in turn, CPU_ROUNDS times (interleaved, so drift hits all alike); medians
  const span = WINDOW_S + 4
  const samples = { publisherOnly: [], directPlayers: [], srtpLinks: [], rtmpLinks: [] }
  for (let r = 0; r < CPU_ROUNDS; r++) {
    samples.publisherOnly.push(await originCpu(() => [sleep(0)]))
    samples.directPlayers.push(await originCpu(() => [playersRun(url(origin), EDGES, span)]))
    samples.srtpLinks.push(await originCpu(() => edges.map((e) => playersRun(url(e), 1, span))))
    samples.rtmpLinks.push(await originCpu(() => rtmpEdges.map((e) => playersRun(url(e), 1, span))))
  }
  const median = (xs) => distribution(xs).median
  const idle = median(samples.publisherOnly)
  const direct = median(samples.directPlayers)
  const linked = median(samples.srtpLinks)
  const rtmpLinked = median(samples.rtmpLinks)
  results.originCpuPercent = { publisherOnly: idle, directPlayers: direct, srtpLinks: linked, rtmpLinks: rtmpLinked, runs: samples }
  results.perDirectPlayer = round((direct - idle) / EDGES, 2)
  results.perSrtpLink = round((linked - idle) / EDGES, 2)
  results.perRtmpLink = round((rtmpLinked - idle) / EDGES, 2)

  // 3. VIEWERS players on the origin alone, then half on each of two edges: every node's CPU
  const servers = async (targets) => {
    const pids = [origin.pid, ...edges.map((e) => e.pid)]
    const runs = targets.map(([s, n]) => playersRun(url(s), n, WINDOW_S + 8))
    await sleep(6000)
    const a = procSample(pids)
    await sleep(WINDOW_S * 1000)
    const b = procSample(pids)
    const summaries = await Promise.all(runs)
    await sleep(2500)
    const playing = summaries.reduce((n, x) => n + x.playingAtEnd, 0)
    const complete = summaries.reduce((n, x) => n + (x.players - x.failingPlayers), 0)
    const sum = (k) => summaries.reduce((n, x) => n + (x[k] ?? 0), 0)
    return { cpuPercent: cpuPercent(a, b), playing, atSourceRate: complete, withGaps: sum('withGaps'), lagging: sum('lagging'), backwards: summaries.reduce((n, x) => n + x.totals.backwards, 0), videoFramesMissing: summaries.reduce((n, x) => n + x.totals.videoFramesMissing, 0), audioFramesMissing: summaries.reduce((n, x) => n + x.totals.audioFramesMissing, 0) }
  }
  const perCore = (r) => (r.cpuPercent > 0 ? Math.round((r.atSourceRate / r.cpuPercent) * 100) : null)
  const alone = VIEWERS > 0 ? await servers([[origin, VIEWERS]]) : {}
  const spread = VIEWERS > 0 ? await servers([[edges[0], VIEWERS / 2], [edges[1], VIEWERS / 2]]) : {}
  if (VIEWERS > 0) results.viewers = { count: VIEWERS, originAlone: { ...alone, viewersPerCore: perCore(alone) }, originAndTwoEdges: { ...spread, viewersPerCore: perCore(spread) } }

  await pub.stop()
  for (const s of [origin, ...edges, ...rtmpEdges]) await s.stop()
  await stopProcess(redis, 'SIGTERM')

  console.table({
    'first keyframe, origin (ms median)': results.firstKeyframeMs.origin.median,
    'first keyframe, edge cold (ms median)': results.firstKeyframeMs.edgeCold.median,
    'first keyframe, edge warm (ms median)': results.firstKeyframeMs.edgeWarm.median,
    'origin CPU, publisher only (% core)': idle,
    [`origin CPU, ${EDGES} direct players (% core)`]: direct,
    [`origin CPU, ${EDGES} SRTP edge links (% core)`]: linked,
    [`origin CPU, ${EDGES} RTMP edge links (% core)`]: rtmpLinked,
    'per direct player (% core)': results.perDirectPlayer,
    'per SRTP link (% core)': results.perSrtpLink,
    'per RTMP link (% core)': results.perRtmpLink,
    ...(VIEWERS > 0 ? {
      [`${VIEWERS} RTMP players on the origin alone: CPU (% core, all nodes)`]: alone.cpuPercent,
      '... at the source rate / viewers per core': `${alone.atSourceRate} / ${perCore(alone)}`,
      [`${VIEWERS} RTMP players on two edges: CPU (% core, all nodes)`]: spread.cpuPercent,
      '...  at the source rate / viewers per core': `${spread.atSourceRate} / ${perCore(spread)}`,
    } : {}),
  })
  fs.mkdirSync(path.join(here, 'results'), { recursive: true })
  fs.writeFileSync(path.join(here, 'results', 'cluster.json'), JSON.stringify(results, null, 1) + '\n')
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
