/**
 * The WebRTC side of WHEP viewers: node-datachannel PeerConnections (ICE, DTLS-SRTP) and the
 * per-packet sends. It runs inside a worker thread (`viewer-worker.ts`) so that fan-out, which
 * costs node-datachannel about 10 µs of CPU per packet per viewer, never starves the main
 * thread's RTMP ingest, HTTP and signaling. The main thread (`viewer-pool.ts`) packetizes once per
 * stream and posts the same packets here; this host sends them to each of its viewers.
 *
 * Which viewer gets which packet — payload type, sequence offset (a GOP replay sent to one
 * viewer shifts its numbering), NACK resolution from the stream's retransmission ring or the
 * viewer's injected packets — is the native `RtpFanout` (`sluice_rtp::egress::Fanout`), the
 * same fan-out the native WebRTC port uses; this host hands its output to node-datachannel.
 *
 * Backlog bound (the fan-out's lag policy): when this process falls behind the stream (a video
 * batch arrives more than 1 s after the server got its RTMP message — the machine is
 * saturated), it stops sending that stream, drains its queue, and resumes each viewer at the
 * next live keyframe, with its sequence numbers kept continuous (the skipped packets are not
 * announced as losses), the way RTMP players skip to a keyframe when they fall behind.
 */
import nodeDataChannel from 'node-datachannel'
import { native } from '../native'
import { parseRtcp } from '../rtp/rtcp'
import { epochMs } from './clock'
import { addVideoCodec } from './datachannel-codecs'
import type { HostMessage, PoolMessage, ViewerSpec } from './viewer-protocol'

const { PeerConnection, Video, Audio } = nodeDataChannel
type PeerConnection = InstanceType<typeof PeerConnection>
type Track = ReturnType<PeerConnection['addTrack']>

/** Fan-out latency samples kept (one per video batch). */
const LATENCY_SAMPLES = 4096
/** Sender reports go to every viewer this often, ms (RFC 3550 §6.2's pace for a few receivers). */
const REPORT_INTERVAL_MS = 1000

interface HostedViewer {
  id: string
  /** Its id in the fan-out. */
  key: number
  streamKey: string
  pc: PeerConnection
  video: Track | null
  audio: Track | null
  packetsSent: number
  bytesSent: number
  nacks: number
  retransmitted: number
  /** Packets node-datachannel refused (track not open, or its send failed). */
  sendFailures: number
  closed: boolean
}

export class ViewerHost {
  readonly #post: (m: HostMessage) => void
  readonly #viewers = new Map<string, HostedViewer>()
  readonly #byKey = new Map<number, HostedViewer>()
  readonly #fanout = new native.RtpFanout()
  #nextKey = 1
  readonly #latency: number[] = new Array(LATENCY_SAMPLES)
  #latencyAt = 0

  readonly #reportTimer: NodeJS.Timeout

  constructor(post: (m: HostMessage) => void) {
    this.#post = post
    this.#reportTimer = setInterval(() => this.#senderReports(), REPORT_INTERVAL_MS)
    this.#reportTimer.unref()
  }

  /** Every live viewer's sender reports (the fan-out's, with its own counts). */
  #senderReports(): void {
    if (this.#viewers.size === 0) return
    for (const kind of ['video', 'audio'] as const) this.#send(this.#fanout.senderReports(kind), kind, false)
  }

  handle(m: PoolMessage): void {
    switch (m.op) {
      case 'create':
        return this.#create(m.viewer)
      case 'candidate': {
        const v = this.#viewers.get(m.id)
        try {
          v?.pc.addRemoteCandidate(m.candidate, m.mid)
        } catch (error) {
          this.#post({ op: 'log', level: 'warn', msg: 'remote candidate refused', data: { id: m.id, error: String(error) } })
        }
        return
      }
      case 'close':
        return this.#close(m.id, 'closed by server')
      case 'media': {
        if (!Number.isNaN(m.at)) {
          const lagMs = epochMs() - m.at
          const pace = this.#fanout.pace(m.streamKey, lagMs)
          if (pace !== 'send') {
            if (pace === 'fell-behind') {
              this.#post({ op: 'log', level: 'warn', msg: 'viewer process behind the stream: skipping to the next keyframe', data: { stream: m.streamKey, lagMs: Math.round(lagMs), viewers: this.#fanout.subscribers(m.streamKey) } })
            }
            if (m.kind === 'video') this.#fanout.skip(m.streamKey, m.data, m.ends)
            return
          }
        }
        this.#send(this.#fanout.media(m.streamKey, m.kind, m.data, m.ends, m.keyframe), m.kind, false)
        if (m.kind === 'video' && !Number.isNaN(m.at) && this.#fanout.subscribers(m.streamKey) > 0) {
          this.#latency[this.#latencyAt++ % LATENCY_SAMPLES] = epochMs() - m.at
        }
        return
      }
      case 'inject': {
        const v = this.#viewers.get(m.id)
        if (!v || v.closed) return
        this.#send(this.#fanout.inject(v.key, m.kind, m.data, m.ends, m.seqOffset, m.live), m.kind, false)
        return
      }
      case 'anchor':
        this.#fanout.anchor(m.streamKey, m.kind, m.rtpTimestamp >>> 0, m.wallMs)
        return
      case 'reset-latency':
        this.#latencyAt = 0
        return
      case 'stats':
        return this.#post({
          op: 'stats',
          latencyMs: this.#latency.slice(0, Math.min(this.#latencyAt, LATENCY_SAMPLES)),
          lagEvents: this.#fanout.lagEvents,
          packetsSkipped: this.#fanout.packetsSkipped,
          viewers: [...this.#viewers.values()].map((v) => ({
            id: v.id,
            packetsSent: v.packetsSent,
            bytesSent: v.bytesSent,
            nacks: v.nacks,
            retransmitted: v.retransmitted,
            sendFailures: v.sendFailures,
            retransmissionsRefused: this.#fanout.retransmissionsRefused(v.key),
          })),
        })
    }
  }

  #create(spec: ViewerSpec): void {
    let pc: PeerConnection
    try {
      pc = new PeerConnection(spec.id, {
        iceServers: spec.ice.iceServers,
        bindAddress: spec.ice.bindAddress,
        portRangeBegin: spec.ice.portRangeBegin,
        portRangeEnd: spec.ice.portRangeEnd,
        enableIceUdpMux: false,
      })
    } catch (error) {
      this.#post({ op: 'error', id: spec.id, message: `PeerConnection failed: ${String(error)}` })
      return
    }
    const v: HostedViewer = {
      id: spec.id,
      key: this.#nextKey++ >>> 0,
      streamKey: spec.streamKey,
      pc,
      video: null,
      audio: null,
      packetsSent: 0,
      bytesSent: 0,
      nacks: 0,
      retransmitted: 0,
      sendFailures: 0,
      closed: false,
    }
    this.#viewers.set(spec.id, v)
    this.#byKey.set(v.key, v)
    this.#fanout.add(v.key, spec.streamKey, spec.video?.payloadType, spec.audio?.payloadType)
    let answered = false
    const answer = () => {
      if (answered) return
      const d = pc.localDescription()
      if (!d) return
      answered = true
      this.#post({ op: 'answer', id: spec.id, sdp: d.sdp })
    }
    try {
      if (spec.video) {
        const video = new Video(spec.video.mid, 'SendOnly')
        const pt = spec.video.payloadType
        addVideoCodec(video, spec.video.codec, pt, spec.video.fmtp)
        video.addSSRC(spec.video.ssrc, spec.cname, spec.msid, `${spec.msid}-video`)
        v.video = pc.addTrack(video)
        v.video.onMessage((msg) => this.#onRtcp(v, msg))
      }
      if (spec.audio) {
        const audio = new Audio(spec.audio.mid, 'SendOnly')
        audio.addOpusCodec(spec.audio.payloadType, spec.audio.fmtp || 'minptime=10;useinbandfec=1')
        audio.addSSRC(spec.audio.ssrc, spec.cname, spec.msid, `${spec.msid}-audio`)
        v.audio = pc.addTrack(audio)
      }
      pc.onStateChange((state) => {
        this.#post({ op: 'state', id: spec.id, state })
        if (state === 'closed' || state === 'failed') this.#close(spec.id, `peer connection ${state}`)
      })
      pc.onGatheringStateChange((state) => {
        if (state === 'complete') answer()
      })
      pc.setRemoteDescription(spec.offer, 'offer')
      if (pc.gatheringState() === 'complete') answer()
    } catch (error) {
      this.#post({ op: 'error', id: spec.id, message: `cannot answer the offer: ${String(error)}` })
      this.#close(spec.id, 'offer refused')
    }
  }

  #onRtcp(v: HostedViewer, msg: Buffer): void {
    for (const fb of parseRtcp(msg)) {
      if (fb.type === 'nack') {
        v.nacks++
        const out = this.#fanout.nack(v.key, fb.sequenceNumbers)
        v.retransmitted += out.ends.length
        this.#send(out, 'video', true)
      } else if (fb.type === 'pli' || fb.type === 'fir') {
        this.#post({ op: 'keyframe', id: v.id, reason: fb.type })
      }
    }
  }

  /** Sends the fan-out's packets, each to its viewer's track of `kind` (node-datachannel copies them). */
  #send(out: { data: Buffer; ends: Uint32Array; ids: Uint32Array }, kind: 'video' | 'audio', retransmission: boolean): void {
    let start = 0
    let v: HostedViewer | undefined
    for (let i = 0; i < out.ends.length; i++) {
      const end = out.ends[i]!
      const id = out.ids[i]!
      if (v?.key !== id) v = this.#byKey.get(id)
      const track = kind === 'video' ? v?.video : v?.audio
      if (v && track && !v.closed) this.#sendOne(v, track, out.data.subarray(start, end), retransmission)
      start = end
    }
  }

  #sendOne(v: HostedViewer, track: Track, p: Buffer, retransmission: boolean): void {
    try {
      if (track.isOpen() && track.sendMessageBinary(p)) {
        v.packetsSent++
        v.bytesSent += p.length
        return
      }
    } catch {
      // a track closing under us: the state change closes the viewer
    }
    v.sendFailures++
    if (retransmission) v.retransmitted--
  }

  #close(id: string, reason: string): void {
    const v = this.#viewers.get(id)
    if (!v || v.closed) return
    v.closed = true
    this.#viewers.delete(id)
    this.#byKey.delete(v.key)
    this.#fanout.remove(v.key)
    try {
      v.video?.close()
      v.audio?.close()
      v.pc.close()
    } catch {
      // already closed
    }
    this.#post({ op: 'closed', id, reason, packetsSent: v.packetsSent, bytesSent: v.bytesSent })
  }

  /** Closes every viewer (worker shutdown). */
  closeAll(): void {
    clearInterval(this.#reportTimer)
    for (const id of [...this.#viewers.keys()]) this.#close(id, 'server shutting down')
  }
}
