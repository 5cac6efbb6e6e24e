#!/usr/bin/env node
/**
 * whep-viewers: N WHEP viewers as werift clients (ICE bound to 127.0.0.1), for a bounded time.
 * (node-datachannel 0.33 as a receiver connects but hands no RTP to `Track.onMessage` here, so the
 * viewers use werift, an independent WebRTC stack that also sends NACKs.) Reports per viewer: video/audio RTP packets, sequence gaps, reordering, and time
 * from `connected` to the first keyframe (an IDR or SPS NAL unit). Optionally samples a server
 * process's CPU (user+sys per wall second, /proc) and RSS.
 *
 *   node bench/load/whep-viewers.mjs --http http://127.0.0.1:8000 --stream live/test \
 *     --viewers 20 --duration 30 [--server-pid PID] [--json]
 */
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift'

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
  return { packets: 0, bytes: 0, first: null, last: null, gaps: 0, missing: 0, reordered: 0, ext: null, seen: null }
}

/** Extended sequence numbers seen inside the measured window (to count what NACK never filled). */
function recordWindow(t, seq) {
  if (!t.seen) return
  let ext = seq
  if (t.ext !== null) {
    const d = (seq - (t.ext & 0xffff) + 0x10000) & 0xffff
    ext = d < 0x8000 ? t.ext + d : t.ext - (0x10000 - d)
  }
  if (t.ext === null || ext > t.ext) t.ext = ext
  t.seen.add(ext)
}

function windowLoss(t) {
  if (!t.seen || t.seen.size === 0) return { received: 0, unrecovered: 0 }
  let min = Infinity
  let max = -Infinity
  for (const e of t.seen) {
    if (e < min) min = e
    if (e > max) max = e
  }
  return { received: t.seen.size, unrecovered: max - min + 1 - t.seen.size }
}

function onRtp(t, seq, size) {
  recordWindow(t, seq)
  t.packets++
  t.bytes += size
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
}

/**
 * One viewer: a werift RTCPeerConnection (an independent WebRTC stack: ICE, DTLS-SRTP, RTCP with
 * NACK) with recvonly H.264 and Opus, ICE on 127.0.0.1 only.
 */
async function viewer(i) {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceUseIpv4: true,
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90000,
          parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
        }),
      ],
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
    },
  })
  const v = { i, state: 'new', connectedAt: 0, firstKeyframeMs: null, video: tracker(), audio: tracker(), error: null, pc, resource: null }
  pc.addTransceiver('video', { direction: 'recvonly' })
  pc.addTransceiver('audio', { direction: 'recvonly' })
  pc.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      const t = track.kind === 'video' ? v.video : v.audio
      onRtp(t, rtp.header.sequenceNumber, rtp.payload.length + 12)
      if (track.kind === 'video' && v.firstKeyframeMs === null) {
        const types = nalTypesOf(rtp.payload)
        if (types.includes(5) || types.includes(7)) v.firstKeyframeMs = Date.now() - v.connectedAt
      }
    })
  })
  pc.connectionStateChange.subscribe((s) => {
    v.state = s
    if (s === 'connected') v.connectedAt = Date.now()
  })
  await pc.setLocalDescription(await pc.createOffer())
  const deadline = Date.now() + 3000
  while (pc.iceGatheringState !== 'complete' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  v.gatherMs = 3000 - (deadline - Date.now())
  const res = await fetch(`${origin}/whep/${values.stream}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp })
  if (res.status !== 201) {
    v.error = `WHEP ${res.status}: ${await res.text()}`
    return v
  }
  v.resource = origin + res.headers.get('location')
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() })
  return v
}

/** CPU ticks (user+sys) and RSS of a process and its children (the viewer processes). */
function cpuSample(pid) {
  if (!pid) return null
  const pids = [pid]
  try {
    for (const t of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) if (t) pids.push(Number(t))
  } catch {}
  let ticks = 0
  let rss = 0
  for (const p of pids) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')
      ticks += Number(f[11]) + Number(f[12])
      rss += Number(readFileSync(`/proc/${p}/statm`, 'utf8').split(' ')[1]) * 4096
    } catch {}
  }
  return { ticks, rss, at: Date.now(), processes: pids.length }
}

const viewers = await Promise.all(Array.from({ length: N }, (_, i) => viewer(i)))
const connectDeadline = Date.now() + 15000
while (viewers.some((v) => !v.error && v.state !== 'connected') && Date.now() < connectDeadline) await new Promise((r) => setTimeout(r, 100))
// the measured window starts once everyone is connected
for (const v of viewers) {
  v.windowStart = { video: v.video.packets, audio: v.audio.packets, gaps: v.video.gaps, missing: v.video.missing }
  v.video.seen = new Set()
}
const cpu0 = cpuSample(Number(values['server-pid']))
await fetch(`${origin}/api/stats?reset`).catch(() => null)
await new Promise((r) => setTimeout(r, duration))
const cpu1 = cpuSample(Number(values['server-pid']))
const serverStats = await fetch(`${origin}/api/stats`).then((r) => r.json()).catch(() => null)
for (const v of viewers) {
  v.windowLoss = windowLoss(v.video)
  v.video.seen = null
}

const report = viewers.map((v) => ({
  viewer: v.i,
  state: v.state,
  error: v.error,
  videoPackets: v.video.packets - (v.windowStart?.video ?? 0),
  audioPackets: v.audio.packets - (v.windowStart?.audio ?? 0),
  videoKbps: Math.round((v.video.bytes * 8) / duration),
  gaps: v.video.gaps,
  missing: v.video.missing,
  windowReceived: v.windowLoss?.received ?? 0,
  unrecovered: v.windowLoss?.unrecovered ?? 0,
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
  totalUnrecovered: report.reduce((n, r) => n + r.unrecovered, 0),
  minWindowReceived: Math.min(...report.map((r) => r.windowReceived)),
  medianFirstKeyframeMs: report.map((r) => r.firstKeyframeMs ?? Infinity).sort((a, b) => a - b)[Math.floor(N / 2)],
  serverCpuPercent: cpu0 && cpu1 ? Math.round(((cpu1.ticks - cpu0.ticks) / 100 / ((cpu1.at - cpu0.at) / 1000)) * 1000) / 10 : null,
  serverRssMb: cpu1 ? Math.round(cpu1.rss / 1048576) : null,
  serverEventLoopDelayMs: serverStats?.eventLoopDelayMs ?? null,
}
for (const v of viewers) {
  if (v.resource) await fetch(v.resource, { method: 'DELETE' }).catch(() => {})
  await v.pc.close().catch(() => {})
}
if (values.json) process.stdout.write(JSON.stringify({ summary, viewers: report }) + '\n')
else {
  console.table(report)
  console.log(summary)
}
process.exit(0)
