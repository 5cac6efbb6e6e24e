/**
 * A player that stops reading never slows the publisher or other players: it skips to the next
 * keyframe once its queue is over the bound, and is disconnected when it stays behind.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameHashes, play, run, type FrameHash } from './helpers/ffmpeg'
import { command, rawHandshake } from './helpers/raw-client'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-slow-'))
let server: TestServer
let good: { video: FrameHash[]; errors: string }
let src: { video: FrameHash[] }
let publishSeconds = 0

beforeAll(async () => {
  // A heavy stream (about 2 MB/s) fills the stalled player's socket buffers quickly.
  const source = join(dir, 'heavy.flv')
  const make = run('ffmpeg', [
    '-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-t', '8',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-b:v', '16M', '-minrate', '16M', '-maxrate', '16M', '-bufsize', '4M', '-f', 'flv', source,
  ])
  expect(await make.exited).toBe(0)
  src = await frameHashes(source)
  server = await startSluice({ rtmp: { playerQueueBytes: 256 * 1024, playerMaxBehindMs: 1500 }, hub: { unpublishGraceMs: 0 } })
  const url = server.rtmpUrl('live/heavy')

  const goodPlayer = play(url, join(dir, 'good.flv'))
  const stalled = await rawHandshake(server.sluice.rtmp.port)
  stalled.send(command(0, 'connect', 1, { app: 'live', tcUrl: url.replace('/heavy', '') }))
  stalled.send(command(0, 'createStream', 2, null))
  stalled.send(command(1, 'play', 0, null, 'heavy'))
  stalled.socket.pause() // never reads again
  await waitFor(() => server.logs.filter((l) => l.msg === 'play started').length >= 2, 10_000, 'players')

  const started = Date.now()
  const pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-i', source, '-c', 'copy', '-f', 'flv', url])
  expect(await pub.exited).toBe(0)
  publishSeconds = (Date.now() - started) / 1000
  expect(await goodPlayer.exited).toBe(0)
  good = await frameHashes(join(dir, 'good.flv'))
  stalled.socket.destroy()
}, 90_000)

afterAll(async () => {
  await server?.close()
})

describe('slow player', () => {
  it('skips to the next keyframe, then is disconnected with a logged reason', () => {
    expect(server.logs.some((l) => l.msg === 'player behind: skipping to the next keyframe')).toBe(true)
    const closed = server.logs.find((l) => l.msg === 'connection closed' && /player stayed behind/.test(String(l.reason)))
    expect(closed, JSON.stringify(server.logs.filter((l) => l.level >= 40))).toBeDefined()
  })

  it('does not slow the publisher (real-time publish takes about the stream length)', () => {
    expect(publishSeconds).toBeLessThan(8 + 3)
  })

  it('leaves the other player with every frame', () => {
    expect(good.errors).toBe('')
    expect(good.video.map((f) => f.hash)).toEqual(src.video.map((f) => f.hash))
  })
})
