/**
 * The native WHEP transport against two more independent WebRTC stacks besides Chromium
 * (whep.e2e.test.ts): libdatachannel (node-datachannel clients of bench/load/whep-viewers.mjs,
 * with 1 % of video datagrams dropped before SRTP, every gap to be filled by NACK) and werift
 * (a pure-TypeScript stack, counting every video packet by sequence number).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift'
import { run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

describe('native WHEP transport interop', () => {
  it('node-datachannel viewers receive every video packet, 1 % loss repaired by NACK', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sluice-interop-')), 'viewers.json')
    // Not spawnSync: the werift test's server and publisher (beforeAll) live in this process, and
    // a 12 s block of its event loop let the hub's silent-publisher check (5 s) close the
    // publisher before its queued media was read (seen once in CI).
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bench/load/whep-viewers.mjs', '--spawn', '--transport', 'native', '--viewers', '4', '--duration', '8', '--drop-rate', '0.01', '--json', out], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000 })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      child.once('close', (status) => resolve({ status, stdout, stderr }))
    })
    console.log(r.stderr.split('\n').filter((l) => l.startsWith('whep-viewers:')).join('\n'))
    // Exit 0: every viewer connected, every video packet of the window arrived (gaps filled by NACK).
    expect(r.status, r.stdout.slice(-3000) + r.stderr.slice(-2000)).toBe(0)
    const result = JSON.parse(readFileSync(out, 'utf8')) as { viewers: { state: string; lost: number; filledByNack: number; unrecovered: number }[] }
    expect(result.viewers.map((v) => v.state)).toEqual(['connected', 'connected', 'connected', 'connected'])
    expect(result.viewers.every((v) => v.unrecovered === 0 && v.filledByNack === v.lost)).toBe(true)
    expect(result.viewers.reduce((n, v) => n + v.lost, 0), 'losses simulated').toBeGreaterThan(0)
  }, 120_000)

  let server: TestServer
  let pub: Proc
  beforeAll(async () => {
    server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', transport: 'native', udpPort: 0 } })
    pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '30', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '0', '-c:a', 'aac', '-f', 'flv', server.rtmpUrl('live/werift')])
    await waitFor(() => server.logs.find((l) => l.msg === 'publish started'), 10_000, 'publisher')
  }, 30_000)
  afterAll(async () => {
    pub?.child.kill('SIGKILL')
    await server?.close()
  })

  it('a werift viewer connects (ICE-lite, DTLS-SRTP) and receives video without a gap', async () => {
    const pc = new RTCPeerConnection({
      iceUseIpv6: false,
      codecs: {
        video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }], parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1' })],
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
      },
    })
    const seqs: number[] = []
    let audioPackets = 0
    const video = pc.addTransceiver('video', { direction: 'recvonly' })
    const audio = pc.addTransceiver('audio', { direction: 'recvonly' })
    video.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => seqs.push(rtp.header.sequenceNumber)))
    audio.onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => audioPackets++))
    await pc.setLocalDescription(await pc.createOffer())
    await waitFor(() => pc.iceGatheringState === 'complete', 5000, 'werift gathering')
    const r = await fetch(server.httpUrl('/whep/live/werift'), { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription!.sdp })
    expect(r.status, await r.clone().text()).toBe(201)
    await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() })
    await waitFor(() => pc.connectionState === 'connected', 10_000, 'werift connected')
    await new Promise((res) => setTimeout(res, 4000))
    await pc.close()
    // Sequence numbers, unwrapped, in arrival order: a GOP replay then live, no gap.
    const unique = [...new Set(seqs)]
    const extended: number[] = []
    for (const s of unique) {
      const last = extended[extended.length - 1]
      extended.push(last === undefined ? s : last + ((((s - last) & 0xffff) ^ 0x8000) - 0x8000))
    }
    const sorted = [...extended].sort((a, b) => a - b)
    const missing = sorted[sorted.length - 1]! - sorted[0]! + 1 - sorted.length
    console.log('werift viewer: video packets', seqs.length, 'distinct', unique.length, 'missing', missing, 'audio packets', audioPackets)
    expect(unique.length).toBeGreaterThan(200)
    expect(missing).toBe(0)
    expect(audioPackets).toBeGreaterThan(100)
  }, 60_000)
})
