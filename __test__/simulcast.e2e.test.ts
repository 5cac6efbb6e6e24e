/**
 * Simulcast (RFC 8853) end to end with real Chromium: the publish page sends three layers (rids
 * q, h, f) over WHIP to the native port; every layer is received (its own SSRC, named by the
 * RtpStreamId extension), the publisher gets transport-wide CC feedback and raises its bitrate to
 * send all three, the top layer reaches RTMP players, and WHEP viewers are switched between the
 * layers by their bandwidth estimate. And temporal layers (`L1T3`) of H.264, VP8 and AV1, marked in
 * the Dependency Descriptor extension, and of VP9, marked in its payload descriptor: a viewer
 * pinned to T0 gets a quarter of the frames, and moves back up at a switching point (a base
 * layer frame), without a keyframe asked of the publisher.
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run } from './helpers/ffmpeg'
import { launchChromium, playerStats } from './helpers/browser'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-simulcast-'))
let server: TestServer
let browser: Browser
const pages: Page[] = []

async function publishSimulcast(stream: string): Promise<Page> {
  const page = await browser.newPage()
  pages.push(page)
  await page.goto(server.httpUrl(`/publish?stream=${stream}&simulcast=1&start=1`))
  await page.waitForFunction(() => (window as any).sluicePublisher?.connectedAt, null, { timeout: 15_000 })
  return page
}

async function publisherStats(): Promise<any[]> {
  return (await fetch(server.httpUrl('/api/publishers'))).json()
}

beforeAll(async () => {
  server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1, transport: 'native', udpPort: 0 } })
  browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'])
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe('simulcast ingest over WHIP (native port)', () => {
  // retried once: on a loaded 2-core box Chromium has once held a layer back for over 20 s
  it('receives all three layers, each its own SSRC; the publisher raises its bitrate to send them; RTMP players get the top layer', { retry: 1 }, async () => {
    const page = await publishSimulcast('live/sim')
    await waitFor(async () => {
      const [p] = await publisherStats()
      return p?.simulcast?.layers.every((l: any) => l.packets > 50) && p.video.packets > 50
    }, 20_000, 'packets on every layer').catch(async (e) => {
      // what Chromium sends and why (its quality limitation), and what arrived
      const sent = await page.evaluate(() => (window as any).sluicePublisher.layers)
      throw new Error(`${(e as Error).message}: Chromium sends ${JSON.stringify(sent)}; received ${JSON.stringify((await publisherStats())[0]?.simulcast)}`)
    })
    // the publisher's congestion control follows our transport-wide CC feedback up to all three layers
    let layers: any[] = []
    await waitFor(async () => {
      layers = await page.evaluate(() => (window as any).sluicePublisher.layers ?? [])
      return layers.length === 3 && layers.every((l) => l.kbps > 0 && l.width > 0)
    }, 20_000, 'Chromium sending three layers')
    const [p] = await publisherStats()
    const estimate = await page.evaluate(() => (window as any).sluicePublisher.estimateBps)
    console.log('simulcast layers (Chromium):', JSON.stringify(layers), 'its send estimate', estimate, 'received:', p.simulcast.rid, p.video.packets, JSON.stringify(p.simulcast.layers.map((l: any) => [l.rid, l.ssrc, l.packets, l.lost])))
    // our transport-wide CC feedback lets its estimate grow past what the three layers need
    expect(estimate).toBeGreaterThan(1_000_000)
    expect(p.simulcast.rid).toBe('f')
    expect(p.simulcast.layers.map((l: any) => l.rid)).toEqual(['q', 'h'])
    const ssrcs = new Set([p.video.ssrc, ...p.simulcast.layers.map((l: any) => l.ssrc)])
    expect(ssrcs.size).toBe(3)
    expect(layers.find((l) => l.rid === 'f').width).toBeGreaterThan(layers.find((l) => l.rid === 'q').width)

    const out = join(dir, 'rtmp.txt')
    const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', server.rtmpUrl('live/sim'), '-t', '6', '-map', '0:v', '-f', 'framemd5', out])
    expect(await player.exited).toBe(0)
    const frames = readFileSync(out, 'utf8').split('\n').filter((l) => l.startsWith('0,'))
    const width = await new Promise<string>((resolve) => {
      const probe = run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'stream=width', '-of', 'csv=p=0', server.rtmpUrl('live/sim')])
      probe.exited.then(() => resolve(probe.stdout().trim()))
    })
    console.log('RTMP player: frames', frames.length, 'width', width)
    expect(frames.length).toBeGreaterThan(40)
    expect(Number(width)).toBe(layers.find((l) => l.rid === 'f').width)
  }, 90_000)

  it('a WHEP viewer on an open path gets the top layer; pinned by the API it gets the one named, at its keyframe, without a freeze', async () => {
    const viewer = await browser.newPage()
    pages.push(viewer)
    await viewer.goto(server.httpUrl('/?play=live/sim'))
    await viewer.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout: 10_000 })
    const whep = async () => ((await (await fetch(server.httpUrl('/api/clients'))).json()) as any[]).find((c) => c.protocol === 'whep')
    await waitFor(async () => (await whep())?.details?.layer === 'f', 10_000, 'the viewer on the top layer')
    await waitFor(async () => ((await playerStats(viewer)).video?.frameWidth ?? 0) === 1280, 10_000, 'the top layer decoded')
    const id = String((await whep()).id).replace(/^whep-/, '')
    for (const [rid, width] of [['q', 320], ['h', 640], ['f', 1280]] as const) {
      const before = await playerStats(viewer)
      const r = await fetch(server.httpUrl(`/api/whep/${id}/layer`), { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ rid }) })
      expect(r.status).toBe(200)
      const asked = Date.now()
      await waitFor(async () => ((await playerStats(viewer)).video?.frameWidth ?? 0) === width, 10_000, `layer ${rid} decoded`)
      const switchMs = Date.now() - asked
      const decoded = await playerStats(viewer)
      await viewer.waitForTimeout(2000)
      const after = await playerStats(viewer)
      console.log(`pinned ${rid}: ${width} px decoded after ${switchMs} ms (freezes at the switch +${decoded.video.freezeCount - before.video.freezeCount}); then 2 s: frames +${after.video.framesDecoded - decoded.video.framesDecoded}, freezes +${after.video.freezeCount - decoded.video.freezeCount}, dropped ${after.video.framesDropped}; details`, JSON.stringify((await whep()).details))
      const v = after.video
      console.log('inbound', JSON.stringify({ packetsReceived: v.packetsReceived, packetsLost: v.packetsLost, nackCount: v.nackCount, pliCount: v.pliCount, framesReceived: v.framesReceived, framesDecoded: v.framesDecoded, keyFramesDecoded: v.keyFramesDecoded, framesDropped: v.framesDropped, jbd: v.jitterBufferDelay / v.jitterBufferEmittedCount }))
      console.log('server', JSON.stringify((await server.sluice.whep.pool.stats()).viewers))
      expect((await whep()).details.layer).toBe(rid)
      expect(switchMs).toBeLessThan(3000)
      expect(after.video.framesDecoded - decoded.video.framesDecoded).toBeGreaterThan(20)
      expect(after.video.freezeCount - decoded.video.freezeCount).toBe(0)
    }
    const bad = await fetch(server.httpUrl(`/api/whep/${id}/layer`), { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ rid: 'x' }) })
    expect(bad.status).toBe(400)
    expect((await fetch(server.httpUrl(`/api/whep/${id}/layer`), { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ rid: null }) })).status).toBe(200)
    // the player page shows the layer and estimate (GET {resource}/layer) and lets the viewer pick one (PUT)
    await viewer.waitForSelector('#layers:not([hidden])', { timeout: 10_000 })
    const info = await (await fetch(server.httpUrl(`/whep/resource/${id}/layer`))).json()
    expect(info.layers).toEqual(['q', 'h', 'f'])
    expect(info.pinned).toBeNull()
    await viewer.selectOption('#layer', 'q')
    await waitFor(async () => ((await playerStats(viewer)).video?.frameWidth ?? 0) === 320, 10_000, 'the layer picked on the page')
    await waitFor(async () => (await viewer.locator('#stats').textContent())?.includes('simulcast layer'), 5_000, 'the layer shown')
    expect((await (await fetch(server.httpUrl(`/whep/resource/${id}/layer`))).json()).pinned).toBe('q')
    await viewer.close()
  }, 90_000)
})

// Temporal layers (Chromium's `scalabilityMode` `L1T3`) marked in the Dependency Descriptor
// extension (H.264, VP8, AV1: the feed reads the template structure) or in VP9's payload
// descriptor (its scalability structure): T0, T1 and T2 are offered.
describe('temporal layers (native port)', () => {
  for (const codec of ['H264', 'VP8', 'VP9', 'AV1'] as const) {
    it(`${codec} L1T3: a viewer pinned to T0 gets a quarter of the frames, decoded, and T2 all of them again`, async () => {
      const stream = `live/temporal-${codec.toLowerCase()}`
      const page = await browser.newPage()
      pages.push(page)
      await page.goto(server.httpUrl(`/publish?stream=${stream}&svc=L1T3&codec=${codec}&start=1`))
      await page.waitForFunction(() => (window as any).sluicePublisher?.scalabilityMode === 'L1T3', null, { timeout: 15_000 })
      const viewer = await browser.newPage()
      pages.push(viewer)
      await viewer.goto(server.httpUrl(`/?play=${stream}`))
      await viewer.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout: 10_000 })
      const whep = async () => ((await (await fetch(server.httpUrl('/api/clients'))).json()) as any[]).find((c) => c.protocol === 'whep' && `${c.app}/${c.stream}` === stream)
      await waitFor(async () => ((await playerStats(viewer)).video?.framesDecoded ?? 0) > 20, 10_000, 'frames decoded')
      const id = String((await whep()).id).replace(/^whep-/, '')
      await waitFor(async () => JSON.stringify((await (await fetch(server.httpUrl(`/whep/resource/${id}/layer`))).json()).layers) === '["T0","T1","T2"]', 10_000, 'the temporal layers offered')
      /** Keyframe requests (PLI, FIR) the publisher has received. */
      const keyframeRequests = () => page.evaluate(async () => {
        let n = 0
        ;(await (window as any).sluicePublisher.pc.getStats()).forEach((r: any) => { if (r.type === 'outbound-rtp' && r.kind === 'video') n += (r.pliCount ?? 0) + (r.firCount ?? 0) })
        return n
      })
      /**
       * Frames decoded in 3 s, from 1 s after pinning `rid`, and the freezes and decoded
       * keyframes meanwhile; keyframe requests to the publisher from the pin on.
       */
      const pinned = async (rid: string) => {
        const asked = await keyframeRequests()
        const r = await fetch(server.httpUrl(`/api/whep/${id}/layer`), { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ rid }) })
        expect(r.status).toBe(200)
        await viewer.waitForTimeout(1000)
        const before = (await playerStats(viewer)).video
        await viewer.waitForTimeout(3000)
        const after = (await playerStats(viewer)).video
        return { layer: (await whep()).details.layer, frames: after.framesDecoded - before.framesDecoded, freezes: after.freezeCount - before.freezeCount, keyframes: after.keyFramesDecoded - before.keyFramesDecoded, asked: (await keyframeRequests()) - asked }
      }
      const top = await pinned('T2')
      const low = await pinned('T0')
      const back = await pinned('T2')
      console.log(`${codec} L1T3 in 3 s: T2 ${JSON.stringify(top)}, T0 ${JSON.stringify(low)}, T2 again ${JSON.stringify(back)}`)
      expect([top.layer, low.layer, back.layer]).toEqual(['T2', 'T0', 'T2'])
      expect(low.frames).toBeGreaterThan(5)
      expect(low.frames).toBeLessThan(top.frames * 0.5)
      expect(low.freezes).toBe(0)
      expect(back.frames).toBeGreaterThan(top.frames * 0.7)
      // down at the next picture, up at a switching point: no keyframe either way
      expect([low.asked, back.asked]).toEqual([0, 0])
      await viewer.close()
      await page.close()
    }, 60_000)
  }
})
