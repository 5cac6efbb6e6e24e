/**
 * WHEP end to end: real ffmpeg publishes H.264 + AAC over RTMP, real Chromium plays it over
 * WebRTC from Sluice's player page — on both transports: node-datachannel viewer processes and
 * the native path (ICE-lite, DTLS-SRTP and SRTP in the binding, one UDP port).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, type Proc } from './helpers/ffmpeg'
import { launchChromium, playerStats, type PlayerStats } from './helpers/browser'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-whep-'))
for (const transport of ['datachannel', 'native'] as const) describe(`WHEP on the ${transport} transport`, () => {
let server: TestServer
let browser: Browser
const publishers: Proc[] = []

function publishLive(url: string, seconds: number, extra: string[] = [], format = 'flv', audio = 'aac'): Proc {
  const p = run('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-pix_fmt', 'yuv420p', ...extra,
    '-c:a', audio, '-b:a', '128k', '-ac', '2',
    '-f', format, url,
  ])
  publishers.push(p)
  return p
}

async function watch(path: string, seconds: number): Promise<{ page: Page; s: PlayerStats }> {
  const page = await browser.newPage()
  await page.goto(server.httpUrl(`/?play=${path}`))
  await page.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout: 10_000 })
  await page.waitForTimeout(seconds * 1000)
  return { page, s: await playerStats(page) }
}

beforeAll(async () => {
  server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1, transport, udpPort: 0 } })
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  for (const p of publishers) p.child.kill('SIGKILL')
  await browser?.close()
  await server?.close()
})

describe('WHEP playback in Chromium', () => {
  it('plays H.264 + AAC from an RTMP publisher: >60 frames at the source resolution in 10 s, audio with a level', async () => {
    publishLive(server.rtmpUrl('live/whep'), 20)
    await waitFor(() => server.logs.find((l) => l.msg === 'publish started' && l.stream === 'live/whep'), 10_000, 'publisher')
    await new Promise((r) => setTimeout(r, 1000))
    const { page, s } = await watch('live/whep', 8)
    expect(s.video?.framesDecoded).toBeGreaterThan(60)
    expect(s.video?.frameWidth).toBe(640)
    expect(s.video?.frameHeight).toBe(360)
    expect(s.audio?.totalSamplesReceived).toBeGreaterThan(48000)
    expect(s.audio?.audioLevel).toBeGreaterThan(0)
    console.log('WHEP first frame after connected (ms):', Math.round(s.firstFrameAt! - s.connectedAt!), 'freezes:', s.video?.freezeCount, 'sender reports:', JSON.stringify(s.reports))
    // the transport's sender reports (one a second per track, this viewer's own counts) arrive
    for (const [kind, got] of [['video', s.video!.packetsReceived], ['audio', s.audio!.packetsReceived]] as const) {
      const r = s.reports?.[kind]
      expect(r?.reportsSent, `${kind} sender reports`).toBeGreaterThanOrEqual(5)
      expect(r!.packetsSent / got, `${kind} packets reported sent / received`).toBeGreaterThan(0.8)
      expect(r!.packetsSent / got).toBeLessThan(1.1)
    }
    if (transport === 'native') {
      // Chromium follows the transport-wide sequence numbers: it sends transport-cc feedback.
      const viewers = (await server.sluice.whep.pool.stats()).viewers
      expect(viewers.some((v) => (v.transportFeedback ?? 0) > 0)).toBe(true)
    }
    await page.close()
    publishers.pop()!.child.kill('SIGKILL')
  }, 40_000)

  for (const audio of ['aac', 'libopus']) it(`plays an SRT publish (MPEG-TS, H.264 + ${audio === 'aac' ? 'AAC → Opus' : 'Opus as it is'}): frames at the source resolution, audio with a level`, async () => {
    const key = `live/whep-srt-${audio}`
    publishLive(server.srtUrl(`#!::r=${key},m=publish`), 20, [], 'mpegts', audio)
    await waitFor(() => server.sluice.hub.live().some((x) => x.key === key), 10_000, 'the SRT publisher')
    await new Promise((r) => setTimeout(r, 1000))
    expect(server.sluice.hub.get('live', key.slice(5))?.audio?.codec).toBe(audio === 'aac' ? 'AAC' : 'Opus')
    const { page, s } = await watch(key, 6)
    expect(s.video?.framesDecoded).toBeGreaterThan(40)
    expect(s.video?.frameWidth).toBe(640)
    expect(s.audio?.totalSamplesReceived).toBeGreaterThan(48000)
    expect(s.audio?.audioLevel).toBeGreaterThan(0)
    await page.close()
    publishers.pop()!.child.kill('SIGKILL')
  }, 40_000)

  it('plays a publisher that sends B-frames (-bf 2) smoothly', async () => {
    publishLive(server.rtmpUrl('live/bframes'), 20, ['-bf', '2'])
    await waitFor(() => server.logs.find((l) => l.msg === 'publish started' && l.stream === 'live/bframes'), 10_000, 'publisher')
    await new Promise((r) => setTimeout(r, 1000))
    // the join (a GOP replayed in a burst) is over after 2 s; then 8 s of steady playback
    const { page, s: atJoin } = await watch('live/bframes', 2)
    await page.waitForTimeout(8000)
    const s = await playerStats(page)
    const steadyFreezes = (s.video?.freezeCount ?? 0) - (atJoin.video?.freezeCount ?? 0)
    const steadyDropped = (s.video?.framesDropped ?? 0) - (atJoin.video?.framesDropped ?? 0)
    console.log('B-frames: framesDecoded', s.video?.framesDecoded, 'framesDropped', s.video?.framesDropped, 'freezeCount', s.video?.freezeCount,
      '; during steady playback: framesDropped', steadyDropped, 'freezeCount', steadyFreezes)
    expect(s.video?.framesDecoded).toBeGreaterThan(60)
    expect(steadyDropped).toBe(0)
    expect(steadyFreezes).toBe(0)
    await page.close()
    publishers.pop()!.child.kill('SIGKILL')
  }, 40_000)

  it('a viewer joining mid-GOP decodes its first frame within 500 ms of connected', async () => {
    // 4 s GOP: join 2.5 s after a keyframe, far from the next one
    publishLive(server.rtmpUrl('live/midgop'), 20, ['-g', '120', '-keyint_min', '120', '-sc_threshold', '0'])
    await waitFor(() => server.logs.find((l) => l.msg === 'publish started' && l.stream === 'live/midgop'), 10_000, 'publisher')
    await new Promise((r) => setTimeout(r, 2500))
    const page = await browser.newPage()
    await page.goto(server.httpUrl('/?play=live/midgop'))
    await page.waitForFunction(() => (window as any).sluicePlayer?.firstFrameAt, null, { timeout: 10_000, polling: 10 })
    const s = await playerStats(page)
    const ms = s.firstFrameAt! - s.connectedAt!
    console.log('mid-GOP join: first frame decoded', Math.round(ms), 'ms after connected', JSON.stringify(await server.sluice.whep.pool.stats()), JSON.stringify((server.sluice.whep.pool as any).portStats?.()))
    expect(ms).toBeLessThan(500)
    await page.close()
  }, 40_000)
})
})
