/**
 * HTTP-FLV end to end: real ffmpeg publishes over RTMP; ffmpeg plays `GET /live/x.flv` from
 * mid-stream and decodes every source frame from its first keyframe to the end.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameHashes, makeSource, publish, run } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-httpflv-'))
const source = join(dir, 'source.flv')
let server: TestServer

beforeAll(async () => {
  await makeSource(source, 6)
  server = await startSluice({ hub: { unpublishGraceMs: 500 } })
}, 60_000)

afterAll(async () => {
  await server?.close()
})

describe('HTTP-FLV', () => {
  it('answers 404 with a body for a stream that is not live', async () => {
    const r = await fetch(server.httpUrl('/live/nothing.flv'))
    expect(r.status).toBe(404)
    expect(await r.text()).toMatch(/not live/)
  })

  it('plays a live RTMP stream from mid-stream: frames identical to the source from a keyframe on, ends with the publisher', async () => {
    const src = await frameHashes(source)
    const pub = publish(source, server.rtmpUrl('live/flv'))
    await waitFor(() => server.logs.find((l) => l.msg === 'publish started' && l.stream === 'live/flv'), 10_000, 'publisher')
    await new Promise((r) => setTimeout(r, 2500))
    const out = join(dir, 'out.flv')
    const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', server.httpUrl('/live/flv.flv'), '-c', 'copy', '-f', 'flv', out])
    expect(await pub.exited).toBe(0)
    const code = await Promise.race([player.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))])
    expect(code, player.stderr()).toBe(0)
    const got = await frameHashes(out)
    expect(got.errors).toBe('')
    const hashes = (f: { hash: string }[]) => f.map((x) => x.hash)
    const start = hashes(src.video).indexOf(got.video[0]!.hash)
    console.log('HTTP-FLV: joined at source frame', start, 'decoded', got.video.length, 'video and', got.audio.length, 'audio frames')
    expect(start % 50).toBe(0)
    expect(hashes(got.video)).toEqual(hashes(src.video).slice(start, start + got.video.length))
    expect(start + got.video.length).toBe(src.video.length)
    expect(got.audio.length).toBeGreaterThan(50)
  }, 40_000)
})
