/**
 * An RTP/SRTP publisher: H.264 (RFC 6184) and AAC (RFC 3640) over UDP, from ffmpeg
 * (`-f rtp srtp://...`) or from another Sluice node over a relay link, depacketized in Rust
 * and published into the hub like an RTMP publisher.
 *
 * Per packet: SRTP/SRTCP unprotect when keyed (a packet that fails — auth, replay, too short —
 * is dropped and counted by reason, the session goes on), RTP/RTCP demultiplexed by packet type
 * (RFC 5761 §4; RTCP may also come on its own port), RTP routed by payload type to its track's
 * `RtpDepacketizer` (reordering bounded at `maxDelayMs`, NACK for holes, PLI when the video
 * depacketizer waits for an IDR). Receiver reports go back every second with loss, jitter
 * and LSR/DLSR, so the sender sees the round-trip time.
 *
 * Timestamps: RTP clocks map to the session's ms timeline through the sender reports when the
 * sender sends them (lip sync by the sender's wallclock), else from each track's first arrival
 * (`rtp-clock.ts`). Video decode times come from the composition-time header extension when the sender adds it
 * (Sluice relay links); otherwise dts = pts, kept monotonic (B-frames then get a negative
 * composition time, which FLV allows).
 */
import dgram from 'node:dgram'
import { randomInt } from 'node:crypto'
import { native } from '../native'
import type { Logger } from '../log'
import type { Publisher, Stream } from '../hub/stream'
import type { StreamHub } from '../hub/stream-hub'
import { isRtcpPacket, parseRtcp, receiverReport, type ReportBlock } from './rtcp'
import { readCompositionTime } from './sender'
import type { SrtpContext } from './srtp'
import { RtpTrackReceiver, type ReceivedFrame, type ReceiverStats } from './receiver'
import { SessionClock } from './rtp-clock'
import { AvcFrameWriter, pushAacConfig, pushAacFrame } from './hub-frames'

export interface IngestVideo {
  payloadType: number
  codec: 'H264'
  /** SPS/PPS from the SDP (`sprop-parameter-sets`), when the stream does not repeat them. */
  sps?: Buffer
  pps?: Buffer
  /** RFC 8285 one-byte id of the composition-time extension (relay links). */
  compositionTimeExtensionId?: number
  /** The sender's SSRC when announced (relay links). */
  ssrc?: number
}

export interface IngestAudio {
  payloadType: number
  codec: 'AAC'
  clockRate: number
  /** The AudioSpecificConfig (RFC 3640 `config`, ISO/IEC 14496-3 §1.6.2.1). */
  config: Buffer
  /** The sender's SSRC when announced (relay links). */
  ssrc?: number
}

export interface IngestOptions {
  app: string
  name: string
  video?: IngestVideo | null
  audio?: IngestAudio | null
  /** Keys for what arrives (SRTP and SRTCP); plain RTP when absent. */
  srtpIn?: SrtpContext | null
  /** Keys for the RTCP feedback sent back; plain when absent. */
  srtpOut?: SrtpContext | null
  /** Sockets to read (RTP, RTCP, or both multiplexed), bound by the caller. */
  sockets: dgram.Socket[]
  /** `rtp` (ffmpeg and other RTP senders) or `relay` (a Sluice node). */
  protocol: string
  /** A cluster link: a local publisher of the stream replaces it (`Publisher.replaceable`). */
  replaceable?: boolean
  /** How long a hole is waited for, ms. Default 150. */
  maxDelayMs?: number
  /**
   * Testing aid: drop this fraction (0–1) of arriving RTP packets, first transmissions only
   * (a retransmission after our NACK always passes), to exercise NACK recovery on a link.
   */
  simulateLoss?: number
}

export type IngestTrackStats = Omit<ReceiverStats, 'keyframeRequests'>

export interface IngestStats {
  id: string
  stream: string
  protocol: string
  remoteAddress: string
  video: IngestTrackStats
  audio: IngestTrackStats
  keyframeRequests: number
  /** Packets dropped before depacketization, by reason code. */
  dropped: Record<string, number>
}

interface Track {
  kind: 'video' | 'audio'
  receiver: RtpTrackReceiver
  rtcpPeer: { address: string; port: number; socket: dgram.Socket } | null
}

let nextId = 1

export class RtpIngest implements Publisher {
  readonly id = `rtp-ingest-${nextId++}`
  readonly protocol: string
  readonly replaceable: boolean
  remoteAddress = ''
  readonly stream: Stream
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #options: IngestOptions
  readonly #video: Track | null
  readonly #audio: Track | null
  readonly #ssrc = randomInt(1, 0xffffffff)
  readonly #clock = new SessionClock()
  #avc: AvcFrameWriter
  readonly #dropped: Record<string, number> = {}
  /** Composition times (90 kHz ticks) by RTP timestamp, from the header extension (relay links). */
  readonly #cts = new Map<number, number>()
  /** `pt:seq` of NACKed packets, so that simulated loss spares their retransmissions. */
  readonly #nacked = new Set<string>()
  #closed = false
  readonly #timer: NodeJS.Timeout
  readonly #onClose: ((reason: string) => void)[] = []

  /** Publishes `app/name` into the hub; throws `RequestRejectedError` when it is live. */
  constructor(hub: StreamHub, log: Logger, options: IngestOptions) {
    this.#hub = hub
    this.#options = options
    this.protocol = options.protocol
    this.replaceable = options.replaceable ?? false
    this.#log = log.child({ ingest: this.id, stream: `${options.app}/${options.name}` })
    const maxDelayMs = options.maxDelayMs ?? 150
    const makeTrack = (kind: 'video' | 'audio', codec: 'H264' | 'AAC', clockRate: number): Track => {
      const track: Track = { kind, rtcpPeer: null, receiver: null! }
      track.receiver = new RtpTrackReceiver({
        codec,
        clockRate,
        clock: this.#clock.track(clockRate),
        maxDelayMs,
        senderSsrc: this.#ssrc,
        sendRtcp: (packet) => this.#sendRtcp(track, packet),
        onFrame: (frame) => this.#publishFrame(track, frame),
        onDrop: (reason) => this.#drop(reason),
        onNack: options.simulateLoss
          ? (seqs) => {
              const pt = kind === 'video' ? options.video!.payloadType : options.audio!.payloadType
              for (const seq of seqs) this.#nacked.add(`${pt}:${seq}`)
              if (this.#nacked.size > 4096) this.#nacked.clear()
            }
          : undefined,
      })
      // an SSRC announced beforehand (relay offers): its sender reports count before its first packet
      track.receiver.ssrc = (kind === 'video' ? options.video?.ssrc : options.audio?.ssrc) ?? null
      return track
    }
    this.#video = options.video ? makeTrack('video', 'H264', 90000) : null
    this.#audio = options.audio ? makeTrack('audio', 'AAC', options.audio.clockRate) : null
    this.stream = hub.publish(options.app, options.name, this)
    this.#avc = new AvcFrameWriter(this.stream)
    if (options.video?.sps && options.video.pps) {
      const record = native.avcDecoderConfigurationRecord(options.video.sps, options.video.pps)
      if (record) this.#avc.decoderConfig(record, 0)
    }
    if (options.audio) pushAacConfig(this.stream, options.audio.config)
    for (const socket of options.sockets) socket.on('message', (msg, rinfo) => this.#onDatagram(socket, msg, rinfo))
    this.#timer = setInterval(() => this.#tick(), 1000)
    this.#timer.unref()
    this.#log.info({ protocol: this.protocol, srtp: Boolean(options.srtpIn) }, 'RTP ingest publishing')
  }

  /** Adds a listener called once when the session ends (unpublished, idle, closed). */
  onClose(listener: (reason: string) => void): void {
    this.#onClose.push(listener)
  }

  stats(): IngestStats {
    return {
      id: this.id,
      stream: this.stream.key,
      protocol: this.protocol,
      remoteAddress: this.remoteAddress,
      video: trackStats(this.#video),
      audio: trackStats(this.#audio),
      keyframeRequests: this.#video?.receiver.stats().keyframeRequests ?? 0,
      dropped: { ...this.#dropped },
    }
  }

  #drop(reason: string): void {
    const colon = reason.indexOf(':')
    const code = colon > 0 ? reason.slice(0, colon) : reason
    this.#dropped[code] = (this.#dropped[code] ?? 0) + 1
    this.#hub.drops.add(this.protocol, 'packets', code)
    if (this.#dropped[code] === 1 || this.#dropped[code] % 1000 === 0) {
      this.#log.warn({ code, count: this.#dropped[code] }, 'RTP packet dropped')
    }
  }

  #onDatagram(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closed) return
    this.stream.noteMedia()
    if (!this.remoteAddress) this.remoteAddress = `${rinfo.address}:${rinfo.port}`
    const rtcp = isRtcpPacket(msg)
    if (!rtcp && this.#options.simulateLoss && msg.length >= 12) {
      const key = `${msg[1]! & 0x7f}:${msg.readUInt16BE(2)}`
      if (this.#nacked.delete(key)) {
        // a retransmission: let it through
      } else if (Math.random() < this.#options.simulateLoss) return this.#drop('SIMULATED_LOSS')
    }
    let packet: Buffer = msg
    const srtp = this.#options.srtpIn
    if (srtp) {
      const result = rtcp ? srtp.unprotectRtcp(msg) : srtp.unprotectRtp(msg)
      if (typeof result === 'string') return this.#drop(result)
      packet = result
    }
    if (rtcp) return this.#onRtcp(packet, socket, rinfo)
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return this.#drop('RTP_PACKET_MALFORMED')
    const pt = packet[1]! & 0x7f
    const track = pt === this.#options.video?.payloadType ? this.#video : pt === this.#options.audio?.payloadType ? this.#audio : null
    if (!track) return this.#drop('RTP_UNKNOWN_PAYLOAD_TYPE')
    track.rtcpPeer ??= { address: rinfo.address, port: rinfo.port, socket }
    const cts = track.kind === 'video' && this.#options.video?.compositionTimeExtensionId
      ? readCompositionTime(packet, this.#options.video.compositionTimeExtensionId)
      : null
    if (cts !== null) this.#cts.set(packet.readUInt32BE(4), cts)
    track.receiver.push(packet)
  }

  #publishFrame(track: Track, frame: ReceivedFrame): void {
    if (track.kind === 'audio') return pushAacFrame(this.stream, frame.data, frame.ms)
    if (frame.decoderConfig) this.#avc.decoderConfig(frame.decoderConfig, frame.ms)
    const ctsTicks = this.#cts.get(frame.timestamp)
    this.#cts.delete(frame.timestamp)
    if (this.#cts.size > 256) this.#cts.clear()
    this.#avc.accessUnit(frame.data, frame.ms, frame.keyframe, ctsTicks === undefined ? null : ctsTicks / 90)
  }

  #onRtcp(packet: Buffer, socket: dgram.Socket, rinfo: dgram.RemoteInfo): void {
    for (const report of parseRtcp(packet)) {
      if (report.type !== 'sr') continue
      for (const track of [this.#video, this.#audio]) {
        if (track && track.receiver.ssrc === report.ssrc) {
          track.receiver.onSenderReport(report)
          track.rtcpPeer = { address: rinfo.address, port: rinfo.port, socket }
        }
      }
    }
  }

  #sendRtcp(track: Track, packet: Buffer): void {
    const peer = track.rtcpPeer
    if (!peer) return
    let out: Buffer = packet
    if (this.#options.srtpOut) {
      const protectedPacket = this.#options.srtpOut.protectRtcp(packet)
      if (typeof protectedPacket === 'string') return
      out = protectedPacket
    }
    peer.socket.send(out, peer.port, peer.address)
  }

  #tick(): void {
    if (this.#closed) return
    for (const track of [this.#video, this.#audio]) {
      const block: ReportBlock | null | undefined = track?.receiver.reportBlock()
      if (track && block) this.#sendRtcp(track, receiverReport(this.#ssrc, [block]))
    }
  }

  /** Ends the session and unpublishes. */
  close(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    for (const t of [this.#video, this.#audio]) t?.receiver.close()
    this.#hub.unpublish(this.stream, this)
    for (const socket of this.#options.sockets) {
      try {
        socket.close()
      } catch {
        // already closed
      }
    }
    this.#log.info({ reason, stats: this.stats() }, 'RTP ingest closed')
    for (const listener of this.#onClose) listener(reason)
  }
}

function trackStats(t: Track | null): IngestTrackStats {
  if (!t) return { ssrc: null, packets: 0, bytes: 0, frames: 0, lost: 0, nacked: 0, jitterMs: 0 }
  const { keyframeRequests: _, ...stats } = t.receiver.stats()
  return stats
}
