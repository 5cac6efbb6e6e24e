/**
 * The cluster's stream registry in Redis (ioredis): which nodes are up, their load, which node
 * holds which published stream, which node a room is pinned to. No membership or consensus of
 * our own: every entry is a key with a TTL refreshed by its owner's heartbeat, so a dead node's
 * entries vanish within `ttlMs`; changes are announced on one pub/sub channel.
 *
 * Keys (`p` = `cluster.redis.keyPrefix`, default `sluice:`), values JSON, each `PX ttlMs`:
 * - `p` `node:` id → `ClusterNode`
 * - `p` `stream:` app `/` name → `ClusterStream` (the origin: the node its publisher is on)
 * - `p` `room:` name → node id (SFU and MCU rooms)
 * - `p` `p2p:` name `:peers` → hash of a P2P room's members (ts/cluster/p2p-bus.ts)
 *
 * Channels: `p` `events` (`ClusterEvent` JSON), `p` `p2p:` name (one per P2P room).
 *
 * Redis down: every call that needs an answer rejects at once with `ClusterUnavailableError`
 * (no offline queue), heartbeats are skipped, and on reconnection the owner writes everything
 * again (`up` event) — the cluster heals without a restart. A record whose node has no live
 * `node:` key is stale and never returned.
 */
import { readFileSync } from 'node:fs'
import type { Redis as RedisClient } from 'ioredis'
import { TypedEmitter } from '../events'
import { ClusterUnavailableError } from '../errors'
import type { Logger } from '../log'

/** A node's load, sampled every heartbeat. */
export interface NodeLoad {
  /** Process CPU over the last heartbeat, fraction of one core (0.5 = half a core). */
  cpu: number
  /** Players and viewers of every protocol. */
  viewers: number
  publishers: number
  /** Bytes sent to clients over the last heartbeat, as bits/s. */
  bitrateOut: number
  /** Relay links this node pulls over. */
  links: number
}

/** A node as the registry knows it. */
export interface ClusterNode {
  id: string
  /** Base URL of its HTTP server (`http://10.0.0.2:8000`): relay offers, WHEP/WHIP redirects. */
  http: string
  /** `rtmp://host:port` players and publishers are redirected to; null when not advertised. */
  rtmp: string | null
  /** `host:port` of its SRT listener; null when off. */
  srt: string | null
  load: NodeLoad
  /** Whether this node takes new clients (below its placement limits). */
  accepting: boolean
  /** Unix ms. */
  startedAt: number
  updatedAt: number
}

/** A published stream and the node it is published on. */
export interface ClusterStream {
  app: string
  name: string
  node: string
  /** Unix ms of the publish. */
  since: number
  /** Hub codec names (`H264`, `AAC`, ...) once known, else null. */
  video: string | null
  audio: string | null
}

export type ClusterEvent =
  | { type: 'stream-up'; stream: ClusterStream }
  | { type: 'stream-down'; app: string; name: string; node: string }
  | { type: 'node-down'; node: string }

export interface RegistryOptions {
  /** `redis://` or `rediss://` URL (user and password may be in it). */
  url: string
  password: string | null
  /** TLS even with a `redis://` URL. */
  tls: boolean
  /** PEM CA file for TLS. */
  caFile: string | null
  keyPrefix: string
  ttlMs: number
}

/** Deletes a stream's key only when it names this node (a publisher that moved keeps its new record). */
const WITHDRAW = `local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v).node == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0`

export class ClusterRegistry extends TypedEmitter<{ event: [event: ClusterEvent]; room: [room: string, message: string]; up: []; down: [reason: string] }> {
  readonly #options: RegistryOptions
  readonly #log: Logger
  #redis: RedisClient | null = null
  #sub: RedisClient | null = null
  #up = false
  #closed = false
  /** Lookups answered, for `/metrics`: found, missing, stale, unavailable. */
  readonly lookups = { found: 0, missing: 0, stale: 0, unavailable: 0 }

  constructor(options: RegistryOptions, log: Logger) {
    super()
    this.#options = options
    this.#log = log.child({ component: 'cluster-registry' })
  }

  /** Whether Redis answers now. */
  get up(): boolean {
    return this.#up
  }

  #key(kind: 'node' | 'stream' | 'room' | 'p2p', id: string): string {
    return `${this.#options.keyPrefix}${kind}:${id}`
  }

  get #channel(): string {
    return `${this.#options.keyPrefix}events`
  }

  /**
   * Connects (both connections: commands and the event subscription) and keeps reconnecting;
   * resolves at once — Redis may be down at start, the node serves its local streams anyway.
   */
  async connect(): Promise<void> {
    const { Redis } = await import('ioredis')
    const o = this.#options
    const tls = o.tls || o.url.startsWith('rediss://') ? { ca: o.caFile ? readFileSync(o.caFile) : undefined } : undefined
    const common = {
      password: o.password ?? undefined,
      tls,
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(200 * times, 2000),
    }
    const redis = new Redis(o.url, { ...common, enableOfflineQueue: false })
    const sub = new Redis(o.url, { ...common, enableOfflineQueue: true })
    this.#redis = redis
    this.#sub = sub
    redis.on('ready', () => {
      if (this.#up) return
      this.#up = true
      this.#log.info({ url: redact(o.url) }, 'cluster registry connected')
      this.safeEmit('up')
    })
    const down = (reason: string) => {
      if (!this.#up) return
      this.#up = false
      this.#log.warn({ reason }, 'cluster registry unreachable: serving local streams, lookups fail until it returns')
      this.safeEmit('down', reason)
    }
    redis.on('close', () => down('connection closed'))
    redis.on('error', (error: Error) => this.#log.debug({ err: error.message }, 'cluster registry error'))
    sub.on('error', (error: Error) => this.#log.debug({ err: error.message }, 'cluster registry subscription error'))
    const roomPrefix = this.#key('p2p', '')
    sub.on('message', (channel: string, message: string) => {
      if (channel.startsWith(roomPrefix)) return void this.safeEmit('room', channel.slice(roomPrefix.length), message)
      let event: ClusterEvent
      try {
        event = JSON.parse(message) as ClusterEvent
      } catch {
        return this.#log.warn('cluster event that is not JSON: ignored')
      }
      this.safeEmit('event', event)
    })
    redis.connect().catch(() => {}) // retried by retryStrategy
    sub.connect().catch(() => {})
    sub.subscribe(this.#channel).catch(() => {})
  }

  /** The connection, or `ClusterUnavailableError` while Redis is down. */
  #client(): RedisClient {
    if (!this.#redis || !this.#up) throw new ClusterUnavailableError('the cluster registry (Redis) is unreachable')
    return this.#redis
  }

  async #run<T>(fn: (redis: RedisClient) => Promise<T>): Promise<T> {
    const redis = this.#client()
    try {
      return await fn(redis)
    } catch (error) {
      if (error instanceof ClusterUnavailableError) throw error
      throw new ClusterUnavailableError(`the cluster registry failed: ${(error as Error).message}`)
    }
  }

  /**
   * Writes this node and what it owns with a fresh TTL: its record, its streams, its rooms.
   * Rejects with `ClusterUnavailableError` while Redis is down.
   */
  heartbeat(node: ClusterNode, streams: readonly ClusterStream[], rooms: readonly string[]): Promise<void> {
    return this.#run(async (redis) => {
      const ttl = this.#options.ttlMs
      const p = redis.multi()
      p.set(this.#key('node', node.id), JSON.stringify(node), 'PX', ttl)
      for (const s of streams) p.set(this.#key('stream', `${s.app}/${s.name}`), JSON.stringify(s), 'PX', ttl)
      for (const r of rooms) p.set(this.#key('room', r), node.id, 'PX', ttl)
      await p.exec()
    })
  }

  /** Records `stream` as published on its node (replacing any older record) and announces it. */
  announce(stream: ClusterStream): Promise<void> {
    return this.#run(async (redis) => {
      await redis.set(this.#key('stream', `${stream.app}/${stream.name}`), JSON.stringify(stream), 'PX', this.#options.ttlMs)
      await redis.publish(this.#channel, JSON.stringify({ type: 'stream-up', stream } satisfies ClusterEvent))
    })
  }

  /** Removes `app/name` when `node` still holds it, and announces it. */
  withdraw(app: string, name: string, node: string): Promise<void> {
    return this.#run(async (redis) => {
      const removed = await redis.eval(WITHDRAW, 1, this.#key('stream', `${app}/${name}`), node)
      if (removed === 1) await redis.publish(this.#channel, JSON.stringify({ type: 'stream-down', app, name, node } satisfies ClusterEvent))
    })
  }

  /** Removes this node's record (a clean shutdown) and announces it; its streams were withdrawn. */
  leave(node: string): Promise<void> {
    return this.#run(async (redis) => {
      await redis.del(this.#key('node', node))
      await redis.publish(this.#channel, JSON.stringify({ type: 'node-down', node } satisfies ClusterEvent))
    })
  }

  /** A node's record, or null when it is not up. */
  async node(id: string): Promise<ClusterNode | null> {
    const text = await this.#run((redis) => redis.get(this.#key('node', id)))
    return text ? (JSON.parse(text) as ClusterNode) : null
  }

  /**
   * Where `app/name` is published: its record and its node, or null when no live node holds it
   * (no record, or a record whose node is gone: stale, not returned). Rejects with
   * `ClusterUnavailableError` while Redis is down.
   */
  async lookup(app: string, name: string): Promise<{ stream: ClusterStream; node: ClusterNode } | null> {
    let text: string | null
    try {
      text = await this.#run((redis) => redis.get(this.#key('stream', `${app}/${name}`)))
    } catch (error) {
      this.lookups.unavailable++
      throw error
    }
    if (!text) {
      this.lookups.missing++
      return null
    }
    const stream = JSON.parse(text) as ClusterStream
    const node = await this.node(stream.node)
    if (!node) {
      this.lookups.stale++
      return null
    }
    this.lookups.found++
    return { stream, node }
  }

  async #scan(pattern: string): Promise<string[]> {
    return this.#run(async (redis) => {
      const keys: string[] = []
      let cursor = '0'
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
        cursor = next
        keys.push(...batch)
      } while (cursor !== '0')
      if (keys.length === 0) return []
      return (await redis.mget(keys)).filter((v): v is string => v !== null)
    })
  }

  /** Every node up now. */
  async nodes(): Promise<ClusterNode[]> {
    return (await this.#scan(`${this.#options.keyPrefix}node:*`)).map((t) => JSON.parse(t) as ClusterNode)
  }

  /**
   * Every published stream of the cluster whose node is up (stale records are left out); `nodes`:
   * the nodes up, when the caller has just read them.
   */
  async streams(nodes?: readonly ClusterNode[]): Promise<ClusterStream[]> {
    const [records, up] = await Promise.all([this.#scan(`${this.#options.keyPrefix}stream:*`), nodes ?? this.nodes()])
    const ids = new Set(up.map((n) => n.id))
    return records.map((t) => JSON.parse(t) as ClusterStream).filter((s) => ids.has(s.node))
  }

  /**
   * The node room `name` is pinned to: `self` when no live node holds it (the room is pinned here
   * now), else the node that does. Rejects with `ClusterUnavailableError` while Redis is down.
   */
  async pinRoom(name: string, self: string): Promise<string> {
    return this.#run(async (redis) => {
      const key = this.#key('room', name)
      for (let attempt = 0; attempt < 3; attempt++) {
        if ((await redis.set(key, self, 'PX', this.#options.ttlMs, 'NX')) === 'OK') return self
        const holder = await redis.get(key)
        if (holder === null) continue
        if (holder === self || (await redis.exists(this.#key('node', holder)))) return holder
        await redis.del(key) // its node is gone: the pin is stale
      }
      return self
    })
  }

  /** Releases room `name` when this node holds it. */
  async releaseRoom(name: string, self: string): Promise<void> {
    await this.#run(async (redis) => {
      if ((await redis.get(this.#key('room', name))) === self) await redis.del(this.#key('room', name))
    })
  }

  /** Follows the events of P2P room `name` (`room` events) until `unsubscribeRoom`. */
  subscribeRoom(name: string): void {
    this.#sub?.subscribe(this.#key('p2p', name)).catch(() => {})
  }

  unsubscribeRoom(name: string): void {
    this.#sub?.unsubscribe(this.#key('p2p', name)).catch(() => {})
  }

  /** Publishes `message` (JSON text) on P2P room `name`'s channel. */
  publishRoom(name: string, message: string): Promise<void> {
    return this.#run(async (redis) => {
      await redis.publish(this.#key('p2p', name), message)
    })
  }

  /** Records a member of P2P room `name` (`value`: JSON text); the hash lives a day past its last change. */
  addRoomPeer(name: string, peerId: string, value: string): Promise<void> {
    return this.#run(async (redis) => {
      const key = this.#key('p2p', `${name}:peers`)
      await redis.multi().hset(key, peerId, value).pexpire(key, 86_400_000).exec()
    })
  }

  removeRoomPeer(name: string, peerId: string): Promise<void> {
    return this.#run(async (redis) => {
      await redis.hdel(this.#key('p2p', `${name}:peers`), peerId)
    })
  }

  /** The members of P2P room `name` (JSON texts as given to `addRoomPeer`). */
  roomPeers(name: string): Promise<string[]> {
    return this.#run(async (redis) => Object.values(await redis.hgetall(this.#key('p2p', `${name}:peers`))))
  }

  /** Closes both connections (idempotent). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#up = false
    this.#redis?.disconnect()
    this.#sub?.disconnect()
  }
}

/** A Redis URL without its password. */
export function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@')
}
