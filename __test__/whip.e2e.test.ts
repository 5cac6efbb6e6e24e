/**
 * WHIP end to end: real Chromium with a fake camera publishes from Sluice's `/publish` page; a
 * second Chromium page plays it over WHEP (forwarded RTP, no transcoding), real ffmpeg plays it
 * over RTMP (H.264 depacketized, Opus → AAC). Also VP8 (WHEP only) and the HTTP error statuses.
 * On both transports: node-datachannel, and the native port (ICE-lite, DTLS-SRTP in the binding).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run } from './helpers/ffmpeg'
import { launchChromium, playerStats, type PlayerStats } from './helpers/browser'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-whip-'))
for (const transport of ['datachannel', 'native'] as const) describe(`WHIP on the ${transport} transport`, () => {
let server: TestServer
let browser: Browser

async function publishFromPage(stream: string, codec = 'H264'): Promise<Page> {
  const page = await browser.newPage()
  await page.goto(server.httpUrl(`/publish?stream=${stream}&codec=${codec}&start=1`))
  await page.waitForFunction(() => (window as any).sluicePublisher?.connectedAt, null, { timeout: 15_000 })
  return page
}

async function watch(stream: string, seconds: number): Promise<{ page: Page; s: PlayerStats }> {
  const page = await browser.newPage()
  await page.goto(server.httpUrl(`/?play=${stream}`))
  await page.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout: 10_000 })
  await page.waitForTimeout(seconds * 1000)
  return { page, s: await playerStats(page) }
}

function post(path: string, body: string, type = 'application/sdp'): Promise<Response> {
  return fetch(server.httpUrl(path), { method: 'POST', headers: { 'Content-Type': type }, body })
}

beforeAll(async () => {
  server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1, transport, udpPort: 0 } })
  browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'])
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe('WHIP publishing from Chromium', () => {
  it('plays over WHEP (>60 frames in 10 s) and over RTMP with ffmpeg (H.264 video and AAC audio decoded)', async () => {
    const publisher = await publishFromPage('live/cam')
    await waitFor(() => server.sluice.hub.get('live', 'cam')?.videoSequenceHeader, 10_000, 'H.264 from the WHIP publisher')
    const stats = await (await fetch(server.httpUrl('/api/publishers'))).json()
    expect(stats[0].video.codec).toBe('H264')

    const rtmpOut = join(dir, `rtmp-${transport}.txt`)
    const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', server.rtmpUrl('live/cam'), '-t', '6',
      '-map', '0:v', '-map', '0:a', '-f', 'framemd5', rtmpOut])
    const flvOut = join(dir, `flv-${transport}.txt`)
    const flvPlayer = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', server.httpUrl('/live/cam.flv'), '-t', '6',
      '-map', '0:v', '-map', '0:a', '-f', 'framemd5', flvOut])
    const { page, s } = await watch('live/cam', 10)
    console.log('WHIP → WHEP: framesDecoded', s.video?.framesDecoded, s.video?.frameWidth, 'x', s.video?.frameHeight, 'codec', s.video?.codec,
      'freezes', s.video?.freezeCount, 'audio samples', s.audio?.totalSamplesReceived)
    expect(s.video?.framesDecoded).toBeGreaterThan(60)
    expect(s.audio?.totalSamplesReceived).toBeGreaterThan(48000)

    expect(await player.exited).toBe(0)
    const lines = (await import('node:fs')).readFileSync(rtmpOut, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'))
    const video = lines.filter((l) => l.startsWith('0,'))
    const audio = lines.filter((l) => l.startsWith('1,'))
    console.log('WHIP → RTMP (ffmpeg): video frames', video.length, 'audio frames', audio.length, 'errors:', player.stderr().slice(0, 300))
    expect(video.length).toBeGreaterThan(60)
    expect(audio.length).toBeGreaterThan(100)
    expect(await flvPlayer.exited).toBe(0)
    const flvLines = (await import('node:fs')).readFileSync(flvOut, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'))
    console.log('WHIP → HTTP-FLV (ffmpeg): video frames', flvLines.filter((l) => l.startsWith('0,')).length, 'audio frames', flvLines.filter((l) => l.startsWith('1,')).length)
    expect(flvLines.filter((l) => l.startsWith('0,')).length).toBeGreaterThan(60)
    expect(flvLines.filter((l) => l.startsWith('1,')).length).toBeGreaterThan(100)
    const pub = (await (await fetch(server.httpUrl('/api/publishers'))).json())[0]
    expect(pub.audio.codec).toBe('opus')
    await page.close()
    await publisher.evaluate(() => (window as any).sluicePublisher.pc.close())
    await publisher.close()
  }, 60_000)

  it('forwards VP8 to WHEP viewers unchanged', async () => {
    const publisher = await publishFromPage('live/vp8', 'VP8')
    await waitFor(() => server.sluice.hub.get('live', 'vp8')?.isLive, 10_000, 'VP8 publisher')
    const { page, s } = await watch('live/vp8', 6)
    console.log('WHIP VP8 → WHEP: framesDecoded', s.video?.framesDecoded, 'codec', s.video?.codec)
    expect(s.video?.codec).toBe('video/VP8')
    expect(s.video?.framesDecoded).toBeGreaterThan(60)
    await page.close()
    await publisher.close()
  }, 60_000)

  it('answers bad requests with the right status and a readable body, and goes on', async () => {
    let r = await post('/whip/live/bad', 'hello')
    expect(r.status).toBe(400)
    expect(await r.text()).toMatch(/malformed SDP/)
    r = await post('/whip/live/bad', 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 100\r\na=mid:0\r\na=sendonly\r\na=rtpmap:100 H265/90000\r\n')
    expect(r.status).toBe(400)
    expect(await r.text()).toMatch(/H265.*H\.264/)
    r = await post('/whip/live/bad', 'v=0', 'text/plain')
    expect(r.status).toBe(415)
    r = await fetch(server.httpUrl('/whip/resource/nope'), { method: 'DELETE' })
    expect(r.status).toBe(404)
    expect(await r.text()).toMatch(/no WHIP session/)
    r = await fetch(server.httpUrl('/whip/live/x'), { method: 'OPTIONS' })
    expect(r.status).toBe(204)
    expect(r.headers.get('access-control-allow-origin')).toBe('*')
    // a name being published already: 409
    const publisher = await publishFromPage('live/taken')
    const offer = await publisher.evaluate(async () => {
      const pc = new RTCPeerConnection()
      pc.addTransceiver('video', { direction: 'sendonly' })
      await pc.setLocalDescription(await pc.createOffer())
      return pc.localDescription!.sdp
    })
    r = await post('/whip/live/taken', offer)
    expect(r.status).toBe(409)
    expect(await r.text()).toMatch(/already being published/)
    // trickle ICE on the live session's resource (RFC 8840 fragment), wrong type, unknown resource
    const resource = await publisher.evaluate(() => (window as any).sluicePublisher.resource as string)
    const patch = (url: string, body: string, type = 'application/trickle-ice-sdpfrag') => fetch(url, { method: 'PATCH', headers: { 'Content-Type': type }, body })
    r = await patch(resource, 'a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef01234567\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n')
    expect(r.status).toBe(204)
    r = await patch(resource, 'x', 'text/plain')
    expect(r.status).toBe(415)
    r = await patch(server.httpUrl('/whip/resource/nope'), 'a=mid:0\r\n')
    expect(r.status).toBe(404)
    await publisher.close()
    expect((await fetch(server.httpUrl('/healthz'))).status).toBe(200)
  }, 60_000)
})
})
