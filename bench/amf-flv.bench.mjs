#!/usr/bin/env node
// AMF0 decode/encode and FLV tag header parse through the N-API binding, beside
// node-media-server's pure-JS versions in the same run, over what the recorded ffmpeg publish
// session (bench/fixtures/ffmpeg-publish-720p.rtmp) carries:
//   - AMF0: its 8 command/data messages (connect … publish, @setDataFrame/onMetaData) as value
//     lists; ours `decodeAmf0(bytes)` / `encodeAmf0(values)` vs NMS `amf0Decode` / `amf0Encode`
//     (src/protocol/amf.js). Both decoders must give the same values before anything is timed.
//   - FLV tag parse: its 466 audio/video message bodies (FLV §E.4.2.1/§E.4.3.1 headers; AVC
//     and AAC sequence headers also read their configuration records); ours
//     `describeVideoTag`/`describeAudioTag` vs NMS `Flv.parserTag` (src/protocol/flv.js), which
//     builds its AVPacket per message.
//
//   npm run bench:amf   (= node --expose-gc bench/amf-flv.bench.mjs; BENCH_TIME ms per task, default 2000)
// Output: a table and results/amf-flv.json (items/s, AMF0 MB/s, ratio to the peer). FLV tag parse
// reads only the headers of each body, so it has no MB/s.

import { Bench } from 'tinybench'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { binding, here, FIXTURE, decodeRecording, currentCommit } from './lib.mjs'

const { decodeAmf0, encodeAmf0, describeVideoTag, describeAudioTag } = binding
const requireCjs = createRequire(import.meta.url)
const nmsAmf = requireCjs('node-media-server/src/protocol/amf.js')
const NmsFlv = requireCjs('node-media-server/src/protocol/flv.js')
const NMS_VERSION = requireCjs('node-media-server/package.json').version
const TIME = Number(process.env.BENCH_TIME ?? 2000)

const decoded = decodeRecording(fs.readFileSync(FIXTURE))
// Command/data messages as AMF0 value lists (a command: name, transaction id, command object,
// arguments), and their bytes.
const valueLists = decoded.messages
  .filter((m) => m.event && (m.event.kind === 'command' || m.event.kind === 'data'))
  .map(({ event: e }) => (e.kind === 'command' ? [e.name, e.transactionId, e.commandObject ?? null, ...(e.values ?? [])] : e.values))
const amfBytes = valueLists.map((v) => encodeAmf0(v))
const amfTotal = amfBytes.reduce((n, b) => n + b.length, 0)
for (const [i, bytes] of amfBytes.entries()) {
  const ours = JSON.stringify(decodeAmf0(bytes))
  const peer = JSON.stringify(nmsAmf.amf0Decode(bytes))
  if (ours !== peer) throw new Error(`AMF0 message ${i}: node-media-server decodes ${peer}, we decode ${ours}`)
  if (JSON.stringify(decodeAmf0(nmsAmf.amf0Encode(valueLists[i]))) !== ours) throw new Error(`AMF0 message ${i}: node-media-server's encoding decodes differently`)
}

const tags = decoded.messages.filter((m) => m.payload).map((m) => ({ type: m.typeId, ts: m.timestamp, body: Buffer.from(m.payload) }))
const tagBytes = tags.reduce((n, t) => n + t.body.length, 0)

let sink = 0
const tasks = [
  { name: 'AMF0 decode', peer: 'peer: NMS amf0Decode', bytes: amfTotal, items: amfBytes.length, fn: () => { for (const b of amfBytes) sink += decodeAmf0(b).length } },
  { name: 'peer: NMS amf0Decode', bytes: amfTotal, items: amfBytes.length, fn: () => { for (const b of amfBytes) sink += nmsAmf.amf0Decode(b).length } },
  { name: 'AMF0 encode', peer: 'peer: NMS amf0Encode', bytes: amfTotal, items: valueLists.length, fn: () => { for (const v of valueLists) sink += encodeAmf0(v).length } },
  { name: 'peer: NMS amf0Encode', bytes: amfTotal, items: valueLists.length, fn: () => { for (const v of valueLists) sink += nmsAmf.amf0Encode(v).length } },
  {
    name: 'FLV tag parse', peer: 'peer: NMS Flv.parserTag', bytes: null, items: tags.length,
    fn: () => { for (const t of tags) sink += (t.type === 9 ? describeVideoTag(t.body) : describeAudioTag(t.body)) ? 1 : 0 },
  },
  {
    name: 'peer: NMS Flv.parserTag', bytes: null, items: tags.length,
    fn: () => { for (const t of tags) sink += NmsFlv.parserTag(t.type, t.ts, t.body.length, t.body).flags },
  },
]

const bench = new Bench({ name: 'amf-flv', time: TIME, warmupTime: 200 })
for (const t of tasks) bench.add(t.name, t.fn, { beforeAll: () => globalThis.gc?.() })
await bench.run()

const rows = tasks.map((t, i) => {
  const r = bench.tasks[i].result
  if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state} ${r.error?.stack ?? ''}`)
  return {
    name: t.name,
    itemsPerSecMedian: (t.items * 1000) / r.latency.p50,
    mbPerSecMedian: t.bytes === null ? null : (t.bytes * 1000) / r.latency.p50 / 1e6,
    p50Ms: r.latency.p50, rmePercent: r.latency.rme, samples: r.latency.samplesCount,
    itemsPerOp: t.items, bytesPerOp: t.bytes, peerName: t.peer,
  }
})
for (const r of rows) {
  const name = r.peerName
  delete r.peerName
  if (!name) continue
  const p = rows.find((x) => x.name === name)
  r.ratioMedian = r.itemsPerSecMedian / p.itemsPerSecMedian
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
console.log(`AMF0: ${amfBytes.length} command/data messages, ${amfTotal} bytes; FLV: ${tags.length} audio/video bodies, ${tagBytes} bytes; peer node-media-server ${NMS_VERSION}\n`)
console.log('task                      items/s (p50)   MB/s   ±rme  vs peer')
for (const r of rows) {
  console.log(`${r.name.padEnd(24)}  ${fmt(r.itemsPerSecMedian).padStart(13)}  ${(r.mbPerSecMedian === null ? '-' : fmt(r.mbPerSecMedian, 1)).padStart(5)}  ${fmt(r.rmePercent, 1).padStart(4)}%  ${r.ratioMedian ? `${fmt(r.ratioMedian, 2)}×` : ''}`)
}
console.log('\nvs peer = our median items/s ÷ node-media-server\'s, same inputs, same process (above 1×: we are faster)')

const out = path.join(here, 'results', 'amf-flv.json')
fs.writeFileSync(out, JSON.stringify({
  benchmark: 'amf-flv', timeBudgetMs: TIME, peer: { package: 'node-media-server', version: NMS_VERSION },
  loadAverage: os.loadavg(), results: rows,
  machine: { cpus: os.cpus()[0]?.model ?? 'unknown', cpuCount: os.cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
  commit: currentCommit(), date: new Date().toISOString(),
}, null, 2) + '\n')
console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
if (Number.isNaN(sink)) console.log(sink)
