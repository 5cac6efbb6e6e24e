/**
 * `TrackFanout`: the RTP egress pipeline's output onto node-datachannel send tracks. The native
 * `RtpFanout` (`sluice_rtp::egress::Fanout`, the same one the native WebRTC port and the forward
 * port use) decides which subscriber gets which packet — payload type, sequence offset (a GOP
 * replay sent to one subscriber shifts its numbering), NACK resolution from the stream's
 * retransmission ring or the subscriber's injected packets, sender reports with each
 * subscriber's own counts (RFC 3550 §6.4.1) — and this class hands each packet to that
 * subscriber's track (`sendMessageBinary`: libdatachannel protects it with libsrtp and sends it).
 *
 * Used by WHEP viewers (and SFU downlinks) on the node-datachannel transport (`ViewerHost`, in a
 * worker thread; the tracks are on PeerConnections it made).
 *
 * Feedback from a subscriber's video track: generic NACK (RFC 4585 §6.2.1) is answered here;
 * PLI (§6.3.1) and FIR (RFC 5104 §4.3.1) go to the subscriber's `onKeyframeRequest`.
 */
import nodeDataChannel from 'node-datachannel'
import { native } from '../native'
import { isRtcpPacket, parseRtcp } from '../rtp/rtcp'
import type { FrameStart } from './viewer-protocol'

type Track = ReturnType<InstanceType<typeof nodeDataChannel.PeerConnection>['addTrack']>

/** Sender reports go to every subscriber this often, ms (RFC 3550 §6.2's pace for a few receivers). */
export const REPORT_INTERVAL_MS = 1000

/** What a subscriber was sent and asked, since it was added. */
export interface TrackCounters {
  /** RTP packets (retransmissions included; sender reports not). */
  packetsSent: number
  bytesSent: number
  /** NACK packets received. */
  nacks: number
  /** Packets sent again for them. */
  retransmitted: number
  /** Packets node-datachannel refused (track not open, or its send failed). */
  sendFailures: number
  /** PLI/FIR received. */
  keyframeRequests: number
}

export interface TrackSubscriber {
  /** The stream whose packets it gets (the key of `media`/`anchor`). */
  streamKey: string
  video: Track | null
  audio: Track | null
  /** Its payload types, patched into every packet it is sent. */
  videoPayloadType?: number
  audioPayloadType?: number
  /** A PLI (`'pli'`) or FIR (`'fir'`) from it. */
  onKeyframeRequest(reason: 'pli' | 'fir'): void
}

interface Subscribed extends TrackCounters {
  id: string
  /** Its id in the native fan-out. */
  key: number
  spec: TrackSubscriber
  closed: boolean
}

/** The native fan-out's output: packets back to back in `data`, packet i ending at `ends[i]`, for subscriber `ids[i]`. */
interface Targets {
  data: Buffer
  ends: Uint32Array
  ids: Uint32Array
}

export class TrackFanout {
  /** The native fan-out (its pacing and lag counters are for the viewer host's backlog policy). */
  readonly core = new native.RtpFanout()
  readonly #byId = new Map<string, Subscribed>()
  readonly #byKey = new Map<number, Subscribed>()
  #nextKey = 1
  readonly #reportTimer: NodeJS.Timeout

  constructor() {
    this.#reportTimer = setInterval(() => this.#senderReports(), REPORT_INTERVAL_MS)
    this.#reportTimer.unref()
  }

  /**
   * Adds subscriber `id` (unique here; an existing one is replaced); it gets `streamKey`'s packets
   * once `inject(…, live = true)` lets it. The video track's messages (RTCP) are read from now on.
   */
  add(id: string, spec: TrackSubscriber): void {
    this.remove(id)
    const key = this.#nextKey++ >>> 0
    const s: Subscribed = { id, key, spec, closed: false, packetsSent: 0, bytesSent: 0, nacks: 0, retransmitted: 0, sendFailures: 0, keyframeRequests: 0 }
    this.#byId.set(id, s)
    this.#byKey.set(key, s)
    this.core.add(key, spec.streamKey, spec.videoPayloadType, spec.audioPayloadType)
    spec.video?.onMessage((msg) => this.#onRtcp(s, msg))
    spec.audio?.onMessage(() => {}) // receiver reports: nothing to do
  }

  /** Removes a subscriber (idempotent); its tracks are the caller's to close. */
  remove(id: string): void {
    const s = this.#byId.get(id)
    if (!s) return
    s.closed = true
    this.#byId.delete(id)
    this.#byKey.delete(s.key)
    this.core.remove(s.key)
  }

  /** A subscriber's counters, or null when it is not here. */
  counters(id: string): (TrackCounters & { retransmissionsRefused: number }) | null {
    const s = this.#byId.get(id)
    if (!s) return null
    const { packetsSent, bytesSent, nacks, retransmitted, sendFailures, keyframeRequests } = s
    return { packetsSent, bytesSent, nacks, retransmitted, sendFailures, keyframeRequests, retransmissionsRefused: this.core.retransmissionsRefused(s.key) }
  }

  /** One frame's packets of `streamKey` (back to back, packet i ending at `ends[i]`) to its live subscribers; `start`: what it starts. */
  media(streamKey: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, start?: FrameStart): void {
    this.#send(this.core.media(streamKey, kind, data, ends, start), kind, 'media')
  }

  /** Packets for one subscriber (a GOP replay), then its new video sequence offset; `live` lets it get the stream's packets after them. */
  inject(id: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, seqOffset: number, live: boolean): void {
    const s = this.#byId.get(id)
    if (s && !s.closed) this.#send(this.core.inject(s.key, kind, data, ends, seqOffset, live), kind, 'media')
  }

  /** Anchors `streamKey`'s `kind` sender reports: `rtpTimestamp` was current at Unix `wallMs`. */
  anchor(streamKey: string, kind: 'video' | 'audio', rtpTimestamp: number, wallMs: number): void {
    this.core.anchor(streamKey, kind, rtpTimestamp >>> 0, wallMs)
  }

  #senderReports(): void {
    if (this.#byId.size === 0) return
    for (const kind of ['video', 'audio'] as const) this.#send(this.core.senderReports(kind), kind, 'report')
  }

  #onRtcp(s: Subscribed, msg: Buffer): void {
    if (s.closed || !isRtcpPacket(msg)) return
    for (const fb of parseRtcp(msg)) {
      if (fb.type === 'nack') {
        s.nacks++
        const out = this.core.nack(s.key, fb.sequenceNumbers)
        s.retransmitted += out.ends.length
        this.#send(out, 'video', 'retransmission')
      } else if (fb.type === 'pli' || fb.type === 'fir') {
        s.keyframeRequests++
        s.spec.onKeyframeRequest(fb.type)
      }
    }
  }

  /**
   * Sends the fan-out's packets, each to its subscriber's track of `kind` (node-datachannel
   * copies them). Sender reports are not counted as packets sent.
   */
  #send(out: Targets, kind: 'video' | 'audio', what: 'media' | 'retransmission' | 'report'): void {
    let start = 0
    let s: Subscribed | undefined
    for (let i = 0; i < out.ends.length; i++) {
      const end = out.ends[i]!
      const key = out.ids[i]!
      if (s?.key !== key) s = this.#byKey.get(key)
      const track = kind === 'video' ? s?.spec.video : s?.spec.audio
      if (s && track && !s.closed) this.#sendOne(s, track, out.data.subarray(start, end), what)
      start = end
    }
  }

  #sendOne(s: Subscribed, track: Track, p: Buffer, what: 'media' | 'retransmission' | 'report'): void {
    try {
      if (track.isOpen() && track.sendMessageBinary(p)) {
        if (what === 'report') return
        s.packetsSent++
        s.bytesSent += p.length
        return
      }
    } catch {
      // a track closing under us: its PeerConnection's state change ends the subscriber
    }
    if (what === 'report') return
    s.sendFailures++
    if (what === 'retransmission') s.retransmitted--
  }

  /** Removes every subscriber and stops the report timer (idempotent). */
  close(): void {
    clearInterval(this.#reportTimer)
    for (const id of [...this.#byId.keys()]) this.remove(id)
  }
}
