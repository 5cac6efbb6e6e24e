/**
 * H.265 over RTP (RFC 7798) against a real receiver: ffmpeg's H.265 encode (MPEG-TS, turned
 * into hub frames by the native TS demuxer) packetized by Sluice's `H265Packetizer` (parameter
 * sets from the `hvcC` in front of IRAP access units, aggregation packets, fragmentation units)
 * and sent over loopback UDP to ffmpeg reading an SDP; ffmpeg decodes the frames as the source's.
 * This is what WHEP viewers that offer H.265 (Safari, hardware-decoding Chrome) get.
 */
import dgram from 'node:dgram'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { run, runOk } from './helpers/ffmpeg'
import { native } from '../dist/native.js'

const dir = mkdtempSync(join(tmpdir(), 'sluice-h265-'))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function freeEvenPort(): Promise<number> {
  for (;;) {
    const s = dgram.createSocket('udp4')
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))
    const port = s.address().port
    s.close()
    if (port % 2 === 0 && port < 65534) return port
  }
}

const hashes = (out: string) => out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',')[5]!.trim())

describe('H.265 RTP packetizer (RFC 7798)', () => {
  it('ffmpeg receiving the RTP decodes every frame of the source, frame for frame', async () => {
    const ts = join(dir, 'hevc.ts')
    // 1280x720 intra frames are larger than a packet: fragmentation units; VPS/SPS/PPS go aggregated
    await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-t', '3',
      '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=25:bframes=0', '-f', 'mpegts', ts])
    const source = hashes(await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-i', ts, '-f', 'framemd5', '-']))
    const demuxer = new native.TsDemuxer()
    const frames = [...demuxer.push(readFileSync(ts)), ...demuxer.flush()].filter((f) => f.kind === 'video')
    const port = await freeEvenPort()
    const sdp = join(dir, 'h265.sdp')
    writeFileSync(sdp, ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=video ${port} RTP/AVP 96`, 'a=rtpmap:96 H265/90000', ''].join('\n'))
    const receiver = run('ffmpeg', ['-hide_banner', '-v', 'error', '-protocol_whitelist', 'file,udp,rtp', '-i', sdp, '-f', 'framemd5', join(dir, 'received.txt')])
    await sleep(1000)
    const packetizer = new native.H265Packetizer(0x1234, 96, 1200)
    const socket = dgram.createSocket('udp4')
    let packets = 0
    let fragments = 0
    let aggregates = 0
    for (const f of frames) {
      const p = Buffer.from(f.payload)
      const packetType = p[0]! & 0x0f
      if (f.sequenceHeader) {
        packetizer.setDecoderConfig(p.subarray(5))
        continue
      }
      const batch = packetizer.packetize(p.subarray(packetType === 1 ? 8 : 5), (f.dts * 90) >>> 0)
      let start = 0
      for (const end of batch.ends) {
        const packet = batch.data.subarray(start, end)
        const type = (packet[12]! >> 1) & 0x3f
        if (type === 49) fragments++
        if (type === 48) aggregates++
        socket.send(packet, port, '127.0.0.1')
        packets++
        start = end
      }
      await sleep(40)
    }
    await sleep(1000)
    socket.close()
    receiver.child.kill('SIGINT')
    await receiver.exited
    const received = hashes(readFileSync(join(dir, 'received.txt'), 'utf8'))
    console.log(`H.265 over RTP: ${frames.length - 1} access units in ${packets} packets (${aggregates} aggregation packets, ${fragments} fragmentation units); ffmpeg decoded ${received.length} of ${source.length} frames`)
    expect(aggregates).toBeGreaterThanOrEqual(3)
    expect(fragments).toBeGreaterThan(10)
    // every frame from the first on; the last one or two stay in ffmpeg's RTP reorder queue and
    // decoder when it is stopped (it cannot know the stream ended)
    expect(received.length).toBeGreaterThanOrEqual(source.length - 2)
    expect(received).toEqual(source.slice(0, received.length))
  }, 60_000)
})
