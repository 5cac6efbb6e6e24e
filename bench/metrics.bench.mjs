#!/usr/bin/env node
/**
 * npm run bench:metrics — the cost of one `/metrics` scrape with N RTMP players attached
 * (default 1000).
 *
 * Sluice runs in this process (dist/, loopback ports); ffmpeg publishes a small pre-encoded
 * stream in a loop (320x240 15 fps, ~200 kbit/s, so that 1000 players stay cheap for the 2
 * shared cores); `bench/load/rtmp-players.mjs` holds N raw RTMP play connections in child
 * processes (Sluice's own client session, not ffmpeg). Then, with 0 players and with N:
 *
 *   scrape        `SluiceMetrics.scrape()` in process (collect callbacks, prom-client
 *                 rendering): ms per scrape, tinybench, BENCH_TIME ms (default 3000)
 *   GET /metrics  the HTTP route over loopback from this process, 30 sequential requests:
 *                 wall ms per request and the body's bytes
 *
 * The scrape runs on the event loop that also serves the N players, so its ms is event-loop
 * time taken from them. Output: a table and bench/results/metrics.json (machine, commit, load
 * average).
 *
 *   npm run bench:metrics
 *   nice -n 10 node bench/metrics.bench.mjs --players 1000
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { Bench } from 'tinybench'
import pino from 'pino'
import { currentCommit, here, root } from './lib.mjs'
import { encodeSource, startLoopPublisher, sleep, stopProcess } from './load/lib.mjs'

const { values } = parseArgs({ options: { players: { type: 'string', default: '1000' }, procs: { type: 'string', default: '2' } } })
const N = Number(values.players)
const TIME = Number(process.env.BENCH_TIME ?? 3000)
const require = createRequire(import.meta.url)
const { Sluice } = require(path.join(root, 'dist/index.js'))
const { SluiceMetrics } = require(path.join(root, 'dist/metrics/metrics.js'))

const sluice = new Sluice({
  rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1' }, srt: { port: 0, host: '127.0.0.1' }, webrtc: { bindAddress: '127.0.0.1' },
  logger: pino({ level: 'error' }),
})
await sluice.start()
const metrics = new SluiceMetrics(sluice)
const url = `rtmp://127.0.0.1:${sluice.rtmp.port}/live/bench`
const source = encodeSource({ seconds: 20, size: '320x240', fps: 15, gop: 30, videoBitrate: '160k', audioBitrate: '32k', log: console.log })
const pub = startLoopPublisher(source.file, url)
await pub.waitMedia(1000)

async function measure(label) {
  const bench = new Bench({ name: 'metrics', time: TIME, warmupTime: 300 })
  let bytes = 0
  bench.add('scrape', async () => {
    bytes = (await metrics.scrape()).length
  })
  await bench.run()
  const r = bench.tasks[0].result
  if (r.state !== 'completed') throw new Error(`scrape: ${r.state} ${r.error?.stack ?? ''}`)
  const http = []
  let httpBytes = 0
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now()
    const res = await fetch(`http://127.0.0.1:${sluice.http.port}/metrics`)
    httpBytes = (await res.arrayBuffer()).byteLength
    http.push(performance.now() - t0)
  }
  http.sort((a, b) => a - b)
  const ms = (x) => Math.round(x * 1000) / 1000
  const players = sluice.clients.list().filter((c) => c.role === 'player').length
  return {
    label, players, clients: sluice.clients.size,
    scrape: { meanMs: ms(r.latency.mean), p50Ms: ms(r.latency.p50), p99Ms: ms(r.latency.p99), rmePercent: Math.round(r.latency.rme * 100) / 100, samples: r.latency.samplesCount, bytes },
    http: { p50Ms: ms(http[15]), maxMs: ms(http[29]), bytes: httpBytes },
  }
}

const rows = [await measure('publisher only')]
const tool = spawn(process.execPath, [path.join(here, 'load', 'rtmp-players.mjs'), '--url', url, '--players', String(N), '--procs', values.procs,
  '--duration', '600', '--quiet', '--min-delivery', '0', '--max-lag-ms', '1000000', '--read-interval', '200', '--connect-timeout', '120'], { stdio: ['ignore', 'ignore', 'inherit'] })
const deadline = Date.now() + 180_000
while (sluice.clients.list().filter((c) => c.role === 'player').length < N) {
  if (Date.now() > deadline || tool.exitCode !== null) throw new Error(`only ${sluice.clients.size - 1} of ${N} players connected`)
  await sleep(500)
}
await sleep(3000)
rows.push(await measure(`${N} RTMP players`))
await stopProcess(tool, 'SIGTERM')
await pub.stop()
await sluice.close()

console.log('\nclients   scrape ms (mean / p50 / p99)   ±rme   body bytes   GET /metrics ms (p50 / max)')
for (const r of rows) {
  console.log(`${String(r.clients).padStart(7)}   ${`${r.scrape.meanMs} / ${r.scrape.p50Ms} / ${r.scrape.p99Ms}`.padStart(28)}   ${String(r.scrape.rmePercent).padStart(4)}%   ${String(r.scrape.bytes).padStart(10)}   ${r.http.p50Ms} / ${r.http.maxMs}`)
}
const out = path.join(here, 'results', 'metrics.json')
fs.writeFileSync(out, JSON.stringify({
  benchmark: 'metrics', date: new Date().toISOString(), commit: currentCommit(), timeBudgetMs: TIME,
  machine: { cpus: os.cpus()[0]?.model ?? 'unknown', count: os.availableParallelism(), node: process.version, osRelease: os.release(), loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) },
  source: { size: '320x240', fps: 15, mediaKbps: source.mediaKbps },
  note: 'Sluice in this process; players are raw RTMP sessions (bench/load/rtmp-players.mjs) in child processes on the same machine',
  results: rows,
}, null, 2) + '\n')
console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
process.exit(0)
