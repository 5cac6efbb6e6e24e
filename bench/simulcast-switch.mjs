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
 * JSON: bench/results/simulcast-switch.json (--json PATH).
 *
 *   npm run bench:simulcast
 *   node bench/simulcast-switch.mjs --switches 9     # smoke run
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
    json: { type: 'string', default: path.join(here, 'results', 'simulcast-switch.json') },
  },
})
const log = (...a) => console.error('[simulcast-bench]', ...a)
const WIDTHS = { q: 320, h: 640, f: 1280 }

const dir = mkdtempSync(path.join(tmpdir(), 'sluice-simulcast-bench-'))
const y4m = path.join(dir, 'camera.y4m')
const made = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=20', '-t', '3', '-pix_fmt', 'yuv420p', '-y', y4m])
if (made.status !== 0) throw new Error(`ffmpeg could not make the fake camera: ${made.stderr}`)
const config = path.join(dir, 'sluice.yaml')
writeFileSync(config, 'webrtc:\n  transport: native\n  udpPort: 0\n')
const server = await startSluice({ extraArgs: ['--config', config] })
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`],
})
const samples = []
try {
  const publisher = await browser.newPage()
  await publisher.goto(`${server.origin}/publish?stream=live/sim&simulcast=1&start=1`)
  await publisher.waitForFunction(() => window.sluicePublisher?.connectedAt, null, { timeout: 20_000 })
  await publisher.waitForFunction(() => (window.sluicePublisher.layers ?? []).filter((l) => l.kbps > 0).length === 3, null, { timeout: 20_000 })
  const viewer = await browser.newPage()
  await viewer.goto(`${server.origin}/?play=live/sim`)
  await viewer.waitForFunction(() => window.sluicePlayer?.connectedAt, null, { timeout: 20_000 })
  // every rendered frame's width and time, on the page's clock
  await viewer.evaluate(() => {
    const video = document.querySelector('video')
    window.__frames = []
    const each = (now, meta) => {
      window.__frames.push([meta.width, now])
      if (window.__frames.length > 2000) window.__frames.splice(0, 1000)
      video.requestVideoFrameCallback(each)
    }
    video.requestVideoFrameCallback(each)
  })
  await viewer.waitForFunction(() => window.__frames.some(([w]) => w === 1280), null, { timeout: 20_000 })
  const clients = await (await fetch(`${server.origin}/api/clients`)).json()
  const id = String(clients.find((c) => c.protocol === 'whep').id).replace(/^whep-/, '')
  const order = ['q', 'h', 'f']
  for (let i = 0; i < Number(values.switches); i++) {
    const rid = order[i % 3]
    const ms = await viewer.evaluate(async ({ id, rid, width }) => {
      const asked = performance.now()
      const r = await fetch(`/api/whep/${id}/layer`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ rid }) })
      if (r.status !== 200) throw new Error(`PUT layer: ${r.status} ${await r.text()}`)
      for (;;) {
        const hit = window.__frames.find(([w, t]) => w === width && t >= asked)
        if (hit) return hit[1] - asked
        if (performance.now() - asked > 10_000) return null
        await new Promise((r) => setTimeout(r, 10))
      }
    }, { id, rid, width: WIDTHS[rid] })
    log(`switch ${i + 1} → ${rid}: ${ms === null ? 'timed out' : `${Math.round(ms)} ms`}`)
    if (ms !== null) samples.push(ms)
    await sleep(1000)
  }
} finally {
  await browser.close().catch(() => {})
  await server.stop()
}
const sorted = [...samples].sort((a, b) => a - b)
const pct = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null)
const result = {
  benchmark: 'simulcast-switch',
  date: new Date().toISOString(),
  commit: currentCommit(),
  machine: { cpus: cpus()[0]?.model, count: cpus().length, node: process.version },
  switches: Number(values.switches),
  completed: samples.length,
  switchMs: { p50: round(pct(50), 1), p99: round(pct(99), 1), min: round(sorted[0] ?? null, 1), max: round(sorted.at(-1) ?? null, 1) },
}
mkdirSync(path.dirname(values.json), { recursive: true })
writeFileSync(values.json, JSON.stringify(result, null, 1) + '\n')
console.log(`simulcast layer switch (request → first frame of the new layer rendered): p50 ${result.switchMs.p50} ms, p99 ${result.switchMs.p99} ms over ${samples.length}/${result.switches} switches`)
