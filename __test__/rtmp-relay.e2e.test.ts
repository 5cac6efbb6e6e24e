/**
 * RTMP relay end to end with real ffmpeg: a publisher, two players from the start, one that
 * joins mid-stream, and a publisher restart. Decoded frames (framemd5) must match the source.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameHashes, makeSource, play, publish, type FrameHash } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-relay-'))
const source = join(dir, 'source.flv')
let server: TestServer
type Hashes = { video: FrameHash[]; audio: FrameHash[]; errors: string }
let src: Hashes
let srcPackets: Hashes
const results: Record<string, Hashes> = {}
const packets: Record<string, Hashes> = {}
let apiDuringPublish: any
const hashes = (frames: FrameHash[]) => frames.map((f) => f.hash)

beforeAll(async () => {
  await makeSource(source, 8)
  src = await frameHashes(source)
  srcPackets = await frameHashes(source, true)
  server = await startSluice()
  const url = server.rtmpUrl('live/test')
  const logs = server.logs
  const played = () => logs.filter((l) => l.msg === 'play started').length

  const early = [play(url, join(dir, 'p1.flv')), play(url, join(dir, 'p2.flv'))]
  await waitFor(() => played() >= 2, 10_000, 'two players waiting')

  const first = publish(source, url)
  await new Promise((r) => setTimeout(r, 3500))
  const late = play(url, join(dir, 'p3.flv'))
  await waitFor(() => played() >= 3, 10_000, 'mid-stream player')
  const res = await fetch(server.httpUrl('/api/streams'))
  apiDuringPublish = await res.json()
  expect(await first.exited).toBe(0)

  // The publisher restarts at once; players keep playing through it.
  const second = publish(source, url)
  expect(await second.exited).toBe(0)

  for (const [i, p] of [...early, late].entries()) {
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))])
    expect(code, `player ${i + 1}: ${p.stderr()}`).toBe(0)
  }
  for (const name of ['p1', 'p2', 'p3']) {
    results[name] = await frameHashes(join(dir, `${name}.flv`))
    packets[name] = await frameHashes(join(dir, `${name}.flv`), true)
  }
}, 90_000)

afterAll(async () => {
  await server?.close()
})

describe('RTMP relay with ffmpeg publisher and players', () => {
  it('source has 8 s of video at 25 fps and AAC audio', () => {
    expect(src.video.length).toBe(200)
    expect(src.audio.length).toBeGreaterThan(300)
  })

  it('players from the start decode every frame of both publish sessions, frame for frame', () => {
    for (const name of ['p1', 'p2']) {
      const r = results[name]!
      expect(r.errors, `${name} decode errors`).toBe('')
      expect(hashes(r.video)).toEqual([...hashes(src.video), ...hashes(src.video)])
      // Decoded audio of the first session is identical to the source's. After the restart the
      // AAC decoder carries state (overlap, noise-substitution PRNG) from the first session, so
      // there the compressed audio packets are compared instead: all of them, in order.
      expect(hashes(r.audio).slice(0, src.audio.length)).toEqual(hashes(src.audio))
      expect(hashes(packets[name]!.audio)).toEqual([...hashes(srcPackets.audio), ...hashes(srcPackets.audio)])
      expect(hashes(packets[name]!.video)).toEqual([...hashes(srcPackets.video), ...hashes(srcPackets.video)])
    }
  })

  it('a player joining mid-stream starts on a keyframe and decodes without errors', () => {
    const r = results.p3!
    expect(r.errors).toBe('')
    const start = hashes(src.video).indexOf(r.video[0]!.hash)
    expect(start).toBeGreaterThan(0)
    expect(start % 50).toBe(0) // a keyframe of the 2 s GOP
    expect(hashes(r.video)).toEqual([...hashes(src.video).slice(start), ...hashes(src.video)])
    // its audio is a contiguous run of the source's packets from around that keyframe
    const audio = hashes(packets.p3!.audio)
    const from = hashes(srcPackets.audio).indexOf(audio[0]!)
    expect(from).toBeGreaterThan(0)
    expect(audio).toEqual([...hashes(srcPackets.audio).slice(from), ...hashes(srcPackets.audio)])
  })

  it('lists the live stream over HTTP with codecs, publisher and players', () => {
    const stream = apiDuringPublish.streams.find((s: any) => s.app === 'live' && s.name === 'test')
    expect(stream).toBeDefined()
    expect(stream.video.codec).toBe('H264')
    expect(stream.video.width).toBe(320)
    expect(stream.audio.codec).toBe('AAC')
    expect(stream.audio.sampleRate).toBe(44100)
    expect(stream.players).toBe(3)
    expect(stream.publisher.protocol).toBe('rtmp')
    expect(stream.publisher.address).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(stream.bitrate).toBeGreaterThan(0)
    expect(stream.uptime).toBeGreaterThanOrEqual(0)
  })

  it('players learn of the unpublish only after the grace period, then end', () => {
    const notified = server.logs.filter((l) => l.msg === 'play ended')
    expect(notified.length).toBe(3)
  })
})
