/**
 * `SfuDownlink`: one source's tracks (another participant's, or an `mcu` room's mix) sent to one
 * subscriber over a receive-only PeerConnection of its own, which the subscriber offers for that
 * stream after the server announced it (`stream-added`, docs/signaling.md) — the way a WHEP
 * viewer plays, on the same transport (`SfuEgress`): the native port (ICE-lite, DTLS-SRTP, SRTP
 * from `crates/srtp`, `sendmmsg`) or node-datachannel viewer processes, as `webrtc.transport`
 * says.
 *
 * The source's RTP is rewritten once by its `RtpFeed` (any codec: the feed's SSRCs, continuous
 * sequence numbers and timestamps, header extensions removed); the transport's fan-out gives
 * this downlink its payload types, answers NACK (RFC 4585 §6.2.1) from the stream's
 * retransmission ring and sends sender reports anchored on the publisher's (RFC 3550 §6.4.1).
 * PLI (RFC 4585 §6.3.1) and FIR (RFC 5104 §4.3.1) ask the publisher for a keyframe
 * (`RtpSource.requestKeyframe`, rate-limited there); so does the downlink connecting.
 *
 * A simulcast publisher's layers (native transport): the fan-out moves this downlink between
 * them by its bandwidth estimate (under the room's layer policy), at the target layer's
 * keyframe; `pin` holds it on one (the data channel's `layer` message).
 */
import { randomBytes } from 'node:crypto'
import type { RtpSource } from '../hub/rtp-source'
import type { Logger } from '../log'
import { iceSettings, type WebRtcOptions } from '../webrtc/whep'
import type { RtpFeed } from '../webrtc/rtp-feed'
import type { ViewerCounters } from '../webrtc/viewer-protocol'
import { viewerMedia } from '../webrtc/viewer-media'
import type { SfuEgress } from './egress'
import type { DownlinkLayers } from './chat'
import { WebRtcError } from '../errors'

/** What a downlink sent and was asked. */
export interface DownlinkStats {
  /** The stream it carries: the publishing participant's peer id, or `mix`. */
  publisher: string
  /** ICE/DTLS state: `new`, `connecting`, `connected`, `closed`. */
  state: string
  packetsSent: number
  bytesSent: number
  /** Packets the transport could not send. */
  sendFailures: number
  /** NACK packets received, and packets sent again for them. */
  nacks: number
  retransmitted: number
  /** PLI/FIR received. */
  keyframeRequests: number
  /**
   * Native transport, when the subscriber's offer has transport-wide CC: the send-side bandwidth
   * estimate (GCC) and what the subscriber reported receiving over the last 500 ms, bit/s.
   */
  estimateBps?: number
  receivedBps?: number
  /** Simulcast (native transport): the rid of the layer it gets, the one it switches to, the one it is pinned to, the stream's layers. */
  layer?: string
  switchingTo?: string
  pinned?: string
  layers?: string[]
  videoPaused?: boolean
  /** Simulcast: padding packets sent to probe its path for a better layer. */
  probePackets?: number
}

let nextDownlink = 1

export class SfuDownlink {
  /** Its viewer id in the transport. */
  readonly id = `sfu-downlink-${nextDownlink++}`
  /** The stream it carries: the publishing participant's peer id (also the MediaStream id the subscriber sees), or `mix`. */
  readonly publisherId: string
  readonly #source: RtpSource
  readonly #feed: RtpFeed
  readonly #egress: SfuEgress
  readonly #log: Logger
  readonly #onEnded: (reason: string) => void
  #state = 'new'
  #keyframeRequests = 0
  #last: ViewerCounters | null = null
  readonly #receiver: string
  /** The layer it is pinned to (`pin`), or null. */
  #pinned: string | null = null
  #closed = false

  /** `onEnded`: the transport closed it (ICE/DTLS failed, consent expired), not after `close()`. */
  /** `receiver`: the subscribing participant (`<room>/<peer id>`): its downlinks share its path. */
  constructor(publisherId: string, source: RtpSource, room: string, receiver: string, egress: SfuEgress, log: Logger, onEnded: (reason: string) => void) {
    this.publisherId = publisherId
    this.#receiver = receiver
    this.#source = source
    this.#egress = egress
    this.#log = log
    this.#onEnded = onEnded
    this.#feed = egress.acquire(source, room)
  }

  /**
   * Answers the subscriber's offer (SDP) for this stream. Throws `WebRtcError`
   * (`WEBRTC_OFFER_UNSUPPORTED`: no receivable video with the source's codec, no Opus, a malformed
   * or DTLS-passive offer; `WEBRTC_TRANSPORT_CLOSED`) — the downlink is closed then.
   */
  async answer(offer: string, ice: Pick<WebRtcOptions, 'iceServers' | 'bindAddress' | 'portRangeBegin' | 'portRangeEnd'>): Promise<string> {
    try {
      const media = viewerMedia(offer, this.#source.video)
      return await this.#egress.viewers.create(
        {
          id: this.id,
          streamKey: this.#feed.key,
          offer,
          cname: `sluice-sfu-${randomBytes(6).toString('hex')}`,
          msid: this.publisherId,
          video: media.video && { ...media.video, ssrc: this.#feed.videoSsrc },
          audio: { ...media.audio, ssrc: this.#feed.audioSsrc },
          ice: iceSettings(ice),
          pathGroup: this.#receiver,
        },
        {
          onState: (state) => this.#onState(state),
          onKeyframeRequest: (reason, streamKey) => {
            this.#keyframeRequests++
            this.#feed.keyframeRequest(reason === 'layer' ? 'SFU subscriber layer switch' : `SFU subscriber ${reason.toUpperCase()}`, streamKey)
          },
          onClosed: (reason, packetsSent, bytesSent) => {
            this.#last = { id: this.id, packetsSent, bytesSent, nacks: this.#last?.nacks ?? 0, retransmitted: this.#last?.retransmitted ?? 0, sendFailures: this.#last?.sendFailures ?? 0 }
            if (this.#closed) return // after close(), which released the feed
            this.#closed = true
            this.#egress.release(this.#source)
            this.#onEnded(reason)
          },
        },
      )
    } catch (error) {
      this.close()
      throw error
    }
  }

  #onState(state: string): void {
    if (this.#closed) return
    this.#state = state
    if (state === 'connected') this.#feed.start(this.id, 0, 'SFU subscriber connected')
    if (state === 'disconnected') this.#egress.viewers.closeViewer(this.id)
  }

  /** A trickled candidate of the subscriber's PeerConnection (RFC 8840). */
  addCandidate(candidate: string, mid: string): void {
    if (!this.#closed) this.#egress.viewers.addCandidate(this.id, candidate, mid)
  }

  /** The simulcast layers of its stream (rids, lowest first), empty without. */
  get layerRids(): string[] {
    return this.#feed.layerRids
  }

  /**
   * Pins it to simulcast layer `rid`, or lets its bandwidth estimate choose again (`null`).
   * Throws `WebRtcError` `WEBRTC_NO_SIMULCAST` when the transport cannot switch layers
   * (node-datachannel), `WEBRTC_UNKNOWN_LAYER` for a rid its stream does not have.
   */
  pin(rid: string | null): void {
    const viewers = this.#egress.viewers
    if (!viewers.pinLayer) throw new WebRtcError('WEBRTC_NO_SIMULCAST', 'simulcast layers are switched on the native transport only (webrtc.transport: native)')
    const index = rid === null ? null : this.#feed.layerIndex(rid)
    if (rid !== null && index === null) throw new WebRtcError('WEBRTC_UNKNOWN_LAYER', `stream ${this.publisherId} has no simulcast layer ${rid} (it has: ${this.layerRids.join(', ') || 'none'})`)
    viewers.pinLayer(this.id, index)
    this.#pinned = rid
  }

  /** Its simulcast state for the data channel's `layers` message, or null when its stream has no layers. */
  layers(counters?: ViewerCounters): DownlinkLayers | null {
    const layers = this.layerRids
    if (layers.length === 0 || this.#closed) return null
    const c = counters ?? this.#last
    return {
      stream: this.publisherId,
      layer: c?.videoPaused ? null : (c?.videoStream && this.#feed.ridOf(c.videoStream)) || layers[layers.length - 1]!,
      layers,
      switchingTo: (c?.switchingTo && this.#feed.ridOf(c.switchingTo)) || null,
      pinned: this.#pinned,
      estimateBps: c?.estimateBps ?? 0,
    }
  }

  /** Counters from the transport's `stats()` (its viewer entry for this downlink, if any). */
  stats(counters?: ViewerCounters): DownlinkStats {
    if (counters) this.#last = counters
    const c = this.#last
    return {
      publisher: this.publisherId,
      state: this.#closed ? 'closed' : this.#state,
      packetsSent: c?.packetsSent ?? 0,
      bytesSent: c?.bytesSent ?? 0,
      sendFailures: c?.sendFailures ?? 0,
      nacks: c?.nacks ?? 0,
      retransmitted: c?.retransmitted ?? 0,
      keyframeRequests: this.#keyframeRequests,
      ...(c?.estimateBps ? { estimateBps: c.estimateBps } : {}),
      ...(c?.receivedBps ? { receivedBps: c.receivedBps } : {}),
      ...this.#layerStats(c),
    }
  }

  #layerStats(c: ViewerCounters | null): Partial<DownlinkStats> {
    const l = this.layers(c ?? undefined)
    if (!l) return {}
    return { layers: l.layers, probePackets: c?.probePackets ?? 0, ...(l.layer ? { layer: l.layer } : {}), ...(l.switchingTo ? { switchingTo: l.switchingTo } : {}), ...(l.pinned ? { pinned: l.pinned } : {}), ...(c?.videoPaused ? { videoPaused: true } : {}) }
  }

  /** Closes the subscriber's PeerConnection on the server side and stops forwarding. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#egress.viewers.closeViewer(this.id)
    this.#egress.release(this.#source)
    this.#log.debug({ stats: this.stats() }, 'SFU downlink closed')
  }
}
