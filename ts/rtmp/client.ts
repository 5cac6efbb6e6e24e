/**
 * The client side of RTMP: one outgoing connection (TCP, or TLS for `rtmps://`) that publishes
 * to or plays from another server, on the native sans-IO session in client role.
 *
 * States: `connecting` → (TCP/TLS up, C0+C1 sent) → `handshake` → (S2 read, `connect` sent) →
 * `connecting-app` → (`_result`; publish: `releaseStream`, `FCPublish`, `createStream`; play:
 * `createStream`) → (`publish`/`play` sent on the new message stream) → `ready`
 * (`NetStream.Publish.Start` / `NetStream.Play.Start`) → `closed`. The commands and their order
 * are the ones OBS and ffmpeg send (RTMP 1.0 §7.2), which nginx-rtmp, SRS and CDN ingests expect.
 *
 * Errors: a refused `connect`, `publish` or `play` (an `_error` or an `onStatus` of level
 * `error`), malformed input, a socket error or no `ready` within `connectTimeoutMs` close the
 * connection with the reason; `closed` is emitted once.
 */
import net from 'node:net'
import tls from 'node:tls'
import { TypedEmitter } from '../events'
import { native, type NativeRtmpSession, type RtmpEvent } from '../native'
import { badLinkUrl, parseLinkUrl } from '../http/link-routes'
import { RtmpSessionReader } from './session-reader'

/** An `rtmp://` or `rtmps://` URL cut the way RTMP clients cut it. */
export interface RtmpUrl {
  /** `rtmps://`: TLS. */
  secure: boolean
  host: string
  /** Default 1935 (`rtmp`) or 443 (`rtmps`). */
  port: number
  /** Everything between the host and the last path segment (`live`, `app/instance`), with the query if it was on the app. */
  app: string
  /** The last path segment and the query (`key?token=...`): what `publish`/`play` get. */
  stream: string
  /** `rtmp[s]://host[:port]/app`: the `connect` command's `tcUrl`. */
  tcUrl: string
}

/**
 * Reads `rtmp[s]://host[:port]/app[/instance]/stream[?query]`. Throws `HttpRequestError` 400
 * (`HTTP_BAD_REQUEST`) for another scheme or a URL without an app and a stream name.
 */
export function parseRtmpUrl(text: string): RtmpUrl {
  const url = parseLinkUrl(text, ['rtmp:', 'rtmps:'], 'rtmp:// or rtmps://')
  const secure = url.protocol === 'rtmps:'
  const port = url.port ? Number(url.port) : secure ? 443 : 1935
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent)
  if (!url.hostname || parts.length < 2) badLinkUrl('needs a host, an app and a stream name (rtmp://host/app/stream)')
  const app = parts.slice(0, -1).join('/')
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const hostPart = host.includes(':') ? `[${host}]` : host
  return {
    secure, host, port, app,
    stream: parts[parts.length - 1]! + url.search,
    tcUrl: `${url.protocol}//${hostPart}${url.port ? `:${url.port}` : ''}/${app}`,
  }
}

/** What a push or a pull needs to make its connections. */
export interface RtmpLinkOptions {
  id: string
  /** The hub stream pushed or pulled into. */
  app: string
  stream: string
  /** The other server and its stream. */
  url: RtmpUrl
  /** `url.host` resolved (and, for API links, checked against the destination policy). */
  address: string
  chunkSize: number
  connectTimeoutMs: number
  /** Extra CA certificates (PEM) for `rtmps://`. */
  ca?: Buffer[]
  /**
   * Resolves a redirect's host (RTMP 302, ts/rtmp/redirect.ts) to the address to connect to,
   * rejecting one that may not be used; without it redirects are not followed.
   */
  checkRedirect?: (host: string) => Promise<string>
}

export interface RtmpClientOptions {
  /** Outgoing chunk size, bytes (what `wireBytes` frames are cut for). */
  chunkSize: number
  /** `ready` must come within this, ms. */
  connectTimeoutMs: number
  /** Extra CA certificates (PEM) trusted for `rtmps://` besides Node's. */
  ca?: string | Buffer | Array<string | Buffer>
  /** The resolved address to connect to (checked against the destination policy); default `url.host`. */
  address?: string
}

export type RtmpClientEvents = {
  /** Publishing or playing has started on `messageStreamId`. */
  ready: [messageStreamId: number]
  /** Play: an audio or video message (FLV tag body, a view valid for this call unless kept). */
  media: [kind: 'audio' | 'video', timestamp: number, payload: Buffer, flags: number, compositionTime: number]
  /** Play: `onMetaData` (the object). */
  metadata: [meta: Record<string, unknown>]
  /** Play: the server said the stream ended (`NetStream.Play.UnpublishNotify`, `...Play.Stop`). */
  unpublished: []
  /**
   * The server sent this client elsewhere (an RTMP 302 redirect, see ts/rtmp/redirect.ts): the
   * full URL, stream included. The connection closes right after.
   */
  redirect: [url: string]
  /** The connection closed (once), with the reason. */
  closed: [reason: string]
}

type State = 'connecting' | 'handshake' | 'connecting-app' | 'creating-stream' | 'starting' | 'ready' | 'closed'

const TX_CONNECT = 1
/**
 * Enhanced RTMP v2 properties of our `connect`: every codec can be forwarded (`"*":
 * CanForward`, 0x04; `fourCcList` for v1 servers) and multitrack, ModEx and nanosecond offsets
 * parsed (`capsEx` 0x0E).
 */
const ENHANCED_RTMP_CONNECT = { fourCcList: ['*'], videoFourCcInfoMap: { '*': 0x04 }, audioFourCcInfoMap: { '*': 0x04 }, capsEx: 0x0e }
const TX_CREATE_STREAM = 4

export class RtmpClient extends TypedEmitter<RtmpClientEvents> {
  readonly url: RtmpUrl
  readonly mode: 'publish' | 'play'
  readonly #options: RtmpClientOptions
  readonly #socket: net.Socket
  readonly #session: NativeRtmpSession
  readonly #reader: RtmpSessionReader
  readonly #timer: NodeJS.Timeout
  #state: State = 'connecting'
  #messageStreamId = 0
  #serverProperties: Record<string, unknown> = {}

  constructor(url: RtmpUrl, mode: 'publish' | 'play', options: RtmpClientOptions) {
    super()
    this.url = url
    this.mode = mode
    this.#options = options
    this.#session = new native.RtmpSession({ role: 'client', handshake: 'simple' })
    this.#reader = new RtmpSessionReader(this.#session, {
      event: (e) => this.#onEvent(e),
      media: (kind, msid, timestamp, payload, flags, cts) => {
        if (msid === this.#messageStreamId && this.mode === 'play') this.emit('media', kind, timestamp, payload, flags, cts)
      },
      transmit: (bytes) => this.#write(bytes),
      closed: () => this.#state === 'closed',
      protocolError: (error) => this.close(`${error.code}: ${error.message}`),
    })
    const host = options.address ?? url.host
    this.#socket = url.secure
      ? tls.connect({ host, port: url.port, servername: net.isIP(url.host) ? undefined : url.host, ca: options.ca ? [...tls.rootCertificates, ...[options.ca].flat()] : undefined })
      : net.connect({ host, port: url.port })
    this.#socket.setNoDelay(true)
    this.#socket.once(url.secure ? 'secureConnect' : 'connect', () => {
      if (this.#state !== 'connecting') return
      this.#state = 'handshake'
      this.#flush() // C0 + C1
    })
    this.#socket.on('data', (data: Buffer) => {
      if (this.#state !== 'closed') this.#reader.read(data)
    })
    this.#socket.on('error', (err) => this.close(`socket error: ${err.message}`))
    this.#socket.on('close', () => this.close('the server closed the connection'))
    this.#timer = setTimeout(() => {
      if (this.#state !== 'ready') this.close(`not ${this.mode === 'publish' ? 'publishing' : 'playing'} within ${options.connectTimeoutMs} ms (stuck at ${this.#state})`)
    }, options.connectTimeoutMs)
    this.#timer.unref()
  }

  get state(): string {
    return this.#state
  }
  /**
   * The properties object of the server's `connect` answer (`fmsVer`, `capabilities`, and for an
   * Enhanced RTMP server `capsEx`, `videoFourCcInfoMap`, …); empty before it.
   */
  get serverProperties(): Record<string, unknown> {
    return this.#serverProperties
  }

  /** The message stream id of the publish or play (0 before `ready`). */
  get messageStreamId(): number {
    return this.#messageStreamId
  }
  /** Bytes written and not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.#socket.writableLength
  }
  get bytesWritten(): number {
    return this.#socket.bytesWritten
  }
  get bytesRead(): number {
    return this.#socket.bytesRead
  }

  /** Writes ready chunk bytes (publish: `wireBytes` of hub frames) after what is queued. */
  writeRaw(bytes: Buffer): void {
    if (this.#state !== 'ready') return
    this.#flush()
    this.#socket.write(bytes)
  }

  /** Publish: sends `@setDataFrame onMetaData` with a ready AMF0 `onMetaData` payload. */
  sendMetadata(payload: Buffer): void {
    if (this.#state !== 'ready') return
    this.#session.sendMessage(5, 0, 18, this.#messageStreamId, Buffer.concat([SET_DATA_FRAME, payload]))
    this.#flush()
  }

  #write(bytes: Buffer): void {
    if (this.#state !== 'closed') this.#socket.write(bytes)
  }

  #flush(): void {
    const out = this.#session.takeTransmit()
    if (out) this.#write(out)
  }

  #onEvent(e: RtmpEvent): void {
    if (e.kind === 'handshake') {
      this.#state = 'connecting-app'
      const s = this.#session
      s.setChunkSize(this.#options.chunkSize)
      s.sendCommand(0, 'connect', TX_CONNECT, {
        app: this.url.app,
        type: 'nonprivate',
        flashVer: 'FMLE/3.0 (compatible; Sluice)',
        tcUrl: this.url.tcUrl,
        ...(this.mode === 'play' ? { fpad: false, capabilities: 15, audioCodecs: 3191, videoCodecs: 252, videoFunction: 1 } : {}),
        // Enhanced RTMP: Sluice forwards every codec, multitrack, ModEx and nanosecond offsets
        ...ENHANCED_RTMP_CONNECT,
      })
      this.#flush()
      return
    }
    if (e.kind === 'data' && this.mode === 'play' && e.messageStreamId === this.#messageStreamId) {
      let values = e.values ?? []
      if (values[0] === '@setDataFrame') values = values.slice(1)
      if (values[0] === 'onMetaData' && values[1] && typeof values[1] === 'object') this.emit('metadata', values[1] as Record<string, unknown>)
      return
    }
    if (e.kind !== 'command') return
    const name = e.name ?? ''
    const tx = e.transactionId ?? 0
    const info = (e.values?.[0] ?? {}) as { level?: string; code?: string; description?: string; ex?: { code?: number; redirect?: unknown; redirect2?: unknown } }
    if (name === '_error') return this.close(`${describe(tx)} refused: ${info.code ?? ''} ${info.description ?? ''}`.trim())
    if (name === '_result' && tx === TX_CONNECT && this.#state === 'connecting-app') {
      this.#serverProperties = (e.commandObject ?? {}) as Record<string, unknown>
      this.#state = 'creating-stream'
      const s = this.#session
      if (this.mode === 'publish') {
        s.sendCommand(0, 'releaseStream', 2, null, [this.url.stream])
        s.sendCommand(0, 'FCPublish', 3, null, [this.url.stream])
      }
      s.sendCommand(0, 'createStream', TX_CREATE_STREAM, null, [])
      this.#flush()
      return
    }
    if (name === '_result' && tx === TX_CREATE_STREAM && this.#state === 'creating-stream') {
      const id = Number(e.values?.[0])
      if (!Number.isInteger(id) || id <= 0) return this.close(`createStream answered ${String(e.values?.[0])}`)
      this.#messageStreamId = id
      this.#state = 'starting'
      const s = this.#session
      if (this.mode === 'publish') {
        s.sendCommand(id, 'publish', 5, null, [this.url.stream, 'live'])
      } else {
        s.sendCommand(id, 'play', 5, null, [this.url.stream, -2000])
        s.sendUserControl(3, id, 1000) // SetBufferLength
      }
      this.#flush()
      return
    }
    if (name === 'onStatus') {
      const to = info.level === 'error' && info.ex?.code === 302 ? redirectUrl(info.ex, this.url.stream) : null
      if (to) {
        this.emit('redirect', to)
        return this.close(`redirected to ${to}`)
      }
      if (info.level === 'error') return this.close(`${info.code ?? 'onStatus error'}: ${info.description ?? ''}`)
      if (this.#state === 'starting' && (info.code === 'NetStream.Publish.Start' || info.code === 'NetStream.Play.Start')) {
        this.#state = 'ready'
        clearTimeout(this.#timer)
        this.emit('ready', this.#messageStreamId)
        return
      }
      if (this.#state === 'ready' && this.mode === 'play' && (info.code === 'NetStream.Play.UnpublishNotify' || info.code === 'NetStream.Play.Stop' || info.code === 'NetStream.Play.Complete')) {
        this.emit('unpublished')
      }
    }
  }

  /** Closes the connection with a reason (idempotent); `closed` follows once. */
  close(reason: string): void {
    if (this.#state === 'closed') return
    const wasReady = this.#state === 'ready'
    this.#state = 'closed'
    clearTimeout(this.#timer)
    if (wasReady && this.mode === 'publish') {
      // Tell the server the stream ends (what OBS sends), then close.
      this.#session.sendCommand(0, 'FCUnpublish', 6, null, [this.url.stream])
      this.#session.sendCommand(0, 'deleteStream', 7, null, [this.#messageStreamId])
      const out = this.#session.takeTransmit()
      if (out && !this.#socket.destroyed) this.#socket.end(out)
    }
    this.#session.release()
    this.#socket.destroySoon()
    setTimeout(() => this.#socket.destroy(), 1000).unref()
    this.emit('closed', reason)
  }
}

/** AMF0 string `@setDataFrame`, what a publisher puts before `onMetaData`. */
const SET_DATA_FRAME = native.encodeAmf0(['@setDataFrame'])

/** The full URL of a 302 redirect's `ex` (`redirect2`, or `redirect` — a tcUrl — with our stream), or null. */
function redirectUrl(ex: { redirect?: unknown; redirect2?: unknown }, stream: string): string | null {
  if (typeof ex.redirect2 === 'string' && ex.redirect2) return ex.redirect2
  if (typeof ex.redirect !== 'string' || !ex.redirect) return null
  const q = ex.redirect.indexOf('?')
  const base = (q >= 0 ? ex.redirect.slice(0, q) : ex.redirect).replace(/\/+$/, '')
  return `${base}/${stream}${q >= 0 && !stream.includes('?') ? ex.redirect.slice(q) : ''}`
}

function describe(tx: number): string {
  return tx === TX_CONNECT ? 'connect' : tx === TX_CREATE_STREAM ? 'createStream' : tx === 5 ? 'publish/play' : `command ${tx}`
}
