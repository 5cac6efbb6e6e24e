/**
 * An RTMP pull: Sluice plays a stream from another RTMP(S) server ([`RtmpClient`](./client.ts)
 * in play mode) and publishes it as a hub stream, for every protocol's players.
 *
 * Made by `POST /api/pulls` (kept until deleted, reconnecting with `ReconnectSchedule`), or on
 * demand by a config rule (`rtmp.pulls`): a player asks for a stream that is not live, the pull
 * starts, and it ends `idleMs` after the last player left (or when the origin ends the stream).
 */
import type { Stream, Publisher } from '../hub/stream'
import type { StreamHub } from '../hub/stream-hub'
import type { Logger } from '../log'
import type { ClientRegistry, ClientSession } from '../clients/registry'
import { native, MEDIA_FLAG_KEYFRAME, MEDIA_FLAG_SEQUENCE_HEADER } from '../native'
import { RequestRejectedError } from '../errors'
import { ReconnectSchedule } from '../hub/reconnect'
import { RtmpClient, type RtmpLinkOptions } from './client'
import { redact } from './push'
import { RtmpRedirects } from './redirect'

export interface RtmpPullOptions extends RtmpLinkOptions {
  /** On demand: ends this long after the stream has no players (and does not reconnect without them). */
  idleMs: number | null
  /** False: a dropped connection ends the pull (a cluster link, which its owner makes again). Default true. */
  reconnect?: boolean
  /** A cluster link: a local publisher of the stream replaces it (`Publisher.replaceable`). */
  replaceable?: boolean
  onEnd?: (pull: RtmpPull) => void
}

export class RtmpPull {
  readonly id: string
  readonly app: string
  readonly name: string
  readonly #options: RtmpPullOptions
  readonly #hub: StreamHub
  readonly #clients: ClientRegistry
  readonly #log: Logger
  readonly #reconnect = new ReconnectSchedule()
  readonly #redirects: RtmpRedirects
  #client: RtmpClient | null = null
  #stream: Stream | null = null
  #publisher: Publisher | null = null
  #session: ClientSession | null = null
  #idleSince: number | null = null
  readonly #idleTimer: NodeJS.Timeout | null
  #closed = false
  connects = 0
  framesReceived = 0
  bytesReceived = 0
  lastError: string | null = null

  constructor(hub: StreamHub, log: Logger, clients: ClientRegistry, options: RtmpPullOptions) {
    this.id = options.id
    this.app = options.app
    this.name = options.stream
    this.#options = options
    this.#hub = hub
    this.#clients = clients
    this.#redirects = new RtmpRedirects({ url: options.url, address: options.address }, options.checkRedirect ?? null)
    this.#log = log.child({ pull: options.id, stream: `${options.app}/${options.stream}`, origin: redact(options.url) })
    this.#idleTimer = options.idleMs === null ? null : setInterval(() => this.#checkIdle(), Math.min(1000, options.idleMs))
    this.#idleTimer?.unref()
    this.#connect()
  }

  #players(): number {
    return this.#hub.get(this.app, this.name)?.subscribers.size ?? 0
  }

  #checkIdle(): void {
    if (this.#players() > 0) {
      this.#idleSince = null
      return
    }
    this.#idleSince ??= Date.now()
    if (Date.now() - this.#idleSince >= this.#options.idleMs!) this.close(`no players for ${this.#options.idleMs} ms`)
  }

  #connect(): void {
    if (this.#closed || this.#client) return
    const o = this.#options
    const { url, address } = this.#redirects.target
    const client = new RtmpClient(url, 'play', { chunkSize: o.chunkSize, connectTimeoutMs: o.connectTimeoutMs, ca: o.ca, address })
    this.#client = client
    client.on('ready', () => this.#onReady(client))
    client.on('redirect', (to) => this.#redirects.redirected(to))
    client.on('metadata', (meta) => this.#stream?.setMetadata(native.encodeAmf0(['onMetaData', meta]), meta))
    client.on('media', (kind, timestamp, payload, flags, cts) => {
      const stream = this.#stream
      if (!stream) return
      this.framesReceived++
      this.bytesReceived += payload.length
      stream.pushFrame(kind, timestamp, payload, (flags & MEDIA_FLAG_KEYFRAME) !== 0, (flags & MEDIA_FLAG_SEQUENCE_HEADER) !== 0, cts)
    })
    client.on('unpublished', () => client.close('the origin ended the stream'))
    client.on('closed', (reason) => this.#onClosed(client, reason))
  }

  #onReady(client: RtmpClient): void {
    const publisher: Publisher = {
      id: this.id, protocol: 'rtmp', remoteAddress: `${this.#options.address}:${this.#options.url.port}`, replaceable: this.#options.replaceable ?? false,
      close: (reason) => client.close(reason),
    }
    try {
      this.#stream = this.#hub.publish(this.app, this.name, publisher)
    } catch (error) {
      if (!(error instanceof RequestRejectedError)) throw error
      this.close(error.message)
      return
    }
    this.#publisher = publisher
    this.#redirects.connected()
    this.connects++
    this.#reconnect.succeeded()
    this.#session = {
      id: this.id, protocol: 'rtmp', role: 'publisher', app: this.app, stream: this.name, remoteAddress: publisher.remoteAddress, startedAt: Date.now(),
      counters: () => ({ bytesIn: client.bytesRead, bytesOut: client.bytesWritten, queueBytes: 0 }),
      details: () => ({ pull: true, origin: redact(this.#options.url) }),
      close: (reason) => this.close(reason),
    }
    this.#clients.add(this.#session)
    this.#log.info('RTMP pull connected')
  }

  #onClosed(client: RtmpClient, reason: string): void {
    if (this.#client !== client) return
    this.#client = null
    this.lastError = reason
    if (this.#stream && this.#publisher) this.#hub.unpublish(this.#stream, this.#publisher)
    this.#stream = null
    this.#publisher = null
    if (this.#session) this.#clients.remove(this.#session, reason)
    this.#session = null
    if (this.#closed) return
    void this.#redirects.closed().then((next) => {
      if (this.#closed || this.#client) return
      if (next.follow) {
        this.#log.info({ to: redact(this.#redirects.target.url) }, 'RTMP pull redirected')
        return this.#connect()
      }
      this.#retry(next.refused ?? reason)
    })
  }

  #retry(reason: string): void {
    this.lastError = reason
    if (this.#options.reconnect === false || (this.#options.idleMs !== null && this.#players() === 0)) return this.close(reason)
    const retryInMs = this.#reconnect.schedule(() => this.#connect())
    this.#log.warn({ reason, retryInMs }, 'RTMP pull dropped: connecting again')
  }

  /** For `GET /api/pulls`. */
  stats(): Record<string, unknown> {
    return {
      id: this.id, app: this.app, name: this.name, url: redact(this.#options.url), onDemand: this.#options.idleMs !== null,
      state: this.#closed ? 'closed' : this.#client?.state ?? (this.#reconnect.pendingInMs !== null ? 'waiting to reconnect' : 'idle'),
      connected: this.#client?.state === 'ready', connects: this.connects, reconnects: this.#reconnect.attempts,
      framesReceived: this.framesReceived, bytesReceived: this.bytesReceived, lastError: this.lastError, retryInMs: this.#reconnect.pendingInMs,
    }
  }

  /** Stops pulling (idempotent): the connection closes, the stream is unpublished. */
  close(reason = 'pull deleted'): void {
    if (this.#closed) return
    this.#closed = true
    this.#reconnect.cancel()
    if (this.#idleTimer) clearInterval(this.#idleTimer)
    const client = this.#client
    if (client) {
      client.close(reason)
      this.#onClosed(client, reason)
    }
    this.#log.info({ reason, framesReceived: this.framesReceived }, 'RTMP pull ended')
    this.#options.onEnd?.(this)
  }
}
