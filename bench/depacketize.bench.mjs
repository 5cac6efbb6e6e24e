// H.264 RTP depacketization (RFC 6184 single NAL unit / FU-A → AVCC access units) through the
// N-API binding, the way WHIP and RTP ingest use it (`RtpDepacketizer.push` per packet, reorder
// buffer and loss tracking included). Peer in the same run: werift's `dePacketizeRtpPackets`
// ("MPEG4/ISO/AVC", after `RtpPacket.deSerialize` of each packet, which it needs).
// Input: access units packetized by Sluice's own packetizer at MTU 1200 (a 50 KB IDR = 43
// packets, a 5 KB P frame = 5 packets), sequence numbers and timestamps advancing each round.
//
//   node --expose-gc bench/depacketize.bench.mjs   (BENCH_TIME ms per task, default 2000)
// Output: a table and results/depacketize.json (access units/s, MB/s of payload, ratio to werift).

import { Bench } from 'tinybench'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { binding, here, currentCommit } from './lib.mjs'
import { RtpPacket, dePacketizeRtpPackets } from 'werift'

const { H264Packetizer, RtpDepacketizer } = binding
const TIME = Number(process.env.BENCH_TIME ?? 2000)

function accessUnit(size, idr) {
  const au = Buffer.allocUnsafe(size + 4)
  au.writeUInt32BE(size, 0)
  let x = idr ? 7 : 11
  for (let i = 4; i < au.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; au[i] = x & 0xff }
  au[4] = idr ? 0x65 : 0x41
  return au
}

const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x23, 0xc6, 0x0c, 0xa8])
const pps = Buffer.from([0x68, 0xce, 0x3c, 0x80])
const record = Buffer.concat([Buffer.from([1, 0x42, 0xc0, 0x1f, 0xff, 0xe1, 0, sps.length]), sps, Buffer.from([1, 0, pps.length]), pps])

/** The RTP packets of one access unit (an IDR gets its SPS/PPS in a STAP-A ahead, RFC 6184 §5.7.1). */
function packetsFor(size, idr) {
  const p = new H264Packetizer(0x1234, 96, 1200)
  p.setParameterSets(record)
  const batch = p.packetize(accessUnit(size, idr), 0)
  const out = []
  let start = 0
  for (const end of batch.ends) { out.push(Buffer.from(batch.data.subarray(start, end))); start = end }
  return out
}

const results = []
const bench = new Bench({ time: TIME, warmupTime: 300 })
for (const [label, size, idr] of [['50 KB IDR', 50_000, true], ['5 KB P frame', 5_000, false]]) {
  const template = packetsFor(size, idr)
  // ours: one depacketizer, sequence numbers/timestamps continued every round
  const ours = new RtpDepacketizer({ codec: 'H264', maxDelayMs: 150 })
  let seq = 0
  let ts = 0
  let now = 0
  let frames = 0
  const feed = (packets) => {
    ts = (ts + 3000) >>> 0
    now += 33
    for (const p of packets) {
      p.writeUInt16BE(seq, 2)
      seq = (seq + 1) & 0xffff
      p.writeUInt32BE(ts, 4)
      frames += ours.push(p, now).frames.length
    }
  }
  feed(packetsFor(50_000, true)) // P frames decode only after an IDR
  const work = template.map((p) => Buffer.from(p))
  bench.add(`depacketize ${label}, sluice (N-API)`, () => feed(work))
  bench.add(`depacketize ${label}, werift`, () => {
    const parsed = template.map((p) => RtpPacket.deSerialize(p))
    const out = dePacketizeRtpPackets('MPEG4/ISO/AVC', parsed)
    if (!out.data || out.data.length === 0) throw new Error('werift produced nothing')
  })
  results.push({ label, size, packets: template.length, check: () => frames })
}

await bench.run()
const rows = []
for (const r of results) {
  const ours = bench.tasks.find((t) => t.name === `depacketize ${r.label}, sluice (N-API)`)
  const peer = bench.tasks.find((t) => t.name === `depacketize ${r.label}, werift`)
  const hz = (t) => t.result?.throughput?.mean ?? t.result?.hz ?? 1000 / (t.result?.latency?.mean ?? t.result?.mean)
  if (r.check() === 0) throw new Error(`our depacketizer produced no access unit for ${r.label}`)
  const o = hz(ours)
  const w = hz(peer)
  rows.push({ name: ours.name, auPerSec: Math.round(o), mbPerSec: Math.round((o * r.size) / 1e6), packetsPerSec: Math.round(o * r.packets), ratioToPeer: Math.round((o / w) * 100) / 100 })
  rows.push({ name: peer.name, auPerSec: Math.round(w), mbPerSec: Math.round((w * r.size) / 1e6), packetsPerSec: Math.round(w * r.packets) })
}
console.table(rows)
const out = { benchmark: 'depacketize', date: new Date().toISOString(), commit: currentCommit(), machine: { cpus: os.cpus()[0]?.model, count: os.cpus().length, node: process.version }, mtu: 1200, results: rows }
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results', 'depacketize.json'), JSON.stringify(out, null, 1) + '\n')
