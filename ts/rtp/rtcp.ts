/**
 * RTCP for senders and receivers, over the Rust parser and writer (`crates/rtp/src/rtcp`):
 * RFC 3550 §6.4 SR and RR (report blocks: loss, jitter, LSR/DLSR for the round-trip time), §6.5
 * SDES, §6.6 BYE, RFC 4585 §6.2.1 generic NACK and §6.3.1 PLI, RFC 5104 §4.3.1 FIR, REMB and
 * transport-wide CC feedback. Wire parsing lives in Rust (fuzzed as `rtcp_compound`); this file
 * only names the shapes and keeps the clock arithmetic.
 */
import type { RtcpReportBlock } from '../../binding.js'
import { native } from '../native'

/**
 * One RFC 3550 §6.4.1 report block: what a receiver says about one source (fraction lost /256,
 * cumulative lost 24-bit signed, extended highest sequence number, jitter in RTP timestamp
 * units, LSR and DLSR in 1/65536 s). The binding's shape, documented there.
 */
export type ReportBlock = RtcpReportBlock

/**
 * One packet of a compound RTCP packet, as `parseRtcp` returns it. `'malformed'` is the last
 * element when a part could not be read (nothing after it was); `'unknown'` is a packet type
 * this parser does not read (APP, XR, other feedback), skipped.
 */
export type RtcpPacket =
  /** `ntpMs`: the SR's 64-bit NTP timestamp as ms since the Unix epoch; `ntpMiddle` its middle 32 bits. */
  | { type: 'sr'; ssrc: number; ntpMs: number; ntpMiddle: number; rtpTimestamp: number; packets: number; octets: number; blocks: ReportBlock[] }
  | { type: 'rr'; ssrc: number; blocks: ReportBlock[] }
  | { type: 'sdes'; chunks: { ssrc: number; cname?: string }[] }
  | { type: 'bye'; sources: number[]; reason: string }
  | { type: 'nack'; senderSsrc: number; mediaSsrc: number; sequenceNumbers: number[] }
  | { type: 'pli'; senderSsrc: number; mediaSsrc: number }
  /** One object per FCI entry; `firSequence` is the command sequence number (0–255). */
  | { type: 'fir'; senderSsrc: number; mediaSsrc: number; firSequence: number }
  /** `bitrate` in bit/s. */
  | { type: 'remb'; senderSsrc: number; bitrate: number; ssrcs: number[] }
  /**
   * `referenceTime` in units of 64 ms; `arrivalsUs[i]` is when transport-wide sequence number
   * `baseSequence + i` arrived, in µs on the receiver's clock, or null when it did not.
   */
  | { type: 'twcc'; senderSsrc: number; mediaSsrc: number; baseSequence: number; referenceTime: number; feedbackCount: number; arrivalsUs: (number | null)[] }
  | { type: 'unknown'; packetType: number; count: number; size: number }
  /** `code`: `RTCP_TOO_SHORT`, `RTCP_BAD_VERSION`, `RTCP_MALFORMED` or `RTCP_BAD_PADDING`. */
  | { type: 'malformed'; code: string; reason: string }

export type RtcpSenderReport = Extract<RtcpPacket, { type: 'sr' }>

/** Reads a (compound) RTCP packet. Never throws: see {@link RtcpPacket} for `'malformed'`. */
export function parseRtcp(buf: Uint8Array): RtcpPacket[] {
  return native.parseRtcp(buf) as RtcpPacket[]
}

/**
 * Writes packets back to back as one compound RTCP packet. Throws an `Error` whose message
 * starts with `RTCP_INVALID_ARGUMENT` (a field its type needs is missing) or `RTCP_TOO_LARGE`
 * (more than 31 report blocks, ...).
 */
export function writeRtcp(packets: readonly Exclude<RtcpPacket, { type: 'unknown' | 'malformed' }>[]): Buffer {
  return native.writeRtcp(packets as Parameters<typeof native.writeRtcp>[0])
}

/** A sender report without report blocks (28 bytes, RFC 3550 §6.4.1); `unixMs` is the NTP time. */
export function senderReport(ssrc: number, unixMs: number, rtpTimestamp: number, packets: number, octets: number): Buffer {
  return writeRtcp([{ type: 'sr', ssrc: ssrc >>> 0, ntpMs: unixMs, ntpMiddle: 0, rtpTimestamp: rtpTimestamp >>> 0, packets: packets >>> 0, octets: octets >>> 0, blocks: [] }])
}

/** A receiver report (RFC 3550 §6.4.2) with up to 31 report blocks (the rest are left out). */
export function receiverReport(ssrc: number, blocks: ReportBlock[]): Buffer {
  return writeRtcp([{ type: 'rr', ssrc: ssrc >>> 0, blocks: blocks.slice(0, 31) }])
}

/** Generic NACKs (RFC 4585 §6.2.1) for `sequenceNumbers`, packed into PID + BLP words. */
export function genericNack(senderSsrc: number, mediaSsrc: number, sequenceNumbers: readonly number[]): Buffer {
  return writeRtcp([{ type: 'nack', senderSsrc: senderSsrc >>> 0, mediaSsrc: mediaSsrc >>> 0, sequenceNumbers: sequenceNumbers.map((s) => s & 0xffff) }])
}

/** A picture loss indication (RFC 4585 §6.3.1), 12 bytes. */
export function pictureLossIndication(senderSsrc: number, mediaSsrc: number): Buffer {
  return writeRtcp([{ type: 'pli', senderSsrc: senderSsrc >>> 0, mediaSsrc: mediaSsrc >>> 0 }])
}

/** Seconds from the NTP era 0 epoch (1900-01-01) to the Unix epoch. */
const NTP_UNIX_OFFSET_S = 2208988800

/** Middle 32 bits of the NTP time of a Unix time in ms (the LSR/DLSR clock of RFC 3550 §6.4.1). */
export function ntpMiddle(unixMs: number): number {
  const ms = unixMs + NTP_UNIX_OFFSET_S * 1000
  const seconds = Math.floor(ms / 1000)
  const fraction = Math.floor(((ms % 1000) / 1000) * 0x100000000)
  return (((seconds & 0xffff) * 0x10000) + (fraction >>> 16)) >>> 0
}

/**
 * Round-trip time in ms from a report block received at `unixMs` (RFC 3550 §6.4.1: A − LSR −
 * DLSR, in 1/65536 s), or null when the block carries no LSR.
 */
export function roundTripMs(block: ReportBlock, unixMs: number): number | null {
  if (block.lastSr === 0) return null
  const rtt = (ntpMiddle(unixMs) - block.lastSr - block.delaySinceLastSr) >>> 0
  return rtt > 0x7fffffff ? 0 : (rtt / 65536) * 1000
}

/** RFC 5761 §4: an RTCP packet type (192–223 in the second byte) on a multiplexed port. */
export function isRtcpPacket(p: Uint8Array): boolean {
  return p.length >= 8 && p[1]! >= 192 && p[1]! <= 223
}
