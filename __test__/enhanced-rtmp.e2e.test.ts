/**
 * Enhanced RTMP (v1 FourCC video, v2 audio, multitrack) end to end, with a publisher and players
 * on Sluice's own RTMP client core (Debian's ffmpeg 5.1 predates Enhanced RTMP): ffmpeg encodes
 * H.265 + Opus (MPEG-TS, turned into `hvc1`/`Opus` tags by the native TS demuxer) and AV1 (fMP4,
 * turned into `av01` tags here); a second video track (a 160x120 step of the same ladder, OneTrack
 * multitrack messages of track 1) rides along with the H.265 and reaches the recording and a
 * variant of its own in the LL-HLS multivariant playlist. RTMP players get every tag bit for bit (a late one the sequence
 * starts of both tracks first), the server answers the Enhanced RTMP connect, and the fMP4
 * recordings decode like ffmpeg's own encode; ffmpeg plays the AV1 stream over LL-HLS; Chromium
 * plays AV1 + Opus over WHEP (AV1 packetized by Sluice, the Opus packets as they came).
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, runOk } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { native } from '../dist/native.js'
import { RtmpClient, parseRtmpUrl, type RecordedFile } from '../dist/index.js'
import { launchChromium, playerStats } from './helpers/browser'
import { staticOffer } from './helpers/sdp'

const dir = mkdtempSync(join(tmpdir(), 'sluice-ertmp-'))
let server: TestServer
const done: RecordedFile[] = []

interface Tag { kind: 'audio' | 'video'; ts: number; payload: Buffer }

beforeAll(async () => {
  server = await startSluice({ hub: { unpublishGraceMs: 200 }, record: { directory: join(dir, 'rec'), rules: [{ app: 'ertmp' }] }, hls: { segmentMs: 1000 } })
  server.sluice.on('recordDone', (f) => done.push(f))
}, 30_000)

afterAll(async () => {
  await server?.close()
})

/**
 * H.265 (+ Opus) from ffmpeg's MPEG-TS, as the native demuxer makes hub frames of it: `size`
 * 320x240 with audio (`hevc-opus.ts`), or another step of the same ladder without (`hevc-{size}.ts`;
 * fixed GOP and B-frames, so both steps have the same decode times and keyframes).
 */
async function hevcOpusTags(size = '320x240'): Promise<Tag[]> {
  const main = size === '320x240'
  const ts = join(dir, main ? 'hevc-opus.ts' : `hevc-${size}.ts`)
  await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`, ...(main ? ['-f', 'lavfi', '-i', 'sine=sample_rate=48000'] : []), '-t', '6',
    '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=25:min-keyint=25:scenecut=0:bframes=2:b-adapt=0', ...(main ? ['-c:a', 'libopus', '-b:a', '64k'] : []), '-f', 'mpegts', ts])
  const demuxer = new native.TsDemuxer()
  const frames = [...demuxer.push(readFileSync(ts)), ...demuxer.flush()]
  return frames.map((f) => ({ kind: f.kind as 'audio' | 'video', ts: f.dts, payload: Buffer.from(f.payload) }))
}

/** Boxes of an ISO BMFF buffer: `[type, body start, end]` (children of the known containers too, with their path). */
function boxes(b: Buffer, from = 0, to = b.length, path = ''): { path: string; start: number; end: number; at: number }[] {
  const out: { path: string; start: number; end: number; at: number }[] = []
  for (let at = from; at + 8 <= to;) {
    const size = b.readUInt32BE(at)
    const type = b.toString('latin1', at + 4, at + 8)
    const end = at + size
    const p = `${path}/${type}`
    out.push({ path: p, start: at + 8, end, at })
    if (['moov', 'trak', 'mdia', 'minf', 'stbl', 'moof', 'traf'].includes(type)) out.push(...boxes(b, at + 8, end, p))
    if (type === 'stsd') out.push(...boxes(b, at + 16, end, p))
    if (type === 'av01') out.push(...boxes(b, at + 8 + 78, end, p))
    at = end
  }
  return out
}

/** AV1 from ffmpeg's fragmented MP4 (SVT-AV1), as Enhanced RTMP `av01` tags: the sequence start (av1C) and one temporal unit per tag. */
async function av1Tags(): Promise<{ tags: Tag[]; source: string }> {
  const source = join(dir, 'av1.mp4')
  await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '6', '-c:v', 'libsvtav1', '-preset', '12', '-g', '25',
    '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', source])
  const b = readFileSync(source)
  const all = boxes(b)
  const av1c = all.find((x) => x.path.endsWith('/av01/av1C'))!
  const timescale = b.readUInt32BE(all.find((x) => x.path.endsWith('/mdhd'))!.start + 12)
  const tags: Tag[] = [{ kind: 'video', ts: 0, payload: Buffer.concat([Buffer.from([0x80 | 0x10 | 0]), Buffer.from('av01'), b.subarray(av1c.start, av1c.end)]) }]
  for (const moof of all.filter((x) => x.path === '/moof')) {
    const inMoof = all.filter((x) => x.at > moof.at && x.end <= moof.end)
    const tfdt = inMoof.find((x) => x.path.endsWith('/tfdt'))!
    let dts = b[tfdt.start] === 1 ? Number(b.readBigUInt64BE(tfdt.start + 4)) : b.readUInt32BE(tfdt.start + 4)
    const tfhd = inMoof.find((x) => x.path.endsWith('/tfhd'))!
    const tfhdFlags = b.readUInt32BE(tfhd.start) & 0xffffff
    let o = tfhd.start + 8 + (tfhdFlags & 1 ? 8 : 0) + (tfhdFlags & 2 ? 4 : 0)
    const defDuration = tfhdFlags & 8 ? b.readUInt32BE(o) : 0
    o += tfhdFlags & 8 ? 4 : 0
    const defSize = tfhdFlags & 0x10 ? b.readUInt32BE(o) : 0
    const trun = inMoof.find((x) => x.path.endsWith('/trun'))!
    const flags = b.readUInt32BE(trun.start) & 0xffffff
    const count = b.readUInt32BE(trun.start + 4)
    let p = trun.start + 8
    let data = moof.at + (flags & 1 ? b.readInt32BE(p) : 0)
    p += (flags & 1 ? 4 : 0) + (flags & 4 ? 4 : 0)
    for (let i = 0; i < count; i++) {
      const duration = flags & 0x100 ? b.readUInt32BE(p) : defDuration
      p += flags & 0x100 ? 4 : 0
      const size = flags & 0x200 ? b.readUInt32BE(p) : defSize
      p += (flags & 0x200 ? 4 : 0) + (flags & 0x400 ? 4 : 0) + (flags & 0x800 ? 4 : 0)
      const keyframe = i === 0 // ffmpeg's frag_keyframe: each fragment starts with the keyframe
      tags.push({ kind: 'video', ts: Math.round((dts * 1000) / timescale), payload: Buffer.concat([Buffer.from([0x80 | ((keyframe ? 1 : 2) << 4) | 1]), Buffer.from('av01'), b.subarray(data, data + size)]) })
      data += size
      dts += duration
    }
  }
  return { tags, source }
}

function client(mode: 'publish' | 'play', stream: string): RtmpClient {
  return new RtmpClient(parseRtmpUrl(server.rtmpUrl(stream)), mode, { chunkSize: 4096, connectTimeoutMs: 5000 })
}

/** Publishes `tags` in real time (by their timestamps); resolves when all are sent. */
async function publishTags(c: RtmpClient, tags: Tag[]): Promise<void> {
  await new Promise<void>((resolve) => c.once('ready', () => resolve()))
  const start = Date.now()
  for (const t of tags) {
    const wait = start + t.ts - Date.now()
    if (wait > 2) await new Promise((r) => setTimeout(r, wait))
    c.writeRaw(native.muxMessage(t.kind === 'audio' ? 4 : 6, t.ts, t.kind === 'audio' ? 8 : 9, c.messageStreamId, t.payload, 4096))
  }
}

/** What a player received: every media message, copied. */
function collect(c: RtmpClient): Tag[] {
  const got: Tag[] = []
  c.on('media', (kind, ts, payload) => got.push({ kind, ts, payload: Buffer.from(payload) }))
  return got
}

const key = (t: Tag) => `${t.kind}@${t.ts}:${t.payload.toString('base64')}`

async function videoHashes(file: string, map = '0:v'): Promise<string[]> {
  const out = await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-map', map, '-f', 'framemd5', '-'])
  return out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',')[5]!.trim())
}

describe('Enhanced RTMP', () => {
  for (const codec of ['ac3', 'eac3'] as const) it(`${codec === 'ac3' ? 'AC-3' : 'E-AC-3'}: players get every tag bit for bit; the fMP4 recording (configured from the first frame) decodes like the source; ffmpeg plays it over LL-HLS`, async () => {
    const source = join(dir, `audio.${codec}`)
    await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-ac', '2', '-t', '5', '-c:a', codec, '-b:a', '192k', '-f', codec, source])
    const bytes = readFileSync(source)
    const packets = (await runOk('ffprobe', ['-v', 'error', '-show_entries', 'packet=pts_time,size', '-of', 'csv=p=0', source])).trim().split('\n').map((l) => l.split(',').map(Number) as [number, number])
    const fourCc = codec === 'ac3' ? 'ac-3' : 'ec-3'
    let at = 0
    const tags: Tag[] = packets.map(([pts, size]) => {
      const frame = bytes.subarray(at, at + size)
      at += size
      return { kind: 'audio', ts: Math.round(pts * 1000), payload: Buffer.concat([Buffer.from([0x91]), Buffer.from(fourCc), frame]) }
    })
    expect(at).toBe(bytes.length)
    const name = `ertmp/${codec}`
    const player = client('play', name)
    const got = collect(player)
    await new Promise<void>((resolve) => player.once('ready', () => resolve()))
    const pub = client('publish', name)
    const sending = publishTags(pub, tags)
    await waitFor(() => server.sluice.hub.get('ertmp', codec)?.audioConfig, 10_000, 'the first frame')
    expect(server.sluice.hub.get('ertmp', codec)!.audio?.codec).toBe(codec === 'ac3' ? 'AC-3' : 'E-AC-3')
    await new Promise((r) => setTimeout(r, 1500))
    const hls = runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-i', server.httpUrl(`/hls/${name}/index.m3u8`), '-t', '1.5', '-map', '0:a', '-f', 'framemd5', '-'])
    await sending
    const hlsFrames = (await hls).split('\n').filter((l) => /^0,/.test(l)).length
    await new Promise((r) => setTimeout(r, 300))
    pub.close('done')
    expect(got.map(key)).toEqual(tags.map(key))
    const rec = await waitFor(() => done.find((f) => f.stream === codec), 10_000, 'recording')
    const probe = await runOk('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate,channels', '-of', 'csv=p=0', rec.path])
    expect(probe.trim()).toMatch(new RegExp(`^${codec},48000,2,?$`))
    // the recorded frames are the source's, byte for byte (stream copy hashes), and decode
    const hashes = async (file: string) => (await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-map', '0:a', '-c', 'copy', '-f', 'framemd5', '-'])).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',')[5]!.trim())
    const recorded = await hashes(rec.path)
    const all = await hashes(source)
    // audio-only recordings start 1 s in (AUDIO_ONLY_AFTER_MS): the file is the source from there on
    const from = all.indexOf(recorded[0]!)
    expect(from, `recorded ${recorded.length} frames, source ${all.length}`).toBeGreaterThan(0)
    expect(recorded).toEqual(all.slice(from, from + recorded.length))
    expect(recorded.length).toBe(all.length - from)
    const decode = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', rec.path, '-f', 'null', '-'])
    expect(await decode.exited).toBe(0)
    expect(decode.stderr()).toBe('')
    expect(hlsFrames).toBeGreaterThan(20)
    console.log(`Enhanced RTMP ${fourCc}: ${tags.length} tags bit for bit; the recording (${probe.trim()}) decodes like the source from frame ${from} (${recorded.length} frames); LL-HLS gave ffmpeg ${hlsFrames} frames`)
    player.close('done')
  }, 60_000)

  for (const transport of ['datachannel', 'native'] as const) it(`AV1 + Opus to a Chromium WHEP viewer (${transport} transport): AV1 packetized (RTP payload format for AV1), Opus passed as it is`, async () => {
    const web = await startSluice({ webrtc: { bindAddress: '127.0.0.1', transport, udpPort: 0 } })
    const { tags: video } = await av1Tags()
    const audio = (await hevcOpusTags()).filter((t) => t.kind === 'audio')
    // Video first at equal timestamps (its sequence start leads), then in time order.
    const tags = [...video, ...audio].sort((x, y) => x.ts - y.ts || (x.kind === y.kind ? 0 : x.kind === 'video' ? -1 : 1))
    const pub = new RtmpClient(parseRtmpUrl(web.rtmpUrl('web/av1')), 'publish', { chunkSize: 4096, connectTimeoutMs: 5000 })
    const sending = publishTags(pub, tags)
    const browser = await launchChromium()
    try {
      await waitFor(() => web.sluice.hub.get('web', 'av1')?.audio, 10_000, 'publisher')
      expect(web.sluice.hub.get('web', 'av1')!.audio!.codec).toBe('Opus')
      const page = await browser.newPage()
      await page.goto(web.httpUrl('/?play=web/av1'))
      await page.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout: 10_000 })
      await page.waitForTimeout(3000)
      const s = await playerStats(page)
      console.log(`E-RTMP AV1 + Opus → WHEP (${transport}): codec`, s.video?.codec, 'framesDecoded', s.video?.framesDecoded, s.video?.frameWidth, 'x', s.video?.frameHeight,
        'freezes', s.video?.freezeCount, 'audio samples', s.audio?.totalSamplesReceived)
      expect(s.video?.codec).toBe('video/AV1')
      expect(s.video?.frameWidth).toBe(320)
      expect(s.video?.framesDecoded).toBeGreaterThan(40)
      // The hub's audio is Opus (no AAC to transcode from): what the viewer hears are the publisher's packets.
      expect(s.audio?.totalSamplesReceived).toBeGreaterThan(48_000)
    } finally {
      await browser.close()
      await sending.catch(() => {})
      pub.close('done')
      await web.close()
    }
  }, 60_000)

  it('H.265 + Opus with a second video track (multitrack ladder): players get every tag bit for bit, a late one both tracks\' sequence starts; the recording has both tracks; LL-HLS a variant per track', async () => {
    const base = await hevcOpusTags()
    // track 1: a 160x120 step of the ladder as OneTrack multitrack messages (v2): [0x80|frame type|6][OneTrack|packet type][FourCC][trackId 1] body
    const track1 = (t: Tag): Tag => {
      const packetType = t.payload[0]! & 0x0f
      return { ...t, payload: Buffer.concat([Buffer.from([(t.payload[0]! & 0xf0) | 6, (0 << 4) | packetType]), t.payload.subarray(1, 5), Buffer.from([1]), t.payload.subarray(5)]) }
    }
    const small = (await hevcOpusTags('160x120')).map(track1)
    const tags = [...base, ...small].map((t, i) => ({ t, i })).sort((a, b) => a.t.ts - b.t.ts || a.i - b.i).map((x) => x.t)
    const player = client('play', 'ertmp/hevc')
    const got = collect(player)
    await new Promise<void>((resolve) => player.once('ready', () => resolve()))
    expect(player.serverProperties).toMatchObject({ capsEx: 0x0e, videoFourCcInfoMap: { '*': 4 }, audioFourCcInfoMap: { '*': 4 } })
    const pub = client('publish', 'ertmp/hevc')
    const sending = publishTags(pub, tags)
    await waitFor(() => (server.sluice.hub.get('ertmp', 'hevc')?.gop.length ?? 0) > 30, 10_000, 'a GOP')
    // LL-HLS: a multivariant playlist, one variant per video track (with the default audio)
    const multivariant = fetch(server.httpUrl('/hls/ertmp/hevc/index.m3u8')).then((r) => r.text())
    const late = client('play', 'ertmp/hevc')
    const lateGot = collect(late)
    // WHEP: a viewer offering H.265 is answered with it (RFC 7798 packetization); one that does
    // not (Chromium on Linux offers no H.265 receiver) gets a 400 naming the codec.
    const whep = await fetch(server.httpUrl('/whep/ertmp/hevc'), { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: staticOffer('H265') })
    expect(whep.status).toBe(201)
    expect(await whep.text()).toMatch(/a=rtpmap:\d+ H265\/90000/)
    await fetch(server.httpUrl(whep.headers.get('location')!), { method: 'DELETE' })
    const h264Only = await fetch(server.httpUrl('/whep/ertmp/hevc'), { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: staticOffer('H264') })
    expect(h264Only.status).toBe(400)
    expect(await h264Only.text()).toMatch(/no receivable video with H265/)
    const variants = await multivariant
    expect(variants).toMatch(/^#EXTM3U\n/)
    const inf = [...variants.matchAll(/#EXT-X-STREAM-INF:BANDWIDTH=(\d+),CODECS="([^"]+)",RESOLUTION=(\d+x\d+)\n(\S+)/g)].map((m) => ({ bandwidth: Number(m[1]), codecs: m[2], resolution: m[3], uri: m[4] }))
    expect(inf.map((v) => [v.resolution, v.uri])).toEqual([['320x240', 'video0.m3u8'], ['160x120', 'video1.m3u8']])
    // BANDWIDTH: the peak of each variant's segments (the 160x120 step carries less)
    expect(inf.every((v) => /^hvc1\.[^,]+,opus$/.test(v.codecs!) && v.bandwidth > 64_000)).toBe(true)
    expect(inf[0]!.bandwidth).toBeGreaterThan(inf[1]!.bandwidth)
    const hls = await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-i', server.httpUrl('/hls/ertmp/hevc/video1.m3u8'), '-map', '0:v', '-t', '1.5', '-f', 'framemd5', '-'])
    const hlsHashes = hls.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',')[5]!.trim())
    await sending
    await new Promise((r) => setTimeout(r, 500))
    pub.close('done')
    expect(got.map(key)).toEqual(tags.map(key))
    const smallSource = await videoHashes(join(dir, 'hevc-160x120.ts'))
    const hlsFrom = smallSource.indexOf(hlsHashes[0]!)
    expect(hlsFrom, 'the LL-HLS variant of track 1 starts on a frame of its source').toBeGreaterThanOrEqual(0)
    expect(hlsHashes.length).toBeGreaterThanOrEqual(30)
    expect(hlsHashes).toEqual(smallSource.slice(hlsFrom, hlsFrom + hlsHashes.length))
    // the late player: both tracks' sequence starts first, then frames from a keyframe on, bit for bit
    const starts = lateGot.slice(0, 3).filter((t) => t.kind === 'video').map((t) => t.payload[0]! & 0x0f)
    expect(starts.sort()).toEqual([0, 6])
    const firstFrame = lateGot.findIndex((t) => t.kind === 'video' && (t.payload[0]! & 0x0f) === 1)
    const from = tags.findIndex((t) => key(t) === key(lateGot[firstFrame]!))
    expect(from).toBeGreaterThan(0)
    // after them: every tag from that keyframe on (sequence starts came first, not again)
    const isStart = (t: Tag) => (t.payload[0]! & 0x0f) === 0 || ((t.payload[0]! & 0x0f) === 6 && (t.payload[1]! & 0x0f) === 0)
    expect(lateGot.slice(firstFrame).map(key)).toEqual(tags.slice(from).filter((t) => !isStart(t)).map(key))
    expect(tags[from]!.payload[0]! >> 4 & 7, 'the late player starts on a keyframe of track 0').toBe(1)
    console.log(`Enhanced RTMP H.265 + Opus + track 1: ${tags.length} tags bit for bit to the first player; the late one started at tag ${from}; LL-HLS variants ${JSON.stringify(inf)}, ffmpeg decoded ${hlsHashes.length} frames of track 1's variant as its source`)
    late.close('done')
    player.close('done')

    const rec = await waitFor(() => done.find((f) => f.stream === 'hevc'), 10_000, 'recording')
    const probe = await runOk('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width', '-of', 'csv=p=0', rec.path])
    expect(probe.trim().split('\n').map((l) => l.replace(/,$/, '')).sort()).toEqual(['hevc,160', 'hevc,320', 'opus'])
    // each video track of the recording decodes like its own source
    expect(await videoHashes(rec.path, '0:v:0')).toEqual(await videoHashes(join(dir, 'hevc-opus.ts')))
    expect(await videoHashes(rec.path, '0:v:1')).toEqual(smallSource)
  }, 60_000)

  it('AV1: players get every tag bit for bit; the recording decodes like ffmpeg\'s own file; ffmpeg plays it over LL-HLS', async () => {
    const { tags, source } = await av1Tags()
    const player = client('play', 'ertmp/av1')
    const got = collect(player)
    await new Promise<void>((resolve) => player.once('ready', () => resolve()))
    const pub = client('publish', 'ertmp/av1')
    const sending = publishTags(pub, tags)
    await waitFor(() => server.sluice.hub.get('ertmp', 'av1')?.gop.length, 10_000, 'publisher')
    const hls = runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-i', server.httpUrl('/hls/ertmp/av1/index.m3u8'), '-t', '2', '-f', 'framemd5', '-'])
    await sending
    const hlsFrames = (await hls).split('\n').filter((l) => /^0,/.test(l)).length
    await new Promise((r) => setTimeout(r, 300))
    pub.close('done')
    expect(got.map(key)).toEqual(tags.map(key))
    expect(hlsFrames).toBeGreaterThanOrEqual(40)
    const rec = await waitFor(() => done.find((f) => f.stream === 'av1'), 10_000, 'recording')
    expect(await videoHashes(rec.path)).toEqual(await videoHashes(source))
    console.log(`Enhanced RTMP AV1: ${tags.length} tags bit for bit; the recording decodes like the source; LL-HLS gave ffmpeg ${hlsFrames} frames`)
    player.close('done')
  }, 60_000)
})
