// Fragmented MP4 for recordings and LL-HLS: what a recorded or HLS-served stream costs.
//
// Input: 10 s of the synthetic 2.5 Mbit/s live stream (bench/lib.mjs: H.264 at 30 fps with a
// 60 KB IDR every 2 s, AAC at 48 kHz) as hub frames.
// - record, sluice: `Fmp4Muxer` (crates/mp4 on mp4-atom, N-API) as recordings drive it: every
//   frame pushed, a fragment (moof + mdat) cut before each keyframe, i.e. one per GOP.
// - record, mediabunny 1.61 (peer in the same run): `Output` with `Mp4OutputFormat({ fastStart:
//   'fragmented', minimumFragmentDuration: 1.9 })` into a `BufferTarget`, the same frames as
//   `EncodedPacket`s (video `avc`, audio `aac`, decoder configs on the first), one fragment per
//   GOP, finalized. Mediabunny cuts fragments at key frames only, so it has no LL-HLS parts.
// - LL-HLS, sluice: a hub stream with one `HlsStream` subscribed (200 ms parts, 2 s segments,
//   6 kept), the frames pushed through the hub: muxing, part and segment bookkeeping, all of
//   what a served stream costs apart from requests. Reported as µs per part and as the share of
//   one core a live stream takes.
//
//   node --expose-gc bench/mp4.bench.mjs   (BENCH_TIME ms per task, default 2000)
// Output: a table and results/mp4.json (MB/s of MP4 out, stream seconds per second, ratios).

import { Bench } from 'tinybench'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { Output, Mp4OutputFormat, BufferTarget, EncodedVideoPacketSource, EncodedAudioPacketSource, EncodedPacket } from 'mediabunny'
import { binding, here, root, currentCommit, syntheticLiveStream } from './lib.mjs'

const require = createRequire(import.meta.url)
const { StreamHub, HlsStream, createLogger } = require(path.join(root, 'dist', 'index.js'))
const { Fmp4Muxer } = binding
const TIME = Number(process.env.BENCH_TIME ?? 2000)
const SECONDS = 10
const frames = syntheticLiveStream(SECONDS)
const isKey = (kind, body) => kind === 'video' && body[0] === 0x17 && body[1] === 1

/** Ours, as a recording: returns the MP4 bytes written. */
function recordSluice() {
  const m = new Fmp4Muxer()
  let bytes = 0
  let init = false
  for (const [kind, dts, body] of frames) {
    if (isKey(kind, body) && init) {
      const f = m.fragment(dts)
      if (f) bytes += f.data.length
    }
    m.push(kind, body, dts)
    if (!init && m.video && m.audio) {
      bytes += m.initSegment().length
      init = true
    }
  }
  const f = m.finish()
  if (f) bytes += f.data.length
  return bytes
}

// Mediabunny's inputs: the same frames as codec payloads (AVCC access units, raw AAC).
const avcC = frames[0][2].subarray(5)
const asc = frames[1][2].subarray(2)
const VIDEO_FRAME_S = 1 / 30
const AUDIO_FRAME_S = 1024 / 48000
const peerPackets = frames.slice(2).map(([kind, dts, body]) => {
  const key = kind === 'audio' || isKey(kind, body)
  const data = kind === 'video' ? body.subarray(5) : body.subarray(2)
  return { kind, packet: new EncodedPacket(new Uint8Array(data.buffer, data.byteOffset, data.length), key ? 'key' : 'delta', dts / 1000, kind === 'video' ? VIDEO_FRAME_S : AUDIO_FRAME_S) }
})

/** The peer, as a recording: returns the MP4 bytes written. */
async function recordMediabunny() {
  const output = new Output({ format: new Mp4OutputFormat({ fastStart: 'fragmented', minimumFragmentDuration: 1.9 }), target: new BufferTarget() })
  const video = new EncodedVideoPacketSource('avc')
  const audio = new EncodedAudioPacketSource('aac')
  output.addVideoTrack(video, { frameRate: 30 })
  output.addAudioTrack(audio)
  await output.start()
  let firstVideo = true
  let firstAudio = true
  for (const { kind, packet } of peerPackets) {
    if (kind === 'video') {
      await video.add(packet, firstVideo ? { decoderConfig: { codec: 'avc1.64001f', codedWidth: 1280, codedHeight: 720, description: avcC } } : undefined)
      firstVideo = false
    } else {
      await audio.add(packet, firstAudio ? { decoderConfig: { codec: 'mp4a.40.2', numberOfChannels: 2, sampleRate: 48000, description: asc } } : undefined)
      firstAudio = false
    }
  }
  await output.finalize()
  return output.target.buffer.byteLength
}

/** Ours, as an LL-HLS stream: returns the parts made. */
const log = createLogger({ level: 'silent' })
let hlsRun = 0
function hlsSluice() {
  const hub = new StreamHub()
  const name = `s${hlsRun++}`
  const stream = hub.publish('bench', name, { id: 'bench', protocol: 'bench', remoteAddress: '127.0.0.1', close() {} })
  const hls = new HlsStream('bench', stream, { segmentMs: 2000, partMs: 200, segments: 6 }, log)
  hub.subscribe('bench', name, hls)
  for (const [kind, dts, body] of frames) stream.pushFrame(kind, dts, body, isKey(kind, body), body[1] === 0, 0)
  const parts = hls.segments.reduce((n, s) => n + s.parts.length, 0)
  hls.close()
  return parts
}

const oursBytes = recordSluice()
const peerBytes = await recordMediabunny()
const parts = hlsSluice()
console.log(`source: ${frames.length} frames, ${SECONDS} s; fMP4 out: sluice ${oursBytes} bytes, mediabunny ${peerBytes} bytes; LL-HLS: ${parts} parts`)

const bench = new Bench({ time: TIME, warmupTime: 300 })
bench.add('record, sluice (Fmp4Muxer, N-API, fragment per GOP)', () => { recordSluice() })
bench.add('record, mediabunny 1.61 (fragmented MP4, fragment per GOP)', async () => { await recordMediabunny() })
bench.add('LL-HLS, sluice (HlsStream: 200 ms parts, 2 s segments, via the hub)', () => { hlsSluice() })
await bench.run()

const hz = (t) => t.result?.throughput?.mean ?? t.result?.hz ?? 1000 / (t.result?.latency?.mean ?? t.result?.mean)
const rme = (t) => Math.round((t.result?.latency?.rme ?? t.result?.rme ?? 0) * 10) / 10
const [ours, peer, hls] = bench.tasks
const rows = [
  { name: ours.name, mbPerSec: Math.round((hz(ours) * oursBytes) / 1e6), streamSecondsPerSec: Math.round(hz(ours) * SECONDS), ratioToPeer: Math.round((hz(ours) / hz(peer)) * 100) / 100, rmePercent: rme(ours) },
  { name: peer.name, mbPerSec: Math.round((hz(peer) * peerBytes) / 1e6), streamSecondsPerSec: Math.round(hz(peer) * SECONDS), rmePercent: rme(peer) },
  { name: hls.name, streamSecondsPerSec: Math.round(hz(hls) * SECONDS), usPerPart: Math.round(1e6 / hz(hls) / parts), coreSharePerStreamPercent: Math.round((100 / (hz(hls) * SECONDS)) * 1000) / 1000, rmePercent: rme(hls) },
]
console.table(rows)
const out = { benchmark: 'mp4', date: new Date().toISOString(), commit: currentCommit(), machine: { cpus: os.cpus()[0]?.model, count: os.cpus().length, node: process.version }, source: { seconds: SECONDS, frames: frames.length, oursBytes, peerBytes, parts }, results: rows }
// BENCH_OUT=<file> (bench:check) writes the JSON there instead of results/mp4.json.
const file = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(here, 'results', 'mp4.json')
fs.mkdirSync(path.dirname(file), { recursive: true })
fs.writeFileSync(file, JSON.stringify(out, null, 1) + '\n')
