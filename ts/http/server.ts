/**
 * The HTTP server (node:http) and its small router. Built-in routes: `GET /healthz` answers
 * `{"status":"ok"}`, `GET /api/streams` lists live streams as JSON (`{streams: StreamInfo[]}`;
 * the publisher's address only for admins).
 *
 * Every route has an access class, given when it is added or taken from its path:
 * - `admin`: every `/api/...` route except the public ones below and the relay routes. The
 *   caller must be an admin (`adminRefusal`: `Authorization: Bearer <admin.token>`, or a loopback
 *   client when no token is configured); otherwise 401/403 with a text body, before the
 *   handler runs or any body is read. CORS headers only for `http.cors.adminOrigins` (never `*`).
 * - `public`: pages, players, WHIP/WHEP, `/healthz`, `/api/streams`, `/api/rooms`, `/api/stats`.
 *   CORS for `http.cors.origins`: the request's `Origin` echoed when listed, `*` when `*` is.
 * - `node`: `/api/relay/...` (authenticated by the relay secret, node to node): no CORS.
 * Preflights (`OPTIONS` with `Access-Control-Request-Method`) are answered here from the same
 * lists: 204 with the CORS headers for an allowed origin, 403 otherwise.
 *
 * No request reaches an uncaught exception: a request target `new URL()` rejects (absolute form
 * with a bad host or port) answers 400, in the request and the upgrade handler; malformed
 * percent-encoding in a route parameter answers 400; a body over `bodyLimitBytes` answers 413
 * (`Connection: close`); a handler throwing an `HttpRequestError` answers its status; any other
 * throw is logged and answers 500.
 */
import http from 'node:http'
import type { Duplex } from 'node:stream'
import type { z } from 'zod'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { IngestDiagnosticsInfo } from '../hub/ingest-diagnostics'
import { BodyTooLargeError, HttpRequestError, ListenError } from '../errors'
import type { Stream } from '../hub/stream'
import { adminRefusal, isAdmin } from './admin'

export { BodyTooLargeError } from '../errors'

export interface HttpOptions {
  /** TCP port. Default 8000. */
  port: number
  /** Address to bind. Default `0.0.0.0`. */
  host: string
  /** Largest request body any route reads, bytes; larger bodies answer 413. Default 64 KiB. */
  bodyLimitBytes: number
  cors: {
    /** Origins allowed to read public routes; `*` for any. Default `['*']`. */
    origins: string[]
    /** Origins allowed to call admin routes from a browser (never `*`). Default none. */
    adminOrigins: string[]
  }
  /** The admin credential (`admin.token`); null: only loopback clients are admins. Default null. */
  adminToken: string | null
}

export const defaultHttpOptions: HttpOptions = {
  port: 8000,
  host: '0.0.0.0',
  bodyLimitBytes: 64 * 1024,
  cors: { origins: ['*'], adminOrigins: [] },
  adminToken: null,
}

/** One entry of `GET /api/streams`. */
export interface StreamInfo {
  app: string
  name: string
  video: { codec: string; codecString?: string | null; width?: number; height?: number; frameRate?: number } | null
  audio: { codec: string; codecString?: string | null; sampleRate?: number | null; channels?: number | null } | null
  /** Incoming bitrate in bits/s over the last second. */
  bitrate: number
  bytesIn: number
  /** The publisher's protocol; its `address` (`ip:port`) only in answers to admins. */
  publisher: { protocol: string; address?: string } | null
  players: number
  /** Seconds since the publisher started. */
  uptime: number
  /** What in the publisher's stream slows viewers' starts or playback (B-frames, timestamps going back, GOPs past the cache, A/V drift). */
  ingest: IngestDiagnosticsInfo
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
    ingest: s.ingest.info,
  }
}

/** `params`: the pattern's groups, percent-decoded; `url`: the parsed request target. */
export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse, params: string[], url: URL) => void | Promise<void>

/** Who may call a route (see the module docs). */
export type RouteAccess = 'admin' | 'public' | 'node'

export interface RouteOptions {
  /** Default: from the path (`/api/relay/...` node, other `/api/...` admin unless public). */
  access?: RouteAccess
  /** Also answer `HEAD` (GET routes only). Default false. */
  head?: boolean
}

/** A registered route, as listed by `HttpServer.routes`. */
export interface RouteInfo {
  method: string
  pattern: RegExp
  /** The access class given when added, or null when it is taken from the request path. */
  access: RouteAccess | null
}

/** `/api/...` routes anyone may read. */
const PUBLIC_API = new Set(['/api/streams', '/api/rooms', '/api/stats'])

/** The access class of a request path, for routes added without one. */
export function accessOfPath(path: string): RouteAccess {
  if (path.startsWith('/api/relay/')) return 'node'
  if (path.startsWith('/api/') && !PUBLIC_API.has(path.replace(/\/+$/, ''))) return 'admin'
  return 'public'
}

/** Answers with a plain-text body. */
export function sendText(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** Answers with a JSON body. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** Body limits of requests being served, set by the server that took them. */
const bodyLimits = new WeakMap<http.IncomingMessage, number>()

/**
 * Reads a request body of at most `limit` bytes (default: the serving `HttpServer`'s
 * `bodyLimitBytes`). Rejects with `BodyTooLargeError` past it (or at once when `Content-Length`
 * announces more); the rest of the body is then read and discarded, so the 413 can be answered.
 */
export function readBody(req: http.IncomingMessage, limit = bodyLimits.get(req) ?? defaultHttpOptions.bodyLimitBytes): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) {
      req.resume()
      return reject(new BodyTooLargeError(limit))
    }
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onData = (c: Buffer) => {
      size += c.length
      if (size > limit) {
        cleanup()
        chunks.length = 0
        req.resume()
        reject(new BodyTooLargeError(limit))
        return
      }
      chunks.push(c)
    }
    const onEnd = () => {
      cleanup()
      resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const onError = (error: Error) => {
      cleanup()
      reject(new HttpRequestError(400, 'HTTP_BAD_REQUEST', `cannot read the body: ${error.message}`))
    }
    const onClose = () => {
      cleanup()
      reject(new HttpRequestError(400, 'HTTP_BAD_REQUEST', 'the request was aborted'))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/** The media type of a request (`Content-Type` without parameters, lower case), or ''. */
export function mediaType(req: http.IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
}

/**
 * Reads a JSON body and validates it with `schema`. Throws `HttpRequestError`: 415 when the
 * `Content-Type` is not `application/json` (so no CORS-simple request — `text/plain`, forms — can
 * carry it), 400 for bad JSON or a body the schema refuses (each issue named by its key path);
 * `BodyTooLargeError` (413) past the body limit. An empty body is `{}`.
 */
export async function readJson<S extends z.ZodType>(req: http.IncomingMessage, schema: S): Promise<z.output<S>> {
  if (mediaType(req) !== 'application/json') {
    throw new HttpRequestError(415, 'HTTP_UNSUPPORTED_MEDIA_TYPE', 'the body must be sent as Content-Type: application/json')
  }
  const text = await readBody(req)
  let value: unknown
  try {
    value = JSON.parse(text.trim() === '' ? '{}' : text)
  } catch (error) {
    throw new HttpRequestError(400, 'HTTP_BAD_REQUEST', `the body is not JSON: ${(error as Error).message}`)
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const path = i.path.map(String).join('.')
      const keys = (i as { keys?: string[] }).keys
      if (i.code === 'unrecognized_keys' && keys) return keys.map((k) => `${path ? `${path}.` : ''}${k}: unknown key`).join('; ')
      return `${path || '(body)'}: ${i.message}`
    })
    throw new HttpRequestError(400, 'HTTP_BAD_REQUEST', `invalid body: ${issues.join('; ')}`)
  }
  return parsed.data
}

/** The request target as a URL, or null when it cannot be parsed (e.g. `http://[/`). */
function requestUrl(target: string | undefined): URL | null {
  try {
    return new URL(target ?? '/', 'http://localhost')
  } catch {
    return null
  }
}

/**
 * Takes over an HTTP upgrade request (a WebSocket handshake). `params`: the pattern's groups,
 * percent-decoded (none for a plain path); `url` the parsed target.
 */
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer, params: string[], url: URL) => void

interface UpgradeRoute {
  pattern: string | RegExp
  handler: UpgradeHandler
}

interface Route {
  method: string
  pattern: RegExp
  handler: RouteHandler
  access: RouteAccess | null
  head: boolean
}

export class HttpServer {
  readonly options: HttpOptions
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #server: http.Server
  readonly #routes: Route[] = []
  readonly #upgrades: UpgradeRoute[] = []

  constructor(hub: StreamHub, log: Logger, options: Partial<HttpOptions> = {}) {
    this.options = { ...defaultHttpOptions, ...options, cors: { ...defaultHttpOptions.cors, ...options.cors } }
    this.#hub = hub
    this.#log = log.child({ component: 'http' })
    this.#server = http.createServer((req, res) => this.#handle(req, res))
    this.#server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head))
    this.route('GET', /^\/healthz$/, (_req, res) => sendJson(res, 200, { status: 'ok' }), { access: 'public', head: true })
    this.route('GET', /^\/api\/streams\/?$/, (req, res) => {
      const admin = isAdmin(req, this.options.adminToken)
      const streams = this.#hub.live().map((s) => {
        const info = describeStream(s)
        if (!admin && info.publisher) info.publisher = { protocol: info.publisher.protocol }
        return info
      })
      sendJson(res, 200, { streams })
    }, { access: 'public', head: true })
  }

  get port(): number {
    const a = this.#server.address()
    return typeof a === 'object' && a ? a.port : this.options.port
  }

  /** Every route added, the latest first (the order they are tried in). */
  get routes(): RouteInfo[] {
    return this.#routes.map((r) => ({ method: r.method, pattern: r.pattern, access: r.access }))
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
   * Adds a route: `pattern` is matched against the path; its groups, percent-decoded, are passed
   * to `handler` (malformed encoding answers 400 without calling it). Routes added later are
   * tried first. `options.access` says who may call it (default: from the path, see the module
   * docs). A handler throwing `HttpRequestError` answers its status; any other throw answers 500
   * (logged).
   */
  route(method: string, pattern: RegExp, handler: RouteHandler, options: RouteOptions = {}): void {
    this.#routes.unshift({ method, pattern, handler, access: options.access ?? null, head: options.head ?? false })
  }

  /**
   * Hands upgrade requests (WebSocket handshakes) to `handler`: `pattern` is an exact path or a
   * RegExp matched against the path, its groups passed as `params`. Added later means tried
   * first (as routes); a request no pattern matches gets 404, one with malformed percent-encoding
   * in a group 400.
   */
  onUpgrade(pattern: string | RegExp, handler: UpgradeHandler): void {
    this.#upgrades.unshift({ pattern, handler })
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {})
    const refuse = (status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    const url = requestUrl(req.url)
    if (!url) return void refuse('400 Bad Request')
    let handler: UpgradeHandler | null = null
    let params: string[] = []
    for (const u of this.#upgrades) {
      if (typeof u.pattern === 'string') {
        if (u.pattern !== url.pathname) continue
      } else {
        const m = u.pattern.exec(url.pathname)
        if (!m) continue
        try {
          params = m.slice(1).map((g) => decodeURIComponent(g ?? ''))
        } catch {
          return void refuse('400 Bad Request')
        }
      }
      handler = u.handler
      break
    }
    if (!handler) return void refuse('404 Not Found')
    try {
      handler(req, socket, head, params, url)
    } catch (error) {
      this.#log.error({ err: String(error), path: url.pathname }, 'upgrade handler failed')
      if (socket.writable) refuse('500 Internal Server Error')
      socket.destroy()
    }
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      this.#dispatch(req, res)
    } catch (error) {
      this.#failed(req, res, error)
    }
  }

  #dispatch(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = requestUrl(req.url)
    if (!url) return sendText(res, 400, 'malformed request target')
    bodyLimits.set(req, this.options.bodyLimitBytes)
    const path = url.pathname
    this.#log.debug({ method: req.method, path }, 'request')
    const methods = new Set<string>()
    let found: { route: Route; match: RegExpExecArray } | null = null
    for (const r of this.#routes) {
      const m = r.pattern.exec(path)
      if (!m) continue
      methods.add(r.method)
      if (r.head) methods.add('HEAD')
      if (!found && (r.method === req.method || (req.method === 'HEAD' && r.head))) found = { route: r, match: m }
    }
    if (!found) {
      if (methods.size === 0) return sendJson(res, 404, { error: `no route for ${path}` })
      if (req.method === 'OPTIONS') return this.#preflight(req, res, path, methods)
      return sendJson(res, 405, { error: 'method not allowed' }, { Allow: [...methods].join(', ') })
    }
    const { route, match } = found
    const access = route.access ?? accessOfPath(path)
    const origin = this.#allowedOrigin(req, access)
    if (origin) {
      res.setHeader('Access-Control-Allow-Origin', origin)
      if (origin !== '*') res.setHeader('Vary', 'Origin')
    }
    if (access === 'admin') {
      const refusal = adminRefusal(req, this.options.adminToken)
      if (refusal) {
        const headers: Record<string, string> = refusal.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="sluice admin"' } : {}
        return sendText(res, refusal.status, `admin API: ${refusal.reason}`, headers)
      }
    }
    let params: string[]
    try {
      params = match.slice(1).map((x) => decodeURIComponent(x ?? ''))
    } catch {
      return sendText(res, 400, 'malformed percent-encoding in the path')
    }
    Promise.resolve()
      .then(() => route.handler(req, res, params, url))
      .catch((error: unknown) => this.#failed(req, res, error))
  }

  /** A handler failed: its `HttpRequestError` status, or 500 (logged). */
  #failed(req: http.IncomingMessage, res: http.ServerResponse, error: unknown): void {
    if (error instanceof HttpRequestError) {
      if (res.headersSent) return void res.destroy()
      // after a 413 the rest of the body is not read: close once the answer is written
      return sendText(res, error.status, error.message, error instanceof BodyTooLargeError ? { Connection: 'close' } : {})
    }
    this.#log.error({ err: String(error), stack: (error as Error)?.stack, method: req.method, target: req.url }, 'request handler failed')
    if (!res.headersSent) sendText(res, 500, 'internal error')
    else res.destroy()
  }

  /** The `Access-Control-Allow-Origin` for this request to a route of `access`, or null for none. */
  #allowedOrigin(req: http.IncomingMessage, access: RouteAccess): string | null {
    const origin = req.headers.origin
    if (access === 'node') return null
    if (access === 'admin') return origin && this.options.cors.adminOrigins.includes(origin) ? origin : null
    if (origin && this.options.cors.origins.includes(origin)) return origin
    return this.options.cors.origins.includes('*') ? '*' : null
  }

  /** `OPTIONS` on a path without its own OPTIONS route: a CORS preflight, or the `Allow` list. */
  #preflight(req: http.IncomingMessage, res: http.ServerResponse, path: string, methods: Set<string>): void {
    const wanted = req.headers['access-control-request-method']
    const allow = [...methods, 'OPTIONS'].join(', ')
    if (!wanted || !req.headers.origin) {
      res.writeHead(204, { Allow: allow })
      return void res.end()
    }
    const route = this.#routes.find((r) => r.method === wanted && r.pattern.test(path))
    const origin = route ? this.#allowedOrigin(req, route.access ?? accessOfPath(path)) : null
    if (!origin) return sendText(res, 403, `CORS: origin ${req.headers.origin} may not ${wanted} ${path}`)
    res.writeHead(204, {
      'Access-Control-Allow-Origin': origin,
      ...(origin === '*' ? {} : { Vary: 'Origin' }),
      'Access-Control-Allow-Methods': allow,
      'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
      'Access-Control-Max-Age': '600',
      Allow: allow,
    })
    res.end()
  }

  /**
   * Stops listening (the port is free for a replacement process); connections already open go
   * on (idle keep-alive ones are closed). `close()` later ends the rest.
   */
  stopAccepting(): void {
    if (this.#server.listening) this.#server.close()
  }

  close(): Promise<void> {
    this.#server.closeAllConnections()
    return new Promise((resolve) => (this.#server.listening ? this.#server.close(() => resolve()) : resolve()))
  }
}
