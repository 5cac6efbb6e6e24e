/**
 * One received RTP track, whatever carries it (UDP/SRTP ingest, relay links, WHIP): reception
 * statistics (RFC 3550 §6.4.1 loss and interarrival jitter, A.3/A.8), the Rust depacketizer
 * (reordering bounded in time, NACK for holes, keyframe request while waiting for an IDR),
 * generic NACK and PLI (RFC 4585 §6.2.1, §6.3.1) sent through the transport's `sendRtcp`, the
 * report block for receiver reports (with LSR/DLSR, so the sender sees the round-trip time),
 * and the track's RTP clock mapped to the session timeline (`rtp-clock.ts`).
 */
import { native } from '../native'
import { genericNack, pictureLossIndication, type ReportBlock } from './rtcp'
import type { TrackClock } from './rtp-clock'

export type DepacketizerCodec = 'H264' | 'VP8' | 'AAC' | 'OPUS'

export interface ReceivedFrame {
  /** RTP timestamp (32-bit) of the access unit / audio frame. */
  timestamp: number
  /** Session timeline ms of `timestamp` (fractional). */
  ms: number
  /** H.264: AVCC access unit (4-byte lengths); VP8: one frame; AAC: one raw access unit; Opus: one packet. */
  data: Buffer
  keyframe: boolean
  /** H.264: a new AVCDecoderConfigurationRecord (SPS/PPS changed) for this access unit; VP8: the
   * VPCodecConfigurationRecord, on the first key frame. */
  decoderConfig?: Buffer | null
}

export interface TrackReceiverOptions {
  codec: DepacketizerCodec
  clockRate: number
  clock: TrackClock
  /** How long a hole is waited for, ms. */
  maxDelayMs: number
  /** Our SSRC, the sender of NACK/PLI/RR. */
  senderSsrc: number
  sendRtcp(packet: Buffer): void
  onFrame(frame: ReceivedFrame): void
  /** A packet dropped (`CODE: message`), counted by the owner. */
  onDrop(reason: string): void
  /** Sequence numbers about to be NACKed (for the loss simulator of relay tests). */
  onNack?(sequenceNumbers: number[]): void
}

export interface ReceiverStats {
  ssrc: number | null
  packets: number
  bytes: number
  frames: number
  /** Packets given up on (never arrived, NACK or not). */
  lost: number
  /** Sequence numbers NACKed. */
  nacked: number
  /** Interarrival jitter in ms (RFC 3550 §6.4.1). */
  jitterMs: number
  keyframeRequests: number
}

/** Keyframe requests (PLI) closer together than this are not sent. */
const PLI_INTERVAL_MS = 500

export class RtpTrackReceiver {
  ssrc: number | null = null
  readonly #o: TrackReceiverOptions
  readonly #depacketizer: InstanceType<typeof native.RtpDepacketizer>
  #packets = 0
  #bytes = 0
  #frames = 0
  #lost = 0
  #nacked = 0
  #keyframeRequests = 0
  #lastPliAt = 0
  #highestSeq = 0
  #baseSeq: number | null = null
  #cycles = 0
  #expectedPrior = 0
  #receivedPrior = 0
  #received = 0
  #transit: number | null = null
  #jitter = 0
  #lastSr = 0
  #lastSrAt = 0
  #deadline: NodeJS.Timeout | null = null
  #closed = false

  constructor(options: TrackReceiverOptions) {
    this.#o = options
    this.#depacketizer = new native.RtpDepacketizer({ codec: options.codec, maxDelayMs: options.maxDelayMs })
  }

  /** One RTP packet (decrypted, header included) of this track. */
  push(packet: Buffer): void {
    if (this.#closed) return
    const ssrc = packet.readUInt32BE(8)
    if (this.ssrc !== ssrc) {
      this.ssrc = ssrc
      this.#baseSeq = null
    }
    this.#account(packet)
    this.#handle(this.#depacketizer.push(packet, performance.now()))
  }

  /** A sender report for this track (RFC 3550 §6.4.1): feeds LSR/DLSR and the RTP clock. */
  onSenderReport(report: { ntpMiddle: number; ntpMs: number; rtpTimestamp: number }): void {
    this.#lastSr = report.ntpMiddle
    this.#lastSrAt = Date.now()
    this.#o.clock.onSenderReport(report.ntpMs, report.rtpTimestamp)
  }

  /** Asks the sender for a keyframe (PLI), at most every 500 ms. Returns whether one was sent. */
  requestKeyframe(): boolean {
    if (this.ssrc === null || Date.now() - this.#lastPliAt < PLI_INTERVAL_MS) return false
    this.#lastPliAt = Date.now()
    this.#keyframeRequests++
    this.#o.sendRtcp(pictureLossIndication(this.#o.senderSsrc, this.ssrc))
    return true
  }

  stats(): ReceiverStats {
    return {
      ssrc: this.ssrc,
      packets: this.#packets,
      bytes: this.#bytes,
      frames: this.#frames,
      lost: this.#lost,
      nacked: this.#nacked,
      jitterMs: (this.#jitter / this.#o.clockRate) * 1000,
      keyframeRequests: this.#keyframeRequests,
    }
  }

  /** This track's receiver-report block for the last interval (RFC 3550 §6.4.1), or null before any packet. */
  reportBlock(): ReportBlock | null {
    if (this.ssrc === null || this.#baseSeq === null) return null
    const extendedMax = this.#cycles + this.#highestSeq
    const expected = extendedMax - this.#baseSeq + 1
    const expectedInterval = expected - this.#expectedPrior
    const receivedInterval = this.#received - this.#receivedPrior
    this.#expectedPrior = expected
    this.#receivedPrior = this.#received
    const lostInterval = expectedInterval - receivedInterval
    return {
      ssrc: this.ssrc,
      fractionLost: expectedInterval > 0 && lostInterval > 0 ? Math.floor((lostInterval * 256) / expectedInterval) & 0xff : 0,
      cumulativeLost: Math.max(0, expected - this.#received),
      highestSequence: extendedMax,
      jitter: Math.round(this.#jitter),
      lastSr: this.#lastSr,
      delaySinceLastSr: this.#lastSr ? Math.round(((Date.now() - this.#lastSrAt) / 1000) * 65536) : 0,
    }
  }

  close(): void {
    this.#closed = true
    if (this.#deadline) clearTimeout(this.#deadline)
    this.#deadline = null
  }

  #account(packet: Buffer): void {
    const seq = packet.readUInt16BE(2)
    this.#packets++
    this.#bytes += packet.length
    this.#received++
    if (this.#baseSeq === null) {
      this.#baseSeq = seq
      this.#highestSeq = seq
      this.#cycles = 0
      this.#expectedPrior = 0
      this.#receivedPrior = 0
      this.#received = 1
    } else {
      const delta = (seq - this.#highestSeq) & 0xffff
      if (delta > 0 && delta < 0x8000) {
        if (seq < this.#highestSeq) this.#cycles += 0x10000
        this.#highestSeq = seq
      }
    }
    // RFC 3550 §6.4.1 / A.8 interarrival jitter, in RTP units.
    const arrival = (performance.now() * this.#o.clockRate) / 1000
    const transit = arrival - packet.readUInt32BE(4)
    if (this.#transit !== null) {
      let d = Math.abs(transit - this.#transit)
      if (d > 0x80000000) d = Math.abs(d - 0x100000000)
      this.#jitter += (d - this.#jitter) / 16
    }
    this.#transit = transit
  }

  #handle(result: ReturnType<InstanceType<typeof native.RtpDepacketizer>['push']>): void {
    if (result.dropped) this.#o.onDrop(result.dropped)
    this.#lost += result.lost
    if (result.nack.length > 0 && this.ssrc !== null) {
      this.#nacked += result.nack.length
      this.#o.onNack?.(result.nack)
      this.#o.sendRtcp(genericNack(this.#o.senderSsrc, this.ssrc, result.nack))
    }
    if (result.keyframeRequest) this.requestKeyframe()
    for (const frame of result.frames) {
      this.#frames++
      this.#o.onFrame({ ...frame, ms: this.#o.clock.toMs(frame.timestamp) })
    }
    if (this.#deadline) clearTimeout(this.#deadline)
    this.#deadline = null
    if (result.deadlineMs !== undefined && result.deadlineMs !== null) {
      const wait = Math.max(0, result.deadlineMs - performance.now())
      this.#deadline = setTimeout(() => {
        this.#deadline = null
        if (!this.#closed) this.#handle(this.#depacketizer.poll(performance.now()))
      }, wait + 1)
    }
  }
}
