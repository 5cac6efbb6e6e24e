/**
 * Hostile sessions are closed with a logged reason while another player's stream goes on.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameHashes, makeSource, play, publish, type FrameHash } from './helpers/ffmpeg'
import { fmt0Chunk, rawHandshake } from './helpers/raw-client'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { RtmpHandshakeError, RtmpProtocolError } from '../dist/index.js'

const dir = mkdtempSync(join(tmpdir(), 'sluice-malformed-'))
const source = join(dir, 'source.flv')
let server: TestServer
let src: { video: FrameHash[] }
let player: { video: FrameHash[]; errors: string }
const reasons: Record<string, string> = {}
const errors: RtmpProtocolError[] = []

beforeAll(async () => {
  await makeSource(source, 6)
  src = await frameHashes(source)
  server = await startSluice({ hub: { unpublishGraceMs: 0 } })
  server.sluice.rtmp.on('protocolError', (_connection, error) => errors.push(error))
  const url = server.rtmpUrl('live/victim')
  const p = play(url, join(dir, 'player.flv'))
  await waitFor(() => server.logs.some((l) => l.msg === 'play started'), 10_000, 'player')
  const pub = publish(source, url)
  await new Promise((r) => setTimeout(r, 1500))

  const port = server.sluice.rtmp.port
  const attacks: Record<string, Buffer> = {
    'random bytes': randomBytes(4096),
    'absurd chunk size': fmt0Chunk(2, 1, 0, 4, Buffer.from([0x7f, 0xff, 0xff, 0xff])),
    '16 MB message on a tiny chunk size': Buffer.concat([
      fmt0Chunk(2, 1, 0, 4, Buffer.from([0, 0, 0, 1])), // Set Chunk Size 1
      fmt0Chunk(6, 9, 1, 0xffffff, Buffer.from([0x17])),
    ]),
  }
  for (const [name, bytes] of Object.entries(attacks)) {
    const before = server.logs.length
    const client = await rawHandshake(port)
    client.send(bytes)
    await Promise.race([client.closed, new Promise((_, rej) => setTimeout(() => rej(new Error(`${name}: not closed`)), 3000))])
    const line = await waitFor(() => server.logs.slice(before).find((l) => l.msg === 'connection closed' && l.level === 40), 3000, `${name} log`)
    reasons[name] = String(line.reason)
  }
  // A wrong version byte fails the handshake.
  const net = await import('node:net')
  const bad = net.connect(port, '127.0.0.1')
  bad.on('error', () => {})
  bad.on('connect', () => bad.write(Buffer.concat([Buffer.from([6]), Buffer.alloc(1536)])))
  await new Promise((r) => bad.on('close', r))

  expect(await pub.exited).toBe(0)
  expect(await p.exited).toBe(0)
  player = await frameHashes(join(dir, 'player.flv'))
}, 60_000)

afterAll(async () => {
  await server?.close()
})

describe('malformed RTMP sessions', () => {
  it('close random bytes after the handshake with a chunk error', () => {
    expect(reasons['random bytes']).toMatch(/^RTMP_/)
  })

  it('close an absurd Set Chunk Size', () => {
    expect(reasons['absurd chunk size']).toMatch(/^RTMP_CHUNK_SIZE_OUT_OF_RANGE: peer chunk size 2147483647/)
  })

  it('close a 16 MB message announced on a 1-byte chunk size', () => {
    expect(reasons['16 MB message on a tiny chunk size']).toMatch(/^RTMP_MESSAGE_TOO_LARGE: message length 16777215/)
  })

  it('close a handshake with version 6', () => {
    expect(server.logs.some((l) => String(l.reason).startsWith('RTMP_HANDSHAKE_FAILED'))).toBe(true)
  })

  it('reach the application as error classes with stable codes', () => {
    expect(errors.every((e) => e instanceof RtmpProtocolError)).toBe(true)
    const codes = errors.map((e) => e.code)
    expect(codes).toContain('RTMP_CHUNK_SIZE_OUT_OF_RANGE')
    expect(codes).toContain('RTMP_MESSAGE_TOO_LARGE')
    expect(errors.find((e) => e.code === 'RTMP_HANDSHAKE_FAILED')).toBeInstanceOf(RtmpHandshakeError)
  })

  it("leave another player's stream intact, frame for frame", () => {
    expect(player.errors).toBe('')
    expect(player.video.map((f) => f.hash)).toEqual(src.video.map((f) => f.hash))
  })
})
