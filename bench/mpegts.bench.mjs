// MPEG-TS demux and mux (what every SRT publisher and player costs) through the N-API binding.
//
// Input: 10 s of a 2.5 Mbit/s live stream as SRT carries it — H.264 at 30 fps (a 60 KB IDR every
// 2 s, 10 KB P frames) and AAC frames of 370 bytes at 48 kHz — muxed once by Sluice's TsMuxer,
// then cut into 1316-byte SRT payloads.
// - demux, sluice: `TsDemuxer.push` per payload, down to hub frames (AVCC and AAC FLV tag
//   bodies with ms timestamps, sequence headers made from SPS/PPS and ADTS).
// - demux, mux.js 7 (video.js's transmuxer, peer in the same run): TransportPacketStream →
//   TransportParseStream → ElementaryStream, i.e. PES packets with PTS/DTS (less work than ours:
//   no Annex B → AVCC, no FLV bodies).
// - mux, sluice: `TsMuxer.frame` of every hub frame (PAT/PMT, PES, PCR, AUD + SPS/PPS, ADTS).
//   No JavaScript MPEG-TS muxer of note to compare with; reported as MB/s of TS out.
//
//   node --expose-gc bench/mpegts.bench.mjs   (BENCH_TIME ms per task, default 2000)
// Output: a table and results/mpegts.json (MB/s of transport stream, ratio to mux.js).

import { Bench } from 'tinybench'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import muxjs from 'mux.js'
import { binding, here, currentCommit, syntheticLiveStream } from './lib.mjs'

const { TsDemuxer, TsMuxer } = binding
const TIME = Number(process.env.BENCH_TIME ?? 2000)
const SECONDS = 10

const frames = syntheticLiveStream(SECONDS)
const muxer = new TsMuxer()
const ts = Buffer.concat(frames.map(([kind, dts, body]) => muxer.frame(kind, dts, body)).filter(Boolean))
const payloads = []
for (let at = 0; at < ts.length; at += 1316) payloads.push(ts.subarray(at, Math.min(ts.length, at + 1316)))
const mb = ts.length / 1e6
console.log(`source: ${frames.length} frames, ${mb.toFixed(2)} MB of MPEG-TS in ${payloads.length} SRT payloads (${((ts.length * 8) / SECONDS / 1e6).toFixed(2)} Mbit/s)`)

let oursOut = 0
let peerOut = 0
const bench = new Bench({ time: TIME, warmupTime: 300 })
bench.add('demux, sluice (N-API, to hub frames)', () => {
  const d = new TsDemuxer()
  for (const p of payloads) oursOut += d.push(p).length
  oursOut += d.flush().length
})
bench.add('demux, mux.js (to PES)', () => {
  const packets = new muxjs.mp2t.TransportPacketStream()
  const parse = new muxjs.mp2t.TransportParseStream()
  const es = new muxjs.mp2t.ElementaryStream()
  packets.pipe(parse).pipe(es)
  es.on('data', (e) => { if (e.type === 'video' || e.type === 'audio') peerOut++ })
  for (const p of payloads) packets.push(new Uint8Array(p.buffer, p.byteOffset, p.length))
  packets.flush()
})
bench.add('mux, sluice (N-API, from hub frames)', () => {
  const m = new TsMuxer()
  for (const [kind, dts, body] of frames) m.frame(kind, dts, body)
})

await bench.run()
if (oursOut === 0 || peerOut === 0) throw new Error(`a demuxer produced nothing (sluice ${oursOut}, mux.js ${peerOut})`)
const hz = (t) => t.result?.throughput?.mean ?? t.result?.hz ?? 1000 / (t.result?.latency?.mean ?? t.result?.mean)
const [ours, peer, mux] = bench.tasks
const rows = [
  { name: ours.name, mbPerSec: Math.round(hz(ours) * mb), streamSecondsPerSec: Math.round(hz(ours) * SECONDS), ratioToPeer: Math.round((hz(ours) / hz(peer)) * 100) / 100 },
  { name: peer.name, mbPerSec: Math.round(hz(peer) * mb), streamSecondsPerSec: Math.round(hz(peer) * SECONDS) },
  { name: mux.name, mbPerSec: Math.round(hz(mux) * mb), streamSecondsPerSec: Math.round(hz(mux) * SECONDS) },
]
console.table(rows)
const out = { benchmark: 'mpegts', date: new Date().toISOString(), commit: currentCommit(), machine: { cpus: os.cpus()[0]?.model, count: os.cpus().length, node: process.version }, source: { seconds: SECONDS, bytes: ts.length, payloads: payloads.length }, results: rows }
// BENCH_OUT=<file> (bench:check) writes the JSON there instead of results/mpegts.json.
const file = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(here, 'results', 'mpegts.json')
fs.mkdirSync(path.dirname(file), { recursive: true })
fs.writeFileSync(file, JSON.stringify(out, null, 1) + '\n')
