/**
 * One RTMP connection: a socket, the native sans-IO session, and the NetConnection/NetStream
 * commands (connect, createStream, publish, play, deleteStream, ...).
 *
 * States: `handshake` → (C2 received) → `handshaken` → (`connect` answered) → `connected`
 * → (`close()`, socket end or error, malformed input) → `closed`. Each message stream id made by
 * `createStream` is idle, publishing or playing.
 */
import type { Socket } from 'node:net'
import { native, MEDIA_FLAG_KEYFRAME, MEDIA_FLAG_SEQUENCE_HEADER, type NativeRtmpSession, type RtmpEvent } from '../native'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Publisher, Stream } from '../hub/stream'
import { RequestRejectedError, type RtmpProtocolError } from '../errors'
import { RtmpSessionReader } from './session-reader'
import type { RtmpOptions } from './options'
import { RtmpPlayer } from './player'
import type { AccessControl } from '../access/access-control'
import type { AccessAction } from '../access/request'
import { normalizeIp } from '../access/address'
import type { ClientRegistry, ClientSession } from '../clients/registry'
import { status, type StatusInfo } from './status'
import { scheduleMergedFlush, type JoinCache, type MergedWriter } from './merged-writes'

/** What a connection needs of the server beyond the hub: the access decision and the clients list. */
export interface RtmpConnectionDeps {
  hub: StreamHub
  options: RtmpOptions
  log: Logger
  access: AccessControl
  clients: ClientRegistry
  onClose: (c: RtmpConnection) => void
  onProtocolError: (c: RtmpConnection, error: RtmpProtocolError) => void
  /**
   * Where a new publisher or player should go instead (`rtmp://host:port`, a less loaded cluster
   * node), or null to serve it here. Asked after the access decision accepted it, and not for
   * another node's link (a node token).
   */
  placement?: () => Promise<string | null>
}

/** How long a redirected client may keep its connection to read the redirect, ms. */
const REDIRECT_LINGER_MS = 3000

type StreamSlot =
  | { state: 'idle' }
  | { state: 'pending' }
  | { state: 'publishing'; stream: Stream; publisher: Publisher; client: ClientSession }
  | { state: 'playing'; stream: Stream; player: RtmpPlayer; client: ClientSession }

let nextConnectionId = 1

/** Enhanced RTMP `FourCcInfoMask` CanForward (v2, "Enhancing NetConnection connect Command"). */
const FOURCC_CAN_FORWARD = 0x04
/** `CapsExMask`: Multitrack 0x02, ModEx 0x04, TimestampNanoOffset 0x08 (no Reconnect). */
const CAPS_EX = 0x02 | 0x04 | 0x08

/**
 * What the `_result` of `connect` adds for an Enhanced RTMP client (one whose connect object
 * has `fourCcList`, `videoFourCcInfoMap`, `audioFourCcInfoMap` or `capsEx`): Sluice forwards
 * every codec as it comes (`"*": CanForward`, and `fourCcList: ["*"]` for v1 clients), and
 * multitrack, ModEx and nanosecond timestamp offsets (`capsEx`). Nothing for legacy clients.
 */
export function enhancedRtmpAnswer(connect: Record<string, unknown>): Record<string, unknown> {
  const enhanced = ['fourCcList', 'videoFourCcInfoMap', 'audioFourCcInfoMap', 'capsEx'].some((k) => k in connect)
  if (!enhanced) return {}
  return { fourCcList: ['*'], videoFourCcInfoMap: { '*': FOURCC_CAN_FORWARD }, audioFourCcInfoMap: { '*': FOURCC_CAN_FORWARD }, capsEx: CAPS_EX }
}

export class RtmpConnection implements MergedWriter {
  readonly id: string
  readonly socket: Socket
  readonly options: RtmpOptions
  readonly log: Logger
  readonly remoteAddress: string
  readonly #session: NativeRtmpSession
  readonly #reader: RtmpSessionReader
  /** Messages were queued on the session since the last `flush()`. */
  #queued = false
  /** Writes gathered for the merge window (see merged-writes.ts), and their bytes. */
  #merged: Buffer[] = []
  #mergedBytes = 0
  readonly #hub: StreamHub
  readonly #access: AccessControl
  readonly #clients: ClientRegistry
  readonly #slots = new Map<number, StreamSlot>()
  readonly #onClose: (c: RtmpConnection) => void
  readonly #onProtocolError: (c: RtmpConnection, error: RtmpProtocolError) => void
  readonly #placement: (() => Promise<string | null>) | null
  #state: 'handshake' | 'handshaken' | 'connected' | 'closed' = 'handshake'
  #app = ''
  #tcUrl = ''
  #objectEncoding = 0
  #nextStreamId = 1
  #lastInput = Date.now()
  #timer: NodeJS.Timeout
  readonly connectedAt = Date.now()

  constructor(socket: Socket, deps: RtmpConnectionDeps) {
    this.id = `rtmp-${nextConnectionId++}`
    this.socket = socket
    this.options = deps.options
    this.#hub = deps.hub
    this.#access = deps.access
    this.#clients = deps.clients
    this.#onClose = deps.onClose
    this.#onProtocolError = deps.onProtocolError
    this.#placement = deps.placement ?? null
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`
    this.log = deps.log.child({ conn: this.id, remote: this.remoteAddress })
    this.#session = new native.RtmpSession({
      role: 'server',
      maxChunkSize: deps.options.maxChunkSize,
      maxMessageSize: deps.options.maxMessageSize,
      epochMs: 0,
    })
    this.#reader = new RtmpSessionReader(this.#session, {
      event: (e) => this.#onEvent(e),
      media: (kind, msid, timestamp, payload, flags, cts) => this.#onMedia(kind, msid, timestamp, payload, flags, cts),
      transmit: (bytes) => this.#send(bytes),
      closed: () => this.#isClosed(),
      protocolError: (error) => {
        this.close(`${error.code}: ${error.message}`)
        this.#onProtocolError(this, error)
      },
    })
    socket.setNoDelay(true)
    socket.on('data', (data: Buffer) => this.#onData(data))
    socket.on('error', (err) => this.close(`socket error: ${err.message}`))
    socket.on('close', () => this.close('peer closed the connection'))
    this.#timer = setInterval(() => this.#tick(), Math.min(this.options.pingIntervalMs, this.options.connectTimeoutMs))
    this.#timer.unref()
  }

  get app(): string {
    return this.#app
  }
  get state(): string {
    return this.#state
  }
  /** Bytes not yet written to the kernel: gathered for the merge window, or queued in the socket. */
  get queuedBytes(): number {
    return this.#mergedBytes + this.socket.writableLength
  }

  #tick(): void {
    const now = Date.now()
    if (this.#state !== 'connected' && now - this.connectedAt > this.options.connectTimeoutMs) {
      this.close(`no connect command within ${this.options.connectTimeoutMs} ms`)
      return
    }
    if (now - this.#lastInput > 3 * this.options.pingIntervalMs) {
      this.close(`peer silent for ${now - this.#lastInput} ms (ping timeout)`)
      return
    }
    if (this.#state === 'connected') {
      this.sendUserControl(6, now >>> 0) // PingRequest
      this.flush()
    }
  }

  #onData(data: Buffer): void {
    if (this.#state === 'closed') return
    this.#lastInput = Date.now()
    this.#reader.read(data)
  }

  #isClosed(): boolean {
    return this.#state === 'closed'
  }

  #onEvent(e: RtmpEvent): void {
    switch (e.kind) {
      case 'handshake':
        this.#state = 'handshaken'
        this.log.debug({ handshake: e.name }, 'handshake done')
        return
      case 'command':
        this.#onCommand(e)
        return
      case 'data':
        this.#onDataMessage(e)
        return
      case 'windowAckSize':
      case 'peerBandwidth':
      case 'acknowledgement':
      case 'chunkSize':
      case 'userControl':
        return
      default:
        this.log.debug({ kind: e.kind, typeId: e.eventType }, 'ignored message')
    }
  }

  #onCommand(e: RtmpEvent): void {
    const name = e.name ?? ''
    const tx = e.transactionId ?? 0
    const args = e.values ?? []
    const msid = e.messageStreamId ?? 0
    if (this.#state !== 'connected' && name !== 'connect') {
      this.close(`command ${name} before connect`)
      return
    }
    switch (name) {
      case 'connect':
        return this.#connect(tx, (e.commandObject ?? {}) as Record<string, unknown>)
      case 'createStream': {
        const id = this.#nextStreamId++
        this.#slots.set(id, { state: 'idle' })
        this.#queue().sendCommand(0, '_result', tx, null, [id])
        return this.flush()
      }
      case 'releaseStream':
      case 'FCPublish':
      case 'getStreamLength':
        if (tx > 0) this.#queue().sendCommand(msid, '_result', tx, null, name === 'getStreamLength' ? [0] : [])
        return this.flush()
      case 'publish':
        return this.#request('publish', msid, String(args[0] ?? ''))
      case 'play':
        return this.#request('play', msid, String(args[0] ?? ''))
      case 'FCUnpublish':
        for (const [id, slot] of this.#slots) if (slot.state === 'publishing') this.#endSlot(id, 'FCUnpublish')
        if (tx > 0) this.#queue().sendCommand(0, '_result', tx, null, [])
        return this.flush()
      case 'deleteStream':
        this.#endSlot(Number(args[0] ?? msid), 'deleteStream')
        this.#slots.delete(Number(args[0] ?? msid))
        return this.flush()
      case 'closeStream':
        this.#endSlot(msid, 'closeStream')
        return this.flush()
      case 'pause':
      case 'receiveAudio':
      case 'receiveVideo':
        return
      default:
        if (tx > 0) {
          this.#queue().sendCommand(msid, '_error', tx, null, [status('NetConnection.Call.Failed', `unknown command ${name}`)])
          this.flush()
        }
        this.log.debug({ command: name }, 'unknown command')
    }
  }

  #connect(tx: number, obj: Record<string, unknown>): void {
    if (this.#state === 'connected') return
    const app = typeof obj.app === 'string' ? obj.app.split('?')[0]!.replace(/\/+$/, '') : ''
    if (!app) {
      this.#queue().sendCommand(0, '_error', tx, null, [status('NetConnection.Connect.Rejected', 'connect without an app name')])
      this.flush()
      this.close('connect without an app name')
      return
    }
    this.#app = app
    this.#tcUrl = typeof obj.tcUrl === 'string' ? obj.tcUrl : ''
    this.#objectEncoding = typeof obj.objectEncoding === 'number' ? obj.objectEncoding : 0
    this.#state = 'connected'
    const s = this.#queue()
    s.sendWindowAckSize(this.options.windowAckSize)
    s.sendPeerBandwidth(this.options.windowAckSize, 2)
    s.setChunkSize(this.options.chunkSize)
    s.sendCommand(0, '_result', tx, { fmsVer: 'FMS/3,0,1,123', capabilities: 31, ...enhancedRtmpAnswer(obj) }, [
      { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: this.#objectEncoding },
    ])
    this.flush()
    this.log.info({ app, tcUrl: this.#tcUrl }, 'connected')
  }

  /**
   * A publish or play: asks the access decision (policy, webhook, application) with the token of
   * the stream name (`name?token=...`) or of the tcUrl (`rtmp://host/app?token=...`). A refusal
   * answers `NetStream.Publish.Unauthorized` / `NetStream.Play.Unauthorized` with the reason, then
   * closes the connection. An accepted request that the placement sends elsewhere gets the RTMP
   * 302 redirect (see `#redirect`).
   */
  #request(kind: AccessAction, msid: number, fullName: string): void {
    const slot = this.#slots.get(msid)
    if (!slot || slot.state !== 'idle') {
      this.sendStatus(msid, status(kind === 'publish' ? 'NetStream.Publish.BadName' : 'NetStream.Play.Failed', `stream id ${msid} is not available`))
      this.flush()
      return
    }
    const q = fullName.indexOf('?')
    const name = q >= 0 ? fullName.slice(0, q) : fullName
    const query = new URLSearchParams(q >= 0 ? fullName.slice(q + 1) : '')
    if (!name) {
      this.sendStatus(msid, status(kind === 'publish' ? 'NetStream.Publish.BadName' : 'NetStream.Play.StreamNotFound', 'empty stream name'))
      this.flush()
      return
    }
    const tcQuery = this.#tcUrl.indexOf('?')
    const credential = query.get('token') ?? (tcQuery >= 0 ? new URLSearchParams(this.#tcUrl.slice(tcQuery + 1)).get('token') : null)
    this.#slots.set(msid, { state: 'pending' })
    void this.#access
      .check({
        action: kind, app: this.#app, stream: name, protocol: 'rtmp', remoteAddress: normalizeIp(this.socket.remoteAddress),
        credential, query, clientId: this.#clientId(msid),
      })
      .then(async (refusal) => {
        if (this.#state === 'closed' || this.#slots.get(msid)?.state !== 'pending') return
        // another node's link (a node token) is served here: the stream is here, not elsewhere
        const fromNode = this.#access.isNodeCredential(kind, this.#app, name, credential)
        const elsewhere = refusal || fromNode ? null : await this.#placement?.().catch(() => null)
        if (this.#isClosed() || this.#slots.get(msid)?.state !== 'pending') return
        if (elsewhere) return this.#redirect(msid, elsewhere, fullName)
        if (refusal) {
          this.#slots.set(msid, { state: 'idle' })
          const code = kind === 'publish' ? 'NetStream.Publish.Unauthorized' : 'NetStream.Play.Unauthorized'
          this.sendStatus(msid, { level: 'error', code, description: refusal.reason })
          this.flush()
          this.close(`${kind} of ${this.#app}/${name} refused: ${refusal.reason}`)
          return
        }
        if (kind === 'publish') this.#startPublish(msid, name)
        else this.#startPlay(msid, name)
      })
  }

  /**
   * Sends the client to another node, the way SRS does (and clients that follow redirects read):
   * an `onStatus` of level `error`, code `NetConnection.Connect.Rejected`, description
   * `RTMP 302 Redirect`, with `ex: {code: 302, redirect: <tcUrl there>, redirect2: <full URL
   * there>}` (the app, stream name and query kept). The connection closes when the client does,
   * or after `REDIRECT_LINGER_MS`.
   */
  #redirect(msid: number, base: string, fullName: string): void {
    this.#slots.set(msid, { state: 'idle' })
    const tcQuery = this.#tcUrl.indexOf('?') >= 0 ? this.#tcUrl.slice(this.#tcUrl.indexOf('?')) : ''
    const tcUrl = `${base.replace(/\/+$/, '')}/${this.#app}${tcQuery}`
    const url = `${base.replace(/\/+$/, '')}/${this.#app}/${fullName}${fullName.includes('?') ? '' : tcQuery}`
    this.sendStatus(msid, { level: 'error', code: 'NetConnection.Connect.Rejected', description: 'RTMP 302 Redirect', ex: { code: 302, redirect: tcUrl, redirect2: url } })
    this.flush()
    this.log.info({ to: base, stream: `${this.#app}/${fullName.split('?')[0]}` }, 'redirected: this node is over its placement limits')
    setTimeout(() => this.close(`redirected to ${base}`), REDIRECT_LINGER_MS).unref()
  }

  /** The id of the client on message stream `msid` (the connection's id for the first). */
  #clientId(msid: number): string {
    return msid <= 1 ? this.id : `${this.id}.${msid}`
  }

  /** The clients-list entry of a publisher or player on `msid`. */
  #client(msid: number, role: 'publisher' | 'player', stream: Stream, player?: RtmpPlayer): ClientSession {
    return {
      id: this.#clientId(msid), protocol: 'rtmp', role, app: stream.app, stream: stream.name,
      remoteAddress: this.remoteAddress, startedAt: Date.now(),
      counters: () => ({ bytesIn: this.socket.bytesRead, bytesOut: this.socket.bytesWritten, queueBytes: player ? this.queuedBytes : 0 }),
      close: (reason) => this.close(reason),
    }
  }

  #startPublish(msid: number, name: string): void {
    const publisher: Publisher = {
      id: this.id,
      protocol: 'rtmp',
      remoteAddress: this.remoteAddress,
      close: (reason: string) => this.close(reason),
    }
    let stream: Stream
    try {
      stream = this.#hub.publish(this.#app, name, publisher)
    } catch (error) {
      if (!(error instanceof RequestRejectedError)) throw error
      this.#slots.set(msid, { state: 'idle' })
      this.sendStatus(msid, status('NetStream.Publish.BadName', error.message, { details: name }))
      this.flush()
      this.log.warn({ stream: `${this.#app}/${name}` }, 'publish refused: name already live')
      return
    }
    const client = this.#client(msid, 'publisher', stream)
    this.#slots.set(msid, { state: 'publishing', stream, publisher, client })
    this.#clients.add(client)
    this.sendUserControl(0, msid)
    this.sendStatus(msid, status('NetStream.Publish.Start', `${this.#app}/${name} is now published.`, { details: name }))
    this.flush()
    this.log.info({ stream: stream.key }, 'publish started')
  }

  #startPlay(msid: number, name: string): void {
    const player = new RtmpPlayer(this, msid, this.#hub.drops.gate('rtmp'))
    const stream = this.#hub.subscribe(this.#app, name, player)
    const client = this.#client(msid, 'player', stream, player)
    this.#slots.set(msid, { state: 'playing', stream, player, client })
    this.#clients.add(client)
    player.start(stream)
    this.log.info({ stream: stream.key, live: stream.isLive }, 'play started')
  }

  #endSlot(msid: number, why: string): void {
    const slot = this.#slots.get(msid)
    if (!slot) return
    if (slot.state === 'publishing' || slot.state === 'playing') this.#clients.remove(slot.client, why)
    if (slot.state === 'publishing') {
      this.#hub.unpublish(slot.stream, slot.publisher)
      if (this.#state !== 'closed') {
        this.sendStatus(msid, status('NetStream.Unpublish.Success', `${slot.stream.key} is now unpublished.`, { details: slot.stream.name }))
      }
      this.log.info({ stream: slot.stream.key, why }, 'publish ended')
    } else if (slot.state === 'playing') {
      slot.player.stop()
      this.#hub.unsubscribe(slot.stream, slot.player)
      this.log.info({ stream: slot.stream.key, why, sent: slot.player.framesSent, dropped: slot.player.framesDropped }, 'play ended')
    }
    this.#slots.set(msid, { state: 'idle' })
  }

  #onDataMessage(e: RtmpEvent): void {
    const slot = this.#slots.get(e.messageStreamId ?? 0)
    if (!slot || slot.state !== 'publishing') return
    let values = e.values ?? []
    if (values[0] === '@setDataFrame') values = values.slice(1)
    if (values[0] !== 'onMetaData') return
    const meta = (values[1] && typeof values[1] === 'object' ? values[1] : {}) as Record<string, unknown>
    slot.stream.setMetadata(native.encodeAmf0(['onMetaData', meta]), meta)
  }

  #onMedia(kind: 'audio' | 'video', msid: number, timestamp: number, payload: Buffer, flags: number, compositionTime: number): void {
    const slot = this.#slots.get(msid)
    if (!slot || slot.state !== 'publishing') return
    slot.stream.pushFrame(
      kind,
      timestamp,
      payload,
      (flags & MEDIA_FLAG_KEYFRAME) !== 0,
      (flags & MEDIA_FLAG_SEQUENCE_HEADER) !== 0,
      compositionTime,
    )
  }

  /** Queues an onStatus command on a message stream. */
  sendStatus(msid: number, info: StatusInfo): void {
    this.#queue().sendCommand(msid, 'onStatus', 0, null, [info])
  }

  /** Queues a data message with these AMF0 values. */
  sendData(msid: number, values: unknown[]): void {
    this.#queue().sendData(msid, 0, values)
  }

  /** Queues a data message (type 18) with a ready AMF0 payload. */
  sendDataPayload(msid: number, timestamp: number, payload: Buffer): void {
    this.#queue().sendMessage(5, timestamp, 18, msid, payload)
  }

  /** Queues a user control event (0 StreamBegin, 1 StreamEOF, 6 PingRequest, ...). */
  sendUserControl(eventType: number, value: number): void {
    this.#queue().sendUserControl(eventType, value)
  }

  /** Writes what the session has queued. */
  flush(): void {
    if (!this.#queued) return
    this.#queued = false
    const out = this.#session.takeTransmit()
    if (out && this.#state !== 'closed') this.#send(out)
  }

  /** Writes `bytes` after the merge window's writes, if one is open; now otherwise. */
  #send(bytes: Buffer): void {
    if (this.#merged.length === 0) this.socket.write(bytes)
    else this.#gather(bytes)
  }

  /** Adds `bytes` to the merge window's writes. */
  #gather(bytes: Buffer): void {
    this.#merged.push(bytes)
    this.#mergedBytes += bytes.length
  }

  /** The session, for queueing messages that the next `flush()` sends. */
  #queue(): NativeRtmpSession {
    this.#queued = true
    return this.#session
  }

  /**
   * Writes ready chunk bytes (shared media bytes) after anything queued. What is written during
   * `playerMergeWriteMs` (0: the rest of this event-loop turn) leaves in one `socket.write()`
   * at the window's end (merged-writes.ts); other writes meanwhile keep their order behind it.
   */
  writeRaw(bytes: Buffer): void {
    if (this.#state === 'closed') return
    this.flush()
    if (this.#merged.length === 0) scheduleMergedFlush(this, this.options.playerMergeWriteMs)
    this.#gather(bytes)
  }

  /** The merge window ended: writes what was gathered, as one Buffer. */
  flushMerged(joins: JoinCache): void {
    const parts = this.#merged
    const bytes = this.#mergedBytes
    this.#merged = []
    this.#mergedBytes = 0
    if (this.#state === 'closed' || parts.length === 0) return
    this.socket.write(parts.length === 1 ? parts[0]! : joins.join(parts, bytes))
  }

  /** Closes the connection with a logged reason (idempotent); streams it published or played end. */
  close(reason: string): void {
    if (this.#state === 'closed') return
    for (const id of [...this.#slots.keys()]) this.#endSlot(id, reason)
    this.#state = 'closed'
    this.#merged = []
    this.#mergedBytes = 0
    clearInterval(this.#timer)
    this.#session.release() // payload slabs return to the pool once the views handed out are gone
    const normal = reason === 'peer closed the connection' || reason === 'server shutting down'
    if (normal) this.log.info({ reason }, 'connection closed')
    else this.log.warn({ reason }, 'connection closed')
    this.socket.destroy()
    this.#onClose(this)
  }
}
