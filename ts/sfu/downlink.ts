/**
 * `SfuDownlink`: one publisher's tracks forwarded to one subscriber over the subscriber's
 * PeerConnection, as send-only m-lines (`a=msid:<publisher peer id>`).
 *
 * - RTP is forwarded as it came (no depacketizing, any codec), re-numbered by the native
 *   `RtpRewriter` (`sluice_rtp::egress`) per track: this downlink's SSRC and payload type,
 *   continuous sequence numbers and timestamps, header extensions removed. The publisher's
 *   sender reports are re-based and forwarded (RFC 3550 §6.4.1) for lip sync.
 * - NACK (RFC 4585 §6.2.1) is answered per subscriber from the video rewriter's retransmission
 *   ring (`NACK_RING` packets, about 4 s at 2.5 Mbit/s).
 * - PLI (RFC 4585 §6.3.1) and FIR (RFC 5104 §4.3.1) from the subscriber ask the publisher for a
 *   keyframe (`RtpSource.requestKeyframe`, rate-limited there); so does the track opening.
 */
import { randomInt } from 'node:crypto'
import nodeDataChannel from 'node-datachannel'
import type { RtpSource, RtpSourceListener } from '../hub/rtp-source'
import { native } from '../native'
import { isRtcpPacket, parseRtcp, senderReport } from '../rtp/rtcp'
import type { Logger } from '../log'
import { type Track, type UplinkPlan } from './uplink'
import { addVideoCodec } from '../webrtc/datachannel-codecs'
import { fmtpString } from '../webrtc/sdp'

const { Video, Audio } = nodeDataChannel
type PeerConnection = InstanceType<typeof nodeDataChannel.PeerConnection>
type RtpRewriter = InstanceType<typeof native.RtpRewriter>

/** Video packets kept per subscriber for retransmission (power of two). */
export const NACK_RING = 1024

/** The CNAME of every SFU send track (RFC 3550 §6.5.1). */
const CNAME = 'sluice-sfu'

export interface DownlinkStats {
  publisher: string
  packetsSent: number
  bytesSent: number
  /** Packets node-datachannel refused (track not open yet, or closing). */
  sendFailures: number
  nacks: number
  retransmitted: number
  keyframeRequests: number
}

export class SfuDownlink implements RtpSourceListener {
  /** The publishing participant's peer id (also the MediaStream id the subscriber sees). */
  readonly publisherId: string
  readonly #source: RtpSource
  readonly #log: Logger
  readonly #video: { track: Track; rewriter: RtpRewriter } | null = null
  readonly #audio: { track: Track; rewriter: RtpRewriter } | null = null
  #closed = false
  readonly #stats: DownlinkStats

  /**
   * Adds the send-only tracks to `pc` (mids `${midPrefix}v`/`${midPrefix}a`, unique in that
   * PeerConnection) and starts listening to `source`. The caller renegotiates `pc`.
   */
  constructor(pc: PeerConnection, publisherId: string, source: RtpSource, plan: UplinkPlan, midPrefix: string, log: Logger) {
    this.publisherId = publisherId
    this.#source = source
    this.#log = log
    this.#stats = { publisher: publisherId, packetsSent: 0, bytesSent: 0, sendFailures: 0, nacks: 0, retransmitted: 0, keyframeRequests: 0 }
    if (plan.video) {
      const media = new Video(`${midPrefix}v`, 'SendOnly')
      addVideoCodec(media, plan.video.codec, plan.video.payloadType, fmtpString({ fmtp: plan.video.fmtp }))
      const rewriter = new native.RtpRewriter(randomInt(1, 0xffffffff), plan.video.payloadType, 90000, NACK_RING)
      media.addSSRC(rewriter.ssrc, CNAME, publisherId, `${publisherId}-video`)
      const track = pc.addTrack(media)
      track.onMessage((msg) => this.#onRtcp(msg))
      track.onOpen(() => this.#source.requestKeyframe('SFU subscriber track open'))
      this.#video = { track, rewriter }
    }
    if (plan.audio) {
      const media = new Audio(`${midPrefix}a`, 'SendOnly')
      media.addOpusCodec(plan.audio.payloadType, fmtpString({ fmtp: plan.audio.fmtp }) || 'minptime=10;useinbandfec=1')
      const rewriter = new native.RtpRewriter(randomInt(1, 0xffffffff), plan.audio.payloadType, 48000)
      media.addSSRC(rewriter.ssrc, CNAME, publisherId, `${publisherId}-audio`)
      const track = pc.addTrack(media)
      track.onMessage(() => {}) // receiver reports: nothing to do
      this.#audio = { track, rewriter }
    }
    source.addListener(this)
  }

  /** A publisher packet: re-numbered and sent to the subscriber (video kept for NACK). */
  onRtp(kind: 'video' | 'audio', packet: Buffer): void {
    const t = kind === 'video' ? this.#video : this.#audio
    if (!t || this.#closed || !t.track.isOpen()) return
    const out = t.rewriter.rewrite(packet, Date.now())
    if (out) this.#send(t.track, out)
  }

  /** The publisher's SR, re-based onto this downlink's SSRC and timestamps. */
  onSenderReport(kind: 'video' | 'audio', ntpMs: number, rtpTimestamp: number): void {
    const t = kind === 'video' ? this.#video : this.#audio
    if (!t || this.#closed || !t.rewriter.started || !t.track.isOpen()) return
    const r = t.rewriter
    this.#send(t.track, senderReport(r.ssrc, ntpMs, r.timestamp(rtpTimestamp), r.packets, r.octets), false)
  }

  #send(track: Track, packet: Buffer, count = true): void {
    try {
      if (track.sendMessageBinary(packet)) {
        if (!count) return
        this.#stats.packetsSent++
        this.#stats.bytesSent += packet.length
        return
      }
    } catch {
      // the track is closing: the PeerConnection's state change ends the participant
    }
    this.#stats.sendFailures++
  }

  #onRtcp(msg: Buffer): void {
    if (this.#closed || !isRtcpPacket(msg) || !this.#video) return
    for (const fb of parseRtcp(msg)) {
      if (fb.type === 'nack') {
        this.#stats.nacks++
        for (const p of this.#video.rewriter.retransmissions(fb.sequenceNumbers)) {
          this.#send(this.#video.track, p, false)
          this.#stats.retransmitted++
        }
      } else if (fb.type === 'pli' || fb.type === 'fir') {
        this.#stats.keyframeRequests++
        this.#source.requestKeyframe(`SFU subscriber ${fb.type.toUpperCase()}`)
      }
    }
  }

  stats(): DownlinkStats {
    return { ...this.#stats }
  }

  /** Stops forwarding and closes the tracks (their m-lines go to port 0 at the next offer). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#source.removeListener(this)
    for (const t of [this.#video, this.#audio]) {
      try {
        t?.track.close()
      } catch {
        // already closed
      }
    }
    this.#log.debug({ stats: this.#stats }, 'SFU downlink closed')
  }
}
