/**
 * VP8 into a mix: Chromium (a blue Y4M file as its camera) publishes VP8 over WHIP; ffmpeg
 * publishes red H.264 over RTMP; a mix of the two is played over RTMP by ffmpeg and told apart
 * by colour probes (red left, blue right). The WHIP stream is in the hub as Enhanced RTMP
 * `vp08` frames (RFC 7741 depacketized), and the mixer decodes them with libvpx; an fMP4
 * recording of it has a `vp08` track that ffmpeg decodes.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { publish, run, runOk, type Proc } from './helpers/ffmpeg'
import { launchChromium } from './helpers/browser'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { probes } from './helpers/colour-probes'

const dir = mkdtempSync(join(tmpdir(), 'sluice-mix-vp8-'))
let server: TestServer
let browser: Browser
const procs: Proc[] = []

const api = (path: string, init?: RequestInit) => fetch(server.httpUrl(path), init)


beforeAll(async () => {
  const y4m = join(dir, 'blue.y4m')
  await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=blue:size=640x360:rate=20', '-t', '2', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', y4m])
  const red = join(dir, 'red.flv')
  await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=red:size=640x360:rate=25', '-t', '30',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p', '-f', 'flv', red])
  server = await startSluice({ record: { directory: join(dir, 'rec') }, webrtc: { bindAddress: '127.0.0.1' }, mix: { width: 640, height: 360, frameRate: 25, videoBitrate: 800_000 } })
  browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`])
  procs.push(publish(red, server.rtmpUrl('live/red')))
}, 60_000)

afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL')
  await browser?.close()
  await server?.close()
})

describe('a VP8 WHIP publisher in a mix', () => {
  it('is depacketized into vp08 hub frames and decoded into its cell of the mix', async () => {
    const page: Page = await browser.newPage()
    await page.goto(server.httpUrl('/publish?stream=live/vp8&codec=VP8&start=1'))
    await page.waitForFunction(() => (window as any).sluicePublisher?.connectedAt, null, { timeout: 15_000 })
    await waitFor(() => server.sluice.hub.get('live', 'red')?.isLive && server.sluice.hub.get('live', 'vp8')?.isLive, 10_000, 'the inputs')
    const publishers = (await (await api('/api/publishers')).json()) as { stream: string; video: { codec: string } | null }[]
    expect(publishers.find((p) => p.stream === 'live/vp8')?.video?.codec).toBe('VP8')

    const recording = await api('/api/recordings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stream: 'live/vp8', format: 'fmp4' }) })
    expect(recording.status).toBe(201)
    const { id: recordingId } = (await recording.json()) as { id: string }

    const created = await api('/api/mixes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ output: 'live/mx', inputs: ['live/red', 'live/vp8'] }) })
    expect(created.status).toBe(201)
    const { id } = (await created.json()) as { id: string }
    // The VP8 sequence start (a VPCodecConfigurationRecord under FourCC vp08) reached the hub.
    await waitFor(() => server.sluice.hub.get('live', 'vp8')?.videoSequenceHeader, 10_000, 'the vp08 sequence start')
    const header = server.sluice.hub.get('live', 'vp8')!.videoSequenceHeader!.payload
    expect(header.subarray(1, 5).toString('latin1')).toBe('vp08')
    await waitFor(async () => ((await (await api(`/api/mixes/${id}`)).json()) as { visibleInputs: number }).visibleInputs === 2, 15_000, 'both inputs in the layout')

    const out = join(dir, 'mix.flv')
    const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', server.rtmpUrl('live/mx'), '-t', '3', '-c', 'copy', '-f', 'flv', out])
    expect(await player.exited, player.stderr()).toBe(0)
    const frames = await probes(out, dir)
    const both = frames.filter((f) => f.left === 'red' && f.right === 'blue').length
    const stats = (await (await api(`/api/mixes/${id}`)).json()) as { decoded: number; inputErrors: number; inputs: { framesIn: number; clock: string }[]; lastError: string | null }
    console.log('VP8 mix:', frames.length, 'frames,', both, 'red | blue; stats', JSON.stringify(stats))
    expect(frames.length).toBeGreaterThan(40)
    expect(both).toBeGreaterThan(frames.length * 0.8)
    expect(stats.inputs[1]!.framesIn).toBeGreaterThan(30)
    expect(stats.inputErrors).toBe(0)
    // the WebRTC input is placed by its capture time (Chromium's sender reports), the RTMP one by arrival
    expect(stats.inputs.map((i) => i.clock)).toEqual(['arrival', 'capture'])
    expect((await api(`/api/mixes/${id}`, { method: 'DELETE' })).status).toBe(204)

    // The fMP4 recording of the VP8 stream: a vp08 track (with its vpcC) that ffmpeg decodes.
    const done = new Promise<{ path: string }>((resolve) => server.sluice.once('recordDone', resolve))
    expect((await api(`/api/recordings/${recordingId}`, { method: 'DELETE' })).status).toBe(200)
    const file = (await done).path
    const probe = await runOk('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', file])
    const decoded = await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-map', '0:v', '-f', 'framemd5', '-'])
    const recordedFrames = decoded.split('\n').filter((l) => l && !l.startsWith('#')).length
    console.log('VP8 fMP4 recording:', probe.trim(), recordedFrames, 'frames')
    expect(probe.trim()).toBe('vp8,640,360')
    expect(recordedFrames).toBeGreaterThan(40)
    await page.close()
  }, 90_000)
})
