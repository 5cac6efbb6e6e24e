/**
 * `RtpRewriter`: re-numbers one forwarded RTP track (RFC 3550 §5.1) so that its receiver sees one
 * continuous source whatever happens upstream: the output carries the rewriter's SSRC and payload
 * type, sequence numbers and timestamps are the publisher's plus deltas fixed whenever the input
 * SSRC changes (a publisher restart or a new publisher continues right after the last packet
 * sent, the timestamp advanced by the wallclock gap), and the header extension and CSRCs are
 * dropped (extension ids are negotiated per PeerConnection, not shared by publisher and viewer).
 *
 * Used by the WHEP feed (`ts/webrtc/feed.ts`, once per stream) and by the SFU (once per
 * publisher track and subscriber). Allocation: one Buffer per packet (`rewrite`) or none
 * (`rewriteInto`, into a caller-supplied buffer).
 */
import { randomInt } from 'node:crypto'
import { rtpPayloadOffset } from '../hub/rtp-source'

export class RtpRewriter {
  /** The SSRC written into every output packet. */
  readonly ssrc: number
  /** RTP clock rate of the track (Hz): 90000 video, 48000 Opus. */
  readonly clockRate: number
  /** Payload type written into every output packet (0–127). */
  payloadType: number
  #inputSsrc: number | null = null
  #seqDelta = 0
  #tsDelta = 0
  #lastSeq: number
  #lastTs: number
  #lastAt = 0
  #packets = 0
  #octets = 0

  /**
   * @param ssrc output SSRC (32-bit).
   * @param payloadType output payload type (7-bit).
   * @param clockRate RTP clock rate in Hz, used to advance timestamps across an input SSRC change.
   */
  constructor(ssrc: number, payloadType: number, clockRate: number) {
    this.ssrc = ssrc >>> 0
    this.payloadType = payloadType & 0x7f
    this.clockRate = clockRate
    this.#lastSeq = randomInt(0, 0xffff)
    this.#lastTs = randomInt(0, 0x7fffffff)
  }

  /** Whether a packet was rewritten since the last input SSRC change (deltas are known). */
  get started(): boolean {
    return this.#inputSsrc !== null
  }

  /** Output sequence number of the last packet rewritten. */
  get lastSequenceNumber(): number {
    return this.#lastSeq
  }

  /** Packets and payload+header octets rewritten (for sender reports, RFC 3550 §6.4.1). */
  get packets(): number {
    return this.#packets
  }

  get octets(): number {
    return this.#octets
  }

  /** The output timestamp for an input RTP timestamp (for re-basing the publisher's SRs). */
  timestamp(inputTimestamp: number): number {
    return (inputTimestamp + this.#tsDelta) >>> 0
  }

  /** Output size of `packet` (12-byte header + payload), or -1 when it is not valid RTP. */
  outputLength(packet: Buffer): number {
    const at = rtpPayloadOffset(packet)
    return at < 0 ? -1 : 12 + packet.length - at
  }

  /** Rewrites `packet` into a new Buffer; null when it is not valid RTP. */
  rewrite(packet: Buffer, now = Date.now()): Buffer | null {
    const n = this.outputLength(packet)
    if (n < 0) return null
    const out = Buffer.allocUnsafe(n)
    this.rewriteInto(packet, out, now)
    return out
  }

  /**
   * Rewrites `packet` into `out` (at least `outputLength(packet)` bytes); returns the bytes
   * written, or -1 when `packet` is not valid RTP (nothing written, no state changed).
   * `now`: wallclock ms, for the timestamp jump across an input SSRC change.
   */
  rewriteInto(packet: Buffer, out: Buffer, now = Date.now()): number {
    const at = rtpPayloadOffset(packet)
    if (at < 0) return -1
    const n = 12 + packet.length - at
    if (out.length < n) throw new RangeError(`rewriteInto: ${out.length} bytes, ${n} needed`)
    const ssrc = packet.readUInt32BE(8)
    const seq = packet.readUInt16BE(2)
    const ts = packet.readUInt32BE(4)
    if (this.#inputSsrc !== ssrc) {
      // a new publisher (or SSRC): continue right after what the receiver last got
      this.#inputSsrc = ssrc
      this.#seqDelta = (this.#lastSeq + 1 - seq) & 0xffff
      const elapsed = this.#lastAt ? Math.max(1, Math.round(((now - this.#lastAt) * this.clockRate) / 1000)) : 0
      this.#tsDelta = (this.#lastTs + elapsed - ts) >>> 0
    }
    out[0] = 0x80 | (packet[0]! & 0x20) // V=2, padding kept, no extension, no CSRC
    out[1] = (packet[1]! & 0x80) | this.payloadType
    this.#lastSeq = (seq + this.#seqDelta) & 0xffff
    this.#lastTs = (ts + this.#tsDelta) >>> 0
    this.#lastAt = now
    out.writeUInt16BE(this.#lastSeq, 2)
    out.writeUInt32BE(this.#lastTs, 4)
    out.writeUInt32BE(this.ssrc, 8)
    packet.copy(out, 12, at)
    this.#packets++
    this.#octets += n
    return n
  }
}
