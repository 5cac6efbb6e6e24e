/**
 * RTP/SRTP out of and into Sluice with real peers: a forwarder that ffmpeg records over SRTP,
 * ffmpeg publishing H.264 + AAC over `srtp://` (played back over RTMP by ffmpeg and over WHEP
 * by Chromium), bad SRTP packets rejected and counted while the stream goes on, and a relay
 * link between two Sluice nodes with simulated loss repaired by NACK: decoded frames on the
 * edge match the source's.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import dgram from 'node:dgram'
import { randomBytes } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameHashes, makeSource, play, publish, run, runOk, type Proc } from './helpers/ffmpeg'
import { launchChromium } from './helpers/browser'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { native } from '../dist/native.js'

const dir = mkdtempSync(join(tmpdir(), 'sluice-rtp-'))
const source = join(dir, 'source.flv')
let origin: TestServer
let edge: TestServer
let browser: Browser
const procs: Proc[] = []
const SECRET = 'relay-test-secret'

const live = ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000']
const videoOut = ['-map', '0:v', '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', '50', '-pix_fmt', 'yuv420p', '-f', 'rtp']
const audioOut = ['-map', '1:a', '-c:a', 'aac', '-b:a', '96k', '-f', 'rtp']

function srtpArgs(inline: string): string[] {
  return ['-srtp_out_suite', 'AES_CM_128_HMAC_SHA1_80', '-srtp_out_params', inline]
}

/** `framesDecoded` of the player page's inbound video (`window.sluicePlayer`). */
function videoFramesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    let n = 0
    ;(await (window as any).sluicePlayer.pc.getStats()).forEach((r: any) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') n = r.framesDecoded
    })
    return n
  })
}

async function api(server: TestServer, method: string, path: string, body?: unknown, type = 'application/json'): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(server.httpUrl(path), { method, headers: body === undefined ? {} : { 'Content-Type': type }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await r.text()
  let json: any = null
  try {
    json = JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: r.status, json, text }
}

beforeAll(async () => {
  await makeSource(source, 10)
  const rtp = { host: '127.0.0.1', relaySecret: SECRET }
  origin = await startSluice({ rtp, webrtc: { bindAddress: '127.0.0.1', workers: 1 } })
  edge = await startSluice({ rtp, webrtc: { bindAddress: '127.0.0.1', workers: 1 }, hub: { unpublishGraceMs: 0 } })
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL')
  await browser?.close()
  await origin?.close()
  await edge?.close()
})

describe('SRTP forwarder to ffmpeg', () => {
  it('forwards a live RTMP stream over SRTP with an SDP that ffmpeg opens and decodes', async () => {
    const pub = publish(source, origin.rtmpUrl('live/fwd'))
    procs.push(pub)
    await waitFor(() => origin.sluice.hub.get('live', 'fwd')?.audio, 10_000, 'publisher')
    const r = await api(origin, 'POST', '/api/forwards', { stream: 'live/fwd', host: '127.0.0.1', videoPort: 47000, srtp: true })
    expect(r.status).toBe(201)
    const sdp = (await api(origin, 'GET', `/api/forwards/${r.json.id}/sdp`)).text
    expect(sdp).toContain('m=video 47000 RTP/SAVP 96')
    expect(sdp).toContain('a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:')
    expect(sdp).toContain('MPEG4-GENERIC/44100')
    writeFileSync(join(dir, 'fwd.sdp'), sdp)
    const out = join(dir, 'fwd.md5')
    const rec = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-protocol_whitelist', 'file,udp,rtp,srtp', '-i', join(dir, 'fwd.sdp'), '-t', '5', '-f', 'framemd5', out])
    procs.push(rec)
    expect(await rec.exited).toBe(0)
    const lines = readFileSync(out, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'))
    const video = lines.filter((l) => l.startsWith('0,')).length
    const audio = lines.filter((l) => l.startsWith('1,')).length
    console.log(`SRTP forward: ffmpeg decoded ${video} video frames and ${audio} audio frames in 5 s`)
    expect(video).toBeGreaterThan(60)
    expect(audio).toBeGreaterThan(100)
    const stats = (await api(origin, 'GET', '/api/forwards')).json[0]
    expect(stats.srtp).toBe('AES_CM_128_HMAC_SHA1_80')
    expect(stats.sendErrors).toBe(0)
    expect((await api(origin, 'DELETE', `/api/forwards/${r.json.id}`)).status).toBe(204)
    pub.child.kill('SIGKILL')
  }, 60_000)

  it('answers bad requests with readable errors', async () => {
    expect((await api(origin, 'POST', '/api/forwards', { stream: 'live/none', host: '127.0.0.1', videoPort: 47000 })).status).toBe(404)
    const bad = await api(origin, 'POST', '/api/forwards', { stream: 'nope', host: '127.0.0.1', videoPort: 1 })
    expect(bad.status).toBe(400)
    expect(bad.text).toMatch(/app\/name/)
    expect((await api(origin, 'POST', '/api/ingests/live/x', { srtp: { suite: 'NULL_CIPHER' }, video: {} })).status).toBe(400)
    expect((await api(origin, 'POST', '/api/relay/offers', { stream: 'live/x' })).status).toBe(401)
  })
})

describe('RTP/SRTP ingest from ffmpeg', () => {
  it('takes H.264 + AAC over srtp:// (SDP from ffmpeg), plays over RTMP and WHEP, and rejects bad packets', async () => {
    const inline = randomBytes(30).toString('base64')
    // ffmpeg writes the SDP of what it will send (payload types, AAC config, a=crypto).
    const sdpFile = join(dir, 'ingest.sdp')
    await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...live, '-t', '0.2', ...videoOut, ...srtpArgs(inline), 'srtp://127.0.0.1:9', '-t', '0.2', ...audioOut, ...srtpArgs(inline), 'srtp://127.0.0.1:11', '-sdp_file', sdpFile])
    const created = await api(origin, 'POST', '/api/ingests/live/srtp', readFileSync(sdpFile, 'utf8'), 'application/sdp')
    expect(created.status, created.text).toBe(201)
    const { videoPort, audioPort } = created.json
    expect(created.json.srtp.inline).toBe(inline)
    const pub = run('ffmpeg', ['-hide_banner', '-v', 'error', ...live, '-t', '20', ...videoOut, ...srtpArgs(inline), `srtp://127.0.0.1:${videoPort}`, '-t', '20', ...audioOut, ...srtpArgs(inline), `srtp://127.0.0.1:${audioPort}`])
    procs.push(pub)
    await waitFor(() => origin.sluice.hub.get('live', 'srtp')?.gop.length, 10_000, 'first access units')

    // Bad packets at the video port while ffmpeg publishes: wrong key, tampered, replayed, truncated.
    const right = new native.SrtpSession({ profile: 'AES_CM_128_HMAC_SHA1_80', key: Buffer.from(inline, 'base64') })
    const wrong = new native.SrtpSession({ profile: 'AES_CM_128_HMAC_SHA1_80', key: randomBytes(30) })
    const rtp = (seq: number) => {
      const p = Buffer.alloc(112)
      p[0] = 0x80
      p[1] = 50 // a payload type the ingest does not map
      p.writeUInt16BE(seq, 2)
      p.writeUInt32BE(0x5eed, 8)
      return p
    }
    const sock = dgram.createSocket('udp4')
    const send = (b: Buffer) => new Promise((r) => sock.send(b, videoPort, '127.0.0.1', r))
    const good = right.protectRtp(rtp(1))
    const tampered = Buffer.from(right.protectRtp(rtp(2)))
    tampered[40] = tampered[40]! ^ 0xff
    for (let i = 0; i < 5; i++) await send(wrong.protectRtp(rtp(100 + i)))
    await send(tampered)
    await send(good)
    await send(good)
    await send(good.subarray(0, 14))
    sock.close()

    const rtmpOut = join(dir, 'srtp-rtmp.flv')
    const player = play(origin.rtmpUrl('live/srtp'), rtmpOut)
    procs.push(player)
    const page = await browser.newPage()
    await page.goto(origin.httpUrl('/?play=live/srtp'))
    await page.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout: 10_000 })
    await page.waitForTimeout(8000)
    const framesDecoded = await videoFramesDecoded(page)
    await page.close()
    player.child.kill('SIGINT')
    await player.exited
    const stats = (await api(origin, 'GET', '/api/ingests')).json.find((i: any) => i.stream === 'live/srtp')
    console.log('SRTP ingest: Chromium decoded', framesDecoded, 'frames in 8 s; ingest stats', JSON.stringify(stats))
    expect(framesDecoded).toBeGreaterThan(60)
    expect(stats.dropped.SRTP_AUTH_FAILED).toBe(6)
    expect(stats.dropped.SRTP_REPLAY_DUPLICATE).toBe(1)
    expect(stats.dropped.SRTP_TOO_SHORT).toBe(1)
    expect(stats.dropped.RTP_UNKNOWN_PAYLOAD_TYPE).toBe(1)
    expect(stats.video.frames).toBeGreaterThan(200)
    expect(stats.audio.frames).toBeGreaterThan(300)
    const played = await frameHashes(rtmpOut)
    expect(played.errors).toBe('')
    expect(played.video.length).toBeGreaterThan(100)
    expect(played.audio.length).toBeGreaterThan(100)
    pub.child.kill('SIGKILL')
    await (await api(origin, 'DELETE', `/api/ingests/${created.json.id}`))
  }, 90_000)
})

describe('relay link between two Sluice nodes over SRTP', () => {
  it('plays an origin stream on the edge over RTMP (frames match the source) and WHEP, repairing 2% loss with NACK', async () => {
    const src = await frameHashes(source)
    const pub = publish(source, origin.rtmpUrl('live/relay'))
    procs.push(pub)
    await waitFor(() => origin.sluice.hub.get('live', 'relay')?.video, 10_000, 'origin publisher')
    const link = await api(edge, 'POST', '/api/relays', { origin: origin.httpUrl(''), stream: 'live/relay', simulateLoss: 0.02 })
    expect(link.status, link.text).toBe(201)
    const out = join(dir, 'edge.flv')
    const player = play(edge.rtmpUrl('live/relay'), out)
    procs.push(player)
    const page = await browser.newPage()
    await page.goto(edge.httpUrl('/?play=live/relay'))
    await page.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout: 10_000 })
    // junk at the origin's forward port from an address no forwarder sends to: dropped, the link goes on
    const junk = dgram.createSocket('udp4')
    const port = origin.sluice.rtpService.forwardPort!
    for (let i = 0; i < 300; i++) junk.send(randomBytes(1 + (i % 1400)), port, '127.0.0.1')
    await page.waitForTimeout(5000)
    junk.close()
    const framesDecoded = await videoFramesDecoded(page)
    await page.close()
    expect(await pub.exited).toBe(0)
    await new Promise((r) => setTimeout(r, 1000))
    const relay = (await api(edge, 'GET', '/api/relays')).json[0]
    const forward = (await api(origin, 'GET', '/api/forwards')).json.find((f: any) => f.stream === 'live/relay')
    console.log('relay edge stats', JSON.stringify(relay), 'origin side', JSON.stringify(forward), 'Chromium frames on the edge in 5 s:', framesDecoded)
    expect((await api(edge, 'DELETE', `/api/relays/${relay.id}`)).status).toBe(204)
    expect(await player.exited).toBe(0)

    // The source has B-frames (x264 default), which WHEP viewers do not get: ~8 of 25 fps.
    expect(framesDecoded).toBeGreaterThan(25)
    expect(relay.dropped.SIMULATED_LOSS).toBeGreaterThan(0) // 2 % of a few hundred packets: a handful, sometimes fewer than 6
    expect(relay.video.lost).toBe(0)
    // AAC is NACKed and sent again too; under load a retransmission can come after the edge's
    // 150 ms reorder window (one AAC frame seen lost in a CI run)
    expect(relay.audio.nacked).toBeGreaterThan(0)
    expect(relay.audio.lost).toBeLessThanOrEqual(1)
    expect(relay.video.nacked).toBeGreaterThan(0)
    expect(forward.retransmitted).toBeGreaterThan(0)
    expect(forward.rttMs).not.toBeNull()
    // The edge player joined at a keyframe and decoded the rest of the source frame for frame.
    const got = await frameHashes(out)
    expect(got.errors).toBe('')
    const hashes = (f: { hash: string }[]) => f.map((x) => x.hash)
    const start = hashes(src.video).indexOf(got.video[0]!.hash)
    expect(start % 50).toBe(0)
    expect(hashes(got.video)).toEqual(hashes(src.video).slice(start, start + got.video.length))
    // every frame to the end, but the last one when the simulated loss took its final packet: no
    // later video packet then reveals the hole, so no NACK can repair it (a live stream's next
    // frame would)
    expect(start + got.video.length).toBeGreaterThanOrEqual(src.video.length - 1)
  }, 90_000)
})
