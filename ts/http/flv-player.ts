/**
 * HTTP-FLV and WebSocket-FLV delivery: `GET /{app}/{stream}.flv` streams the live stream as an
 * FLV file (Adobe FLV spec v10.1, Annex E) over a chunked HTTP response, the way
 * node-media-server, SRS and nginx-http-flv serve it (flv.js, mpegts.js, ffmpeg, VLC play it);
 * a WebSocket handshake on the same path (`ws://HOST/{app}/{stream}.flv`) gets the same bytes
 * as binary messages (one per FLV header or tag; mpegts.js and flv.js concatenate them), as
 * node-media-server 4 and SRS serve WS-FLV. 404 when the stream is not live (a text body over
 * HTTP, the handshake refused over WebSocket). The stream ends when the publisher leaves (after
 * the hub's unpublish grace, so a publisher that reconnects at once continues the same file):
 * the response ends, or the WebSocket closes with 1000 after what was queued.
 *
 * Body: the FLV header (E.2: `FLV`, version 1, audio/video flags, header size 9) and
 * PreviousTagSize0, then tags (E.4.1: type 8 audio / 9 video / 18 script data, 24-bit data size,
 * 24+8-bit timestamp in ms, stream id 0, the tag body — the hub frame's payload — and the 32-bit
 * PreviousTagSize): `onMetaData`, the sequence headers, the cached GOP, then live frames. Each
 * frame's tag bytes are built once per stream and shared by every HTTP-FLV player.
 *
 * Slow players never slow the publisher: past `queueBytes` queued in the response the player
 * drops frames until the queue is half drained and a keyframe arrives; one still behind after
 * `maxBehindMs` is disconnected (logged), as RTMP players are.
 */
import type http from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Stream, Subscriber } from '../hub/stream'
import type { MediaFrame } from '../hub/media-frame'
import { KeyframeGate } from '../hub/keyframe-gate'
import type { HttpServer } from './server'
import type { AccessControl } from '../access/access-control'
import { normalizeIp } from '../access/address'
import { httpCredential } from '../access/http-credential'
import type { ClientRegistry, ClientSession } from '../clients/registry'
import type { GateCounts } from '../metrics/drop-counts'

export interface FlvPlayerOptions {
  /** Bytes queued in a response before the player skips to the next keyframe. Default 4 MiB. */
  queueBytes: number
  /** A player still behind after this long is disconnected, ms. Default 10 000. */
  maxBehindMs: number
}

/**
 * Where a player's FLV bytes go: an HTTP response, or a WebSocket (one binary message per
 * write).
 */
interface FlvSink {
  write(chunk: Buffer): void
  /** Bytes written and not yet taken by the kernel. */
  readonly queuedBytes: number
  /** Ends the FLV stream after what is queued. */
  end(): void
  /** Drops the connection now. */
  destroy(): void
}

function responseSink(res: http.ServerResponse): FlvSink {
  return {
    write: (chunk) => void res.write(chunk),
    get queuedBytes() { return res.writableLength },
    end: () => void res.end(),
    destroy: () => void res.destroy(),
  }
}

function webSocketSink(ws: WebSocket): FlvSink {
  return {
    write: (chunk) => ws.send(chunk, { binary: true }),
    get queuedBytes() { return ws.bufferedAmount },
    end: () => ws.close(1000, 'stream ended'),
    destroy: () => ws.terminate(),
  }
}

const TAG_HEADER = 11

/** One FLV tag (E.4.1) with its PreviousTagSize: `type` 8/9/18, `timestamp` ms, `body` the tag data. */
export function flvTag(type: number, timestamp: number, body: Buffer): Buffer {
  const tag = Buffer.allocUnsafe(TAG_HEADER + body.length + 4)
  tag[0] = type
  tag.writeUIntBE(body.length, 1, 3)
  const ts = Math.max(0, Math.round(timestamp)) >>> 0
  tag.writeUIntBE(ts & 0xffffff, 4, 3)
  tag[7] = ts >>> 24
  tag.writeUIntBE(0, 8, 3)
  body.copy(tag, TAG_HEADER)
  tag.writeUInt32BE(TAG_HEADER + body.length, TAG_HEADER + body.length)
  return tag
}

/** The FLV file header (E.2) and PreviousTagSize0. */
function flvHeader(audio: boolean, video: boolean): Buffer {
  return Buffer.from([0x46, 0x4c, 0x56, 1, (audio ? 4 : 0) | (video ? 1 : 0), 0, 0, 0, 9, 0, 0, 0, 0])
}

/** The frame's FLV tag, built once per frame and shared by every HTTP-FLV player. */
const tags = new WeakMap<MediaFrame, Buffer>()
function frameTag(frame: MediaFrame): Buffer {
  let tag = tags.get(frame)
  if (!tag) {
    tag = flvTag(frame.kind === 'audio' ? 8 : 9, frame.dts, frame.payload)
    tags.set(frame, tag)
  }
  return tag
}

let nextId = 1

class FlvPlayer implements Subscriber {
  readonly id: string
  /** Why the player ended, when the server ended it. */
  endReason: string | null = null
  readonly #sink: FlvSink
  readonly #options: FlvPlayerOptions
  readonly #log: Logger
  readonly #gate: KeyframeGate
  readonly #name: string
  #closed = false
  framesSent = 0

  constructor(id: string, name: string, sink: FlvSink, options: FlvPlayerOptions, log: Logger, counts?: GateCounts) {
    this.id = id
    this.#name = name
    this.#sink = sink
    this.#options = options
    this.#log = log
    this.#gate = new KeyframeGate(options.queueBytes, options.maxBehindMs, counts)
  }

  get framesDropped(): number {
    return this.#gate.framesDropped
  }

  start(stream: Stream): void {
    this.#sink.write(flvHeader(true, true))
    this.onPublish(stream)
    if (stream.metadata) this.#sink.write(flvTag(18, 0, stream.metadata))
    for (const h of stream.sequenceHeaders) this.#send(h)
    const gop = stream.gop
    if (gop.length > 0) {
      this.#gate.startedOnGop()
      for (const frame of gop) this.#send(frame)
    }
  }

  onPublish(_stream: Stream): void {
    this.#gate.reset()
  }

  /** The publisher left (after the hub's grace period): the FLV file ends. */
  onUnpublish(): void {
    if (this.#closed) return
    this.#closed = true
    this.endReason = 'the stream ended'
    this.#sink.end()
  }

  onMetadata(_stream: Stream, payload: Buffer): void {
    if (!this.#closed) this.#sink.write(flvTag(18, 0, payload))
  }

  onFrame(stream: Stream, frame: MediaFrame): void {
    if (this.#closed) return
    if (frame.sequenceHeader) return this.#send(frame)
    const queued = this.#sink.queuedBytes
    switch (this.#gate.admit(stream, frame, queued)) {
      case 'send':
        return this.#send(frame)
      case 'behind':
        this.#log.warn({ player: this.id, queued }, `${this.#name} player behind: skipping to the next keyframe`)
        return
      case 'disconnect':
        this.#log.warn({ player: this.id }, `${this.#name} player stayed behind for more than ${this.#options.maxBehindMs} ms: disconnected`)
        this.#closed = true
        this.endReason = `behind for more than ${this.#options.maxBehindMs} ms`
        this.#sink.destroy()
        return
      case 'drop':
        return
    }
  }

  #send(frame: MediaFrame): void {
    this.framesSent++
    this.#sink.write(frameTag(frame))
  }

  stop(): void {
    this.#closed = true
  }
}

/** What differs between the two ways of playing FLV. */
interface FlvTransport {
  protocol: 'http-flv' | 'ws-flv'
  /** For logs: `HTTP-FLV`, `WebSocket-FLV`. */
  name: string
}

const HTTP_FLV: FlvTransport = { protocol: 'http-flv', name: 'HTTP-FLV' }
const WS_FLV: FlvTransport = { protocol: 'ws-flv', name: 'WebSocket-FLV' }

interface FlvContext {
  hub: StreamHub
  log: Logger
  options: FlvPlayerOptions
  access: AccessControl
  clients: ClientRegistry
}

/** Why a play request is not served: the HTTP status and a text for the client. */
interface FlvRefusal {
  status: number
  reason: string
}

/** The access decision and the live check of a play request. */
async function admit(ctx: FlvContext, t: FlvTransport, id: string, app: string, name: string, req: http.IncomingMessage, url: URL): Promise<{ refusal: FlvRefusal } | { stream: Stream }> {
  const refusal = await ctx.access.check({
    action: 'play', app, stream: name, protocol: t.protocol, remoteAddress: normalizeIp(req.socket.remoteAddress),
    credential: httpCredential(req, url), query: url.searchParams, clientId: id,
  })
  if (refusal) return { refusal: { status: refusal.status, reason: `play refused: ${refusal.reason}` } }
  return ctx.hub.playable(app, name)
}

/**
 * Starts a player on `sink` (the header, metadata, sequence headers and GOP go out now), as a
 * subscriber and a registered client. Returns what to call when the connection closes.
 */
function play(ctx: FlvContext, t: FlvTransport, id: string, stream: Stream, sink: FlvSink, req: http.IncomingMessage): () => void {
  const player = new FlvPlayer(id, t.name, sink, ctx.options, ctx.log, ctx.hub.drops.gate(t.protocol))
  player.start(stream)
  ctx.hub.subscribe(stream.app, stream.name, player)
  const socket = req.socket
  const client: ClientSession = {
    id, protocol: t.protocol, role: 'player', app: stream.app, stream: stream.name,
    remoteAddress: `${normalizeIp(socket.remoteAddress)}:${socket.remotePort ?? 0}`, startedAt: Date.now(),
    counters: () => ({ bytesIn: socket.bytesRead, bytesOut: socket.bytesWritten, queueBytes: sink.queuedBytes }),
    close: (reason) => {
      ctx.log.info({ player: id, reason }, `${t.name} player closed`)
      sink.destroy()
    },
  }
  ctx.clients.add(client)
  ctx.log.info({ player: player.id, stream: stream.key, remote: socket.remoteAddress }, `${t.name} player started`)
  return () => {
    player.stop()
    ctx.hub.unsubscribe(stream, player)
    ctx.clients.remove(client, player.endReason ?? 'player closed the connection')
    ctx.log.info({ player: player.id, framesSent: player.framesSent, framesDropped: player.framesDropped }, `${t.name} player ended`)
  }
}

/** Status lines for refused WebSocket handshakes. */
const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' }

/**
 * Serves `GET /{app}/{stream}.flv` (HTTP-FLV) and WebSocket handshakes on the same path
 * (WebSocket-FLV) from the hub. The play request goes through the access decision (credential:
 * `Authorization: Bearer` or `?token=`; protocol `http-flv` or `ws-flv`); a refusal answers
 * 401/403 with the reason (over WebSocket: the handshake refused with that status and the reason
 * as the body). Anything a WebSocket-FLV client sends is ignored (messages up to 4 KiB; larger
 * close it with 1009).
 */
export function serveHttpFlv(http: HttpServer, hub: StreamHub, log: Logger, options: Partial<FlvPlayerOptions>, access: { access: AccessControl; clients: ClientRegistry }): void {
  const ctx: FlvContext = { hub, log: log.child({ component: 'http-flv' }), options: { queueBytes: 4 * 1024 * 1024, maxBehindMs: 10_000, ...options }, ...access }
  http.route('GET', /^\/([^/]+)\/([^/]+)\.flv$/, async (req, res, [app, name], url) => {
    const id = `flv-${nextId++}`
    const admitted = await admit(ctx, HTTP_FLV, id, app!, name!, req, url)
    if ('refusal' in admitted) {
      res.writeHead(admitted.refusal.status, { 'Content-Type': 'text/plain; charset=utf-8' }) // CORS: set by the HTTP server (http.cors.origins)
      res.end(admitted.refusal.reason)
      return
    }
    if (res.destroyed) return
    res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-cache', Connection: 'close' })
    res.once('close', play(ctx, HTTP_FLV, id, admitted.stream, responseSink(res), req))
  })
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false })
  http.onUpgrade(/^\/([^/]+)\/([^/]+)\.flv$/, (req: http.IncomingMessage, socket: Duplex, head: Buffer, [app, name], url: URL) => {
    const id = `wsflv-${nextId++}`
    void admit(ctx, WS_FLV, id, app!, name!, req, url).then((admitted) => {
      if (socket.destroyed) return
      if ('refusal' in admitted) {
        const { status, reason } = admitted.refusal
        const body = Buffer.from(reason)
        socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Refused'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => ws.terminate())
        ws.once('close', play(ctx, WS_FLV, id, admitted.stream, webSocketSink(ws), req))
      })
    }, (error: unknown) => {
      ctx.log.error({ err: String(error) }, 'WebSocket-FLV handshake failed')
      socket.destroy()
    })
  })
}
