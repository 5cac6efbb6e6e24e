/**
 * HTTP-FLV delivery: `GET /{app}/{stream}.flv` streams the live stream as an FLV file (Adobe FLV
 * spec v10.1, Annex E) over a chunked HTTP response, the way node-media-server, SRS and nginx-
 * http-flv serve it (flv.js, mpegts.js, ffmpeg, VLC play it). 404 with a text body when the
 * stream is not live. The response ends when the publisher leaves (after the hub's unpublish
 * grace, so a publisher that reconnects at once continues the same file).
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
  readonly #res: http.ServerResponse
  readonly #options: FlvPlayerOptions
  readonly #log: Logger
  readonly #gate: KeyframeGate
  #closed = false
  framesSent = 0

  constructor(id: string, res: http.ServerResponse, options: FlvPlayerOptions, log: Logger, counts?: GateCounts) {
    this.id = id
    this.#res = res
    this.#options = options
    this.#log = log
    this.#gate = new KeyframeGate(options.queueBytes, options.maxBehindMs, counts)
  }

  get framesDropped(): number {
    return this.#gate.framesDropped
  }

  start(stream: Stream): void {
    this.#res.write(flvHeader(true, true))
    this.onPublish(stream)
    if (stream.metadata) this.#res.write(flvTag(18, 0, stream.metadata))
    for (const h of [stream.videoSequenceHeader, stream.audioSequenceHeader]) if (h) this.#send(h)
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
    this.#res.end()
  }

  onMetadata(_stream: Stream, payload: Buffer): void {
    if (!this.#closed) this.#res.write(flvTag(18, 0, payload))
  }

  onFrame(stream: Stream, frame: MediaFrame): void {
    if (this.#closed) return
    if (frame.sequenceHeader) return this.#send(frame)
    const queued = this.#res.writableLength
    switch (this.#gate.admit(stream, frame, queued)) {
      case 'send':
        return this.#send(frame)
      case 'behind':
        this.#log.warn({ player: this.id, queued }, 'HTTP-FLV player behind: skipping to the next keyframe')
        return
      case 'disconnect':
        this.#log.warn({ player: this.id }, `HTTP-FLV player stayed behind for more than ${this.#options.maxBehindMs} ms: disconnected`)
        this.#closed = true
        this.endReason = `behind for more than ${this.#options.maxBehindMs} ms`
        this.#res.destroy()
        return
      case 'drop':
        return
    }
  }

  #send(frame: MediaFrame): void {
    this.framesSent++
    this.#res.write(frameTag(frame))
  }

  stop(): void {
    this.#closed = true
  }
}

/**
 * Serves `GET /{app}/{stream}.flv` from the hub. The play request goes through the access decision
 * (credential: `Authorization: Bearer` or `?token=`); a refusal answers 401/403 with the reason.
 */
export function serveHttpFlv(http: HttpServer, hub: StreamHub, log: Logger, options: Partial<FlvPlayerOptions>, ctx: { access: AccessControl; clients: ClientRegistry }): void {
  const opts: FlvPlayerOptions = { queueBytes: 4 * 1024 * 1024, maxBehindMs: 10_000, ...options }
  const flvLog = log.child({ component: 'http-flv' })
  const text = (res: http.ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }) // CORS: set by the HTTP server (http.cors.origins)
    res.end(body)
  }
  http.route('GET', /^\/([^/]+)\/([^/]+)\.flv$/, async (req, res, [app, name], url) => {
    const id = `flv-${nextId++}`
    const refusal = await ctx.access.check({
      action: 'play', app: app!, stream: name!, protocol: 'http-flv', remoteAddress: normalizeIp(req.socket.remoteAddress),
      credential: httpCredential(req, url), query: url.searchParams, clientId: id,
    })
    if (refusal) return text(res, refusal.status, `play refused: ${refusal.reason}`)
    const stream = hub.get(app!, name!)
    if (!stream?.isLive) return text(res, 404, `stream ${app}/${name} is not live`)
    if (res.destroyed) return
    res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-cache', Connection: 'close' })
    const player = new FlvPlayer(id, res, opts, flvLog, hub.drops.gate('http-flv'))
    player.start(stream)
    hub.subscribe(app!, name!, player)
    const client: ClientSession = {
      id, protocol: 'http-flv', role: 'player', app: stream.app, stream: stream.name,
      remoteAddress: `${normalizeIp(req.socket.remoteAddress)}:${req.socket.remotePort ?? 0}`, startedAt: Date.now(),
      counters: () => ({ bytesIn: req.socket.bytesRead, bytesOut: req.socket.bytesWritten, queueBytes: res.writableLength }),
      close: (reason) => {
        flvLog.info({ player: id, reason }, 'HTTP-FLV player closed')
        res.destroy()
      },
    }
    ctx.clients.add(client)
    flvLog.info({ player: player.id, stream: stream.key, remote: req.socket.remoteAddress }, 'HTTP-FLV player started')
    const end = () => {
      player.stop()
      hub.unsubscribe(stream, player)
      ctx.clients.remove(client, player.endReason ?? 'player closed the connection')
      flvLog.info({ player: player.id, framesSent: player.framesSent, framesDropped: player.framesDropped }, 'HTTP-FLV player ended')
    }
    res.once('close', end)
  })
}
