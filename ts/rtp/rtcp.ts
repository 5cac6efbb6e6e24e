/**
 * RTCP for senders and receivers: RFC 3550 §6.4.1 SR and §6.4.2 RR (with report blocks: loss,
 * jitter, LSR/DLSR for the round-trip time), RFC 4585 §6.2.1 generic NACK and §6.3.1 PLI,
 * RFC 5104 §4.3.1 FIR. Parsers skip what they do not know and stop at the first malformed part;
 * they never throw.
 */

export type RtcpFeedback =
  | { type: 'pli'; mediaSsrc: number }
  | { type: 'fir'; mediaSsrc: number }
  | { type: 'nack'; mediaSsrc: number; sequenceNumbers: number[] }

/** Parses a (compound) RTCP packet; unknown or malformed parts are skipped. */
export function parseRtcpFeedback(buf: Uint8Array): RtcpFeedback[] {
  const out: RtcpFeedback[] = []
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let at = 0
  while (at + 4 <= buf.length) {
    const b0 = buf[at]!
    if (b0 >> 6 !== 2) break
    const fmt = b0 & 0x1f
    const pt = buf[at + 1]!
    const len = (view.getUint16(at + 2) + 1) * 4
    if (at + len > buf.length) break
    if ((pt === 205 || pt === 206) && len >= 12) {
      const mediaSsrc = view.getUint32(at + 8)
      if (pt === 206 && fmt === 1) out.push({ type: 'pli', mediaSsrc })
      else if (pt === 206 && fmt === 4 && len >= 20) out.push({ type: 'fir', mediaSsrc: view.getUint32(at + 12) })
      else if (pt === 205 && fmt === 1) {
        const sequenceNumbers: number[] = []
        for (let f = at + 12; f + 4 <= at + len; f += 4) {
          const pid = view.getUint16(f)
          const blp = view.getUint16(f + 2)
          sequenceNumbers.push(pid)
          for (let i = 0; i < 16; i++) if (blp & (1 << i)) sequenceNumbers.push((pid + i + 1) & 0xffff)
        }
        out.push({ type: 'nack', mediaSsrc, sequenceNumbers })
      }
    }
    at += len
  }
  return out
}

/** Seconds from the NTP era 0 epoch (1900-01-01) to the Unix epoch. */
const NTP_UNIX_OFFSET_S = 2208988800

/** NTP time (RFC 5905 §6, 32.32 fixed point seconds since 1900) for a Unix time in ms. */
export function ntpTime(unixMs: number): { seconds: number; fraction: number } {
  const ms = unixMs + NTP_UNIX_OFFSET_S * 1000
  const seconds = Math.floor(ms / 1000)
  const fraction = Math.floor(((ms % 1000) / 1000) * 0x100000000)
  return { seconds: seconds >>> 0, fraction: fraction >>> 0 }
}

/** A sender report without report blocks (28 bytes, RFC 3550 §6.4.1). */
export function senderReport(ssrc: number, unixMs: number, rtpTimestamp: number, packets: number, octets: number): Buffer {
  const b = Buffer.alloc(28)
  b[0] = 0x80
  b[1] = 200
  b.writeUInt16BE(6, 2)
  b.writeUInt32BE(ssrc >>> 0, 4)
  const ntp = ntpTime(unixMs)
  b.writeUInt32BE(ntp.seconds, 8)
  b.writeUInt32BE(ntp.fraction, 12)
  b.writeUInt32BE(rtpTimestamp >>> 0, 16)
  b.writeUInt32BE(packets >>> 0, 20)
  b.writeUInt32BE(octets >>> 0, 24)
  return b
}

/** One RFC 3550 §6.4.1 report block: what a receiver says about one source. */
export interface ReportBlock {
  ssrc: number
  /** Fraction lost since the previous report, 0–255 (/256). */
  fractionLost: number
  /** Cumulative packets lost (24-bit signed). */
  cumulativeLost: number
  /** Extended highest sequence number received. */
  highestSequence: number
  /** Interarrival jitter in RTP timestamp units. */
  jitter: number
  /** Middle 32 bits of the NTP timestamp of the last SR received from the source, 0 if none. */
  lastSr: number
  /** Delay since that SR, in 1/65536 s. */
  delaySinceLastSr: number
}

export type RtcpReport =
  /** `ntpMs`: the SR's 64-bit NTP timestamp as ms since the Unix epoch (RFC 3550 §6.4.1). */
  | { type: 'sr'; ssrc: number; ntpMiddle: number; ntpMs: number; rtpTimestamp: number; packets: number; octets: number; blocks: ReportBlock[] }
  | { type: 'rr'; ssrc: number; blocks: ReportBlock[] }

/** Parses the SR and RR parts of a (compound) RTCP packet. */
export function parseRtcpReports(buf: Uint8Array): RtcpReport[] {
  const out: RtcpReport[] = []
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let at = 0
  while (at + 8 <= buf.length) {
    const b0 = buf[at]!
    if (b0 >> 6 !== 2) break
    const count = b0 & 0x1f
    const pt = buf[at + 1]!
    const len = (view.getUint16(at + 2) + 1) * 4
    if (at + len > buf.length) break
    const ssrc = view.getUint32(at + 4)
    const blocksAt = pt === 200 ? at + 28 : at + 8
    if ((pt === 200 || pt === 201) && blocksAt + 24 * count <= at + len) {
      const blocks: ReportBlock[] = []
      for (let i = 0; i < count; i++) {
        const b = blocksAt + 24 * i
        blocks.push({
          ssrc: view.getUint32(b),
          fractionLost: buf[b + 4]!,
          cumulativeLost: ((view.getUint32(b + 4) & 0xffffff) << 8) >> 8,
          highestSequence: view.getUint32(b + 8),
          jitter: view.getUint32(b + 12),
          lastSr: view.getUint32(b + 16),
          delaySinceLastSr: view.getUint32(b + 20),
        })
      }
      if (pt === 200) {
        const ntpMiddle = ((view.getUint32(at + 8) & 0xffff) * 0x10000 + (view.getUint32(at + 12) >>> 16)) >>> 0
        const ntpMs = (view.getUint32(at + 8) - NTP_UNIX_OFFSET_S) * 1000 + (view.getUint32(at + 12) / 0x100000000) * 1000
        out.push({ type: 'sr', ssrc, ntpMiddle, ntpMs, rtpTimestamp: view.getUint32(at + 16), packets: view.getUint32(at + 20), octets: view.getUint32(at + 24), blocks })
      } else out.push({ type: 'rr', ssrc, blocks })
    }
    at += len
  }
  return out
}

/** Middle 32 bits of the NTP time of a Unix time in ms (the LSR/DLSR clock of RFC 3550 §6.4.1). */
export function ntpMiddle(unixMs: number): number {
  const { seconds, fraction } = ntpTime(unixMs)
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

/** A receiver report (RFC 3550 §6.4.2) with up to 31 report blocks. */
export function receiverReport(ssrc: number, blocks: ReportBlock[]): Buffer {
  const list = blocks.slice(0, 31)
  const b = Buffer.alloc(8 + 24 * list.length)
  b[0] = 0x80 | list.length
  b[1] = 201
  b.writeUInt16BE(b.length / 4 - 1, 2)
  b.writeUInt32BE(ssrc >>> 0, 4)
  list.forEach((r, i) => {
    const at = 8 + 24 * i
    b.writeUInt32BE(r.ssrc >>> 0, at)
    b.writeUInt32BE((((r.fractionLost & 0xff) << 24) | (Math.max(-0x800000, Math.min(0x7fffff, r.cumulativeLost)) & 0xffffff)) >>> 0, at + 4)
    b.writeUInt32BE(r.highestSequence >>> 0, at + 8)
    b.writeUInt32BE(r.jitter >>> 0, at + 12)
    b.writeUInt32BE(r.lastSr >>> 0, at + 16)
    b.writeUInt32BE(r.delaySinceLastSr >>> 0, at + 20)
  })
  return b
}

/** Generic NACKs (RFC 4585 §6.2.1) for `sequenceNumbers`, packed into PID + BLP words. */
export function genericNack(senderSsrc: number, mediaSsrc: number, sequenceNumbers: readonly number[]): Buffer {
  const sorted = [...new Set(sequenceNumbers.map((s) => s & 0xffff))].sort((a, b) => a - b)
  const words: [number, number][] = []
  for (const seq of sorted) {
    const last = words[words.length - 1]
    const d = last ? (seq - last[0]) & 0xffff : 0
    if (last && d >= 1 && d <= 16) last[1] |= 1 << (d - 1)
    else words.push([seq, 0])
  }
  const b = Buffer.alloc(12 + 4 * words.length)
  b[0] = 0x80 | 1
  b[1] = 205
  b.writeUInt16BE(b.length / 4 - 1, 2)
  b.writeUInt32BE(senderSsrc >>> 0, 4)
  b.writeUInt32BE(mediaSsrc >>> 0, 8)
  words.forEach(([pid, blp], i) => {
    b.writeUInt16BE(pid, 12 + 4 * i)
    b.writeUInt16BE(blp, 14 + 4 * i)
  })
  return b
}

/** A picture loss indication (RFC 4585 §6.3.1), 12 bytes. */
export function pictureLossIndication(senderSsrc: number, mediaSsrc: number): Buffer {
  const b = Buffer.alloc(12)
  b[0] = 0x80 | 1
  b[1] = 206
  b.writeUInt16BE(2, 2)
  b.writeUInt32BE(senderSsrc >>> 0, 4)
  b.writeUInt32BE(mediaSsrc >>> 0, 8)
  return b
}

/** RFC 5761 §4: an RTCP packet type (192–223 in the second byte) on a multiplexed port. */
export function isRtcpPacket(p: Uint8Array): boolean {
  return p.length >= 8 && p[1]! >= 192 && p[1]! <= 223
}
