#!/usr/bin/env node
/**
 * npm run bench:sfu — SFU forwarding cost per subscriber: server CPU µs per forwarded RTP packet.
 *
 * One Sluice server process (`node dist/cli.js`, loopback, its built-in SFU) and, in this process,
 * node-datachannel clients that speak the signaling protocol (docs/signaling.md) over `ws`:
 * - one publisher joins an `sfu` room and sends a synthetic stream over SRTP: H.264 FU-A
 *   fragments of ~1180 bytes, 30 frames/s, sized for `--kbps` (default 2500 kbit/s video), a
 *   larger IDR frame every 2 s, plus Opus-sized audio (160 bytes every 20 ms);
 * - N subscribers (a data channel only on their own PeerConnection) join; the SFU announces the
 *   publisher's stream (`stream-added`), each offers a receive-only PeerConnection for it, and
 *   the SFU forwards (rewritten once per stream) over the viewer transport WHEP uses.
 * The whole run is made once per --transports (default `native,datachannel`: the native port's
 * SRTP and `sendmmsg`, or node-datachannel viewer processes), each with its own server.
 * For N in --subscribers (default 1,5,20; subscribers are added to the same room), after
 * --settle s the server's CPU time (every thread's schedstat: JS and libdatachannel's
 * ICE/DTLS/SRTP threads, user+sys, ns) is read over --window s with the packets the SFU sent
 * (`GET /api/sfu`, every downlink's `packetsSent`). Reported per N:
 *   usPerForwardedPacket          server CPU µs ÷ packets forwarded (includes the publisher's
 *                                 ingest: SRTP decrypt, H.264 depacketizing into the hub)
 *   marginalUsPerForwardedPacket  (CPU with N − CPU with the publisher alone) ÷ packets
 *                                 forwarded: the cost of forwarding itself
 *   deliveredRatio                RTP packets the subscribers received ÷ packets forwarded
 * plus the server alone (no client) and with the publisher alone (N = 0).
 * JSON: bench/results/sfu.json (--json PATH).
 *
 *   npm run bench:sfu
 *   node bench/sfu.bench.mjs --subscribers 1,5 --window 5     # smoke run
 */
import { parseArgs } from 'node:util'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { descendants, procSample, round, sleep, startSluice } from './load/lib.mjs'
import { currentCommit } from './lib.mjs'
import { AUDIO_PT, VIDEO_PT, joinSfuRoom } from './load/sfu-client.mjs'


const here = path.dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1,5,20' },
    window: { type: 'string', default: '10' },
    settle: { type: 'string', default: '3' },
    kbps: { type: 'string', default: '2500' },
    transports: { type: 'string', default: 'native,datachannel' },
    json: { type: 'string', default: path.join(here, 'results', 'sfu.json') },
  },
})
const counts = values.subscribers.split(',').filter(Boolean).map(Number).sort((a, b) => a - b)
const windowS = Number(values.window)
const settleS = Number(values.settle)
const kbps = Number(values.kbps)
const log = (...a) => console.error('[sfu-bench]', ...a)

const ROOM = 'bench'
const FPS = 30
const FRAGMENT = 1180

/** A participant (bench/load/sfu-client.mjs) that counts the RTP packets and bytes its subscriptions receive. */
async function client(origin, name, publish) {
  const got = { received: 0, receivedBytes: 0 }
  const c = await joinSfuRoom(origin, ROOM, {
    name,
    publish,
    publishAudio: publish,
    onRtp: (_stream, _kind, msg) => {
      got.received++
      got.receivedBytes += msg.length
    },
    onError: (m) => log(name, 'error', m.code, m.message),
  })
  return Object.defineProperties(c, { received: { get: () => got.received }, receivedBytes: { get: () => got.receivedBytes } })
}

/** Sends the synthetic stream: FU-A fragments of H.264 frames at 30 fps, Opus-sized audio every 20 ms. */
function startSending(pub) {
  let seqV = randomInt(0, 0xffff)
  let seqA = randomInt(0, 0xffff)
  let tsV = randomInt(0, 0x7fffffff)
  let tsA = randomInt(0, 0x7fffffff)
  let frame = 0
  const payload = randomBytes(FRAGMENT)
  const audioPayload = randomBytes(160)
  const header = (pt, seq, ts, ssrc, marker) => {
    const h = Buffer.alloc(12)
    h[0] = 0x80
    h[1] = (marker ? 0x80 : 0) | pt
    h.writeUInt16BE(seq, 2)
    h.writeUInt32BE(ts >>> 0, 4)
    h.writeUInt32BE(ssrc, 8)
    return h
  }
  const stats = { videoPackets: 0, audioPackets: 0, bytes: 0 }
  const frameBytes = (kbps * 1000) / 8 / FPS
  const video = setInterval(() => {
    if (!pub.video.isOpen()) return
    const idr = frame % (2 * FPS) === 0
    const bytes = idr ? frameBytes * 4 : frameBytes * (1 - 3 / (2 * FPS - 1)) // same average bitrate
    const n = Math.max(1, Math.round(bytes / FRAGMENT))
    const nal = idr ? 5 : 1
    for (let i = 0; i < n; i++) {
      const fu = Buffer.from([0x60 | 28, (i === 0 ? 0x80 : 0) | (i === n - 1 ? 0x40 : 0) | nal])
      const p = Buffer.concat([header(VIDEO_PT, seqV, tsV, pub.videoSsrc, i === n - 1), fu, payload])
      seqV = (seqV + 1) & 0xffff
      if (pub.video.sendMessageBinary(p)) {
        stats.videoPackets++
        stats.bytes += p.length
      }
    }
    tsV += 90000 / FPS
    frame++
  }, 1000 / FPS)
  const audio = setInterval(() => {
    if (!pub.audio.isOpen()) return
    const p = Buffer.concat([header(AUDIO_PT, seqA, tsA, pub.audioSsrc, true), audioPayload])
    seqA = (seqA + 1) & 0xffff
    tsA += 960
    if (pub.audio.sendMessageBinary(p)) {
      stats.audioPackets++
      stats.bytes += p.length
    }
  }, 20)
  return { stats, stop: () => (clearInterval(video), clearInterval(audio)) }
}

/**
 * CPU time of a process tree in ns: the sum of `/proc/<pid>/task/<tid>/schedstat` (time on CPU,
 * ns) over every thread of `pids` (finer than the 10 ms clock ticks of /proc/<pid>/stat).
 */
function cpuNs(pids) {
  let ns = 0
  for (const pid of pids) {
    let tids = []
    try {
      tids = readdirSync(`/proc/${pid}/task`)
    } catch {}
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      } catch {}
    }
  }
  return ns
}

async function forwarded(origin) {
  const sfu = await (await fetch(`${origin}/api/sfu`)).json()
  let packets = 0
  let participants = 0
  for (const r of sfu.rooms) for (const p of r.participants) {
    participants++
    for (const d of p.downlinks) packets += d.packetsSent
  }
  return { packets, participants }
}

async function until(check, timeoutMs, what) {
  const start = Date.now()
  for (;;) {
    if (await check()) return
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(200)
  }
}

/** Server CPU (µs, user+sys of every thread) and SFU counters over `seconds`. */
async function measure(server, subs, sending, seconds) {
  const f0 = await forwarded(server.origin)
  const r0 = subs.reduce((n, s) => n + s.received, 0)
  const s0 = { ...sending.stats }
  const pids = [server.pid, ...descendants(server.pid)]
  const c0 = cpuNs(pids)
  const t0 = Date.now()
  await sleep(seconds * 1000)
  const c1 = cpuNs(pids)
  const mem = procSample(pids)
  const elapsed = (Date.now() - t0) / 1000
  const f1 = await forwarded(server.origin)
  const r1 = subs.reduce((n, s) => n + s.received, 0)
  const cpuUs = (c1 - c0) / 1000
  return {
    seconds: round(elapsed, 2),
    cpuUs,
    cpuPercent: round((cpuUs / 1e6 / elapsed) * 100),
    forwarded: f1.packets - f0.packets,
    received: r1 - r0,
    sentPerSecond: round((s1(sending) - (s0.videoPackets + s0.audioPackets)) / elapsed),
    sentKbps: round(((sending.stats.bytes - s0.bytes) * 8) / 1000 / elapsed),
    rssMb: round(mem.rss / 1048576),
  }
}
const s1 = (sending) => sending.stats.videoPackets + sending.stats.audioPackets

const t0 = Date.now()
const rows = []
for (const transport of values.transports.split(',').filter(Boolean)) {
  const server = await startSluice({ logLevel: 'warn', extraArgs: ['--webrtc-transport', transport], env: { SLUICE_WEBRTC_UDP_PORT: '0' } })
  log(`transport ${transport}`)
  log(`sluice pid ${server.pid} on ${server.origin}`)
  const clients = []
  let sending = null
  try {
    await sleep(1000)
    const empty = await measure(server, [], { stats: { videoPackets: 0, audioPackets: 0, bytes: 0 } }, Math.max(2, windowS / 2))
    log(`server without clients: ${empty.cpuPercent} % CPU`)
    rows.push({ transport, subscribers: null, note: 'server alone, no publisher', ...empty })
    const pub = await client(server.origin, 'publisher', true)
    clients.push(pub)
    await until(() => pub.video?.isOpen() && pub.audio?.isOpen(), 10_000, 'the publisher connected')
    sending = startSending(pub)
    await sleep(settleS * 1000)
    const idle = await measure(server, [], sending, windowS)
    const idleCpuPerS = idle.cpuUs / idle.seconds
    log(`publisher alone: ${idle.cpuPercent} % CPU, ${idle.sentPerSecond} packets/s, ${idle.sentKbps} kbit/s sent`)
    rows.push({ transport, subscribers: 0, ...idle, usPerForwardedPacket: null, marginalUsPerForwardedPacket: null, deliveredRatio: null })
    const subs = []
    for (const n of counts) {
      while (subs.length < n) {
        const s = await client(server.origin, `sub-${subs.length + 1}`, false)
        subs.push(s)
        clients.push(s)
      }
      await until(async () => subs.every((s) => s.received > 0), 20_000, `${n} subscribers receiving`).catch(async (err) => {
        log(JSON.stringify((await (await fetch(`${server.origin}/api/sfu`)).json()).rooms[0]?.participants.map((p) => [p.peerId, p.state, p.available, p.downlinks.map((d) => d.state)])))
        log(subs.map((s) => [s.id, s.pc.state(), s.received, [...s.subs.values()].map((x) => x.pc.state())]))
        throw err
      })
      await sleep(settleS * 1000)
      const m = await measure(server, subs, sending, windowS)
      const usPer = m.forwarded ? m.cpuUs / m.forwarded : null
      const marginal = m.forwarded ? (m.cpuUs - idleCpuPerS * m.seconds) / m.forwarded : null
      const row = {
        transport,
        subscribers: n,
        ...m,
        forwardedPerSecond: round(m.forwarded / m.seconds),
        usPerForwardedPacket: round(usPer, 2),
        marginalUsPerForwardedPacket: round(marginal, 2),
        deliveredRatio: m.forwarded ? round(m.received / m.forwarded, 4) : null,
      }
      rows.push(row)
      log(`N=${n}: ${row.cpuPercent} % CPU, ${row.forwardedPerSecond} packets/s forwarded, ${row.usPerForwardedPacket} µs/packet (${row.marginalUsPerForwardedPacket} µs marginal), delivered ${row.deliveredRatio}`)
    }
  } finally {
    sending?.stop()
    for (const c of clients) c.close()
    await server.stop()
  }
}

console.log('\ntransport    subscribers  server CPU %  forwarded/s  µs/packet  marginal µs/packet  delivered')
for (const r of rows) {
  if (r.subscribers === null) continue
  console.log(
    [r.transport.padEnd(11), String(r.subscribers).padStart(11), String(r.cpuPercent).padStart(12), String(r.forwardedPerSecond ?? '-').padStart(11), String(r.usPerForwardedPacket ?? '-').padStart(9), String(r.marginalUsPerForwardedPacket ?? '-').padStart(18), String(r.deliveredRatio ?? '-').padStart(9)].join('  '),
  )
}
mkdirSync(path.dirname(values.json), { recursive: true })
writeFileSync(
  values.json,
  JSON.stringify(
    {
      benchmark: 'sfu',
      date: new Date().toISOString(),
      commit: currentCommit(),
      machine: { cpus: cpus()[0]?.model, count: availableParallelism(), node: process.version, osRelease: release(), loadavg: loadavg().map((l) => round(l, 2)) },
      nodeDatachannel: JSON.parse(readFileSync(path.join(here, '..', 'node_modules', 'node-datachannel', 'package.json'), 'utf8')).version,
      source: { videoKbps: kbps, fps: FPS, fragmentBytes: FRAGMENT, idrEverySeconds: 2, audio: '160 B every 20 ms' },
      windowSeconds: windowS,
      settleSeconds: settleS,
      totalSeconds: round((Date.now() - t0) / 1000),
      rows,
    },
    null,
    1,
  ) + '\n',
)
log(`wrote ${path.relative(process.cwd(), values.json)}`)
process.exit(0)
