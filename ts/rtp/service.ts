/**
 * RTP out and in over HTTP: forwarders, RTP/SRTP ingest and relay links between Sluice nodes.
 *
 * Forwarders — `POST /api/forwards` `{stream: "app/name", host, videoPort, audioPort?, srtp?:
 * true | {suite?, key?}}` → `201 {id, sdp, sdpUrl}`; `GET /api/forwards`,
 * `GET /api/forwards/{id}/sdp` (`application/sdp`, for `ffmpeg -protocol_whitelist
 * file,udp,rtp,srtp -i stream.sdp`), `DELETE /api/forwards/{id}`.
 *
 * Ingest — `POST /api/ingests/{app}/{name}` with a JSON body `{video?: {payloadType?, sps?,
 * pps?}, audio?: {payloadType?, config (hex AudioSpecificConfig)}, srtp?: true | {suite?, key?}}`
 * or an SDP (`application/sdp`, e.g. what `ffmpeg -sdp_file` writes: payload types, rtpmap,
 * `sprop-parameter-sets`, `config`, `a=crypto`) → `201 {id, host, videoPort, audioPort, srtp}`:
 * send video RTP to `videoPort` and audio to `audioPort` (RTCP on +1, or multiplexed).
 * `GET /api/ingests`, `DELETE /api/ingests/{id}`.
 *
 * Relay links — on the edge node, `POST /api/relays` `{origin: "http://host:port", stream:
 * "app/name"}` pulls `app/name` from the origin: the edge binds a UDP port, makes two SRTP keys
 * (origin→edge media, edge→origin feedback) and sends them in an authenticated call
 * (`Authorization: Bearer <relaySecret>`) to the origin's `POST /api/relay/offers`; the origin
 * answers with its codecs and starts forwarding (one multiplexed port, composition-time header
 * extension, NACK answered from its retransmission ring). The stream is then an ordinary hub
 * stream on the edge (RTMP, WHEP, further relays). `GET /api/relays` gives loss, jitter,
 * NACKs; the origin's `GET /api/forwards` gives its RTT. `DELETE /api/relays/{id}` ends it.
 * `simulateLoss` (0–0.5) in the request drops that fraction of first transmissions at the
 * edge, to see NACK recovery at work.
 *
 * Access: the forwards, ingests and relays routes are admin routes (`admin.token`, or loopback
 * without one; 401/403 otherwise, see ts/http/server.ts); ingests they create are `trusted` in
 * the access decision. `/api/relay/offers` is authenticated by the relay secret (node to node).
 * Forward `host`s and relay `origin`s pass `rtp.allowedDestinations` (ts/rtp/destinations.ts)
 * before any socket is bound or packet sent: 403 otherwise.
 *
 * Bodies: JSON bodies must be `Content-Type: application/json` (415 otherwise; ingests also take
 * `application/sdp`), at most `http.bodyLimitBytes` (413), and match the route's schema (400
 * naming the key, unknown keys included). Other errors: 404 unknown stream or id, 409 a stream
 * already live, 502 an origin that cannot be reached or refuses.
 */
import dgram from 'node:dgram'
import http from 'node:http'
import https from 'node:https'
import { randomUUID, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Stream } from '../hub/stream'
import { mediaType, readBody, readJson, sendText, type HttpServer } from '../http/server'
import { HttpRequestError, RequestRejectedError } from '../errors'
import { DestinationPolicy, resolveDestination, type AllowedDestination } from './destinations'
import type { AccessControl } from '../access/access-control'
import type { ClientRegistry, ClientSession } from '../clients/registry'
import { normalizeIp } from '../access/address'
import { httpCredential } from '../access/http-credential'
import { RtpSender, RTP_AAC_PT, RTP_H264_PT, describeAudioSpecificConfig } from './sender'
import { RtpForwarder } from './forwarder'
import { ForwardPort } from './forward-port'
import { RtpIngest, type IngestAudio, type IngestVideo } from './ingest'
import { parseSdpMedia, type SdesKey } from './sdp'
import { createSrtpContext, sdesKeyMaterial, DEFAULT_SRTP_SUITE, generateSdesKey } from './srtp'

export interface RtpOptions {
  /** Address UDP sockets bind to. Default `0.0.0.0`; tests use `127.0.0.1`. */
  host: string
  /** Address given to senders in ingest answers and to origins in relay offers. Default: `host`, or 127.0.0.1 when `host` is a wildcard. */
  advertisedHost: string | null
  /** Shared secret for relay offers between nodes; relays are refused while it is null. */
  relaySecret: string | null
  /** Forward destinations and relay origins allowed beyond loopback (CIDRs, addresses, host names). Default none. */
  allowedDestinations: string[]
}

export const defaultRtpOptions: RtpOptions = { host: '0.0.0.0', advertisedHost: null, relaySecret: null, allowedDestinations: [] }

const COMPOSITION_TIME_EXTENSION_ID = 1
/**
 * SRTP replay window of received media, in packets: a retransmission answering our NACK comes
 * after the rest of a keyframe's burst (often over 100 packets), past the default 64.
 */
const INGEST_REPLAY_WINDOW = 2048
/** Receive buffer asked for UDP sockets (the kernel caps it at net.core.rmem_max). */
const RECEIVE_BUFFER_BYTES = 4 << 20

/** A refusal with its HTTP status (the router answers it with the message as text). */
class HttpError extends HttpRequestError {
  constructor(status: number, message: string) {
    super(status, status === 403 ? 'HTTP_FORBIDDEN' : status === 404 ? 'HTTP_NOT_FOUND' : status === 409 ? 'HTTP_CONFLICT' : status === 502 ? 'HTTP_BAD_GATEWAY' : 'HTTP_BAD_REQUEST', message)
  }
}

const streamPath = z.string().regex(/^[^/\s]+\/[^/\s]+$/, 'must be "app/name"')
const portNumber = z.number().int().min(1).max(65535)
const srtpOption = z
  .union([z.boolean(), z.strictObject({ suite: z.string().max(64).optional(), key: z.string().max(256).optional(), inline: z.string().max(256).optional() })])
  .optional()
const sdesKey = z.object({ suite: z.string().max(64).optional(), inline: z.string().min(1).max(256) })

/** `POST /api/forwards`. */
const forwardBody = z.strictObject({ stream: streamPath, host: z.string().min(1).max(253), videoPort: portNumber, audioPort: portNumber.optional(), srtp: srtpOption })
/** `POST /api/ingests/{app}/{name}` as JSON. */
const ingestBody = z.strictObject({
  video: z.strictObject({ payloadType: z.number().int().min(0).max(127).optional(), sps: z.base64().optional(), pps: z.base64().optional() }).optional(),
  audio: z.strictObject({ payloadType: z.number().int().min(0).max(127).optional(), config: z.hex().min(4).max(64) }).optional(),
  srtp: srtpOption,
})
/** `POST /api/relays`. */
const relayBody = z.strictObject({
  origin: z.string().regex(/^https?:\/\//, 'must be an http(s) URL of the origin node').max(2048),
  stream: streamPath,
  secret: z.string().min(1).max(1024).optional(),
  simulateLoss: z.number().min(0).max(0.5).optional(),
})
/** Datagrams a relay link keeps that arrive before the origin's answer (its first GOP). */
const EARLY_DATAGRAMS = 4096

/** `POST /api/relay/offers` (from an edge node). */
const offerBody = z.object({ stream: streamPath, host: z.string().min(1).max(253), port: portNumber, media: sdesKey, feedback: sdesKey })

/**
 * One HTTP request to a checked address (`dest`): the URL's host is kept for `Host` and TLS SNI
 * but never resolved again. Resolves with the status and the text body (at most 1 MiB).
 */
function requestAt(url: URL, dest: AllowedDestination, init: { method: string; headers: Record<string, string>; body?: string; timeoutMs: number }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:'
    const req = (secure ? https : http).request({
      hostname: dest.address,
      family: dest.family,
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: init.method,
      headers: { ...init.headers, Host: url.host, ...(init.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(init.body)) } : {}) },
      ...(secure && !url.hostname.startsWith('[') && !/^[\d.]+$/.test(url.hostname) ? { servername: url.hostname } : {}),
      timeout: init.timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size > 1 << 20) return void req.destroy(new Error('answer too large'))
        chunks.push(c)
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${init.timeoutMs} ms`)))
    req.on('error', reject)
    req.end(init.body)
  })
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function bind(host: string, port = 0): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4')
    socket.once('error', reject)
    socket.bind(port, host, () => {
      socket.off('error', reject)
      try {
        socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES)
      } catch {
        // capped or refused: keep the default
      }
      socket.on('error', () => {})
      resolve(socket)
    })
  })
}

/** Binds an even port and the odd one after it (RTP and RTCP, RFC 3550 §11). */
async function bindPair(host: string): Promise<[dgram.Socket, dgram.Socket]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await bind(host)
    const port = first.address().port
    if (port % 2 !== 0 || port === 65535) {
      first.close()
      continue
    }
    try {
      return [first, await bind(host, port + 1)]
    } catch {
      first.close()
    }
  }
  throw new Error('no free even/odd UDP port pair')
}

function srtpKey(value: unknown): SdesKey | null {
  if (!value) return null
  if (value === true) return generateSdesKey(DEFAULT_SRTP_SUITE)
  if (typeof value !== 'object') throw new HttpError(400, 'srtp must be true or {suite?, key?}')
  const v = value as { suite?: unknown; key?: unknown; inline?: unknown }
  const suite = typeof v.suite === 'string' ? v.suite : DEFAULT_SRTP_SUITE
  const given = typeof v.key === 'string' ? v.key : typeof v.inline === 'string' ? v.inline : null
  try {
    if (given === null) return generateSdesKey(suite)
    const key = { suite, inline: given.replace(/^inline:/, '') }
    sdesKeyMaterial(key)
    return key
  } catch (error) {
    throw new HttpError(400, String((error as Error).message))
  }
}

/**
 * The live stream for a relay offer, fetched on demand when a cluster link can (an edge of an
 * edge asking a node that does not hold it yet). Throws 404 when it is not live, 503 when the
 * cluster registry is down.
 */
async function demandOrFail(hub: StreamHub, app: string, name: string): Promise<Stream> {
  const found = await hub.playable(app, name)
  if ('refusal' in found) throw new HttpError(found.refusal.status, found.refusal.reason)
  return found.stream
}

/** `"app/name"` (already checked by the schema) → `[app, name]`. */
function splitStream(value: string): [string, string] {
  const slash = value.indexOf('/')
  return [value.slice(0, slash), value.slice(slash + 1)]
}

export interface RelayPullOptions {
  /** The origin came from the cluster registry (the operator's own nodes): `rtp.allowedDestinations` is not asked. */
  trusted?: boolean
  /** A cluster link: a local publisher of the stream replaces it (`Publisher.replaceable`). */
  replaceable?: boolean
  /** Testing aid: `IngestOptions.simulateLoss`. */
  simulateLoss?: number
}

export interface RelayLink {
  id: string
  origin: string
  stream: string
  offerId: string
  ingest: RtpIngest
  createdAt: number
}

export class RtpService {
  readonly options: RtpOptions
  readonly #hub: StreamHub
  readonly #log: Logger
  /** One sender per stream and flavour (plain for forwarders, with composition times for relays), by its egress key. */
  readonly #senders = new Map<string, RtpSender>()
  /** Where every forwarder and relay link sends from; opened with the first. */
  #port: ForwardPort | null = null
  readonly forwarders = new Map<string, RtpForwarder>()
  readonly ingests = new Map<string, RtpIngest>()
  readonly relays = new Map<string, RelayLink>()
  readonly #ctx: { access: AccessControl; clients: ClientRegistry }
  readonly #destinations: DestinationPolicy

  constructor(hub: StreamHub, http: HttpServer, log: Logger, options: Partial<RtpOptions>, ctx: { access: AccessControl; clients: ClientRegistry }) {
    this.options = { ...defaultRtpOptions, ...options }
    this.#destinations = new DestinationPolicy(this.options.allowedDestinations)
    this.#ctx = ctx
    this.#hub = hub
    this.#log = log.child({ component: 'rtp' })
    const handle = (fn: (req: http.IncomingMessage, res: http.ServerResponse, params: string[]) => Promise<void>) =>
      async (req: http.IncomingMessage, res: http.ServerResponse, params: string[]) => {
        try {
          await fn(req, res, params)
        } catch (error) {
          if (error instanceof RequestRejectedError) return sendText(res, 409, error.message)
          throw error // HttpRequestError: answered by the router with its status
        }
      }
    http.route('POST', /^\/api\/forwards\/?$/, handle((req, res) => this.#postForward(req, res)))
    http.route('GET', /^\/api\/forwards\/?$/, handle(async (_req, res) => json(res, 200, [...this.forwarders.values()].map((f) => f.stats()))))
    http.route('GET', /^\/api\/forwards\/([^/]+)\/sdp$/, handle(async (_req, res, [id]) => {
      const f = this.forwarders.get(id!)
      if (!f) throw new HttpError(404, `no forwarder ${id}`)
      const sdp = f.sdp()
      res.writeHead(200, { 'Content-Type': 'application/sdp', 'Content-Length': Buffer.byteLength(sdp) })
      res.end(sdp)
    }))
    http.route('DELETE', /^\/api\/forwards\/([^/]+)$/, handle(async (_req, res, [id]) => {
      const f = this.forwarders.get(id!)
      if (!f) throw new HttpError(404, `no forwarder ${id}`)
      this.#closeForwarder(f, 'deleted over HTTP')
      res.writeHead(204).end()
    }))
    http.route('POST', /^\/api\/ingests\/([^/]+)\/([^/]+)\/?$/, handle((req, res, [app, name]) => this.#postIngest(req, res, app!, name!)))
    http.route('GET', /^\/api\/ingests\/?$/, handle(async (_req, res) => json(res, 200, [...this.ingests.values()].map((i) => i.stats()))))
    http.route('DELETE', /^\/api\/ingests\/([^/]+)$/, handle(async (_req, res, [id]) => {
      const i = this.ingests.get(id!)
      if (!i) throw new HttpError(404, `no ingest ${id}`)
      i.close('deleted over HTTP')
      res.writeHead(204).end()
    }))
    http.route('POST', /^\/api\/relays\/?$/, handle((req, res) => this.#postRelay(req, res)))
    http.route('GET', /^\/api\/relays\/?$/, handle(async (_req, res) => json(res, 200, [...this.relays.values()].map((r) => this.#relayInfo(r)))))
    http.route('DELETE', /^\/api\/relays\/([^/]+)$/, handle(async (_req, res, [id]) => {
      const r = this.relays.get(id!)
      if (!r) throw new HttpError(404, `no relay ${id}`)
      r.ingest.close('deleted over HTTP')
      res.writeHead(204).end()
    }))
    http.route('POST', /^\/api\/relay\/offers\/?$/, handle((req, res) => this.#postOffer(req, res)))
    http.route('DELETE', /^\/api\/relay\/offers\/([^/]+)$/, handle(async (req, res, [id]) => {
      this.#authorize(req)
      const f = this.forwarders.get(id!)
      if (!f) throw new HttpError(404, `no relay offer ${id}`)
      this.#closeForwarder(f, 'relay ended by the edge')
      res.writeHead(204).end()
    }))
  }

  get #advertised(): string {
    if (this.options.advertisedHost) return this.options.advertisedHost
    return this.options.host === '0.0.0.0' || this.options.host === '::' ? '127.0.0.1' : this.options.host
  }

  /** The UDP port forwarders and relay links send from (their feedback comes back to it), or null before the first. */
  get forwardPort(): number | null {
    return this.#port?.port ?? null
  }

  /** The forward port, opened on first use. */
  get #forwardPort(): ForwardPort {
    this.#port ??= new ForwardPort(this.options.host)
    return this.#port
  }

  /**
   * The sender of a forwarder: one per stream and flavour — plain for forwarders, with
   * composition times for relay links — packetizing once for all of them; a relay link starts
   * with the sender's GOP, numbered for it alone, so the edge's first player has a picture at once.
   */
  #sender(stream: Stream, relay: boolean): RtpSender {
    const key = `${stream.key}#${relay ? 'relay' : 'plain'}`
    let sender = this.#senders.get(key)
    if (!sender) {
      sender = new RtpSender(stream, this.#forwardPort, key, relay ? { compositionTimeExtensionId: COMPOSITION_TIME_EXTENSION_ID } : {})
      this.#hub.subscribe(stream.app, stream.name, sender)
      this.#senders.set(key, sender)
    }
    return sender
  }

  #closeForwarder(f: RtpForwarder, reason: string): void {
    f.close(reason)
    this.forwarders.delete(f.id)
    const sender = f.sender
    if (sender.forwarderCount === 0) {
      this.#senders.delete(sender.egressKey)
      sender.close()
      this.#hub.unsubscribe(sender.stream, sender)
    }
  }

  /**
   * Starts a forwarder (a relay link with `relay`). Throws an `HttpError` (409) when another
   * forwarder already sends to that address.
   */
  #startForwarder(stream: Stream, relay: boolean, target: { host: string; videoPort: number; audioPort?: number }, key: SdesKey | null, feedbackKey: SdesKey | null): RtpForwarder {
    const sender = this.#sender(stream, relay)
    let forwarder: RtpForwarder
    try {
      forwarder = new RtpForwarder(sender, { ...target, layout: relay ? 'mux' : 'ports' }, this.#forwardPort, key ? { key, feedback: feedbackKey } : null, this.#log)
    } catch (error) {
      if (sender.forwarderCount === 0) {
        this.#senders.delete(sender.egressKey)
        sender.close()
        this.#hub.unsubscribe(sender.stream, sender)
      }
      throw new HttpError(409, (error as Error).message)
    }
    this.forwarders.set(forwarder.id, forwarder)
    return forwarder
  }

  /** The socket family UDP sockets are bound with. */
  get #family(): 4 | 6 {
    return this.options.host.includes(':') ? 6 : 4
  }

  /** Checks a destination against the allow-list (403) and that our sockets can reach it (400). */
  async #destination(host: string): Promise<AllowedDestination> {
    const dest = await this.#destinations.check(host, this.#family)
    if (dest.family !== this.#family) throw new HttpError(400, `${host} has no IPv${this.#family} address (UDP sockets are bound to ${this.options.host})`)
    return dest
  }

  async #postForward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readJson(req, forwardBody)
    const [app, name] = splitStream(body.stream)
    if (body.audioPort === undefined && body.videoPort > 65533) throw new HttpError(400, 'audioPort (default videoPort + 2) must be a port number')
    const key = srtpKey(body.srtp)
    const dest = await this.#destination(body.host)
    const stream = this.#hub.get(app, name)
    if (!stream?.isLive) throw new HttpError(404, `stream ${app}/${name} is not live`)
    const f = this.#startForwarder(stream, false, { host: dest.address, videoPort: body.videoPort, audioPort: body.audioPort ?? body.videoPort + 2 }, key, null)
    json(res, 201, { id: f.id, sdp: f.sdp(), sdpUrl: `/api/forwards/${f.id}/sdp`, srtp: key })
  }

  async #postIngest(req: http.IncomingMessage, res: http.ServerResponse, app: string, name: string): Promise<void> {
    const isSdp = mediaType(req) === 'application/sdp'
    let video: IngestVideo | null = null
    let audio: IngestAudio | null = null
    let key: SdesKey | null = null
    if (isSdp) {
      const text = await readBody(req)
      let media: ReturnType<typeof parseSdpMedia>
      try {
        media = parseSdpMedia(text)
      } catch (err) {
        throw new HttpError(400, (err as Error).message)
      }
      for (const m of media) {
        if (m.kind === 'video' && m.codec === 'H264') {
          const sets = (m.fmtp['sprop-parameter-sets'] ?? '').split(',').map((s) => Buffer.from(s, 'base64'))
          video = { payloadType: m.payloadType, codec: 'H264', sps: sets[0]?.length ? sets[0] : undefined, pps: sets[1]?.length ? sets[1] : undefined }
        } else if (m.kind === 'audio' && m.codec === 'MPEG4-GENERIC' && m.fmtp.config) {
          audio = { payloadType: m.payloadType, codec: 'AAC', clockRate: m.clockRate, config: Buffer.from(m.fmtp.config, 'hex') }
        } else throw new HttpError(400, `${m.kind} codec ${m.codec || '(none)'} is not supported for RTP ingest (H264 video, MPEG4-GENERIC AAC audio)`)
        if (m.crypto) key = srtpKey({ suite: m.crypto.suite, key: m.crypto.inline })
      }
    } else {
      const body = await readJson(req, ingestBody)
      const v = body.video
      const a = body.audio
      if (v) video = { payloadType: v.payloadType ?? RTP_H264_PT, codec: 'H264', sps: v.sps ? Buffer.from(v.sps, 'base64') : undefined, pps: v.pps ? Buffer.from(v.pps, 'base64') : undefined }
      if (a) {
        const config = Buffer.from(a.config, 'hex')
        const info = describeAudioSpecificConfig(config)
        if (!info) throw new HttpError(400, 'audio.config is not an AudioSpecificConfig')
        audio = { payloadType: a.payloadType ?? RTP_AAC_PT, codec: 'AAC', clockRate: info.sampleRate, config }
      }
      key = srtpKey(body.srtp)
    }
    if (!video && !audio) throw new HttpError(400, 'neither video nor audio described')
    const refusal = await this.#ctx.access.check({
      action: 'publish', app, stream: name, protocol: 'rtp', remoteAddress: normalizeIp(req.socket.remoteAddress),
      credential: httpCredential(req, new URL(req.url ?? '/', 'http://localhost')), query: new URLSearchParams(), clientId: `rtp-ingest-pending`,
      trusted: true, // created through the admin API: the admin credential was checked
    })
    if (refusal) throw new HttpError(refusal.status, `publish refused: ${refusal.reason}`)
    const existing = this.#hub.get(app, name)
    if (existing?.isLive) throw new HttpError(409, `stream ${app}/${name} is already being published`)
    const videoPair = video ? await bindPair(this.options.host) : null
    const audioPair = audio ? await bindPair(this.options.host) : null
    const sockets = [...(videoPair ?? []), ...(audioPair ?? [])]
    let ingest: RtpIngest
    try {
      ingest = new RtpIngest(this.#hub, this.#log, {
        app, name, video, audio, sockets, protocol: 'rtp',
        srtpIn: key ? createSrtpContext(key, { replayWindow: INGEST_REPLAY_WINDOW }) : null,
        srtpOut: key ? createSrtpContext(key) : null,
      })
    } catch (error) {
      for (const s of sockets) s.close()
      throw error
    }
    this.ingests.set(ingest.id, ingest)
    const client = this.#ingestClient(ingest, app, name)
    ingest.onClose((reason) => {
      this.ingests.delete(ingest.id)
      this.#ctx.clients.remove(client, reason)
    })
    json(res, 201, {
      id: ingest.id,
      host: this.#advertised,
      videoPort: videoPair?.[0].address().port ?? null,
      audioPort: audioPair?.[0].address().port ?? null,
      srtp: key,
    })
  }

  /** Registers an ingest (RTP or relay) in the clients list. */
  #ingestClient(ingest: RtpIngest, app: string, name: string): ClientSession {
    const client: ClientSession = {
      id: ingest.id, protocol: ingest.protocol === 'relay' ? 'relay' : 'rtp', role: 'publisher', app, stream: name,
      get remoteAddress() {
        return ingest.remoteAddress
      },
      startedAt: Date.now(),
      counters: () => {
        const st = ingest.stats()
        return { bytesIn: st.video.bytes + st.audio.bytes, bytesOut: 0, queueBytes: 0 }
      },
      close: (reason) => ingest.close(reason),
    }
    this.#ctx.clients.add(client)
    return client
  }

  #authorize(req: http.IncomingMessage): void {
    const secret = this.options.relaySecret
    if (!secret) throw new HttpError(403, 'relay links are disabled on this node (no relay secret configured)')
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''
    const a = Buffer.from(given)
    const b = Buffer.from(secret)
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new HttpError(401, 'relay secret does not match')
  }

  /** Origin side: an edge asks for a stream, giving its address and both keys. */
  async #postOffer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.#authorize(req)
    const body = await readJson(req, offerBody)
    const [app, name] = splitStream(body.stream)
    const stream = await demandOrFail(this.#hub, app, name)
    const refusal = await this.#ctx.access.check({
      action: 'play', app, stream: name, protocol: 'relay', remoteAddress: normalizeIp(req.socket.remoteAddress),
      credential: null, query: new URLSearchParams(), clientId: 'relay-offer', trusted: true,
    })
    if (refusal) throw new HttpError(refusal.status, `relay refused: ${refusal.reason}`)
    const media = srtpKey(body.media)
    const feedback = srtpKey(body.feedback)
    await stream.codecsKnown() // an offer right after the publish (a cluster edge following its stream) waits for the sequence starts
    if (!stream.isLive) throw new HttpError(404, `stream ${app}/${name} is not live`)
    // the edge names itself (its advertised host): resolved once here, sent to the address only
    const edge = await resolveDestination(body.host, this.#family).catch(() => null)
    if (!edge) throw new HttpError(400, `${body.host} has no IPv${this.#family} address`)
    const f = this.#startForwarder(stream, true, { host: edge.address, videoPort: body.port }, media!, feedback!)
    const codecs = f.sender.codecs
    json(res, 201, {
      id: f.id,
      compositionTimeExtensionId: COMPOSITION_TIME_EXTENSION_ID,
      video: codecs.video ? { payloadType: codecs.video.payloadType, ssrc: codecs.video.ssrc, sps: codecs.video.sps.toString('base64'), pps: codecs.video.pps.toString('base64') } : null,
      audio: codecs.audio ? { payloadType: codecs.audio.payloadType, ssrc: codecs.audio.ssrc, config: codecs.audio.config.toString('hex') } : null,
    })
  }

  /** Edge side: pull `stream` from `origin`. */
  async #postRelay(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readJson(req, relayBody)
    const [app, name] = splitStream(body.stream)
    const secret = body.secret ?? this.options.relaySecret
    if (!secret) throw new HttpError(400, 'no relay secret configured or given')
    if (this.#hub.get(app, name)?.isLive) throw new HttpError(409, `stream ${app}/${name} is already live here`)
    const link = await this.pull(body.origin, app, name, secret, { simulateLoss: body.simulateLoss ?? 0 })
    json(res, 201, this.#relayInfo(link))
  }

  /**
   * Pulls `app/name` from the origin node (`origin`: `http(s)://host:port`) over an SRTP relay
   * link (see the module docs). The origin's host must pass `rtp.allowedDestinations`
   * (`DestinationRefusedError` otherwise, before anything is bound or sent) unless
   * `options.trusted` (a node found in the cluster registry); rejects with an
   * `HttpRequestError` (502) when the origin cannot be reached or refuses.
   */
  async pull(origin: string, app: string, name: string, secret: string, options: RelayPullOptions = {}): Promise<RelayLink> {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      throw new HttpError(400, `origin ${origin} is not a URL`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HttpError(400, 'origin must be an http(s) URL of the origin node')
    const dest = options.trusted ? await resolveDestination(url.hostname) : await this.#destinations.check(url.hostname)
    const base = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`
    const at = (path: string) => new URL(`${base}${path}`)
    const socket = await bind(this.options.host)
    // the origin starts sending (sender reports, the cached GOP) before its answer arrives: kept
    // until the ingest reads the socket
    const early: [Buffer, dgram.RemoteInfo][] = []
    const keep = (msg: Buffer, rinfo: dgram.RemoteInfo) => void (early.length < EARLY_DATAGRAMS && early.push([msg, rinfo]))
    socket.on('message', keep)
    const media = generateSdesKey(DEFAULT_SRTP_SUITE)
    const feedback = generateSdesKey(DEFAULT_SRTP_SUITE)
    let answer: { id: string; compositionTimeExtensionId: number; video: { payloadType: number; ssrc?: number; sps: string; pps: string } | null; audio: { payloadType: number; ssrc?: number; config: string } | null }
    try {
      const r = await requestAt(at('/api/relay/offers'), dest, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${secret}` },
        body: JSON.stringify({ stream: `${app}/${name}`, host: this.#advertised, port: socket.address().port, media, feedback }),
        timeoutMs: 5000,
      })
      if (r.status !== 201) throw new HttpError(502, `origin answered ${r.status}: ${r.text}`)
      answer = JSON.parse(r.text) as typeof answer
    } catch (error) {
      socket.close()
      if (error instanceof HttpError) throw error
      throw new HttpError(502, `origin ${base} unreachable: ${(error as Error).message}`)
    }
    const video: IngestVideo | null = answer.video
      ? { payloadType: answer.video.payloadType, ssrc: answer.video.ssrc, codec: 'H264', sps: Buffer.from(answer.video.sps, 'base64'), pps: Buffer.from(answer.video.pps, 'base64'), compositionTimeExtensionId: answer.compositionTimeExtensionId }
      : null
    const config = answer.audio ? Buffer.from(answer.audio.config, 'hex') : null
    const info = config ? describeAudioSpecificConfig(config) : null
    const audio: IngestAudio | null = answer.audio && config && info ? { payloadType: answer.audio.payloadType, ssrc: answer.audio.ssrc, codec: 'AAC', clockRate: info.sampleRate, config } : null
    let ingest: RtpIngest
    try {
      ingest = new RtpIngest(this.#hub, this.#log, {
        app, name, video, audio, sockets: [socket], protocol: 'relay',
        srtpIn: createSrtpContext(media, { replayWindow: INGEST_REPLAY_WINDOW }),
        srtpOut: createSrtpContext(feedback),
        simulateLoss: options.simulateLoss,
        replaceable: options.replaceable,
      })
    } catch (error) {
      // published here meanwhile: the origin's side ends with our DELETE
      socket.close()
      requestAt(at(`/api/relay/offers/${encodeURIComponent(answer.id)}`), dest, { method: 'DELETE', headers: { Authorization: `Bearer ${secret}` }, timeoutMs: 2000 }).catch(() => {})
      throw error
    }
    socket.off('message', keep)
    for (const [msg, rinfo] of early) socket.emit('message', msg, rinfo)
    const client = this.#ingestClient(ingest, app, name)
    const link: RelayLink = { id: randomUUID(), origin: base, stream: `${app}/${name}`, offerId: answer.id, ingest, createdAt: Date.now() }
    this.relays.set(link.id, link)
    ingest.onClose((reason) => {
      this.relays.delete(link.id)
      this.#ctx.clients.remove(client, reason)
      this.#log.info({ relay: link.id, reason }, 'relay link closed')
      requestAt(at(`/api/relay/offers/${encodeURIComponent(answer.id)}`), dest, { method: 'DELETE', headers: { Authorization: `Bearer ${secret}` }, timeoutMs: 2000 }).catch(() => {})
    })
    this.#log.info({ relay: link.id, origin: base, stream: link.stream }, 'relay link up')
    return link
  }

  #relayInfo(r: RelayLink): unknown {
    return { ...r.ingest.stats(), ingest: r.ingest.id, id: r.id, origin: r.origin, stream: r.stream, uptime: Math.round((Date.now() - r.createdAt) / 1000) }
  }

  close(): void {
    for (const f of [...this.forwarders.values()]) this.#closeForwarder(f, 'server closing')
    this.#port?.close()
    this.#port = null
    for (const i of [...this.ingests.values()]) i.close('server closing')
    for (const r of [...this.relays.values()]) r.ingest.close('server closing')
  }
}
