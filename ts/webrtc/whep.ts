/**
 * WHEP (WebRTC-HTTP Egress Protocol, draft-ietf-wish-whep): a viewer POSTs an SDP offer to
 * `/whep/{app}/{stream}` and gets `201 Created`, the session resource in `Location` and the SDP
 * answer; `PATCH` on the resource trickles ICE candidates (`application/trickle-ice-sdpfrag`,
 * RFC 8840); `DELETE` ends the session. CORS is open; ICE servers are announced in `Link` headers
 * (RFC 8288 `rel="ice-server"`).
 *
 * Errors, each with a readable text body: 404 unknown stream or resource, 400 an offer that cannot
 * be answered (malformed SDP, no H.264 with packetization-mode=1, no Opus), 401/403 a play the
 * access decision refused (credential: `Authorization: Bearer` or `?token=`), 415 a wrong content type, 413 an oversized body, 503 when the
 * PeerConnection could not be set up.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type http from 'node:http'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Stream } from '../hub/stream'
import type { HttpServer } from '../http/server'
import type { AccessControl } from '../access/access-control'
import { normalizeIp } from '../access/address'
import { httpCredential } from '../access/http-credential'
import type { ClientRegistry, ClientSession } from '../clients/registry'
import { CORS_HEADERS, answerText, iceLinkHeader, readOffer, readTrickle, redirectElsewhere } from './http-common'
import { parseTrickleFragment } from './sdp'
import { viewerMedia, type ViewerMedia } from './viewer-media'
import { WebRtcFeed, webRtcVideoCodec } from './feed'
import { ViewerPool } from './viewer-pool'
import { NativeViewers, type SimulcastPolicyOptions } from './native-viewers'
import type { IceSettings, ViewerTransport } from './viewer-protocol'
import { z } from 'zod'
import { readJson, sendJson } from '../http/server'
import { HttpRequestError } from '../errors'

export interface WebRtcOptions {
  /** ICE servers, as URLs (`stun:stun.example.net:3478`, `turn:user:pass@host:3478`). Default none. */
  iceServers: string[]
  /** Local address ICE binds to. Default: every interface. Tests use 127.0.0.1. */
  bindAddress?: string
  /** UDP port range for ICE. Default: any. */
  portRangeBegin?: number
  portRangeEnd?: number
  /** Viewer processes hosting WHEP PeerConnections (`datachannel`), or send threads (`native`). Default: available parallelism, at most 4. */
  workers?: number
  /** Viewers of one stream per viewer process before the next one takes them. Default 100. */
  viewersPerWorker?: number
  /** What carries WHEP viewers' media: node-datachannel viewer processes (default) or the native path. */
  transport?: 'datachannel' | 'native'
  /** The native transport's UDP port. Default 8189; 0 picks a free one. */
  udpPort?: number
  /** Addresses the native transport announces in its candidates. */
  announcedAddresses?: string[]
  /** How simulcast layers are chosen for viewers on the native transport (see `SimulcastPolicyOptions`). */
  simulcast?: SimulcastPolicyOptions
}

/** The ICE settings of a viewer's PeerConnection (node-datachannel transport) from the WebRTC options. */
export function iceSettings(o: Pick<WebRtcOptions, 'iceServers' | 'bindAddress' | 'portRangeBegin' | 'portRangeEnd'>): IceSettings {
  return { iceServers: o.iceServers, bindAddress: o.bindAddress, portRangeBegin: o.portRangeBegin, portRangeEnd: o.portRangeEnd }
}

/** What WHEP and WHIP need of the server: the access decision and the clients list. */
export interface WebRtcContext {
  access: AccessControl
  clients: ClientRegistry
  /**
   * Placement (a cluster past its load limits): the base URL (`http://host:port`) of the node a
   * new viewer or publisher should use instead, or null to serve it here.
   */
  placement?: () => Promise<string | null>
}

interface WhepSession {
  id: string
  feed: WebRtcFeed
  createdAt: number
  connectedAt: number | null
  state: string
  client: ClientSession
  /** Bytes sent, as of the last `refreshCounters()` or the end. */
  bytesSent: number
  /** Native transport with transport-cc: the bandwidth estimate and receive rate, bit/s, as of the last `refreshCounters()`. */
  estimateBps?: number
  receivedBps?: number
  retransmissionsRefused?: number
  /** Simulcast (native transport): the rid of the layer it gets, the one it switches to, padding packets probes sent. */
  layer?: string
  switchingTo?: string
  probePackets?: number
  /** Simulcast: the layer it was pinned to (`?layer=`, `PUT /api/whep/{id}/layer`), if any. */
  pinned?: string
  /** Simulcast: its video is paused by `webrtc.simulcast.pauseVideoBelowBps`. */
  videoPaused?: boolean
}

/** `PUT /api/whep/{id}/layer`: pin a viewer to a simulcast layer by rid, or `null` to let its estimate choose. */
const layerBody = z.object({ rid: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).nullable() }).strict()

export class WhepEndpoint {
  readonly pool: ViewerTransport
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #options: WebRtcOptions
  readonly #sessions = new Map<string, WhepSession>()
  readonly #feeds = new Map<Stream, WebRtcFeed>()
  readonly #ctx: WebRtcContext

  constructor(hub: StreamHub, http: HttpServer, log: Logger, options: Partial<WebRtcOptions>, ctx: WebRtcContext) {
    this.#hub = hub
    this.#ctx = ctx
    this.#log = log.child({ component: 'whep' })
    this.#options = { iceServers: [], ...options }
    this.pool =
      options.transport === 'native'
        ? new NativeViewers(log, { bindAddress: options.bindAddress, port: options.udpPort ?? 8189, announcedAddresses: options.announcedAddresses, sendThreads: options.workers, simulcast: options.simulcast })
        : new ViewerPool(log, { workers: options.workers, viewersPerWorker: options.viewersPerWorker })
    http.route('OPTIONS', /^\/whep\//, (_req, res) => {
      res.writeHead(204, { ...CORS_HEADERS, 'Accept-Post': 'application/sdp', ...this.#linkHeader() })
      res.end()
    })
    http.route('POST', /^\/whep\/([^/]+)\/([^/]+)\/?$/, (req, res, [app, name], url) => this.#post(req, res, app!, name!, url))
    http.route('PATCH', /^\/whep\/resource\/([^/]+)$/, (req, res, [id]) => this.#patch(req, res, id!))
    http.route('DELETE', /^\/whep\/resource\/([^/]+)$/, (_req, res, [id]) => this.#delete(res, id!))
    // the layer of one viewer: by an operator (admin API), or by the viewer itself on its
    // resource (whoever holds the resource URL may already DELETE it)
    const putLayer = async (req: http.IncomingMessage, res: http.ServerResponse, id: string) => {
      const session = this.#sessions.get(id)
      if (!session) throw new HttpRequestError(404, 'HTTP_NOT_FOUND', `no WHEP viewer ${id}`)
      const { rid } = await readJson(req, layerBody)
      this.#pin(session, rid)
      sendJson(res, 200, this.#layerInfo(session))
    }
    http.route('PUT', /^\/api\/whep\/([^/]+)\/layer$/, (req, res, [id]) => putLayer(req, res, id!))
    http.route('PUT', /^\/whep\/resource\/([^/]+)\/layer$/, (req, res, [id]) => putLayer(req, res, id!))
    http.route('GET', /^\/whep\/resource\/([^/]+)\/layer$/, async (_req, res, [id]) => {
      const session = this.#sessions.get(id!)
      if (!session) throw new HttpRequestError(404, 'HTTP_NOT_FOUND', `no WHEP viewer ${id}`)
      await this.refreshCounters()
      sendJson(res, 200, this.#layerInfo(session))
    })
  }

  /** A viewer's simulcast state: its layer, the stream's layers (lowest first), the one it switches to, its pin and estimate. */
  #layerInfo(session: WhepSession): Record<string, unknown> {
    return {
      id: session.id,
      layer: session.layer ?? null,
      layers: session.feed.layerRids,
      switchingTo: session.switchingTo ?? null,
      pinned: session.pinned ?? null,
      estimateBps: session.estimateBps ?? null,
      videoPaused: session.videoPaused ?? false,
    }
  }

  /**
   * Pins a viewer to simulcast layer `rid` (null: its bandwidth estimate chooses again). Throws
   * `HttpRequestError` 409 when the transport cannot switch layers (node-datachannel) and 400
   * for a rid its stream does not have.
   */
  #pin(session: WhepSession, rid: string | null): void {
    if (!this.pool.pinLayer) throw new HttpRequestError(409, 'WEBRTC_NO_SIMULCAST', 'simulcast layers are switched on the native transport only (webrtc.transport: native)')
    const index = rid === null ? null : session.feed.layerIndex(rid)
    if (rid !== null && index === null) throw new HttpRequestError(400, 'WEBRTC_UNKNOWN_LAYER', `the stream has no simulcast layer ${rid} (it has: ${session.feed.layerRids.join(', ') || 'none'})`)
    this.pool.pinLayer(session.id, index)
    session.pinned = rid ?? undefined
  }

  /** Live WHEP sessions. */
  get sessions(): number {
    return this.#sessions.size
  }

  /** WebRTC feeds (streams with WHEP viewers). */
  get feeds(): number {
    return this.#feeds.size
  }

  #linkHeader(): Record<string, string> {
    return iceLinkHeader(this.#options.iceServers)
  }

  /** Updates every session's byte counters from the viewer processes (for the clients list). */
  async refreshCounters(): Promise<void> {
    if (this.#sessions.size === 0) return
    const stats = await this.pool.stats()
    for (const v of stats.viewers) {
      const s = this.#sessions.get(v.id)
      if (!s) continue
      s.bytesSent = v.bytesSent
      if (v.estimateBps) s.estimateBps = v.estimateBps
      if (v.receivedBps) s.receivedBps = v.receivedBps
      if (v.retransmissionsRefused) s.retransmissionsRefused = v.retransmissionsRefused
      if (v.videoStream) {
        s.layer = s.feed.ridOf(v.videoStream) ?? undefined
        s.switchingTo = v.switchingTo ? (s.feed.ridOf(v.switchingTo) ?? undefined) : undefined
        s.probePackets = v.probePackets
        s.videoPaused = v.videoPaused
      }
    }
  }

  async #post(req: http.IncomingMessage, res: http.ServerResponse, app: string, name: string, url: URL): Promise<void> {
    const fail = (status: number, text: string) => answerText(res, status, text)
    if (await redirectElsewhere(this.#ctx, req, res)) return
    const offer = await readOffer(req, res, 'WHEP')
    if (offer === null) return
    const id = randomUUID()
    const refusal = await this.#ctx.access.check({
      action: 'play', app, stream: name, protocol: 'whep', remoteAddress: normalizeIp(req.socket.remoteAddress),
      credential: httpCredential(req, url), query: url.searchParams, clientId: `whep-${id}`,
    })
    if (refusal) return fail(refusal.status, `play refused: ${refusal.reason}`)
    const found = await this.#hub.playable(app, name)
    if ('refusal' in found) return fail(found.refusal.status, found.refusal.reason)
    const stream = found.stream
    const source = stream.publisher?.rtpSource
    if (!source && stream.video && !['H264', 'H265', 'AV1'].includes(stream.video.codec)) {
      // VP9 (or another codec) from RTMP/SRT: not packetized for WebRTC
      return fail(400, `the offer cannot be answered: the stream's video is ${stream.video.codec}, which Sluice does not send to WebRTC viewers (H.264, H.265 and AV1 only): play it over RTMP, HTTP-FLV, SRT or LL-HLS`)
    }
    let media: ViewerMedia
    try {
      media = viewerMedia(offer, source ? source.video : webRtcVideoCodec(stream))
    } catch (error) {
      return fail(400, (error as Error).message)
    }

    const feed = this.#feed(stream)
    const msid = randomBytes(8).toString('hex')
    const client: ClientSession = {
      id: `whep-${id}`, protocol: 'whep', role: 'player', app, stream: name,
      remoteAddress: `${normalizeIp(req.socket.remoteAddress)}:${req.socket.remotePort ?? 0}`, startedAt: Date.now(),
      counters: () => ({ bytesIn: 0, bytesOut: session.bytesSent, queueBytes: 0 }),
      details: () => ({
        ...(session.estimateBps ? { estimateBps: session.estimateBps } : {}),
        ...(session.receivedBps ? { receivedBps: session.receivedBps } : {}),
        ...(session.retransmissionsRefused ? { retransmissionsRefused: session.retransmissionsRefused } : {}),
        ...(session.layer ? { layer: session.layer, layers: session.feed.layerRids.join(','), probePackets: session.probePackets ?? 0 } : {}),
        ...(session.switchingTo ? { switchingTo: session.switchingTo } : {}),
        ...(session.pinned ? { pinned: session.pinned } : {}),
        ...(session.videoPaused ? { videoPaused: true } : {}),
      }),
      close: (reason) => {
        if (!this.#sessions.has(id)) return
        this.#log.info({ viewer: id, reason }, 'WHEP viewer closed by the server')
        this.pool.closeViewer(id)
        this.#end(session, reason)
      },
    }
    const session: WhepSession = { id, feed, createdAt: Date.now(), connectedAt: null, state: 'new', client, bytesSent: 0 }
    this.#sessions.set(id, session)
    feed.addViewer(id)
    const ice = iceSettings(this.#options)
    let answer: string
    try {
      answer = await this.pool.create(
        {
          id,
          streamKey: stream.key,
          offer,
          cname: `sluice-${msid}`,
          msid,
          video: media.video && { ...media.video, ssrc: feed.videoSsrc },
          audio: { ...media.audio, ssrc: feed.audioSsrc },
          ice,
        },
        {
          onState: (state) => this.#onState(session, state),
          onKeyframeRequest: (reason, streamKey) => {
            this.#log.debug({ viewer: id, reason, streamKey }, 'keyframe requested')
            session.feed.keyframeRequest(id, streamKey, reason)
          },
          onClosed: (reason, packetsSent, bytesSent) => this.#onClosed(session, reason, packetsSent, bytesSent),
        },
      )
    } catch (error) {
      this.#end(session, 'setup failed')
      return fail(503, `cannot set up the WebRTC session: ${(error as Error).message}`)
    }
    if (this.#sessions.has(id)) this.#ctx.clients.add(client)
    const layer = url.searchParams.get('layer')
    if (layer && this.#sessions.has(id)) {
      try {
        this.#pin(session, layer)
      } catch (error) {
        this.#log.info({ viewer: id, layer, reason: (error as Error).message }, 'WHEP ?layer= ignored')
      }
    }
    const location = `/whep/resource/${id}`
    res.writeHead(201, {
      ...CORS_HEADERS,
      'Content-Type': 'application/sdp',
      Location: location,
      ETag: `"${id}"`,
      'Accept-Patch': 'application/trickle-ice-sdpfrag',
      ...this.#linkHeader(),
    })
    res.end(answer)
    this.#log.info({ viewer: id, stream: stream.key, remote: req.socket.remoteAddress }, 'WHEP viewer created')
  }

  #feed(stream: Stream): WebRtcFeed {
    let feed = this.#feeds.get(stream)
    if (!feed) {
      feed = new WebRtcFeed(stream, this.pool, this.#log)
      stream.addSubscriber(feed)
      this.#feeds.set(stream, feed)
    }
    return feed
  }

  #onState(session: WhepSession, state: string): void {
    session.state = state
    if (state === 'connected' && session.connectedAt === null) {
      session.connectedAt = Date.now()
      session.feed.start(session.id)
      this.#log.info({ viewer: session.id, setupMs: session.connectedAt - session.createdAt }, 'WHEP viewer connected')
    }
    if (state === 'disconnected') this.pool.closeViewer(session.id)
  }

  #onClosed(session: WhepSession, reason: string, packetsSent: number, bytesSent: number): void {
    session.bytesSent = bytesSent
    this.#end(session, reason)
    this.#log.info({ viewer: session.id, reason, packetsSent, bytesSent }, 'WHEP viewer closed')
  }

  #end(session: WhepSession, reason: string): void {
    if (!this.#sessions.delete(session.id)) return
    this.#ctx.clients.remove(session.client, reason)
    const feed = session.feed
    feed.removeViewer(session.id)
    if (feed.viewerCount === 0) {
      feed.close()
      feed.stream.removeSubscriber(feed)
      this.#feeds.delete(feed.stream)
      this.#hub.forget(feed.stream)
    }
  }

  async #patch(req: http.IncomingMessage, res: http.ServerResponse, id: string): Promise<void> {
    const session = this.#sessions.get(id)
    if (!session) return answerText(res, 404, `no WHEP session ${id}`)
    const body = await readTrickle(req, res)
    if (body === null) return
    for (const c of parseTrickleFragment(body)) this.pool.addCandidate(id, c.candidate, c.mid)
    res.writeHead(204, CORS_HEADERS)
    res.end()
  }

  #delete(res: http.ServerResponse, id: string): void {
    const session = this.#sessions.get(id)
    if (!session) return answerText(res, 404, `no WHEP session ${id}`)
    this.pool.closeViewer(id)
    this.#end(session, 'DELETE by the viewer')
    answerText(res, 200, 'WHEP session ended')
  }

  async close(): Promise<void> {
    for (const s of [...this.#sessions.values()]) this.#end(s, 'server closing')
    await this.pool.close()
  }
}
