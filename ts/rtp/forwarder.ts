/**
 * RTP/SRTP forwarders: a live stream's `RtpSender` packets sent to a host over the service's
 * forward port (`ForwardPort`: the native fan-out, SRTP and batched sends), protected per
 * target when keyed. Two layouts:
 * - `ports` (for ffmpeg and other SDP receivers): video RTP to `videoPort`, its RTCP to
 *   `videoPort + 1`, audio RTP to `audioPort`, its RTCP to `audioPort + 1` (RFC 3550 §11);
 * - `mux` (relay links): everything to one port (RFC 5761).
 * Feedback that comes back to the port from those addresses is used: NACKs are answered from
 * the retransmission ring natively, receiver reports give loss, jitter and the round-trip time
 * (RFC 3550 §6.4.1 LSR/DLSR) here.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../log'
import { roundTripMs, type ReportBlock } from './rtcp'
import type { RtpSender } from './sender'
import type { ForwardPort } from './forward-port'
import { describeRtpSession, type SdesKey } from './sdp'
import { sdesKeyMaterial } from './srtp'

export interface ForwardTarget {
  /** An IP address (checked by the caller against `rtp.allowedDestinations`). */
  host: string
  /** Video RTP port (`ports` layout) or the one port (`mux`). */
  videoPort: number
  /** Audio RTP port; default `videoPort + 2`. Ignored with `mux`. */
  audioPort?: number
  layout: 'ports' | 'mux'
}

export interface ForwarderStats {
  id: string
  stream: string
  target: string
  srtp: string | null
  packetsSent: number
  bytesSent: number
  retransmitted: number
  nacksReceived: number
  keyframeRequests: number
  /** From the latest receiver report per kind. */
  fractionLost: { video: number | null; audio: number | null }
  cumulativeLost: { video: number | null; audio: number | null }
  jitterMs: { video: number | null; audio: number | null }
  rttMs: number | null
  /** Packets that could not be protected or sent, and feedback that failed its checks. */
  sendErrors: number
}

/** `host:port` as a socket address (`[v6]:port` for IPv6). */
function socketAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

export class RtpForwarder {
  readonly id = randomUUID()
  readonly sender: RtpSender
  readonly target: Required<ForwardTarget>
  readonly #port: ForwardPort
  readonly #nativeId: number
  readonly #key: SdesKey | null
  readonly #log: Logger
  readonly #reports: Pick<ForwarderStats, 'fractionLost' | 'cumulativeLost' | 'jitterMs' | 'rttMs'> = {
    fractionLost: { video: null, audio: null },
    cumulativeLost: { video: null, audio: null },
    jitterMs: { video: null, audio: null },
    rttMs: null,
  }
  #final: ReturnType<ForwardPort['remove']> = null
  #closed = false

  /**
   * Adds the forwarder to `port` and starts it (relay links with the sender's GOP). `srtp`: the
   * key it protects with (for the SDP too) and the key of the SRTCP that comes back (default the
   * same), or null for plain RTP. Throws an `Error` whose message starts with
   * `RTP_INVALID_ARGUMENT` when the port refuses it (a destination another forwarder sends to).
   */
  constructor(sender: RtpSender, target: ForwardTarget, port: ForwardPort, srtp: { key: SdesKey; feedback: SdesKey | null } | null, log: Logger) {
    this.sender = sender
    this.target = { audioPort: target.videoPort + 2, ...target }
    this.#port = port
    this.#key = srtp?.key ?? null
    this.#log = log.child({ forwarder: this.id, stream: sender.stream.key })
    const t = this.target
    const mux = t.layout === 'mux'
    const codecs = sender.codecs
    this.#nativeId = port.add({
      streamKey: sender.egressKey,
      videoPayloadType: codecs.video?.payloadType ?? 96,
      audioPayloadType: codecs.audio?.payloadType ?? 97,
      videoRtp: socketAddress(t.host, t.videoPort),
      videoRtcp: socketAddress(t.host, mux ? t.videoPort : t.videoPort + 1),
      audioRtp: socketAddress(t.host, mux ? t.videoPort : t.audioPort),
      audioRtcp: socketAddress(t.host, mux ? t.videoPort : t.audioPort + 1),
      srtp: srtp ? { profile: srtp.key.suite, key: sdesKeyMaterial(srtp.key), feedbackKey: srtp.feedback ? sdesKeyMaterial(srtp.feedback) : undefined } : undefined,
    }, (blocks) => this.#onReport(blocks))
    sender.start(this.#nativeId, mux)
    this.#log.info({ target: socketAddress(t.host, t.videoPort), layout: t.layout, srtp: this.#key?.suite ?? null }, 'forwarding')
  }

  /** The SDP a receiver opens (`ports` layout). */
  sdp(): string {
    return describeRtpSession(this.sender.codecs, {
      host: this.target.host,
      videoPort: this.target.videoPort,
      audioPort: this.target.audioPort,
      name: `Sluice ${this.sender.stream.key}`,
      srtp: this.#key,
    })
  }

  stats(): ForwarderStats {
    const c = this.#closed ? this.#final : this.#port.counters(this.#nativeId)
    return {
      id: this.id,
      stream: this.sender.stream.key,
      target: `${this.target.host}:${this.target.videoPort}`,
      srtp: this.#key?.suite ?? null,
      packetsSent: c?.packetsSent ?? 0,
      bytesSent: c?.bytesSent ?? 0,
      retransmitted: c?.retransmitted ?? 0,
      nacksReceived: c?.nacks ?? 0,
      keyframeRequests: c?.keyframeRequests ?? 0,
      ...structuredClone(this.#reports),
      sendErrors: (c?.sendErrors ?? 0) + (c?.feedbackDropped ?? 0),
    }
  }

  #onReport(blocks: ReportBlock[]): void {
    const now = Date.now()
    for (const block of blocks) {
      const kind = this.sender.kindOf(block.ssrc)
      if (!kind) continue
      const r = this.#reports
      r.fractionLost[kind] = block.fractionLost / 256
      r.cumulativeLost[kind] = block.cumulativeLost
      const clock = kind === 'video' ? 90000 : (this.sender.codecs.audio?.sampleRate ?? 48000)
      r.jitterMs[kind] = (block.jitter / clock) * 1000
      const rtt = roundTripMs(block, now)
      if (rtt !== null) r.rttMs = rtt
    }
  }

  close(reason: string): void {
    if (this.#closed) return
    this.#final = this.#port.remove(this.#nativeId)
    this.#closed = true
    this.sender.release(this.#nativeId)
    this.#log.info({ reason, stats: this.stats() }, 'forwarder closed')
  }
}
