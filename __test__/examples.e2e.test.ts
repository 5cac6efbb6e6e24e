/**
 * Every program in examples/ runs as a user runs it (`node examples/NAME.mjs`, importing 'sluice'
 * through the package's `exports`, a self-reference to dist/) against real ffmpeg on 127.0.0.1,
 * and exits by itself; the test checks what it printed and what it made.
 */
import { describe, it, expect } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runOk } from './helpers/ffmpeg'

const root = join(__dirname, '..')

async function example(name: string, args: string[] = [], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [join(root, 'examples', name), ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d))
  child.stderr.on('data', (d: Buffer) => (err += d))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  console.log(`examples/${name} exited ${code}:\n${out}${err}`)
  return { code, out, err }
}

/** A TCP port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

describe('examples/', () => {
  it('has a test for every example', () => {
    const programs = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.mjs') && f !== 'test-stream.mjs')
    expect(programs.sort()).toEqual(['access-control.mjs', 'embed-http.mjs', 'forward-to-ffmpeg.mjs', 'relay-two-nodes.mjs', 'stream-stats.mjs'])
  })

  it('access-control.mjs: a wrong key is refused in code, the right one publishes (ports from the environment)', async () => {
    const [rtmpPort, httpPort] = [await freePort(), await freePort()]
    const { code, out } = await example('access-control.mjs', [], { RTMP_PORT: String(rtmpPort), HTTP_PORT: String(httpPort), PUBLISH_KEY: 'k3y' })
    expect(code).toBe(0)
    expect(out).toContain('rejected: rtmp publish of live/cam: wrong key')
    expect(out).toMatch(/ffmpeg with a wrong key exited [1-9]/)
    expect(out).toContain('accepted: rtmp publish of live/cam from 127.0.0.1')
    expect(out).toContain('ffmpeg with the key exited 0')
    const bytes = Number(/unpublished: live\/cam after [\d.]+ s, (\d+) bytes in/.exec(out)?.[1])
    expect(bytes).toBeGreaterThan(50_000)
  }, 60_000)

  it('stream-stats.mjs: the hub and GET /api/streams report codecs, size, bitrate and the player', async () => {
    const { code, out } = await example('stream-stats.mjs')
    expect(code).toBe(0)
    expect(out).toMatch(/^api: live\/stats 320x240 25 fps avc1\.\w+ \+ mp4a\.40\.2, 1 player\(s\), up \d+ s$/m)
    expect(out).toMatch(/^hub: live\/stats video H264 audio AAC \d+ kbit\/s, \d+ bytes in, 1 subscriber\(s\)$/m)
    const kbps = [...out.matchAll(/ (\d+) kbit\/s/g)].map((m) => Number(m[1]))
    expect(Math.max(...kbps)).toBeGreaterThan(100)
  }, 60_000)

  it('forward-to-ffmpeg.mjs: ffmpeg records the SRTP forward (H.264 + AAC) from the SDP', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sluice-example-')), 'forwarded.mkv')
    const result = await example('forward-to-ffmpeg.mjs', [out])
    expect(result.code).toBe(0)
    expect(result.out).toContain(`ffmpeg exited 0: recorded ${out}`)
    expect(result.out).toMatch(/forward stats: \d+ packets sent, 0 send errors/)
    const probe = JSON.parse(await runOk('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', out]))
    const video = probe.streams.find((s: any) => s.codec_name === 'h264')
    const audio = probe.streams.find((s: any) => s.codec_name === 'aac')
    expect(video).toMatchObject({ width: 320, height: 240 })
    expect(Number(video.nb_read_frames)).toBeGreaterThan(50) // 3 s at 25 fps
    expect(Number(audio.nb_read_frames)).toBeGreaterThan(100)
  }, 60_000)

  it('relay-two-nodes.mjs: a player on the edge decodes the origin stream over the SRTP relay link', async () => {
    const { code, out } = await example('relay-two-nodes.mjs')
    expect(code).toBe(0)
    const [, video, audio] = /edge player \(ffmpeg\) exited 0: decoded (\d+) video and (\d+) audio frames/.exec(out) ?? []
    expect(Number(video)).toBeGreaterThan(40)
    expect(Number(audio)).toBeGreaterThan(80)
    const stats = JSON.parse(/relay stats on the edge: (.*)$/m.exec(out)![1]!)
    expect(stats.protocol).toBe('relay')
    expect(stats.video.packets).toBeGreaterThan(100)
  }, 60_000)

  it('embed-http.mjs: the application server lists the stream from the hub and links to Sluice', async () => {
    const { code, out } = await example('embed-http.mjs')
    expect(code).toBe(0)
    const entry = JSON.parse(/app \/streams\.json: (.*)$/m.exec(out)![1]!)
    expect(entry).toMatchObject({ stream: 'live/embedded', codecs: [expect.stringMatching(/^avc1\./), 'mp4a.40.2'] })
    expect(out).toMatch(/app \/: <h1>My app<\/h1><ul><li><a href="http:\/\/127\.0\.0\.1:\d+\/\?play=live\/embedded">live\/embedded<\/a>/)
    expect(out).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/live\/embedded\.flv: 200 video\/x-flv, starts with "FLV"/)
  }, 60_000)
})
