/**
 * MCU rooms end to end: three Chromium instances, each with its own colour as camera (red, green,
 * blue, from a Y4M file) and its own tone as microphone (440, 660, 1000 Hz from a WAV file), join
 * an `mcu` room from Sluice's `/room` page.
 * Each publishes once and receives one stream, `mix`: the server's composition of all three
 * (OpenH264 decode, grid, encode) with everyone's audio but its own (a mix-minus per
 * participant, Opus). Checked in each page: the mix decodes, its three cells show the three
 * colours (the fourth is the background), and its spectrum holds the two other tones but not the
 * page's own. On both viewer transports (the participants' downlinks ride WHEP's).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './helpers/browser'
import { runOk } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-mcu-'))
const TONES = [440, 660, 1000]
const COLOURS = ['red', 'green', 'blue']
const ROOM = 'mcu-e2e'
let server: TestServer
const browsers: Browser[] = []


/** Frames decoded of the page's `mix` stream. */
const mixFrames = (page: Page): Promise<number> =>
  page.evaluate(async () => ((await (window as any).sluiceRoom.framesDecoded()) as Record<string, { framesDecoded: number }>).mix?.framesDecoded ?? 0)

/** The colour at the centre of each cell of the 2x2 grid of the page's `mix` video. */
const cells = (page: Page): Promise<string[]> =>
  page.evaluate(() => {
    const video = document.querySelector('figure[data-peer="mix"] video') as HTMLVideoElement
    const canvas = document.createElement('canvas')
    canvas.width = video.videoWidth
    canvas.height = video.videoHeight
    const g = canvas.getContext('2d')!
    g.drawImage(video, 0, 0)
    return [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]].map(([x, y]) => {
      const [r, gr, b] = g.getImageData(Math.round(x! * canvas.width), Math.round(y! * canvas.height), 1, 1).data
      if (r! > 160 && gr! < 90 && b! < 90) return 'red'
      if (gr! > 100 && r! < 90 && b! < 90) return 'green'
      if (b! > 160 && r! < 90 && gr! < 90) return 'blue'
      if (r! < 40 && gr! < 40 && b! < 40) return 'black'
      return `${r},${gr},${b}`
    })
  })

/** dB levels of `tones` in the `mix` tile's audio, averaged over `ms`. */
const spectrum = (page: Page, tones: number[], ms: number): Promise<number[]> =>
  page.evaluate(
    async ([tones, ms]) => {
      const video = document.querySelector('figure[data-peer="mix"] video') as HTMLVideoElement
      const ctx = new AudioContext()
      const analyser = ctx.createAnalyser()
      analyser.fftSize = 8192
      ctx.createMediaStreamSource(video.srcObject as MediaStream).connect(analyser)
      const bins = new Float32Array(analyser.frequencyBinCount)
      const sums = tones.map(() => 0)
      let n = 0
      const end = performance.now() + ms
      while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, 100))
        analyser.getFloatFrequencyData(bins)
        tones.forEach((t, i) => {
          const k = Math.round((t * analyser.fftSize) / ctx.sampleRate)
          sums[i] += Math.max(bins[k - 1]!, bins[k]!, bins[k + 1]!)
        })
        n++
      }
      await ctx.close()
      return sums.map((s) => Math.round(s / n))
    },
    [tones, ms] as [number[], number],
  )

beforeAll(async () => {
  for (const [i, hz] of TONES.entries()) {
    const wav = join(dir, `${hz}.wav`)
    const y4m = join(dir, `${COLOURS[i]}.y4m`)
    await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${hz}:sample_rate=48000:duration=60`, '-ac', '1', wav])
    await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${COLOURS[i]}:size=640x360:rate=20`, '-t', '2', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', y4m])
    browsers.push(await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`, `--use-file-for-fake-video-capture=${y4m}`]))
  }
}, 60_000)

afterAll(async () => {
  for (const b of browsers) await b.close()
})

for (const transport of ['native', 'datachannel'] as const) describe(`mcu rooms, downlinks on the ${transport} transport`, () => {
  beforeAll(async () => {
    server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1, transport, udpPort: 0 }, mix: { width: 640, height: 360, frameRate: 20, videoBitrate: 600_000 } })
  })
  afterAll(async () => {
    await server?.close()
  })

  // Retries (with new pages, after the first attempt's left the room): one participant's tone
  // was sometimes absent from another's mix (its audio all placed before it arrived: the
  // mixer's shared A/V offset, fixed 2026-12-07 afternoon); kept until CI has a record of the fix.
  it('three participants each decode the mix of all three (each in its cell) and hear the two others but not themselves', { retry: 2, timeout: 120_000 }, async () => {
    const pages: Page[] = []
    try {
      await threeParticipants(pages)
    } finally {
      for (const p of pages) if (!p.isClosed()) await p.close()
      await waitFor(() => !server.sluice.hub.get('room', `${ROOM}~mix`)?.isLive, 15_000, 'the mix to end')
    }
  })
})

async function threeParticipants(pages: Page[]): Promise<void> {
  {
    for (const [i, b] of browsers.entries()) {
      const page = await b.newPage()
      await page.goto(server.httpUrl(`/room?room=${ROOM}&mode=mcu&name=p${i}`))
      await page.waitForFunction(() => (window as any).sluiceRoom?.joined, null, { timeout: 15_000 })
      pages.push(page)
    }
    const mixStats = async () => (await server.sluice.sfu!.stats()).rooms.find((r) => r.name === ROOM)?.mix
    await waitFor(async () => (await mixStats())?.visibleInputs === 3, 30_000, 'three inputs in the mix')
    for (const page of pages) {
      await waitFor(async () => (await mixFrames(page)) > 40, 20_000, 'the mix decoding in each page')
      expect(await page.locator('figure[data-peer="mix"]').count()).toBe(1)
    }
    for (const [i, page] of pages.entries()) {
      const seen = await waitFor(async () => {
        const c = await cells(page)
        return [...c.slice(0, 3)].sort().join() === 'blue,green,red' && c[3] === 'black' ? c : null
      }, 10_000, `p${i}: the three colours in their cells`)
      console.log(`p${i} sees`, seen.join(' | '))
    }
    const stats = (await mixStats())!
    console.log('mcu mix', JSON.stringify(stats))
    expect(stats.inputErrors).toBe(0)
    expect(server.sluice.hub.get('room', `${ROOM}~mix`)?.isLive).toBe(true)
    for (const [i, page] of pages.entries()) {
      const levels = await spectrum(page, TONES, 3000)
      console.log(`p${i} (${TONES[i]} Hz) hears`, TONES.map((t, k) => `${t} Hz ${levels[k]} dB`).join(', '))
      const own = levels[i]!
      const others = levels.filter((_, k) => k !== i)
      // when a tone is missing, what each input's audio did in the mix says where it went
      const audio = JSON.stringify((await mixStats())?.inputs.map((x) => x.audio))
      for (const o of others) expect(o, `p${i}: others audible; inputs' audio in the mix: ${audio}`).toBeGreaterThan(-70)
      for (const o of others) expect(o - own, `p${i}: own tone left out`).toBeGreaterThan(25)
    }
    // The last one out closes the mix.
    for (const p of pages) await p.close()
    await waitFor(() => !server.sluice.hub.get('room', `${ROOM}~mix`)?.isLive, 15_000, 'the mix to end')
  }
}
