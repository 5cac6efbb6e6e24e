/**
 * The WebRTC side of WHEP viewers: node-datachannel PeerConnections (ICE, DTLS-SRTP) and the
 * per-packet sends. It runs inside a worker thread (`viewer-worker.ts`) so that fan-out, which
 * costs node-datachannel about 10 µs of CPU per packet per viewer, never starves the main
 * thread's RTMP ingest, HTTP and signaling. The main thread (`viewer-pool.ts`) packetizes once per
 * stream and posts the same packets here; this host sends them to each of its viewers.
 *
 * Per viewer: video packets carry the stream's sequence numbers plus the viewer's `seqOffset`
 * (packets injected for it alone — a GOP replay at join or after a PLI — shift it). NACKs are
 * answered from the viewer's own ring of injected packets, else from the per-stream
 * retransmission ring through the offset that was in force when the packet was sent.
 *
 * Backlog bound: when this process falls behind the stream (a video batch arrives more than
 * `MAX_LAG_MS` after the server got its RTMP message — the machine is saturated), it stops
 * sending that stream, drains its queue, and resumes each viewer at the next live keyframe, with
 * its sequence numbers kept continuous (the skipped packets are not announced as losses), the
 * way RTMP players skip to a keyframe when they fall behind.
 */
import nodeDataChannel from 'node-datachannel'
import { isRtcpPacket, parseRtcp } from '../rtp/rtcp'
import { epochMs } from './clock'
import type { HostMessage, PoolMessage, ViewerSpec } from './viewer-protocol'

const { PeerConnection, Video, Audio } = nodeDataChannel
type PeerConnection = InstanceType<typeof PeerConnection>
type Track = ReturnType<PeerConnection['addTrack']>

/** Fan-out latency samples kept (one per video batch). */
const LATENCY_SAMPLES = 4096

/** Video packets kept per stream for NACK (about 2 s at 2.5 Mbit/s). */
const RETRANSMIT_PACKETS = 1024

/** Injected (GOP replay) packets kept per viewer for NACK: a 2 s GOP at 2.5 Mbit/s is ~550. */
const INJECTED_PACKETS = 1024

/** Sequence offsets remembered per viewer, newest last (each GOP replay or skip adds one). */
const OFFSET_HISTORY = 8

/** A video batch later than this (source arrival → here) puts its stream behind. */
export const MAX_LAG_MS = 1000

/** A stream that was behind resumes (at the next keyframe) once batches arrive this fresh. */
export const RESUME_LAG_MS = 150

interface HostedViewer {
  id: string
  streamKey: string
  pc: PeerConnection
  video: Track | null
  audio: Track | null
  videoSsrc: number
  /** This viewer's negotiated payload types; shared packets carry the feed's and get patched. */
  videoPt: number
  audioPt: number
  /** Receives live packets (after its GOP replay). */
  live: boolean
  seqOffset: number
  /**
   * Offsets in force, oldest first: from viewer sequence number `from` on (up to the next
   * entry), live packet `s` went out as `s + offset`. `from` is null until known.
   */
  offsets: { from: number | null; offset: number }[]
  /** Injected packets as sent, by viewer sequence number % INJECTED_PACKETS. */
  injected: (Buffer | undefined)[]
  /** Skipping live video until the next keyframe (after the stream fell behind). */
  awaitKeyframe: boolean
  /** Video packets skipped while behind; `seqOffset` is lowered by them on resume. */
  skippedPackets: number
  packetsSent: number
  bytesSent: number
  nacks: number
  retransmitted: number
  /** Packets node-datachannel refused (track not open, or its send failed). */
  sendFailures: number
  closed: boolean
}

interface HostedStream {
  viewers: Set<HostedViewer>
  /** Retransmission ring: stream sequence number → packet. */
  ring: (Buffer | undefined)[]
  /** Fell more than MAX_LAG_MS behind: batches are dropped until they arrive fresh again. */
  behind: boolean
  /** Times this stream fell behind, and video packets dropped while it was. */
  lagEvents: number
  packetsSkipped: number
}

export class ViewerHost {
  readonly #post: (m: HostMessage) => void
  readonly #viewers = new Map<string, HostedViewer>()
  readonly #streams = new Map<string, HostedStream>()
  readonly #latency: number[] = new Array(LATENCY_SAMPLES)
  #latencyAt = 0
  /** Lag events and video packets skipped since the process started (streams come and go), for `/metrics`. */
  #lagEvents = 0
  #packetsSkipped = 0
  /** One packet patched for one viewer (sequence number, payload type); sends copy it. */
  #scratch = Buffer.allocUnsafe(2048)

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
        const s = this.#streams.get(m.streamKey)
        if (!s) return
        if (!Number.isNaN(m.at) && !this.#keepUp(s, m.streamKey, epochMs() - m.at)) {
          if (m.kind === 'video') {
            const skipped = this.#skip(s, m.ends.length)
            s.packetsSkipped += skipped
            this.#packetsSkipped += skipped
          }
          return
        }
        this.#media(s, m.kind, m.data, m.ends, m.keyframe)
        if (m.kind === 'video' && !Number.isNaN(m.at) && s.viewers.size) {
          this.#latency[this.#latencyAt++ % LATENCY_SAMPLES] = epochMs() - m.at
        }
        return
      }
      case 'inject': {
        const v = this.#viewers.get(m.id)
        if (!v || v.closed) return
        this.#sendBatch(v, m.kind, m.data, m.ends, 0)
        if (m.kind === 'video' && m.ends.length > 0) {
          let start = 0
          for (const end of m.ends) {
            const p = Buffer.from(m.data.buffer, m.data.byteOffset + start, end - start)
            v.injected[p.readUInt16BE(2) % INJECTED_PACKETS] = p
            start = end
          }
          const last = Buffer.from(m.data.buffer, m.data.byteOffset + (m.ends.length > 1 ? m.ends[m.ends.length - 2]! : 0), 4)
          this.#setOffset(v, m.seqOffset, (last.readUInt16BE(2) + 1) & 0xffff)
        } else if (m.seqOffset !== v.seqOffset) {
          this.#setOffset(v, m.seqOffset, null)
        }
        if (m.live) v.live = true
        return
      }
      case 'stats':
        return this.#post({
          op: 'stats',
          latencyMs: this.#latency.slice(0, Math.min(this.#latencyAt, LATENCY_SAMPLES)),
          lagEvents: this.#lagEvents,
          packetsSkipped: this.#packetsSkipped,
          viewers: [...this.#viewers.values()].map((v) => ({
            id: v.id,
            packetsSent: v.packetsSent,
            bytesSent: v.bytesSent,
            nacks: v.nacks,
            retransmitted: v.retransmitted,
            sendFailures: v.sendFailures,
          })),
        })
    }
  }

  #stream(key: string): HostedStream {
    let s = this.#streams.get(key)
    if (!s) {
      s = { viewers: new Set(), ring: new Array(RETRANSMIT_PACKETS), behind: false, lagEvents: 0, packetsSkipped: 0 }
      this.#streams.set(key, s)
    }
    return s
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
      streamKey: spec.streamKey,
      pc,
      video: null,
      audio: null,
      videoSsrc: spec.video?.ssrc ?? 0,
      videoPt: spec.video?.payloadType ?? 0,
      audioPt: spec.audio?.payloadType ?? 0,
      live: false,
      seqOffset: 0,
      offsets: [{ from: null, offset: 0 }],
      injected: new Array(INJECTED_PACKETS),
      awaitKeyframe: false,
      skippedPackets: 0,
      packetsSent: 0,
      bytesSent: 0,
      nacks: 0,
      retransmitted: 0,
      sendFailures: 0,
      closed: false,
    }
    this.#viewers.set(spec.id, v)
    this.#stream(spec.streamKey).viewers.add(v)
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
        if (spec.video.codec === 'VP8') video.addVP8Codec(pt)
        else if (spec.video.codec === 'VP9') video.addVideoCodec(pt, 'VP9', spec.video.fmtp || undefined)
        else if (spec.video.codec === 'AV1') video.addAV1Codec(pt)
        else video.addH264Codec(pt, spec.video.fmtp || 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f')
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
        const ring = this.#streams.get(v.streamKey)?.ring
        if (!ring || !v.video) continue
        for (const seq of fb.sequenceNumbers) {
          const injected = v.injected[seq % INJECTED_PACKETS]
          if (injected && injected.readUInt16BE(2) === seq) {
            this.#sendOne(v, v.video, injected, 0)
            v.retransmitted++
            continue
          }
          const offset = offsetAt(v, seq)
          const streamSeq = (seq - offset) & 0xffff
          const p = ring[streamSeq % RETRANSMIT_PACKETS]
          if (p && p.readUInt16BE(2) === streamSeq) {
            this.#sendOne(v, v.video, p, offset)
            v.retransmitted++
          }
        }
      } else if (fb.type === 'pli' || fb.type === 'fir') {
        this.#post({ op: 'keyframe', id: v.id, reason: fb.type })
      }
    }
  }

  /**
   * Whether a batch `lagMs` late is sent. Past MAX_LAG_MS the stream is behind and batches are
   * dropped until one arrives within RESUME_LAG_MS; then every live viewer waits for a keyframe.
   */
  #keepUp(s: HostedStream, streamKey: string, lagMs: number): boolean {
    if (!s.behind) {
      if (lagMs <= MAX_LAG_MS) return true
      s.behind = true
      s.lagEvents++
      this.#lagEvents++
      this.#post({ op: 'log', level: 'warn', msg: 'viewer process behind the stream: skipping to the next keyframe', data: { stream: streamKey, lagMs: Math.round(lagMs), viewers: s.viewers.size } })
      return false
    }
    if (lagMs > RESUME_LAG_MS) return false
    s.behind = false
    for (const v of s.viewers) if (v.live) v.awaitKeyframe = true
    return true
  }

  /** Counts `packets` skipped video packets against every live viewer of `s`. */
  #skip(s: HostedStream, packets: number): number {
    for (const v of s.viewers) if (v.live) v.skippedPackets += packets
    return packets
  }

  #media(s: HostedStream, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, keyframe: boolean): void {
    if (kind === 'video') {
      let start = 0
      for (const end of ends) {
        const p = Buffer.from(data.buffer, data.byteOffset + start, end - start)
        if (!isRtcpPacket(p)) s.ring[p.readUInt16BE(2) % RETRANSMIT_PACKETS] = p
        start = end
      }
    }
    for (const v of s.viewers) {
      if (!v.live || v.closed) continue
      if (v.awaitKeyframe) {
        if (kind === 'audio') continue
        if (!keyframe) {
          v.skippedPackets += ends.length
          continue
        }
        v.awaitKeyframe = false
        const first = Buffer.from(data.buffer, data.byteOffset, 4).readUInt16BE(2)
        this.#setOffset(v, (v.seqOffset - v.skippedPackets) & 0xffff, (first + v.seqOffset - v.skippedPackets) & 0xffff)
        v.skippedPackets = 0
      }
      this.#sendBatch(v, kind, data, ends, v.seqOffset)
    }
  }

  /** From viewer sequence number `from` on, live packets go out with `offset` added. */
  #setOffset(v: HostedViewer, offset: number, from: number | null): void {
    v.seqOffset = offset
    v.offsets.push({ from, offset })
    if (v.offsets.length > OFFSET_HISTORY) v.offsets.shift()
  }

  #sendBatch(v: HostedViewer, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, seqOffset: number): void {
    const track = kind === 'video' ? v.video : v.audio
    if (!track) return
    let start = 0
    for (const end of ends) {
      this.#sendOne(v, track, Buffer.from(data.buffer, data.byteOffset + start, end - start), kind === 'video' ? seqOffset : 0)
      start = end
    }
  }

  #sendOne(v: HostedViewer, track: Track, packet: Buffer, seqOffset: number): void {
    let p = packet
    if (!isRtcpPacket(p)) {
      const pt = track === v.video ? v.videoPt : v.audioPt
      if (seqOffset !== 0 || (p[1]! & 0x7f) !== pt) {
        // node-datachannel copies the packet before sending: one scratch buffer serves them all
        if (this.#scratch.length < packet.length) this.#scratch = Buffer.allocUnsafe(packet.length * 2)
        p = this.#scratch.subarray(0, packet.length)
        packet.copy(p)
        p[1] = (p[1]! & 0x80) | pt
        p.writeUInt16BE((p.readUInt16BE(2) + seqOffset) & 0xffff, 2)
      }
    }
    try {
      if (track.isOpen() && track.sendMessageBinary(p)) {
        v.packetsSent++
        v.bytesSent += p.length
      } else {
        v.sendFailures++
      }
    } catch {
      // a track closing under us: the state change closes the viewer
    }
  }

  #close(id: string, reason: string): void {
    const v = this.#viewers.get(id)
    if (!v || v.closed) return
    v.closed = true
    this.#viewers.delete(id)
    const s = this.#streams.get(v.streamKey)
    s?.viewers.delete(v)
    if (s && s.viewers.size === 0) this.#streams.delete(v.streamKey)
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
    for (const id of [...this.#viewers.keys()]) this.#close(id, 'server shutting down')
  }
}

/**
 * The offset live packet `seq` (a viewer sequence number) went out with: the newest entry whose
 * `from` is at or before `seq` (mod 2^16), or the oldest known one.
 */
function offsetAt(v: HostedViewer, seq: number): number {
  for (let i = v.offsets.length - 1; i >= 0; i--) {
    const e = v.offsets[i]!
    if (e.from === null || ((seq - e.from) & 0xffff) < 0x8000) return e.offset
  }
  return v.offsets[0]!.offset
}
