#!/usr/bin/env node
// RTMP chunk demux/mux throughput through N-API, over a recorded ffmpeg publish session.
//
//   npm run bench            (= node --expose-gc bench/chunk.bench.mjs)
//   BENCH_TIME=5000 npm run bench     longer time budget per task (ms)
//   npm run bench:check      short run compared with bench/baseline/chunk.json (bench/check.mjs)
//
// Env: BENCH_TIME, BENCH_WARMUP, BENCH_DIAG_TIME (ms); BENCH_ROUNDS (default 5: the main tasks run
// in that many rounds of BENCH_TIME / rounds, ratios taken per round); BENCH_DIAGNOSTICS=0 skips the diagnostics;
// BENCH_OUT=<file> writes the JSON there instead of bench/results/chunk.json;
// BENCH_SEED_REGRESSION=1 makes our demux do its work twice (a second session fed the same reads;
// only to prove bench:check fails).
//
// Prints a table and writes bench/results/chunk.json. See bench/README.md.

import { runRounds, ratioPerRound } from './rounds.mjs'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { here, binding, FIXTURE, decodeRecording, clientHandshake, synthesizeStream, currentCommit } from './lib.mjs'

const { RtmpSession, muxMessage, RTMP_FEED_DETAILS, RTMP_FEED_COUNT_SHIFT } = binding
// Peer: node-media-server v4's RTMP protocol class (pure JS, no socket: it hands what it would
// send to onOutputCallback). Its version goes into the JSON.
const requireCjs = createRequire(import.meta.url)
const NmsRtmp = requireCjs('node-media-server/src/protocol/rtmp.js')
const NMS_VERSION = requireCjs('node-media-server/package.json').version

const TIME = Number(process.env.BENCH_TIME ?? 2000)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 200)
const DIAG_TIME = Number(process.env.BENCH_DIAG_TIME ?? Math.min(TIME, 1000))
const DIAGNOSTICS = process.env.BENCH_DIAGNOSTICS !== '0'
const SEED_REGRESSION = process.env.BENCH_SEED_REGRESSION === '1'
const RESULTS = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(here, 'results', 'chunk.json')
const MB = 1e6 // MB/s in this file = 10^6 bytes per second

if (!fs.existsSync(FIXTURE)) {
  console.error(`missing ${FIXTURE}: run node bench/record-session.mjs first`)
  process.exit(1)
}
const recording = fs.readFileSync(FIXTURE)

// ---------------------------------------------------------------------------------------------
// Inputs, built and checked once before anything is timed.

/** The recording cut into socket-read-sized views (no copies). */
function slices(bytes, size) {
  const out = []
  for (let off = 0; off < bytes.length; off += size) out.push(bytes.subarray(off, off + size))
  return out
}

/** Feeds `reads` to a fresh server session with `feed()`; returns the number of media messages and events. */
function demux(reads) {
  const s = new RtmpSession()
  // BENCH_SEED_REGRESSION=1: a second session decodes every read too, a deliberate 2× slowdown of
  // our path only. (An extra copy of each read, the earlier seed, had become too cheap next to
  // the demux to cross the 25 % tolerance reliably: −10 to −17 % on 2026-11-22.)
  const seed = SEED_REGRESSION ? new RtmpSession() : null
  let messages = 0
  for (let i = 0; i < reads.length; i++) {
    seed?.feed(reads[i])
    messages += count(s, s.feed(reads[i]))
  }
  s.release() // as the server does when the connection closes
  seed?.release()
  return messages
}

/** Media messages plus events of one read (`r`: what feed()/feedInPlace() returned), as a server takes them. */
function count(s, r) {
  let n = r >>> RTMP_FEED_COUNT_SHIFT
  if (r & RTMP_FEED_DETAILS) {
    const d = s.takeDetails()
    if (d?.errorCode) throw new Error(`${d.errorCode}: ${d.errorMessage}`)
    n += d?.events ? d.events.length : 0
  }
  return n
}

/**
 * The server's path: each read is copied into its read buffer just before `feedInPlace()` (as
 * the kernel fills a socket read's fresh buffer, so its bytes are in cache), and only our part
 * is timed: the session, every `feedInPlace()` and `release()`. Returns the messages and the ms
 * spent. `buffers` are the read buffers, reused from pass to pass (nothing keeps the views).
 */
function demuxInPlace(reads, buffers) {
  let busy = 0
  let t0 = performance.now()
  const s = new RtmpSession()
  const seed = SEED_REGRESSION ? new RtmpSession() : null
  let messages = 0
  for (let i = 0; i < reads.length; i++) {
    busy += performance.now() - t0
    buffers[i].set(reads[i])
    t0 = performance.now()
    seed?.feed(reads[i])
    messages += count(s, s.feedInPlace(buffers[i]))
  }
  s.release()
  seed?.release()
  busy += performance.now() - t0
  return { messages, busy }
}

/** Each read copied into a Buffer over an ArrayBuffer of its own size, as Node hands over a socket read. */
function freshReads(reads) {
  return reads.map((r) => {
    const b = Buffer.allocUnsafeSlow(r.length)
    b.set(r)
    return b
  })
}

/**
 * The same reads through node-media-server's parser: a fresh instance, no-op callbacks.
 * Returns the number of audio/video messages it delivered (`parserData` parses the handshake,
 * every chunk, AMF0 commands and FLV tag headers, and answers connect/publish into
 * onOutputCallback). `collect` (untimed check only) receives each audio/video packet.
 */
const noop = () => {}
function peerDemux(reads, collect) {
  const rtmp = new NmsRtmp()
  let messages = 0
  rtmp.onConnectCallback = noop
  rtmp.onPlayCallback = noop
  rtmp.onPushCallback = noop
  rtmp.onOutputCallback = noop
  rtmp.onPacketCallback = collect
    ? (p) => { if (p.codec_type === 8 || p.codec_type === 9) { messages++; collect(p) } }
    : (p) => { if (p.codec_type === 8 || p.codec_type === 9) messages++ }
  for (let i = 0; i < reads.length; i++) {
    const err = rtmp.parserData(reads[i])
    if (err) throw new Error(`node-media-server: ${err}`)
  }
  return messages
}

const decoded = decodeRecording(recording)
const av = decoded.messages.filter((m) => m.payload)
const avPayloadBytes = av.reduce((n, m) => n + m.payload.length, 0)
// Copy the payloads out of the big `media` Buffers so mux inputs are independent small Buffers.
const muxInputs = av.map((m) => ({ ...m, payload: Buffer.from(m.payload), csid: m.typeId === 8 ? 4 : 6 }))

const synthetic = {}
for (const size of [128, 4096]) {
  const stream = synthesizeStream(decoded.messages, size)
  // The synthetic stream must decode to the same audio/video messages as the recording.
  const back = decodeRecording(stream).messages.filter((m) => m.payload)
  if (back.length !== av.length || back.some((m, i) => m.timestamp !== av[i].timestamp || !m.payload.equals(av[i].payload))) {
    throw new Error(`synthetic stream at chunk size ${size} does not round-trip`)
  }
  synthetic[size] = stream
}

const inputs = {
  recorded64k: slices(recording, 64 * 1024),
  recorded1460: slices(recording, 1460),
  synth128: slices(synthetic[128], 64 * 1024),
  synth4096: slices(synthetic[4096], 64 * 1024),
}
// Messages per pass (the handshake event not counted); each input is also fed once untimed.
const messagesPer = {
  recorded64k: decoded.messages.length,
  recorded1460: decodeRecording(recording, 1460).messages.length,
  synth128: decodeRecording(synthetic[128]).messages.length,
  synth4096: decodeRecording(synthetic[4096]).messages.length,
}
const readBuffers = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, freshReads(v)]))
for (const [k, v] of Object.entries(inputs)) {
  if (demuxInPlace(v, readBuffers[k]).messages !== demux(v)) throw new Error(`${k}: feedInPlace() and feed() disagree`)
}
// The peer must see the same audio/video messages (count, timestamps, payload bytes) as we do.
for (const key of ['recorded64k', 'synth128']) {
  let i = 0
  let bad = null
  const n = peerDemux(inputs[key], (p) => {
    const m = av[i++]
    if (!bad && (!m || p.dts !== m.timestamp || !p.data.subarray(0, p.size).equals(m.payload))) bad = i - 1
  })
  if (n !== av.length || bad !== null) throw new Error(`node-media-server on ${key}: ${n} of ${av.length} A/V messages, first mismatch ${bad}`)
}

// A session past its handshake, for the per-call floor.
const { c0c1, c2 } = clientHandshake()
const idle = new RtmpSession()
idle.feed(Buffer.concat([c0c1, c2]))
idle.takeDetails()
const EMPTY = new Uint8Array(0)
const FLOOR_CALLS = 1000

/** Reference: the same fmt 0 + fmt 3 layout as muxMessage, in JS (csid 2-63, no extended ts). */
function jsMux(csid, timestamp, typeId, msid, payload, chunkSize) {
  const pieces = Math.max(1, Math.ceil(payload.length / chunkSize))
  const out = Buffer.allocUnsafe(12 + payload.length + (pieces - 1))
  out[0] = csid
  out.writeUIntBE(timestamp & 0xffffff, 1, 3)
  out.writeUIntBE(payload.length, 4, 3)
  out[7] = typeId
  out.writeUInt32LE(msid, 8)
  let at = 12
  for (let off = 0; off < payload.length; off += chunkSize) {
    if (off > 0) out[at++] = 0xc0 | csid
    at += payload.copy(out, at, off, Math.min(off + chunkSize, payload.length))
  }
  return out
}
{
  const m = muxInputs.find((x) => x.payload.length > 9000)
  if (!jsMux(m.csid, m.timestamp, m.typeId, m.msid, m.payload, 4096).equals(muxMessage(m.csid, m.timestamp, m.typeId, m.msid, m.payload, 4096))) {
    throw new Error('JS reference mux differs from muxMessage')
  }
}

// ---------------------------------------------------------------------------------------------
// Tasks. `bytes` is what MB/s counts per iteration, `messages` what messages/s counts.

let sink = 0

/**
 * One event-loop turn. Node frees the memory behind Buffers that Rust hands over (napi external
 * buffers: feed()'s payload slabs and transmit, muxMessage's output) in a finalizer it runs from
 * setImmediate, so a loop that never yields keeps every one of them alive and each new
 * allocation touches fresh pages. A server yields between socket reads; every task below ends
 * its iteration with a turn, inside the timed section, so the cost of freeing is counted.
 */
const turn = () => new Promise((resolve) => setImmediate(resolve))

const muxAll = (mux, list) => {
  for (let i = 0; i < list.length; i++) {
    const m = list[i]
    sink += mux(m.csid, m.timestamp, m.typeId, m.msid, m.payload, 4096).length
  }
}
const audioInputs = muxInputs.filter((m) => m.typeId === 8)
const audioBytes = audioInputs.reduce((n, m) => n + m.payload.length, 0)

// Demux rows: `feedInPlace()` is what the server does with socket reads (it reassembles
// messages inside the read, see `demuxInPlace`); `feed()` only reads its input and copies every
// payload into a slab.
const inPlaceTask = (key) => ({
  fn: async () => {
    const { messages, busy } = demuxInPlace(inputs[key], readBuffers[key])
    sink += messages
    const t0 = performance.now()
    await turn()
    return { overriddenDuration: busy + performance.now() - t0 }
  },
})
const tasks = [
  {
    name: 'demux recorded, 64 KiB reads',
    bytes: recording.length, messages: messagesPer.recorded64k,
    note: `${inputs.recorded64k.length} feedInPlace() calls`,
    peer: 'peer: NMS demux recorded, 64 KiB reads',
    ...inPlaceTask('recorded64k'),
  },
  {
    name: 'demux recorded, 64 KiB reads, copying feed()',
    checked: false,
    bytes: recording.length, messages: messagesPer.recorded64k,
    note: `${inputs.recorded64k.length} feed() calls`,
    peer: 'peer: NMS demux recorded, 64 KiB reads',
    fn: async () => { sink += demux(inputs.recorded64k); await turn() },
  },
  {
    name: 'peer: NMS demux recorded, 64 KiB reads',
    bytes: recording.length, messages: messagesPer.recorded64k,
    note: `node-media-server ${NMS_VERSION} parserData()`,
    fn: async () => { sink += peerDemux(inputs.recorded64k); await turn() },
  },
  {
    name: 'demux re-chunked 128 B, 64 KiB reads',
    bytes: synthetic[128].length, messages: messagesPer.synth128,
    note: `${inputs.synth128.length} feedInPlace() calls`,
    peer: 'peer: NMS demux re-chunked 128 B, 64 KiB reads',
    ...inPlaceTask('synth128'),
  },
  {
    name: 'demux re-chunked 128 B, 64 KiB reads, copying feed()',
    checked: false,
    bytes: synthetic[128].length, messages: messagesPer.synth128,
    note: `${inputs.synth128.length} feed() calls`,
    peer: 'peer: NMS demux re-chunked 128 B, 64 KiB reads',
    fn: async () => { sink += demux(inputs.synth128); await turn() },
  },
  {
    name: 'peer: NMS demux re-chunked 128 B, 64 KiB reads',
    bytes: synthetic[128].length, messages: messagesPer.synth128,
    note: `node-media-server ${NMS_VERSION} parserData()`,
    fn: async () => { sink += peerDemux(inputs.synth128); await turn() },
  },
  {
    name: 'demux re-chunked 4096 B, 64 KiB reads',
    bytes: synthetic[4096].length, messages: messagesPer.synth4096,
    note: `${inputs.synth4096.length} feedInPlace() calls`,
    ...inPlaceTask('synth4096'),
  },
  {
    name: 'mux A/V at 4096 B (muxMessage)',
    bytes: avPayloadBytes, messages: muxInputs.length,
    note: 'MB/s of payload',
    fn: async () => { muxAll(muxMessage, muxInputs); await turn() },
  },
]

// Diagnostics: where the time goes (shorter budget).
const diagnostics = [
  {
    name: 'diag: demux recorded, 1460 B reads',
    bytes: recording.length, messages: messagesPer.recorded1460,
    note: `${inputs.recorded1460.length} feedInPlace() calls`,
    ...inPlaceTask('recorded1460'),
  },
  {
    name: `diag: feed(empty) x${FLOOR_CALLS}`,
    bytes: 0, messages: 0, calls: FLOOR_CALLS,
    note: 'per-call floor',
    fn: async () => {
      for (let i = 0; i < FLOOR_CALLS; i++) sink += idle.feed(EMPTY)
      await turn()
    },
  },
  {
    name: 'diag: muxMessage, audio only',
    bytes: audioBytes, messages: audioInputs.length,
    note: `${Math.round(audioBytes / audioInputs.length)} B per message`,
    fn: async () => { muxAll(muxMessage, audioInputs); await turn() },
  },
  {
    name: 'diag: mux A/V at 4096 B, JS reference',
    bytes: avPayloadBytes, messages: muxInputs.length,
    note: 'Buffer.allocUnsafe + copy',
    fn: async () => { muxAll(jsMux, muxInputs); await turn() },
  },
  {
    name: 'diag: memcpy of the recording',
    bytes: recording.length, messages: 0,
    note: 'Buffer.from(recording)',
    fn: async () => { sink += Buffer.from(recording).length; await turn() },
  },
]

console.log(`recording: ${path.relative(process.cwd(), FIXTURE)}, ${recording.length} bytes, ${decoded.messages.length} messages ` +
  `(${av.length} audio/video, ${avPayloadBytes} payload bytes), peer chunk size ${decoded.peerChunkSize}`)
console.log(`re-chunked: 128 B → ${synthetic[128].length} bytes, 4096 B → ${synthetic[4096].length} bytes`)
console.log(`time budget ${TIME} ms per task, ${DIAGNOSTICS ? `${DIAG_TIME} ms per diagnostic` : 'no diagnostics'}` +
  `${globalThis.gc ? '' : ' (run with --expose-gc to collect between tasks)'}; peer: node-media-server ${NMS_VERSION}\n`)
if (SEED_REGRESSION) console.log('BENCH_SEED_REGRESSION=1: our demux decodes every read twice (deliberate 2× slowdown)\n')

/**
 * The same work with and without an event-loop turn between iterations: time per iteration,
 * RSS growth and what it does to throughput (see `turn`).
 */
async function withoutTurns(name, bytes, work, iterations) {
  const out = { name, iterations }
  for (const yieldEach of [false, true]) {
    await turn()
    globalThis.gc?.()
    await turn()
    const rss0 = process.memoryUsage().rss
    const faults0 = process.resourceUsage().minorPageFault
    let elapsed = 0
    for (let i = 0; i < iterations; i++) {
      if (yieldEach) await turn()
      const t0 = performance.now()
      work()
      elapsed += performance.now() - t0
    }
    const key = yieldEach ? 'withTurns' : 'noTurns'
    out[key] = {
      msPerIteration: elapsed / iterations,
      mbPerSec: (bytes * iterations) / (elapsed / 1000) / MB,
      rssGrowthMB: (process.memoryUsage().rss - rss0) / MB,
      pageFaultsPerIteration: (process.resourceUsage().minorPageFault - faults0) / iterations,
    }
  }
  await turn()
  globalThis.gc?.()
  return out
}
// Run first, in a fresh heap, so RSS growth is not hidden by memory freed by earlier tasks.
const finalizerDiag = DIAGNOSTICS ? [
  await withoutTurns('demux recorded, 64 KiB reads, copying feed()', recording.length, () => { sink += demux(inputs.recorded64k) }, 40),
  await withoutTurns('mux A/V at 4096 B (muxMessage)', avPayloadBytes, () => muxAll(muxMessage, muxInputs), 40),
] : []

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const benches = [
  [tasks, await runRounds('sluice chunk', tasks, { time: TIME, rounds: ROUNDS, warmup: WARMUP })],
  ...(DIAGNOSTICS ? [[diagnostics, await runRounds('sluice chunk diagnostics', diagnostics, { time: DIAG_TIME, rounds: 1, warmup: WARMUP })]] : []),
]

// ---------------------------------------------------------------------------------------------
// Report.

const rows = benches.flatMap(([list, results]) => list.map((t, i) => [t, results[i]])).map(([t, r]) => {
  const meanMs = r.mean
  const opsPerSec = 1000 / meanMs
  return {
    name: t.name,
    opsPerSec,
    mbPerSec: t.bytes ? (t.bytes * opsPerSec) / MB : null,
    mbPerSecMedian: t.bytes ? (t.bytes * 1000) / r.p50 / MB : null,
    messagesPerSec: t.messages ? t.messages * opsPerSec : null,
    samples: r.samples,
    meanMs,
    p50Ms: r.p50,
    p50MsPerRound: r.p50s,
    rmePercent: r.rme,
    bytesPerOp: t.bytes,
    messagesPerOp: t.messages,
    ...(t.calls ? { nsPerCall: (meanMs * 1e6) / t.calls } : {}),
    note: t.note,
    peerName: t.peer,
    ...(t.checked === false ? { checked: false } : {}),
  }
})
// Our rows that have a peer get `peer` (its numbers) and `ratio`: per round, our median MB/s / the
// peer's median MB/s (same bytes, so = peer p50 ms / our p50 ms), and the median of those
// (`ratioPerRound` holds them all). Medians, not means: on a shared machine a few slow iterations
// move the mean by 20-30 % from run to run, the median much less.
for (const r of rows) {
  const name = r.peerName
  delete r.peerName
  if (!name) continue
  const p = rows.find((x) => x.name === name)
  r.peer = { name: p.name, mbPerSec: p.mbPerSec, mbPerSecMedian: p.mbPerSecMedian, messagesPerSec: p.messagesPerSec, p50Ms: p.p50Ms, rmePercent: p.rmePercent }
  const { perRound, median } = ratioPerRound({ p50s: r.p50MsPerRound }, { p50s: p.p50MsPerRound })
  r.ratioPerRound = perRound
  r.ratio = median
}

// The same demux in a Rust loop without N-API (crates/rtmp/examples/demux_throughput.rs: a fresh
// server Session per pass, 64 KiB reads, every event polled, in place and copying): the gap to our rows above is what
// crossing into JS costs (result objects, payload slabs handed out as Buffers). Diagnostics only.
let rustLoop = null
if (DIAGNOSTICS) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-chunk-'))
  try {
    const files = { 'demux recorded, 64 KiB reads': FIXTURE }
    for (const size of [128, 4096]) {
      files[`demux re-chunked ${size} B, 64 KiB reads`] = path.join(dir, `rechunked-${size}.rtmp`)
      fs.writeFileSync(files[`demux re-chunked ${size} B, 64 KiB reads`], synthetic[size])
    }
    const out = JSON.parse(execFileSync('cargo', ['run', '--quiet', '--release', '-p', 'sluice-rtmp', '--example', 'demux_throughput', '--', String(Math.max(500, TIME)), ...Object.values(files)],
      { cwd: path.resolve(here, '..'), stdio: ['ignore', 'pipe', 'inherit'] }).toString())
    // The row names are the in-place rows; their copying feed() rows add ", copying feed()".
    rustLoop = Object.entries(files).flatMap(([name, file]) => [[name, out[file].inPlaceMbPerSec], [`${name}, copying feed()`, out[file].mbPerSec]]
      .map(([row, mbPerSec]) => {
        const ours = rows.find((r) => r.name === row)
        return { name: row, mbPerSec, napiShare: ours ? ours.mbPerSecMedian / mbPerSec : null }
      }))
  } catch (error) {
    console.error(`Rust loop skipped: ${error.message.split('\n')[0]}`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const fmt = (n, digits = 0) => (n === null || n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }))
const table = [
  ['task', 'ops/s', 'mean ms', '±rme', 'MB/s', 'p50 MB/s', 'msgs/s', 'vs peer', 'samples', 'note'],
  ...rows.map((r) => [
    r.name, fmt(r.opsPerSec, 1), fmt(r.meanMs, 3), `${fmt(r.rmePercent, 1)}%`, fmt(r.mbPerSec, 0), fmt(r.mbPerSecMedian, 0),
    fmt(r.messagesPerSec, 0), r.ratio ? `${fmt(r.ratio, 2)}×` : '', String(r.samples), r.nsPerCall ? `${fmt(r.nsPerCall, 0)} ns/call` : r.note,
  ]),
]
const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)))
const line = (row) => row.map((cell, c) => (c === 0 || c === row.length - 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')
console.log(line(table[0]))
console.log(widths.map((w) => '-'.repeat(w)).join('  '))
for (const row of table.slice(1)) console.log(line(row))

console.log('\nvs peer = our p50 MB/s ÷ node-media-server p50 MB/s, same bytes and reads (above 1×: we are faster)')

// Split a 64 KiB-read demux into per-call and per-byte costs from the 1460 B run (same bytes).
const big = rows.find((r) => r.name === 'demux recorded, 64 KiB reads')
const small = rows.find((r) => r.name === 'diag: demux recorded, 1460 B reads')
const calls64k = inputs.recorded64k.length
const calls1460 = inputs.recorded1460.length
const perCallUs = small ? ((small.meanMs - big.meanMs) * 1000) / (calls1460 - calls64k) : null
const perByteNs = small ? ((big.meanMs * 1000 - perCallUs * calls64k) * 1000) / recording.length : null
if (small) {
  console.log(`\nfrom the 64 KiB vs 1460 B runs: ~${perCallUs.toFixed(2)} µs per feedInPlace() call, ` +
    `~${perByteNs.toFixed(3)} ns per wire byte (≈ ${(1000 / perByteNs).toFixed(0)} MB/s with free calls)`)
}

if (rustLoop) {
  console.log('\nthe same demux in a Rust loop without N-API (cargo run --release -p sluice-rtmp --example demux_throughput):')
  for (const r of rustLoop) console.log(`  ${r.name}: ${fmt(r.mbPerSec)} MB/s${r.napiShare ? `; through N-API (p50) ${fmt(r.napiShare * 100)} % of that` : ''}`)
}

if (finalizerDiag.length) console.log('\nwithout an event-loop turn between iterations (native Buffers are freed only on a later turn):')
for (const d of finalizerDiag) {
  console.log(`  ${d.name}, ${d.iterations} iterations: ` +
    `no turns ${d.noTurns.mbPerSec.toFixed(0)} MB/s, RSS +${d.noTurns.rssGrowthMB.toFixed(0)} MB, ${d.noTurns.pageFaultsPerIteration.toFixed(0)} page faults/iter; ` +
    `a turn each ${d.withTurns.mbPerSec.toFixed(0)} MB/s, RSS +${d.withTurns.rssGrowthMB.toFixed(0)} MB, ${d.withTurns.pageFaultsPerIteration.toFixed(0)} page faults/iter`)
}

const cpus = os.cpus()
const json = {
  benchmark: 'chunk',
  fixture: path.relative(path.resolve(here, '..'), FIXTURE),
  fixtureBytes: recording.length,
  timeBudgetMs: TIME,
  diagnosticTimeBudgetMs: DIAGNOSTICS ? DIAG_TIME : null,
  peer: { package: 'node-media-server', version: NMS_VERSION, entry: 'src/protocol/rtmp.js parserData()' },
  ...(SEED_REGRESSION ? { seededRegression: true } : {}),
  loadAverage: os.loadavg(),
  mbUnit: '1e6 bytes',
  results: rows,
  derived: { feedCallOverheadUs: perCallUs, demuxNsPerWireByte: perByteNs },
  finalizerDeferral: finalizerDiag,
  rustLoop,
  machine: {
    cpus: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    osRelease: os.release(),
  },
  commit: currentCommit(),
  date: new Date().toISOString(),
}
fs.mkdirSync(path.dirname(RESULTS), { recursive: true })
fs.writeFileSync(RESULTS, JSON.stringify(json, null, 2) + '\n')
const shown = path.relative(process.cwd(), RESULTS)
console.log(`\nwrote ${shown.startsWith('..') ? RESULTS : shown}`)
if (Number.isNaN(sink)) console.log(sink) // keeps the work observable
