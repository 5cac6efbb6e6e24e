/**
 * Ingest diagnostics: ffmpeg publishes with B-frames and a keyframe interval longer than the GOP
 * cache holds; the stream's API entry counts each and the log has one warning of each kind.
 * ffmpeg's CLI interleaves its outputs by decode time, so it cannot publish a drifting stream:
 * timestamps going back and A/V drift come from a publisher on Sluice's own RTMP client core
 * (ffmpeg's H.264 + AAC, re-stamped), and from the class directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, runOk, type Proc } from './helpers/ffmpeg'
import { native } from '../dist/native.js'
import { RtmpClient, parseRtmpUrl } from '../dist/index.js'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { IngestDiagnostics, type StreamInfo } from '../dist/index.js'

let server: TestServer
let pub: Proc | undefined

beforeAll(async () => {
  server = await startSluice({ hub: { gopLimits: { maxFrames: 40 } } })
})

afterAll(async () => {
  pub?.child.kill('SIGKILL')
  await server?.close()
})

describe('ingest diagnostics', () => {
  it('B-frames and a GOP past the cache show in /api/streams and the log', async () => {
    pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '20',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '2', '-g', '75', '-keyint_min', '75', '-c:a', 'aac', '-f', 'flv', server.rtmpUrl('live/diag')])
    const entry = async () => ((await (await fetch(server.httpUrl('/api/streams'))).json()) as { streams: StreamInfo[] }).streams.find((s) => s.name === 'diag')
    const ingest = await waitFor(async () => {
      const s = await entry()
      return s && s.ingest.bFrames > 0 && s.ingest.gopOverflows > 0 && s.ingest.longestGopMs > 0 ? s.ingest : null
    }, 15_000, 'both diagnostics')
    console.log('ingest diagnostics:', JSON.stringify(ingest))
    expect(ingest.nonMonotonic).toBe(0)
    expect(ingest.longestGopMs).toBeGreaterThanOrEqual(2900)
    expect(Math.abs(ingest.avDriftMs!)).toBeLessThan(500)
    expect(ingest.warnings).toHaveLength(2)
    const kinds = server.logs.filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('ingest: ')).map((l) => l.kind)
    expect(kinds.sort()).toEqual(['b-frames', 'long-gop'])
  }, 30_000)

  it('a publisher whose audio runs 1.5 s ahead of its video and whose video goes back once: both in /api/streams and the log', async () => {
    const ts = join(mkdtempSync(join(tmpdir(), 'sluice-diag-')), 'av.ts')
    await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '7',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', '25', '-c:a', 'aac', '-f', 'mpegts', ts])
    const demuxer = new native.TsDemuxer()
    const frames = [...demuxer.push(readFileSync(ts)), ...demuxer.flush()]
    // audio stamped 1.5 s ahead; one video frame at 3 s stamped 200 ms back
    const tags = frames.map((f) => ({ kind: f.kind as 'audio' | 'video', at: f.dts, ts: f.kind === 'audio' && !f.sequenceHeader ? f.dts + 1500 : f.dts, payload: Buffer.from(f.payload) }))
    const back = tags.findIndex((t) => t.kind === 'video' && t.ts >= 3000)
    tags[back]!.ts -= 200
    const c = new RtmpClient(parseRtmpUrl(server.rtmpUrl('live/drift')), 'publish', { chunkSize: 4096, connectTimeoutMs: 5000 })
    await new Promise<void>((resolve) => c.once('ready', () => resolve()))
    const start = Date.now()
    for (const t of tags) {
      const wait = start + t.at - Date.now()
      if (wait > 2) await new Promise((r) => setTimeout(r, wait))
      c.writeRaw(native.muxMessage(t.kind === 'audio' ? 4 : 6, Math.max(0, t.ts), t.kind === 'audio' ? 8 : 9, c.messageStreamId, t.payload, 4096))
    }
    const entry = async () => ((await (await fetch(server.httpUrl('/api/streams'))).json()) as { streams: StreamInfo[] }).streams.find((s) => s.name === 'drift')
    const ingest = (await entry())!.ingest
    c.close('done')
    console.log('drifting publisher:', JSON.stringify(ingest))
    expect(ingest.avDriftMs).toBeGreaterThan(1300)
    expect(ingest.avDriftMs).toBeLessThan(1700)
    expect(ingest.nonMonotonic).toBe(1)
    // (this server's small GOP cache and the frame stamped back also show, as they should)
    expect(ingest.warnings.join(' | ')).toMatch(/audio is ahead of video by 1[3-6]\d\d ms/)
    expect(ingest.warnings.join(' | ')).toMatch(/video decode time went back/)
    const logged = server.logs.filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('ingest: ') && l.stream === 'live/drift').map((l) => l.kind)
    expect(logged).toContain('av-drift')
    expect(logged).toContain('non-monotonic')
  }, 30_000)

  it('counts decode times going back, warning once', () => {
    const warned: string[] = []
    const d = new IngestDiagnostics((kind) => warned.push(kind))
    d.frame('video', 0, 0, true)
    d.frame('video', 40, 40, false)
    d.frame('video', 20, 20, false)
    d.frame('video', 10, 10, false)
    expect(d.info.nonMonotonic).toBe(2)
    expect(warned).toEqual(['non-monotonic', 'b-frames'])
  })

  it('A/V drift past 1 s warns once it lasts 3 s of media, not for an interleaving burst', () => {
    const warned: string[] = []
    const d = new IngestDiagnostics((kind) => warned.push(kind))
    // a 1.5 s burst of audio ahead, then back in step
    for (let t = 0; t <= 1500; t += 20) d.frame('audio', t + 1200, t + 1200, false)
    d.frame('video', 0, 0, true)
    for (let t = 0; t <= 1500; t += 40) d.frame('video', t, t, t === 0)
    expect(warned).toEqual([])
    // audio 2 s ahead for 4 s
    for (let t = 1500; t <= 5500; t += 40) {
      d.frame('audio', t + 2000, t + 2000, false)
      d.frame('video', t, t, false)
    }
    expect(warned).toEqual(['av-drift'])
    expect(d.info.avDriftMs).toBe(2000)
    expect(d.info.warnings[0]).toMatch(/audio is ahead of video by 20\d\d ms/)
  })
})
