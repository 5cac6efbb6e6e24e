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
 * Timestamps: each track's RTP clock is anchored at the arrival time of its first packet
 * (wallclock ms since the ingest started), then follows the RTP clock (32-bit wrap handled).
 * Video decode times come from the composition-time header extension when the sender adds it
 * (Sluice relay links); otherwise dts = pts, kept monotonic (B-frames then get a negative
 * composition time, which FLV allows).
 */
import dgram from 'node:dgram'
import { randomInt } from 'node:crypto'
import { native } from '../native'
import type { Logger } from '../log'
import type { Publisher, Stream } from '../hub/stream'
import type { StreamHub } from '../hub/stream-hub'
import { genericNack, isRtcpPacket, parseRtcpReports, pictureLossIndication, receiverReport, type ReportBlock } from './rtcp'
import { readCompositionTime } from './sender'
import type { SrtpContext } from './srtp'

export interface IngestVideo {
  payloadType: number
  codec: 'H264'
  /** SPS/PPS from the SDP (`sprop-parameter-sets`), when the stream does not repeat them. */
  sps?: Buffer
  pps?: Buffer
  /** RFC 8285 one-byte id of the composition-time extension (relay links). */
  compositionTimeExtensionId?: number
}

export interface IngestAudio {
  payloadType: number
  codec: 'AAC'
  clockRate: number
  /** The AudioSpecificConfig (RFC 3640 `config`, ISO/IEC 14496-3 §1.6.2.1). */
  config: Buffer
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
  /** How long a hole is waited for, ms. Default 150. */
  maxDelayMs?: number
  /** The session ends when nothing arrives for this long (ms, after the first packet). Default 10 000. */
  idleTimeoutMs?: number
  /**
   * Testing aid: drop this fraction (0–1) of arriving RTP packets, first transmissions only
   * (a retransmission after our NACK always passes), to exercise NACK recovery on a link.
   */
  simulateLoss?: number
}

export interface IngestTrackStats {
  ssrc: number | null
  packets: number
  bytes: number
  frames: number
  /** Packets given up on (never arrived, NACK or not). */
  lost: number
  /** Sequence numbers NACKed. */
  nacked: number
  /** Interarrival jitter in ms (RFC 3550 §6.4.1). */
  jitterMs: number
}

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

/** The counters a track keeps; SSRC and jitter are added from its state. */
type Counters = Omit<IngestTrackStats, 'ssrc' | 'jitterMs'>

interface Track {
  kind: 'video' | 'audio'
  clockRate: number
  depacketizer: InstanceType<typeof native.RtpDepacketizer>
  stats: Counters
  ssrc: number | null
  /** Extended (unwrapped) last RTP timestamp of a frame and its first one. */
  firstTimestamp: number | null
  lastTimestamp: number
  anchorMs: number
  highestSeq: number
  baseSeq: number | null
  cycles: number
  expectedPrior: number
  receivedPrior: number
  received: number
  transit: number | null
  jitter: number
  lastSr: number
  lastSrAt: number
  lastDts: number
  deadline: NodeJS.Timeout | null
  rtcpPeer: { address: string; port: number; socket: dgram.Socket } | null
}

let nextId = 1

export class RtpIngest implements Publisher {
  readonly id = `rtp-ingest-${nextId++}`
  readonly protocol: string
  remoteAddress = ''
  readonly stream: Stream
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #options: IngestOptions
  readonly #video: Track | null
  readonly #audio: Track | null
  readonly #ssrc = randomInt(1, 0xffffffff)
  readonly #startedAt = Date.now()
  #lastPacketAt = 0
  #keyframeRequests = 0
  #lastPliAt = 0
  readonly #dropped: Record<string, number> = {}
  /** Composition times (90 kHz ticks) by RTP timestamp, from the header extension (relay links). */
  readonly #cts = new Map<number, number>()
  /** `pt:seq` of NACKed packets, so that simulated loss spares their retransmissions. */
  readonly #nacked = new Set<string>()
  #closed = false
  readonly #timer: NodeJS.Timeout
  #onClose: ((reason: string) => void) | null = null

  /** Publishes `app/name` into the hub; throws `RequestRejectedError` when it is live. */
  constructor(hub: StreamHub, log: Logger, options: IngestOptions) {
    this.#hub = hub
    this.#options = options
    this.protocol = options.protocol
    this.#log = log.child({ ingest: this.id, stream: `${options.app}/${options.name}` })
    const maxDelayMs = options.maxDelayMs ?? 150
    const makeTrack = (kind: 'video' | 'audio', codec: string, clockRate: number): Track => ({
      kind,
      clockRate,
      depacketizer: new native.RtpDepacketizer({ codec, maxDelayMs }),
      stats: emptyStats(),
      ssrc: null,
      firstTimestamp: null,
      lastTimestamp: 0,
      anchorMs: 0,
      highestSeq: 0,
      baseSeq: null,
      cycles: 0,
      expectedPrior: 0,
      receivedPrior: 0,
      received: 0,
      transit: null,
      jitter: 0,
      lastSr: 0,
      lastSrAt: 0,
      lastDts: -1,
      deadline: null,
      rtcpPeer: null,
    })
    this.#video = options.video ? makeTrack('video', 'H264', 90000) : null
    this.#audio = options.audio ? makeTrack('audio', 'AAC', options.audio.clockRate) : null
    this.stream = hub.publish(options.app, options.name, this)
    if (options.video?.sps && options.video.pps) {
      const record = native.avcDecoderConfigurationRecord(options.video.sps, options.video.pps)
      if (record) this.stream.pushFrame('video', 0, Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), record]), true, true, 0)
    }
    if (options.audio) this.stream.pushFrame('audio', 0, Buffer.concat([Buffer.from([0xaf, 0]), options.audio.config]), false, true, 0)
    for (const socket of options.sockets) socket.on('message', (msg, rinfo) => this.#onDatagram(socket, msg, rinfo))
    this.#timer = setInterval(() => this.#tick(), 1000)
    this.#timer.unref()
    this.#log.info({ protocol: this.protocol, srtp: Boolean(options.srtpIn) }, 'RTP ingest publishing')
  }

  /** Called once when the session ends (unpublished, idle, closed). */
  onClose(listener: (reason: string) => void): void {
    this.#onClose = listener
  }

  stats(): IngestStats {
    return {
      id: this.id,
      stream: this.stream.key,
      protocol: this.protocol,
      remoteAddress: this.remoteAddress,
      video: this.#video ? trackStats(this.#video) : { ssrc: null, jitterMs: 0, ...emptyStats() },
      audio: this.#audio ? trackStats(this.#audio) : { ssrc: null, jitterMs: 0, ...emptyStats() },
      keyframeRequests: this.#keyframeRequests,
      dropped: { ...this.#dropped },
    }
  }

  #drop(reason: string): void {
    const colon = reason.indexOf(':')
    const code = colon > 0 ? reason.slice(0, colon) : reason
    this.#dropped[code] = (this.#dropped[code] ?? 0) + 1
    if (this.#dropped[code] === 1 || this.#dropped[code] % 1000 === 0) {
      this.#log.warn({ code, count: this.#dropped[code] }, 'RTP packet dropped')
    }
  }

  #onDatagram(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closed) return
    this.#lastPacketAt = Date.now()
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
    const ssrc = packet.readUInt32BE(8)
    if (track.ssrc !== ssrc) {
      track.ssrc = ssrc
      track.baseSeq = null
    }
    track.rtcpPeer ??= { address: rinfo.address, port: rinfo.port, socket }
    this.#account(track, packet)
    const cts = track.kind === 'video' && this.#options.video?.compositionTimeExtensionId
      ? readCompositionTime(packet, this.#options.video.compositionTimeExtensionId)
      : null
    if (cts !== null) this.#cts.set(packet.readUInt32BE(4), cts)
    const result = track.depacketizer.push(packet, performance.now())
    this.#handle(track, result)
  }

  #account(track: Track, packet: Buffer): void {
    const seq = packet.readUInt16BE(2)
    track.stats.packets++
    track.stats.bytes += packet.length
    track.received++
    if (track.baseSeq === null) {
      track.baseSeq = seq
      track.highestSeq = seq
      track.cycles = 0
      track.expectedPrior = 0
      track.receivedPrior = 0
      track.received = 1
    } else {
      const delta = (seq - track.highestSeq) & 0xffff
      if (delta > 0 && delta < 0x8000) {
        if (seq < track.highestSeq) track.cycles += 0x10000
        track.highestSeq = seq
      }
    }
    // RFC 3550 §6.4.1 / A.8 interarrival jitter, in RTP units.
    const arrival = (performance.now() * track.clockRate) / 1000
    const transit = arrival - packet.readUInt32BE(4)
    if (track.transit !== null) {
      let d = Math.abs(transit - track.transit)
      if (d > 0x80000000) d = Math.abs(d - 0x100000000)
      track.jitter += (d - track.jitter) / 16
    }
    track.transit = transit
  }

  #handle(track: Track, result: ReturnType<InstanceType<typeof native.RtpDepacketizer>['push']>): void {
    if (result.dropped) this.#drop(result.dropped)
    track.stats.lost += result.lost
    if (result.nack.length > 0 && track.ssrc !== null) {
      track.stats.nacked += result.nack.length
      if (this.#options.simulateLoss) {
        const pt = track.kind === 'video' ? this.#options.video!.payloadType : this.#options.audio!.payloadType
        for (const seq of result.nack) this.#nacked.add(`${pt}:${seq}`)
        if (this.#nacked.size > 4096) this.#nacked.clear()
      }
      this.#sendRtcp(track, genericNack(this.#ssrc, track.ssrc, result.nack))
    }
    if (result.keyframeRequest && track.ssrc !== null && Date.now() - this.#lastPliAt > 500) {
      this.#lastPliAt = Date.now()
      this.#keyframeRequests++
      this.#sendRtcp(track, pictureLossIndication(this.#ssrc, track.ssrc))
    }
    for (const frame of result.frames) this.#publishFrame(track, frame)
    if (track.deadline) clearTimeout(track.deadline)
    track.deadline = null
    if (result.deadlineMs !== undefined && result.deadlineMs !== null) {
      const wait = Math.max(0, result.deadlineMs - performance.now())
      track.deadline = setTimeout(() => {
        track.deadline = null
        if (!this.#closed) this.#handle(track, track.depacketizer.poll(performance.now()))
      }, wait + 1)
    }
  }

  #publishFrame(track: Track, frame: { timestamp: number; data: Buffer; keyframe: boolean; decoderConfig?: Buffer | null }): void {
    // Unwrap the 32-bit RTP timestamp against the previous frame's.
    let ts = frame.timestamp
    if (track.firstTimestamp === null) {
      track.firstTimestamp = ts
      track.lastTimestamp = ts
      track.anchorMs = Date.now() - this.#startedAt
    } else {
      const delta = ((ts - (track.lastTimestamp >>> 0)) | 0)
      ts = track.lastTimestamp + delta
      track.lastTimestamp = ts
    }
    const ptsMs = track.anchorMs + ((ts - track.firstTimestamp) * 1000) / track.clockRate
    track.stats.frames++
    if (track.kind === 'audio') {
      const dts = Math.max(0, Math.round(ptsMs))
      this.stream.pushFrame('audio', dts, Buffer.concat([Buffer.from([0xaf, 1]), frame.data]), false, false, 0)
      return
    }
    if (frame.decoderConfig) {
      this.stream.pushFrame('video', Math.max(0, Math.round(ptsMs)), Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), frame.decoderConfig]), true, true, 0)
    }
    const ctsTicks = this.#cts.get(frame.timestamp)
    this.#cts.delete(frame.timestamp)
    if (this.#cts.size > 256) this.#cts.clear()
    let dts = Math.round(ptsMs - (ctsTicks ?? 0) / 90)
    if (dts <= track.lastDts) dts = track.lastDts + 1
    dts = Math.max(0, dts)
    track.lastDts = dts
    const cts = Math.round(ptsMs) - dts
    const header = Buffer.from([frame.keyframe ? 0x17 : 0x27, 1, 0, 0, 0])
    header.writeIntBE(Math.max(-0x800000, Math.min(0x7fffff, cts)), 2, 3)
    this.stream.pushFrame('video', dts, Buffer.concat([header, frame.data]), frame.keyframe, false, cts)
  }

  #onRtcp(packet: Buffer, socket: dgram.Socket, rinfo: dgram.RemoteInfo): void {
    for (const report of parseRtcpReports(packet)) {
      if (report.type !== 'sr') continue
      for (const track of [this.#video, this.#audio]) {
        if (track && track.ssrc === report.ssrc) {
          track.lastSr = report.ntpMiddle
          track.lastSrAt = Date.now()
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
    if (this.#lastPacketAt > 0 && Date.now() - this.#lastPacketAt > (this.#options.idleTimeoutMs ?? 10_000)) {
      this.close('no RTP received for 10 s')
      return
    }
    for (const track of [this.#video, this.#audio]) {
      if (!track || track.ssrc === null || track.baseSeq === null) continue
      const extendedMax = track.cycles + track.highestSeq
      const expected = extendedMax - track.baseSeq + 1
      const expectedInterval = expected - track.expectedPrior
      const receivedInterval = track.received - track.receivedPrior
      track.expectedPrior = expected
      track.receivedPrior = track.received
      const lostInterval = expectedInterval - receivedInterval
      const block: ReportBlock = {
        ssrc: track.ssrc,
        fractionLost: expectedInterval > 0 && lostInterval > 0 ? Math.floor((lostInterval * 256) / expectedInterval) & 0xff : 0,
        cumulativeLost: Math.max(0, expected - track.received),
        highestSequence: extendedMax,
        jitter: Math.round(track.jitter),
        lastSr: track.lastSr,
        delaySinceLastSr: track.lastSr ? Math.round(((Date.now() - track.lastSrAt) / 1000) * 65536) : 0,
      }
      this.#sendRtcp(track, receiverReport(this.#ssrc, [block]))
    }
  }

  /** Ends the session and unpublishes. */
  close(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    for (const t of [this.#video, this.#audio]) if (t?.deadline) clearTimeout(t.deadline)
    this.#hub.unpublish(this.stream, this)
    for (const socket of this.#options.sockets) {
      try {
        socket.close()
      } catch {
        // already closed
      }
    }
    this.#log.info({ reason, stats: this.stats() }, 'RTP ingest closed')
    this.#onClose?.(reason)
  }
}

function emptyStats(): Counters {
  return { packets: 0, bytes: 0, frames: 0, lost: 0, nacked: 0 }
}

function trackStats(t: Track): IngestTrackStats {
  return { ssrc: t.ssrc, ...t.stats, jitterMs: (t.jitter / t.clockRate) * 1000 }
}
