// RTP packetization (RFC 6184) and AAC→Opus transcode cost, through the N-API binding, the way
// the WebRTC feed uses them. Peer in the same run: a plain-JS RFC 6184 packetizer of the usual
// shape (a Buffer per packet) — node-datachannel's H264RtpPacketizer only runs inside a
// connected track's media-handler chain, and werift ships no H.264 packetizer.
//
//   node --expose-gc bench/rtp.bench.mjs        (BENCH_TIME ms per task, default 2000)
//   node --expose-gc bench/rtp.bench.mjs --quick  (or BENCH_QUICK=1) what `npm run bench:check`
//   runs: the packetize rows only (no transcode), BENCH_TIME default 300: ~3 s.
// BENCH_OUT=<file> writes the JSON there instead of results/rtp.json. BENCH_SEED_REGRESSION=1
// makes our packetizer rows packetize every access unit twice (a second packetizer): a
// deliberate 2× slowdown of our side only, to prove bench:check fails (see bench/README.md).
// BENCH_ROUNDS (default 5): the tasks run in that many rounds of BENCH_TIME / rounds (bench/rounds.mjs).
// `ratioMedian`: the median over the rounds of our median access units/s ÷ the JS peer's in the
// same round (`ratioPerRound`); what bench:check compares.

import { runRounds, ratioPerRound } from './rounds.mjs'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { binding, here, currentCommit } from './lib.mjs'

const { H264Packetizer, AacToOpusTranscoder } = binding
const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'
const SEED_REGRESSION = process.env.BENCH_SEED_REGRESSION === '1'
const TIME = Number(process.env.BENCH_TIME ?? (QUICK ? 300 : 2000))
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
if (SEED_REGRESSION) console.log('BENCH_SEED_REGRESSION=1: our packetizer does every access unit twice (deliberate slowdown)\n')
const MTU = 1200

function pseudoRandom(n, seed) {
  const b = Buffer.allocUnsafe(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

/** One access unit in AVCC form (4-byte lengths): an SEI-free slice NAL of `size` bytes. */
function accessUnit(size, idr) {
  const nal = pseudoRandom(size, idr ? 7 : 11)
  nal[0] = idr ? 0x65 : 0x41
  const au = Buffer.allocUnsafe(size + 4)
  au.writeUInt32BE(size, 0)
  nal.copy(au, 4)
  return au
}

const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x23, 0xc6, 0x0c, 0xa8])
const pps = Buffer.from([0x68, 0xce, 0x3c, 0x80])
const record = Buffer.concat([Buffer.from([1, 0x42, 0xc0, 0x1f, 0xff, 0xe1, 0, sps.length]), sps, Buffer.from([1, 0, pps.length]), pps])

/** The JS peer: single NAL units and FU-A (RFC 6184 §5.6, §5.8), STAP-A SPS/PPS before IDR. */
class JsH264Packetizer {
  constructor(ssrc, pt) { this.ssrc = ssrc; this.pt = pt; this.seq = 0 }
  #packet(payloadParts, ts, marker) {
    const len = payloadParts.reduce((n, p) => n + p.length, 0)
    const b = Buffer.allocUnsafe(12 + len)
    b[0] = 0x80; b[1] = (marker ? 0x80 : 0) | this.pt
    b.writeUInt16BE(this.seq, 2); this.seq = (this.seq + 1) & 0xffff
    b.writeUInt32BE(ts >>> 0, 4); b.writeUInt32BE(this.ssrc >>> 0, 8)
    let at = 12
    for (const p of payloadParts) { p.copy(b, at); at += p.length }
    return b
  }
  packetize(avcc, ts) {
    const nals = []
    for (let at = 0; at + 4 <= avcc.length; ) {
      const n = avcc.readUInt32BE(at)
      nals.push(avcc.subarray(at + 4, at + 4 + n))
      at += 4 + n
    }
    const out = []
    if (nals.some((n) => (n[0] & 0x1f) === 5)) {
      const stap = Buffer.allocUnsafe(1 + 2 + sps.length + 2 + pps.length)
      stap[0] = 0x78; stap.writeUInt16BE(sps.length, 1); sps.copy(stap, 3)
      stap.writeUInt16BE(pps.length, 3 + sps.length); pps.copy(stap, 5 + sps.length)
      out.push(this.#packet([stap], ts, false))
    }
    const max = MTU - 12
    nals.forEach((nal, i) => {
      const last = i === nals.length - 1
      if (nal.length <= max) return out.push(this.#packet([nal], ts, last))
      const fuIndicator = (nal[0] & 0xe0) | 28
      const type = nal[0] & 0x1f
      for (let at = 1; at < nal.length; at += max - 2) {
        const end = Math.min(nal.length, at + max - 2)
        const header = Buffer.from([fuIndicator, (at === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type])
        out.push(this.#packet([header, nal.subarray(at, end)], ts, last && end === nal.length))
      }
    })
    return out
  }
}

const idr = accessUnit(50 * 1024, true)
const p = accessUnit(5 * 1024, false)
const ours = new H264Packetizer(1234, 102, MTU)
ours.setParameterSets(record)
const seed = SEED_REGRESSION ? new H264Packetizer(1234, 102, MTU) : null
seed?.setParameterSets(record)
const outBuf2 = Buffer.allocUnsafe(128 * 1024)
const outEnds2 = new Uint32Array(256)
const packetize = (au, t) => { seed?.packetize(au, t); return ours.packetize(au, t) }
const packetizeInto = (au, t) => { seed?.packetizeInto(au, t, outBuf2, outEnds2); return ours.packetizeInto(au, t, outBuf, outEnds) }
const peer = new JsH264Packetizer(1234, 102)
let ts = 0

const outBuf = Buffer.allocUnsafe(128 * 1024)
const outEnds = new Uint32Array(256)
const tasks = [
  { name: 'packetize 50 KB IDR, sluice (N-API)', fn: () => { packetize(idr, (ts += 3000)) } },
  { name: 'packetize 50 KB IDR, JS peer', fn: () => { peer.packetize(idr, (ts += 3000)) } },
  { name: 'packetize 50 KB IDR, sluice into caller buffer', fn: () => { packetizeInto(idr, (ts += 3000)) } },
  { name: 'packetize 5 KB P frame, sluice (N-API)', fn: () => { packetize(p, (ts += 3000)) } },
  { name: 'packetize 5 KB P frame, JS peer', fn: () => { peer.packetize(p, (ts += 3000)) } },
  { name: 'packetize 5 KB P frame, sluice into caller buffer', fn: () => { packetizeInto(p, (ts += 3000)) } },
]
const results = await runRounds('rtp', tasks, { time: TIME, rounds: ROUNDS, warmup: QUICK ? 100 : 200 })

const rows = results.map((t, i) => {
  const hz = 1000 / t.mean
  const bytes = tasks[i].name.includes('50 KB') ? idr.length : p.length
  // median: access units per median iteration time
  const auPerSecMedian = Math.round(1000 / t.p50)
  return { name: tasks[i].name, auPerSec: Math.round(hz), auPerSecMedian, mbPerSec: Math.round((hz * bytes) / 1e6), rmePercent: Math.round(t.rme * 10) / 10, samples: t.samples }
})
for (const pair of [[0, 1], [2, 1], [3, 4], [5, 4]]) {
  const [r, peer] = [rows[pair[0]], rows[pair[1]]]
  r.ratioToPeer = Math.round((r.auPerSec / peer.auPerSec) * 100) / 100
  // per round, our access units/s ÷ the peer's a moment apart; bench:check compares their median
  const { perRound, median } = ratioPerRound(results[pair[0]], results[pair[1]])
  r.ratioMedian = Math.round(median * 1000) / 1000
  r.ratioPerRound = perRound.map((x) => Math.round(x * 1000) / 1000)
  r.peer = peer.name
}
console.table(rows.map(({ ratioPerRound, ...r }) => r))

// AAC → Opus: CPU ms per second of audio, 10 s of 44.1 kHz stereo AAC-LC from ffmpeg.
let transcode = null
if (!QUICK) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'))
  const adts = path.join(dir, 'a.aac')
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-ac', '2', '-t', '10', '-c:a', 'aac', '-b:a', '128k', '-f', 'adts', adts])
  const aac = fs.readFileSync(adts)
  const frames = []
  for (let at = 0; at + 7 <= aac.length; ) {
    const len = ((aac[at + 3] & 0x03) << 11) | (aac[at + 4] << 3) | (aac[at + 5] >> 5)
    const header = aac[at + 1] & 0x01 ? 7 : 9
    frames.push(aac.subarray(at + header, at + len))
    at += len
}
const objectType = ((aac[2] >> 6) & 0x03) + 1
const rateIndex = (aac[2] >> 2) & 0x0f
const channels = ((aac[2] & 0x01) << 2) | (aac[3] >> 6)
const asc = Buffer.from([(objectType << 3) | (rateIndex >> 1), ((rateIndex & 1) << 7) | (channels << 3)])
const seconds = (frames.length * 1024) / 44100
const costs = []
for (let run = 0; run < 3; run++) {
  const t = new AacToOpusTranscoder(asc, 64000)
  const before = process.cpuUsage()
  frames.forEach((f, i) => t.push(f, (i * 1024 * 1000) / 44100))
  const used = process.cpuUsage(before)
  costs.push((used.user + used.system) / 1000 / seconds)
}
transcode = { input: '44.1 kHz stereo AAC-LC 128 kb/s → Opus 48 kHz 64 kb/s', audioSeconds: Math.round(seconds * 100) / 100, cpuMsPerAudioSecond: Math.round(Math.min(...costs) * 100) / 100 }
console.log('AAC → Opus transcode:', transcode)
fs.rmSync(dir, { recursive: true, force: true })
}

// --quick writes no JSON unless BENCH_OUT says where (results/rtp.json holds full runs)
const outFile = process.env.BENCH_OUT ?? (QUICK ? null : path.join(here, 'results', 'rtp.json'))
if (outFile) {
  fs.mkdirSync(path.dirname(outFile), { recursive: true })
  fs.writeFileSync(outFile, JSON.stringify({
    benchmark: 'rtp',
    peer: { package: null, version: null, entry: 'plain-JS RFC 6184 packetizer in bench/rtp.bench.mjs (a Buffer per packet)' },
    quick: QUICK,
    timeBudgetMs: TIME,
    ...(SEED_REGRESSION ? { seededRegression: true } : {}),
    date: new Date().toISOString(),
    commit: currentCommit(),
    machine: { cpus: os.cpus()[0]?.model, count: os.cpus().length, node: process.version, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) },
    mtu: MTU,
    results: rows,
    transcode,
  }, null, 2) + '\n')
  console.log(`wrote ${path.relative(process.cwd(), outFile)}`)
}
