/**
 * LL-HLS end to end: real ffmpeg publishes over RTMP; the playlist is checked against RFC
 * 8216bis rules (a validator written here), blocking reload answers as soon as the asked part
 * exists (within one part duration), delta updates skip old segments, ffmpeg's HLS demuxer
 * plays the segments, and hls.js in Chromium plays the LL-HLS stream with its measured latency
 * (wall clock − EXT-X-PROGRAM-DATE-TIME of the frame on screen) under 2 s.
 */
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, runOk, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { launchChromium } from './helpers/browser'

let server: TestServer
let pub: Proc
const PART_MS = 200

beforeAll(async () => {
  server = await startSluice({ hls: { partMs: PART_MS, segmentMs: 1000 } })
  pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '60',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-f', 'flv', server.rtmpUrl('live/hls')])
  await waitFor(() => server.sluice.hub.get('live', 'hls')?.gop.length, 10_000, 'publisher')
}, 30_000)

afterAll(async () => {
  pub?.child.kill('SIGKILL')
  await server?.close()
})

const url = (file: string) => server.httpUrl(`/hls/live/hls/${file}`)

interface Parsed {
  tags: Map<string, string[]>
  segments: { msn: number; duration: number; uri: string }[]
  parts: { msn: number; duration: number; uri: string; independent: boolean }[]
  hint: string | null
  /** The segment the hinted part belongs to and its index there (for `_HLS_msn`/`_HLS_part`). */
  hintMsn: number
  hintIndex: number
}

/**
 * Checks a media playlist against RFC 8216bis rules and returns what it lists. Throws naming
 * the rule broken.
 */
function validate(text: string): Parsed {
  const lines = text.split('\n').filter((l) => l.length > 0)
  const rule = (ok: boolean, what: string) => { if (!ok) throw new Error(`playlist breaks: ${what}\n${text}`) }
  rule(lines[0] === '#EXTM3U', '§4.4.1.1 first line #EXTM3U')
  const tags = new Map<string, string[]>()
  const parsed: Parsed = { tags, segments: [], parts: [], hint: null, hintMsn: -1, hintIndex: -1 }
  let msn = -1
  let pendingDuration: number | null = null
  for (const line of lines.slice(1)) {
    if (line.startsWith('#')) {
      const [name, value = ''] = line.split(/:(.*)/s)
      tags.set(name!, [...(tags.get(name!) ?? []), value])
      if (name === '#EXT-X-MEDIA-SEQUENCE') msn = Number(value)
      if (name === '#EXTINF') pendingDuration = parseFloat(value)
      if (name === '#EXT-X-PART') {
        const d = /DURATION=([\d.]+)/.exec(value)
        const u = /URI="([^"]+)"/.exec(value)
        rule(!!d && !!u, '§4.4.4.9 EXT-X-PART has DURATION and URI')
        parsed.parts.push({ msn, duration: Number(d![1]), uri: u![1]!, independent: value.includes('INDEPENDENT=YES') })
      }
      if (name === '#EXT-X-PRELOAD-HINT') {
        rule(value.includes('TYPE=PART'), '§4.4.5.3 PRELOAD-HINT TYPE')
        parsed.hint = /URI="([^"]+)"/.exec(value)![1]!
        parsed.hintMsn = msn
        parsed.hintIndex = parsed.parts.filter((x) => x.msn === msn).length
      }
    } else {
      rule(pendingDuration !== null, '§4.4.4.1 every segment URI follows an EXTINF')
      parsed.segments.push({ msn, duration: pendingDuration!, uri: line })
      pendingDuration = null
      msn++
    }
  }
  const one = (name: string) => { rule(tags.get(name)?.length === 1, `${name} appears exactly once`); return tags.get(name)![0]! }
  const version = Number(one('#EXT-X-VERSION'))
  rule(version >= 9, '§4.4.3.8 CAN-SKIP-UNTIL needs version 9')
  const target = Number(one('#EXT-X-TARGETDURATION'))
  for (const s of parsed.segments) rule(Math.round(s.duration) <= target, `§4.4.3.1 EXTINF ${s.duration} rounded ≤ TARGETDURATION ${target}`)
  const partTarget = parseFloat(/PART-TARGET=([\d.]+)/.exec(one('#EXT-X-PART-INF'))![1]!)
  for (const p of parsed.parts) rule(p.duration <= partTarget + 0.0005, `§4.4.4.9 part ${p.uri} ${p.duration} ≤ PART-TARGET ${partTarget}`)
  const control = one('#EXT-X-SERVER-CONTROL')
  const holdBack = parseFloat(/PART-HOLD-BACK=([\d.]+)/.exec(control)![1]!)
  rule(holdBack >= 2 * partTarget, '§4.4.3.8 PART-HOLD-BACK ≥ twice PART-TARGET')
  rule(/CAN-BLOCK-RELOAD=YES/.test(control), 'blocking reload offered')
  rule(parseFloat(/CAN-SKIP-UNTIL=([\d.]+)/.exec(control)![1]!) >= 6 * target, '§4.4.3.8 CAN-SKIP-UNTIL ≥ six target durations')
  rule(!!tags.get('#EXT-X-MAP'), '§4.4.4.5 fMP4 segments need EXT-X-MAP')
  rule(parsed.parts.length > 0 && parsed.hint !== null, 'LL-HLS: parts and a preload hint')
  return parsed
}

describe('LL-HLS', () => {
  it('serves a playlist that follows RFC 8216bis; parts start independent at every segment; blocking reload answers within a part duration', async () => {
    const first = await fetch(url('index.m3u8'))
    expect(first.status).toBe(200)
    expect(first.headers.get('content-type')).toBe('application/vnd.apple.mpegurl')
    await waitFor(() => server.sluice.hls.stats()[0]?.segments >= 3, 15_000, 'three segments')
    const text = await (await fetch(url('index.m3u8'))).text()
    const p = validate(text)
    // every segment begins with an independent part (a keyframe)
    for (const s of p.segments) {
      const firstPart = p.parts.find((x) => x.msn === s.msn)
      if (firstPart) expect(firstPart.independent).toBe(true)
    }
    const init = await fetch(url(/URI="([^"]+)"/.exec(p.tags.get('#EXT-X-MAP')![0]!)![1]!))
    expect(init.status).toBe(200)
    expect(Buffer.from(await init.arrayBuffer()).subarray(4, 8).toString()).toBe('ftyp')
    const seg = await fetch(url(p.segments.at(-1)!.uri))
    expect(Buffer.from(await seg.arrayBuffer()).subarray(4, 8).toString()).toBe('moof')

    // blocking reload of the hinted part: answered once it exists, within a part duration
    const [msn, part] = [p.hintMsn, p.hintIndex]
    const asked = Date.now()
    const blocked = await fetch(url(`index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`))
    const waited = Date.now() - asked
    expect(blocked.status).toBe(200)
    const after = validate(await blocked.text())
    expect(after.parts.some((x) => x.uri === p.hint) || after.segments.some((s) => s.msn > msn)).toBe(true)
    console.log(`blocking reload of ${p.hint}: answered after ${waited} ms (part target ${PART_MS} ms)`)
    expect(waited).toBeLessThanOrEqual(PART_MS + 100)
    // the hinted part itself is held until it exists
    const hinted = validate(await (await fetch(url('index.m3u8'))).text()).hint!
    const t0 = Date.now()
    const partRes = await fetch(url(hinted))
    expect(partRes.status).toBe(200)
    expect(Date.now() - t0).toBeLessThanOrEqual(PART_MS + 100)

    expect((await fetch(url('index.m3u8?_HLS_msn=999999'))).status).toBe(400)
    expect((await fetch(server.httpUrl('/hls/live/nothing/index.m3u8'))).status).toBe(404)
  }, 30_000)

  it('delta updates skip the segments before CAN-SKIP-UNTIL', async () => {
    await waitFor(() => server.sluice.hls.stats()[0]?.segments >= 7, 20_000, 'seven segments')
    const full = validate(await (await fetch(url('index.m3u8'))).text())
    const delta = await (await fetch(url('index.m3u8?_HLS_skip=YES'))).text()
    const skipped = Number(/#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(delta)?.[1] ?? 0)
    const target = Number(full.tags.get('#EXT-X-TARGETDURATION')![0])
    const tail = full.segments.slice(skipped).reduce((n, s) => n + s.duration, 0)
    console.log(`delta update: ${skipped} of ${full.segments.length} segments skipped, ${tail.toFixed(1)} s listed (target ${target} s)`)
    expect(skipped).toBeGreaterThan(0)
    expect(tail).toBeGreaterThanOrEqual(6 * target - 1)
  }, 30_000)

  it('ffmpeg plays it as plain HLS (whole segments)', async () => {
    const out = await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-i', url('index.m3u8'), '-t', '3', '-f', 'framemd5', '-'])
    const frames = out.split('\n').filter((l) => /^0,/.test(l))
    expect(frames.length).toBeGreaterThanOrEqual(70)
  }, 30_000)

  // A browser playing live on a 2-core box beside the server and the publisher: one run in CI
  // (2026-12-06) stalled once mid-playback (latency 0.85 → 2.96 s in the window); a second
  // attempt with a fresh browser tells a hiccup from a regression, which fails both.
  it('hls.js in Chromium plays it in low-latency mode: latency under 2 s, no stalls once playing', { retry: 1, timeout: 60_000 }, async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      await page.setContent('<video id="v" muted autoplay playsinline></video>')
      await page.addScriptTag({ path: createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js') })
      await page.evaluate((src) => {
        const Hls = (window as unknown as { Hls: new (c: object) => { loadSource(u: string): void; attachMedia(e: HTMLMediaElement): void; playingDate: Date | null; on(e: string, f: (...a: unknown[]) => void): void } & { Events: Record<string, string> } }).Hls
        const hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 })
        ;(window as unknown as { hls: unknown }).hls = hls
        ;(window as unknown as { stalls: number }).stalls = 0
        hls.on('hlsError', (_e, data) => { if ((data as { details: string }).details === 'bufferStalledError') (window as unknown as { stalls: number }).stalls++ })
        hls.loadSource(src)
        hls.attachMedia(document.getElementById('v') as HTMLVideoElement)
        void (document.getElementById('v') as HTMLVideoElement).play().catch(() => {})
      }, url('index.m3u8'))
      const sample = () => page.evaluate(() => {
        const w = window as unknown as { hls: { playingDate: Date | null }; stalls: number }
        const v = document.getElementById('v') as HTMLVideoElement
        return { time: v.currentTime, latency: w.hls.playingDate ? (Date.now() - w.hls.playingDate.getTime()) / 1000 : null, frames: v.getVideoPlaybackQuality().totalVideoFrames, stalls: w.stalls }
      })
      await waitFor(async () => (await sample()).time > 2, 20_000, 'hls.js playing for 2 s')
      // hls.js started on a stream's very first segment reloads that segment's parts until the
      // next segment has one, and may count a stall then (before 2 s of playback); the check is
      // on steady playback
      const startupStalls = (await sample()).stalls
      const latencies: number[] = []
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 500))
        const s = await sample()
        if (s.latency !== null) latencies.push(s.latency)
      }
      const end = await sample()
      latencies.sort((a, b) => a - b)
      const median = latencies[Math.floor(latencies.length / 2)]!
      console.log(`hls.js LL-HLS: latency median ${median.toFixed(2)} s (min ${latencies[0]!.toFixed(2)}, max ${latencies.at(-1)!.toFixed(2)}), ${end.frames} frames, ${end.stalls - startupStalls} stalls while playing (${startupStalls} at start-up)`)
      expect(median).toBeLessThan(2)
      expect(end.stalls - startupStalls, 'stalls in 5 s of playback').toBe(0)
    } finally {
      await browser.close()
    }
  })
})
