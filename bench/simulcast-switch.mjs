#!/usr/bin/env node
/**
 * npm run bench:simulcast — simulcast layer-switch time on the native WebRTC port: from the
 * request (`PUT /api/whep/{id}/layer`, sent by the viewer's page) to the first frame of the new
 * layer rendered by the viewer (`requestVideoFrameCallback`, same page clock), p50/p99.
 *
 * One Sluice server (`node dist/cli.js`, loopback, `webrtc.transport: native`); Chromium
 * (playwright-core, Debian's `chromium`) publishes three simulcast layers from the publish page
 * (rids q, h, f: ¼, ½ and full resolution of a 1280×720 testsrc2 pattern fed as the fake camera)
 * and a second page plays over WHEP. The viewer is pinned to q, h, f in turn (--switches times,
 * default 30). Each switch asks the layer for a keyframe (PLI) and moves the viewer at it: the
 * time is PLI → the publisher's encoder → its keyframe through Sluice → decoded and shown.
 *
 * `--mode vp9-svc` / `av1-svc`: the publisher sends one VP9 / AV1 `L3T3_KEY` scalable stream
 * instead, and the viewer is pinned to its operating points S0, S1, S2 in turn: a move down
 * happens at the next picture (no keyframe), a move up at a keyframe; the two are reported
 * apart (`downMs`, `upMs`).
 *
 * `--mode vp9-l1t3` / `av1-l1t3`: one VP9 / AV1 `L1T3` stream (temporal layers only), the
 * viewer pinned to T0, T1, T2 in turn: down at the next picture, up at the target's next
 * switching point (a base layer frame), neither asking for a keyframe. The new layer's first
 * frame is told by the RTP timestamp steps between rendered frames (T2's step measured before
 * the first switch; T1's is twice it, T0's four times): up, the first shorter step ends at it;
 * down, the first longer step starts at it (its time is that step earlier, at the frame rate
 * the steps show).
 * JSON: bench/results/simulcast-switch.json, or simulcast-switch-<mode>.json (--json PATH).
 *
 *   npm run bench:simulcast
 *   node bench/simulcast-switch.mjs --switches 9     # smoke run
 *   node bench/simulcast-switch.mjs --mode vp9-svc
 *   node bench/simulcast-switch.mjs --mode vp9-l1t3
 */
import { parseArgs } from 'node:util'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { round, sleep, startSluice } from './load/lib.mjs'
import { currentCommit } from './lib.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({
  options: {
    switches: { type: 'string', default: '30' },
    mode: { type: 'string', default: 'simulcast' },
    json: { type: 'string' },
  },
})
const MODES = {
  simulcast: { query: 'simulcast=1', order: ['q', 'h', 'f'], ready: (p) => (p.layers ?? []).filter((l) => l.kbps > 0).length === 3 },
  'vp9-svc': { query: 'svc=L3T3_KEY&codec=VP9', order: ['S0', 'S1', 'S2'], ready: (p) => p.scalabilityMode === 'L3T3_KEY' },
  'av1-svc': { query: 'svc=L3T3_KEY&codec=AV1', order: ['S0', 'S1', 'S2'], ready: (p) => p.scalabilityMode === 'L3T3_KEY' },
  // a smaller camera: the encoder keeps its frame rate (the steps tell the layer)
  'vp9-l1t3': { query: 'svc=L1T3&codec=VP9', order: ['T0', 'T1', 'T2'], ready: (p) => p.scalabilityMode === 'L1T3', temporal: true, size: '640x360' },
  'av1-l1t3': { query: 'svc=L1T3&codec=AV1', order: ['T0', 'T1', 'T2'], ready: (p) => p.scalabilityMode === 'L1T3', temporal: true, size: '640x360' },
}
const mode = MODES[values.mode]
if (!mode) throw new Error(`--mode: one of ${Object.keys(MODES).join(', ')}`)
const jsonPath = values.json ?? path.join(here, 'results', values.mode === 'simulcast' ? 'simulcast-switch.json' : `simulcast-switch-${values.mode}.json`)
const log = (...a) => console.error('[simulcast-bench]', ...a)
const WIDTHS = { q: 320, h: 640, f: 1280, S0: 320, S1: 640, S2: 1280 }

const dir = mkdtempSync(path.join(tmpdir(), 'sluice-simulcast-bench-'))
const y4m = path.join(dir, 'camera.y4m')
const made = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${mode.size ?? '1280x720'}:rate=20`, '-t', '3', '-pix_fmt', 'yuv420p', '-y', y4m])
if (made.status !== 0) throw new Error(`ffmpeg could not make the fake camera: ${made.stderr}`)
const config = path.join(dir, 'sluice.yaml')
writeFileSync(config, 'webrtc:\n  transport: native\n  udpPort: 0\n')
const server = await startSluice({ extraArgs: ['--config', config] })
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`],
})
const samples = []
const down = []
const up = []
// keyframe requests (PLI + FIR) the publisher received over each direction's switches
const asked = { down: 0, up: 0 }
try {
  const publisher = await browser.newPage()
  await publisher.goto(`${server.origin}/publish?stream=live/sim&${mode.query}&start=1`)
  await publisher.waitForFunction(() => window.sluicePublisher?.connectedAt, null, { timeout: 20_000 })
  for (let waited = 0; !mode.ready(await publisher.evaluate(() => window.sluicePublisher)); waited += 250) {
    if (waited > 20_000) throw new Error(`the publisher does not send its ${values.mode} layers`)
    await sleep(250)
  }
  const viewer = await browser.newPage()
  await viewer.goto(`${server.origin}/?play=live/sim`)
  await viewer.waitForFunction(() => window.sluicePlayer?.connectedAt, null, { timeout: 20_000 })
  // every rendered frame's width, time (the page's clock) and RTP timestamp
  await viewer.evaluate(() => {
    const video = document.querySelector('video')
    window.__frames = []
    const each = (now, meta) => {
      window.__frames.push([meta.width, now, meta.rtpTimestamp])
      if (window.__frames.length > 2000) window.__frames.splice(0, 1000)
      video.requestVideoFrameCallback(each)
    }
    video.requestVideoFrameCallback(each)
  })
  // the top layer at full size (temporal layers: the camera's size, which the encoder may scale first)
  await viewer.waitForFunction((width) => window.__frames.some(([w]) => w === width), mode.temporal ? Number(mode.size.split('x')[0]) : 1280, { timeout: 20_000 })
  // playing for 2 s first (the first switch right after the first frame measured start-up)
  await viewer.waitForFunction(() => window.__frames.length >= 40, null, { timeout: 20_000 })
  // temporal layers: the RTP timestamp step of T2 (all frames), the median over the last 40
  const steps = await viewer.evaluate(() => window.__frames.slice(-41).map(([, , ts], i, all) => (i ? (ts - all[i - 1][2]) >>> 0 : 0)).slice(1))
  const base = [...steps].sort((a, b) => a - b)[steps.length >> 1]
  if (mode.temporal) {
    const regular = steps.filter((s) => Math.abs(s - base) <= base * 0.2).length / steps.length
    log(`T2 frame step: ${base} ticks (90 kHz), ${Math.round(regular * 100)} % of the last 40 steps within 20 % of it`)
    if (regular < 0.8) log('the frame rate is not steady: the switch times below are not reliable')
  }
  const clients = await (await fetch(`${server.origin}/api/clients`)).json()
  const id = String(clients.find((c) => c.protocol === 'whep').id).replace(/^whep-/, '')
  const order = mode.order
  for (let i = 0; i < Number(values.switches); i++) {
    const rid = order[i % 3]
    const downward = i % 3 === 0
    const keyframeRequests = () => publisher.evaluate(async () => {
      let n = 0
      ;(await window.sluicePublisher.pc.getStats()).forEach((r) => { if (r.type === 'outbound-rtp' && r.kind === 'video') n += (r.pliCount ?? 0) + (r.firCount ?? 0) })
      return n
    })
    const requestsBefore = await keyframeRequests()
    // temporal: the step the layer moved from (T2 base, T1 2 × base, T0 4 × base); down, the
    // first longer step (a frame left out), up the first shorter one
    const from = mode.temporal ? base * 2 ** (2 - Number(order[(i + 2) % 3].slice(1))) : 0
    const steps = mode.temporal ? (downward ? [from * 1.5, Infinity] : [0, from * 0.75]) : null
    const ms = await viewer.evaluate(async ({ id, rid, width, steps }) => {
      const asked = performance.now()
      const r = await fetch(`/api/whep/${id}/layer`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ rid }) })
      if (r.status !== 200) throw new Error(`PUT layer: ${r.status} ${await r.text()}`)
      const isHit = ([w, t, ts], i, all) => {
        if (t < asked) return false
        if (!steps) return w === width
        const step = i > 0 ? (ts - all[i - 1][2]) >>> 0 : NaN
        return step >= steps[0] && step <= steps[1]
      }
      for (;;) {
        const at = window.__frames.findIndex(isHit)
        if (at >= 0) {
          // temporal, down: the frame before the longer step was the new layer's first (its
          // frames are the old one's too), shown one step earlier
          const [, t, ts] = window.__frames[at]
          return t - asked - (steps && steps[1] === Infinity ? ((ts - window.__frames[at - 1][2]) >>> 0) / 90 : 0)
        }
        if (performance.now() - asked > 10_000) return null
        await new Promise((r) => setTimeout(r, 10))
      }
    }, { id, rid, width: WIDTHS[rid], steps })
    log(`switch ${i + 1} → ${rid}: ${ms === null ? 'timed out' : `${Math.round(ms)} ms`}`)
    if (ms !== null) {
      samples.push(ms)
      ;(downward ? down : up).push(ms)
    }
    await sleep(1000)
    asked[downward ? 'down' : 'up'] += (await keyframeRequests()) - requestsBefore
  }
} finally {
  await browser.close().catch(() => {})
  await server.stop()
}
const sorted = [...samples].sort((a, b) => a - b)
const percentile = (list, p) => {
  const s = [...list].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : null
}
const pct = (p) => percentile(sorted, p)
const result = {
  benchmark: 'simulcast-switch',
  date: new Date().toISOString(),
  commit: currentCommit(),
  machine: { cpus: cpus()[0]?.model, count: cpus().length, node: process.version },
  switches: Number(values.switches),
  completed: samples.length,
  mode: values.mode,
  switchMs: { p50: round(pct(50), 1), p99: round(pct(99), 1), min: round(sorted[0] ?? null, 1), max: round(sorted.at(-1) ?? null, 1) },
  // to the lowest layer (from the top) and up (one layer each)
  downMs: { p50: round(percentile(down, 50), 1), p99: round(percentile(down, 99), 1), n: down.length, keyframeRequests: asked.down },
  upMs: { p50: round(percentile(up, 50), 1), p99: round(percentile(up, 99), 1), n: up.length, keyframeRequests: asked.up },
}
mkdirSync(path.dirname(jsonPath), { recursive: true })
writeFileSync(jsonPath, JSON.stringify(result, null, 1) + '\n')
console.log(`${values.mode} layer switch (request → first frame of the new layer rendered): p50 ${result.switchMs.p50} ms, p99 ${result.switchMs.p99} ms over ${samples.length}/${result.switches} switches; down p50 ${result.downMs.p50} ms p99 ${result.downMs.p99} ms (${asked.down} keyframe requests to the publisher), up p50 ${result.upMs.p50} ms p99 ${result.upMs.p99} ms (${asked.up})`)
