/**
 * An edge's links: a local player (any protocol) asks for a stream this node does not hold, the
 * registry says which node does, and the stream comes over one link per stream however many
 * local players it has (from that node, or through `cluster.upstream`: tiers, an edge of an
 * edge, which gets the stream the same way when asked): an SRTP relay link (ts/rtp/service.ts,
 * authenticated by the relay secret) for H.264/AAC, or an RTMP pull with a node token (a signed
 * token made with the relay secret) for other codecs and with `cluster.links: rtmp`. The link's
 * stream is an ordinary hub stream here: GOP cache, every protocol's players, further links to
 * edges of this edge.
 *
 * A link
 * - closes `idleMs` after the stream's last local subscriber left;
 * - follows its stream: when the registry announces it on another node (its publisher moved),
 *   or its node went down, the link closes and a new one is made at once; players stay attached
 *   and see a short stall (the hub's unpublish grace);
 * - gives way to a local publisher of the same name (`Publisher.replaceable`).
 * While a stream has local subscribers and no publisher, linking is retried every second (at
 * most one attempt in flight per stream), so waiting RTMP players get it as soon as it appears
 * anywhere — also after the registry comes back.
 */
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { RtpService } from '../rtp/service'
import type { RtmpLinks } from '../rtmp/links'
import { parseRtmpUrl } from '../rtmp/client'
import { signToken } from '../access/signed-token'
import { resolveDestination } from '../rtp/destinations'
import type { ClusterNode, ClusterRegistry, ClusterStream } from './registry'

/** Codecs an SRTP relay link carries (ts/rtp/sender.ts); others go over RTMP. */
const RELAY_VIDEO = new Set([null, 'H264'])
const RELAY_AUDIO = new Set([null, 'AAC'])
/** Ms a link stays after its stream's publisher left its node, for the media still on the way. */
const STREAM_DOWN_DRAIN_MS = 1000
/** Lifetime of the token an RTMP link presents to the origin, s. */
const NODE_TOKEN_TTL_S = 24 * 3600

/** One stream pulled from another node. */
export interface EdgeLink {
  /** `app/name`. */
  key: string
  app: string
  name: string
  /** The node it comes from. */
  node: string
  kind: 'relay' | 'rtmp'
  /** Unix ms. */
  createdAt: number
  /** Ends the link (idempotent). */
  close(reason: string): void
}

export interface EdgeLinksOptions {
  nodeId: string
  /** `cluster.upstream`: the node every link goes through (tiers), or null. */
  upstream: string | null
  /** `cluster.links`: SRTP relay links where the codecs allow, or RTMP for every stream. */
  links: 'srtp' | 'rtmp'
  relaySecret: string
  idleMs: number
}

export class EdgeLinks {
  readonly links = new Map<string, EdgeLink>()
  /** Links made and ended, for `/metrics`. */
  readonly counts = { opened: 0, closed: 0, failed: 0 }
  /** Links being made, by stream: resolves true when the link is up. */
  readonly #pending = new Map<string, Promise<boolean>>()
  /** Earliest next attempt per stream (Unix ms), after a failed one. */
  readonly #nextAttempt = new Map<string, number>()
  readonly #idleSince = new Map<string, number>()
  readonly #hub: StreamHub
  readonly #registry: ClusterRegistry
  readonly #rtp: RtpService
  readonly #rtmp: RtmpLinks
  readonly #log: Logger
  readonly #options: EdgeLinksOptions
  readonly #timer: NodeJS.Timeout
  #closed = false

  constructor(hub: StreamHub, registry: ClusterRegistry, rtp: RtpService, rtmp: RtmpLinks, log: Logger, options: EdgeLinksOptions) {
    this.#hub = hub
    this.#registry = registry
    this.#rtp = rtp
    this.#rtmp = rtmp
    this.#log = log.child({ component: 'cluster-links' })
    this.#options = options
    this.#timer = setInterval(() => this.#tick(), 1000)
    this.#timer.unref()
  }

  /** True when `app/name` arrives over a link now. */
  holds(app: string, name: string): boolean {
    return this.links.has(`${app}/${name}`)
  }

  /**
   * A local subscriber wants `app/name`, which has no publisher here: links it unless a link is
   * up or being made. Resolves true once the link is up, false when no node holds the stream or
   * the link failed; null when the registry is down (nothing can be located).
   */
  want(app: string, name: string): Promise<boolean> | null {
    const key = `${app}/${name}`
    if (this.links.has(key)) return Promise.resolve(true)
    if (!this.#registry.up && !this.#pending.has(key)) return null
    return this.#link(app, name)
  }

  /** Links `app/name` (one attempt at a time per stream); resolves true when the link is up. */
  #link(app: string, name: string): Promise<boolean> {
    const key = `${app}/${name}`
    if (this.links.has(key)) return Promise.resolve(true)
    const pending = this.#pending.get(key)
    if (pending) return pending
    if (this.#closed) return Promise.resolve(false)
    const attempt = this.#attempt(app, name).finally(() => this.#pending.delete(key))
    this.#pending.set(key, attempt)
    return attempt
  }

  async #attempt(app: string, name: string): Promise<boolean> {
    const key = `${app}/${name}`
    try {
      const found = await this.#registry.lookup(app, name)
      if (!found || found.node.id === this.#options.nodeId) {
        this.#nextAttempt.set(key, Date.now() + 1000)
        return false
      }
      if (!this.#hub.publishable(app, name) || this.#hub.get(app, name)?.isLive) return false // published here meanwhile
      const upstream = this.#options.upstream
      const through = upstream && upstream !== found.node.id ? await this.#registry.node(upstream) : null
      if (upstream && upstream !== found.node.id && !through) throw new Error(`upstream node ${upstream} is not up`)
      const link = await this.#open(found.stream, through ?? found.node)
      if (this.#closed) {
        link.close('cluster closing')
        return false
      }
      this.links.set(key, link)
      this.#idleSince.delete(key)
      this.#nextAttempt.delete(key)
      this.counts.opened++
      this.#log.info({ stream: key, node: link.node, kind: link.kind }, 'cluster link up')
      return true
    } catch (error) {
      this.counts.failed++
      this.#nextAttempt.set(key, Date.now() + 2000)
      this.#log.warn({ stream: key, err: (error as Error).message }, 'cluster link failed: retrying while players wait')
      return false
    }
  }

  async #open(stream: ClusterStream, node: ClusterNode): Promise<EdgeLink> {
    const key = `${stream.app}/${stream.name}`
    const base = { key, app: stream.app, name: stream.name, node: node.id, createdAt: Date.now() }
    if (this.#options.links === 'srtp' && RELAY_VIDEO.has(stream.video) && RELAY_AUDIO.has(stream.audio)) {
      const relay = await this.#rtp.pull(node.http, stream.app, stream.name, this.#options.relaySecret, { trusted: true, replaceable: true })
      const link: EdgeLink = { ...base, kind: 'relay', close: (reason) => relay.ingest.close(reason) }
      relay.ingest.onClose((reason) => this.#ended(link, reason))
      return link
    }
    if (!node.rtmp) throw new Error(`node ${node.id} advertises no RTMP address, and ${stream.video ?? 'no video'}/${stream.audio ?? 'no audio'} needs an RTMP link`)
    const token = signToken(this.#options.relaySecret, 'play', key, Math.floor(Date.now() / 1000) + NODE_TOKEN_TTL_S)
    const url = parseRtmpUrl(`${node.rtmp}/${stream.app}/${stream.name}?token=${token}`)
    const { address } = await resolveDestination(url.host)
    let link: EdgeLink | null = null
    const pull = this.#rtmp.createLinkPull(stream.app, stream.name, url, address, (p) => {
      if (link) this.#ended(link, p.lastError ?? 'pull ended')
    })
    link = { ...base, kind: 'rtmp', close: (reason) => pull.close(reason) }
    return link
  }

  #ended(link: EdgeLink, reason: string): void {
    if (this.links.get(link.key) !== link) return
    this.links.delete(link.key)
    this.#idleSince.delete(link.key)
    this.counts.closed++
    this.#log.info({ stream: link.key, node: link.node, reason }, 'cluster link closed')
    const stream = this.#hub.get(link.app, link.name)
    if (!this.#closed && stream && stream.subscribers.size > 0 && this.#hub.publishable(link.app, link.name)) void this.#link(link.app, link.name)
  }

  /** The registry announced `stream` on `node`: a link elsewhere follows it; waiting players get it. */
  moved(stream: ClusterStream): void {
    if (stream.node === this.#options.nodeId) return
    const key = `${stream.app}/${stream.name}`
    const link = this.links.get(key)
    if (link && (link.node === stream.node || link.node === this.#options.upstream)) return // through the upstream node, which follows it itself
    const waiting = (this.#hub.get(stream.app, stream.name)?.subscribers.size ?? 0) > 0
    if (!link && !waiting) return
    if (link) {
      this.links.delete(key) // so that #ended does not link again before the lookup below
      this.counts.closed++
      link.close(`the stream moved to node ${stream.node}`)
      this.#log.info({ stream: key, from: link.node, to: stream.node }, 'cluster link follows its stream')
    }
    if (this.#hub.publishable(stream.app, stream.name)) void this.#link(stream.app, stream.name)
  }

  /** `node` is gone (its record expired, or it left): its links close. */
  nodeDown(node: string): void {
    for (const link of [...this.links.values()]) if (link.node === node) link.close(`node ${node} is down`)
  }

  /**
   * The stream's publisher on its node left: the link ends a second later (what is still on the
   * way arrives first); its players wait for a return.
   */
  streamDown(app: string, name: string, node: string): void {
    const link = this.links.get(`${app}/${name}`)
    if (link?.node !== node) return
    setTimeout(() => {
      if (this.links.get(link.key) === link) link.close(`the publisher left node ${node}`)
    }, STREAM_DOWN_DRAIN_MS).unref()
  }

  #tick(): void {
    const now = Date.now()
    for (const link of [...this.links.values()]) {
      const subscribers = this.#hub.get(link.app, link.name)?.subscribers.size ?? 0
      if (subscribers > 0) {
        this.#idleSince.delete(link.key)
        continue
      }
      const since = this.#idleSince.get(link.key) ?? now
      this.#idleSince.set(link.key, since)
      if (now - since >= this.#options.idleMs) link.close(`no local players for ${this.#options.idleMs} ms`)
    }
    if (!this.#registry.up) return
    for (const stream of this.#hub.all()) {
      if (stream.publisher || stream.subscribers.size === 0 || this.links.has(stream.key) || this.#pending.has(stream.key)) continue
      if ((this.#nextAttempt.get(stream.key) ?? 0) > now) continue
      void this.#link(stream.app, stream.name)
    }
  }

  /** For `GET /api/cluster`. */
  list(): { stream: string; node: string; kind: string; uptime: number; players: number }[] {
    const now = Date.now()
    return [...this.links.values()].map((l) => ({
      stream: l.key, node: l.node, kind: l.kind, uptime: Math.round((now - l.createdAt) / 1000),
      players: this.#hub.get(l.app, l.name)?.subscribers.size ?? 0,
    }))
  }

  /** Ends every link (server shutdown; idempotent). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    for (const link of [...this.links.values()]) link.close('server closing')
  }
}
