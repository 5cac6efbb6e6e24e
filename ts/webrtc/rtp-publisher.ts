/**
 * A WebRTC publisher (WHIP, an SFU room participant) as a hub publisher. Its transport hands over
 * decrypted RTP/RTCP per track; here:
 * - every packet goes as it came to the `RtpSource` listeners (WebRTC viewers: any codec, no
 *   transcoding);
 * - H.264 is depacketized in Rust (RFC 6184: single NAL unit, STAP-A, FU-A → AVCC access units;
 *   an access unit with a hole is dropped and a PLI asks for a keyframe; NACK for holes) into hub
 *   frames, so RTMP and HTTP-FLV players get it;
 * - Opus (RFC 7587) is transcoded to AAC once per stream, only while a player that needs FLV
 *   audio (not a WebRTC feed) watches;
 * - timestamps: RTP clocks → FLV ms through the publisher's sender reports (`rtp-clock.ts`);
 * - receiver reports go back every second; keyframe requests from viewers or joining players
 *   become PLIs (at most one per 500 ms);
 * - simulcast (RFC 8853, received on the native port): the layers are given lowest first (the
 *   mediasoup convention for `sendEncodings`); the top one is this publisher's video (players,
 *   recordings), each lower one a `SimulcastLayer` (`layers`) that only WebRTC viewers take. A
 *   packet's layer is its SSRC's rid (`bindRid`, from the RtpStreamId extension); packets of an
 *   SSRC not bound yet are dropped (`RTP_UNKNOWN_SSRC`).
 */
import { randomInt } from 'node:crypto'
import { native } from '../native'
import type { Logger } from '../log'
import type { Publisher, Stream } from '../hub/stream'
import type { StreamHub } from '../hub/stream-hub'
import type { RtpSource, RtpSourceListener, RtpVideoCodec } from '../hub/rtp-source'
import { isRtcpPacket, parseRtcp, receiverReport, type ReportBlock } from '../rtp/rtcp'
import { RtpTrackReceiver, type ReceivedFrame, type ReceiverStats } from '../rtp/receiver'
import { SessionClock } from '../rtp/rtp-clock'
import { AvcFrameWriter, Vp8FrameWriter, pushAacConfig, pushAacFrame } from '../rtp/hub-frames'
import { SimulcastLayer } from './simulcast-layer'

export interface WebRtcPublisherOptions {
  app: string
  name: string
  /** `whip` or `sfu`. */
  protocol: string
  remoteAddress: string
  /** `dependencyDescriptorId`: the Dependency Descriptor extension id negotiated with the publisher, if any. */
  video: { codec: RtpVideoCodec; payloadType: number; fmtp: Record<string, string>; dependencyDescriptorId?: number } | null
  audio: { payloadType: number; channels: number } | null
  /** Sends an RTCP packet (NACK, PLI, RR) to the publisher on a track. */
  sendRtcp(kind: 'video' | 'audio', packet: Buffer): void
  /** How long a hole is waited for before the access unit is given up, ms. Default 150. */
  maxDelayMs?: number
  /** Simulcast rids, lowest layer first (the last is the top one); absent or one: no simulcast. */
  simulcast?: string[]
}

export interface WebRtcPublisherStats {
  id: string
  stream: string
  protocol: string
  remoteAddress: string
  video: (ReceiverStats & { codec: RtpVideoCodec }) | null
  audio: (ReceiverStats & { codec: 'opus'; transcodingToAac: boolean }) | null
  /** Simulcast: the top layer's rid (its statistics are `video`'s) and the lower layers'. */
  simulcast: { rid: string; layers: (ReceiverStats & { rid: string })[] } | null
  dropped: Record<string, number>
}

let nextId = 1

/** Opus → AAC bitrate, bits/s. */
const AAC_BITRATE = 128_000

export class WebRtcPublisher implements Publisher, RtpSource {
  readonly id = `webrtc-publisher-${nextId++}`
  readonly protocol: string
  readonly remoteAddress: string
  readonly stream: Stream
  readonly video: RtpSource['video']
  readonly audio: RtpSource['audio']
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #o: WebRtcPublisherOptions
  readonly #ssrc = randomInt(1, 0xffffffff)
  readonly #clock = new SessionClock()
  readonly #listeners = new Set<RtpSourceListener>()
  readonly #videoReceiver: RtpTrackReceiver
  readonly #audioReceiver: RtpTrackReceiver | null
  readonly #avc: AvcFrameWriter
  readonly #vp8: Vp8FrameWriter
  readonly #dropped: Record<string, number> = {}
  #transcoder: InstanceType<typeof native.OpusToAacTranscoder> | null = null
  /** Timeline ms minus transcoder output ms, fixed at the transcoder's first output. */
  #aacOffset: number | null = null
  readonly #timer: NodeJS.Timeout
  /** Lower simulcast layers, lowest first. */
  readonly layers: readonly SimulcastLayer[]
  readonly #topRid: string | null
  /** SSRC → rid of a simulcast publisher's RTP streams. */
  readonly #rids = new Map<number, string>()
  #closed = false
  #onClose: ((reason: string) => void) | null = null

  /** Publishes `app/name`; throws `RequestRejectedError` (PUBLISH_BAD_NAME) when it is live. */
  constructor(hub: StreamHub, log: Logger, options: WebRtcPublisherOptions) {
    this.#hub = hub
    this.#o = options
    this.protocol = options.protocol
    this.remoteAddress = options.remoteAddress
    this.video = options.video ? { codec: options.video.codec, fmtp: options.video.fmtp, ...(options.video.dependencyDescriptorId !== undefined ? { dependencyDescriptorId: options.video.dependencyDescriptorId } : {}) } : null
    this.audio = options.audio ? { codec: 'opus', channels: options.audio.channels } : null
    this.#log = log.child({ publisher: this.id, stream: `${options.app}/${options.name}` })
    const maxDelayMs = options.maxDelayMs ?? 150
    const receiver = (kind: 'video' | 'audio', codec: 'H264' | 'VP8' | 'OPUS', clockRate: number, onFrame: (f: ReceivedFrame) => void) =>
      new RtpTrackReceiver({
        codec,
        clockRate,
        clock: this.#clock.track(clockRate),
        maxDelayMs,
        senderSsrc: this.#ssrc,
        sendRtcp: (packet) => this.#o.sendRtcp(kind, packet),
        onFrame,
        onDrop: (reason) => this.#drop(reason),
      })
    // H.264 and VP8 go into the hub as frames (VP8 as Enhanced RTMP `vp08`, which mixes,
    // recordings and E-RTMP players take); VP9/AV1 go to WebRTC viewers only: their receiver
    // keeps statistics and NACKs holes through the depacketizer's reorder buffer in its
    // one-packet-per-frame (Opus) mode.
    const videoCodec = options.video?.codec
    this.#videoReceiver = receiver('video', videoCodec === 'H264' || videoCodec === 'VP8' ? videoCodec : 'OPUS', 90000, (f) => this.#onVideoFrame(f))
    this.#audioReceiver = options.audio ? receiver('audio', 'OPUS', 48000, (f) => this.#onOpus(f)) : null
    const rids = options.video && options.simulcast && options.simulcast.length > 1 ? options.simulcast : []
    this.#topRid = rids.at(-1) ?? null
    this.layers = rids.slice(0, -1).map(
      (rid) =>
        new SimulcastLayer(this.#log, {
          rid,
          video: this.video!,
          clock: this.#clock.track(90000),
          senderSsrc: this.#ssrc,
          sendRtcp: (packet) => this.#o.sendRtcp('video', packet),
          onDrop: (reason) => this.#drop(reason),
          maxDelayMs,
        }),
    )
    this.stream = hub.publish(options.app, options.name, this)
    this.#avc = new AvcFrameWriter(this.stream)
    this.#vp8 = new Vp8FrameWriter(this.stream)
    this.#timer = setInterval(() => this.#receiverReports(), 1000)
    this.#timer.unref()
    this.onSubscribersChanged(this.stream)
    this.#log.info({ protocol: this.protocol, video: options.video?.codec ?? null, audio: options.audio ? 'opus' : null }, 'WebRTC publisher publishing')
  }

  /** The sender's wallclock at timestamp 0, from its first RTCP sender report (see `SessionClock`). */
  get captureEpochMs(): number | null {
    return this.#clock.epochNtp
  }

  /** This publisher offers its RTP as it came (see `Publisher.rtpSource`). */
  get rtpSource(): RtpSource {
    return this
  }

  /** Called once when the session ends. */
  onClose(listener: (reason: string) => void): void {
    this.#onClose = listener
  }

  addListener(listener: RtpSourceListener): void {
    this.#listeners.add(listener)
  }

  removeListener(listener: RtpSourceListener): void {
    this.#listeners.delete(listener)
  }

  requestKeyframe(reason: string): void {
    if (this.#videoReceiver.requestKeyframe()) this.#log.debug({ reason }, 'keyframe requested from the publisher (PLI)')
  }

  /** Starts or stops Opus → AAC with the players that need FLV audio; new players get a keyframe. */
  onSubscribersChanged(stream: Stream): void {
    const flvPlayers = [...stream.subscribers].filter((s) => !s.prefersRtp).length
    if (flvPlayers > 0) this.requestKeyframe('a player joined')
    if (!this.audio) return
    if (flvPlayers > 0 && !this.#transcoder) {
      try {
        this.#transcoder = new native.OpusToAacTranscoder({ channels: Math.min(2, Math.max(1, this.audio.channels)) as 1 | 2, bitrate: AAC_BITRATE })
        this.#aacOffset = null
        pushAacConfig(this.stream, this.#transcoder.audioSpecificConfig, 0)
        this.#log.info('Opus → AAC started for RTMP/FLV players')
      } catch (error) {
        this.#log.warn({ err: String(error) }, 'Opus → AAC unavailable: RTMP/FLV players get video only')
      }
    } else if (flvPlayers === 0 && this.#transcoder) {
      this.#transcoder = null
      this.#log.info('Opus → AAC stopped: no RTMP/FLV player')
    }
  }

  /** One decrypted RTP or RTCP packet from the publisher on a track. */
  push(kind: 'video' | 'audio', packet: Buffer): void {
    if (this.#closed) return
    if (isRtcpPacket(packet)) return this.#onRtcp(kind, packet)
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return this.#drop('RTP_PACKET_MALFORMED: not an RTP version 2 packet')
    const pt = packet[1]! & 0x7f
    const expected = kind === 'video' ? this.#o.video?.payloadType : this.#o.audio?.payloadType
    if (pt !== expected) return this.#drop(`RTP_UNKNOWN_PAYLOAD_TYPE: ${pt} on the ${kind} track`)
    const arrivedAt = performance.timeOrigin + performance.now()
    this.stream.noteMedia(arrivedAt)
    for (const l of this.#listeners) l.onRtp(kind, packet, arrivedAt)
    if (kind === 'video') this.#videoReceiver.push(packet)
    else this.#audioReceiver?.push(packet)
  }

  /** Simulcast: the top layer's rid (this publisher's own video), else null. */
  get rid(): string | null {
    return this.#topRid
  }

  /** A simulcast RTP stream's rid (RFC 8852), before its packets. */
  bindRid(ssrc: number, rid: string): void {
    if (this.#rids.size < 16) this.#rids.set(ssrc, rid)
  }

  /**
   * One decrypted packet of a BUNDLE transport with no per-track demultiplexing (the native port):
   * RTCP sender reports go to the track or layer with their SSRC; RTP goes by payload type, and a
   * simulcast publisher's video by its SSRC's rid.
   */
  pushBundled(packet: Buffer): void {
    if (this.#closed || packet.length < 8) return
    if (isRtcpPacket(packet)) {
      const ssrc = packet.readUInt32BE(4)
      const layer = this.layers.find((l) => l.ssrc === ssrc)
      if (layer) {
        for (const r of parseRtcp(packet)) if (r.type === 'sr') layer.onSenderReport(r)
        return
      }
      return this.push(this.#audioReceiver?.ssrc === ssrc ? 'audio' : 'video', packet)
    }
    if (packet.length < 12) return this.#drop('RTP_PACKET_MALFORMED: shorter than an RTP header')
    const pt = packet[1]! & 0x7f
    if (pt === this.#o.audio?.payloadType) return this.push('audio', packet)
    if (this.#topRid === null) return this.push('video', packet)
    if (pt !== this.#o.video?.payloadType) return this.#drop(`RTP_UNKNOWN_PAYLOAD_TYPE: ${pt}`)
    const rid = this.#rids.get(packet.readUInt32BE(8))
    if (rid === this.#topRid) return this.push('video', packet)
    const layer = rid === undefined ? undefined : this.layers.find((l) => l.rid === rid)
    if (!layer) return this.#drop(`RTP_UNKNOWN_SSRC: ${packet.readUInt32BE(8)} is no simulcast layer of the offer`)
    const arrivedAt = performance.timeOrigin + performance.now()
    this.stream.noteMedia(arrivedAt)
    layer.push(packet, arrivedAt)
  }

  #onRtcp(kind: 'video' | 'audio', packet: Buffer): void {
    for (const report of parseRtcp(packet)) {
      if (report.type !== 'sr') continue
      const receiver = kind === 'video' ? this.#videoReceiver : this.#audioReceiver
      if (!receiver || receiver.ssrc !== report.ssrc) continue
      receiver.onSenderReport(report)
      for (const l of this.#listeners) l.onSenderReport(kind, report.ntpMs, report.rtpTimestamp)
    }
  }

  #onVideoFrame(frame: ReceivedFrame): void {
    if (this.video?.codec === 'VP8') {
      if (frame.decoderConfig) this.#vp8.decoderConfig(frame.decoderConfig, frame.ms)
      this.#vp8.frame(frame.data, frame.ms, frame.keyframe)
      return
    }
    if (this.video?.codec !== 'H264') return
    if (frame.decoderConfig) this.#avc.decoderConfig(frame.decoderConfig, frame.ms)
    this.#avc.accessUnit(frame.data, frame.ms, frame.keyframe)
  }

  #onOpus(frame: ReceivedFrame): void {
    const t = this.#transcoder
    if (!t) return
    let out
    try {
      out = t.push(frame.data, frame.timestamp)
    } catch (error) {
      this.#drop(String((error as Error).message ?? error))
      return
    }
    if (out.ends.length === 0) return
    this.#aacOffset ??= frame.ms - out.timestamps[0]!
    let start = 0
    for (let i = 0; i < out.ends.length; i++) {
      const end = out.ends[i]!
      pushAacFrame(this.stream, out.data.subarray(start, end), out.timestamps[i]! + this.#aacOffset)
      start = end
    }
  }

  #drop(reason: string): void {
    const colon = reason.indexOf(':')
    const code = colon > 0 ? reason.slice(0, colon) : reason
    this.#dropped[code] = (this.#dropped[code] ?? 0) + 1
    this.#hub.drops.add(this.protocol, 'packets', code)
    if (this.#dropped[code] === 1 || this.#dropped[code] % 1000 === 0) this.#log.warn({ code, reason, count: this.#dropped[code] }, 'RTP packet dropped')
  }

  #receiverReports(): void {
    for (const [kind, r] of [['video', this.#videoReceiver], ['audio', this.#audioReceiver]] as const) {
      const block: ReportBlock | null | undefined = r?.reportBlock()
      if (block) this.#o.sendRtcp(kind, receiverReport(this.#ssrc, [block]))
    }
    for (const layer of this.layers) {
      const block = layer.reportBlock()
      if (block) this.#o.sendRtcp('video', receiverReport(this.#ssrc, [block]))
    }
  }

  stats(): WebRtcPublisherStats {
    return {
      id: this.id,
      stream: this.stream.key,
      protocol: this.protocol,
      remoteAddress: this.remoteAddress,
      video: this.video ? { codec: this.video.codec, ...this.#videoReceiver.stats() } : null,
      audio: this.#audioReceiver ? { codec: 'opus', transcodingToAac: this.#transcoder !== null, ...this.#audioReceiver.stats() } : null,
      simulcast: this.#topRid === null ? null : { rid: this.#topRid, layers: this.layers.map((l) => l.stats()) },
      dropped: { ...this.#dropped },
    }
  }

  /** Unpublishes (idempotent). */
  close(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    this.#videoReceiver.close()
    this.#audioReceiver?.close()
    for (const layer of this.layers) layer.close()
    this.#transcoder = null
    this.#listeners.clear()
    this.#hub.unpublish(this.stream, this)
    this.#log.info({ reason, stats: this.stats() }, 'WebRTC publisher closed')
    this.#onClose?.(reason)
  }
}
