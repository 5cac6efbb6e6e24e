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
import { createRequire } from 'node:module'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { descendants, procSample, round, sleep, startSluice } from './load/lib.mjs'
import { currentCommit } from './lib.mjs'

const require = createRequire(import.meta.url)
const nd = require('node-datachannel')
const { WebSocket } = require('ws')
const { PeerConnection, Video, Audio } = nd

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
const VIDEO_PT = 102
const AUDIO_PT = 111
const FPS = 30
const FRAGMENT = 1180

/**
 * A signaling connection + one node-datachannel PeerConnection to the peer `sfu` (the publisher's
 * uplink, everyone's chat) and one receive-only PeerConnection per stream the SFU announces.
 */
async function client(origin, name, publish) {
  const ws = new WebSocket(origin.replace('http:', 'ws:') + '/signaling')
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  const send = (m) => ws.readyState === 1 && ws.send(JSON.stringify(m))
  const c = { name, ws, pc: null, tracks: [], subs: new Map(), received: 0, receivedBytes: 0, id: null, connected: false, closed: false }
  const pc = new PeerConnection(name, { iceServers: [], bindAddress: '127.0.0.1', enableIceUdpMux: false })
  c.pc = pc
  pc.onStateChange((s) => (c.connected = s === 'connected'))
  pc.onLocalCandidate((candidate, mid) => send({ type: 'candidate', to: 'sfu', candidate: { candidate, sdpMid: mid } }))
  pc.onLocalDescription((sdp, type) => send({ type, to: 'sfu', sdp }))
  if (publish) {
    c.ssrcV = randomInt(1, 0xffffffff)
    c.ssrcA = randomInt(1, 0xffffffff)
    const v = new Video('0', 'SendOnly')
    v.addH264Codec(VIDEO_PT, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f')
    v.addSSRC(c.ssrcV, 'bench', 'pub', 'pub-video')
    const a = new Audio('1', 'SendOnly')
    a.addOpusCodec(AUDIO_PT, 'minptime=10;useinbandfec=1')
    a.addSSRC(c.ssrcA, 'bench', 'pub', 'pub-audio')
    c.video = pc.addTrack(v)
    c.audio = pc.addTrack(a)
    c.tracks.push(c.video, c.audio)
  }
  ws.on('message', (data) => {
    if (c.closed) return
    const m = JSON.parse(String(data))
    if (m.type === 'joined') {
      c.id = m.peerId
      c.dc = pc.createDataChannel('chat') // triggers the first offer (auto-negotiation)
    } else if (m.type === 'stream-added') {
      void subscribe(c, m.stream, send)
    } else if (m.type === 'answer' && m.stream) {
      const sub = c.subs.get(m.stream)
      sub?.pc.setRemoteDescription(m.sdp, 'answer')
      // candidates after the answer (the DTLS race: see bench/load/whep-viewers.mjs)
      for (const cand of sub?.candidates ?? []) send({ type: 'candidate', to: 'sfu', stream: m.stream, candidate: { candidate: cand.candidate, sdpMid: cand.mid } })
    } else if (m.type === 'answer') {
      pc.setRemoteDescription(m.sdp, 'answer')
    } else if (m.type === 'candidate' && m.candidate?.candidate) {
      pc.addRemoteCandidate(m.candidate.candidate, m.candidate.sdpMid ?? '0')
    } else if (m.type === 'error') {
      log(name, 'error', m.code, m.message)
    }
  })
  send({ type: 'join', room: ROOM, mode: 'sfu', name })
  return c
}

/** Offers a receive-only PeerConnection (H.264, Opus) for an announced stream; counts the RTP it receives. */
async function subscribe(c, stream, send) {
  const pc = new PeerConnection(`${c.name}-${stream}`, { iceServers: [], bindAddress: '127.0.0.1', enableIceUdpMux: false })
  const video = new Video('0', 'RecvOnly')
  video.addH264Codec(VIDEO_PT, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f')
  const audio = new Audio('1', 'RecvOnly')
  audio.addOpusCodec(AUDIO_PT, 'minptime=10;useinbandfec=1')
  const sub = { pc, candidates: [] }
  c.subs.set(stream, sub)
  for (const track of [pc.addTrack(video), pc.addTrack(audio)]) {
    c.tracks.push(track) // keep a reference, or it is GC-closed
    track.onMessage((msg) => {
      const pt = msg[1] & 0x7f
      if (pt >= 72 && pt <= 79) return // RTCP (SR)
      c.received++
      c.receivedBytes += msg.length
    })
  }
  pc.onLocalCandidate((candidate, mid) => sub.candidates.push({ candidate, mid }))
  const gathered = new Promise((resolve) => {
    pc.onGatheringStateChange((state) => state === 'complete' && resolve())
    setTimeout(resolve, 3000)
  })
  pc.setLocalDescription()
  if (pc.gatheringState() !== 'complete') await gathered
  send({ type: 'offer', to: 'sfu', stream, sdp: pc.localDescription().sdp.replace(/^a=(candidate:.*|end-of-candidates)\r?\n/gm, '') })
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
      const p = Buffer.concat([header(VIDEO_PT, seqV, tsV, pub.ssrcV, i === n - 1), fu, payload])
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
    const p = Buffer.concat([header(AUDIO_PT, seqA, tsA, pub.ssrcA, true), audioPayload])
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
    for (const c of clients) c.closed = true
    for (const c of clients) {
      try {
        c.ws.close()
        for (const t of c.tracks) t.close()
        for (const sub of c.subs.values()) sub.pc.close()
        c.pc.close()
      } catch {}
    }
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
