/**
 * One stream's plain RTP output, for forwarders and relay links: H.264 packetized once
 * (RFC 6184, every frame, B-frames included) and AAC passed through untouched (RFC 3640
 * `mpeg4-generic`, AAC-hbr), the same packets for every forwarder of the stream, handed per
 * frame to the native forward port (`ForwardPort`: fan-out, SRTP, batched sends). No
 * transcoding.
 *
 * Clocks: video RTP timestamps are 90 kHz ticks of the FLV pts (dts + composition time, ms);
 * audio RTP timestamps are samples at the AAC sampling rate. Both start at random offsets
 * (RFC 3550 §5.1) and keep going across publisher restarts (the hub's timeline is monotonic).
 * When `compositionTimeExtensionId` is set, video packets carry the frame's composition time
 * (pts − dts, in 90 kHz ticks, signed 24-bit) in an RFC 8285 one-byte header extension, so a
 * Sluice receiver can give FLV players back the decode timestamps of B-frame streams.
 *
 * Video packets are kept for retransmission on NACK (RFC 4585 §6.2.1) by the port's fan-out
 * (`sluice_rtp::egress`, the ring every sender uses), which also sends each forwarder its
 * sender reports every second (RFC 3550 §6.4.1, its own counts, the clock following the
 * packets sent). A forwarder starts (`start`) with sender reports and, for relay links,
 * the packets since the last keyframe numbered for it alone, so that its receiver has a picture
 * at once while the stream is packetized only once.
 */
import { randomInt } from 'node:crypto'
import { native } from '../native'
import type { Stream, Subscriber } from '../hub/stream'
import type { MediaFrame } from '../hub/media-frame'
import { senderReport } from './rtcp'
import type { ForwardPort } from './forward-port'

export const RTP_H264_PT = 96
export const RTP_AAC_PT = 97
/** Packet batches kept for starting forwarders, at most (a long GOP is cut from its start). */
const GOP_BATCHES = 4096
/** Audio batches kept for starting forwarders of a stream without video (about 1 s of AAC). */
const AUDIO_ONLY_BATCHES = 48

export type RtpKind = 'video' | 'audio'

/** What the SDP of this output says (RFC 6184 §8.1, RFC 3640 §4.1). */
export interface RtpSenderCodecs {
  video: { payloadType: number; ssrc: number; sps: Buffer; pps: Buffer } | null
  audio: { payloadType: number; ssrc: number; sampleRate: number; channels: number; config: Buffer } | null
}

export interface RtpSenderOptions {
  /** RFC 8285 one-byte extension id (1–14) for the composition time; none by default. */
  compositionTimeExtensionId?: number
  /** Largest RTP packet in bytes, default 1200. */
  mtu?: number
}

interface Track {
  ssrc: number
  base: number
  clockRate: number
}

function track(clockRate: number): Track {
  return { ssrc: randomInt(1, 0xffffffff), base: randomInt(0, 0x7fffffff), clockRate }
}

/**
 * Sampling rate and channel count of an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), read by
 * the native FLV parser; null when it cannot be read.
 */
export function describeAudioSpecificConfig(asc: Buffer): { sampleRate: number; channels: number } | null {
  const info = native.describeAudioTag(Buffer.concat([Buffer.from([0xaf, 0]), asc]))
  return info?.codecString && info.sampleRate && info.channels ? { sampleRate: info.sampleRate, channels: info.channels } : null
}

/** One frame's packets as sent live (stream numbering), kept for starting forwarders. */
interface SentBatch {
  kind: RtpKind
  data: Buffer
  ends: Uint32Array
  /** Presentation time, ms. */
  pts: number
}

let nextId = 1

export class RtpSender implements Subscriber {
  readonly id = `rtp-sender-${nextId++}`
  readonly stream: Stream
  /** The fan-out key of this sender's packets on the port. */
  readonly egressKey: string
  readonly #port: ForwardPort
  readonly #forwarders = new Set<number>()
  readonly #options: RtpSenderOptions
  readonly #videoTrack = track(90000)
  #audioTrack: Track | null = null
  #video: InstanceType<typeof native.H264Packetizer>
  #audio: InstanceType<typeof native.AacPacketizer> | null = null
  #codecs: RtpSenderCodecs = { video: null, audio: null }
  /** Batches since the last video keyframe (video and audio in sending order). */
  #gop: SentBatch[] = []
  #videoSeen = false

  /** `egressKey`: this sender's key on `port` (one per stream and flavour). */
  constructor(stream: Stream, port: ForwardPort, egressKey: string, options: RtpSenderOptions = {}) {
    this.stream = stream
    this.#port = port
    this.egressKey = egressKey
    this.#options = options
    this.#video = new native.H264Packetizer(this.#videoTrack.ssrc, RTP_H264_PT, options.mtu ?? 1200)
    if (stream.videoSequenceHeader) this.onFrame(stream, stream.videoSequenceHeader)
    if (stream.audioSequenceHeader) this.onFrame(stream, stream.audioSequenceHeader)
    // packetized now (no forwarder is live yet, nothing is sent) so that the first one starts with a picture
    for (const frame of stream.gop) this.onFrame(stream, frame)
  }

  get codecs(): RtpSenderCodecs {
    return this.#codecs
  }

  /** Forwarders (ids on the port) this sender has started and not yet let go. */
  get forwarderCount(): number {
    return this.#forwarders.size
  }

  /** Forgets forwarder `id` (after the port removed it). */
  release(id: number): void {
    this.#forwarders.delete(id)
  }

  /** Which stream an SSRC (from a NACK or PLI) names. */
  kindOf(ssrc: number): RtpKind | null {
    if (ssrc === this.#videoTrack.ssrc) return 'video'
    if (this.#audioTrack && ssrc === this.#audioTrack.ssrc) return 'audio'
    return null
  }

  /**
   * Starts forwarder `id` (added to the port with this sender's `egressKey`): it receives the
   * stream's packets from now on. With `gop`, the packets since the last keyframe go first, at
   * once, numbered for it alone (the same packets the others got, sequence numbers continuing
   * into the live ones), so its receiver has a picture at once; sender reports go before them,
   * mapping each track's first replayed frame to the wallclock it had live (the newest is now),
   * the earliest first, so that a receiver that anchors its clock on them (ts/rtp/rtp-clock.ts)
   * starts at the first frame, keeps audio and video in step and needs no correction when the
   * live frames follow.
   */
  start(id: number, gop: boolean, now = Date.now()): void {
    this.#forwarders.add(id)
    if (this.#audioTrack) this.#port.setClockRate(this.egressKey, 'audio', this.#audioTrack.clockRate)
    const batches = gop ? this.#gop : []
    const newest = batches.at(-1)
    const tracks = { video: this.#videoTrack, audio: this.#audioTrack }
    const next = { video: this.#video.sequenceNumber, audio: this.#audio?.sequenceNumber ?? 0 }
    const count = { video: 0, audio: 0 }
    for (const b of batches) count[b.kind] += b.ends.length
    if (newest) {
      const firsts = (['video', 'audio'] as const).flatMap((kind) => {
        const first = batches.find((b) => b.kind === kind)
        const t = tracks[kind]
        return first && t ? [{ kind, t, first }] : []
      })
      // the earliest first: a receiver's timeline starts at its first report, so nothing maps before it
      for (const { kind, t, first } of firsts.sort((a, b) => a.first.pts - b.first.pts)) {
        const rtp = (t.base + Math.round((first.pts * t.clockRate) / 1000)) >>> 0
        const sr = senderReport(t.ssrc, now - (newest.pts - first.pts), rtp, 0, 0)
        this.#port.inject(id, kind, sr, Uint32Array.of(sr.length), count[kind], false)
      }
    }
    const seq = { ...next }
    for (const b of batches) {
      const data = Buffer.from(b.data)
      let start = 0
      for (const end of b.ends) {
        data.writeUInt16BE(seq[b.kind], start + 2)
        seq[b.kind] = (seq[b.kind] + 1) & 0xffff
        start = end
      }
      this.#port.inject(id, b.kind, data, b.ends, count[b.kind], false)
    }
    for (const kind of ['video', 'audio'] as const) this.#port.inject(id, kind, new Uint8Array(0), new Uint32Array(0), count[kind], true)
  }

  onPublish(): void {}
  onUnpublish(): void {}
  onMetadata(): void {}

  onFrame(_stream: Stream, frame: MediaFrame): void {
    if (frame.kind === 'video') this.#onVideo(frame)
    else this.#onAudio(frame)
  }

  #onVideo(frame: MediaFrame): void {
    if ((frame.payload[0]! & 0x0f) !== 7) return
    if (frame.sequenceHeader) {
      try {
        this.#video.setParameterSets(frame.payload.subarray(5))
      } catch {
        return
      }
      const sets = native.avcParameterSets(frame.payload.subarray(5))
      if (sets) this.#codecs.video = { payloadType: RTP_H264_PT, ssrc: this.#videoTrack.ssrc, ...sets }
      return
    }
    if (frame.payload[1] !== 1) return
    const ticks = Math.round(frame.pts * 90)
    const timestamp = (this.#videoTrack.base + ticks) >>> 0
    let out
    try {
      out = this.#video.packetize(frame.payload.subarray(5), timestamp)
    } catch {
      return
    }
    const cts = Math.round((frame.pts - frame.dts) * 90)
    if (frame.keyframe) this.#gop = []
    this.#videoSeen = true
    this.#emit('video', out.data, out.ends, cts, frame.pts, frame.keyframe)
  }

  #onAudio(frame: MediaFrame): void {
    if (frame.payload[0]! >> 4 !== 10) return
    if (frame.sequenceHeader) {
      const config = Buffer.from(frame.payload.subarray(2))
      const info = describeAudioSpecificConfig(config)
      if (!info) return
      if (!this.#audioTrack || this.#audioTrack.clockRate !== info.sampleRate) {
        this.#audioTrack = track(info.sampleRate)
        this.#audio = new native.AacPacketizer(this.#audioTrack.ssrc, RTP_AAC_PT, info.sampleRate, this.#options.mtu ?? 1200)
      }
      this.#codecs.audio = { payloadType: RTP_AAC_PT, ssrc: this.#audioTrack.ssrc, ...info, config }
      return
    }
    if (!this.#audio || !this.#audioTrack) return
    const t = this.#audioTrack
    const timestamp = (t.base + Math.round((frame.pts * t.clockRate) / 1000)) >>> 0
    let out
    try {
      out = this.#audio.packetize(frame.payload.subarray(2), timestamp)
    } catch {
      return
    }
    this.#emit('audio', out.data, out.ends, null, frame.pts, false)
  }

  #emit(kind: RtpKind, data: Buffer, ends: Uint32Array, cts: number | null, pts: number, keyframe: boolean): void {
    const id = this.#options.compositionTimeExtensionId
    if (id && cts !== null) ({ data, ends } = withCompositionTimes(data, ends, id, cts))
    this.#port.media(this.egressKey, kind, data, ends)
    // the GOP starts at a keyframe; a stream without video keeps its last audio
    if (keyframe || this.#gop.length > 0 || !this.#videoSeen) this.#gop.push({ kind, data, ends, pts })
    const limit = this.#videoSeen ? GOP_BATCHES : AUDIO_ONLY_BATCHES
    if (this.#gop.length > limit) this.#gop.shift()
  }

  close(): void {
    this.#forwarders.clear()
    this.#gop = []
  }
}

/**
 * Every packet of a batch (`data` cut at the `ends` offsets, each with a 12-byte header) with an
 * RFC 8285 one-byte header extension holding the composition time: `0xBEDE`, length 1, then
 * `id << 4 | 2` and 3 bytes of signed 90 kHz ticks. One new buffer, 8 bytes longer per packet,
 * and its offsets.
 */
function withCompositionTimes(data: Buffer, ends: Uint32Array, id: number, cts: number): { data: Buffer; ends: Uint32Array } {
  const out = Buffer.allocUnsafe(data.length + 8 * ends.length)
  const outEnds = new Uint32Array(ends.length)
  const ticks = Math.max(-0x800000, Math.min(0x7fffff, cts))
  let from = 0
  let at = 0
  ends.forEach((end, i) => {
    data.copy(out, at, from, from + 12)
    out[at] = out[at]! | 0x10
    out.writeUInt32BE(0xbede0001, at + 12)
    out[at + 16] = ((id & 0x0f) << 4) | 2
    out.writeIntBE(ticks, at + 17, 3)
    data.copy(out, at + 20, from + 12, end)
    at += end - from + 8
    outEnds[i] = at
    from = end
  })
  return { data: out, ends: outEnds }
}

/** The composition time (90 kHz ticks) carried by `withCompositionTimes`, or null. */
export function readCompositionTime(packet: Buffer, id: number): number | null {
  if (packet.length < 12 || !(packet[0]! & 0x10)) return null
  const at = 12 + 4 * (packet[0]! & 0x0f)
  if (packet.length < at + 4 || packet.readUInt16BE(at) !== 0xbede) return null
  const end = at + 4 + 4 * packet.readUInt16BE(at + 2)
  if (end > packet.length) return null
  for (let i = at + 4; i < end; ) {
    const b = packet[i]!
    if (b === 0) {
      i++
      continue
    }
    const len = (b & 0x0f) + 1
    if (b >> 4 === 15 || i + 1 + len > end) return null
    if (b >> 4 === id && len === 3) return packet.readIntBE(i + 1, 3)
    i += 1 + len
  }
  return null
}
