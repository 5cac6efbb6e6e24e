/**
 * Every connected publisher and player of every protocol, by id: what `GET /api/clients` lists,
 * `DELETE /api/clients/{id}` kicks, `/metrics` counts, and what lifecycle events
 * (`sluice.on('unpublish' | 'stop')`, the `on_unpublish`/`on_stop` webhooks) describe.
 *
 * A protocol adds a `ClientSession` once its request was accepted and removes it (once, with the
 * reason) when the session ends; `remove` of an unknown or removed session does nothing.
 */
import { TypedEmitter } from '../events'
import type { ClientProtocol } from '../access/request'

/** Counters a session reports when listed. */
export interface ClientCounters {
  /** Bytes received from the client (media for publishers), total. */
  bytesIn: number
  /** Bytes sent to the client, total. */
  bytesOut: number
  /** Bytes queued towards the client and not yet written (players), or 0. */
  queueBytes: number
}

/** What a protocol registers for one client session. */
export interface ClientSession {
  /** Unique among all clients (`rtmp-12`, `whep-<uuid>`, ...). */
  readonly id: string
  readonly protocol: ClientProtocol
  readonly role: 'publisher' | 'player'
  readonly app: string
  readonly stream: string
  /** `ip:port` (or the IP alone where there is no port). */
  readonly remoteAddress: string
  /** Unix ms. */
  readonly startedAt: number
  counters(): ClientCounters
  /**
   * Protocol-specific figures listed with the client (SRT: RTT, loss, retransmissions, too-late
   * drops, latency), when the protocol has some.
   */
  details?(): Record<string, number | string | boolean>
  /**
   * Ends the session the protocol's own way (RTMP: status then close; HTTP-FLV: the response
   * ends; WHEP/WHIP: the PeerConnection closes) with a logged reason. Idempotent.
   */
  close(reason: string): void
}

/** One entry of `GET /api/clients`; also the payload of lifecycle events. */
export interface ClientInfo extends ClientCounters {
  id: string
  protocol: ClientProtocol
  role: 'publisher' | 'player'
  app: string
  stream: string
  remoteAddress: string
  /** ISO 8601. */
  startedAt: string
  /** Ms since start. */
  durationMs: number
  /** bits/s over the interval since the previous listing (at least 1 s), 0 on the first. */
  bitrate: number
  /** Protocol-specific figures (see `ClientSession.details`), when the protocol has some. */
  details?: Record<string, number | string | boolean>
}

/** A lifecycle event's payload: the client as it ended, and why. */
export interface ClientEnded extends ClientInfo {
  reason: string
}

export type ClientRegistryEvents = {
  added: [session: ClientSession]
  removed: [ended: ClientEnded]
}

interface Sample {
  at: number
  bytes: number
  bitrate: number
}

export class ClientRegistry extends TypedEmitter<ClientRegistryEvents> {
  readonly #sessions = new Map<string, ClientSession>()
  readonly #samples = new Map<string, Sample>()
  /** Bytes of sessions already removed, by protocol (so totals never go back). */
  readonly #endedBytes = new Map<ClientProtocol, { bytesIn: number; bytesOut: number }>()
  /** Sessions kicked through `kick()`, for `/metrics`. */
  kicks = 0

  get size(): number {
    return this.#sessions.size
  }

  add(session: ClientSession): void {
    this.#sessions.set(session.id, session)
    this.safeEmit('added', session)
  }

  /** Removes a session (once) and emits `removed` with its final counters. */
  remove(session: ClientSession, reason: string): void {
    if (this.#sessions.get(session.id) !== session) return
    const info = this.#describe(session, Date.now())
    this.#sessions.delete(session.id)
    this.#samples.delete(session.id)
    const t = this.#endedBytes.get(session.protocol) ?? { bytesIn: 0, bytesOut: 0 }
    t.bytesIn += info.bytesIn
    t.bytesOut += info.bytesOut
    this.#endedBytes.set(session.protocol, t)
    this.safeEmit('removed', { ...info, reason })
  }

  get(id: string): ClientSession | undefined {
    return this.#sessions.get(id)
  }

  sessions(): IterableIterator<ClientSession> {
    return this.#sessions.values()
  }

  list(now = Date.now()): ClientInfo[] {
    return [...this.#sessions.values()].map((s) => this.#describe(s, now))
  }

  /** Closes a client the protocol's own way; false when there is none with this id. */
  kick(id: string, reason = 'kicked by an administrator'): boolean {
    const s = this.#sessions.get(id)
    if (!s) return false
    this.kicks++
    s.close(reason)
    this.remove(s, reason)
    return true
  }

  /** Total bytes in and out per protocol since start (live and ended sessions). */
  totals(): Map<ClientProtocol, { bytesIn: number; bytesOut: number }> {
    const out = new Map<ClientProtocol, { bytesIn: number; bytesOut: number }>()
    for (const [p, t] of this.#endedBytes) out.set(p, { ...t })
    for (const s of this.#sessions.values()) {
      const c = s.counters()
      const t = out.get(s.protocol) ?? { bytesIn: 0, bytesOut: 0 }
      t.bytesIn += c.bytesIn
      t.bytesOut += c.bytesOut
      out.set(s.protocol, t)
    }
    return out
  }

  #describe(s: ClientSession, now: number): ClientInfo {
    const c = s.counters()
    const bytes = s.role === 'publisher' ? c.bytesIn : c.bytesOut
    const prev = this.#samples.get(s.id)
    let bitrate = prev?.bitrate ?? 0
    if (!prev) this.#samples.set(s.id, { at: now, bytes, bitrate: 0 })
    else if (now - prev.at >= 1000) {
      bitrate = Math.round(((bytes - prev.bytes) * 8000) / (now - prev.at))
      this.#samples.set(s.id, { at: now, bytes, bitrate })
    }
    return {
      id: s.id, protocol: s.protocol, role: s.role, app: s.app, stream: s.stream, remoteAddress: s.remoteAddress,
      startedAt: new Date(s.startedAt).toISOString(), durationMs: now - s.startedAt, bitrate, ...c,
      ...(s.details ? { details: s.details() } : {}),
    }
  }
}
