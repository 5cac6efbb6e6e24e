// Server CPU for LL-HLS clients polling one live stream, the way hls.js plays low-latency HLS:
// each client asks for the playlist with a blocking reload (`_HLS_msn`/`_HLS_part` of the next
// part) and, in parallel, the part its preload hint names (held by the server until it exists).
//
// Sluice runs as its own process (`node dist/cli.js`, loopback, HLS defaults: 200 ms parts,
// 2 s segments); ffmpeg publishes the load tools' 2.5 Mbit/s 1280x720@30 H.264 + AAC source over
// RTMP in real time (stream copy, looped; bench/load/lib.mjs); the clients run in another process (this script with --clients),
// on keep-alive connections. The server's CPU (utime + stime from /proc) is measured over a
// window with the stream published and no client, then with each client count.
//
//   node bench/hls-load.mjs [--clients 100] [--window 10]
//   (--clients takes a list: 50,100)
// Output: a table and results/hls-load.json (server CPU % of one core, per client, parts and
// Mbit/s the clients got, their lateness behind the live edge).

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { here, currentCommit } from './lib.mjs'
import { cpuPercent, encodeSource, procSample, sleep, startLoopPublisher, startSluice } from './load/lib.mjs'

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    window: { type: 'string', default: '10' },
    'client-mode': { type: 'string' },
    count: { type: 'string' },
    seconds: { type: 'string' },
  },
})

// ---------------------------------------------------------------- client process

/** The next part to ask for, from a playlist: `[msn, part index]` and the preload-hinted URI. */
function nextOf(playlist) {
  const lines = playlist.split('\n')
  let msn = Number(lines.find((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'))?.slice(22) ?? 0)
  let parts = 0
  for (const l of lines) {
    if (l.startsWith('#EXTINF')) { msn++; parts = 0 } else if (l.startsWith('#EXT-X-PART:')) parts++
  }
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(playlist)?.[1] ?? null
  return { msn, part: parts, hint }
}

async function client(base, deadline, stats) {
  let { msn, part, hint } = nextOf(await (await fetch(`${base}/index.m3u8`)).text())
  while (Date.now() < deadline) {
    const [pl, data] = await Promise.all([
      fetch(`${base}/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`).then((r) => (r.ok ? r.text() : null)),
      hint ? fetch(`${base}/${hint}`).then((r) => (r.ok ? r.arrayBuffer() : null)) : Promise.resolve(null),
    ])
    if (data) { stats.parts++; stats.bytes += data.byteLength }
    if (pl === null) { stats.errors++; await sleep(100); continue }
    stats.playlists++
    ;({ msn, part, hint } = nextOf(pl))
  }
}

if (values['client-mode']) {
  const base = values['client-mode']
  const count = Number(values.count)
  const deadline = Date.now() + Number(values.seconds) * 1000
  const stats = { parts: 0, bytes: 0, playlists: 0, errors: 0 }
  const cpu0 = process.cpuUsage()
  await Promise.all(Array.from({ length: count }, () => client(base, deadline, stats).catch(() => stats.errors++)))
  const cpu = process.cpuUsage(cpu0)
  process.stdout.write(JSON.stringify({ ...stats, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n')
  process.exit(0)
}

// ---------------------------------------------------------------- orchestrator

const CLIENTS = values.clients.split(',').map(Number)
const WINDOW = Number(values.window)

const source = encodeSource({ log: (m) => console.log(m) })
const server = await startSluice()
const publisher = startLoopPublisher(source.file, `rtmp://127.0.0.1:${server.rtmpPort}/live/hls`)
const base = `${server.origin}/hls/live/hls`
const rows = []
try {
  // Wait for the stream's playlist (HLS muxing starts with the first request).
  for (let i = 0; ; i++) {
    const r = await fetch(`${base}/index.m3u8`).catch(() => null)
    if (r?.ok && (await r.text()).includes('#EXT-X-PART:')) break
    if (i > 100) throw new Error('the HLS playlist never came')
    await sleep(200)
  }
  for (const n of [0, ...CLIENTS]) {
    let clientResult = null
    let clientProc = null
    if (n > 0) {
      clientProc = spawn(process.execPath, [path.join(here, 'hls-load.mjs'), '--client-mode', base, '--count', String(n), '--seconds', String(WINDOW + 4)], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      clientProc.stdout.on('data', (d) => (out += d))
      clientResult = new Promise((resolve) => clientProc.on('exit', () => resolve(out ? JSON.parse(out) : null)))
      await sleep(2000) // the clients reach the live edge
    } else {
      // keep the stream's HLS muxing alive (idle timeout) with one request
      await fetch(`${base}/index.m3u8`)
      await sleep(1000)
    }
    const c0 = procSample([server.pid])
    await sleep(WINDOW * 1000)
    const serverCpu = cpuPercent(c0, procSample([server.pid]))
    const result = clientResult ? await clientResult : null
    const seconds = WINDOW + 4
    rows.push({
      clients: n,
      serverCpuPercent: serverCpu,
      parts: result?.parts ?? 0,
      partsPerClientPerSecond: result ? Math.round((result.parts / n / seconds) * 10) / 10 : null,
      mbitPerSecond: result ? Math.round((result.bytes * 8) / seconds / 1e6) : null,
      playlistsPerSecond: result ? Math.round(result.playlists / seconds) : null,
      errors: result?.errors ?? 0,
      clientProcessCpuPercent: result ? Math.round((result.cpuMs / (seconds * 1000)) * 1000) / 10 : null,
    })
    console.log(JSON.stringify(rows.at(-1)))
  }
} finally {
  await publisher.stop()
  await server.stop()
}
const idle = rows.find((r) => r.clients === 0)?.serverCpuPercent ?? 0
for (const r of rows) if (r.clients > 0) r.serverCpuPercentPerClient = Math.round(((r.serverCpuPercent - idle) / r.clients) * 1000) / 1000
console.table(rows)
const out = { benchmark: 'hls-load', date: new Date().toISOString(), commit: currentCommit(), machine: { cpus: os.cpus()[0]?.model, count: os.cpus().length, node: process.version }, windowSeconds: WINDOW, stream: { ...source, hls: '200 ms parts, 2 s segments' }, rows }
const file = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(here, 'results', 'hls-load.json')
fs.mkdirSync(path.dirname(file), { recursive: true })
fs.writeFileSync(file, JSON.stringify(out, null, 1) + '\n')
process.exit(0)
