/**
 * Recording end to end: real ffmpeg publishes over RTMP; Sluice records it as fragmented MP4
 * (a config rule) and as FLV (the API, started mid-stream); ffmpeg decodes both frame for frame
 * like the source (framemd5). Rotation by duration gives several files that decode to the whole
 * source in order. A Sluice process killed (SIGKILL) mid-recording leaves an MP4 that decodes
 * up to its last whole fragment. Every finished file is the `recordDone` event and the
 * `on_record_done` webhook.
 */
import { spawn } from 'node:child_process'
import http from 'node:http'
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameHashes, makeSource, publish, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import type { RecordedFile } from '../dist/index.js'

const dir = mkdtempSync(join(tmpdir(), 'sluice-record-'))
const source = join(dir, 'source.flv')
const recordings = join(dir, 'recordings')
let server: TestServer
let hook: http.Server
const hooked: Record<string, unknown>[] = []
const done: RecordedFile[] = []

const hashes = (f: { hash: string }[]) => f.map((x) => x.hash)

beforeAll(async () => {
  await makeSource(source, 6)
  hook = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      hooked.push(JSON.parse(body) as Record<string, unknown>)
      res.end()
    })
  })
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
  const port = (hook.address() as { port: number }).port
  server = await startSluice({
    hub: { unpublishGraceMs: 200 },
    record: { directory: recordings, rules: [{ app: 'rec' }] },
    webhooks: { onRecordDone: `http://127.0.0.1:${port}/done` },
  })
  server.sluice.on('recordDone', (f) => done.push(f))
}, 60_000)

afterAll(async () => {
  await server?.close()
  hook?.close()
})

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(server.httpUrl(path), { method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined })
  const text = await r.text()
  return { status: r.status, json: r.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(text) as Record<string, unknown>) : { error: text } }
}

describe('recording', () => {
  it('a config rule records a publish as fragmented MP4: every frame as the source, one fragment per GOP; the FLV one from the API starts on a keyframe mid-stream', async () => {
    const src = await frameHashes(source)
    const pub = publish(source, server.rtmpUrl('rec/cam'))
    await waitFor(() => server.sluice.recordings.stats().recordings.some((r) => r.stream === 'cam' && r.path), 10_000, 'rule recording open')
    expect((await api('POST', '/api/recordings', { stream: 'rec/none' })).status).toBe(404)
    expect((await api('POST', '/api/recordings', { stream: 'rec/cam', format: 'fmp4' })).status).toBe(409)
    expect((await api('POST', '/api/recordings', { stream: 'rec/cam', format: 'ogg' })).status).toBe(400)
    await new Promise((r) => setTimeout(r, 2500))
    const flv = await api('POST', '/api/recordings', { stream: 'rec/cam', format: 'flv' })
    expect(flv.status).toBe(201)
    expect(flv.json).toMatchObject({ app: 'rec', stream: 'cam', format: 'flv', rule: false })
    expect(await pub.exited).toBe(0)
    await waitFor(() => done.filter((f) => f.stream === 'cam').length === 2, 10_000, 'both files done')
    await waitFor(() => hooked.filter((h) => h.stream === 'cam').length === 2, 5000, 'both webhooks')

    const mp4 = done.find((f) => f.stream === 'cam' && f.format === 'fmp4')!
    expect(mp4).toMatchObject({ app: 'rec', reason: 'stream ended' })
    expect(mp4.path.startsWith(join(recordings, 'rec', 'cam'))).toBe(true)
    expect(mp4.path).toMatch(/\/\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-\d{3}\.mp4$/)
    expect(mp4.durationMs).toBeGreaterThan(5800)
    expect(mp4.durationMs).toBeLessThan(6200)
    expect(mp4.bytes).toBe(statSync(mp4.path).size)
    const got = await frameHashes(mp4.path)
    expect(got.errors).toBe('')
    expect(hashes(got.video)).toEqual(hashes(src.video))
    expect(hashes(got.audio)).toEqual(hashes(src.audio))
    console.log(`fMP4 recording: ${got.video.length} video + ${got.audio.length} audio frames as the source, ${mp4.durationMs} ms, ${mp4.bytes} bytes`)

    const flvFile = done.find((f) => f.stream === 'cam' && f.format === 'flv')!
    const part = await frameHashes(flvFile.path)
    expect(part.errors).toBe('')
    const start = hashes(src.video).indexOf(part.video[0]!.hash)
    expect(start % 50).toBe(0)
    expect(hashes(part.video)).toEqual(hashes(src.video).slice(start))
    console.log(`FLV recording from the API: from source frame ${start}, ${part.video.length} video frames`)

    expect(hooked.find((h) => h.format === 'fmp4' && h.stream === 'cam')).toMatchObject({ event: 'on_record_done', app: 'rec', path: mp4.path, durationMs: mp4.durationMs, bytes: mp4.bytes })
    const listed = await api('GET', '/api/recordings')
    expect((listed.json.files as RecordedFile[]).map((f) => f.path)).toEqual(expect.arrayContaining([mp4.path, flvFile.path]))
    expect(listed.json.recordings).toEqual([])
  }, 40_000)

  it('rotates by duration on keyframes: the files decode, in order, to the whole source', async () => {
    const src = await frameHashes(source)
    const pub = publish(source, server.rtmpUrl('live/rot'))
    await waitFor(() => server.sluice.hub.get('live', 'rot')?.videoSequenceHeader, 10_000, 'publisher')
    const r = await api('POST', '/api/recordings', { stream: 'live/rot', segmentDurationMs: 2000 })
    expect(r.status).toBe(201)
    expect(await pub.exited).toBe(0)
    await waitFor(() => done.some((f) => f.stream === 'rot' && f.reason === 'stream ended'), 10_000, 'last file')
    const files = done.filter((f) => f.stream === 'rot') // in the order they were finished
    expect(files.map((f) => f.reason)).toEqual([...files.slice(1).map(() => 'rotated'), 'stream ended'])
    expect(files.length).toBeGreaterThanOrEqual(3)
    const video: string[] = []
    for (const f of files) {
      const got = await frameHashes(f.path)
      expect(got.errors).toBe('')
      expect(got.video.length % 50, `${f.path}: whole GOPs`).toBe(f === files.at(-1) ? got.video.length % 50 : 0)
      video.push(...hashes(got.video))
    }
    const start = hashes(src.video).indexOf(video[0]!)
    expect(video).toEqual(hashes(src.video).slice(start))
    console.log(`rotation: ${files.length} files of ${files.map((f) => f.durationMs).join(', ')} ms`)

    // Playback: the files listed from disk, the whole range as one MP4, and a part of it.
    const listed = (await api('GET', '/api/recordings/files/live/rot')).json.files as { name: string; startedAt: string; durationMs: number; bytes: number }[]
    expect(listed.map((f) => f.name)).toEqual(files.map((f) => f.path.split('/').at(-1)))
    expect(listed.map((f) => f.durationMs)).toEqual(files.map((f) => f.durationMs))
    const from = Date.parse(listed[0]!.startedAt) - 1000
    const whole = await fetch(server.httpUrl(`/api/recordings/playback/live/rot?start=${new Date(from).toISOString()}&duration=60`))
    expect(whole.status).toBe(200)
    expect(whole.headers.get('content-type')).toBe('video/mp4')
    const wholePath = join(dir, 'playback-whole.mp4')
    writeFileSync(wholePath, Buffer.from(await whole.arrayBuffer()))
    const played = await frameHashes(wholePath)
    expect(played.errors).toBe('')
    expect(hashes(played.video)).toEqual(video)
    const pts = played.video.map((f) => f.pts)
    expect(pts.every((t, i) => i === 0 || t > pts[i - 1]!), 'one timeline, increasing').toBe(true)
    // one second inside the second file: its GOP that covers it
    const second = Date.parse(listed[1]!.startedAt)
    const part = await fetch(server.httpUrl(`/api/recordings/playback/live/rot?start=${second + 500}&duration=1`))
    expect(part.status).toBe(200)
    const partPath = join(dir, 'playback-part.mp4')
    writeFileSync(partPath, Buffer.from(await part.arrayBuffer()))
    const partFrames = hashes((await frameHashes(partPath)).video)
    expect(partFrames.length % 50).toBe(0)
    expect(video.join(',')).toContain(partFrames.join(','))
    console.log(`playback: whole range ${played.video.length} frames from ${files.length} files; 1 s of the second file → ${partFrames.length} frames (its GOP)`)
    expect((await fetch(server.httpUrl(`/api/recordings/playback/live/rot?start=${from - 3_600_000}&duration=10`))).status).toBe(404)
    expect((await fetch(server.httpUrl('/api/recordings/playback/live/rot?start=yesterday&duration=10'))).status).toBe(400)
  }, 40_000)

  it('a Sluice killed mid-recording leaves an MP4 that decodes up to its last whole fragment', async () => {
    const src = await frameHashes(source)
    const crashDir = join(dir, 'crash')
    const config = join(dir, 'crash.yaml')
    writeFileSync(config, `rtmp: {port: 0, host: 127.0.0.1}\nhttp: {port: 0, host: 127.0.0.1}\nsrt: {enabled: false}\nrecord:\n  directory: ${crashDir}\n  rules: [{app: live}]\n`)
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')))
    const child = spawn('node', ['dist/cli.js', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env })
    let err = ''
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    let pub: Proc | undefined
    try {
      const m = await waitFor(() => /sluice listening: rtmp:\/\/[^ ]+:(\d+)/.exec(err), 10_000, 'listening line')
      pub = publish(source, `rtmp://127.0.0.1:${m[1]}/live/crash`)
      await new Promise((r) => setTimeout(r, 4500))
      child.kill('SIGKILL')
    } finally {
      pub?.child.kill('SIGKILL')
      child.kill('SIGKILL')
    }
    const file = join(crashDir, 'live', 'crash', readdirSync(join(crashDir, 'live', 'crash'))[0]!)
    const got = await frameHashes(file)
    // the last fragment may be cut: ffmpeg may say so, the frames before it are intact
    expect(got.video.length).toBeGreaterThanOrEqual(50)
    expect(hashes(got.video)).toEqual(hashes(src.video).slice(0, got.video.length))
    console.log(`killed after 4.5 s: ${got.video.length} video frames decode from ${statSync(file).size} bytes${got.errors ? ` (ffmpeg: ${got.errors.trim().split('\n')[0]})` : ''}`)
  }, 30_000)
})
