/**
 * One stream's plain RTP output, for forwarders and relay links: H.264 packetized once
 * (RFC 6184, every frame, B-frames included) and AAC passed through untouched (RFC 3640
 * `mpeg4-generic`, AAC-hbr), the same packets for every sink. No transcoding.
 *
 * Clocks: video RTP timestamps are 90 kHz ticks of the FLV pts (dts + composition time, ms);
 * audio RTP timestamps are samples at the AAC sampling rate. Both start at random offsets
 * (RFC 3550 §5.1) and keep going across publisher restarts (the hub's timeline is monotonic).
 * When `compositionTimeExtensionId` is set, video packets carry the frame's composition time
 * (pts − dts, in 90 kHz ticks, signed 24-bit) in an RFC 8285 one-byte header extension, so a
 * Sluice receiver can give FLV players back the decode timestamps of B-frame streams.
 *
 * The last 1024 packets of each kind are kept for retransmission on NACK (RFC 4585 §6.2.1), in
 * the native `RetransmissionRing` (`sluice_rtp::egress`, the ring every sender uses).
 * Sender reports (RFC 3550 §6.4.1) are produced every second.
 */
import { randomInt } from 'node:crypto'
import { native } from '../native'
import type { Stream, Subscriber } from '../hub/stream'
import type { MediaFrame } from '../hub/media-frame'
import { senderReport } from './rtcp'

export const RTP_H264_PT = 96
export const RTP_AAC_PT = 97
const RETRANSMIT_PACKETS = 1024

export type RtpKind = 'video' | 'audio'

/** What the SDP of this output says (RFC 6184 §8.1, RFC 3640 §4.1). */
export interface RtpSenderCodecs {
  video: { payloadType: number; ssrc: number; sps: Buffer; pps: Buffer } | null
  audio: { payloadType: number; ssrc: number; sampleRate: number; channels: number; config: Buffer } | null
}

export interface RtpSink {
  /** A packet (RTP or RTCP) of `kind`'s stream, ready to protect and send. Must not throw. */
  send(kind: RtpKind, packet: Buffer): void
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
  packets: number
  octets: number
  ring: InstanceType<typeof native.RetransmissionRing>
  /** Last RTP timestamp sent and when (wallclock ms), for sender reports. */
  lastTimestamp: number
  lastWall: number
  clockRate: number
}

function track(clockRate: number): Track {
  return {
    ssrc: randomInt(1, 0xffffffff),
    base: randomInt(0, 0x7fffffff),
    packets: 0,
    octets: 0,
    ring: new native.RetransmissionRing(RETRANSMIT_PACKETS),
    lastTimestamp: 0,
    lastWall: 0,
    clockRate,
  }
}

/**
 * Sampling rate and channel count of an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), read by
 * the native FLV parser; null when it cannot be read.
 */
export function describeAudioSpecificConfig(asc: Buffer): { sampleRate: number; channels: number } | null {
  const info = native.describeAudioTag(Buffer.concat([Buffer.from([0xaf, 0]), asc]))
  return info?.codecString && info.sampleRate && info.channels ? { sampleRate: info.sampleRate, channels: info.channels } : null
}

let nextId = 1

export class RtpSender implements Subscriber {
  readonly id = `rtp-sender-${nextId++}`
  readonly stream: Stream
  readonly #sinks = new Set<RtpSink>()
  readonly #options: RtpSenderOptions
  readonly #videoTrack = track(90000)
  #audioTrack: Track | null = null
  #video: InstanceType<typeof native.H264Packetizer>
  #audio: InstanceType<typeof native.AacPacketizer> | null = null
  #codecs: RtpSenderCodecs = { video: null, audio: null }
  readonly #srTimer: NodeJS.Timeout

  constructor(stream: Stream, options: RtpSenderOptions = {}) {
    this.stream = stream
    this.#options = options
    this.#video = new native.H264Packetizer(this.#videoTrack.ssrc, RTP_H264_PT, options.mtu ?? 1200)
    if (stream.videoSequenceHeader) this.onFrame(stream, stream.videoSequenceHeader)
    if (stream.audioSequenceHeader) this.onFrame(stream, stream.audioSequenceHeader)
    this.#srTimer = setInterval(() => this.#senderReports(), 1000)
    this.#srTimer.unref()
  }

  get codecs(): RtpSenderCodecs {
    return this.#codecs
  }

  addSink(sink: RtpSink): void {
    this.#sinks.add(sink)
  }

  removeSink(sink: RtpSink): void {
    this.#sinks.delete(sink)
  }

  get sinkCount(): number {
    return this.#sinks.size
  }

  /** The kept packet with this sequence number of `kind`'s stream, for a NACK. */
  retransmission(kind: RtpKind, sequenceNumber: number): Buffer | undefined {
    const t = kind === 'video' ? this.#videoTrack : this.#audioTrack
    return t?.ring.get(sequenceNumber) ?? undefined
  }

  /** Which stream an SSRC (from a NACK or PLI) names. */
  kindOf(ssrc: number): RtpKind | null {
    if (ssrc === this.#videoTrack.ssrc) return 'video'
    if (this.#audioTrack && ssrc === this.#audioTrack.ssrc) return 'audio'
    return null
  }

  /**
   * Sends `frames` (a GOP from the hub's cache, oldest first) at once, to start a new sink with
   * a picture. Sender reports go first, mapping each track's first replayed frame to the
   * wallclock it had live (the newest frame is now), the earliest first, so that a receiver that
   * anchors its clock on them (ts/rtp/rtp-clock.ts) starts at the first frame, keeps audio and
   * video in step and needs no correction when the live frames follow.
   */
  replay(frames: readonly MediaFrame[], now = Date.now()): void {
    const newest = frames.at(-1)
    if (!newest) return
    const firsts: [RtpKind, Track, MediaFrame][] = []
    for (const [kind, t] of [['video', this.#videoTrack], ['audio', this.#audioTrack]] as const) {
      const first = frames.find((f) => f.kind === kind && !f.sequenceHeader)
      if (t && first) firsts.push([kind, t, first])
    }
    // the earliest first: a receiver's timeline starts at its first report, so nothing maps before it
    for (const [kind, t, first] of firsts.sort((a, b) => a[2].pts - b[2].pts)) {
      const rtp = (t.base + Math.round((first.pts * t.clockRate) / 1000)) >>> 0
      const sr = senderReport(t.ssrc, now - (newest.pts - first.pts), rtp, t.packets, t.octets)
      for (const sink of this.#sinks) sink.send(kind, sr)
    }
    for (const frame of frames) this.onFrame(this.stream, frame)
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
    this.#emit('video', this.#videoTrack, out.data, out.ends, timestamp, cts)
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
    this.#emit('audio', t, out.data, out.ends, timestamp, null)
  }

  #emit(kind: RtpKind, t: Track, data: Buffer, ends: Uint32Array, timestamp: number, cts: number | null): void {
    const id = this.#options.compositionTimeExtensionId
    if (id && cts !== null) ({ data, ends } = withCompositionTimes(data, ends, id, cts))
    t.ring.store(data, ends)
    let start = 0
    for (const end of ends) {
      const packet = data.subarray(start, end)
      start = end
      t.packets++
      t.octets += packet.length - 12
      for (const sink of this.#sinks) sink.send(kind, packet)
    }
    // Sender reports extrapolate from the newest presentation time: a B-frame (older pts) does
    // not move it back, or the reports would jitter by the reorder depth.
    if (t.lastWall === 0 || ((timestamp - t.lastTimestamp) | 0) > 0) {
      t.lastTimestamp = timestamp
      t.lastWall = Date.now()
    }
  }

  #senderReports(): void {
    const now = Date.now()
    for (const [kind, t] of [['video', this.#videoTrack], ['audio', this.#audioTrack]] as const) {
      if (!t || t.lastWall === 0) continue
      const rtp = (t.lastTimestamp + Math.round(((now - t.lastWall) * t.clockRate) / 1000)) >>> 0
      const sr = senderReport(t.ssrc, now, rtp, t.packets, t.octets)
      for (const sink of this.#sinks) sink.send(kind, sr)
    }
  }

  close(): void {
    clearInterval(this.#srTimer)
    this.#sinks.clear()
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
