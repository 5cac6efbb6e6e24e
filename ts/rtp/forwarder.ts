/**
 * RTP/SRTP forwarders: a live stream's `RtpSender` packets sent over UDP to a host, protected
 * per target when keyed. Two layouts:
 * - `ports` (for ffmpeg and other SDP receivers): video RTP to `videoPort`, its RTCP to
 *   `videoPort + 1`, audio RTP to `audioPort`, its RTCP to `audioPort + 1` (RFC 3550 §11);
 * - `mux` (relay links): everything to one port (RFC 5761), RTCP feedback read on the same
 *   socket.
 * Feedback that comes back to the forwarder's socket is used: NACKs are answered from the
 * sender's retransmission ring, receiver reports give loss, jitter and the round-trip time
 * (RFC 3550 §6.4.1 LSR/DLSR).
 */
import dgram from 'node:dgram'
import { randomUUID } from 'node:crypto'
import type { Logger } from '../log'
import { isRtcpPacket, parseRtcp, roundTripMs, type RtcpPacket } from './rtcp'
import type { RtpKind, RtpSender, RtpSink } from './sender'
import { describeRtpSession, type SdesKey } from './sdp'
import type { SrtpContext } from './srtp'

export interface ForwardTarget {
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
  /** Packets that could not be protected or sent. */
  sendErrors: number
}

export class RtpForwarder implements RtpSink {
  readonly id = randomUUID()
  readonly sender: RtpSender
  readonly target: Required<ForwardTarget>
  readonly #socket: dgram.Socket
  readonly #srtp: SrtpContext | null
  readonly #key: SdesKey | null
  readonly #log: Logger
  readonly #stats: ForwarderStats
  #closed = false

  /**
   * `socket`: bound by the caller (its address is the source the receiver sees and where
   * feedback comes back). `srtp`/`key`: the protecting context and the SDES key it came from
   * (for the SDP), or null for plain RTP.
   */
  constructor(sender: RtpSender, target: ForwardTarget, socket: dgram.Socket, srtp: { context: SrtpContext; key: SdesKey } | null, log: Logger) {
    this.sender = sender
    this.target = { audioPort: target.videoPort + 2, ...target }
    this.#socket = socket
    this.#srtp = srtp?.context ?? null
    this.#key = srtp?.key ?? null
    this.#log = log.child({ forwarder: this.id, stream: sender.stream.key })
    this.#stats = {
      id: this.id,
      stream: sender.stream.key,
      target: `${target.host}:${target.videoPort}`,
      srtp: srtp?.key.suite ?? null,
      packetsSent: 0,
      bytesSent: 0,
      retransmitted: 0,
      nacksReceived: 0,
      keyframeRequests: 0,
      fractionLost: { video: null, audio: null },
      cumulativeLost: { video: null, audio: null },
      jitterMs: { video: null, audio: null },
      rttMs: null,
      sendErrors: 0,
    }
    socket.on('message', (msg) => this.#onFeedback(msg))
    socket.on('error', (err) => {
      this.#stats.sendErrors++
      if (this.#stats.sendErrors === 1 || this.#stats.sendErrors % 1000 === 0) this.#log.warn({ err: err.message, sendErrors: this.#stats.sendErrors }, 'forwarder socket error')
    })
    sender.addSink(this)
    this.#log.info({ target: this.#stats.target, layout: target.layout, srtp: this.#stats.srtp }, 'forwarding')
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
    return structuredClone(this.#stats)
  }

  send(kind: RtpKind, packet: Buffer): void {
    if (this.#closed) return
    const rtcp = isRtcpPacket(packet)
    let out: Buffer = packet
    if (this.#srtp) {
      const p = rtcp ? this.#srtp.protectRtcp(packet) : this.#srtp.protectRtp(packet)
      if (typeof p === 'string') {
        this.#stats.sendErrors++
        return
      }
      out = p
    }
    let port = this.target.videoPort
    if (this.target.layout === 'ports') port = (kind === 'video' ? this.target.videoPort : this.target.audioPort) + (rtcp ? 1 : 0)
    this.#stats.packetsSent++
    this.#stats.bytesSent += out.length
    this.#socket.send(out, port, this.target.host) // a failed send is the socket's 'error' event
  }

  #onFeedback(msg: Buffer): void {
    if (this.#closed || !isRtcpPacket(msg)) return
    let packet: Buffer = msg
    if (this.#srtp) {
      const p = this.#srtp.unprotectRtcp(msg)
      if (typeof p === 'string') return
      packet = p
    }
    const now = Date.now()
    for (const p of parseRtcp(packet)) {
      if (p.type === 'sr' || p.type === 'rr') this.#onReport(p, now)
      else if (p.type === 'nack' || p.type === 'pli' || p.type === 'fir') this.#onFeedbackMessage(p)
    }
  }

  #onReport(report: Extract<RtcpPacket, { type: 'sr' | 'rr' }>, now: number): void {
    for (const block of report.blocks) {
      const kind = this.sender.kindOf(block.ssrc)
      if (!kind) continue
      this.#stats.fractionLost[kind] = block.fractionLost / 256
      this.#stats.cumulativeLost[kind] = block.cumulativeLost
      const clock = kind === 'video' ? 90000 : (this.sender.codecs.audio?.sampleRate ?? 48000)
      this.#stats.jitterMs[kind] = (block.jitter / clock) * 1000
      const rtt = roundTripMs(block, now)
      if (rtt !== null) this.#stats.rttMs = rtt
    }
  }

  #onFeedbackMessage(fb: Extract<RtcpPacket, { type: 'nack' | 'pli' | 'fir' }>): void {
    const kind = this.sender.kindOf(fb.mediaSsrc)
    if (!kind) return
    if (fb.type === 'nack') {
      this.#stats.nacksReceived++
      for (const seq of fb.sequenceNumbers) {
        const p = this.sender.retransmission(kind, seq)
        if (!p) continue
        this.#stats.retransmitted++
        this.send(kind, p)
      }
    } else {
      // PLI/FIR: the RTMP publisher cannot be asked; the next keyframe comes with the GOP.
      this.#stats.keyframeRequests++
    }
  }

  close(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.sender.removeSink(this)
    try {
      this.#socket.close()
    } catch {
      // already closed
    }
    this.#log.info({ reason, stats: this.#stats }, 'forwarder closed')
  }
}
