/**
 * The RTCP a WebRTC sender needs (RFC 3550 §6.4.1 SR; RFC 4585 §6.2.1 generic NACK, §6.3.1 PLI;
 * RFC 5104 §4.3.1 FIR): parse what viewers send back, build sender reports.
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

/** NTP time (RFC 5905 §6, 32.32 fixed point seconds since 1900) for a Unix time in ms. */
export function ntpTime(unixMs: number): { seconds: number; fraction: number } {
  const ms = unixMs + 2208988800000
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
