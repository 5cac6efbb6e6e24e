/**
 * `SignalingServer`: WebSocket + JSON signaling on the HTTP port (`ws` at `options.path`, default
 * `/signaling`). Peers join rooms, learn each other's ids, and have `offer`/`answer`/`candidate`
 * relayed to a named peer; in `sfu` rooms the peer `sfu` is a pluggable `SfuHandler`. Every bad
 * message gets an `error` answer and the connection goes on; only frames over `maxFrameBytes`
 * (1009) and floods far over the rate limit (1008) close it. The schema is in docs/signaling.md.
 */
import { randomBytes } from 'node:crypto'
import type http from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { Logger } from '../log'
import type { HttpServer } from '../http/server'
import { CloseCode, ErrorCode, SFU_PEER_ID, clientMessage, describeIssues, isServerRoom, type ClientMessage, type JoinMessage, type ServerMessage, type SignalMessage } from './protocol'
import { SignalingPeer } from './peer'
import { Room, type RoomInfo } from './room'
import type { RoomBus, RoomBusEvent } from './room-bus'
import type { AccessControl } from '../access/access-control'
import { normalizeIp } from '../access/address'
import type { ClientRegistry, ClientSession } from '../clients/registry'
import type { SfuContext, SfuFactory, SfuHandler, SfuOutgoingMessage, SfuPeer } from './sfu-handler'
import { SluiceError } from '../errors'

/** What signaling needs of the server: the access decision and the clients list. */
export interface SignalingContext {
  access: AccessControl
  clients: ClientRegistry
  /**
   * A cluster's room placement: `locate(name)` pins a new SFU/MCU room to this node and
   * resolves null, or resolves the HTTP base URL of the node it is pinned to; `closed(name)`
   * releases the pin when the room ends here.
   */
  rooms?: { locate(name: string): Promise<string | null>; closed(name: string): void }
  /** A cluster's bus for P2P rooms whose peers are on several nodes. */
  bus?: RoomBus
}

export interface SignalingOptions {
  /** The HTTP path of the WebSocket endpoint. Default `/signaling`. */
  path: string
  /** Messages longer than this get a `TOO_LARGE` error (the connection goes on). Default 64 KiB. */
  maxMessageBytes: number
  /** Frames longer than this close the connection with 1009. Default 1 MiB. */
  maxFrameBytes: number
  /** WebSocket ping interval; a peer that has not answered by the next ping is dropped. Default 15 s. */
  heartbeatMs: number
  /**
   * Per-connection message rate: `perSecond` on average, bursts of `burst`; messages over it get
   * `RATE_LIMITED`, and a connection with `closeAfter` of them within 10 s is closed (1008).
   * Default 50/s, burst 200, close after 1000.
   */
  rateLimit: { perSecond: number; burst: number; closeAfter: number }
  /** The most rooms at once; more get `TOO_MANY_ROOMS`. Default 10 000. */
  maxRooms: number
  /** A peer with more than this unread (queued in its socket) is dropped. Default 8 MiB. */
  maxBufferedBytes: number
  /**
   * Joining a room is a `publish` of stream `{room}` in this app for the access decision (the
   * credential: `join.token`, else the `token` query of the WebSocket URL). Default `room`.
   */
  app: string
  /** STUN/TURN URLs handed to peers in `joined` (`turn:user:pass@host:port`). Default none. */
  iceServers: string[]
  /** The SFU for `sfu` rooms; without one, joining an `sfu` room answers `SFU_UNAVAILABLE`. */
  sfu?: SfuFactory
}

export const defaultSignalingOptions: SignalingOptions = {
  path: '/signaling',
  maxMessageBytes: 64 * 1024,
  maxFrameBytes: 1024 * 1024,
  heartbeatMs: 15_000,
  rateLimit: { perSecond: 50, burst: 200, closeAfter: 1000 },
  maxRooms: 10_000,
  maxBufferedBytes: 8 * 1024 * 1024,
  iceServers: [],
  app: 'room',
}
/** What a connection keeps of its WebSocket upgrade request: the `token` query parameter. */
interface UpgradeInfo {
  token: string | null
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

/** The `id` of something that looks like a message, to echo in its error. */
function requestIdOf(value: unknown): string | number | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const id = (value as { id?: unknown }).id
  if (typeof id === 'string' && id.length <= 64) return id
  if (typeof id === 'number' && Number.isSafeInteger(id)) return id
  return undefined
}

export class SignalingServer {
  readonly options: SignalingOptions
  readonly #log: Logger
  readonly #wss: WebSocketServer
  readonly #peers = new Map<string, SignalingPeer>()
  readonly #rooms = new Map<string, Room>()
  readonly #heartbeat: NodeJS.Timeout
  #sfu: SfuHandler | null = null
  #closed = false
  readonly #ctx: SignalingContext
  readonly #clients = new Map<SignalingPeer, ClientSession>()

  constructor(http: HttpServer, log: Logger, options: Partial<SignalingOptions>, ctx: SignalingContext) {
    this.#ctx = ctx
    this.options = { ...defaultSignalingOptions, ...options, rateLimit: { ...defaultSignalingOptions.rateLimit, ...options.rateLimit } }
    this.#log = log.child({ component: 'signaling' })
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.options.maxFrameBytes,
      // invalid UTF-8 gets a BAD_JSON answer instead of a 1007 close
      skipUTF8Validation: true,
      perMessageDeflate: false,
    })
    http.onUpgrade(this.options.path, (req, socket, head) => this.#upgrade(req, socket, head))
    http.route('GET', /^\/api\/rooms$/, (_req, res) => {
      const body = JSON.stringify(this.stats())
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) })
      res.end(body)
    })
    if (this.options.sfu) this.setSfu(this.options.sfu)
    this.#heartbeat = setInterval(() => this.#beat(), this.options.heartbeatMs)
    this.#heartbeat.unref()
  }

  /** Plugs in (or, with null, removes) the SFU that answers the peer `sfu` in `sfu` rooms. */
  setSfu(factory: SfuFactory | null): void {
    if (!factory) {
      this.#sfu = null
      return
    }
    const context: SfuContext = {
      send: (peerId: string, message: SfuOutgoingMessage) => {
        const peer = this.#peers.get(peerId)
        if (!peer?.room || !isServerRoom(peer.room.mode)) return false
        return peer.send({ ...message, from: SFU_PEER_ID } as ServerMessage)
      },
      log: this.#log.child({ component: 'sfu' }),
    }
    this.#sfu = factory(context)
  }

  /** Connected sockets (joined or not). */
  get connections(): number {
    return this.#peers.size
  }

  /** Rooms and peer counts, as `GET /api/rooms` answers them. */
  stats(): { rooms: RoomInfo[]; peers: number; connections: number } {
    const now = Date.now()
    const rooms = [...this.#rooms.values()].map((r) => r.describe(now))
    return { rooms, peers: rooms.reduce((n, r) => n + r.peers, 0), connections: this.#peers.size }
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#closed) {
      socket.destroy()
      return
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connected(ws, req))
  }

  #connected(ws: WebSocket, req: http.IncomingMessage): void {
    let id = randomBytes(6).toString('base64url')
    while (this.#peers.has(id)) id = randomBytes(6).toString('base64url')
    const remoteAddress = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`
    const peer = new SignalingPeer(id, ws, remoteAddress, this.options.rateLimit, this.options.maxBufferedBytes, (p) => {
      this.#log.warn({ peer: p.id, buffered: p.socket.bufferedAmount }, 'peer too slow to read, dropped')
      p.socket.terminate()
    })
    let urlToken: string | null = null
    try {
      urlToken = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token')
    } catch {
      // an unparsable target has no token
    }
    const headers = { token: urlToken }
    this.#peers.set(id, peer)
    this.#log.debug({ peer: id, address: remoteAddress }, 'connected')
    ws.on('pong', () => (peer.alive = true))
    ws.on('message', (data, isBinary) => {
      try {
        this.#message(peer, data, isBinary, headers)
      } catch (err) {
        this.#log.error({ peer: id, err: String(err) }, 'message handler failed')
        this.#error(peer, ErrorCode.INTERNAL, 'internal error')
      }
    })
    ws.on('error', (err) => {
      // ws closes the socket itself after a protocol error (1009 for an oversized frame, 1002...)
      this.#log.info({ peer: id, err: err.message, code: (err as { code?: string }).code }, 'websocket error')
    })
    ws.on('close', (code, reason) => {
      this.#peers.delete(id)
      this.#leave(peer, 'disconnected')
      this.#log.debug({ peer: id, code, reason: reason.toString() }, 'disconnected')
    })
  }

  #message(peer: SignalingPeer, data: RawData, isBinary: boolean, headers: UpgradeInfo): void {
    peer.alive = true
    peer.bytesIn += Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength
    const now = Date.now()
    if (!peer.bucket.take(now)) {
      if (now - peer.droppedSince > 10_000) {
        peer.droppedSince = now
        peer.dropped = 0
      }
      if (++peer.dropped >= this.options.rateLimit.closeAfter) {
        this.#log.warn({ peer: peer.id, dropped: peer.dropped }, 'flood over the rate limit, closing')
        peer.socket.close(CloseCode.POLICY, 'rate limit')
        return
      }
      return this.#error(peer, ErrorCode.RATE_LIMITED, `over ${this.options.rateLimit.perSecond} messages/s`)
    }
    if (isBinary) return this.#error(peer, ErrorCode.BAD_FRAME, 'binary frames are not accepted: send JSON text')
    const bytes = toBuffer(data)
    if (bytes.length > this.options.maxMessageBytes) {
      return this.#error(peer, ErrorCode.TOO_LARGE, `message of ${bytes.length} bytes, over ${this.options.maxMessageBytes}`)
    }
    let value: unknown
    try {
      value = JSON.parse(utf8.decode(bytes))
    } catch {
      return this.#error(peer, ErrorCode.BAD_JSON, 'not UTF-8 JSON')
    }
    const parsed = clientMessage.safeParse(value)
    if (!parsed.success) return this.#error(peer, ErrorCode.BAD_MESSAGE, describeIssues(parsed.error), requestIdOf(value))
    this.#dispatch(peer, parsed.data, headers)
  }

  #dispatch(peer: SignalingPeer, msg: ClientMessage, headers: UpgradeInfo): void {
    switch (msg.type) {
      case 'ping':
        peer.send(msg.ts === undefined ? { type: 'pong', id: msg.id } : { type: 'pong', id: msg.id, ts: msg.ts })
        return
      case 'join':
        void this.#join(peer, msg, headers)
        return
      case 'leave': {
        const room = peer.room
        if (!room) return this.#error(peer, ErrorCode.NOT_IN_ROOM, 'not in a room', msg.id)
        this.#leave(peer, 'left')
        peer.send({ type: 'left', id: msg.id, room: room.name })
        return
      }
      case 'chat': {
        const room = peer.room
        if (!room) return this.#error(peer, ErrorCode.NOT_IN_ROOM, 'join a room first', msg.id)
        room.broadcast({ type: 'chat', from: peer.id, text: msg.text, ts: Date.now() }, peer)
        return
      }
      case 'offer':
      case 'answer':
      case 'candidate':
        return this.#relay(peer, msg)
    }
  }

  async #join(peer: SignalingPeer, msg: JoinMessage, upgrade: UpgradeInfo): Promise<void> {
    if (peer.room || peer.joining) {
      return this.#error(peer, ErrorCode.ALREADY_JOINED, `already in room ${peer.room?.name ?? '(joining)'}`, msg.id)
    }
    // checks before authorize, repeated after it (the room may have changed meanwhile)
    const refusal = this.#refusal(msg)
    if (refusal) return this.#error(peer, refusal[0], refusal[1], msg.id)
    peer.joining = true
    const denied = await this.#ctx.access.check({
      action: 'publish', app: this.options.app, stream: msg.room, protocol: 'signaling', remoteAddress: normalizeIp(peer.remoteAddress.replace(/:\d+$/, '')),
      credential: msg.token ?? upgrade.token, query: new URLSearchParams(), clientId: `signaling-${peer.id}`,
    })
    peer.joining = false
    if (!peer.open) return
    if (denied) return this.#error(peer, ErrorCode.UNAUTHORIZED, `join refused: ${denied.reason}`, msg.id)
    let late = this.#refusal(msg)
    if (late) return this.#error(peer, late[0], late[1], msg.id)
    if (!this.#rooms.has(msg.room) && isServerRoom(msg.mode ?? 'p2p') && this.#ctx.rooms) {
      const elsewhere = await this.#locate(msg.room)
      if (!peer.open) return
      if (elsewhere) {
        this.#log.info({ peer: peer.id, room: msg.room, node: elsewhere }, 'join sent to the node the room is pinned to')
        peer.send({ type: 'error', code: ErrorCode.ROOM_ELSEWHERE, message: `room ${msg.room} is on ${elsewhere}: join there`, id: msg.id, redirect: elsewhere })
        return
      }
      late = this.#refusal(msg)
      if (late) {
        if (!this.#rooms.has(msg.room)) this.#ctx.rooms.closed(msg.room)
        return this.#error(peer, late[0], late[1], msg.id)
      }
    }
    let room = this.#rooms.get(msg.room)
    if (!room) {
      const made = new Room(msg.room, msg.mode ?? 'p2p', msg.capacity ?? null)
      room = made
      this.#rooms.set(made.name, made)
      if (made.mode === 'p2p') this.#ctx.bus?.attach(made.name, (event) => this.#fromBus(made, event))
    }
    peer.name = msg.name
    const remote = room.mode === 'p2p' && this.#ctx.bus ? await this.#ctx.bus.join(room.name, peer.describe()) : []
    if (!peer.open) {
      this.#ctx.bus?.leave(room.name, peer.id)
      if (room.peers.size === 0) this.#dropRoom(room)
      return
    }
    for (const r of remote) room.remote.set(r.id, r)
    const others = [...room.peers.values(), ...room.remote.values()].map((p) => ('describe' in p ? p.describe() : p))
    peer.room = room
    room.peers.set(peer.id, peer)
    const client: ClientSession = {
      id: `signaling-${peer.id}`, protocol: 'signaling', role: 'publisher', app: this.options.app, stream: room.name,
      remoteAddress: peer.remoteAddress, startedAt: Date.now(),
      counters: () => ({ bytesIn: peer.bytesIn, bytesOut: peer.bytesOut, queueBytes: peer.socket.bufferedAmount }),
      close: (reason) => peer.socket.close(CloseCode.POLICY, reason.slice(0, 120)),
    }
    this.#clients.set(peer, client)
    this.#ctx.clients.add(client)
    this.#log.info({ peer: peer.id, room: room.name, mode: room.mode, peers: room.peers.size }, 'joined')
    peer.send({ type: 'joined', id: msg.id, room: room.name, mode: room.mode, capacity: room.capacity, peerId: peer.id, peers: others, iceServers: this.options.iceServers })
    room.broadcast({ type: 'peer-joined', peer: peer.describe() }, peer)
    if (isServerRoom(room.mode)) this.#callSfu(peer, (sfu, r, p) => sfu.onJoin(r, p))
  }

  /** The node an SFU/MCU room is pinned to when not this one; this one when the cluster cannot tell (Redis down). */
  async #locate(name: string): Promise<string | null> {
    try {
      return await this.#ctx.rooms!.locate(name)
    } catch (error) {
      this.#log.warn({ room: name, err: (error as Error).message }, 'room placement unknown (the cluster registry failed): the room is made here')
      return null
    }
  }

  /** Why `msg` can't join now, or null. */
  #refusal(msg: JoinMessage): [ErrorCode, string] | null {
    const room = this.#rooms.get(msg.room)
    const mode = msg.mode ?? room?.mode ?? 'p2p'
    if (room && room.mode !== mode) return [ErrorCode.MODE_MISMATCH, `room ${room.name} is a ${room.mode} room`]
    if (isServerRoom(mode) && !this.#sfu) return [ErrorCode.SFU_UNAVAILABLE, 'this server has no SFU']
    if (room?.full) return [ErrorCode.ROOM_FULL, `room ${room.name} is full (${room.capacity})`]
    if (!room && this.#rooms.size >= this.options.maxRooms) return [ErrorCode.TOO_MANY_ROOMS, `the server has ${this.options.maxRooms} rooms`]
    return null
  }

  #leave(peer: SignalingPeer, why: string): void {
    const room = peer.room
    if (!room) return
    peer.room = null
    room.peers.delete(peer.id)
    const client = this.#clients.get(peer)
    if (client) {
      this.#clients.delete(peer)
      this.#ctx.clients.remove(client, why)
    }
    if (isServerRoom(room.mode) && this.#sfu) this.#callSfu(peer, (sfu, r, p) => sfu.onLeave(r, p), room)
    room.broadcast({ type: 'peer-left', peerId: peer.id })
    if (room.mode === 'p2p') this.#ctx.bus?.leave(room.name, peer.id)
    if (room.peers.size === 0) this.#dropRoom(room)
    this.#log.info({ peer: peer.id, room: room.name, why, peers: room.peers.size }, 'left')
  }

  /** The room's last local peer left. */
  #dropRoom(room: Room): void {
    if (this.#rooms.get(room.name) !== room) return
    this.#rooms.delete(room.name)
    if (isServerRoom(room.mode)) this.#ctx.rooms?.closed(room.name)
    else this.#ctx.bus?.detach(room.name)
  }

  /** What another node of the cluster says about a P2P room with local peers. */
  #fromBus(room: Room, event: RoomBusEvent): void {
    if (this.#rooms.get(room.name) !== room) return
    if (event.type === 'peer-joined') {
      if (room.peers.has(event.peer.id)) return
      room.remote.set(event.peer.id, event.peer)
      room.broadcast({ type: 'peer-joined', peer: event.peer })
    } else if (event.type === 'peer-left') {
      if (room.remote.delete(event.peerId)) room.broadcast({ type: 'peer-left', peerId: event.peerId })
    } else if (event.type === 'signal') {
      room.peers.get(event.to)?.send(event.message)
    }
  }

  #relay(peer: SignalingPeer, msg: SignalMessage): void {
    const room = peer.room
    if (!room) return this.#error(peer, ErrorCode.NOT_IN_ROOM, 'join a room first', msg.id)
    if (msg.to === SFU_PEER_ID && isServerRoom(room.mode)) {
      this.#callSfu(peer, (sfu, r, p) => sfu.onSignal(r, p, msg), peer.room, msg.id)
      return
    }
    const out: ServerMessage = msg.type === 'candidate' ? { type: 'candidate', from: peer.id, candidate: msg.candidate } : { type: msg.type, from: peer.id, sdp: msg.sdp }
    const target = room.peers.get(msg.to)
    if (target && target !== peer) return void target.send(out)
    if (room.remote.has(msg.to) && this.#ctx.bus) return this.#ctx.bus.send(room.name, msg.to, out)
    return this.#error(peer, ErrorCode.UNKNOWN_PEER, `no peer ${msg.to} in room ${room.name}`, msg.id)
  }

  /** Calls the SFU; a throw or rejection answers `INTERNAL` (with `id`, the message's that caused it). */
  #callSfu(peer: SignalingPeer, call: (sfu: SfuHandler, room: Room, peer: SfuPeer) => void | Promise<void>, room = peer.room, id?: string | number): void {
    const sfu = this.#sfu
    if (!room) return
    if (!sfu) return this.#error(peer, ErrorCode.SFU_UNAVAILABLE, 'this server has no SFU')
    const view: SfuPeer = { id: peer.id, name: peer.name, remoteAddress: peer.remoteAddress }
    const failed = (err: unknown) => {
      this.#log.error({ peer: peer.id, room: room.name, err: String(err) }, 'SFU handler failed')
      // a refusal with a reason (an offer the SFU cannot take) is told; anything else is not
      this.#error(peer, ErrorCode.INTERNAL, err instanceof SluiceError ? `SFU refused: ${err.message}` : 'SFU failed', id)
    }
    try {
      const result = call(sfu, room, view)
      if (result instanceof Promise) result.catch(failed)
    } catch (err) {
      failed(err)
    }
  }

  #error(peer: SignalingPeer, code: ErrorCode, message: string, id?: string | number): void {
    this.#log.debug({ peer: peer.id, code, message }, 'error answered')
    peer.send(id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id })
  }

  #beat(): void {
    for (const peer of this.#peers.values()) {
      if (!peer.alive) {
        this.#log.info({ peer: peer.id, room: peer.room?.name }, 'heartbeat timeout, dropped')
        peer.socket.terminate()
        continue
      }
      peer.alive = false
      if (peer.open) peer.socket.ping()
    }
  }

  /** Closes every connection (1001) and the SFU (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#heartbeat)
    const sockets = [...this.#peers.values()].map((p) => p.socket)
    const closed = sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())))
    for (const s of sockets) s.close(CloseCode.GOING_AWAY, 'server closing')
    // sockets that do not finish the closing handshake in time are cut
    const timer = setTimeout(() => sockets.forEach((s) => s.terminate()), 500)
    await Promise.all(closed)
    clearTimeout(timer)
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()))
    await this.#sfu?.close?.()
  }
}
