/**
 * A mix as RTP for one conference participant (`mcu` rooms): the mix's H.264 packetized once per
 * mix (RFC 6184, shared by every participant's source) and this participant's own mix-minus
 * (everyone but them) as Opus (RFC 7587), so an SFU downlink (`SfuDownlink`) sends it like any
 * publisher's tracks (its feed's SSRCs and numbering, the subscriber's payload types, NACK
 * repaired from the fan-out's ring); a PLI asks the mixer for a keyframe.
 */
import { randomInt } from 'node:crypto'
import { native } from '../native'
import type { RtpSource, RtpSourceListener } from '../hub/rtp-source'

/** Payload types of the packets before a downlink rewrites them. */
const H264_PT = 102
const OPUS_PT = 111

/** Splits a packet batch (`data`, packet `i` ending at `ends[i]`). */
export function* packetsOf(batch: { data: Buffer; ends: Uint32Array }): Generator<Buffer> {
  let start = 0
  for (const end of batch.ends) {
    yield batch.data.subarray(start, end)
    start = end
  }
}

/** The mix's video, packetized once for all participants' sources. */
export class MixVideoPacketizer {
  readonly #packetizer = new native.H264Packetizer(randomInt(1, 0xffffffff), H264_PT)

  /** Packets of one access unit (AVCC, with its SPS/PPS in-band when an IDR) at `ptsMs`. */
  packetize(avcc: Buffer, ptsMs: number): Buffer[] {
    try {
      return [...packetsOf(this.#packetizer.packetize(avcc, Math.round(ptsMs * 90) >>> 0))]
    } catch {
      return [] // a malformed access unit of our own encoder: not expected
    }
  }
}

export class MixRtpSource implements RtpSource {
  readonly video = { codec: 'H264' as const, fmtp: { 'level-asymmetry-allowed': '1', 'packetization-mode': '1', 'profile-level-id': '42e01f' } }
  readonly audio = { codec: 'opus' as const, channels: 2 }
  readonly #listeners = new Set<RtpSourceListener>()
  readonly #opus = new native.OpusPacketizer(randomInt(1, 0xffffffff), OPUS_PT)
  readonly #requestKeyframe: (reason: string) => void

  constructor(requestKeyframe: (reason: string) => void) {
    this.#requestKeyframe = requestKeyframe
  }

  addListener(listener: RtpSourceListener): void {
    this.#listeners.add(listener)
  }
  removeListener(listener: RtpSourceListener): void {
    this.#listeners.delete(listener)
  }
  requestKeyframe(reason: string): void {
    this.#requestKeyframe(reason)
  }

  /** The mix's video packets of one picture. */
  sendVideo(packets: Buffer[]): void {
    const now = Date.now()
    for (const l of this.#listeners) for (const p of packets) l.onRtp('video', p, now)
  }

  /** One Opus packet of this participant's mix-minus, at `timestampMs` (× 48 = RTP timestamp). */
  minus(packet: Buffer, timestampMs: number): void {
    if (this.#listeners.size === 0 || packet.length === 0) return
    let batch
    try {
      batch = this.#opus.packetize(packet, Math.round(timestampMs * 48) >>> 0)
    } catch {
      return
    }
    const now = Date.now()
    for (const l of this.#listeners) for (const p of packetsOf(batch)) l.onRtp('audio', p, now)
  }
}
