/**
 * WHIP (WebRTC-HTTP Ingestion Protocol, RFC 9725): a browser or encoder POSTs an SDP offer to
 * `/whip/{app}/{stream}` and gets `201 Created`, the session resource in `Location` (§4.2) and
 * the SDP answer; `PATCH` on the resource trickles ICE candidates (`application/trickle-ice-sdpfrag`,
 * RFC 8840, §4.3.1); `DELETE` unpublishes (§4.2). CORS is open; ICE servers go in `Link` headers.
 *
 * The answer receives H.264 (preferred, packetization-mode=1), else VP8, VP9 or AV1 video, and
 * Opus audio; the media go to a `WebRtcPublisher`. The transport is the one WHEP viewers use
 * (`webrtc.transport`): on the native port (ICE-lite, DTLS-SRTP from Sluice's crates) a publisher
 * may send simulcast (RFC 8853: `a=simulcast:send` with `a=rid` layers, given lowest first), it
 * gets transport-wide CC feedback so its congestion control can raise its bitrate, and its RTP is
 * decrypted off the JS thread; with `datachannel` it is one node-datachannel PeerConnection in
 * the main process, without simulcast.
 *
 * Errors, each with a readable text body: 400 malformed SDP or no codec we can receive, 401/403 a
 * publish the access decision refused (credential: `Authorization: Bearer` or `?token=`), 404 an unknown resource, 409 a stream that is already
 * being published, 413 an oversized body, 415 a wrong content type, 503 when the PeerConnection
 * could not be set up.
 */
import { randomUUID } from 'node:crypto'
import type http from 'node:http'
import nodeDataChannel from 'node-datachannel'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { HttpServer } from '../http/server'
import { RequestRejectedError } from '../errors'
import { answerText, CORS_HEADERS, iceLinkHeader, readOffer, readTrickle, redirectElsewhere } from './http-common'
import { chooseOpus, choosePublishVideo, parseSdp, fmtpString, parseTrickleFragment } from './sdp'
import { WebRtcPublisher } from './rtp-publisher'
import { addVideoCodec } from './datachannel-codecs'
import type { WebRtcContext, WebRtcOptions } from './whep'
import { normalizeIp } from '../access/address'
import { httpCredential } from '../access/http-credential'
import type { ClientSession } from '../clients/registry'
import type { NativeViewers } from './native-viewers'
import { receiveOnNativePort, type PublishTracks } from './native-ingest'
import { dependencyDescriptorId } from './native-publisher-answer'

const { PeerConnection, Video, Audio } = nodeDataChannel
type PeerConnection = InstanceType<typeof PeerConnection>
type Track = ReturnType<PeerConnection['addTrack']>

/** How long ICE gathering may take before the answer goes out with what it has, ms. */
const GATHER_TIMEOUT_MS = 3000

/** A session whose ICE never connects is closed after this, ms. */
const CONNECT_TIMEOUT_MS = 30_000

interface WhipSession {
  id: string
  /** node-datachannel: the PeerConnection and its tracks. */
  pc: PeerConnection | null
  tracks: Track[]
  /** Native port: the publisher's id there. */
  nativeId: number | null
  publisher: WebRtcPublisher
  createdAt: number
  connectedAt: number | null
  timer: NodeJS.Timeout | null
  client: ClientSession
}

export class WhipEndpoint {
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #options: WebRtcOptions
  readonly #sessions = new Map<string, WhipSession>()
  readonly #ctx: WebRtcContext
  readonly #native: NativeViewers | null

  /** `native`: the native port WHEP viewers use, when `webrtc.transport` is `native` (publishers are received there too). */
  constructor(hub: StreamHub, http: HttpServer, log: Logger, options: Partial<WebRtcOptions>, ctx: WebRtcContext, native: NativeViewers | null = null) {
    this.#hub = hub
    this.#ctx = ctx
    this.#native = native
    this.#log = log.child({ component: 'whip' })
    this.#options = { iceServers: [], ...options }
    http.route('OPTIONS', /^\/whip\//, (_req, res) => {
      res.writeHead(204, { ...CORS_HEADERS, 'Accept-Post': 'application/sdp', ...iceLinkHeader(this.#options.iceServers) })
      res.end()
    })
    http.route('POST', /^\/whip\/([^/]+)\/([^/]+)\/?$/, (req, res, [app, name], url) => this.#post(req, res, app!, name!, url))
    http.route('PATCH', /^\/whip\/resource\/([^/]+)$/, (req, res, [id]) => this.#patch(req, res, id!))
    http.route('DELETE', /^\/whip\/resource\/([^/]+)$/, (_req, res, [id]) => this.#delete(res, id!))
    http.route('GET', /^\/api\/publishers\/?$/, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', ...CORS_HEADERS })
      res.end(JSON.stringify([...this.#sessions.values()].map((s) => ({ ...s.publisher.stats(), resource: `/whip/resource/${s.id}`, connected: s.connectedAt !== null }))))
    })
  }

  /** Live WHIP sessions. */
  get sessions(): number {
    return this.#sessions.size
  }

  async #post(req: http.IncomingMessage, res: http.ServerResponse, app: string, name: string, url: URL): Promise<void> {
    const fail = (status: number, text: string) => answerText(res, status, text)
    if (await redirectElsewhere(this.#ctx, req, res)) return
    const offer = await readOffer(req, res, 'WHIP')
    if (offer === null) return
    const id = randomUUID()
    const refusal = await this.#ctx.access.check({
      action: 'publish', app, stream: name, protocol: 'whip', remoteAddress: normalizeIp(req.socket.remoteAddress),
      credential: httpCredential(req, url), query: url.searchParams, clientId: `whip-${id}`,
    })
    if (refusal) return fail(refusal.status, `publish refused: ${refusal.reason}`)
    let parsed
    try {
      parsed = parseSdp(offer)
    } catch (error) {
      return fail(400, `malformed SDP offer: ${(error as Error).message}`)
    }
    const sending = (kind: string) => parsed.media.find((m) => m.kind === kind && (m.direction === 'sendonly' || m.direction === 'sendrecv'))
    const videoSection = sending('video')
    const audioSection = sending('audio')
    const video = videoSection && choosePublishVideo(videoSection)
    const opus = audioSection && chooseOpus(audioSection)
    if (videoSection && !video) {
      const offered = [...new Set(videoSection.codecs.map((c) => c.name).filter((n) => n && !/^(rtx|red|ulpfec|flexfec-03)$/i.test(n)))]
      return fail(400, `the offer cannot be answered: none of its video codecs (${offered.join(', ') || 'none'}) is H.264 (packetization-mode=1), VP8, VP9 or AV1`)
    }
    if (audioSection && !opus) return fail(400, 'the offer cannot be answered: its audio is not Opus')
    if (!video && !opus) return fail(400, 'the offer cannot be answered: it sends neither video nor audio')

    const tracks: { kind: 'video' | 'audio'; track: Track }[] = []
    let nativeId: number | null = null
    const send = (kind: 'video' | 'audio', packet: Buffer) => {
      if (nativeId !== null) return this.#native?.sendRtcp(nativeId, packet)
      const t = tracks.find((x) => x.kind === kind)?.track
      try {
        if (t?.isOpen()) t.sendMessageBinary(packet)
      } catch {
        // the track is closing: its state change ends the session
      }
    }
    const simulcast = this.#native && videoSection && videoSection.simulcastRids.length > 1 ? videoSection.simulcastRids : undefined
    let publisher: WebRtcPublisher
    try {
      publisher = new WebRtcPublisher(this.#hub, this.#log, {
        app,
        name,
        protocol: 'whip',
        remoteAddress: req.socket.remoteAddress ?? '',
        video: video ? { codec: video.codec, payloadType: video.sdp.payloadType, fmtp: video.sdp.fmtp, dependencyDescriptorId: this.#native ? dependencyDescriptorId(videoSection) : undefined } : null,
        audio: opus ? { payloadType: opus.payloadType, channels: opus.fmtp.stereo === '1' ? 2 : 1 } : null,
        sendRtcp: send,
        simulcast,
      })
    } catch (error) {
      if (error instanceof RequestRejectedError) return fail(409, `stream ${app}/${name} is already being published`)
      throw error
    }
    if (this.#native) {
      const port = this.#native
      const client = this.#client(id, req, app, name, publisher)
      const session: WhipSession = { id, pc: null, tracks: [], nativeId: null, publisher, createdAt: Date.now(), connectedAt: null, timer: null, client }
      let answer: string
      try {
        const tracks: PublishTracks = {
          video: video && videoSection ? { mid: videoSection.mid, codec: video.codec, payloadType: video.sdp.payloadType, fmtp: video.sdp.fmtp } : null,
          audio: opus && audioSection ? { mid: audioSection.mid, payloadType: opus.payloadType, channels: 2, fmtp: opus.fmtp } : null,
        }
        const added = receiveOnNativePort(port, parsed.media, tracks, publisher, {
          onState: (state) => this.#onState(session, state),
          onClosed: (reason) => this.#end(session, `peer closed: ${reason}`),
        })
        nativeId = session.nativeId = added.id
        answer = added.answer
      } catch (error) {
        publisher.close('offer refused')
        return fail(400, `the offer cannot be answered: ${String((error as Error).message ?? error)}`)
      }
      this.#ctx.clients.add(client)
      this.#sessions.set(id, session)
      publisher.onClose((reason) => this.#end(session, reason))
      return this.#created(res, session, answer, { app, name, video: video?.codec ?? null, audio: opus ? 'opus' : null, simulcast: simulcast ?? null, remote: req.socket.remoteAddress })
    }
    let pc: PeerConnection
    try {
      pc = new PeerConnection(id, {
        iceServers: this.#options.iceServers,
        bindAddress: this.#options.bindAddress,
        portRangeBegin: this.#options.portRangeBegin,
        portRangeEnd: this.#options.portRangeEnd,
        enableIceUdpMux: false,
      })
    } catch (error) {
      publisher.close('PeerConnection failed')
      return fail(503, `cannot set up the WebRTC session: ${String(error)}`)
    }
    const client = this.#client(id, req, app, name, publisher)
    const session: WhipSession = { id, pc, tracks: [], nativeId: null, publisher, createdAt: Date.now(), connectedAt: null, timer: null, client }
    this.#ctx.clients.add(client)
    this.#sessions.set(id, session)
    publisher.onClose((reason) => this.#end(session, reason))
    let answer: string
    try {
      if (video && videoSection) {
        const v = new Video(videoSection.mid, 'RecvOnly')
        const pt = video.sdp.payloadType
        addVideoCodec(v, video.codec, pt, fmtpString(video.sdp))
        const track = pc.addTrack(v)
        track.onMessage((msg) => publisher.push('video', msg))
        tracks.push({ kind: 'video', track })
      }
      if (opus && audioSection) {
        const a = new Audio(audioSection.mid, 'RecvOnly')
        a.addOpusCodec(opus.payloadType, fmtpString(opus) || undefined)
        const track = pc.addTrack(a)
        track.onMessage((msg) => publisher.push('audio', msg))
        tracks.push({ kind: 'audio', track })
      }
      session.tracks = tracks.map((t) => t.track)
      pc.onStateChange((state) => this.#onState(session, state))
      answer = await new Promise<string>((resolve, reject) => {
        const done = () => {
          const d = pc.localDescription()
          if (d) resolve(d.sdp)
          else reject(new Error('no local description'))
        }
        const timer = setTimeout(done, GATHER_TIMEOUT_MS)
        pc.onGatheringStateChange((state) => {
          if (state === 'complete') {
            clearTimeout(timer)
            done()
          }
        })
        pc.setRemoteDescription(offer, 'offer')
        if (pc.gatheringState() === 'complete') {
          clearTimeout(timer)
          done()
        }
      })
    } catch (error) {
      this.#end(session, 'offer refused')
      return fail(400, `the offer cannot be answered: ${String((error as Error).message ?? error)}`)
    }
    this.#created(res, session, answer, { app, name, video: video?.codec ?? null, audio: opus ? 'opus' : null, remote: req.socket.remoteAddress })
  }

  /** The clients-list entry of a session (its `close` ends the session). */
  #client(id: string, req: http.IncomingMessage, app: string, name: string, publisher: WebRtcPublisher): ClientSession {
    return {
      id: `whip-${id}`, protocol: 'whip', role: 'publisher', app, stream: name,
      remoteAddress: `${normalizeIp(req.socket.remoteAddress)}:${req.socket.remotePort ?? 0}`, startedAt: Date.now(),
      counters: () => ({ bytesIn: publisher.stream.bytesIn, bytesOut: 0, queueBytes: 0 }),
      close: (reason) => {
        const session = this.#sessions.get(id)
        if (session) this.#end(session, reason)
      },
    }
  }

  /** Arms the connect timeout and answers `201 Created` with the SDP answer (RFC 9725 §4.2). */
  #created(res: http.ServerResponse, session: WhipSession, answer: string, log: Record<string, unknown>): void {
    const id = session.id
    session.timer = setTimeout(() => {
      if (session.connectedAt === null) this.#end(session, `ICE did not connect within ${CONNECT_TIMEOUT_MS / 1000} s`)
    }, CONNECT_TIMEOUT_MS)
    session.timer.unref()
    res.writeHead(201, {
      ...CORS_HEADERS,
      'Content-Type': 'application/sdp',
      Location: `/whip/resource/${id}`,
      ETag: `"${id}"`,
      'Accept-Patch': 'application/trickle-ice-sdpfrag',
      ...iceLinkHeader(this.#options.iceServers),
    })
    res.end(answer)
    const { app, name, ...rest } = log
    this.#log.info({ session: id, stream: `${String(app)}/${String(name)}`, ...rest }, 'WHIP session created')
  }

  #onState(session: WhipSession, state: string): void {
    if (state === 'connected' && session.connectedAt === null) {
      session.connectedAt = Date.now()
      this.#log.info({ session: session.id, setupMs: session.connectedAt - session.createdAt }, 'WHIP publisher connected')
      session.publisher.requestKeyframe('publisher connected')
    }
    if (state === 'failed' || state === 'closed' || state === 'disconnected') this.#end(session, `peer connection ${state}`)
  }

  #end(session: WhipSession, reason: string): void {
    if (!this.#sessions.delete(session.id)) return
    this.#ctx.clients.remove(session.client, reason)
    if (session.timer) clearTimeout(session.timer)
    session.publisher.close(reason)
    if (session.nativeId !== null) this.#native?.closePublisher(session.nativeId)
    try {
      for (const t of session.tracks) t.close()
      session.pc?.close()
    } catch {
      // already closed
    }
    this.#log.info({ session: session.id, reason }, 'WHIP session ended')
  }

  async #patch(req: http.IncomingMessage, res: http.ServerResponse, id: string): Promise<void> {
    const session = this.#sessions.get(id)
    if (!session) return answerText(res, 404, `no WHIP session ${id}`)
    const body = await readTrickle(req, res)
    if (body === null) return
    // the native port is ICE-lite: it learns the publisher's addresses from its checks
    for (const c of session.pc ? parseTrickleFragment(body) : []) {
      try {
        session.pc?.addRemoteCandidate(c.candidate, c.mid)
      } catch (error) {
        this.#log.debug({ session: id, error: String(error) }, 'remote candidate refused')
      }
    }
    res.writeHead(204, CORS_HEADERS)
    res.end()
  }

  #delete(res: http.ServerResponse, id: string): void {
    const session = this.#sessions.get(id)
    if (!session) return answerText(res, 404, `no WHIP session ${id}`)
    this.#end(session, 'DELETE by the publisher')
    answerText(res, 200, 'WHIP session ended')
  }

  close(): void {
    for (const s of [...this.#sessions.values()]) this.#end(s, 'server shutting down')
  }
}
