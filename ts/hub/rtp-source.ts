/**
 * A publisher whose media arrives as RTP (WHIP, SFU rooms) offers its packets as they came, so
 * WebRTC viewers get them forwarded with no depacketize/repacketize and no transcoding, whatever
 * the codec (H.264, VP8, VP9, AV1 video; Opus audio).
 */

/** Video codecs a WebRTC publisher may send (RTP encoding names as in the SDP rtpmap). */
export type RtpVideoCodec = 'H264' | 'H265' | 'VP8' | 'VP9' | 'AV1'

export interface RtpSourceListener {
  /** One RTP packet (decrypted, header included, the publisher's SSRC/sequence/timestamp). */
  onRtp(kind: 'video' | 'audio', packet: Buffer, arrivedAt: number): void
  /** The publisher's sender report for a track: `ntpMs` (Unix ms) is its wallclock at `rtpTimestamp`. */
  onSenderReport(kind: 'video' | 'audio', ntpMs: number, rtpTimestamp: number): void
}

export interface RtpSource {
  /**
   * The video codec and its fmtp parameters as negotiated with the publisher, or null;
   * `dependencyDescriptorId`: the Dependency Descriptor extension's id in its packets, when
   * negotiated (the layers of a scalable AV1, VP8 or H.264 stream are read from it).
   */
  readonly video: { codec: RtpVideoCodec; fmtp: Record<string, string>; dependencyDescriptorId?: number } | null
  /** Opus audio (48 kHz RTP clock), or null. */
  readonly audio: { codec: 'opus'; channels: number } | null
  addListener(listener: RtpSourceListener): void
  removeListener(listener: RtpSourceListener): void
  /** Asks the publisher for a keyframe (PLI), rate-limited by the publisher. */
  requestKeyframe(reason: string): void
  /**
   * Simulcast (RFC 8853): the lower layers, lowest first, each a video-only source named by its
   * rid; this source's own video is the top layer. Absent without simulcast.
   */
  readonly layers?: readonly (RtpSource & { readonly rid: string })[]
  /** Simulcast: the top layer's rid (this source's own video). */
  readonly rid?: string | null
}

/**
 * Whether an RTP payload starts a keyframe: H.264 IDR or SPS (RFC 6184 §5.6–5.8, single NAL,
 * STAP-A, FU-A start); VP8 key frame (RFC 7741 §4.3, P bit 0 at the partition start); VP9 not
 * inter-predicted at a frame start (RFC 9628 §4.2, P=0, B=1); AV1 new coded video sequence
 * (RTP payload format for AV1 §4.4, N=1).
 */
export function startsKeyframe(codec: RtpVideoCodec, payload: Buffer): boolean {
  if (payload.length < 1) return false
  switch (codec) {
    case 'H264': {
      const type = payload[0]! & 0x1f
      if (type === 5 || type === 7) return true
      if (type === 28) return payload.length > 1 && (payload[1]! & 0x80) !== 0 && ((payload[1]! & 0x1f) === 5 || (payload[1]! & 0x1f) === 7)
      if (type === 24) {
        let at = 1
        while (at + 2 < payload.length) {
          const size = payload.readUInt16BE(at)
          const t = payload[at + 2]! & 0x1f
          if (t === 5 || t === 7) return true
          at += 2 + size
        }
      }
      return false
    }
    case 'VP8': {
      const b0 = payload[0]!
      if ((b0 & 0x10) === 0 || (b0 & 0x07) !== 0) return false // S=1, PID=0
      let at = 1
      if (b0 & 0x80) {
        const x = payload[at++] ?? 0
        if (x & 0x80) at += (payload[at]! & 0x80) ? 2 : 1 // I: PictureID, 7 or 15 bits
        if (x & 0x40) at++ // L: TL0PICIDX
        if (x & 0x30) at++ // T/K: TID/KEYIDX
      }
      return at < payload.length && (payload[at]! & 0x01) === 0
    }
    case 'VP9': {
      const b0 = payload[0]!
      return (b0 & 0x40) === 0 && (b0 & 0x08) !== 0 // P=0, B=1
    }
    case 'AV1':
      return (payload[0]! & 0x08) !== 0 // N
    case 'H265': {
      // IRAP (types 16–23) or VPS as a single NAL unit, FU start (49) or first unit of an AP (48)
      const type = (payload[0]! >> 1) & 0x3f
      const irap = (t: number) => (t >= 16 && t <= 23) || t === 32
      if (type === 49) return payload.length > 2 && (payload[2]! & 0x80) !== 0 && irap(payload[2]! & 0x3f)
      if (type === 48) return payload.length > 4 && irap((payload[4]! >> 1) & 0x3f)
      return irap(type)
    }
  }
}

/**
 * Whether an RTP packet carries padding only (RFC 3550 §5.1: P set and the padding, whose last
 * octet counts it, fills the payload). Senders probe bandwidth with such packets on a media SSRC
 * when RTX is not negotiated; they belong to no frame.
 */
export function isPaddingOnly(p: Buffer): boolean {
  if ((p[0]! & 0x20) === 0) return false
  const at = rtpPayloadOffset(p)
  return at >= 0 && p.length - at <= p[p.length - 1]!
}

/** RTP payload offset (after CSRCs and the header extension), or -1 when malformed. */
export function rtpPayloadOffset(p: Buffer): number {
  if (p.length < 12) return -1
  let at = 12 + (p[0]! & 0x0f) * 4
  if (p[0]! & 0x10) {
    if (p.length < at + 4) return -1
    at += 4 + p.readUInt16BE(at + 2) * 4
  }
  return at <= p.length ? at : -1
}
