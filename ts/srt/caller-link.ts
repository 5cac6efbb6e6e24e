/**
 * Sluice as an SRT caller: one link to another SRT listener (an encoder, srt-live-transmit,
 * another server) on a UDP socket of its own, driving the native `SrtCaller` (handshake repeats,
 * connect timeout, AES), reconnecting with backoff (1 s doubling to 30 s) until closed. Pulls
 * (ts/srt/pull.ts) and pushes (ts/srt/push.ts) are links with a hub side.
 *
 * Targets are `srt://host:port` URLs whose query gives libsrt's options: `streamid`,
 * `passphrase`, `pbkeylen` (16/24/32), `latency` (ms). The host must pass
 * `rtp.allowedDestinations` (loopback always does) before the link exists; it is resolved once.
 */
import dgram from 'node:dgram'
import { native } from '../native'
import type { Logger } from '../log'
import { ReconnectSchedule } from '../hub/reconnect'
import { badLinkUrl, parseLinkUrl } from '../http/link-routes'

type Caller = InstanceType<typeof native.SrtCaller>

/** An `srt://` URL read into the caller's options. */
/** libsrt's defaults: SRTO_KMREFRESHRATE and SRTO_KMPREANNOUNCE, packets. */
export const KM_REFRESH_RATE = 1 << 24
export const KM_PRE_ANNOUNCE = 1 << 12

export interface SrtPullTarget {
  host: string
  port: number
  streamId: string | null
  passphrase: string | null
  keyLength: 16 | 24 | 32
  latencyMs: number | null
  /** Key refresh (`kmrefreshrate`, `kmpreannounce`; packets), null: libsrt's defaults. */
  kmRefreshRate: number | null
  kmPreAnnounce: number | null
}

/**
 * Reads `srt://host:port?streamid=...&passphrase=...&pbkeylen=...&latency=...&kmrefreshrate=...&kmpreannounce=...`
 * (libsrt's URL options). Throws `HttpRequestError` 400 for another scheme, a missing port, a
 * passphrase outside 10–79 characters, a `pbkeylen` other than 16/24/32, a `latency` outside
 * 20–10000 ms, or a `kmrefreshrate` under twice `kmpreannounce` (defaults 2^24 and 4096).
 */
export function parseSrtUrl(text: string): SrtPullTarget {
  const url = parseLinkUrl(text, ['srt:'], 'srt://host:port')
  const port = Number(url.port)
  if (!url.hostname || !Number.isInteger(port) || port < 1 || port > 65535) badLinkUrl('needs a host and a port')
  const q = url.searchParams
  const passphrase = q.get('passphrase')
  if (passphrase !== null && (passphrase.length < 10 || passphrase.length > 79)) badLinkUrl('passphrase must be 10-79 characters')
  const keyLength = Number(q.get('pbkeylen') ?? 16)
  if (keyLength !== 16 && keyLength !== 24 && keyLength !== 32) badLinkUrl('pbkeylen must be 16, 24 or 32')
  const latency = q.get('latency')
  const latencyMs = latency === null ? null : Number(latency)
  if (latencyMs !== null && !(Number.isInteger(latencyMs) && latencyMs >= 20 && latencyMs <= 10_000)) badLinkUrl('latency must be 20-10000 ms')
  const packets = (name: string): number | null => {
    const v = q.get(name)
    if (v === null) return null
    const n = Number(v)
    return Number.isInteger(n) && n >= 1 && n <= 0xffffffff ? n : badLinkUrl(`${name} must be a packet count`)
  }
  const kmRefreshRate = packets('kmrefreshrate')
  const kmPreAnnounce = packets('kmpreannounce')
  if ((kmRefreshRate ?? KM_REFRESH_RATE) < 2 * (kmPreAnnounce ?? KM_PRE_ANNOUNCE)) badLinkUrl('kmrefreshrate must be at least twice kmpreannounce')
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port, streamId: q.get('streamid'), passphrase, keyLength: keyLength as 16 | 24 | 32, latencyMs, kmRefreshRate, kmPreAnnounce }
}

/** What a link does with its sessions. */
export interface CallerLinkHandlers {
  /** Connected (`session`: the listener's `ip:port`, `latencyMs`: negotiated). */
  opened(session: string, latencyMs: number): void
  /** Payloads the listener sent, released after TSBPD. */
  data(data: Buffer): void
  /** The session ended (a reconnect follows unless the link is closed). */
  ended(reason: string): void
}

export class CallerLink {
  readonly #target: SrtPullTarget & { address: string; family: 4 | 6 }
  readonly #latencyMs: number
  readonly #log: Logger
  readonly #handlers: CallerLinkHandlers
  readonly #name: string
  #socket: dgram.Socket | null = null
  #caller: Caller | null = null
  #timer: NodeJS.Timeout | null = null
  readonly #reconnect = new ReconnectSchedule()
  #closed = false
  #open = false
  /** Connections made, and the reason the last one ended. */
  connections = 0
  lastError: string | null = null

  /** `name`: for logs (the pull's or push's id). Starts connecting at once. */
  constructor(name: string, target: SrtPullTarget & { address: string; family: 4 | 6 }, latencyMs: number, log: Logger, handlers: CallerLinkHandlers) {
    this.#name = name
    this.#target = target
    this.#latencyMs = latencyMs
    this.#log = log
    this.#handlers = handlers
    this.#connect()
  }

  /** `srt://address:port` of the listener. */
  get url(): string {
    const t = this.#target
    return `srt://${t.family === 6 ? `[${t.address}]` : t.address}:${t.port}`
  }
  get streamId(): string | null {
    return this.#target.streamId
  }
  get connected(): boolean {
    return this.#open
  }

  /** What `GET /api/srt/pulls` and `/pushes` show of the link itself. */
  describe(): { url: string; streamId: string | null; connected: boolean; connections: number; lastError: string | null; srt: ReturnType<Caller['stats']> } {
    return { url: this.url, streamId: this.streamId, connected: this.#open, connections: this.connections, lastError: this.lastError, srt: this.stats() }
  }

  /** The session's statistics, or null when not connected. */
  stats(): ReturnType<Caller['stats']> {
    return this.#open ? (this.#caller?.stats() ?? null) : null
  }

  /** Queues bytes to the listener (a push). False when not connected. */
  send(data: Buffer): boolean {
    const ok = this.#open && (this.#caller?.send(data) ?? false)
    this.#flush()
    return ok
  }

  /** Ends the current session (SRT shutdown); the link reconnects after its backoff. */
  hangUp(): void {
    if (!this.#open || !this.#caller) return
    this.#caller.close()
    this.#flush()
  }

  /** Ends the session (or the attempt) for good. Idempotent. */
  close(reason = 'closed'): void {
    if (this.#closed) return
    this.#closed = true
    this.#reconnect.cancel()
    if (this.#caller) {
      this.#caller.close()
      this.#flush()
    }
    this.#ended(reason)
  }

  #connect(): void {
    if (this.#closed) return
    const t = this.#target
    const socket = dgram.createSocket({ type: t.family === 6 ? 'udp6' : 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 })
    this.#socket = socket
    socket.on('error', (err) => this.#log.warn({ link: this.#name, err: err.message }, 'SRT caller socket error'))
    socket.bind(0, () => {
      if (this.#socket !== socket) return
      try {
        this.#caller = new native.SrtCaller({
          address: t.address, port: t.port, localAddress: socket.address().address, streamId: t.streamId ?? undefined,
          passphrase: t.passphrase ?? undefined, keyLength: t.keyLength, latencyMs: t.latencyMs ?? this.#latencyMs,
          kmRefreshRate: t.kmRefreshRate ?? undefined, kmPreAnnounce: t.kmPreAnnounce ?? undefined,
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
      if (e.kind === 'open') {
        this.#open = true
        this.connections++
        this.#reconnect.succeeded()
        this.#handlers.opened(e.session, e.latencyMs ?? 0)
      } else if (e.kind === 'data' && e.data) this.#handlers.data(e.data)
      else if (e.kind === 'closed') return this.#ended(e.reason ?? 'closed')
    }
    if (out.nextTickMs >= 0) {
      if (this.#timer) clearTimeout(this.#timer)
      this.#timer = setTimeout(() => this.#tick(), Math.max(1, out.nextTickMs))
    }
  }

  #ended(reason: string): void {
    if (!this.#caller && !this.#socket) return
    this.lastError = reason
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    const wasOpen = this.#open
    this.#open = false
    this.#caller = null
    this.#socket?.close()
    this.#socket = null
    if (wasOpen) this.#handlers.ended(reason)
    if (this.#closed) return
    const retryMs = this.#reconnect.schedule(() => this.#connect())
    this.#log.info({ link: this.#name, reason, retryMs }, 'SRT caller disconnected; retrying')
  }
}
