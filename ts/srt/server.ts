/**
 * SRT in and out on one UDP port (`srt.port`, default 8890): callers publish MPEG-TS into the hub
 * or play a hub stream as MPEG-TS, chosen by their stream id (ts/srt/stream-id.ts).
 *
 * The protocol runs in the native `SrtListener` (srt-protocol: handshake v5, TSBPD, ARQ,
 * too-late drop, AES with `srt.passphrase`), driven from this module's `dgram` socket:
 * datagrams and timer ticks go in, `drain()` gives back datagrams to send and events.
 * A caller's conclusion handshake raises `request`: its stream id goes through the one access
 * decision (credential: `token` in the resource's query, a `token=` key, or `s=`), a publish
 * of a live name is refused (2409 conflict), a play of a stream that is not live 2404, a bad
 * stream id 2400, a refusal 2401/2403; only then does the handshake answer. Bad datagrams are
 * dropped and counted; a bounded number of handshakes may be in progress at once.
 */
import dgram from 'node:dgram'
import { native } from '../native'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { SluiceConfig } from '../config/schema'
import type { AccessControl } from '../access/access-control'
import type { ClientRegistry, ClientSession } from '../clients/registry'
import { normalizeIp } from '../access/address'
import { ListenError } from '../errors'
import { parseStreamId, type SrtStreamRequest } from './stream-id'
import { SrtPublisher } from './publisher'
import { SrtPlayer } from './player'
import { SrtPull } from './pull'
import { SrtPush } from './push'
import { parseSrtUrl } from './caller-link'
import type { HttpServer } from '../http/server'
import { serveLinkRoutes } from '../http/link-routes'
import { DestinationPolicy } from '../rtp/destinations'


type Listener = InstanceType<typeof native.SrtListener>

/** SRT reject reasons (SRT_REJX_*: 1000 + the HTTP status) Sluice answers with. */
const REJECT = { badRequest: 2400, unauthorized: 2401, forbidden: 2403, notFound: 2404, conflict: 2409 } as const

interface Accepted {
  request: SrtStreamRequest
  clientId: string
}

interface Session {
  /** Takes the payloads a publisher's session released; absent for players. */
  publisher?: SrtPublisher
  /** Ends the hub side (unpublish/unsubscribe) once. */
  end: (reason: string) => void
}

let nextId = 1

export class SrtServer {
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #config: SluiceConfig['srt']
  readonly #ctx: { access: AccessControl; clients: ClientRegistry }
  #socket: dgram.Socket | null = null
  #listener: Listener | null = null
  /** Sessions whose request was accepted, until they open (or the handshake dies). */
  readonly #accepted = new Map<string, Accepted>()
  readonly #sessions = new Map<string, Session>()
  #timer: NodeJS.Timeout | null = null
  #timerAt = Infinity
  #flushQueued = false
  #closed = false
  /** SRT pulls (Sluice as the caller, receiving), by id. */
  readonly pulls = new Map<string, SrtPull>()
  /** SRT pushes (Sluice as the caller, sending), by id. */
  readonly pushes = new Map<string, SrtPush>()
  /** Datagrams the socket failed to send. */
  sendErrors = 0

  constructor(hub: StreamHub, log: Logger, config: SluiceConfig['srt'], ctx: { access: AccessControl; clients: ClientRegistry }) {
    this.#hub = hub
    this.#log = log.child({ component: 'srt' })
    this.#config = config
    this.#ctx = ctx
  }

  /** The bound UDP port (after `listen()`), else the configured one. */
  get port(): number {
    return this.#socket?.address().port ?? this.#config.port
  }

  /** Open sessions, handshakes in progress, ignored handshakes and malformed datagrams. */
  stats(): { sessions: number; pendingHandshakes: number; ignoredHandshakes: number; parseErrors: number } {
    const l = this.#listener
    return { sessions: l?.sessions ?? 0, pendingHandshakes: l?.pendingHandshakes ?? 0, ignoredHandshakes: l?.ignoredHandshakes ?? 0, parseErrors: l?.parseErrors ?? 0 }
  }

  /**
   * The admin routes of Sluice as an SRT caller. Pulls: `POST /api/srt/pulls` `{url, app, name}`
   * publishes what the listener at `url` sends as `app/name` (409 when that name is live). Pushes:
   * `POST /api/srt/pushes` `{url, app, name}` sends stream `app/name` to the listener at `url`
   * (live or not yet). Both: 201 with the link, 400 bad URL or body, 403 a host outside
   * `rtp.allowedDestinations` (checked before any packet); `GET` lists, `DELETE .../{id}` stops.
   */
  serveApi(http: HttpServer, allowedDestinations: readonly string[]): void {
    const destinations = new DestinationPolicy(allowedDestinations)
    for (const kind of ['pulls', 'pushes'] as const) {
      const map: Map<string, SrtPull | SrtPush> = this[kind]
      serveLinkRoutes(http, `/api/srt/${kind}`, `SRT ${kind === 'pulls' ? 'pull' : 'push'}`, map, async (body) => {
        const target = parseSrtUrl(body.url)
        const allowed = await destinations.check(target.host)
        const common = { app: body.app, stream: body.name, target: { ...target, ...allowed }, latencyMs: this.#config.latencyMs }
        let link: SrtPull | SrtPush
        if (kind === 'pulls') {
          if (!this.#hub.publishable(body.app, body.name)) return [409, `stream ${body.app}/${body.name} is already published`]
          link = new SrtPull(this.#hub, this.#log, this.#ctx.clients, { ...common, id: `srt-pull-${nextId++}`, maxAccessUnitBytes: this.#config.maxAccessUnitBytes })
        } else {
          link = new SrtPush(this.#hub, this.#log, this.#ctx.clients, { ...common, id: `srt-push-${nextId++}`, queuePackets: this.#config.playerQueuePackets })
        }
        map.set(link.id, link)
        return link
      })
    }
  }


  /** Binds the UDP port. Rejects with `ListenError` when it cannot. */
  async listen(): Promise<void> {
    if (!this.#config.enabled || this.#socket) return
    const ipv6 = this.#config.host.includes(':')
    const socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(new ListenError('LISTEN_FAILED', `SRT: cannot bind udp ${this.#config.host}:${this.#config.port}: ${err.message}`)))
      socket.bind(this.#config.port, this.#config.host, () => resolve())
    })
    socket.on('error', (err) => this.#log.warn({ err: err.message }, 'SRT socket error'))
    this.#socket = socket
    this.#listener = new native.SrtListener({
      port: socket.address().port,
      ipv6,
      latencyMs: this.#config.latencyMs,
      passphrase: this.#config.passphrase ?? undefined,
      peerIdleTimeoutMs: this.#config.peerIdleTimeoutMs,
      maxPending: this.#config.maxPendingHandshakes,
      handshakeTimeoutMs: this.#config.handshakeTimeoutMs,
      kmRefreshRate: this.#config.kmRefreshRate,
      kmPreAnnounce: this.#config.kmPreAnnounce,
    })
    socket.on('message', (msg, rinfo) => {
      this.#listener?.receive(msg, rinfo.address, rinfo.port)
      this.#flush()
    })
    this.#log.info({ port: this.port, latencyMs: this.#config.latencyMs, encrypted: this.#config.passphrase !== null }, 'SRT listening')
  }

  /** Ends every session and closes the port. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const l of [...this.pulls.values(), ...this.pushes.values()]) l.close('server closed')
    this.pulls.clear()
    this.pushes.clear()
    for (const [id, s] of this.#sessions) {
      this.#listener?.close(id)
      s.end('server closed')
    }
    this.#flush()
    if (this.#timer) clearTimeout(this.#timer)
    this.#socket?.close()
    this.#socket = null
  }

  /** Hands the listener's output to the socket and handles its events. */
  #flush(): void {
    const listener = this.#listener
    const socket = this.#socket
    if (!listener || !socket) return
    const out = listener.drain()
    let start = 0
    for (let i = 0; i < out.ends.length; i++) {
      const end = out.ends[i]!
      socket.send(out.datagrams.subarray(start, end), out.ports[i]!, out.addresses[i]!, (err) => {
        if (err) this.sendErrors++
      })
      start = end
    }
    for (const e of out.events) {
      switch (e.kind) {
        case 'request':
          void this.#onRequest(e.session, e.streamId ?? '', e.encrypted ?? false)
          break
        case 'open':
          this.#onOpen(e.session, e.latencyMs ?? 0)
          break
        case 'data':
          if (e.data) this.#sessions.get(e.session)?.publisher?.push(e.data)
          break
        case 'closed':
          this.#accepted.delete(e.session)
          this.#sessions.get(e.session)?.end(e.reason ?? 'closed')
          break
      }
    }
    this.#schedule(out.nextTickMs)
  }

  /** Flushes once after the current synchronous work (players' sends of one frame go out together). */
  #queueFlush(): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    queueMicrotask(() => {
      this.#flushQueued = false
      this.#flush()
    })
  }

  #schedule(ms: number): void {
    if (ms < 0 || this.#closed) return
    const at = Date.now() + Math.max(1, ms)
    if (this.#timer && at >= this.#timerAt) return
    if (this.#timer) clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#timerAt = Infinity
      this.#listener?.tick()
      this.#flush()
    }, Math.max(1, ms))
  }

  async #onRequest(session: string, streamId: string, encrypted: boolean): Promise<void> {
    const answer = (accept: boolean, code?: number) => {
      this.#listener?.answer(session, accept, code)
      this.#flush()
    }
    let request: SrtStreamRequest
    try {
      request = parseStreamId(streamId)
    } catch (error) {
      this.#log.info({ session, streamId, reason: (error as Error).message }, 'SRT caller refused: bad stream id')
      return answer(false, REJECT.badRequest)
    }
    const clientId = `srt-${nextId++}`
    const refusal = await this.#ctx.access.check({
      action: request.action, app: request.app, stream: request.stream, protocol: 'srt', remoteAddress: normalizeIp(hostOf(session)),
      credential: request.credential, query: request.query, clientId,
    })
    if (this.#closed) return
    if (refusal) return answer(false, refusal.status === 401 ? REJECT.unauthorized : REJECT.forbidden)
    if (request.action === 'publish' && !this.#hub.publishable(request.app, request.stream)) {
      this.#log.info({ session, stream: `${request.app}/${request.stream}` }, 'SRT publish refused: the stream is already published')
      return answer(false, REJECT.conflict)
    }
    if (request.action === 'play') {
      const found = await this.#hub.playable(request.app, request.stream)
      if (this.#closed) return
      if ('refusal' in found) {
        this.#log.info({ session, stream: `${request.app}/${request.stream}`, reason: found.refusal.reason }, 'SRT play refused')
        return answer(false, REJECT.notFound)
      }
    }
    this.#accepted.set(session, { request, clientId })
    this.#log.debug({ session, clientId, encrypted }, 'SRT caller accepted')
    answer(true)
  }

  #onOpen(session: string, latencyMs: number): void {
    const accepted = this.#accepted.get(session)
    this.#accepted.delete(session)
    const listener = this.#listener
    if (!accepted || !listener) {
      listener?.close(session)
      return this.#queueFlush()
    }
    const { request, clientId } = accepted
    const closeSession = (reason: string) => {
      this.#log.info({ client: clientId, reason }, 'SRT session closing')
      listener.close(session)
      this.#queueFlush()
    }
    // The engine's session statistics as they are (SrtSessionStats), or the latency before the first.
    const srtDetails = (): Record<string, number | boolean> => ({ ...(listener.stats(session) ?? { latencyMs }) })
    const base = { id: clientId, protocol: 'srt' as const, app: request.app, stream: request.stream, remoteAddress: session, startedAt: Date.now(), close: closeSession, details: srtDetails }
    let ended = false
    if (request.action === 'publish') {
      let publisher: SrtPublisher
      try {
        publisher = new SrtPublisher(this.#hub, this.#log, {
          id: clientId, app: request.app, stream: request.stream, remoteAddress: session, maxAccessUnitBytes: this.#config.maxAccessUnitBytes, closeSession,
        })
      } catch (error) {
        // Published by someone else between the answer and the open.
        this.#log.info({ client: clientId, reason: (error as Error).message }, 'SRT publish refused')
        return closeSession((error as Error).message)
      }
      const client: ClientSession = { ...base, role: 'publisher', close: (reason) => publisher.close(reason), counters: () => ({ bytesIn: publisher.bytesIn, bytesOut: 0, queueBytes: 0 }) }
      this.#ctx.clients.add(client)
      this.#sessions.set(session, {
        publisher,
        end: (reason) => {
          if (ended) return
          ended = true
          this.#sessions.delete(session)
          publisher.close(reason)
          this.#ctx.clients.remove(client, reason)
          this.#log.info({ client: clientId, reason, bytesIn: publisher.bytesIn, frames: publisher.framesIn, demux: publisher.demuxStats }, 'SRT publisher ended')
        },
      })
      this.#log.info({ client: clientId, stream: publisher.stream.key, remote: session, latencyMs }, 'SRT publisher started')
      return
    }
    const stream = this.#hub.get(request.app, request.stream)
    if (!stream?.isLive) return closeSession('the stream is not live')
    const player = new SrtPlayer(
      {
        id: clientId, queuePackets: this.#config.playerQueuePackets, maxBehindMs: 10_000, closeSession, lingerMs: latencyMs + 250,
        send: (data) => {
          const ok = listener.send(session, data)
          this.#queueFlush()
          return ok
        },
        queuedPackets: () => listener.stats(session)?.sendBufferedPackets ?? 0,
      },
      this.#log,
      this.#hub.drops.gate('srt'),
    )
    player.start(stream)
    this.#hub.subscribe(request.app, request.stream, player)
    const client: ClientSession = {
      ...base, role: 'player',
      counters: () => ({ bytesIn: 0, bytesOut: player.bytesOut, queueBytes: (listener.stats(session)?.sendBufferedPackets ?? 0) * 1316 }),
    }
    this.#ctx.clients.add(client)
    this.#sessions.set(session, {
      end: (reason) => {
        if (ended) return
        ended = true
        this.#sessions.delete(session)
        player.stop()
        this.#hub.unsubscribe(stream, player)
        this.#ctx.clients.remove(client, player.endReason ?? reason)
        this.#log.info({ client: clientId, reason: player.endReason ?? reason, framesSent: player.framesSent, framesDropped: player.framesDropped }, 'SRT player ended')
      },
    })
    this.#queueFlush()
    this.#log.info({ client: clientId, stream: stream.key, remote: session, latencyMs }, 'SRT player started')
  }
}

/** The IP of an `ip:port` session name (`[v6]:port` too). */
function hostOf(session: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(session)
  if (m) return m[1]!
  return session.slice(0, session.lastIndexOf(':'))
}
