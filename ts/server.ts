/** `Sluice`: the stream hub with its RTMP and HTTP servers, started and stopped together. */
import { StreamHub, type StreamHubOptions } from './hub/stream-hub'
import { RtmpServer } from './rtmp/server'
import { HttpServer, type HttpOptions } from './http/server'
import type { RtmpOptions } from './rtmp/options'
import { createLogger, type Logger } from './log'
import { WhepEndpoint, type WebRtcOptions } from './webrtc/whep'
import { WhipEndpoint } from './webrtc/whip'
import { servePlayerPage } from './http/player-page'
import { servePublishPage } from './http/publish-page'
import { serveHttpFlv } from './http/flv-player'
import { RtpService, type RtpOptions } from './rtp/service'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { SignalingServer, type SignalingOptions } from './signaling/server'
import { serveRoomPage } from './http/room-page'
import { RoomSfu, type RoomSfuOptions } from './sfu/room-sfu'

export interface SluiceOptions {
  rtmp?: Partial<RtmpOptions>
  http?: Partial<HttpOptions>
  /** WebRTC (WHEP and WHIP) settings: ICE servers, bind address, viewer processes, auth hook. */
  webrtc?: Partial<WebRtcOptions>
  /** RTP/SRTP forwarders, ingest and relay links: UDP bind address, relay secret. */
  rtp?: Partial<RtpOptions>
  /** Signaling (WebSocket on the HTTP port, rooms): path, limits, `authorize` hook, SFU plug. */
  signaling?: Partial<SignalingOptions>
  /**
   * The SFU of `sfu` rooms (hub app of the participants' streams, default `room`); its ICE
   * settings come from `webrtc`. `false`: no SFU (joining an `sfu` room answers
   * `SFU_UNAVAILABLE`). A `signaling.sfu` factory replaces it.
   */
  sfu?: Partial<Pick<RoomSfuOptions, 'app'>> | false
  /** Stream hub settings (GOP cache bounds, unpublish grace). */
  hub?: StreamHubOptions
  /** A pino logger; default: JSON lines on stdout at `SLUICE_LOG_LEVEL` (info). */
  logger?: Logger
}

function percentiles(samples: number[]): { p50: number; p99: number; samples: number } | null {
  if (samples.length === 0) return null
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000) / 1000
  return { p50: at(0.5), p99: at(0.99), samples: sorted.length }
}

export class Sluice {
  readonly hub: StreamHub
  readonly rtmp: RtmpServer
  readonly http: HttpServer
  readonly whep: WhepEndpoint
  readonly whip: WhipEndpoint
  readonly rtpService: RtpService
  readonly signaling: SignalingServer
  /** The SFU of `sfu` rooms, unless disabled or replaced (`options.sfu`, `signaling.sfu`). */
  sfu: RoomSfu | null = null
  readonly log: Logger
  /** Event-loop delay of the main thread (RTMP ingest, HTTP, signaling), since start or reset. */
  readonly eventLoopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 })
  #started = false
  #closed = false

  constructor(options: SluiceOptions = {}) {
    this.log = options.logger ?? createLogger()
    this.hub = new StreamHub(options.hub)
    this.rtmp = new RtmpServer(this.hub, this.log, options.rtmp)
    this.http = new HttpServer(this.hub, this.log, options.http)
    this.whep = new WhepEndpoint(this.hub, this.http, this.log, options.webrtc)
    this.whip = new WhipEndpoint(this.hub, this.http, this.log, options.webrtc)
    this.rtpService = new RtpService(this.hub, this.http, this.log, options.rtp)
    servePlayerPage(this.http)
    servePublishPage(this.http)
    serveHttpFlv(this.http, this.hub, this.log, { queueBytes: this.rtmp.options.playerQueueBytes, maxBehindMs: this.rtmp.options.playerMaxBehindMs })
    const ice = { iceServers: options.webrtc?.iceServers ?? [], bindAddress: options.webrtc?.bindAddress, portRangeBegin: options.webrtc?.portRangeBegin, portRangeEnd: options.webrtc?.portRangeEnd }
    const sfu = options.sfu === false ? undefined : RoomSfu.factory(this.hub, { ...options.sfu, ice }, (created) => (this.sfu = created))
    this.signaling = new SignalingServer(this.http, this.log, { iceServers: ice.iceServers, sfu, ...options.signaling })
    this.http.route('GET', /^\/api\/sfu$/, (_req, res) => {
      const body = JSON.stringify(this.sfu?.stats() ?? { rooms: [] })
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' })
      res.end(body)
    })
    serveRoomPage(this.http)
    this.http.route('GET', /^\/api\/stats$/, async (_req, res, _params, url) => {
      const pool = await this.whep.pool.stats()
      const viewers = pool.viewers
      const h = this.eventLoopDelay
      const ms = (ns: number) => Math.round(ns / 1e4) / 100
      const body = JSON.stringify({
        eventLoopDelayMs: { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean) },
        rtmpConnections: this.rtmp.connections.size,
        webrtcViewers: this.whep.sessions,
        webrtc: {
          packetsSent: viewers.reduce((n, v) => n + v.packetsSent, 0),
          nacks: viewers.reduce((n, v) => n + v.nacks, 0),
          retransmitted: viewers.reduce((n, v) => n + v.retransmitted, 0),
          sendFailures: viewers.reduce((n, v) => n + v.sendFailures, 0),
          fanoutLatencyMs: percentiles(pool.latencyMs),
          lagEvents: pool.lagEvents,
          packetsSkipped: pool.packetsSkipped,
          viewerProcessesUnanswered: pool.unanswered,
        },
        liveStreams: this.hub.live().length,
        rssMb: Math.round(process.memoryUsage().rss / 1048576),
      })
      if (url.searchParams.has('reset')) h.reset()
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' })
      res.end(body)
    })
  }

  /** Binds both ports; rejects with `ListenError` if either can't be bound (nothing stays open). */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    try {
      await this.rtmp.listen()
      await this.http.listen()
    } catch (error) {
      await this.close()
      throw error
    }
    this.eventLoopDelay.enable()
    this.log.info({ rtmp: `${this.rtmp.options.host}:${this.rtmp.port}`, http: `${this.http.options.host}:${this.http.port}` }, 'sluice listening')
  }

  /** Closes every connection and both listeners (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.eventLoopDelay.disable()
    this.rtpService.close()
    this.whip.close()
    await Promise.allSettled([this.rtmp.close(), this.signaling.close(), this.http.close(), this.whep.close()])
  }
}
