/**
 * `RtpFeed`: an RTP-origin source (a WHIP publisher, an SFU participant, an `mcu` room's mix for
 * one participant: an `RtpSource`) as the RTP egress pipeline's per-stream track source. The
 * publisher's packets are forwarded as they came, any codec, rewritten once per feed (not per
 * subscriber) by the native `RtpRewriter`: this feed's SSRCs, sequence numbers and timestamps
 * continuous across publisher restarts, header extensions removed (their ids were negotiated with
 * the publisher, not the subscribers), padding-only packets dropped (the publisher's bandwidth
 * probes). Video packets go to the sink one frame at a time (a batch
 * ends at the marker bit, or after `FORWARD_BATCH` packets); the sink's fan-out gives each
 * subscriber its payload type and sequence offset, keeps the retransmission ring and sends the
 * sender reports, anchored here on the publisher's own (RFC 3550 §6.4.1, for lip sync).
 *
 * A joining subscriber or a PLI/FIR asks the publisher for a keyframe (`RtpSource.requestKeyframe`,
 * rate-limited by the publisher).
 */
import { randomInt } from 'node:crypto'
import { native } from '../native'
import { isPaddingOnly, rtpPayloadOffset, startsKeyframe, type RtpSource, type RtpSourceListener } from '../hub/rtp-source'
import type { ViewerTransport } from './viewer-protocol'

/** Where a feed's packets go, under its key: WHEP's viewer transport, or the SFU's downlinks. */
export type FeedSink = Pick<ViewerTransport, 'media' | 'inject' | 'anchor'>

/** Video packets forwarded in one batch at most (a batch ends at the marker bit). */
const FORWARD_BATCH = 64

/** The payload type of the rewritten packets: a placeholder, the fan-out patches each subscriber's in. */
const PLACEHOLDER_PT = 0

export class RtpFeed implements RtpSourceListener {
  /** The feed's key in its sink (`media`, `anchor`). */
  readonly key: string
  readonly videoSsrc: number
  readonly audioSsrc: number
  readonly #sink: FeedSink
  #source: RtpSource | null = null
  readonly #forward: Record<'video' | 'audio', InstanceType<typeof native.RtpRewriter>>
  #pending: Buffer[] = []
  #pendingKeyframe = false
  #pendingAt = 0

  /** `videoSsrc`/`audioSsrc`: the SSRCs subscribers are told (random when not given). */
  constructor(key: string, sink: FeedSink, videoSsrc = randomInt(1, 0xffffffff), audioSsrc = randomInt(1, 0xffffffff)) {
    this.key = key
    this.#sink = sink
    this.videoSsrc = videoSsrc
    this.audioSsrc = audioSsrc
    this.#forward = {
      video: new native.RtpRewriter(videoSsrc, PLACEHOLDER_PT, 90000),
      audio: new native.RtpRewriter(audioSsrc, PLACEHOLDER_PT, 48000),
    }
  }

  /** The source forwarded now, or null. */
  get source(): RtpSource | null {
    return this.#source
  }

  /** Forwards `source` from now on (null: none); the numbering continues from the last one's. */
  attach(source: RtpSource | null): void {
    if (source === this.#source) return
    this.#source?.removeListener(this)
    this.#pending = []
    this.#source = source
    source?.addListener(this)
  }

  /** Subscriber `id` of the sink is ready: it gets the live packets from now on, from a keyframe the publisher is asked for. */
  start(id: string, seqOffset: number, reason = 'WebRTC viewer joined'): void {
    this.#sink.inject(id, 'video', new Uint8Array(0), new Uint32Array(0), seqOffset, true)
    this.#source?.requestKeyframe(reason)
  }

  /** A subscriber's PLI/FIR: asks the publisher for a keyframe. */
  keyframeRequest(reason: string): void {
    this.#source?.requestKeyframe(reason)
  }

  /** A publisher's RTP packet: re-numbered for this feed and forwarded (video a frame at a time). */
  onRtp(kind: 'video' | 'audio', packet: Buffer, arrivedAt: number): void {
    // the publisher's bandwidth probes are not media (the fan-out probes each subscriber
    // itself): left out, the numbering closed over them
    if (isPaddingOnly(packet)) return this.#forward[kind].skip(packet)
    const out = this.#forward[kind].rewrite(packet, Date.now())
    if (!out) return
    if (kind === 'audio') {
      this.#sink.media(this.key, 'audio', out, Uint32Array.of(out.length), arrivedAt)
      return
    }
    if (this.#pending.length === 0) {
      this.#pendingAt = arrivedAt
      this.#pendingKeyframe = this.#source?.video ? startsKeyframe(this.#source.video.codec, packet.subarray(rtpPayloadOffset(packet))) : false
    }
    this.#pending.push(out)
    if ((packet[1]! & 0x80) !== 0 || this.#pending.length >= FORWARD_BATCH) this.#flushVideo()
  }

  #flushVideo(): void {
    const packets = this.#pending
    this.#pending = []
    const ends = new Uint32Array(packets.length)
    let n = 0
    packets.forEach((p, i) => (ends[i] = n += p.length))
    this.#sink.media(this.key, 'video', Buffer.concat(packets, n), ends, this.#pendingAt, this.#pendingKeyframe)
  }

  /**
   * A publisher's sender report, re-based onto this feed's timestamps: the subscribers' reports
   * (the sink's) follow the publisher's capture clock (A/V sync).
   */
  onSenderReport(kind: 'video' | 'audio', ntpMs: number, rtpTimestamp: number): void {
    const f = this.#forward[kind]
    if (f.started) this.#sink.anchor(this.key, kind, f.timestamp(rtpTimestamp), ntpMs)
  }

  /** Stops listening to the source (idempotent). */
  close(): void {
    this.attach(null)
  }
}
