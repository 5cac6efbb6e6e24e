/**
 * The HTTP API (node:http): `GET /api/streams` lists live streams as JSON, `GET /healthz`
 * answers `{"status":"ok"}`. CORS is open for GET.
 */
import http from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import { ListenError } from '../errors'
import type { Stream } from '../hub/stream'

export interface HttpOptions {
  /** TCP port. Default 8000. */
  port: number
  /** Address to bind. Default `0.0.0.0`. */
  host: string
}

export const defaultHttpOptions: HttpOptions = { port: 8000, host: '0.0.0.0' }

/** One entry of `GET /api/streams`. */
export interface StreamInfo {
  app: string
  name: string
  video: { codec: string; codecString?: string | null; width?: number; height?: number; frameRate?: number } | null
  audio: { codec: string; codecString?: string | null; sampleRate?: number | null; channels?: number | null } | null
  /** Incoming bitrate in bits/s over the last second. */
  bitrate: number
  bytesIn: number
  publisher: { protocol: string; address: string } | null
  players: number
  /** Seconds since the publisher started. */
  uptime: number
}

export function describeStream(s: Stream, now = Date.now()): StreamInfo {
  const meta = s.metadataValues ?? {}
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
  return {
    app: s.app,
    name: s.name,
    video: s.video
      ? { codec: s.video.codec, codecString: s.video.codecString ?? null, width: num(meta.width), height: num(meta.height), frameRate: num(meta.framerate) }
      : null,
    audio: s.audio
      ? { codec: s.audio.codec, codecString: s.audio.codecString ?? null, sampleRate: s.audio.sampleRate ?? null, channels: s.audio.channels ?? null }
      : null,
    bitrate: s.bitrate(now),
    bytesIn: s.bytesIn,
    publisher: s.publisher ? { protocol: s.publisher.protocol, address: s.publisher.remoteAddress } : null,
    players: s.subscribers.size,
    uptime: s.isLive ? Math.round((now - s.publishedAt) / 1000) : 0,
  }
}

export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse, params: string[], url: URL) => void | Promise<void>

/** Answers with a plain-text body. */
export function sendText(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** Reads a request body of at most `limit` bytes; rejects with a `BodyTooLargeError` past it. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) {
        reject(new BodyTooLargeError(`request body over ${limit} bytes`))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

export class BodyTooLargeError extends Error {}

/** Takes over an HTTP upgrade request (a WebSocket handshake) on its path. */
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void

export class HttpServer {
  readonly options: HttpOptions
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #server: http.Server
  readonly #routes: { method: string; pattern: RegExp; handler: RouteHandler }[] = []
  readonly #upgrades = new Map<string, UpgradeHandler>()

  constructor(hub: StreamHub, log: Logger, options: Partial<HttpOptions> = {}) {
    this.options = { ...defaultHttpOptions, ...options }
    this.#hub = hub
    this.#log = log.child({ component: 'http' })
    this.#server = http.createServer((req, res) => this.#handle(req, res))
    this.#server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head))
  }

  get port(): number {
    const a = this.#server.address()
    return typeof a === 'object' && a ? a.port : this.options.port
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new ListenError(err.code ?? 'LISTEN_FAILED', `HTTP cannot listen on ${this.options.host}:${this.options.port}: ${err.message}`))
      }
      this.#server.once('error', onError)
      this.#server.listen(this.options.port, this.options.host, () => {
        this.#server.off('error', onError)
        resolve()
      })
    })
  }

  /**
   * Adds a route: `pattern` is matched against the path; its groups are passed to `handler`.
   * Routes added later are tried first. A throwing or rejecting handler answers 500 (logged).
   */
  route(method: string, pattern: RegExp, handler: RouteHandler): void {
    this.#routes.unshift({ method, pattern, handler })
  }

  /** Hands upgrade requests (WebSocket handshakes) on `path` to `handler`; others get 404. */
  onUpgrade(path: string, handler: UpgradeHandler): void {
    this.#upgrades.set(path, handler)
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    const handler = this.#upgrades.get(path)
    socket.on('error', () => {})
    if (!handler) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    handler(req, socket, head)
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost')
    res.setHeader('Access-Control-Allow-Origin', '*')
    this.#log.debug({ method: req.method, path: url.pathname }, 'request')
    for (const r of this.#routes) {
      const m = r.pattern.exec(url.pathname)
      if (!m || (r.method !== '*' && r.method !== req.method)) continue
      Promise.resolve()
        .then(() => r.handler(req, res, m.slice(1).map((x) => decodeURIComponent(x ?? '')), url))
        .catch((err: unknown) => {
          this.#log.error({ err: String(err), path: url.pathname }, 'request handler failed')
          if (!res.headersSent) sendText(res, 500, 'internal error')
          else res.destroy()
        })
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return this.#json(res, 405, { error: 'method not allowed' })
    }
    switch (url.pathname) {
      case '/healthz':
        return this.#json(res, 200, { status: 'ok' })
      case '/api/streams':
        return this.#json(res, 200, { streams: this.#hub.live().map((s) => describeStream(s)) })
      default:
        return this.#json(res, 404, { error: `no route for ${url.pathname}` })
    }
  }

  #json(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body)
    res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) })
    res.end(text)
  }

  close(): Promise<void> {
    this.#server.closeAllConnections()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}
