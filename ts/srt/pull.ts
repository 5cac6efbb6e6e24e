/**
 * An SRT pull: Sluice calls another SRT listener (an encoder, srt-live-transmit, another server)
 * and publishes what it sends as a hub stream, reconnecting with backoff (1 s doubling to 30 s)
 * until deleted. Created through `POST /api/srt/pulls` (admin) with an `srt://host:port` URL
 * whose query gives libsrt's options: `streamid`, `passphrase`, `pbkeylen` (16/24/32), `latency`
 * (ms). The host must pass `rtp.allowedDestinations` (loopback always does) before any packet
 * goes out; it is resolved once and the address kept.
 */
import dgram from 'node:dgram'
import { native } from '../native'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { ClientRegistry, ClientSession } from '../clients/registry'
import { HttpRequestError } from '../errors'
import { SrtPublisher } from './publisher'

type Caller = InstanceType<typeof native.SrtCaller>

/** An `srt://` URL read into the caller's options. */
export interface SrtPullTarget {
  host: string
  port: number
  streamId: string | null
  passphrase: string | null
  keyLength: 16 | 24 | 32
  latencyMs: number | null
}

/**
 * Reads `srt://host:port?streamid=...&passphrase=...&pbkeylen=...&latency=...`. Throws
 * `HttpRequestError` 400 for another scheme, a missing port, a passphrase outside 10–79
 * characters, a `pbkeylen` other than 16/24/32 or a `latency` outside 20–10000 ms.
 */
export function parseSrtUrl(text: string): SrtPullTarget {
  const bad = (why: string): never => {
    throw new HttpRequestError(400, 'HTTP_BAD_REQUEST', `url: ${why}`)
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return bad('not a URL')
  }
  if (url.protocol !== 'srt:') bad('must be srt://host:port')
  const port = Number(url.port)
  if (!url.hostname || !Number.isInteger(port) || port < 1 || port > 65535) bad('needs a host and a port')
  const q = url.searchParams
  const passphrase = q.get('passphrase')
  if (passphrase !== null && (passphrase.length < 10 || passphrase.length > 79)) bad('passphrase must be 10-79 characters')
  const keyLength = Number(q.get('pbkeylen') ?? 16)
  if (keyLength !== 16 && keyLength !== 24 && keyLength !== 32) bad('pbkeylen must be 16, 24 or 32')
  const latency = q.get('latency')
  const latencyMs = latency === null ? null : Number(latency)
  if (latencyMs !== null && !(Number.isInteger(latencyMs) && latencyMs >= 20 && latencyMs <= 10_000)) bad('latency must be 20-10000 ms')
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port, streamId: q.get('streamid'), passphrase, keyLength: keyLength as 16 | 24 | 32, latencyMs }
}

export interface SrtPullOptions {
  id: string
  app: string
  stream: string
  /** The listener, with its host already resolved to `address` and allowed. */
  target: SrtPullTarget & { address: string; family: 4 | 6 }
  latencyMs: number
  maxAccessUnitBytes: number
}

export class SrtPull {
  readonly id: string
  readonly app: string
  readonly stream: string
  readonly #options: SrtPullOptions
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #clients: ClientRegistry
  #socket: dgram.Socket | null = null
  #caller: Caller | null = null
  #publisher: SrtPublisher | null = null
  #client: ClientSession | null = null
  #timer: NodeJS.Timeout | null = null
  #retry: NodeJS.Timeout | null = null
  #backoffMs = 1000
  #closed = false
  /** Connections made, and the reason the last one ended. */
  connections = 0
  lastError: string | null = null

  constructor(hub: StreamHub, log: Logger, clients: ClientRegistry, options: SrtPullOptions) {
    this.id = options.id
    this.app = options.app
    this.stream = options.stream
    this.#options = options
    this.#hub = hub
    this.#log = log
    this.#clients = clients
    this.#connect()
  }

  /** For `GET /api/srt/pulls`. */
  stats(): Record<string, unknown> {
    const t = this.#options.target
    return {
      id: this.id, app: this.app, stream: this.stream, url: `srt://${t.family === 6 ? `[${t.address}]` : t.address}:${t.port}`, streamId: t.streamId,
      connected: this.#caller?.connected ?? false, connections: this.connections, lastError: this.lastError,
      bytesIn: this.#publisher?.bytesIn ?? 0, srt: this.#caller?.stats() ?? null,
    }
  }

  #connect(): void {
    if (this.#closed) return
    const t = this.#options.target
    const socket = dgram.createSocket({ type: t.family === 6 ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 })
    this.#socket = socket
    socket.on('error', (err) => this.#log.warn({ pull: this.id, err: err.message }, 'SRT pull socket error'))
    socket.bind(0, () => {
      if (this.#socket !== socket) return
      try {
        this.#caller = new native.SrtCaller({
          address: t.address, port: t.port, localAddress: socket.address().address, streamId: t.streamId ?? undefined,
          passphrase: t.passphrase ?? undefined, keyLength: t.keyLength, latencyMs: t.latencyMs ?? this.#options.latencyMs,
        })
      } catch (error) {
        this.lastError = (error as Error).message
        return this.close(this.lastError)
      }
      socket.on('message', (msg, rinfo) => {
        this.#caller?.receive(msg, rinfo.address, rinfo.port)
        this.#flush()
      })
      this.#tick()
    })
  }

  #tick(): void {
    this.#timer = null
    this.#caller?.tick()
    this.#flush()
  }

  #flush(): void {
    const caller = this.#caller
    const socket = this.#socket
    if (!caller || !socket) return
    const out = caller.drain()
    let start = 0
    out.ends.forEach((end, i) => {
      socket.send(out.datagrams.subarray(start, end), out.ports[i]!, out.addresses[i]!)
      start = end
    })
    for (const e of out.events) {
      if (e.kind === 'open') this.#opened(e.session, e.latencyMs ?? 0)
      else if (e.kind === 'data' && e.data) this.#publisher?.push(e.data)
      else if (e.kind === 'closed') return this.#ended(e.reason ?? 'closed')
    }
    if (out.nextTickMs >= 0) {
      if (this.#timer) clearTimeout(this.#timer)
      this.#timer = setTimeout(() => this.#tick(), Math.max(1, out.nextTickMs))
    }
  }

  #opened(session: string, latencyMs: number): void {
    this.connections++
    this.#backoffMs = 1000
    try {
      this.#publisher = new SrtPublisher(this.#hub, this.#log, {
        id: this.id, app: this.app, stream: this.stream, remoteAddress: session, maxAccessUnitBytes: this.#options.maxAccessUnitBytes,
        closeSession: () => {
          this.#caller?.close()
          this.#flush()
        },
      })
    } catch (error) {
      this.lastError = (error as Error).message
      this.#caller?.close()
      return
    }
    const publisher = this.#publisher
    this.#client = {
      id: this.id, protocol: 'srt', role: 'publisher', app: this.app, stream: this.stream, remoteAddress: session, startedAt: Date.now(),
      counters: () => ({ bytesIn: publisher.bytesIn, bytesOut: 0, queueBytes: 0 }),
      details: () => ({ pull: true, latencyMs, ...(this.#caller?.stats() ? { packetsReceived: this.#caller.stats()!.packetsReceived } : {}) }),
      close: (reason) => this.close(reason),
    }
    this.#clients.add(this.#client)
    this.#log.info({ pull: this.id, stream: `${this.app}/${this.stream}`, remote: session, latencyMs }, 'SRT pull connected')
  }

  #ended(reason: string): void {
    this.lastError = reason
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#publisher?.close(reason)
    this.#publisher = null
    if (this.#client) this.#clients.remove(this.#client, reason)
    this.#client = null
    this.#caller = null
    this.#socket?.close()
    this.#socket = null
    if (this.#closed) return
    this.#log.info({ pull: this.id, reason, retryMs: this.#backoffMs }, 'SRT pull disconnected; retrying')
    this.#retry = setTimeout(() => this.#connect(), this.#backoffMs)
    this.#backoffMs = Math.min(30_000, this.#backoffMs * 2)
  }

  /** Stops pulling: the session closes, the stream is unpublished. Idempotent. */
  close(reason = 'pull deleted'): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#retry) clearTimeout(this.#retry)
    if (this.#caller) {
      this.#caller.close()
      this.#flush()
    }
    this.#ended(reason)
  }
}

