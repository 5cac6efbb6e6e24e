/**
 * `SimulcastLayer`: one lower layer of a simulcast WebRTC publisher (RFC 8853: the publisher
 * sends several encodings of its camera, each an RTP stream named by a rid, RFC 8851/8852), as a
 * video-only `RtpSource` of its own. The publisher's top layer is the publisher itself (it goes to
 * RTMP/FLV players and recordings too); lower layers only go to WebRTC viewers, whose fan-out
 * switches each viewer between them by its bandwidth estimate (see `crates/rtp/src/egress`).
 *
 * The layer's packets are forwarded as they came; its receiver keeps statistics, NACKs holes
 * (RFC 4585 §6.2.1) and sends PLIs on request (`requestKeyframe`, at most every 500 ms) and
 * receiver reports, all naming the layer's own SSRC.
 */
import type { Logger } from '../log'
import type { RtpSource, RtpSourceListener, RtpVideoCodec } from '../hub/rtp-source'
import { RtpTrackReceiver, type ReceiverStats } from '../rtp/receiver'
import type { ReportBlock } from '../rtp/rtcp'
import type { TrackClock } from '../rtp/rtp-clock'

export interface SimulcastLayerOptions {
  rid: string
  video: { codec: RtpVideoCodec; fmtp: Record<string, string> }
  clock: TrackClock
  /** Our SSRC in the RTCP we send. */
  senderSsrc: number
  sendRtcp(packet: Buffer): void
  onDrop(reason: string): void
  /** How long a hole is waited for, ms. */
  maxDelayMs: number
}

export class SimulcastLayer implements RtpSource {
  readonly rid: string
  readonly video: RtpSource['video']
  readonly audio = null
  readonly #listeners = new Set<RtpSourceListener>()
  readonly #receiver: RtpTrackReceiver
  readonly #log: Logger
  #closed = false

  constructor(log: Logger, options: SimulcastLayerOptions) {
    this.rid = options.rid
    this.video = options.video
    this.#log = log
    // one packet per "frame" (the depacketizer's Opus mode): statistics and NACKs, no hub frames
    this.#receiver = new RtpTrackReceiver({
      codec: 'OPUS',
      clockRate: 90000,
      clock: options.clock,
      maxDelayMs: options.maxDelayMs,
      senderSsrc: options.senderSsrc,
      sendRtcp: options.sendRtcp,
      onFrame: () => {},
      onDrop: options.onDrop,
    })
  }

  /** The layer's SSRC, once a packet came. */
  get ssrc(): number | null {
    return this.#receiver.ssrc
  }

  addListener(listener: RtpSourceListener): void {
    this.#listeners.add(listener)
  }

  removeListener(listener: RtpSourceListener): void {
    this.#listeners.delete(listener)
  }

  requestKeyframe(reason: string): void {
    if (this.#receiver.requestKeyframe()) this.#log.debug({ rid: this.rid, reason }, 'keyframe requested from a simulcast layer (PLI)')
  }

  /** One RTP packet of this layer (decrypted). */
  push(packet: Buffer, arrivedAt: number): void {
    if (this.#closed) return
    for (const l of this.#listeners) l.onRtp('video', packet, arrivedAt)
    this.#receiver.push(packet)
  }

  /** The layer's sender report (RFC 3550 §6.4.1). */
  onSenderReport(report: { ntpMiddle: number; ntpMs: number; rtpTimestamp: number }): void {
    this.#receiver.onSenderReport(report)
    for (const l of this.#listeners) l.onSenderReport('video', report.ntpMs, report.rtpTimestamp)
  }

  reportBlock(): ReportBlock | null {
    return this.#receiver.reportBlock()
  }

  stats(): ReceiverStats & { rid: string } {
    return { rid: this.rid, ...this.#receiver.stats() }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#receiver.close()
    this.#listeners.clear()
  }
}
