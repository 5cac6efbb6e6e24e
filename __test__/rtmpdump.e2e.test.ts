/**
 * rtmpdump plays with the complex (digest) handshake: it uses it only when SWF verification is
 * asked for (`-w` with 64 hex digits and `-x` with a size).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameHashes, makeSource, publish, run, type FrameHash } from './helpers/ffmpeg'
import { startSluice, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-rtmpdump-'))
let server: TestServer
let played: { video: FrameHash[]; errors: string }
let src: { video: FrameHash[] }
let rtmpdumpCode: number | null

beforeAll(async () => {
  const source = join(dir, 'source.flv')
  await makeSource(source, 5)
  src = await frameHashes(source)
  server = await startSluice()
  const url = server.rtmpUrl('live/dump')
  const pub = publish(source, url)
  await new Promise((r) => setTimeout(r, 1000))
  const swfHash = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90'
  const dump = run('rtmpdump', ['-q', '-v', '-r', url, '-w', swfHash, '-x', '12345', '-o', join(dir, 'dump.flv')])
  await pub.exited
  rtmpdumpCode = await Promise.race([dump.exited, new Promise<null>((r) => setTimeout(() => { dump.child.kill(); r(null) }, 15_000))])
  played = await frameHashes(join(dir, 'dump.flv'))
}, 60_000)

afterAll(async () => {
  await server?.close()
})

describe('rtmpdump', () => {
  it('completes the complex handshake and plays', () => {
    const playConn = server.logs.find((l) => l.msg === 'play started')?.conn
    expect(playConn).toBeDefined()
    const hs = server.logs.find((l) => l.msg === 'handshake done' && l.conn === playConn)
    expect(hs?.handshake).toBe('complex')
    expect(rtmpdumpCode).not.toBeNull()
  })

  it('receives frames that decode as the source, from a keyframe', () => {
    expect(played.errors).toBe('')
    expect(played.video.length).toBeGreaterThan(50)
    const srcHashes = src.video.map((f) => f.hash)
    const got = played.video.map((f) => f.hash)
    const start = srcHashes.indexOf(got[0]!)
    expect(start % 50).toBe(0)
    expect(got).toEqual(srcHashes.slice(start, start + got.length))
  })
})
