// SRT ingest → hub hop: how long after an SRT publisher hands a video frame to its SRT socket
// the frame is in Sluice's hub (where RTMP, HTTP-FLV, WHEP and SRT players take it), per SRT
// latency setting. In one process: Sluice (from dist/, SRT on 127.0.0.1:0); a publisher made of
// Sluice's own native pieces (TsMuxer + SrtCaller on a dgram socket) sending a synthetic 2.9
// Mbit/s stream in real time (H.264 30 fps, a 60 KB IDR every 2 s, 10 KB P frames; AAC 48 kHz);
// a hub subscriber stamping each video frame as it arrives. The n-th frame sent is matched with
// the n-th frame received (loopback, no loss). The hop includes the TSBPD latency both sides
// agree on (the larger of the two), by design: SRT releases a packet that long after it was
// sent. `hop − latency` is what the path adds (demux, hub; RTMP players then get the frame at
// their next write, within `rtmp.playerMergeWriteMs`).
//
//   node bench/srt-hop.mjs [--seconds 10] [--latencies 120,40]
// Output: a table and results/srt-hop.json (p50/p99/max ms per latency).

import dgram from 'node:dgram'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { binding, here, root, currentCommit } from './lib.mjs'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, latencies: { type: 'string', default: '120,40' } } })
const SECONDS = Number(values.seconds)
const LATENCIES = values.latencies.split(',').map(Number)
const { Sluice } = await import(path.join(root, 'dist', 'index.mjs'))
const { TsMuxer, SrtCaller } = binding

function bytes(n, seed) {
  const b = Buffer.allocUnsafe(n)
  let x = seed | 1
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff }
  for (let k = 2; k < n; k++) if (b[k] <= 3 && b[k - 1] === 0 && b[k - 2] === 0) b[k] = 4
  return b
}
const sps = Buffer.from([0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60])
const pps = Buffer.from([0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0])
const avcHeader = Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, sps.length]), sps, Buffer.from([1, 0, pps.length]), pps])
const videoFrame = (i) => {
  const idr = i % 60 === 0
  const size = idr ? 60_000 : 10_000
  const nal = bytes(size, i + 1)
  nal[0] = idr ? 0x65 : 0x41
  return Buffer.concat([Buffer.from([idr ? 0x17 : 0x27, 1, 0, 0, 0, size >>> 24, (size >>> 16) & 255, (size >>> 8) & 255, size & 255]), nal])
}
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))]

async function measure(latencyMs) {
  const sluice = new Sluice({
    rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1' }, srt: { port: 0, host: '127.0.0.1', latencyMs }, log: { level: 'warn' },
  })
  await sluice.start()
  const received = []
  const subscriber = {
    id: 'hop-probe',
    onPublish() {}, onUnpublish() {}, onMetadata() {},
    onFrame(_stream, frame) {
      if (frame.kind === 'video' && !frame.sequenceHeader) received.push(performance.now())
    },
  }
  sluice.hub.subscribe('live', 'hop', subscriber)

  const socket = dgram.createSocket('udp4')
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  const caller = new SrtCaller({ address: '127.0.0.1', port: sluice.srt.port, localAddress: '127.0.0.1', streamId: 'publish:live/hop', latencyMs })
  let open = false
  let timer = null
  const flush = () => {
    const out = caller.drain()
    let start = 0
    out.ends.forEach((end, i) => { socket.send(out.datagrams.subarray(start, end), out.ports[i], out.addresses[i]); start = end })
    for (const e of out.events) if (e.kind === 'open') open = true
    if (out.nextTickMs >= 0) {
      clearTimeout(timer)
      timer = setTimeout(() => { caller.tick(); flush() }, Math.max(1, out.nextTickMs))
    }
  }
  socket.on('message', (m, r) => { caller.receive(m, r.address, r.port); flush() })
  caller.tick()
  flush()
  const t0 = performance.now()
  while (!open) {
    if (performance.now() - t0 > 5000) throw new Error('the SRT caller did not connect')
    await new Promise((r) => setTimeout(r, 5))
  }

  const muxer = new TsMuxer()
  const send = (kind, dts, body) => {
    const ts = muxer.frame(kind, dts, body)
    if (ts) caller.send(ts)
  }
  send('video', 0, avcHeader)
  send('audio', 0, Buffer.from([0xaf, 0, 0x11, 0x90]))
  const sent = []
  const start = performance.now()
  let audioMs = 0
  for (let i = 0; i < SECONDS * 30; i++) {
    const ms = (i * 1000) / 30
    const wait = start + ms - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    while (audioMs <= ms) {
      send('audio', Math.round(audioMs), Buffer.concat([Buffer.from([0xaf, 1]), bytes(370, Math.round(audioMs) + 7)]))
      audioMs += 1024 / 48
    }
    sent.push(performance.now())
    send('video', Math.round(ms), videoFrame(i))
    flush()
  }
  // The last frame leaves the demuxer when the next PES starts: one more, unmeasured.
  send('video', Math.round((SECONDS * 30 * 1000) / 30), videoFrame(1))
  flush()
  await new Promise((r) => setTimeout(r, latencyMs + 500))
  clearTimeout(timer)
  caller.close()
  flush()
  socket.close()
  await sluice.close()

  const n = Math.min(sent.length, received.length)
  const hops = Array.from({ length: n }, (_, i) => received[i] - sent[i]).sort((a, b) => a - b)
  const row = {
    latencyMs, framesSent: sent.length, framesReceived: received.length,
    hopMsP50: Math.round(pct(hops, 50) * 10) / 10, hopMsP99: Math.round(pct(hops, 99) * 10) / 10, hopMsMax: Math.round(hops[hops.length - 1] * 10) / 10,
  }
  row.overLatencyMsP50 = Math.round((row.hopMsP50 - latencyMs) * 10) / 10
  row.overLatencyMsP99 = Math.round((row.hopMsP99 - latencyMs) * 10) / 10
  return row
}

const rows = []
for (const latency of LATENCIES) rows.push(await measure(latency))
console.table(rows)
const out = { benchmark: 'srt-hop', date: new Date().toISOString(), commit: currentCommit(), machine: { cpus: os.cpus()[0]?.model, count: os.cpus().length, node: process.version }, seconds: SECONDS, results: rows }
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results', 'srt-hop.json'), JSON.stringify(out, null, 1) + '\n')
