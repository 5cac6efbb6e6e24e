/**
 * WHEP (WebRTC-HTTP Egress Protocol, draft-ietf-wish-whep): a viewer POSTs an SDP offer to
 * `/whep/{app}/{stream}` and gets `201 Created`, the session resource in `Location` and the SDP
 * answer; `PATCH` on the resource trickles ICE candidates (`application/trickle-ice-sdpfrag`,
 * RFC 8840); `DELETE` ends the session. CORS is open; ICE servers are announced in `Link` headers
 * (RFC 8288 `rel="ice-server"`).
 *
 * Errors, each with a readable text body: 404 unknown stream or resource, 400 an offer that cannot
 * be answered (malformed SDP, no H.264 with packetization-mode=1, no Opus), 401 a bearer token the
 * `authorize` hook refused, 415 a wrong content type, 413 an oversized body, 503 when the
 * PeerConnection could not be set up.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type http from 'node:http'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Stream } from '../hub/stream'
import type { HttpServer } from '../http/server'
import { bearerToken, CORS_HEADERS, answerText, iceLinkHeader, readOffer, readTrickle } from './http-common'
import { chooseMatching, chooseOpus, parseSdp, fmtpString, parseTrickleFragment } from './sdp'
import { WebRtcFeed } from './feed'
import { ViewerPool } from './viewer-pool'
import type { IceSettings } from './viewer-protocol'

export interface WebRtcOptions {
  /** ICE servers, as URLs (`stun:stun.example.net:3478`, `turn:user:pass@host:3478`). Default none. */
  iceServers: string[]
  /** Local address ICE binds to. Default: every interface. Tests use 127.0.0.1. */
  bindAddress?: string
  /** UDP port range for ICE. Default: any. */
  portRangeBegin?: number
  portRangeEnd?: number
  /** Worker threads hosting viewers. Default: available parallelism, at most 4. */
  workers?: number
  /**
   * Checks a WHEP request before it is answered; return false to answer 401. `token` is the
   * bearer token of the `Authorization` header, if any.
   */
  authorize?: (request: { app: string; stream: string; token: string | null; remoteAddress: string }) => boolean | Promise<boolean>
}

interface WhepSession {
  id: string
  feed: WebRtcFeed
  createdAt: number
  connectedAt: number | null
  state: string
}

export class WhepEndpoint {
  readonly pool: ViewerPool
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #options: WebRtcOptions
  readonly #sessions = new Map<string, WhepSession>()
  readonly #feeds = new Map<Stream, WebRtcFeed>()

  constructor(hub: StreamHub, http: HttpServer, log: Logger, options: Partial<WebRtcOptions> = {}) {
    this.#hub = hub
    this.#log = log.child({ component: 'whep' })
    this.#options = { iceServers: [], ...options }
    this.pool = new ViewerPool(log, { workers: options.workers })
    http.route('OPTIONS', /^\/whep\//, (_req, res) => {
      res.writeHead(204, { ...CORS_HEADERS, 'Accept-Post': 'application/sdp', ...this.#linkHeader() })
      res.end()
    })
    http.route('POST', /^\/whep\/([^/]+)\/([^/]+)\/?$/, (req, res, [app, name]) => this.#post(req, res, app!, name!))
    http.route('PATCH', /^\/whep\/resource\/([^/]+)$/, (req, res, [id]) => this.#patch(req, res, id!))
    http.route('DELETE', /^\/whep\/resource\/([^/]+)$/, (_req, res, [id]) => this.#delete(res, id!))
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

  async #post(req: http.IncomingMessage, res: http.ServerResponse, app: string, name: string): Promise<void> {
    const fail = (status: number, text: string) => answerText(res, status, text)
    const offer = await readOffer(req, res, 'WHEP')
    if (offer === null) return
    if (this.#options.authorize) {
      const token = bearerToken(req)
      const ok = await this.#options.authorize({ app, stream: name, token, remoteAddress: req.socket.remoteAddress ?? '' })
      if (!ok) return fail(401, 'unauthorized: the bearer token was refused')
    }
    const stream = this.#hub.get(app, name)
    if (!stream?.isLive) return fail(404, `stream ${app}/${name} is not live`)
    let parsed
    try {
      parsed = parseSdp(offer)
    } catch (error) {
      return fail(400, `malformed SDP offer: ${(error as Error).message}`)
    }
    const videoSection = parsed.media.find((m) => m.kind === 'video' && m.direction !== 'inactive' && m.direction !== 'sendonly')
    const audioSection = parsed.media.find((m) => m.kind === 'audio' && m.direction !== 'inactive' && m.direction !== 'sendonly')
    const source = stream.publisher?.rtpSource
    const want = source ? source.video : { codec: 'H264' as const, fmtp: {} }
    const videoCodec = videoSection && want && chooseMatching(videoSection, want.codec, want.fmtp)
    const opus = audioSection && chooseOpus(audioSection)
    if (want && (!videoSection || !videoCodec)) {
      const what = want.codec === 'H264' ? 'H.264 (packetization-mode=1)' : want.codec
      return fail(400, `the offer cannot be answered: it has no receivable video with ${what}, the stream's video codec`)
    }
    if (!audioSection || !opus) return fail(400, 'the offer cannot be answered: it has no receivable audio with Opus')

    const feed = this.#feed(stream)
    const id = randomUUID()
    const msid = randomBytes(8).toString('hex')
    const session: WhepSession = { id, feed, createdAt: Date.now(), connectedAt: null, state: 'new' }
    this.#sessions.set(id, session)
    feed.addViewer(id)
    const ice: IceSettings = {
      iceServers: this.#options.iceServers,
      bindAddress: this.#options.bindAddress,
      portRangeBegin: this.#options.portRangeBegin,
      portRangeEnd: this.#options.portRangeEnd,
    }
    let answer: string
    try {
      answer = await this.pool.create(
        {
          id,
          streamKey: stream.key,
          offer,
          cname: `sluice-${msid}`,
          msid,
          video: want && videoSection && videoCodec
            ? { mid: videoSection.mid, codec: want.codec, payloadType: videoCodec.payloadType, fmtp: fmtpString(videoCodec), ssrc: feed.videoSsrc }
            : undefined,
          audio: { mid: audioSection.mid, payloadType: opus.payloadType, fmtp: fmtpString(opus), ssrc: feed.audioSsrc },
          ice,
        },
        {
          onState: (state) => this.#onState(session, state),
          onKeyframeRequest: (reason) => {
            this.#log.debug({ viewer: id, reason }, 'keyframe requested: answered from the GOP cache')
            session.feed.keyframeRequest(id)
          },
          onClosed: (reason, packetsSent, bytesSent) => this.#onClosed(session, reason, packetsSent, bytesSent),
        },
      )
    } catch (error) {
      this.#end(session)
      return fail(503, `cannot set up the WebRTC session: ${(error as Error).message}`)
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
    this.#end(session)
    this.#log.info({ viewer: session.id, reason, packetsSent, bytesSent }, 'WHEP viewer closed')
  }

  #end(session: WhepSession): void {
    if (!this.#sessions.delete(session.id)) return
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
    this.#end(session)
    answerText(res, 200, 'WHEP session ended')
  }

  async close(): Promise<void> {
    for (const s of [...this.#sessions.values()]) this.#end(s)
    await this.pool.close()
  }
}
