/**
 * `Sluice`: the stream hub with its RTMP and HTTP servers, the access model and the clients
 * list, started and stopped together.
 *
 * Events (typed; a throwing listener is logged and, for requests, refuses):
 * - `publish`, `play` — an `AccessRequest` of any protocol, after the built-in policy and the
 *   webhook accepted it: answer `req.accept()` or `req.reject(reason)` (within 10 s). With no
 *   listener the request is accepted.
 * - `unpublish`, `stop` — a publisher or a player of any protocol left: a `ClientEnded` (id,
 *   protocol, stream, address, byte counters, duration, reason).
 */
import { StreamHub } from './hub/stream-hub'
import { RtmpServer } from './rtmp/server'
import { HttpServer } from './http/server'
import { createLogger, type Logger } from './log'
import { WhepEndpoint } from './webrtc/whep'
import { WhipEndpoint } from './webrtc/whip'
import { NativeViewers } from './webrtc/native-viewers'
import { servePlayerPage } from './http/player-page'
import { servePublishPage } from './http/publish-page'
import { serveCohostPage } from './http/cohost-page'
import { serveHttpFlv } from './http/flv-player'
import { RtpService } from './rtp/service'
import { MixService } from './mix/service'
import { RecordingService } from './record/service'
import { HlsService } from './hls/service'
import type { RecordedFile } from './record/recording'
import { RtmpLinks } from './rtmp/links'
import { SrtServer } from './srt/server'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { SignalingServer } from './signaling/server'
import { serveRoomPage } from './http/room-page'
import { RoomSfu } from './sfu/room-sfu'
import type { SfuFactory } from './signaling/sfu-handler'
import { TypedEmitter } from './events'
import { checkedConfigSchema, type SluiceConfig, type SluiceConfigInput } from './config/schema'
import { ConfigError } from './errors'
import { AccessControl } from './access/access-control'
import type { AccessRequest } from './access/request'
import { ClientRegistry, type ClientEnded } from './clients/registry'
import { notifyWebhook } from './access/webhooks'
import { serveStats } from './http/stats'
import { serveClientsApi } from './http/clients-api'
import { serveSfuApi } from './http/sfu-api'
import { drain, type DrainResult } from './drain'
import { serveMetrics } from './metrics/metrics'
import { serveDashboard } from './http/dashboard-page'
import { ClusterService, clusterHost } from './cluster/service'

/** `new Sluice(options)`: the config file's shape (every key optional) and code-only plugs. */
export interface SluiceOptions extends Omit<SluiceConfigInput, 'signaling'> {
  /** Signaling settings, and `sfu`: an SFU factory replacing Sluice's own (`SfuHandler`). */
  signaling?: SluiceConfigInput['signaling'] & { sfu?: SfuFactory }
  /** A pino logger; default: JSON lines on stdout at `log.level` (the CLI maps `SLUICE_LOG_LEVEL` there). */
  logger?: Logger
}

export type SluiceEvents = {
  publish: [request: AccessRequest]
  play: [request: AccessRequest]
  unpublish: [client: ClientEnded]
  stop: [client: ClientEnded]
  /** A recording file is finished (rotated, its stream ended, stopped). */
  recordDone: [file: RecordedFile]
}

/** Validates options against the config schema; throws `ConfigError` naming the key. */
export function resolveConfig(options: SluiceConfigInput): SluiceConfig {
  const parsed = checkedConfigSchema.safeParse(options)
  if (!parsed.success) throw ConfigError.fromZod(parsed.error)
  return parsed.data
}

export class Sluice extends TypedEmitter<SluiceEvents> {
  /** The effective settings (defaults filled in). */
  readonly config: SluiceConfig
  readonly hub: StreamHub
  readonly rtmp: RtmpServer
  readonly http: HttpServer
  readonly whep: WhepEndpoint
  readonly whip: WhipEndpoint
  readonly rtpService: RtpService
  /** SRT publish and play (MPEG-TS) on `srt.port`, unless `srt.enabled` is false. */
  readonly srt: SrtServer
  /** RTMP(S) pushes to and pulls from other servers (API and `rtmp.pushes`/`rtmp.pulls` rules). */
  readonly rtmpLinks: RtmpLinks
  /** Mixes (MCU) and co-hosting sessions. */
  readonly mixes: MixService
  /** Recordings (`record.rules` and `/api/recordings`). */
  readonly recordings: RecordingService
  /** LL-HLS renditions (`/hls/{app}/{stream}/index.m3u8`). */
  readonly hls: HlsService
  readonly signaling: SignalingServer
  /** The one access decision of every protocol. */
  readonly access: AccessControl
  /** Every connected publisher and player, of every protocol. */
  readonly clients: ClientRegistry
  /** The cluster node (registry, edge links, placement) when `cluster.redis` is set, else null. */
  readonly cluster: ClusterService | null
  /** The SFU of `sfu` rooms, unless disabled or replaced (`sfu.enabled`, `signaling.sfu`). */
  sfu: RoomSfu | null = null
  readonly log: Logger
  /** Event-loop delay of the main thread (RTMP ingest, HTTP, signaling), since start or reset. */
  readonly eventLoopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 })
  readonly startedAt = Date.now()
  #started = false
  #closed = false

  constructor(options: SluiceOptions = {}) {
    super()
    const { logger, signaling: signalingInput, ...rest } = options
    const { sfu: sfuFactory, ...signalingConfig } = signalingInput ?? {}
    this.config = resolveConfig({ ...rest, signaling: signalingConfig })
    const config = this.config
    this.log = logger ?? createLogger({ level: config.log.level })
    this.clients = new ClientRegistry()
    this.access = new AccessControl({
      access: config.access,
      webhooks: config.webhooks,
      log: this.log,
      nodeSecret: config.rtp.relaySecret,
      ask: (request) => {
        const listeners = this.listeners(request.action) as ((r: AccessRequest) => void)[]
        if (listeners.length === 0) return false
        for (const listener of listeners) listener.call(this, request)
        return true
      },
    })
    this.clients.on('removed', (ended) => this.#ended(ended))
    const ctx = { access: this.access, clients: this.clients }
    this.hub = new StreamHub({ ...config.hub, log: this.log })
    this.rtmp = new RtmpServer(this.hub, this.log, config.rtmp, { ...ctx, placement: async () => (this.cluster ? this.cluster.placement('rtmp') : null) })
    this.srt = new SrtServer(this.hub, this.log, config.srt, ctx)
    this.http = new HttpServer(this.hub, this.log, { ...config.http, adminToken: config.admin.token })
    const webrtc = { ...config.webrtc }
    const webrtcCtx = { ...ctx, placement: async () => (this.cluster ? this.cluster.placement() : null) }
    this.whep = new WhepEndpoint(this.hub, this.http, this.log, webrtc, webrtcCtx)
    this.whip = new WhipEndpoint(this.hub, this.http, this.log, webrtc, webrtcCtx, this.whep.pool instanceof NativeViewers ? this.whep.pool : null)
    // in a cluster, relay offers must name an address other nodes reach (not loopback)
    const advertisedHost = config.rtp.advertisedHost ?? (config.cluster.redis ? clusterHost(config) : null)
    this.rtpService = new RtpService(this.hub, this.http, this.log, { ...config.rtp, host: config.rtp.host ?? config.http.host, advertisedHost }, ctx)
    this.srt.serveApi(this.http, config.rtp.allowedDestinations)
    this.rtmpLinks = new RtmpLinks(this.hub, this.log, this.clients, config.rtmp)
    this.rtmpLinks.serveApi(this.http, config.rtp.allowedDestinations)
    const ports = () => ({ http: this.http.port, rtmp: this.rtmp.port, srt: config.srt.enabled ? this.srt.port : null })
    this.cluster = config.cluster.redis ? new ClusterService({ ports, hub: this.hub, http: this.http, rtp: this.rtpService, rtmpLinks: this.rtmpLinks, clients: this.clients, log: this.log, config }) : null
    this.mixes = new MixService(this.hub, this.log, this.rtmpLinks, config.mix)
    this.mixes.serveApi(this.http, config.rtp.allowedDestinations)
    this.hls = new HlsService(this.hub, this.http, this.log, config.hls, this.access)
    this.recordings = new RecordingService(this.hub, this.http, config.record, this.log, (file) => {
      this.safeEmit('recordDone', file)
      const hook = this.config.webhooks.onRecordDone
      if (hook) notifyWebhook(hook, 'on_record_done', { ...file }, this.config.webhooks.timeoutMs, this.log)
    })
    servePlayerPage(this.http)
    servePublishPage(this.http)
    serveCohostPage(this.http)
    serveHttpFlv(this.http, this.hub, this.log, { queueBytes: config.rtmp.playerQueueBytes, maxBehindMs: config.rtmp.playerMaxBehindMs }, ctx)
    const ice = { iceServers: config.webrtc.iceServers, bindAddress: config.webrtc.bindAddress, portRangeBegin: config.webrtc.portRangeBegin, portRangeEnd: config.webrtc.portRangeEnd }
    const sfu = sfuFactory ?? (config.sfu.enabled ? RoomSfu.factory(this.hub, { app: config.sfu.app, ice, mix: { ...config.mix }, viewers: this.whep.pool, simulcast: config.sfu.simulcast }, (created) => (this.sfu = created)) : undefined)
    const rooms = this.cluster ? { locate: async (name: string) => (await this.cluster!.roomNode(name))?.http ?? null, closed: (name: string) => this.cluster!.roomClosed(name) } : undefined
    this.signaling = new SignalingServer(this.http, this.log, { ...config.signaling, iceServers: ice.iceServers, sfu, app: config.sfu.app }, { ...ctx, rooms, bus: this.cluster?.p2p })
    serveSfuApi(this)
    serveRoomPage(this.http)
    serveStats(this)
    serveClientsApi(this)
    serveMetrics(this)
    serveDashboard(this)
    if (config.access.policy === 'loopback') {
      this.log.info('access policy "loopback": only clients on this machine may publish or play (set access.policy to open it)')
    }
  }

  /** A client left: the lifecycle event and its webhook. */
  #ended(ended: ClientEnded): void {
    const event = ended.role === 'publisher' ? 'unpublish' : 'stop'
    this.safeEmit(event, ended)
    const hook = event === 'unpublish' ? this.config.webhooks.onUnpublish : this.config.webhooks.onStop
    if (hook) notifyWebhook(hook, event === 'unpublish' ? 'on_unpublish' : 'on_stop', { ...ended }, this.config.webhooks.timeoutMs, this.log)
  }

  /** Binds both ports; rejects with `ListenError` if either can't be bound (nothing stays open). */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    try {
      await this.rtmp.listen()
      await this.srt.listen()
      await this.http.listen()
      await this.cluster?.start()
    } catch (error) {
      await this.close()
      throw error
    }
    this.eventLoopDelay.enable()
    this.log.info({ rtmp: `${this.config.rtmp.host}:${this.rtmp.port}`, rtmps: this.rtmp.tlsPort === null ? 'off' : `${this.config.rtmp.tls?.host ?? this.config.rtmp.host}:${this.rtmp.tlsPort}`, srt: this.config.srt.enabled ? `${this.config.srt.host}:${this.srt.port}` : "off", http: `${this.config.http.host}:${this.http.port}` }, 'sluice listening')
  }

  #drain: Promise<DrainResult> | null = null

  /**
   * Graceful shutdown (what the CLI does on SIGTERM/SIGINT; ts/drain.ts): refuses new
   * connections and requests (503), closes every publisher and tells every player its stream
   * ended at once (RTMP UnpublishNotify, HTTP-FLV end of response; WebRTC and the rest are
   * closed), waits up to `graceMs` (ms, default `shutdown.graceMs`) for clients to leave, then
   * `close()`. Idempotent: a second call returns the first's promise. Rejects with `RangeError` for a
   * negative `graceMs`.
   */
  drain(graceMs: number = this.config.shutdown.graceMs): Promise<DrainResult> {
    this.#drain ??= drain(this, graceMs)
    return this.#drain
  }

  /** Closes every connection and both listeners (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.eventLoopDelay.disable()
    await this.cluster?.close()
    this.rtpService.close()
    this.mixes.close()
    await this.recordings.close()
    this.hls.close()
    this.rtmpLinks.close()
    this.srt.close()
    this.whip.close()
    await Promise.allSettled([this.rtmp.close(), this.signaling.close(), this.http.close(), this.whep.close()])
    this.hub.close()
  }
}
