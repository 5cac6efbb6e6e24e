#!/usr/bin/env node
/**
 * whep-viewers: N WHEP viewers as node-datachannel (libdatachannel) clients, spread over K child
 * processes, ICE bound to 127.0.0.1, for a bounded window. Per viewer: video RTP packets (by
 * extended sequence number), gaps, NACKs sent (RFC 4585 generic NACK, built here: libdatachannel
 * has no NACK generator for receivers) and the gaps they filled, losses still missing at the end
 * of the window, out-of-order arrivals, video bitrate, time from ICE `connected` to the first
 * keyframe (H.264 IDR). Also: server CPU (user+sys per wall second of the server process and its
 * descendants, /proc), RSS, `/api/stats` (event-loop delay, NACKs, fan-out latency), client CPU,
 * and the kernel's UDP receive-buffer drops (/proc/net/snmp UdpRcvbufErrors, machine-wide).
 *
 * Exit code 0 only when every viewer connected, received every video packet of the window (each
 * gap filled by a NACK retransmission before the end) and kept up with the live stream (its video
 * advanced, by RTP timestamps, no more than --max-lag-ms less than the publisher's output, from
 * ffmpeg -progress with --spawn, else than wall time); 1 otherwise; 2 on setup errors.
 *
 * A retransmission whose RTP timestamp does not fit between its neighbours' counts as a bad fill
 * (the server sent another packet under the NACKed sequence number) and fails the run too. Gaps
 * before the window (at join) are reported apart (setup*) and do not fail it.
 *
 *   node bench/load/whep-viewers.mjs --spawn --viewers 20 --duration 30
 *   node bench/load/whep-viewers.mjs --url http://127.0.0.1:8000 --stream live/test \
 *     --viewers 100 --duration 20 --procs 2 --server-pid PID [--json out.json]
 *
 *   --spawn           start `dist/cli.js` (loopback ports) and an ffmpeg publisher (720p30 H.264
 *                     at --video-bitrate, default 2500k, + AAC), stop both at the end
 *   --transport T     with --spawn: the server's WHEP transport, `datachannel` (default) or
 *                     `native` (one UDP port; a free one is picked)
 *   --procs K         viewer processes (viewers dealt round-robin)
 *   --drop-rate R     drop a fraction R of received video datagrams in the viewer processes before
 *                     SRTP (LD_PRELOAD shim bench/load/udp-drop.c, built with gcc): exercises NACK
 *   --nice N          run the viewer processes at nice N (the server keeps the CPU it needs when
 *                     clients and server share a small machine)
 *   --grace MS        after the window, time for the last retransmissions to land (default 500)
 *   --max-lag-ms MS   allowed media-time shortfall over the window (default 1000)
 *   --json PATH|-     full per-viewer results; --table prints the per-viewer table (default N<=25)
 *
 * node-datachannel receive notes (why an earlier version saw no RTP in `Track.onMessage`):
 *  - keep a reference to every Track object returned by `pc.addTrack()`: when the JS wrapper is
 *    garbage-collected its destructor closes the rtc::Track, and nothing arrives any more (the
 *    PeerConnection stays `connected`);
 *  - `onMessage` gets whole decrypted RTP packets (header included) and the sender's RTCP
 *    (SR) on the same track; libdatachannel routes by the SSRCs in the answer's `a=ssrc` lines;
 *  - no media handler: with `RtcpReceivingSession` attached, `sendMessageBinary(rtcp)` on a
 *    RecvOnly track is refused (returns false), so the NACKs could not be sent;
 *  - a retransmitted packet that was already received is dropped by SRTP replay protection, so
 *    duplicates never reach JS;
 *  - the offer goes without candidates and the candidates follow in a PATCH (RFC 8840) once the
 *    answer is applied: with candidates in the offer the server's ICE checks can complete before
 *    the client has the answer, its DTLS then starts without the remote fingerprint and fails
 *    ("certificate verify failed", the PeerConnection closes); 4 of 20 viewers failed so when
 *    the answer took ~300 ms (`--candidates-in-offer` restores that behaviour).
 */
import { parseArgs } from 'node:util'
import { writeFileSync } from 'node:fs'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { availableParallelism, loadavg, setPriority } from 'node:os'
import { sleep, round, freePort, stopProcess, descendants, procSample, machineCpu, udpSnmp, forkClients } from './lib.mjs'

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    http: { type: 'string' },
    stream: { type: 'string', default: 'live/test' },
    viewers: { type: 'string', default: '20' },
    duration: { type: 'string', default: '30' },
    procs: { type: 'string', default: '1' },
    transport: { type: 'string', default: 'datachannel' },
    'server-pid': { type: 'string' },
    spawn: { type: 'boolean', default: false },
    'video-bitrate': { type: 'string', default: '2500k' },
    'connect-timeout': { type: 'string', default: '60' },
    grace: { type: 'string', default: '500' },
    'max-lag-ms': { type: 'string', default: '1000' },
    'drop-rate': { type: 'string', default: '0' },
    nice: { type: 'string', default: '0' },
    json: { type: 'string' },
    table: { type: 'boolean' },
    'candidates-in-offer': { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
  },
})


if (values.child) await runChild()
else await runMain()

// ───────────────────────────── viewer processes ─────────────────────────────

async function runChild() {
  if (Number(process.env.WHEP_VIEWERS_NICE) > 0) setPriority(Number(process.env.WHEP_VIEWERS_NICE))
  const { default: ndc } = await import('node-datachannel')
  const { PeerConnection, Video, Audio } = ndc
  const NACK_FIRST_MS = 5
  const NACK_RETRY_MS = 40
  const NACK_MAX_TRIES = 10
  const MAX_MISSING = 4096
  const TS_RING_MASK = 4095
  /** Every viewer stays referenced here (and its tracks in it): see the GC note at the top. */
  const viewers = []
  const loop = monitorEventLoopDelay({ resolution: 1 })
  loop.enable()
  let windowOpen = false
  let windowStartAt = 0
  let windowEndAt = 0

  const send = (m) => process.send(m)
  process.on('message', (m) => {
    if (m.op === 'init') void init(m)
    else if (m.op === 'start') startWindow()
    else if (m.op === 'stop') void stopWindow(m.grace)
    else if (m.op === 'close') void closeAll()
  })
  process.on('disconnect', () => process.exit(0))

  function newViewer(i) {
    return {
      i,
      pc: null,
      videoTrack: null,
      audioTrack: null,
      resource: null,
      error: null,
      state: 'new',
      iceState: 'new',
      createdAt: performance.now(),
      connectedAt: null,
      iceConnectedAt: null,
      answeredAt: null,
      firstPacketAt: null,
      firstKeyframeAt: null,
      keyframeCompleteAt: null,
      keyTs: null,
      mediaSsrc: 0,
      ownSsrc: (Math.random() * 0xfffffffe + 1) >>> 0,
      maxExt: -1,
      /** RTP timestamp of the packet with the highest sequence number */
      lastTs: null,
      /** RTP timestamps of recently received packets, by extended seq & TS_RING_MASK */
      tsAt: new Uint32Array(TS_RING_MASK + 1),
      tsExt: new Int32Array(TS_RING_MASK + 1).fill(-1),
      badFills: 0,
      /** extended seq → { at, tries, last } for gaps not filled yet; gaveUp: after NACK_MAX_TRIES */
      missing: new Map(),
      gaveUp: new Map(),
      // totals since connect
      videoPackets: 0,
      audioPackets: 0,
      rtcpIn: 0,
      gaps: 0,
      lost: 0,
      nacksSent: 0,
      nackSendFailures: 0,
      nackedSeqs: 0,
      filledByNack: 0,
      outOfOrder: 0,
      recoveryMs: [],
      // window
      w: null,
    }
  }

  function windowCounters(v) {
    return { startExt: v.maxExt + 1, startTs: v.lastTs, endTs: null, endExt: null, packets: 0, bytes: 0, audioPackets: 0, gaps: 0, lost: 0, filledByNack: 0, outOfOrder: 0, nacksSent: 0, overflow: 0, badFills: 0 }
  }

  function payloadOffset(buf) {
    let at = 12 + 4 * (buf[0] & 0x0f)
    if (buf[0] & 0x10) at += 4 + 4 * ((buf[at + 2] << 8) | buf[at + 3])
    return at
  }

  function isIdr(buf) {
    const at = payloadOffset(buf)
    if (at >= buf.length) return false
    const t = buf[at] & 0x1f
    if (t === 5) return true
    if (t === 28) return (buf[at + 1] & 0x80) !== 0 && (buf[at + 1] & 0x1f) === 5
    if (t === 24) {
      for (let p = at + 1; p + 2 < buf.length; ) {
        const size = (buf[p] << 8) | buf[p + 1]
        if ((buf[p + 2] & 0x1f) === 5) return true
        p += 2 + size
      }
    }
    return false
  }

  /** RFC 4585 §6.2.1 generic NACK: PID + BLP pairs covering `seqs` (16-bit, ascending). */
  function sendNack(v, seqs) {
    if (!v.mediaSsrc || seqs.length === 0) return
    const fci = []
    for (let k = 0; k < seqs.length; ) {
      const pid = seqs[k++] & 0xffff
      let blp = 0
      while (k < seqs.length) {
        const d = (seqs[k] - pid) & 0xffff
        if (d < 1 || d > 16) break
        blp |= 1 << (d - 1)
        k++
      }
      fci.push(pid, blp)
    }
    const n = fci.length / 2
    const b = Buffer.allocUnsafe(12 + 4 * n)
    b[0] = 0x81
    b[1] = 205
    b.writeUInt16BE(2 + n, 2)
    b.writeUInt32BE(v.ownSsrc, 4)
    b.writeUInt32BE(v.mediaSsrc, 8)
    for (let j = 0; j < n; j++) {
      b.writeUInt16BE(fci[2 * j], 12 + 4 * j)
      b.writeUInt16BE(fci[2 * j + 1], 14 + 4 * j)
    }
    let ok = false
    try {
      ok = v.videoTrack.sendMessageBinary(b)
    } catch {}
    if (ok) {
      v.nacksSent++
      v.nackedSeqs += seqs.length
      if (v.w && windowOpen) v.w.nacksSent++
    } else v.nackSendFailures++
  }

  function onVideo(v, buf) {
    const b1 = buf[1]
    if (b1 >= 192 && b1 <= 223) {
      v.rtcpIn++
      return
    }
    if (buf.length < 12) return
    const now = performance.now()
    const seq = (buf[2] << 8) | buf[3]
    if (!v.mediaSsrc) v.mediaSsrc = buf.readUInt32BE(8)
    v.videoPackets++
    if (v.firstPacketAt === null) v.firstPacketAt = now
    const w = v.w
    if (windowOpen) {
      w.packets++
      w.bytes += buf.length
    }
    const ts = buf.readUInt32BE(4)
    if (v.maxExt < 0) {
      v.maxExt = (1 << 20) + seq
      v.lastTs = ts
      v.tsAt[v.maxExt & TS_RING_MASK] = ts
      v.tsExt[v.maxExt & TS_RING_MASK] = v.maxExt
      if (w && w.startExt === 0) {
        w.startExt = v.maxExt
        w.startTs = v.lastTs
      }
    } else {
      const d = (((seq - (v.maxExt & 0xffff)) & 0xffff) ^ 0x8000) - 0x8000
      const ext = v.maxExt + d
      if (d > 1) {
        v.gaps++
        v.lost += d - 1
        if (windowOpen) {
          w.gaps++
          w.lost += d - 1
        }
        for (let e = v.maxExt + 1; e < ext; e++) {
          if (v.missing.size < MAX_MISSING) v.missing.set(e, { at: now, tries: 0, last: 0 })
          else if (w && e >= w.startExt && (w.endExt === null || e <= w.endExt)) w.overflow++
        }
      }
      if (d !== 0) {
        v.tsAt[ext & TS_RING_MASK] = ts
        v.tsExt[ext & TS_RING_MASK] = ext
      }
      if (d > 0) {
        v.maxExt = ext
        v.lastTs = ts
      } else if (d < 0) {
        // a late arrival: a NACK retransmission, or a reordered packet no NACK asked for yet
        const m = v.missing.get(ext) ?? v.gaveUp.get(ext)
        const inWindow = w && ext >= w.startExt && (w.endExt === null || ext <= w.endExt)
        if (m) {
          v.missing.delete(ext)
          v.gaveUp.delete(ext)
          if (m.tries > 0) {
            v.filledByNack++
            v.recoveryMs.push(now - m.at)
            if (inWindow) w.filledByNack++
            if (!tsConsistent(v, ext, ts)) {
              v.badFills++
              if (inWindow) w.badFills++
            }
          } else {
            v.outOfOrder++
            if (inWindow) w.outOfOrder++
          }
        } else {
          v.outOfOrder++
          if (inWindow) w.outOfOrder++
        }
      }
    }
    if (v.firstKeyframeAt === null) {
      if (isIdr(buf)) {
        v.firstKeyframeAt = now
        v.keyTs = buf.readUInt32BE(4)
      }
    } else if (v.keyframeCompleteAt === null && buf[1] & 0x80 && buf.readUInt32BE(4) === v.keyTs) {
      v.keyframeCompleteAt = now
    }
  }

  /**
   * A retransmission must carry the original packet: its RTP timestamp has to lie between those
   * of the nearest packets received before and after it (a different packet sent under the
   * requested sequence number usually does not).
   */
  function tsConsistent(v, ext, ts) {
    for (let e = ext - 1; e >= ext - 32; e--) {
      if (v.tsExt[e & TS_RING_MASK] !== e) continue
      if (((ts - v.tsAt[e & TS_RING_MASK]) | 0) < 0) return false
      break
    }
    for (let e = ext + 1; e <= ext + 32; e++) {
      if (v.tsExt[e & TS_RING_MASK] !== e) continue
      if (((v.tsAt[e & TS_RING_MASK] - ts) | 0) < 0) return false
      break
    }
    return true
  }

  function onAudio(v, buf) {
    const b1 = buf[1]
    if (b1 >= 192 && b1 <= 223) return
    v.audioPackets++
    if (windowOpen && v.w) v.w.audioPackets++
  }

  // NACKs: the first once a gap is NACK_FIRST_MS old (a packet merely reordered fills it before),
  // then retries every NACK_RETRY_MS (the packet or the NACK may be lost again)
  setInterval(() => {
    const now = performance.now()
    for (const v of viewers) {
      if (v.missing.size === 0) continue
      const seqs = []
      for (const [e, m] of v.missing) {
        if (m.tries >= NACK_MAX_TRIES) {
          v.missing.delete(e)
          v.gaveUp.set(e, m)
          continue
        }
        if (now - m.at < NACK_FIRST_MS || now - m.last < NACK_RETRY_MS) continue
        m.tries++
        m.last = now
        seqs.push(e & 0xffff)
      }
      if (seqs.length) sendNack(v, seqs)
    }
  }, 10).unref()

  async function connectViewer(v, origin, stream) {
    const pc = new PeerConnection(`viewer-${v.i}`, { iceServers: [], bindAddress: '127.0.0.1', enableIceUdpMux: false })
    v.pc = pc
    const video = new Video('0', 'RecvOnly')
    video.addH264Codec(102, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f')
    const audio = new Audio('1', 'RecvOnly')
    audio.addOpusCodec(111, 'minptime=10;useinbandfec=1')
    v.videoTrack = pc.addTrack(video)
    v.audioTrack = pc.addTrack(audio)
    v.videoTrack.onMessage((buf) => onVideo(v, buf))
    v.audioTrack.onMessage((buf) => onAudio(v, buf))
    pc.onStateChange((s) => {
      v.state = s
      if (s === 'connected' && v.connectedAt === null) v.connectedAt = performance.now()
    })
    pc.onIceStateChange((s) => {
      v.iceState = s
      if ((s === 'connected' || s === 'completed') && v.iceConnectedAt === null) v.iceConnectedAt = performance.now()
    })
    const gathered = new Promise((resolve) => {
      pc.onGatheringStateChange((s) => s === 'complete' && resolve())
      setTimeout(resolve, 3000)
    })
    pc.setLocalDescription()
    if (pc.gatheringState() !== 'complete') await gathered
    // Candidates go in a PATCH after the answer is applied (see the DTLS race in the header note)
    const full = pc.localDescription().sdp
    const candidates = full.match(/^a=candidate:.*$/gm) ?? []
    const offer = candidatesInOffer
      ? full
      : full.replace(/^a=(candidate:.*|end-of-candidates)\r?\n/gm, '').replace(/^m=(\w+) \d+ /gm, 'm=$1 9 ').replace(/^c=IN IP4 .*$/gm, 'c=IN IP4 0.0.0.0')
    const res = await fetch(`${origin}/whep/${stream}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer })
    const body = await res.text()
    if (res.status !== 201) throw new Error(`WHEP ${res.status}: ${body.trim()}`)
    v.resource = new URL(res.headers.get('location'), origin).href
    const m = /a=ssrc:(\d+)/.exec(body.split(/\r?\nm=audio/)[0] ?? '')
    if (m) v.mediaSsrc = Number(m[1])
    pc.setRemoteDescription(body, 'answer')
    v.answeredAt = performance.now()
    if (!candidatesInOffer) {
      const frag = `a=mid:0\r\n${candidates.map((c) => `${c}\r\n`).join('')}a=end-of-candidates\r\n`
      const patch = await fetch(v.resource, { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' }, body: frag })
      if (patch.status !== 204) throw new Error(`WHEP PATCH ${patch.status}: ${(await patch.text()).trim()}`)
    }
  }

  let candidatesInOffer = false
  async function init(m) {
    candidatesInOffer = m.candidatesInOffer
    for (const i of m.ids) viewers.push(newViewer(i))
    let next = 0
    const worker = async () => {
      while (next < viewers.length) {
        const v = viewers[next++]
        try {
          await connectViewer(v, m.origin, m.stream)
        } catch (error) {
          v.error = String(error?.message ?? error)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(m.concurrency, viewers.length) }, worker))
    const deadline = Date.now() + m.connectTimeoutMs
    while (Date.now() < deadline && viewers.some((v) => !v.error && !(v.state === 'connected' && v.keyframeCompleteAt !== null))) await sleep(100)
    send({ op: 'ready', connected: viewers.filter((v) => v.state === 'connected').length, errors: viewers.filter((v) => v.error).map((v) => `${v.i}: ${v.error}`) })
  }

  function startWindow() {
    for (const v of viewers) {
      v.w = windowCounters(v)
      if (v.maxExt < 0) v.w.startExt = 0
    }
    loop.reset()
    windowStartAt = performance.now()
    windowOpen = true
  }

  /** ms from ICE connected to `at` (callbacks of different kinds may reach JS in either order). */
  const since = (from, at) => (from === null || at === null ? null : round(Math.max(0, at - from)))

  async function stopWindow(graceMs) {
    windowOpen = false
    windowEndAt = performance.now()
    for (const v of viewers) {
      v.w.endExt = v.maxExt
      v.w.endTs = v.lastTs
    }
    // let NACK retransmissions for the last gaps land; they count as filled, new packets do not count
    await sleep(graceMs)
    const seconds = (windowEndAt - windowStartAt) / 1000
    const results = viewers.map((v) => {
      const w = v.w
      let unrecovered = w.overflow
      if (w.endExt >= 0) for (const map of [v.missing, v.gaveUp]) for (const [e] of map) if (e >= w.startExt && e <= w.endExt) unrecovered++
      const rec = v.recoveryMs.slice().sort((a, b) => a - b)
      return {
        viewer: v.i,
        state: v.state,
        error: v.error,
        windowSeqs: w.endExt >= 0 && w.startExt > 0 ? w.endExt - w.startExt + 1 : 0,
        videoPackets: w.packets,
        audioPackets: w.audioPackets,
        videoKbps: Math.round((w.bytes * 8) / seconds / 1000),
        /** media time the viewer's video advanced by during the window (RTP timestamps, 90 kHz) */
        mediaAdvanceMs: w.startTs !== null && w.endTs !== null ? Math.round(((w.endTs - w.startTs) >>> 0) / 90) : null,
        gaps: w.gaps,
        lost: w.lost,
        nacksSent: w.nacksSent,
        filledByNack: w.filledByNack,
        badFills: w.badFills,
        unrecovered,
        outOfOrder: w.outOfOrder,
        totalGaps: v.gaps,
        totalLost: v.lost,
        totalFilled: v.filledByNack,
        totalBadFills: v.badFills,
        setupUnfilled: [...v.missing.keys(), ...v.gaveUp.keys()].filter((e) => e < w.startExt).length,
        recoveryMsMax: rec.length ? round(rec[rec.length - 1]) : null,
        nackSendFailures: v.nackSendFailures,
        connectMs: v.connectedAt !== null ? round(v.connectedAt - v.createdAt) : null,
        dtlsMs: since(v.iceConnectedAt, v.connectedAt),
        firstPacketMs: since(v.iceConnectedAt, v.firstPacketAt),
        firstKeyframeMs: since(v.iceConnectedAt, v.firstKeyframeAt),
        keyframeCompleteMs: since(v.iceConnectedAt, v.keyframeCompleteAt),
        answerToKeyframeMs: since(v.answeredAt, v.keyframeCompleteAt),
      }
    })
    send({
      op: 'results',
      windowMs: windowEndAt - windowStartAt,
      results,
      eventLoopDelayMs: { p50: round(loop.percentile(50) / 1e6, 2), p99: round(loop.percentile(99) / 1e6, 2), max: round(loop.max / 1e6, 2) },
    })
  }

  async function closeAll() {
    await Promise.all(viewers.map((v) => (v.resource ? fetch(v.resource, { method: 'DELETE' }).catch(() => {}) : null)))
    for (const v of viewers) {
      try {
        v.videoTrack?.close()
        v.audioTrack?.close()
        v.pc?.close()
      } catch {}
    }
    await sleep(100)
    process.exit(0)
  }
}

// ───────────────────────────── coordinator ─────────────────────────────

async function runMain() {
  const N = Number(values.viewers)
  const K = Math.max(1, Math.min(Number(values.procs), N))
  const durationMs = Math.min(Number(values.duration), 600) * 1000
  const cleanups = []
  let origin = values.url ?? values.http ?? 'http://127.0.0.1:8000'
  let serverPid = values['server-pid'] ? Number(values['server-pid']) : null
  /** The spawned publisher's output media time (ffmpeg -progress), to tell a slow publisher from slow delivery. */
  let publisher = null
  const apiErrors = []
  const api = (path) =>
    fetch(`${origin}${path}`, { signal: AbortSignal.timeout(15000) })
      .then((r) => r.json())
      .catch((e) => {
        apiErrors.push(`GET ${path}: ${e.name === 'TimeoutError' ? 'no answer within 15 s' : e.message}`)
        return null
      })
  const log = (s) => process.stderr.write(`whep-viewers: ${s}\n`)
  const die = async (msg) => {
    log(msg)
    for (const c of cleanups.reverse()) await c()
    process.exit(2)
  }
  process.on('SIGINT', () => void die('interrupted'))

  if (values.spawn) {
    const [rtmpPort, httpPort, udpPort] = [await freePort(), await freePort(), await freePort()]
    origin = `http://127.0.0.1:${httpPort}`
    const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))
    const server = spawn(process.execPath, [cli, '--rtmp-port', String(rtmpPort), '--http-port', String(httpPort), '--srt-port', '0', '--host', '127.0.0.1', '--webrtc-bind', '127.0.0.1', '--webrtc-transport', values.transport], {
      env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn', SLUICE_WEBRTC_UDP_PORT: String(udpPort) },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    serverPid = server.pid
    cleanups.push(() => stopProcess(server, 'SIGINT'))
    await new Promise((resolve, reject) => {
      let text = ''
      server.stderr.on('data', (d) => {
        text += d
        if (text.includes('sluice listening')) resolve()
      })
      server.once('exit', (code) => reject(new Error(`sluice exited (${code}): ${text}`)))
      setTimeout(() => reject(new Error('sluice did not start')), 10000)
    }).catch((e) => die(e.message))
    const ffmpeg = spawn(
      'ffmpeg',
      ['-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
        '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '60', '-b:v', values['video-bitrate'], '-maxrate', values['video-bitrate'], '-bufsize', values['video-bitrate'],
        '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-progress', 'pipe:1', '-stats_period', '0.5', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/${values.stream}`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let pending = ''
    ffmpeg.stdout.on('data', (d) => {
      pending += d
      const lines = pending.split('\n')
      pending = lines.pop()
      for (const l of lines) if (l.startsWith('out_time_us=') && Number(l.slice(12)) > 0) publisher = { mediaMs: Number(l.slice(12)) / 1000, at: Date.now() }
    })
    cleanups.push(() => stopProcess(ffmpeg, 'SIGTERM'))
    cleanups.ffmpegPid = ffmpeg.pid
    const deadline = Date.now() + 15000
    while (Date.now() < deadline) {
      const s = await api('/api/stats')
      if (s?.liveStreams >= 1) break
      await sleep(200)
    }
    await sleep(2500) // a GOP in the cache
    log(`spawned sluice pid ${serverPid} (rtmp ${rtmpPort}, http ${httpPort}) and ffmpeg pid ${ffmpeg.pid}`)
  }
  const url = new URL(origin)
  if (!/^(127\.|localhost$|\[::1\]$)/.test(url.hostname)) await die('loopback targets only')
  origin = url.origin

  // fault injection: drop a fraction of the video SRTP datagrams before libdatachannel sees them
  const childEnv = { ...process.env, WHEP_VIEWERS_NICE: values.nice }
  const dropRate = Number(values['drop-rate'])
  if (dropRate > 0) {
    const so = `/tmp/whep-viewers-udp-drop-${process.getuid?.() ?? 0}.so`
    const cc = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-o', so, fileURLToPath(new URL('./udp-drop.c', import.meta.url)), '-ldl'], { stdio: 'inherit' })
    if (cc.status !== 0) await die('--drop-rate needs gcc to build bench/load/udp-drop.c')
    Object.assign(childEnv, { LD_PRELOAD: so, UDP_DROP_RATE: String(dropRate), UDP_DROP_PT: '102' })
    log(`dropping ${dropRate * 100}% of received video datagrams in the viewer processes (before SRTP)`)
  }

  // viewer processes
  const { children, waitAll, killAll } = forkClients(fileURLToPath(import.meta.url), N, K, childEnv)
  cleanups.push(killAll)
  const connectStart = Date.now()
  const connectTimeoutMs = Number(values['connect-timeout']) * 1000
  for (const c of children) c.child.send({ op: 'init', ids: c.ids, origin, stream: values.stream, concurrency: 8, connectTimeoutMs, candidatesInOffer: values['candidates-in-offer'] })
  await waitAll('ready', connectTimeoutMs + 30000)
  const connected = children.reduce((n, c) => n + (c.ready?.connected ?? 0), 0)
  const setupErrors = children.flatMap((c) => c.ready?.errors ?? [])
  log(`${connected}/${N} viewers connected (with a keyframe) in ${Date.now() - connectStart} ms${setupErrors.length ? `; errors: ${setupErrors.slice(0, 5).join(' | ')}` : ''}`)

  // the measured window
  const clientPids = () => [process.pid, ...children.map((c) => c.child.pid)]
  const snmp0 = udpSnmp()
  const machine0 = machineCpu()
  const stats0 = await api('/api/stats?reset')
  const server0 = procSample(serverPid ? [serverPid, ...descendants(serverPid).filter((p) => p !== cleanups.ffmpegPid)] : [])
  const client0 = procSample(clientPids())
  const publisher0 = procSample(cleanups.ffmpegPid ? [cleanups.ffmpegPid] : [])
  for (const c of children) c.child.send({ op: 'start' })
  const publisherStart = publisher
  const perSecond = []
  let maxServerRss = 0
  let prev = server0
  const windowStart = Date.now()
  while (Date.now() - windowStart < durationMs) {
    await sleep(Math.min(1000, durationMs - (Date.now() - windowStart)))
    const s = procSample(serverPid ? [serverPid, ...descendants(serverPid).filter((p) => p !== cleanups.ffmpegPid)] : [])
    if (serverPid && s.at > prev.at) perSecond.push((s.ticks - prev.ticks) / 100 / ((s.at - prev.at) / 1000))
    maxServerRss = Math.max(maxServerRss, s.rss)
    prev = s
  }
  for (const c of children) c.child.send({ op: 'stop', grace: Number(values.grace) })
  const publisherEnd = publisher
  const server1 = prev
  const client1 = procSample(clientPids())
  const publisher1 = procSample(cleanups.ffmpegPid ? [cleanups.ffmpegPid] : [])
  const stats1 = await api('/api/stats')
  await waitAll('results', 30000 + Number(values.grace))
  const snmp1 = udpSnmp()
  const machine1 = machineCpu()
  for (const c of children) c.child.send({ op: 'close' })
  await Promise.all(children.map((c) => (c.exited === undefined ? new Promise((r) => { c.child.once('exit', r); setTimeout(r, 5000) }) : null)))

  const viewers = children.flatMap((c) => c.results?.results ?? []).sort((a, b) => a.viewer - b.viewer)
  const missingResults = N - viewers.length
  const cpu = (a, b) => (a && b && b.at > a.at ? round(((b.ticks - a.ticks) / 100 / ((b.at - a.at) / 1000)) * 100) : null)
  const dist = (key) => {
    const xs = viewers.map((r) => r[key]).filter((x) => x !== null && x !== undefined).sort((a, b) => a - b)
    if (xs.length === 0) return { min: null, median: null, max: null }
    return { min: xs[0], median: xs[Math.floor(xs.length / 2)], max: xs[xs.length - 1] }
  }
  const sum = (key) => viewers.reduce((n, r) => n + (r[key] ?? 0), 0)
  const delta = (path) => {
    const get = (o) => path.split('.').reduce((x, k) => x?.[k], o)
    return get(stats1) !== undefined && get(stats0) !== undefined ? get(stats1) - get(stats0) : null
  }
  // lag: how much less media time a viewer got than the publisher produced (or than wall time)
  const windowWallMs = Math.round(Math.max(...children.map((c) => c.results?.windowMs ?? 0)))
  const publisherRate = publisherStart && publisherEnd && publisherEnd.at > publisherStart.at ? (publisherEnd.mediaMs - publisherStart.mediaMs) / (publisherEnd.at - publisherStart.at) : null
  const publisherAdvanceMs = publisherRate === null ? null : Math.round(publisherRate * windowWallMs)
  const maxLagMs = Number(values['max-lag-ms'])
  for (const r of viewers) r.lagMs = r.mediaAdvanceMs === null ? null : (publisherAdvanceMs ?? windowWallMs) - r.mediaAdvanceMs
  const failing = viewers.filter((r) => r.state !== 'connected' || r.error || r.unrecovered > 0 || r.badFills > 0 || r.videoPackets === 0 || r.windowSeqs === 0 || r.lagMs === null || r.lagMs > maxLagMs)
  const summary = {
    viewers: N,
    procs: K,
    connectedAtStart: connected,
    connected: viewers.filter((r) => r.state === 'connected').length,
    windowMs: durationMs,
    windowWallMs,
    dropRate,
    clientNice: Number(values.nice),
    publisherRealtimeRatio: round(publisherRate, 3),
    publisherAdvanceMs,
    maxLagMs,
    laggingViewers: viewers.filter((r) => r.lagMs !== null && r.lagMs > maxLagMs).length,
    allReceivedEverything: missingResults === 0 && failing.length === 0,
    failingViewers: failing.length + missingResults,
    viewersWithoutResults: missingResults,
    failingSample: failing.slice(0, 10).map((r) => r.viewer),
    totals: {
      windowSeqs: sum('windowSeqs'),
      videoPackets: sum('videoPackets'),
      gaps: sum('gaps'),
      lost: sum('lost'),
      nacksSent: sum('nacksSent'),
      filledByNack: sum('filledByNack'),
      unrecovered: sum('unrecovered'),
      outOfOrder: sum('outOfOrder'),
      setupGaps: sum('totalGaps') - sum('gaps'),
      setupFilled: sum('totalFilled') - sum('filledByNack'),
      setupUnfilled: sum('setupUnfilled'),
      badFills: sum('badFills'),
      setupBadFills: sum('totalBadFills') - sum('badFills'),
    },
    perViewer: Object.fromEntries(
      ['windowSeqs', 'videoPackets', 'audioPackets', 'videoKbps', 'mediaAdvanceMs', 'lagMs', 'gaps', 'filledByNack', 'unrecovered', 'outOfOrder', 'connectMs', 'dtlsMs', 'firstPacketMs', 'firstKeyframeMs', 'keyframeCompleteMs', 'answerToKeyframeMs', 'recoveryMsMax'].map((k) => [k, dist(k)]),
    ),
    server: {
      pid: serverPid,
      cpuPercent: cpu(server0, server1),
      /** per process (main first, then its viewer processes): CPU % over the window */
      cpuPercentByProcess: server0 && server1 ? Object.keys(server1.each).map((p) => (server0.each[p] === undefined ? null : round(((server1.each[p] - server0.each[p]) / 100 / ((server1.at - server0.at) / 1000)) * 100))) : null,
      cpuPercentMaxSecond: perSecond.length ? round(Math.max(...perSecond) * 100) : null,
      processes: server1?.processes ?? null,
      rssMb: serverPid ? Math.round(server1.rss / 1048576) : null,
      rssMbMax: serverPid ? Math.round(maxServerRss / 1048576) : null,
      eventLoopDelayMs: stats1?.eventLoopDelayMs ?? null,
      apiErrors,
      mainRssMb: stats1?.rssMb ?? null,
      webrtcViewers: stats1?.webrtcViewers ?? null,
      packetsSent: delta('webrtc.packetsSent'),
      nacksReceived: delta('webrtc.nacks'),
      retransmitted: delta('webrtc.retransmitted'),
      sendFailures: delta('webrtc.sendFailures'),
      fanoutLatencyMs: stats1?.webrtc?.fanoutLatencyMs ?? null,
      fanoutQueueMs: stats1?.webrtc?.fanoutQueueMs ?? null,
      /** viewer processes that fell > 1 s behind and skipped to a keyframe, and packets skipped */
      lagEvents: delta('webrtc.lagEvents'),
      packetsSkipped: delta('webrtc.packetsSkipped'),
    },
    publisherCpuPercent: cleanups.ffmpegPid ? cpu(publisher0, publisher1) : null,
    clients: {
      cpuPercent: cpu(client0, client1),
      eventLoopDelayMs: children.map((c) => c.results?.eventLoopDelayMs ?? null),
    },
    machine: {
      cores: availableParallelism(),
      busyPercent: machine0 && machine1 ? round(((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100 * availableParallelism()) : null,
      loadavg1: round(loadavg()[0], 2),
      note: 'busy = all processes on the machine (100 per core), including other users',
    },
    kernel: {
      udpRcvbufErrors: snmp1 && snmp0 ? snmp1.RcvbufErrors - snmp0.RcvbufErrors : null,
      udpInErrors: snmp1 && snmp0 ? snmp1.InErrors - snmp0.InErrors : null,
      note: 'machine-wide /proc/net/snmp deltas over the window (+grace): receive-buffer drops at the clients, recovered by NACK if counted as filled',
    },
    setupErrors,
  }

  if (values.table ?? N <= 25) console.table(viewers.map(({ totalGaps, totalLost, totalFilled, totalBadFills, setupUnfilled, nackSendFailures, error, ...r }) => r))
  console.table(Object.fromEntries(Object.entries(summary.perViewer)))
  console.log(JSON.stringify({ ...summary, perViewer: undefined }, null, 1))
  if (values.json) {
    const out = JSON.stringify({ summary, viewers }, null, 1) + '\n'
    if (values.json === '-') process.stdout.write(out)
    else writeFileSync(values.json, out)
  }
  for (const c of cleanups.reverse()) await c()
  process.exit(summary.allReceivedEverything ? 0 : 1)
}

