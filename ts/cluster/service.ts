/**
 * Clusters (`cluster.redis` set): any stream playable from any node. This node
 * - registers itself (id, advertised addresses, load) and every stream published on it in the
 *   registry (ts/cluster/registry.ts), every `heartbeatMs`, with TTLs so a dead node's entries
 *   vanish within `ttlMs`;
 * - pulls a stream it does not hold from the node that does when a local player asks for it
 *   (ts/cluster/edge-links.ts), one link per stream;
 * - places new clients: past `maxViewers` or `maxCpu`, WHEP viewers and WHIP publishers are
 *   redirected (HTTP 307) to the least loaded node still below its limits;
 * - pins SFU/MCU rooms to one node (`roomNode`), and lets P2P signaling rooms span nodes
 *   (`p2p`, ts/cluster/p2p-bus.ts).
 *
 * `GET /api/cluster` (admin): this node, every node with its load, every stream and its node,
 * this node's links. Redis down: local streams and existing links go on, lookups fail with
 * `ClusterUnavailableError` (HTTP 503), and everything is written again when Redis returns.
 */
import os from 'node:os'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Publisher, Stream } from '../hub/stream'
import type { RtpService } from '../rtp/service'
import type { RtmpLinks } from '../rtmp/links'
import type { ClientRegistry } from '../clients/registry'
import type { HttpServer } from '../http/server'
import type { SluiceConfig } from '../config/schema'
import { ClusterError, ClusterUnavailableError, ConfigError } from '../errors'
import { ClusterRegistry, type ClusterNode, type ClusterStream, type NodeLoad } from './registry'
import { EdgeLinks } from './edge-links'
import { LoadMeter } from './load'
import { P2pBus } from './p2p-bus'

export interface ClusterDeps {
  /** The ports bound (known after listening: a configured 0 picks one). */
  ports: () => { http: number; rtmp: number | null; srt: number | null }
  hub: StreamHub
  http: HttpServer
  rtp: RtpService
  rtmpLinks: RtmpLinks
  clients: ClientRegistry
  log: Logger
  config: SluiceConfig
}

export class ClusterService {
  readonly nodeId: string
  readonly registry: ClusterRegistry
  readonly edges: EdgeLinks
  /** P2P signaling rooms across nodes. */
  readonly p2p: P2pBus
  readonly #deps: ClusterDeps
  readonly #config: SluiceConfig['cluster']
  readonly #log: Logger
  #advertise: { http: string; rtmp: string | null; srt: string | null }
  readonly #load: LoadMeter
  readonly #startedAt = Date.now()
  readonly #rooms = new Set<string>()
  readonly #unobserve: () => void
  #timer: NodeJS.Timeout | null = null
  #lastLoad: NodeLoad = { cpu: 0, viewers: 0, publishers: 0, bitrateOut: 0, links: 0 }
  #closed = false

  /** `config.cluster.redis` must be set. Throws `ConfigError` without `rtp.relaySecret`. */
  constructor(deps: ClusterDeps) {
    const { config } = deps
    const redis = config.cluster.redis!
    if (!config.rtp.relaySecret) throw new ConfigError([{ path: 'rtp.relaySecret', message: 'a cluster (cluster.redis) needs rtp.relaySecret: nodes authenticate each other with it' }])
    this.#deps = deps
    this.#config = config.cluster
    this.nodeId = config.cluster.nodeId ?? `${os.hostname()}-${process.pid}`
    this.#log = deps.log.child({ component: 'cluster', node: this.nodeId })
    this.#advertise = advertisedAddresses(config, { http: config.http.port, rtmp: config.rtmp.port, srt: config.srt.enabled ? config.srt.port : null })
    this.#load = new LoadMeter(deps.clients)
    this.registry = new ClusterRegistry({ ...redis, ttlMs: config.cluster.ttlMs }, deps.log)
    this.edges = new EdgeLinks(deps.hub, this.registry, deps.rtp, deps.rtmpLinks, deps.log, {
      nodeId: this.nodeId, upstream: config.cluster.upstream, links: config.cluster.links, relaySecret: config.rtp.relaySecret!, idleMs: config.cluster.idleMs,
    })
    this.p2p = new P2pBus(this.registry, this.nodeId, deps.log)
    this.registry.on('up', () => void this.#heartbeat())
    this.registry.on('event', (event) => {
      if (event.type === 'stream-up') this.edges.moved(event.stream)
      else if (event.type === 'stream-down') this.edges.streamDown(event.app, event.name, event.node)
      else if (event.type === 'node-down') this.edges.nodeDown(event.node)
    })
    this.#unobserve = deps.hub.observe({
      published: (stream) => this.#published(stream),
      unpublished: (stream, publisher) => this.#unpublished(stream, publisher),
      demanded: (stream) => this.#demanded(stream),
    })
    deps.http.route('GET', /^\/api\/cluster\/?$/, async (_req, res) => {
      const body = JSON.stringify(await this.describe())
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' })
      res.end(body)
    })
  }

  /** Connects to Redis (resolves at once; reconnects on its own) and starts the heartbeats. */
  async start(): Promise<void> {
    this.#advertise = advertisedAddresses(this.#deps.config, this.#deps.ports())
    await this.registry.connect()
    this.#timer = setInterval(() => void this.#heartbeat(), this.#config.heartbeatMs)
    this.#timer.unref()
    this.#log.info({ advertise: this.#advertise }, 'cluster node started')
  }

  /** Streams published on this node by a client (not arriving over a link). */
  #ownStreams(): ClusterStream[] {
    return this.#deps.hub.live().filter((s) => !s.publisher!.replaceable).map((s) => this.#record(s))
  }

  #record(stream: Stream): ClusterStream {
    return { app: stream.app, name: stream.name, node: this.nodeId, since: stream.publishedAt, video: stream.video?.codec ?? null, audio: stream.audio?.codec ?? null }
  }

  /** This node's record as others see it. */
  get node(): ClusterNode {
    return {
      id: this.nodeId, ...this.#advertise, load: this.#lastLoad, accepting: this.#accepting(this.#lastLoad),
      startedAt: this.#startedAt, updatedAt: Date.now(),
    }
  }

  #accepting(load: NodeLoad): boolean {
    const c = this.#config
    return (c.maxViewers === null || load.viewers < c.maxViewers) && (c.maxCpu === null || load.cpu < c.maxCpu)
  }

  async #heartbeat(): Promise<void> {
    if (this.#closed) return
    this.#lastLoad = { ...this.#load.sample(), links: this.edges.links.size }
    if (!this.registry.up) return
    try {
      await this.registry.heartbeat(this.node, this.#ownStreams(), [...this.#rooms])
    } catch (error) {
      this.#log.debug({ err: (error as Error).message }, 'cluster heartbeat failed')
    }
  }

  /** Announced once its codecs are known, so that edges choose the right kind of link. */
  #published(stream: Stream): void {
    const publisher = stream.publisher
    if (!publisher || publisher.replaceable) return
    void stream.codecsKnown().then(() => {
      if (stream.publisher !== publisher || !this.registry.up) return
      this.registry.announce(this.#record(stream)).catch((error) => this.#log.warn({ stream: stream.key, err: (error as Error).message }, 'cluster: announcing a stream failed'))
    })
  }

  #unpublished(stream: Stream, publisher: Publisher): void {
    if (publisher.replaceable || !this.registry.up) return
    this.registry.withdraw(stream.app, stream.name, this.nodeId).catch((error) => this.#log.warn({ stream: stream.key, err: (error as Error).message }, 'cluster: withdrawing a stream failed'))
  }

  #demanded(stream: Stream): Promise<boolean> | Error {
    const search = this.edges.want(stream.app, stream.name)
    if (search) return search
    return new ClusterUnavailableError(`stream ${stream.key} is not on this node and the cluster registry (Redis) is unreachable to locate it`)
  }

  /**
   * Where a new client should go: null to stay here (below the limits, no other node accepting,
   * or the registry down), else the least loaded node that accepts — its base URL for `http`
   * (`http://host:port`: WHEP viewers, WHIP publishers), its `rtmp://host:port` for `rtmp`
   * (RTMP players and publishers; nodes that advertise no RTMP are passed over).
   */
  async placement(protocol: 'http' | 'rtmp' = 'http'): Promise<string | null> {
    const c = this.#config
    if (c.maxViewers === null && c.maxCpu === null) return null // no limits: nothing to count
    if (this.#accepting(this.#load.peek(this.edges.links.size))) return null
    let nodes: ClusterNode[]
    try {
      nodes = await this.registry.nodes()
    } catch {
      return null
    }
    const best = nodes
      .filter((n) => n.id !== this.nodeId && n.accepting && (protocol === 'http' || n.rtmp !== null))
      .sort((a, b) => a.load.viewers - b.load.viewers || a.load.cpu - b.load.cpu)[0]
    return (protocol === 'http' ? best?.http : best?.rtmp) ?? null
  }

  /**
   * The node room `name` lives on: this node's id (the room is pinned here while it exists) or
   * the other node's record. Throws `ClusterUnavailableError` while Redis is down.
   */
  async roomNode(name: string): Promise<ClusterNode | null> {
    const holder = await this.registry.pinRoom(name, this.nodeId)
    if (holder === this.nodeId) {
      this.#rooms.add(name)
      return null
    }
    return this.registry.node(holder)
  }

  /** Room `name` ended here: its pin is released. */
  roomClosed(name: string): void {
    if (!this.#rooms.delete(name)) return
    this.registry.releaseRoom(name, this.nodeId).catch(() => {})
  }

  /** `GET /api/cluster`. */
  async describe(): Promise<Record<string, unknown>> {
    let nodes: ClusterNode[] | null = null
    let streams: ClusterStream[] | null = null
    let error: string | null = null
    try {
      nodes = await this.registry.nodes()
      streams = await this.registry.streams(nodes)
    } catch (e) {
      error = e instanceof ClusterError ? e.message : String(e)
    }
    return {
      node: this.nodeId, registry: this.registry.up ? 'up' : 'down', error,
      self: this.node, nodes, streams, links: this.edges.list(), lookups: { ...this.registry.lookups }, linkCounts: { ...this.edges.counts },
    }
  }

  /** Withdraws this node's streams and record, ends its links and closes Redis (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    this.#unobserve()
    this.edges.close()
    this.p2p.close()
    if (this.registry.up) {
      await Promise.allSettled(this.#ownStreams().map((s) => this.registry.withdraw(s.app, s.name, this.nodeId)))
      await Promise.allSettled([...this.#rooms].map((r) => this.registry.releaseRoom(r, this.nodeId)))
      await this.registry.leave(this.nodeId).catch(() => {})
    }
    this.registry.close()
  }
}

/** `cluster.advertise` with its defaults filled in (`ports`: the bound ones). */
function advertisedAddresses(config: SluiceConfig, ports: { http: number; rtmp: number | null; srt: number | null }): { http: string; rtmp: string | null; srt: string | null } {
  const host = clusterHost(config)
  const http = config.cluster.advertise.http ?? `http://${host}:${ports.http}`
  const httpHost = new URL(http).hostname
  return {
    http,
    rtmp: config.cluster.advertise.rtmp ?? (ports.rtmp === null ? null : `rtmp://${httpHost}:${ports.rtmp}`),
    srt: ports.srt === null ? null : `${httpHost}:${ports.srt}`,
  }
}

/**
 * The address other nodes reach this one at: `rtp.advertisedHost`, the HTTP bind address when
 * specific, or the first non-internal IPv4 address.
 */
export function clusterHost(config: SluiceConfig): string {
  if (config.rtp.advertisedHost) return config.rtp.advertisedHost
  const bound = config.http.host
  if (bound !== '0.0.0.0' && bound !== '::') return bound.includes(':') ? `[${bound}]` : bound
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}
