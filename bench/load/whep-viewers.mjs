#!/usr/bin/env node
/**
 * whep-viewers: N WHEP viewers as node-datachannel clients (ICE bound to 127.0.0.1), for a
 * bounded time. Reports per viewer: video/audio RTP packets, sequence gaps, reordering, and time
 * from `connected` to the first keyframe (an IDR or SPS NAL unit). Optionally samples a server
 * process's CPU (user+sys per wall second, /proc) and RSS.
 *
 *   node bench/load/whep-viewers.mjs --http http://127.0.0.1:8000 --stream live/test \
 *     --viewers 20 --duration 30 [--server-pid PID] [--json]
 */
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'
import nodeDataChannel from 'node-datachannel'

const { PeerConnection, Video, Audio } = nodeDataChannel
const { values } = parseArgs({
  options: {
    http: { type: 'string', default: 'http://127.0.0.1:8000' },
    stream: { type: 'string', default: 'live/test' },
    viewers: { type: 'string', default: '20' },
    duration: { type: 'string', default: '30' },
    'server-pid': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
})
const N = Number(values.viewers)
const duration = Math.min(Number(values.duration), 600) * 1000
const origin = new URL(values.http).origin
if (!/^(127\.|localhost|\[::1\])/.test(new URL(values.http).hostname)) throw new Error('loopback targets only')

function nalTypesOf(payload) {
  const t = payload[0] & 0x1f
  if (t === 24) {
    const types = []
    for (let at = 1; at + 2 < payload.length; ) {
      const size = payload.readUInt16BE(at)
      types.push(payload[at + 2] & 0x1f)
      at += 2 + size
    }
    return types
  }
  if (t === 28) return payload[1] & 0x80 ? [payload[1] & 0x1f] : []
  return [t]
}

function tracker() {
  return { packets: 0, bytes: 0, first: null, last: null, gaps: 0, missing: 0, reordered: 0 }
}

function onRtp(t, buf) {
  const b1 = buf[1]
  if (b1 >= 192 && b1 <= 223) return false // RTCP
  const seq = buf.readUInt16BE(2)
  t.packets++
  t.bytes += buf.length
  if (t.last !== null) {
    const d = (seq - t.last) & 0xffff
    if (d === 0 || d > 0x8000) t.reordered++
    else if (d > 1) {
      t.gaps++
      t.missing += d - 1
    }
  }
  if (t.last === null || ((seq - t.last) & 0xffff) < 0x8000) t.last = seq
  if (t.first === null) t.first = seq
  return true
}

async function viewer(i) {
  const pc = new PeerConnection(`viewer-${i}`, { iceServers: [], bindAddress: '127.0.0.1' })
  const v = { i, state: 'new', connectedAt: 0, firstKeyframeMs: null, video: tracker(), audio: tracker(), error: null, pc, resource: null }
  const video = new Video('0', 'RecvOnly')
  video.addH264Codec(102, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f')
  const vt = pc.addTrack(video)
  const audio = new Audio('1', 'RecvOnly')
  audio.addOpusCodec(111, 'minptime=10;useinbandfec=1')
  const at = pc.addTrack(audio)
  vt.onMessage((buf) => {
    if (!onRtp(v.video, buf)) return
    if (v.firstKeyframeMs === null) {
      const offset = 12 + 4 * (buf[0] & 0x0f) + (buf[0] & 0x10 ? 4 + 4 * buf.readUInt16BE(12 + 4 * (buf[0] & 0x0f) + 2) : 0)
      const types = nalTypesOf(buf.subarray(offset))
      if (types.includes(5) || types.includes(7)) v.firstKeyframeMs = Date.now() - v.connectedAt
    }
  })
  at.onMessage((buf) => onRtp(v.audio, buf))
  pc.onStateChange((s) => {
    v.state = s
    if (s === 'connected') v.connectedAt = Date.now()
  })
  const gathered = new Promise((resolve) => {
    pc.onGatheringStateChange((s) => s === 'complete' && resolve())
    setTimeout(resolve, 3000)
  })
  pc.setLocalDescription()
  await gathered
  const res = await fetch(`${origin}/whep/${values.stream}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription().sdp })
  if (res.status !== 201) {
    v.error = `WHEP ${res.status}: ${await res.text()}`
    return v
  }
  v.resource = origin + res.headers.get('location')
  pc.setRemoteDescription(await res.text(), 'answer')
  return v
}

function cpuSample(pid) {
  if (!pid) return null
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  const ticks = Number(f[11]) + Number(f[12])
  const rss = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096
  return { ticks, rss, at: Date.now() }
}

const viewers = []
for (let i = 0; i < N; i++) viewers.push(await viewer(i))
const connectDeadline = Date.now() + 15000
while (viewers.some((v) => !v.error && v.state !== 'connected') && Date.now() < connectDeadline) await new Promise((r) => setTimeout(r, 100))
// the measured window starts once everyone is connected
for (const v of viewers) {
  v.windowStart = { video: v.video.packets, audio: v.audio.packets, gaps: v.video.gaps, missing: v.video.missing }
}
const cpu0 = cpuSample(Number(values['server-pid']))
await new Promise((r) => setTimeout(r, duration))
const cpu1 = cpuSample(Number(values['server-pid']))

const report = viewers.map((v) => ({
  viewer: v.i,
  state: v.state,
  error: v.error,
  videoPackets: v.video.packets - (v.windowStart?.video ?? 0),
  audioPackets: v.audio.packets - (v.windowStart?.audio ?? 0),
  videoKbps: Math.round((v.video.bytes * 8) / duration),
  gaps: v.video.gaps,
  missing: v.video.missing,
  reordered: v.video.reordered,
  firstKeyframeMs: v.firstKeyframeMs,
}))
const summary = {
  viewers: N,
  connected: viewers.filter((v) => v.state === 'connected').length,
  durationMs: duration,
  minVideoPackets: Math.min(...report.map((r) => r.videoPackets)),
  maxVideoPackets: Math.max(...report.map((r) => r.videoPackets)),
  totalGaps: report.reduce((n, r) => n + r.gaps, 0),
  totalMissing: report.reduce((n, r) => n + r.missing, 0),
  medianFirstKeyframeMs: report.map((r) => r.firstKeyframeMs ?? Infinity).sort((a, b) => a - b)[Math.floor(N / 2)],
  serverCpuPercent: cpu0 && cpu1 ? Math.round(((cpu1.ticks - cpu0.ticks) / 100 / ((cpu1.at - cpu0.at) / 1000)) * 1000) / 10 : null,
  serverRssMb: cpu1 ? Math.round(cpu1.rss / 1048576) : null,
}
for (const v of viewers) {
  if (v.resource) await fetch(v.resource, { method: 'DELETE' }).catch(() => {})
  try {
    v.pc.close()
  } catch {}
}
if (values.json) process.stdout.write(JSON.stringify({ summary, viewers: report }) + '\n')
else {
  console.table(report)
  console.log(summary)
}
nodeDataChannel.cleanup()
process.exit(0)
