/**
 * WebSocket-FLV end to end: real ffmpeg publishes over RTMP; a `ws` client plays
 * `ws://HOST/live/x.flv` from mid-stream and the FLV it gets decodes frame for frame like the
 * source, then closes with 1000 when the publisher leaves; mpegts.js in Chromium plays it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { frameHashes, makeSource, publish, run } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { launchChromium } from './helpers/browser'

const dir = mkdtempSync(join(tmpdir(), 'sluice-wsflv-'))
const source = join(dir, 'source.flv')
let server: TestServer

const wsUrl = (path: string) => server.httpUrl(path).replace(/^http:/, 'ws:')

beforeAll(async () => {
  await makeSource(source, 6)
  server = await startSluice({ hub: { unpublishGraceMs: 500 } })
}, 60_000)

afterAll(async () => {
  await server?.close()
})

describe('WebSocket-FLV', () => {
  it('refuses the handshake with 404 and a reason for a stream that is not live', async () => {
    const ws = new WebSocket(wsUrl('/live/nothing.flv'))
    const status = await new Promise<number>((resolve, reject) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => reject(new Error('handshake accepted')))
      ws.on('error', () => {})
    })
    expect(status).toBe(404)
  })

  it('plays a live RTMP stream from mid-stream: frames identical to the source from a keyframe on, closes with 1000 with the publisher', async () => {
    const src = await frameHashes(source)
    const pub = publish(source, server.rtmpUrl('live/wsflv'))
    await waitFor(() => server.logs.find((l) => l.msg === 'publish started' && l.stream === 'live/wsflv'), 10_000, 'publisher')
    await new Promise((r) => setTimeout(r, 2500))
    const chunks: Buffer[] = []
    const ws = new WebSocket(wsUrl('/live/wsflv.flv'))
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      expect(isBinary).toBe(true)
      chunks.push(data)
    })
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
    await waitFor(() => server.sluice.clients.list().some((c) => c.protocol === 'ws-flv'), 5000, 'ws-flv client listed')
    expect(await pub.exited).toBe(0)
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r('timeout'), 15_000))])).toBe(1000)
    const out = join(dir, 'out.flv')
    writeFileSync(out, Buffer.concat(chunks))
    expect(chunks[0]!.subarray(0, 3).toString()).toBe('FLV')
    const got = await frameHashes(out)
    expect(got.errors).toBe('')
    const hashes = (f: { hash: string }[]) => f.map((x) => x.hash)
    const start = hashes(src.video).indexOf(got.video[0]!.hash)
    console.log('WebSocket-FLV: joined at source frame', start, 'decoded', got.video.length, 'video and', got.audio.length, 'audio frames in', chunks.length, 'messages')
    expect(start % 50).toBe(0)
    expect(hashes(got.video)).toEqual(hashes(src.video).slice(start, start + got.video.length))
    expect(start + got.video.length).toBe(src.video.length)
    expect(got.audio.length).toBeGreaterThan(50)
    await waitFor(() => !server.sluice.clients.list().some((c) => c.protocol === 'ws-flv'), 5000, 'ws-flv client gone')
  }, 40_000)

  it('mpegts.js in Chromium plays it (MSE): the video element advances and decodes frames', async () => {
    const pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '30',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-f', 'flv', server.rtmpUrl('live/mse')])
    const browser = await launchChromium()
    try {
      await waitFor(() => server.logs.find((l) => l.msg === 'publish started' && l.stream === 'live/mse'), 10_000, 'publisher')
      const page = await browser.newPage()
      await page.setContent('<video id="v" muted autoplay playsinline></video>')
      await page.addScriptTag({ path: createRequire(import.meta.url).resolve('mpegts.js/dist/mpegts.js') })
      const supported = await page.evaluate(() => (window as unknown as { mpegts: { getFeatureList(): { mseLivePlayback: boolean } } }).mpegts.getFeatureList().mseLivePlayback)
      expect(supported).toBe(true)
      await page.evaluate((url) => {
        const mpegts = (window as unknown as { mpegts: { createPlayer(d: object, c: object): { attachMediaElement(e: HTMLMediaElement): void; load(): void; play(): Promise<void> } } }).mpegts
        const player = mpegts.createPlayer({ type: 'flv', isLive: true, url }, { enableWorker: false, liveBufferLatencyChasing: true })
        player.attachMediaElement(document.getElementById('v') as HTMLVideoElement)
        player.load()
        void player.play()
      }, wsUrl('/live/mse.flv'))
      const quality = async () => page.evaluate(() => {
        const v = document.getElementById('v') as HTMLVideoElement
        const q = v.getVideoPlaybackQuality()
        return { time: v.currentTime, frames: q.totalVideoFrames, dropped: q.droppedVideoFrames, width: v.videoWidth }
      })
      await waitFor(async () => (await quality()).time > 3, 20_000, 'video element playing for 3 s')
      const q = await quality()
      console.log('mpegts.js over WebSocket-FLV:', q)
      expect(q.width).toBe(320)
      expect(q.frames).toBeGreaterThan(50)
    } finally {
      await browser.close()
      pub.child.kill('SIGKILL')
    }
  }, 60_000)
})
