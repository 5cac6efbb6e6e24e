/** The RTMP listener: accepts TCP connections and runs an `RtmpConnection` on each. */
import net from 'node:net'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import { TypedEmitter } from '../events'
import { ListenError, type RtmpProtocolError } from '../errors'
import { RtmpConnection } from './connection'
import { defaultRtmpOptions, type RtmpOptions } from './options'
import type { AccessControl } from '../access/access-control'
import type { ClientRegistry } from '../clients/registry'

export type RtmpServerEvents = {
  connection: [connection: RtmpConnection]
  /**
   * A peer sent malformed input (`RtmpProtocolError`, or `RtmpHandshakeError` for a bad
   * handshake; `error.code` is stable, e.g. `RTMP_CHUNK_SIZE_OUT_OF_RANGE`). Its connection is
   * already closed; every other session goes on.
   */
  protocolError: [connection: RtmpConnection, error: RtmpProtocolError]
}

export class RtmpServer extends TypedEmitter<RtmpServerEvents> {
  readonly options: RtmpOptions
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #server: net.Server
  readonly #connections = new Set<RtmpConnection>()
  readonly #ctx: { access: AccessControl; clients: ClientRegistry }

  /** `ctx`: the server's access decision and clients list (publish and play go through them). */
  constructor(hub: StreamHub, log: Logger, options: Partial<RtmpOptions>, ctx: { access: AccessControl; clients: ClientRegistry }) {
    super()
    this.options = { ...defaultRtmpOptions, ...options }
    this.#hub = hub
    this.#ctx = ctx
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
      access: this.#ctx.access,
      clients: this.#ctx.clients,
      onClose: (c) => this.#connections.delete(c),
      onProtocolError: (c, error) => this.safeEmit('protocolError', c, error),
    })
    this.#connections.add(connection)
    this.safeEmit('connection', connection)
  }

  /** Stops listening (the port is free for a replacement process); open connections go on. */
  stopAccepting(): void {
    if (this.#server.listening) this.#server.close()
  }

  /** Stops accepting, closes every connection, resolves when the listener is closed. */
  close(): Promise<void> {
    for (const c of [...this.#connections]) c.close('server shutting down')
    return new Promise((resolve) => (this.#server.listening ? this.#server.close(() => resolve()) : resolve()))
  }
}
