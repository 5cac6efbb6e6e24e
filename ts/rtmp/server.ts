/** The RTMP listener: accepts TCP connections and runs an `RtmpConnection` on each. */
import net from 'node:net'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import { TypedEmitter } from '../events'
import { ListenError, type RtmpProtocolError } from '../errors'
import { RtmpConnection } from './connection'
import { defaultRtmpOptions, type RtmpOptions } from './options'
import type { StreamRequest } from './request'

export type RtmpServerEvents = {
  /** A publish request; call `accept()` or `reject(reason)`. Without listeners it is accepted. */
  publish: [request: StreamRequest]
  /** A play request; call `accept()` or `reject(reason)`. Without listeners it is accepted. */
  play: [request: StreamRequest]
  connection: [connection: RtmpConnection]
  /**
   * A peer sent malformed input (`RtmpProtocolError`, or `RtmpHandshakeError` for a bad
   * handshake; `error.code` is stable, e.g. `RTMP_CHUNK_SIZE_OUT_OF_RANGE`). Its connection is
   * already closed; every other session goes on.
   */
  protocolError: [connection: RtmpConnection, error: RtmpProtocolError]
}

const REQUEST_TIMEOUT_MS = 10_000

export class RtmpServer extends TypedEmitter<RtmpServerEvents> {
  readonly options: RtmpOptions
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #server: net.Server
  readonly #connections = new Set<RtmpConnection>()

  constructor(hub: StreamHub, log: Logger, options: Partial<RtmpOptions> = {}) {
    super()
    this.options = { ...defaultRtmpOptions, ...options }
    this.#hub = hub
    this.#log = log.child({ component: 'rtmp' })
    this.#server = net.createServer((socket) => this.#accept(socket))
  }

  get connections(): ReadonlySet<RtmpConnection> {
    return this.#connections
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    const a = this.#server.address()
    return typeof a === 'object' && a ? a.port : this.options.port
  }

  /** Starts listening. Rejects with `ListenError` (`EADDRINUSE`, ...) when the port can't be bound. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new ListenError(err.code ?? 'LISTEN_FAILED', `RTMP cannot listen on ${this.options.host}:${this.options.port}: ${err.message}`))
      }
      this.#server.once('error', onError)
      this.#server.listen(this.options.port, this.options.host, () => {
        this.#server.off('error', onError)
        this.#server.on('error', (err) => this.#log.error({ err }, 'rtmp server error'))
        resolve()
      })
    })
  }

  #accept(socket: net.Socket): void {
    const connection = new RtmpConnection(socket, {
      hub: this.#hub,
      options: this.options,
      log: this.#log,
      gate: (request) => this.#gate(request),
      onClose: (c) => this.#connections.delete(c),
      onProtocolError: (c, error) => this.safeEmit('protocolError', c, error),
    })
    this.#connections.add(connection)
    this.safeEmit('connection', connection)
  }

  #gate(request: StreamRequest): void {
    if (this.listenerCount(request.kind) === 0) {
      request.accept()
      return
    }
    const timer = setTimeout(() => request.reject('no answer from the application'), REQUEST_TIMEOUT_MS)
    timer.unref()
    this.safeEmit(request.kind, request)
  }

  /** Stops accepting, closes every connection, resolves when the listener is closed. */
  close(): Promise<void> {
    for (const c of [...this.#connections]) c.close('server shutting down')
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}
