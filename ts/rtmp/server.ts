/**
 * The RTMP listener: accepts TCP connections (and TLS ones on the RTMPS port, `rtmp.tls`) and
 * runs an `RtmpConnection` on each; both kinds are the same sessions once the TLS handshake is
 * done.
 */
import net from 'node:net'
import tls from 'node:tls'
import { readFileSync } from 'node:fs'
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
  #tlsServer: tls.Server | null = null
  readonly #connections = new Set<RtmpConnection>()
  readonly #ctx: { access: AccessControl; clients: ClientRegistry; placement?: () => Promise<string | null> }

  /** `ctx`: the server's access decision and clients list (publish and play go through them). */
  /** `ctx.placement`: where new publishers and players go instead (a cluster node's `rtmp://host:port`), or null to stay. */
  constructor(hub: StreamHub, log: Logger, options: Partial<RtmpOptions>, ctx: { access: AccessControl; clients: ClientRegistry; placement?: () => Promise<string | null> }) {
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

  /** The bound RTMPS port, or null without `tls`. */
  get tlsPort(): number | null {
    const a = this.#tlsServer?.address()
    return typeof a === 'object' && a ? a.port : null
  }

  /**
   * Starts listening (and on the RTMPS port with `tls`). Rejects with `ListenError`
   * (`EADDRINUSE`, ...) when a port can't be bound, `TLS_CONFIG` when the certificate or key
   * can't be read or used.
   */
  async listen(): Promise<void> {
    await this.#listenOn(this.#server, this.options.port, this.options.host, 'RTMP')
    const t = this.options.tls
    if (!t) return
    let server: tls.Server
    try {
      server = tls.createServer({ cert: readFileSync(t.certFile), key: readFileSync(t.keyFile) }, (socket) => this.#accept(socket))
    } catch (error) {
      throw new ListenError('TLS_CONFIG', `RTMPS: cannot use rtmp.tls.certFile/keyFile: ${(error as Error).message}`)
    }
    server.on('tlsClientError', (err) => this.#log.debug({ err: err.message }, 'RTMPS handshake failed'))
    this.#tlsServer = server
    await this.#listenOn(server, t.port, t.host ?? this.options.host, 'RTMPS')
  }

  #listenOn(server: net.Server, port: number, host: string, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new ListenError(err.code ?? 'LISTEN_FAILED', `${what} cannot listen on ${host}:${port}: ${err.message}`))
      }
      server.once('error', onError)
      server.listen(port, host, () => {
        server.off('error', onError)
        server.on('error', (err) => this.#log.error({ err }, `${what} server error`))
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
      placement: this.#ctx.placement,
    })
    this.#connections.add(connection)
    this.safeEmit('connection', connection)
  }

  /** Stops listening (the port is free for a replacement process); open connections go on. */
  stopAccepting(): void {
    if (this.#server.listening) this.#server.close()
    if (this.#tlsServer?.listening) this.#tlsServer.close()
  }

  /** Stops accepting, closes every connection, resolves when the listener is closed. */
  close(): Promise<void> {
    for (const c of [...this.#connections]) c.close('server shutting down')
    const closed = (server: net.Server | null) => new Promise<void>((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()))
    return Promise.all([closed(this.#server), closed(this.#tlsServer)]).then(() => undefined)
  }
}
