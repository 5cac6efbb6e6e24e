/**
 * The WebRTC side of WHEP viewers: node-datachannel PeerConnections (ICE, DTLS-SRTP) and the
 * per-packet sends. It runs inside a worker thread (`viewer-worker.ts`) so that fan-out, which
 * costs node-datachannel about 10 µs of CPU per packet per viewer, never starves the main
 * thread's RTMP ingest, HTTP and signaling. The main thread (`viewer-pool.ts`) packetizes once per
 * stream and posts the same packets here; this host sends them to each of its viewers.
 *
 * Which viewer gets which packet, NACK and sender reports are `TrackFanout` (the native
 * `RtpFanout`, the same fan-out the native WebRTC port and SFU downlinks use); this host makes
 * the PeerConnections and keeps the backlog bound.
 *
 * Backlog bound (the fan-out's lag policy): when this process falls behind the stream (a video
 * batch arrives more than 1 s after the server got its RTMP message — the machine is
 * saturated), it stops sending that stream, drains its queue, and resumes each viewer at the
 * next live keyframe, with its sequence numbers kept continuous (the skipped packets are not
 * announced as losses), the way RTMP players skip to a keyframe when they fall behind.
 */
import nodeDataChannel from 'node-datachannel'
import { epochMs } from './clock'
import { addVideoCodec } from './datachannel-codecs'
import { TrackFanout } from './track-fanout'
import type { HostMessage, PoolMessage, ViewerSpec } from './viewer-protocol'

const { PeerConnection, Video, Audio } = nodeDataChannel
type PeerConnection = InstanceType<typeof PeerConnection>
type Track = ReturnType<PeerConnection['addTrack']>

/** Fan-out latency samples kept (one per video batch). */
const LATENCY_SAMPLES = 4096

interface HostedViewer {
  id: string
  pc: PeerConnection
  video: Track | null
  audio: Track | null
  closed: boolean
}

export class ViewerHost {
  readonly #post: (m: HostMessage) => void
  readonly #viewers = new Map<string, HostedViewer>()
  readonly #fanout = new TrackFanout()
  readonly #latency: number[] = new Array(LATENCY_SAMPLES)
  #latencyAt = 0

  constructor(post: (m: HostMessage) => void) {
    this.#post = post
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
          const pace = this.#fanout.core.pace(m.streamKey, lagMs)
          if (pace !== 'send') {
            if (pace === 'fell-behind') {
              this.#post({ op: 'log', level: 'warn', msg: 'viewer process behind the stream: skipping to the next keyframe', data: { stream: m.streamKey, lagMs: Math.round(lagMs), viewers: this.#fanout.core.subscribers(m.streamKey) } })
            }
            if (m.kind === 'video') this.#fanout.core.skip(m.streamKey, m.data, m.ends)
            return
          }
        }
        this.#fanout.media(m.streamKey, m.kind, m.data, m.ends, m.start)
        if (m.kind === 'video' && !Number.isNaN(m.at) && this.#fanout.core.subscribers(m.streamKey) > 0) {
          this.#latency[this.#latencyAt++ % LATENCY_SAMPLES] = epochMs() - m.at
        }
        return
      }
      case 'inject': {
        const v = this.#viewers.get(m.id)
        if (!v || v.closed) return
        this.#fanout.inject(v.id, m.kind, m.data, m.ends, m.seqOffset, m.live)
        return
      }
      case 'anchor':
        this.#fanout.anchor(m.streamKey, m.kind, m.rtpTimestamp, m.wallMs)
        return
      case 'reset-latency':
        this.#latencyAt = 0
        return
      case 'stats':
        return this.#post({
          op: 'stats',
          latencyMs: this.#latency.slice(0, Math.min(this.#latencyAt, LATENCY_SAMPLES)),
          lagEvents: this.#fanout.core.lagEvents,
          packetsSkipped: this.#fanout.core.packetsSkipped,
          viewers: [...this.#viewers.values()].flatMap((v) => {
            const c = this.#fanout.counters(v.id)
            return c ? [{ id: v.id, packetsSent: c.packetsSent, bytesSent: c.bytesSent, nacks: c.nacks, retransmitted: c.retransmitted, sendFailures: c.sendFailures, retransmissionsRefused: c.retransmissionsRefused }] : []
          }),
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
    const v: HostedViewer = { id: spec.id, pc, video: null, audio: null, closed: false }
    this.#viewers.set(spec.id, v)
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
        addVideoCodec(video, spec.video.codec, spec.video.payloadType, spec.video.fmtp)
        video.addSSRC(spec.video.ssrc, spec.cname, spec.msid, `${spec.msid}-video`)
        v.video = pc.addTrack(video)
      }
      if (spec.audio) {
        const audio = new Audio(spec.audio.mid, 'SendOnly')
        audio.addOpusCodec(spec.audio.payloadType, spec.audio.fmtp || 'minptime=10;useinbandfec=1')
        audio.addSSRC(spec.audio.ssrc, spec.cname, spec.msid, `${spec.msid}-audio`)
        v.audio = pc.addTrack(audio)
      }
      this.#fanout.add(v.id, {
        streamKey: spec.streamKey,
        video: v.video,
        audio: v.audio,
        videoPayloadType: spec.video?.payloadType,
        audioPayloadType: spec.audio?.payloadType,
        onKeyframeRequest: (reason) => this.#post({ op: 'keyframe', id: v.id, reason }),
      })
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

  #close(id: string, reason: string): void {
    const v = this.#viewers.get(id)
    if (!v || v.closed) return
    v.closed = true
    this.#viewers.delete(id)
    const counters = this.#fanout.counters(v.id)
    this.#fanout.remove(v.id)
    try {
      v.video?.close()
      v.audio?.close()
      v.pc.close()
    } catch {
      // already closed
    }
    this.#post({ op: 'closed', id, reason, packetsSent: counters?.packetsSent ?? 0, bytesSent: counters?.bytesSent ?? 0 })
  }

  /** Closes every viewer (worker shutdown). */
  closeAll(): void {
    for (const id of [...this.#viewers.keys()]) this.#close(id, 'server shutting down')
    this.#fanout.close()
  }
}
