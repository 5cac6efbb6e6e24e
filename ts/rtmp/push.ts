/**
 * An RTMP push: a hub stream sent to another RTMP(S) server (a CDN ingest, nginx-rtmp, SRS) over
 * one outgoing connection ([`RtmpClient`](./client.ts) in publish mode).
 *
 * The push subscribes to its stream and connects while the stream is live: metadata, sequence
 * headers and the cached GOP first (so the target starts on a keyframe), then live frames, cut
 * once per stream (`wireBytes`, shared with RTMP players). A connection that drops while the
 * stream is live is made again after 1 s, doubling up to 30 s (reset once a connection has
 * lasted 10 s); the hub stream and its players never notice. When the publisher leaves (after the
 * hub's grace period) the connection is closed with `FCUnpublish`/`deleteStream`; a push made
 * by a config rule (`endWithStream`) ends there, one made by the API waits for the next publish.
 * A slow target skips to the next keyframe like a slow player (`KeyframeGate`).
 */
import type { Stream, Subscriber } from '../hub/stream'
import type { StreamHub } from '../hub/stream-hub'
import { wireBytes, type MediaFrame } from '../hub/media-frame'
import { KeyframeGate } from '../hub/keyframe-gate'
import type { Logger } from '../log'
import { ReconnectSchedule } from '../hub/reconnect'
import { RtmpRedirects } from './redirect'
import { RtmpClient, type RtmpLinkOptions, type RtmpUrl } from './client'

export interface RtmpPushOptions extends RtmpLinkOptions {
  queueBytes: number
  maxBehindMs: number
  /** Made by a config rule: ends when the stream's publisher leaves. */
  endWithStream: boolean
  /** Called once when the push has ended (closed or ended with its stream). */
  onEnd?: (push: RtmpPush) => void
}

/** What `GET /api/pushes` shows of a push. */
export interface RtmpPushStats {
  id: string
  app: string
  name: string
  /** The target with the stream key hidden (`rtmp://host/app/***`). */
  url: string
  state: string
  connected: boolean
  /** Connections that reached `NetStream.Publish.Start`. */
  connects: number
  /** Connections attempted after a drop or failure. */
  reconnects: number
  framesSent: number
  framesDropped: number
  bytesSent: number
  lastError: string | null
  /** Ms until the next attempt, when waiting to reconnect. */
  retryInMs: number | null
  rule: boolean
}

/** A connection that lasted this long resets the reconnect delay. */
const STABLE_MS = 10_000

export class RtmpPush implements Subscriber {
  readonly id: string
  readonly app: string
  readonly name: string
  readonly #options: RtmpPushOptions
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #stream: Stream
  #client: RtmpClient | null = null
  #gate: KeyframeGate
  readonly #reconnect = new ReconnectSchedule()
  readonly #redirects: RtmpRedirects
  #readyAt = 0
  #closed = false
  connects = 0
  framesSent = 0
  bytesSent = 0
  #framesDroppedBefore = 0
  lastError: string | null = null

  constructor(hub: StreamHub, log: Logger, options: RtmpPushOptions) {
    this.id = options.id
    this.app = options.app
    this.name = options.stream
    this.#options = options
    this.#hub = hub
    this.#log = log.child({ push: options.id, stream: `${options.app}/${options.stream}`, target: redact(options.url) })
    this.#gate = new KeyframeGate(options.queueBytes, options.maxBehindMs)
    this.#redirects = new RtmpRedirects({ url: options.url, address: options.address }, options.checkRedirect ?? null)
    this.#stream = hub.subscribe(options.app, options.stream, this)
    if (this.#stream.isLive) this.#connect()
  }

  #connect(): void {
    if (this.#closed || this.#client || !this.#stream.isLive) return
    const o = this.#options
    const { url, address } = this.#redirects.target
    const client = new RtmpClient(url, 'publish', { chunkSize: o.chunkSize, connectTimeoutMs: o.connectTimeoutMs, ca: o.ca, address })
    this.#client = client
    this.#gate = new KeyframeGate(o.queueBytes, o.maxBehindMs)
    client.on('ready', () => this.#onReady(client))
    client.on('redirect', (to) => this.#redirects.redirected(to))
    client.on('closed', (reason) => this.#onClosed(client, reason))
  }

  #onReady(client: RtmpClient): void {
    this.connects++
    this.#redirects.connected()
    this.#readyAt = Date.now()
    this.#log.info('RTMP push connected')
    const s = this.#stream
    if (s.metadata) client.sendMetadata(s.metadata)
    for (const h of s.sequenceHeaders) this.#write(client, h)
    if (s.gop.length > 0) {
      this.#gate.startedOnGop()
      for (const f of s.gop) this.#write(client, f)
    }
  }

  #onClosed(client: RtmpClient, reason: string): void {
    if (this.#client !== client) return
    this.#client = null
    this.#framesDroppedBefore += this.#gate.framesDropped
    if (this.#closed) return
    const lasted = this.#readyAt ? Date.now() - this.#readyAt : 0
    this.#readyAt = 0
    if (!this.#stream.isLive) return // the publisher left: wait for the next one
    void this.#redirects.closed().then((next) => {
      if (this.#closed || this.#client) return
      if (next.follow) {
        this.#log.info({ to: redact(this.#redirects.target.url) }, 'RTMP push redirected')
        return this.#connect()
      }
      this.lastError = next.refused ?? reason
      if (lasted >= STABLE_MS) this.#reconnect.succeeded()
      const wait = this.#reconnect.schedule(() => this.#connect())
      this.#log.warn({ reason: this.lastError, retryInMs: wait }, 'RTMP push dropped: connecting again')
    })
  }

  #write(client: RtmpClient, frame: MediaFrame): void {
    const bytes = wireBytes(frame, client.messageStreamId, this.#options.chunkSize)
    this.framesSent++
    this.bytesSent += bytes.length
    client.writeRaw(bytes)
  }

  onPublish(): void {
    this.#reconnect.succeeded()
    this.#reconnect.cancel()
    this.#connect()
  }

  onUnpublish(): void {
    this.#client?.close('the publisher left')
    this.#client = null
    if (this.#options.endWithStream) this.close('the publisher left')
  }

  onMetadata(_stream: Stream, payload: Buffer): void {
    if (this.#client?.state === 'ready') this.#client.sendMetadata(payload)
  }

  onFrame(stream: Stream, frame: MediaFrame): void {
    const client = this.#client
    if (!client || client.state !== 'ready') {
      // Not connected yet: when it is, the cached GOP goes first.
      return
    }
    if (frame.sequenceHeader) return this.#write(client, frame)
    switch (this.#gate.admit(stream, frame, client.queuedBytes)) {
      case 'send':
        return this.#write(client, frame)
      case 'behind':
        this.#log.warn({ queued: client.queuedBytes }, 'RTMP push target behind: skipping to the next keyframe')
        return
      case 'disconnect':
        client.close(`target stayed behind for more than ${this.#options.maxBehindMs} ms`)
        return
      case 'drop':
        return
    }
  }

  stats(): RtmpPushStats {
    const client = this.#client
    return {
      id: this.id, app: this.app, name: this.name, url: redact(this.#options.url),
      state: this.#closed ? 'closed' : client ? client.state : this.#reconnect.pendingInMs !== null ? 'waiting to reconnect' : 'waiting for the stream',
      connected: client?.state === 'ready', connects: this.connects, reconnects: this.#reconnect.attempts,
      framesSent: this.framesSent, framesDropped: this.#framesDroppedBefore + (client ? this.#gate.framesDropped : 0), bytesSent: this.bytesSent,
      lastError: this.lastError, retryInMs: this.#reconnect.pendingInMs, rule: this.#options.endWithStream,
    }
  }

  /** Ends the push (idempotent): the connection closes, the stream is left. */
  close(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.#reconnect.cancel()
    this.#client?.close(reason)
    this.#client = null
    this.#hub.unsubscribe(this.#stream, this)
    this.#log.info({ reason, framesSent: this.framesSent, connects: this.connects }, 'RTMP push ended')
    this.#options.onEnd?.(this)
  }
}

/** The URL without its stream key (a secret at most CDNs). */
export function redact(url: RtmpUrl): string {
  return `${url.tcUrl}/***`
}
