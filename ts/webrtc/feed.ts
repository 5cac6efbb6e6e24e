/**
 * One stream's WebRTC feed: H.264 (RFC 6184), H.265 (RFC 7798; FLV codec 12 or Enhanced RTMP
 * `hvc1`) or AV1 (Enhanced RTMP `av01`, the AOM RTP payload format for AV1) packetized once per
 * stream, and AAC transcoded to
 * Opus once per stream (RFC 7587; Opus from the hub is passed as it is), only while WHEP viewers watch; the same packets go to every
 * viewer through the viewer pool.
 *
 * Instant start: a viewer that connects mid-GOP gets the cached GOP's packets at once, with
 * their RTP timestamps squeezed 1 ms apart so that the GOP's last frame keeps its timestamp and
 * the live frames follow it; the picture appears within a round trip and the viewer is at the
 * live edge. Audio joins at the live edge. A PLI/FIR (the RTMP publisher cannot be asked for a
 * keyframe) is answered the same way, from the GOP cache, at most once per
 * `KEYFRAME_REPLAY_INTERVAL_MS` per viewer.
 *
 * RTP-origin streams (WHIP, SFU rooms: a publisher with an `RtpSource`) are forwarded by this
 * feed's `RtpFeed` (see rtp-feed.ts) instead: rewritten once, a joining viewer or a PLI asks the
 * publisher for a keyframe; a simulcast publisher's layers are that feed's too (keyed
 * `<stream key>~<rid>`, moved between per viewer by the native transport).
 *
 * RTP clocks: video 90 kHz from the FLV pts (dts + composition time, ms); audio 48 kHz from the
 * transcoder. B-frames, whose pts is older than a frame already sent, are not sent (see #onVideo). Sender reports map both to the same NTP wallclock every second, for lip sync.
 */
import { randomInt } from 'node:crypto'
import { native } from '../native'
import type { Logger } from '../log'
import type { Stream, Subscriber } from '../hub/stream'
import type { MediaFrame } from '../hub/media-frame'
import type { ViewerTransport } from './viewer-protocol'
import { epochMs } from './clock'
import type { RtpVideoCodec } from '../hub/rtp-source'
import { RtpFeed } from './rtp-feed'

/** Canonical payload types of the shared packets; a viewer's own are patched in by its worker. */
export const FEED_H264_PT = 102
export const FEED_OPUS_PT = 111
export const FEED_AV1_PT = 45
export const FEED_H265_PT = 49

/** A video codec as WebRTC viewers negotiate it. */
export interface WebRtcVideoCodec {
  codec: RtpVideoCodec
  fmtp: Record<string, string>
}

/**
 * Where an H.265 tag's coded data starts (legacy FLV codec 12: 5-byte header with composition
 * time; Enhanced RTMP `hvc1` CodedFrames: 8, CodedFramesX and SequenceStart: 5), or -1 when the
 * tag is not H.265 (or wrapped in multitrack/ModEx).
 */
function hevcDataOffset(payload: Buffer): number {
  const b0 = payload[0]!
  if ((b0 & 0x80) === 0) return (b0 & 0x0f) === 12 && payload.length >= 5 ? 5 : -1
  if (payload.length < 5 || payload.toString('latin1', 1, 5) !== 'hvc1') return -1
  const packetType = b0 & 0x0f
  return packetType === 1 ? 8 : packetType === 0 || packetType === 3 ? 5 : -1
}

/** Whether a hub video tag body is Enhanced RTMP AV1 (`av01`) without multitrack/ModEx wrapping. */
function isAv1Tag(payload: Buffer): boolean {
  return (payload[0]! & 0x80) !== 0 && payload.length >= 5 && [0, 1, 3].includes(payload[0]! & 0x0f) && payload.toString('latin1', 1, 5) === 'av01'
}

/**
 * The video codec WebRTC viewers of `stream` get: a WebRTC publisher's own (forwarded as it
 * came), AV1 for an Enhanced RTMP `av01` stream, H.265 for an H.265 one, else H.264.
 */
export function webRtcVideoCodec(stream: Stream): WebRtcVideoCodec {
  const source = stream.publisher?.rtpSource
  if (source?.video) return source.video
  const header = stream.videoSequenceHeader
  return { codec: header && isAv1Tag(header.payload) ? 'AV1' : header && hevcDataOffset(header.payload) >= 0 ? 'H265' : 'H264', fmtp: {} }
}

interface PacketBatch {
  data: Buffer
  ends: Uint32Array
}

interface FeedViewer {
  id: string
  seqOffset: number
  live: boolean
  joinedAt: number
  /** When a PLI/FIR was last answered with a GOP replay (ms since the epoch), 0 never. */
  replayedAt: number
}

/**
 * A PLI/FIR answered with a GOP replay at most this often per viewer, ms: a viewer on a lossy
 * path asks again and again, and each replay resends up to a whole GOP to it (the next live
 * keyframe comes within a GOP anyway).
 */
const KEYFRAME_REPLAY_INTERVAL_MS = 2000

let nextFeedId = 1

export class WebRtcFeed implements Subscriber {
  readonly id = `webrtc-feed-${nextFeedId++}`
  readonly prefersRtp = true
  readonly stream: Stream
  readonly videoSsrc = randomInt(1, 0xffffffff)
  readonly audioSsrc = randomInt(1, 0xffffffff)
  readonly #pool: ViewerTransport
  readonly #log: Logger
  readonly #video = new native.H264Packetizer(this.videoSsrc, FEED_H264_PT, 1200)
  readonly #av1 = new native.Av1Packetizer(this.videoSsrc, FEED_AV1_PT, 1200)
  readonly #h265 = new native.H265Packetizer(this.videoSsrc, FEED_H265_PT, 1200)
  readonly #audio = new native.OpusPacketizer(this.audioSsrc, FEED_OPUS_PT)
  #transcoder: InstanceType<typeof native.AacToOpusTranscoder> | null = null
  /** The hub video this feed packetizes (from the sequence header), or null when none it can. */
  #hubVideo: 'H264' | 'H265' | 'AV1' | null = null
  #scratch = Buffer.allocUnsafe(256 * 1024)
  #scratchEnds = new Uint32Array(1024)
  /** Presentation time (ms) of the last video frame sent. */
  #lastVideoPts: number | null = null
  #bFramesDropped = 0
  #audioNote: string | null = null
  readonly #videoBase = randomInt(0, 0x7fffffff)
  readonly #audioBase = randomInt(0, 0x7fffffff)
  /** Video packet batches (one per access unit) since the last keyframe, with their RTP timestamp. */
  #gop: { batch: PacketBatch; rtpTimestamp: number }[] = []
  readonly #viewers = new Map<string, FeedViewer>()
  /** The publisher's RTP when it has some: forwarded instead of packetizing hub frames. */
  readonly #rtp: RtpFeed

  constructor(stream: Stream, pool: ViewerTransport, log: Logger) {
    this.stream = stream
    this.#pool = pool
    this.#log = log.child({ stream: stream.key, feed: this.id })
    this.#rtp = new RtpFeed(stream.key, pool, this.videoSsrc, this.audioSsrc)
    this.#rtp.attach(stream.publisher?.rtpSource ?? null)
    if (this.#rtp.source) return
    if (stream.videoSequenceHeader) this.onFrame(stream, stream.videoSequenceHeader)
    if (stream.audioSequenceHeader) this.onFrame(stream, stream.audioSequenceHeader)
    for (const frame of stream.gop) if (frame.kind === 'video') this.#onVideo(frame, false)
  }

  /** The video codec for viewers' SDP (see `webRtcVideoCodec`). */
  get videoCodec(): WebRtcVideoCodec {
    return webRtcVideoCodec(this.stream)
  }

  get viewerCount(): number {
    return this.#viewers.size
  }

  addViewer(id: string): void {
    this.#viewers.set(id, { id, seqOffset: 0, live: false, joinedAt: Date.now(), replayedAt: 0 })
  }

  removeViewer(id: string): void {
    this.#viewers.delete(id)
  }

  /** ICE+DTLS are up: replay the GOP to this viewer and let it join the live edge. */
  start(id: string): void {
    const v = this.#viewers.get(id)
    if (!v || v.live) return
    if (this.#rtp.source) {
      v.live = true
      this.#rtp.start(v.id, v.seqOffset)
      return
    }
    v.replayedAt = Date.now()
    this.#replayGop(v, true)
  }

  /** PLI/FIR from a viewer: answered from the GOP cache (at most once per `KEYFRAME_REPLAY_INTERVAL_MS`), or by the WebRTC publisher. */
  keyframeRequest(id: string, streamKey?: string, reason = 'PLI'): void {
    const v = this.#viewers.get(id)
    if (!v?.live) return
    if (this.#rtp.source) return this.#rtp.keyframeRequest(`WebRTC viewer ${reason}`, streamKey)
    const now = Date.now()
    if (now - v.replayedAt < KEYFRAME_REPLAY_INTERVAL_MS) return
    v.replayedAt = now
    this.#replayGop(v, true)
  }

  #replayGop(v: FeedViewer, live: boolean): void {
    const frames = this.#gop
    if (frames.length === 0) {
      this.#pool.inject(v.id, 'video', new Uint8Array(0), new Uint32Array(0), v.seqOffset, live)
      v.live = live
      return
    }
    const total = frames.reduce((n, f) => n + f.batch.data.length, 0)
    const data = Buffer.allocUnsafe(total)
    const ends: number[] = []
    const lastTs = frames[frames.length - 1]!.rtpTimestamp
    const packetizer = this.#hubVideo === 'AV1' ? this.#av1 : this.#hubVideo === 'H265' ? this.#h265 : this.#video
    let seq = (packetizer.sequenceNumber + v.seqOffset) & 0xffff
    let at = 0
    frames.forEach((f, i) => {
      const ts = (lastTs - (frames.length - 1 - i) * 90) >>> 0
      let start = 0
      for (const end of f.batch.ends) {
        f.batch.data.copy(data, at, start, end)
        data.writeUInt16BE(seq, at + 2)
        data.writeUInt32BE(ts, at + 4)
        seq = (seq + 1) & 0xffff
        at += end - start
        ends.push(at)
        start = end
      }
    })
    v.seqOffset = (v.seqOffset + ends.length) & 0xffff
    v.live = live
    this.#pool.inject(v.id, 'video', data, Uint32Array.from(ends), v.seqOffset, live)
    this.#log.debug({ viewer: v.id, frames: frames.length, packets: ends.length }, 'GOP replayed')
  }

  onPublish(stream: Stream): void {
    this.#transcoder = null
    this.#lastVideoPts = null
    this.#rtp.attach(stream.publisher?.rtpSource ?? null)
  }

  /** Simulcast: the index of layer `rid` among the stream's layers (lowest 0, the top last), or null when it has none such. */
  layerIndex(rid: string): number | null {
    return this.#rtp.layerIndex(rid)
  }

  /** Simulcast: the rids of the stream's layers (lowest first), empty without. */
  get layerRids(): string[] {
    return this.#rtp.layerRids
  }

  /** The rid of the layer with key `key` (a layer key, or the stream's own: the top layer). */
  ridOf(key: string): string | null {
    return this.#rtp.ridOf(key)
  }

  /** B-frames not sent to WebRTC viewers (their timestamps would go back). */
  get bFramesDropped(): number {
    return this.#bFramesDropped
  }

  onUnpublish(): void {
    this.#gop = []
    this.#rtp.attach(null)
  }

  onMetadata(): void {}

  onFrame(_stream: Stream, frame: MediaFrame): void {
    if (this.#rtp.source) return
    if (frame.kind === 'video') this.#onVideo(frame, true)
    else this.#onAudio(frame)
  }

  #onVideo(frame: MediaFrame, send: boolean): void {
    const arrivedAt = epochMs()
    // legacy FLV AVC (codec id 7), H.265 (codec id 12 or `hvc1`) and Enhanced RTMP `av01`;
    // other Enhanced RTMP headers (`avc1`, `vp09`, multitrack and ModEx messages) are not
    // packetized here
    const legacyAvc = (frame.payload[0]! & 0x80) === 0 && (frame.payload[0]! & 0x0f) === 7
    const av1 = !legacyAvc && isAv1Tag(frame.payload)
    const hevcAt = legacyAvc || av1 ? -1 : hevcDataOffset(frame.payload)
    if (frame.sequenceHeader) {
      if (this.stream.videoSequenceHeader !== frame) return // another track's (Enhanced RTMP multitrack)
      this.#hubVideo = legacyAvc ? 'H264' : av1 ? 'AV1' : hevcAt >= 0 ? 'H265' : null
      if (legacyAvc) this.#video.setParameterSets(frame.payload.subarray(5))
      else if (hevcAt >= 0) {
        try {
          this.#h265.setDecoderConfig(frame.payload.subarray(hevcAt))
        } catch (error) {
          this.#log.warn({ err: String(error) }, 'HEVCDecoderConfigurationRecord malformed: WebRTC viewers get no video')
          this.#hubVideo = null
        }
      }
      // AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3.3): 4 bytes, then configOBUs
      else if (av1) {
        try {
          this.#av1.setSequenceHeader(frame.payload.subarray(9))
        } catch (error) {
          this.#log.warn({ err: String(error) }, 'AV1 configuration OBUs malformed: key frames go without a sequence header')
        }
      } else this.#log.warn({ codec: this.stream.video?.codec }, 'video is not H.264, H.265 or AV1: WebRTC viewers get no video')
      return
    }
    if (legacyAvc) {
      if (this.#hubVideo !== 'H264' || frame.payload[1] !== 1) return
    } else if (av1) {
      if (this.#hubVideo !== 'AV1') return
    } else if (hevcAt < 0 || this.#hubVideo !== 'H265' || ((frame.payload[0]! & 0x80) === 0 && frame.payload[1] !== 1)) return
    // WebRTC receivers drop a frame whose RTP timestamp is older than one already decoded, so a
    // B-frame (presented before the frame decoded ahead of it) is not sent: the viewer gets the
    // I and P frames, in order, at their presentation times.
    if (!frame.keyframe && this.#lastVideoPts !== null && frame.pts <= this.#lastVideoPts) {
      this.#bFramesDropped++
      return
    }
    this.#lastVideoPts = frame.pts
    const rtpTimestamp = (this.#videoBase + Math.round(frame.pts * 90)) >>> 0
    let batch: PacketBatch
    try {
      batch = av1 ? this.#av1.packetize(frame.payload.subarray(5), rtpTimestamp)
        : hevcAt >= 0 ? this.#h265.packetize(frame.payload.subarray(hevcAt), rtpTimestamp)
          : this.#packetize(frame.payload.subarray(5), rtpTimestamp)
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'access unit dropped: cannot packetize')
      return
    }
    if (frame.keyframe) this.#gop = []
    if (frame.keyframe || this.#gop.length > 0) this.#gop.push({ batch, rtpTimestamp })
    if (!send || batch.ends.length === 0) return
    this.#pool.media(this.stream.key, 'video', batch.data, batch.ends, arrivedAt, frame.keyframe ? 'keyframe' : undefined)
    if (frame.keyframe) this.#anchor(frame.pts)
  }

  /**
   * Packetizes into this feed's reusable native-side buffers (no Buffer made by native code per
   * access unit), then copies the packets out into one JS Buffer the batch keeps.
   */
  #packetize(avcc: Buffer, rtpTimestamp: number): PacketBatch {
    // worst case: every NAL unit fragmented into MTU-sized packets, plus STAP-A and headers
    const need = avcc.length + 64 * Math.ceil(avcc.length / 1000) + 4096
    if (this.#scratch.length < need) this.#scratch = Buffer.allocUnsafe(Math.max(need, 2 * this.#scratch.length))
    const maxPackets = Math.ceil(need / 100)
    if (this.#scratchEnds.length < maxPackets) this.#scratchEnds = new Uint32Array(Math.max(maxPackets, 2 * this.#scratchEnds.length))
    const n = this.#video.packetizeInto(avcc, rtpTimestamp, this.#scratch, this.#scratchEnds)
    const bytes = n > 0 ? this.#scratchEnds[n - 1]! : 0
    return { data: Buffer.from(this.#scratch.subarray(0, bytes)), ends: this.#scratchEnds.slice(0, n) }
  }

  #onAudio(frame: MediaFrame): void {
    const format = frame.payload[0]! >> 4
    if (format === 9 && frame.payload.toString('latin1', 1, 5) === 'Opus') return this.#onOpus(frame)
    if (format !== 10) {
      this.#noteAudio(`audio codec ${this.stream.audio?.codec ?? format} is not AAC: WebRTC viewers get video only`)
      return
    }
    if (frame.sequenceHeader) {
      try {
        this.#transcoder = new native.AacToOpusTranscoder(frame.payload.subarray(2), 64000)
      } catch (error) {
        this.#transcoder = null
        this.#noteAudio(`AAC configuration not supported (${String(error)}): WebRTC viewers get video only`)
      }
      return
    }
    if (!this.#transcoder) return
    let out
    try {
      out = this.#transcoder.push(frame.payload.subarray(2), frame.pts)
    } catch (error) {
      this.#log.debug({ err: String(error) }, 'AAC frame dropped')
      return
    }
    let start = 0
    for (let i = 0; i < out.ends.length; i++) {
      const end = out.ends[i]!
      const ts = (this.#audioBase + out.timestamps[i]!) >>> 0
      const batch = this.#audio.packetize(out.data.subarray(start, end), ts)
      start = end
      this.#pool.media(this.stream.key, 'audio', batch.data, batch.ends)
    }
  }

  /**
   * Enhanced RTMP v2 Opus (an SRT publisher's Opus in MPEG-TS, for instance): each coded frame
   * (`ExAudioTagHeader` 0x91 `Opus`, then one Opus packet) is an RTP payload as it is (RFC 7587
   * §4.2), no transcoding; RTP timestamp = presentation time in ms × 48.
   */
  #onOpus(frame: MediaFrame): void {
    if (frame.sequenceHeader || (frame.payload[0]! & 0x0f) !== 1 || frame.payload.length <= 5) return
    const batch = this.#audio.packetize(frame.payload.subarray(5), (this.#audioBase + Math.round(frame.pts * 48)) >>> 0)
    this.#pool.media(this.stream.key, 'audio', batch.data, batch.ends)
  }

  #noteAudio(reason: string): void {
    if (this.#audioNote === reason) return
    this.#audioNote = reason
    this.#log.warn({ reason }, 'WebRTC audio disabled')
  }

  /**
   * Anchors both tracks' sender reports on one media clock at each keyframe: presentation time
   * `pts` (ms) is now. Video and audio timestamps both derive from the hub's presentation times,
   * so the viewers' reports keep them in step (lip sync) whatever order their packets leave in.
   */
  #anchor(pts: number): void {
    const now = Date.now()
    this.#pool.anchor(this.stream.key, 'video', (this.#videoBase + Math.round(pts * 90)) >>> 0, now)
    this.#pool.anchor(this.stream.key, 'audio', (this.#audioBase + Math.round(pts * 48)) >>> 0, now)
  }

  close(): void {
    this.#rtp.attach(null)
    this.#rtp.close()
    this.#viewers.clear()
    this.#gop = []
  }
}
