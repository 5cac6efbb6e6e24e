// SRTP protect/unprotect throughput (packets/s and MB/s of RTP packet bytes) through the N-API
// binding, per suite, for 1200-byte and 160-byte payloads, batched (64 packets per call, in
// place in one caller Buffer) and single (Buffer in, new Buffer out), against in the same run:
//   - werift-rtp's SrtpSession (AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM only: all it has),
//   - a hand-rolled node:crypto SRTP (AES-128-CTR + HMAC-SHA1 with the HMAC key pads hashed once
//     and Hash.copy()'d per packet; aes-128/256-gcm), no replay window,
//   - libsrtp2 (system library, NSS crypto on Debian) in a C loop: bench/native/libsrtp_bench.c,
//   - this crate in a Rust loop without N-API (crates/srtp/examples/throughput.rs): the gap to
//     the batched figure is the crossing cost.
// Unprotect works on distinct packets in sequence (4096, then a fresh receiver), each copied
// into the work buffer first (the copy is counted).
//
//   node --expose-gc bench/srtp.bench.mjs      (BENCH_TIME ms per task, default 500;
//   SLUICE_BINDING=/path/to/sluice.linux-x64-gnu.node to load another build)
//   node --expose-gc bench/srtp.bench.mjs --quick   (or BENCH_QUICK=1) what `npm run bench:check`
//   runs: AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM, 1200 B, sluice batched/single beside
//   werift and node:crypto only (no libsrtp2 or Rust loop), BENCH_TIME default 250: ~6 s.
// BENCH_OUT=<file> writes the JSON there instead of results/srtp.json. BENCH_SEED_REGRESSION=1
// makes every sluice task do its work twice (a second session on a scratch copy): a deliberate
// 2× slowdown of our side only, to prove bench:check fails (see bench/README.md).
// BENCH_ROUNDS (default 5): the tasks run in that many rounds of BENCH_TIME / rounds (bench/rounds.mjs).
// `ratioMedian` on sluice rows: the median over the rounds of our median packets/s ÷ werift-rtp's
// in the same round (`ratioPerRound`); what bench:check compares.

import { runRounds, ratioPerRound } from './rounds.mjs'
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const binding = process.env.SLUICE_BINDING ? require(path.resolve(process.env.SLUICE_BINDING)) : require('../binding.js')
const { SrtpSession } = binding
if (!SrtpSession) throw new Error('this binding has no SrtpSession: build it (npm run build:native) or set SLUICE_BINDING')
const { currentCommit } = await import('./lib.mjs').catch(() => ({ currentCommit: () => null }))
const werift = require('werift-rtp')

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'
const SEED_REGRESSION = process.env.BENCH_SEED_REGRESSION === '1'
const TIME = Number(process.env.BENCH_TIME ?? (QUICK ? 250 : 500))
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const BATCH = 64
const RING = 4096
const SSRC = 0x12345678
const SUITES = {
  AES_CM_128_HMAC_SHA1_80: { key: 16, salt: 14, tag: 10, gcm: false, werift: werift.ProtectionProfileAes128CmHmacSha1_80 },
  AES_CM_128_HMAC_SHA1_32: { key: 16, salt: 14, tag: 4, gcm: false },
  AEAD_AES_128_GCM: { key: 16, salt: 12, tag: 16, gcm: true, werift: werift.ProtectionProfileAeadAes128Gcm },
  AEAD_AES_256_GCM: { key: 32, salt: 12, tag: 16, gcm: true },
}
const SIZES = QUICK ? [1200] : [1200, 160]
if (QUICK) for (const suite of ['AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_256_GCM']) delete SUITES[suite]
if (SEED_REGRESSION) console.log('BENCH_SEED_REGRESSION=1: every sluice task does its work twice (deliberate slowdown)\n')

function rtpPacket(payload, seq) {
  const p = Buffer.alloc(12 + payload)
  p[0] = 0x80; p[1] = 96
  p.writeUInt16BE(seq & 0xffff, 2)
  p.writeUInt32BE(SSRC, 8)
  for (let k = 12; k < p.length; k++) p[k] = (k * 7 + seq) & 0xff
  return p
}

/** RFC 3711 §4.3.1 KDF (rate 0) with node:crypto, for the hand-rolled baseline. */
function kdf(masterKey, masterSalt, label, n) {
  const iv = Buffer.alloc(16)
  masterSalt.copy(iv, 0, 0, Math.min(14, masterSalt.length))
  iv[7] ^= label
  const c = crypto.createCipheriv(masterKey.length === 32 ? 'aes-256-ctr' : 'aes-128-ctr', masterKey, iv)
  return c.update(Buffer.alloc(n))
}

/** Hand-rolled SRTP over node:crypto: what a careful pure-JS implementation does. */
class NodeCryptoSrtp {
  constructor(suite, material) {
    const s = SUITES[suite]
    this.s = s
    const mk = material.subarray(0, s.key)
    const ms = material.subarray(s.key)
    this.key = kdf(mk, ms, 0, s.key)
    this.salt = kdf(mk, ms, 2, s.gcm ? 12 : 14)
    this.roc = 0
    this.lastSeq = -1
    this.rocBuf = Buffer.alloc(4)
    if (!s.gcm) {
      const auth = kdf(mk, ms, 1, 20)
      const pad = (b) => { const k = Buffer.alloc(64, b); for (let i = 0; i < 20; i++) k[i] ^= auth[i]; return k }
      this.inner = crypto.createHash('sha1').update(pad(0x36))
      this.outer = crypto.createHash('sha1').update(pad(0x5c))
    }
    this.alg = s.gcm ? (s.key === 32 ? 'aes-256-gcm' : 'aes-128-gcm') : 'aes-128-ctr'
  }
  #index(seq) {
    if (this.lastSeq > 0xff00 && seq < 0x100) this.roc++
    this.lastSeq = seq
    return this.roc
  }
  #iv(ssrc, roc, seq) {
    if (this.s.gcm) {
      const iv = Buffer.alloc(12)
      iv.writeUInt32BE(ssrc, 2); iv.writeUInt32BE(roc, 6); iv.writeUInt16BE(seq, 10)
      for (let i = 0; i < 12; i++) iv[i] ^= this.salt[i]
      return iv
    }
    const iv = Buffer.alloc(16)
    iv.writeUInt32BE(ssrc, 4); iv.writeUInt32BE(roc, 8); iv.writeUInt16BE(seq, 12)
    for (let i = 0; i < 14; i++) iv[i] ^= this.salt[i]
    return iv
  }
  #hmac(a, b) {
    const inner = this.inner.copy().update(a).update(b).digest()
    return this.outer.copy().update(inner).digest()
  }
  protect(packet) {
    const hl = 12 + 4 * (packet[0] & 0x0f)
    const seq = packet.readUInt16BE(2)
    const ssrc = packet.readUInt32BE(8)
    const roc = this.#index(seq)
    const c = crypto.createCipheriv(this.alg, this.key, this.#iv(ssrc, roc, seq))
    if (this.s.gcm) {
      c.setAAD(packet.subarray(0, hl))
      const enc = c.update(packet.subarray(hl))
      c.final()
      return Buffer.concat([packet.subarray(0, hl), enc, c.getAuthTag()])
    }
    const out = Buffer.allocUnsafe(packet.length + this.s.tag)
    packet.copy(out, 0, 0, hl)
    c.update(packet.subarray(hl)).copy(out, hl)
    this.rocBuf.writeUInt32BE(roc)
    this.#hmac(out.subarray(0, packet.length), this.rocBuf).copy(out, packet.length, 0, this.s.tag)
    return out
  }
  unprotect(srtp) {
    const hl = 12 + 4 * (srtp[0] & 0x0f)
    const seq = srtp.readUInt16BE(2)
    const ssrc = srtp.readUInt32BE(8)
    const roc = this.#index(seq)
    const end = srtp.length - this.s.tag
    if (this.s.gcm) {
      const d = crypto.createDecipheriv(this.alg, this.key, this.#iv(ssrc, roc, seq))
      d.setAAD(srtp.subarray(0, hl))
      d.setAuthTag(srtp.subarray(end))
      const dec = d.update(srtp.subarray(hl, end))
      d.final()
      return Buffer.concat([srtp.subarray(0, hl), dec])
    }
    this.rocBuf.writeUInt32BE(roc)
    const tag = this.#hmac(srtp.subarray(0, end), this.rocBuf)
    if (!crypto.timingSafeEqual(tag.subarray(0, this.s.tag), srtp.subarray(end))) throw new Error('auth')
    const d = crypto.createDecipheriv(this.alg, this.key, this.#iv(ssrc, roc, seq))
    const out = Buffer.allocUnsafe(end)
    srtp.copy(out, 0, 0, hl)
    d.update(srtp.subarray(hl, end)).copy(out, hl)
    return out
  }
}

const tasks = [] // { name, fn }, run by runRounds
const meta = [] // per task: { suite, payload, impl, op, packets }

/** `payload`: RTP payload bytes (a 12-byte header goes in front), or `'RTCP <bytes>'`. */
function add(suite, payload, impl, op, packets, fn) {
  tasks.push({ name: `${suite} ${payload} B ${op} ${impl}`, fn })
  const packetBytes = typeof payload === 'number' ? 12 + payload : Number(payload.split(' ')[1])
  meta.push({ suite, payload, impl, op, packets, packetBytes })
}

for (const [suite, s] of Object.entries(SUITES)) {
  const material = Buffer.from(Array.from({ length: s.key + s.salt }, (_, i) => i))
  for (const payload of SIZES) {
    const len = 12 + payload
    const stride = len + 32
    // sluice, batched protect: 64 packets in place, rising sequence numbers.
    {
      const session = new SrtpSession({ profile: suite, key: material })
      const buf = Buffer.alloc(BATCH * stride)
      const offsets = new Uint32Array(BATCH)
      const lengths = new Uint32Array(BATCH)
      const status = new Int32Array(BATCH)
      for (let i = 0; i < BATCH; i++) { offsets[i] = i * stride; rtpPacket(payload, i).copy(buf, i * stride) }
      let seq = 0
      const seed = SEED_REGRESSION ? { session: new SrtpSession({ profile: suite, key: material }), buf: Buffer.alloc(buf.length), lengths: new Uint32Array(BATCH) } : null
      add(suite, payload, 'sluice batch×64', 'protect', BATCH, () => {
        for (let i = 0; i < BATCH; i++) { lengths[i] = len; buf.writeUInt16BE(seq++ & 0xffff, i * stride + 2) }
        if (seed) {
          buf.copy(seed.buf)
          seed.lengths.set(lengths)
          seed.session.protectRtpBatch(seed.buf, offsets, seed.lengths, BATCH)
        }
        if (session.protectRtpBatch(buf, offsets, lengths, BATCH, status) !== BATCH) throw new Error('protect failed')
      })
    }
    // sluice, single protect.
    {
      const session = new SrtpSession({ profile: suite, key: material })
      const p = rtpPacket(payload, 0)
      let seq = 0
      const seed = SEED_REGRESSION ? new SrtpSession({ profile: suite, key: material }) : null
      add(suite, payload, 'sluice single', 'protect', 1, () => {
        p.writeUInt16BE(seq++ & 0xffff, 2)
        seed?.protectRtp(p)
        session.protectRtp(p)
      })
    }
    // Protected ring for the unprotect runs (sequence numbers 0..4095).
    const sender = new SrtpSession({ profile: suite, key: material })
    const ring = Buffer.alloc(RING * stride)
    const ringLen = new Uint32Array(RING)
    const ringPackets = []
    for (let i = 0; i < RING; i++) {
      const prot = sender.protectRtp(rtpPacket(payload, i))
      prot.copy(ring, i * stride)
      ringLen[i] = prot.length
      ringPackets.push(prot)
    }
    // sluice, batched unprotect.
    {
      let session = new SrtpSession({ profile: suite, key: material })
      const buf = Buffer.alloc(BATCH * stride)
      const offsets = new Uint32Array(BATCH)
      const lengths = new Uint32Array(BATCH)
      const status = new Int32Array(BATCH)
      for (let i = 0; i < BATCH; i++) offsets[i] = i * stride
      let at = 0
      const seed = SEED_REGRESSION ? { session: null, buf: Buffer.alloc(buf.length), lengths: new Uint32Array(BATCH) } : null
      add(suite, payload, 'sluice batch×64', 'unprotect', BATCH, () => {
        if (at === RING) { at = 0; session = new SrtpSession({ profile: suite, key: material }) }
        if (seed) {
          if (at === 0) seed.session = new SrtpSession({ profile: suite, key: material })
          ring.copy(seed.buf, 0, at * stride, (at + BATCH) * stride)
          for (let i = 0; i < BATCH; i++) seed.lengths[i] = ringLen[at + i]
          seed.session.unprotectRtpBatch(seed.buf, offsets, seed.lengths, BATCH)
        }
        ring.copy(buf, 0, at * stride, (at + BATCH) * stride)
        for (let i = 0; i < BATCH; i++) lengths[i] = ringLen[at + i]
        at += BATCH
        if (session.unprotectRtpBatch(buf, offsets, lengths, BATCH, status) !== BATCH) throw new Error(`unprotect failed: ${status}`)
      })
    }
    // sluice, single unprotect.
    {
      let session = new SrtpSession({ profile: suite, key: material })
      let at = 0
      let seed = null
      add(suite, payload, 'sluice single', 'unprotect', 1, () => {
        if (at === RING) { at = 0; session = new SrtpSession({ profile: suite, key: material }) }
        if (SEED_REGRESSION) {
          if (at === 0 || !seed) seed = new SrtpSession({ profile: suite, key: material })
          seed.unprotectRtp(ringPackets[at])
        }
        session.unprotectRtp(ringPackets[at++])
      })
    }
    // node:crypto hand-rolled.
    {
      const tx = new NodeCryptoSrtp(suite, material)
      const p = rtpPacket(payload, 0)
      let seq = 0
      add(suite, payload, 'node:crypto', 'protect', 1, () => { p.writeUInt16BE(seq++ & 0xffff, 2); tx.protect(p) })
      const rx = new NodeCryptoSrtp(suite, material)
      const check = rx.unprotect(ringPackets[0])
      if (!check.equals(rtpPacket(payload, 0))) throw new Error(`node:crypto baseline disagrees with sluice for ${suite}`)
      let at = 1
      add(suite, payload, 'node:crypto', 'unprotect', 1, () => { rx.unprotect(ringPackets[at]); at = (at + 1) % RING })
    }
    // werift-rtp.
    if (s.werift !== undefined) {
      const keys = { localMasterKey: material.subarray(0, s.key), localMasterSalt: material.subarray(s.key), remoteMasterKey: material.subarray(0, s.key), remoteMasterSalt: material.subarray(s.key) }
      const tx = new werift.SrtpSession({ keys, profile: s.werift })
      const parsed = werift.RtpPacket.deSerialize(rtpPacket(payload, 0))
      let seq = 0
      add(suite, payload, 'werift-rtp', 'protect', 1, () => { parsed.header.sequenceNumber = seq++ & 0xffff; tx.encrypt(parsed.payload, parsed.header) })
      let rx = new werift.SrtpSession({ keys, profile: s.werift })
      if (!rx.decrypt(ringPackets[0]).equals(rtpPacket(payload, 0))) throw new Error(`werift disagrees with sluice for ${suite}`)
      let at = 1
      add(suite, payload, 'werift-rtp', 'unprotect', 1, () => {
        // A fresh receiver at the end of the ring: werift would read 4095 → 0 as a wrap.
        if (at === RING) { at = 0; rx = new werift.SrtpSession({ keys, profile: s.werift }) }
        rx.decrypt(ringPackets[at++])
      })
    }
  }
  // SRTCP (RFC 3711 §3.4, RFC 7714 §9): one RTCP SR with one report block (52 bytes), one call
  // per packet, beside werift's SrtcpSession. Full runs only (bench:check's --quick rows stay
  // the RTP ones its baseline has).
  if (!QUICK && s.werift !== undefined) {
    const sr = Buffer.alloc(52)
    sr[0] = 0x81; sr[1] = 200; sr.writeUInt16BE(12, 2); sr.writeUInt32BE(0x1234_5678, 4)
    for (let i = 8; i < 52; i++) sr[i] = i
    const keys = { localMasterKey: material.subarray(0, s.key), localMasterSalt: material.subarray(s.key), remoteMasterKey: material.subarray(0, s.key), remoteMasterSalt: material.subarray(s.key) }
    const tx = new SrtpSession({ profile: suite, key: material })
    add(suite, 'RTCP 52', 'sluice', 'protect', 1, () => { tx.protectRtcp(sr) })
    const wtx = new werift.SrtcpSession({ keys, profile: s.werift })
    add(suite, 'RTCP 52', 'werift-rtp', 'protect', 1, () => { wtx.encrypt(sr) })
    const ringTx = new SrtpSession({ profile: suite, key: material })
    const ring = Array.from({ length: RING }, () => ringTx.protectRtcp(sr))
    const probe = new werift.SrtcpSession({ keys, profile: s.werift })
    if (!probe.decrypt(ring[0]).equals(sr) || !new SrtpSession({ profile: suite, key: material }).unprotectRtcp(ring[0]).equals(sr)) throw new Error(`SRTCP disagreement for ${suite}`)
    let at = 0
    let rx = new SrtpSession({ profile: suite, key: material })
    add(suite, 'RTCP 52', 'sluice', 'unprotect', 1, () => {
      if (at === RING) { at = 0; rx = new SrtpSession({ profile: suite, key: material }) }
      rx.unprotectRtcp(ring[at++])
    })
    let wat = 0
    let wrx = new werift.SrtcpSession({ keys, profile: s.werift })
    add(suite, 'RTCP 52', 'werift-rtp', 'unprotect', 1, () => {
      if (wat === RING) { wat = 0; wrx = new werift.SrtcpSession({ keys, profile: s.werift }) }
      wrx.decrypt(ring[wat++])
    })
  }
}

const results = await runRounds('srtp', tasks, { time: TIME, rounds: ROUNDS, warmup: QUICK ? 50 : 100 })
const timing = new Map() // row → its runRounds result, for the per-round ratios

const rows = results.map((t, i) => {
  const m = meta[i]
  const pps = Math.round((m.packets * 1000) / t.mean)
  // median: packets per median iteration time (a few slow iterations on a shared machine move
  // the mean far more than the median)
  const ppsMedian = Math.round((m.packets * 1000) / t.p50)
  const row = { ...m, pps, ppsMedian, mbPerSec: Math.round((pps * m.packetBytes) / 1e6), rmePercent: Math.round(t.rme * 10) / 10 }
  timing.set(row, t)
  return row
})

// Native figures from child processes.
function runNative(label, fn) {
  try {
    return fn()
  } catch (error) {
    console.error(`${label} skipped: ${error.message.split('\n')[0]}`)
    return null
  }
}
const nativeMs = String(Math.max(300, TIME))
const libsrtp = QUICK ? null : runNative('libsrtp2', () => {
  const bin = path.join(os.tmpdir(), `sluice-libsrtp-bench-${process.pid}`)
  execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', bin, path.join(here, 'native', 'libsrtp_bench.c'), '-lsrtp2'], { stdio: ['ignore', 'ignore', 'pipe'] })
  try {
    return JSON.parse(execFileSync(bin, [nativeMs]).toString())
  } finally {
    fs.rmSync(bin, { force: true })
  }
})
const rustLoop = QUICK ? null : runNative('Rust loop', () =>
  JSON.parse(execFileSync('cargo', ['run', '--quiet', '--release', '-p', 'sluice-srtp', '--example', 'throughput', '--', nativeMs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] }).toString()),
)
for (const [impl, data] of [['libsrtp2 (C loop)', libsrtp], ['sluice Rust loop (no N-API)', rustLoop]]) {
  if (!data) continue
  for (const [suite, bySize] of Object.entries(data)) {
    for (const [payload, ops] of Object.entries(bySize)) {
      for (const op of ['protect', 'unprotect']) {
        const pps = Math.round(ops[op])
        rows.push({ suite, payload: Number(payload), impl, op, packets: 1, pps, mbPerSec: Math.round((pps * (12 + Number(payload))) / 1e6) })
      }
    }
  }
}

const find = (r, impl) => rows.find((x) => x.suite === r.suite && x.payload === r.payload && x.op === r.op && x.impl === impl)
for (const r of rows) {
  if (!r.impl.startsWith('sluice')) continue
  for (const [key, impl] of [['xWerift', 'werift-rtp'], ['xNodeCrypto', 'node:crypto'], ['xLibsrtp', 'libsrtp2 (C loop)']]) {
    const peer = find(r, impl)
    if (peer) r[key] = Math.round((r.pps / peer.pps) * 100) / 100
  }
  const werift = find(r, 'werift-rtp')
  if (werift && timing.has(r)) {
    // per round, our packets/s ÷ werift's a moment apart; bench:check compares their median
    const { perRound, median } = ratioPerRound(timing.get(r), timing.get(werift), r.packets, werift.packets)
    r.ratioMedian = Math.round(median * 1000) / 1000
    r.ratioPerRound = perRound.map((x) => Math.round(x * 1000) / 1000)
  }
}
rows.sort((a, b) => a.suite.localeCompare(b.suite) || b.payload - a.payload || a.op.localeCompare(b.op) || b.pps - a.pps)
console.table(rows.map(({ packets, ratioPerRound, ...r }) => r))

function weriftVersion() {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'werift-rtp', 'package.json'), 'utf8')).version
  } catch {
    return null
  }
}
// --quick writes no JSON unless BENCH_OUT says where (results/srtp.json holds full runs)
const outFile = process.env.BENCH_OUT ?? (QUICK ? null : path.join(here, 'results', 'srtp.json'))
if (outFile) {
  fs.mkdirSync(path.dirname(outFile), { recursive: true })
  fs.writeFileSync(
    outFile,
    JSON.stringify({
      benchmark: 'srtp',
      peer: { package: 'werift-rtp', version: weriftVersion(), entry: 'SrtpSession encrypt/decrypt' },
      quick: QUICK,
      timeBudgetMs: TIME,
      ...(SEED_REGRESSION ? { seededRegression: true } : {}),
      date: new Date().toISOString(),
      commit: currentCommit(),
      machine: { cpus: os.cpus()[0]?.model, count: os.cpus().length, node: process.version, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) },
      batch: BATCH,
      binding: process.env.SLUICE_BINDING ?? 'binding.js',
      results: rows.map(({ packets, packetBytes, ...r }) => r),
    }, null, 2) + '\n',
  )
  console.log(`wrote ${path.relative(process.cwd(), outFile)}`)
}
