#!/usr/bin/env node
// MCU mix cost: Sluice's mix (crates/mixer: OpenH264 decode, compose, OpenH264 encode; audio
// summed and AAC-encoded, on one native thread) against ffmpeg doing the same composition in the
// same run (`-filter_complex xstack` + amix, libx264 on one thread), per second of output.
//
//   node bench/mix.bench.mjs                  2 and 4 inputs of 640x360@30 into 1280x720@30
//   BENCH_OUT=file.json                       write the JSON there (else bench/results/mix.json)
//   BENCH_MIX_SECONDS=8                       measuring window per case (default 8)
//
// Ours: N ffmpeg publishers send the inputs over RTMP in real time (stream copy); the mix runs
// in this process; after 3 s of warm-up, the mix thread's busy time over the window is its CPU
// (a share of one core; the thread only works while it decodes, composes, encodes or mixes).
// Latency: an input picture's arrival in the mixer → the mixed picture that first shows it,
// encoded (p50/p99 over the window). The peer: ffmpeg decodes the same N files, stacks them
// into the same 1280x720 grid, mixes and encodes the audio (AAC) and the video (libx264
// `veryfast` and `ultrafast`, `-tune zerolatency`, 2.5 Mbit/s, `-threads 1`), as fast as it can,
// to the null muxer; its user+system CPU time over the seconds of output it made. Debian's
// ffmpeg has no libopenh264, so OpenH264 is compared through ours only.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { here, root } from './lib.mjs'

const require = createRequire(import.meta.url)
const { Sluice } = require(path.join(root, 'dist', 'index.js'))
const seconds = Number(process.env.BENCH_MIX_SECONDS ?? 8)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-mix-bench-'))
const COLOURS = ['red', 'blue', 'green', 'yellow']
const TONES = [440, 660, 880, 1000]

function input(i) {
  const file = path.join(dir, `in${i}.flv`)
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30,hue=h=${i * 90}`, '-f', 'lavfi', '-i', `sine=frequency=${TONES[i]}:sample_rate=48000`,
    '-t', '20', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '60', '-b:v', '1200k', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k', '-ac', '2', '-f', 'flv', file])
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${file}: ${r.stderr}`)
  return file
}

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null
}

async function ours(files) {
  const n = files.length
  const s = new Sluice({ rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1' }, srt: { enabled: false }, log: { level: 'warn' } })
  await s.start()
  const pubs = files.map((f, i) => spawn('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-stream_loop', '-1', '-i', f, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmp.port}/in/${i}`], { stdio: 'ignore' }))
  try {
    const start = Date.now()
    while (!files.every((_, i) => s.hub.get('in', String(i))?.isLive)) {
      if (Date.now() - start > 10_000) throw new Error('publishers did not start')
      await new Promise((r) => setTimeout(r, 100))
    }
    const res = await fetch(`http://127.0.0.1:${s.http.port}/api/mixes`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ output: 'out/mix', inputs: files.map((_, i) => `in/${i}`), width: 1280, height: 720, frameRate: 30, videoBitrate: 2_500_000 }) })
    if (res.status !== 201) throw new Error(`mix refused: ${res.status} ${await res.text()}`)
    const { id } = await res.json()
    const mix = s.mixes.mixes.get(id)
    await new Promise((r) => setTimeout(r, 3000))
    const a = mix.nativeStats()
    mix.resetLatency()
    const cpu0 = process.cpuUsage()
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const b = mix.nativeStats()
    const cpu1 = process.cpuUsage(cpu0)
    const lat = [...b.latencyMs].sort((x, y) => x - y)
    const window = (b.elapsedMs - a.elapsedMs) / 1000
    return {
      cpuPerOutputSecond: (b.busyMs - a.busyMs) / 1000 / window,
      processCpuPerSecond: (cpu1.user + cpu1.system) / 1e6 / window,
      framesEncoded: b.encoded - a.encoded, fps: (b.encoded - a.encoded) / window, ticksSkipped: b.ticksSkipped - a.ticksSkipped,
      inputErrors: b.inputErrors, latencyP50Ms: percentile(lat, 0.5), latencyP99Ms: percentile(lat, 0.99),
    }
  } finally {
    for (const p of pubs) p.kill('SIGKILL')
    await s.close()
  }
}

function peer(files, preset) {
  const n = files.length
  const layout = n === 2 ? '0_0|w0_0' : '0_0|w0_0|0_h0|w0_h0'
  const pad = n === 2 ? ',pad=1280:720:0:180:black' : ''
  const filter = `${files.map((_, i) => `[${i}:v]`).join('')}xstack=inputs=${n}:layout=${layout}${pad}[v];${files.map((_, i) => `[${i}:a]`).join('')}amix=inputs=${n}:normalize=0,alimiter[a]`
  const frames = 300
  const args = ['-hide_banner', '-v', 'error', ...files.flatMap((f) => ['-threads', '1', '-i', f]), '-filter_complex', filter, '-filter_complex_threads', '1', '-map', '[v]', '-map', '[a]',
    '-c:v', 'libx264', '-preset', preset, '-tune', 'zerolatency', '-b:v', '2500k', '-threads', '1', '-c:a', 'aac', '-b:a', '128k', '-frames:v', String(frames), '-f', 'null', '-']
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; time ffmpeg ${args.map((a) => `'${a}'`).join(' ')}`], { encoding: 'utf8' })
  const m = /([\d.]+) ([\d.]+)\s*$/.exec(r.stderr)
  if (r.status !== 0 || !m) throw new Error(`ffmpeg failed: ${r.stderr}`)
  return { cpuPerOutputSecond: (Number(m[1]) + Number(m[2])) / (frames / 30) }
}

const files = [0, 1, 2, 3].map(input)
const rows = []
for (const n of [2, 4]) {
  const o = await ours(files.slice(0, n))
  for (const preset of ['veryfast', 'ultrafast']) {
    const p = peer(files.slice(0, n), preset)
    rows.push({ inputs: n, peer: `ffmpeg xstack + libx264 ${preset}`, ours: o, peerResult: p, ratio: Math.round((p.cpuPerOutputSecond / o.cpuPerOutputSecond) * 100) / 100 })
    console.log(`${n} inputs 640x360@30 → 1280x720@30: ours ${(o.cpuPerOutputSecond * 100).toFixed(1)} % of a core (${o.fps.toFixed(1)} fps, latency p50 ${o.latencyP50Ms} ms p99 ${o.latencyP99Ms} ms), ffmpeg+libx264 ${preset} ${(p.cpuPerOutputSecond * 100).toFixed(1)} % → ${rows.at(-1).ratio}×`)
  }
}
const out = process.env.BENCH_OUT ?? path.join(here, 'results', 'mix.json')
fs.mkdirSync(path.dirname(out), { recursive: true })
fs.writeFileSync(out, JSON.stringify({
  benchmark: 'mix', peer: 'ffmpeg -filter_complex xstack,amix + libx264 (-threads 1) + aac, same inputs, same run',
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg() }, seconds, rows,
}, null, 2))
fs.rmSync(dir, { recursive: true, force: true })
