/**
 * Prometheus metrics (`GET /metrics`, text exposition format 0.0.4) through prom-client, with a
 * registry per `Sluice` (several servers in one process never share one; the global default
 * registry is not used).
 *
 * Every value is read at scrape time (prom-client `collect` callbacks over one snapshot taken
 * per scrape): the media path pays nothing beyond the integer increments of
 * ts/metrics/drop-counts.ts. Series (counters end in `_total`; units in the name):
 *
 * | metric | type | labels | what |
 * |---|---|---|---|
 * | `sluice_streams_live` | gauge | | streams with a publisher |
 * | `sluice_publishers` | gauge | `protocol` | connected publishers |
 * | `sluice_players` | gauge | `protocol` | connected players and viewers |
 * | `sluice_rtmp_connections` | gauge | | RTMP TCP connections (any state) |
 * | `sluice_received_bytes_total` | counter | `protocol` | bytes received from clients |
 * | `sluice_sent_bytes_total` | counter | `protocol` | bytes sent to clients |
 * | `sluice_dropped_frames_total` | counter | `protocol`, `reason` | hub frames not sent to a player: `slow_player`, `keyframe_wait` |
 * | `sluice_dropped_packets_total` | counter | `protocol`, `reason` | RTP packets dropped: an ingest's or WHIP publisher's reason code (`RTP_PACKET_MALFORMED`...), or `viewer_process_behind` (WHEP) |
 * | `sluice_slow_player_skips_total` | counter | `protocol` | a player (WHEP: a viewer process, for all its viewers of a stream) fell behind and skipped to the next keyframe |
 * | `sluice_slow_player_disconnects_total` | counter | `protocol` | players disconnected for staying behind |
 * | `sluice_client_kicks_total` | counter | | clients kicked (`DELETE /api/clients/{id}`) |
 * | `sluice_silent_publishers_closed_total` | counter | | publishers closed for sending no media |
 * | `sluice_access_decisions_total` | counter | `protocol`, `action`, `result` | publish/play decisions, `accepted` or `rejected` |
 * | `sluice_event_loop_delay_seconds` | summary | `quantile` | main-thread event-loop delay since start (or `GET /api/stats?reset`) |
 * | `sluice_event_loop_delay_max_seconds` | gauge | | its maximum |
 * | `sluice_viewer_processes` | gauge | | WHEP viewer processes running |
 * | `sluice_viewer_processes_unanswered` | gauge | | viewer processes that did not answer this scrape's stats round within 1 s (busy) |
 * | `sluice_viewer_process_exits_total` | counter | | viewer processes that exited while serving |
 * | `sluice_cluster_registry_up` | gauge | | with `cluster.redis`: 1 while Redis answers |
 * | `sluice_cluster_links` | gauge | | streams pulled from other nodes now |
 * | `sluice_cluster_link_events_total` | counter | `event` | links `opened`, `closed`, `failed` |
 * | `sluice_cluster_lookups_total` | counter | `result` | registry lookups: `found`, `missing`, `stale`, `unavailable` |
 *
 * plus prom-client's default process metrics on the same registry (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `nodejs_eventloop_lag_*` per scrape interval, heap, GC...),
 * registered at the first scrape.
 *
 * `metrics.enabled: false`: no route (404). `metrics.requireAdmin`: the admin credential is
 * required (`Authorization: Bearer <admin.token>`; loopback when no token is configured).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import type { Sluice } from '../server'
import type { ClientProtocol, AccessAction } from '../access/request'
import type { ViewerStats } from '../webrtc/viewer-pool'

/** Every protocol the clients list knows (series are kept at 0 for those with no client). */
export const CLIENT_PROTOCOLS: readonly ClientProtocol[] = ['rtmp', 'http-flv', 'ws-flv', 'hls', 'whip', 'whep', 'signaling', 'rtp', 'relay', 'sfu', 'srt']
const ACTIONS: readonly AccessAction[] = ['publish', 'play']
const QUANTILES = [0.5, 0.9, 0.99] as const

/** What one scrape reads once, shared by the collect callbacks. */
interface Snapshot {
  pool: ViewerStats
  publishers: Map<string, number>
  players: Map<string, number>
  bytes: Map<ClientProtocol, { bytesIn: number; bytesOut: number }>
}

/** Sets a counter to externally kept totals (which only grow). */
function setCounter<L extends string>(c: Counter<L>, rows: Iterable<[Partial<Record<L, string>>, number]>): void {
  c.reset()
  for (const [labels, value] of rows) c.inc(labels, value)
}

/** The event-loop delay histogram as a Prometheus summary (quantiles, `_sum`, `_count`), seconds. */
class EventLoopSummary {
  readonly name = 'sluice_event_loop_delay_seconds'
  readonly help = 'Event-loop delay of the main thread (RTMP, HTTP, signaling), seconds, since start or GET /api/stats?reset.'
  readonly type = 'summary'
  readonly aggregator = 'omit'
  readonly #sluice: Sluice
  constructor(sluice: Sluice) {
    this.#sluice = sluice
  }
  get() {
    const h = this.#sluice.eventLoopDelay
    const count = h.count
    const values: { labels?: Record<string, number>; value: number; metricName?: string }[] = QUANTILES.map((q) => ({
      labels: { quantile: q },
      value: count ? h.percentile(q * 100) / 1e9 : 0,
    }))
    values.push({ metricName: `${this.name}_sum`, value: count ? (h.mean * count) / 1e9 : 0 })
    values.push({ metricName: `${this.name}_count`, value: count })
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
  reset(): void {}
}

/** One server's Prometheus registry and its metrics. */
export class SluiceMetrics {
  /** This server's registry (never prom-client's global one). */
  readonly registry = new Registry()
  readonly #sluice: Sluice
  #snapshot: Snapshot | null = null
  #defaults = false

  constructor(sluice: Sluice) {
    this.#sluice = sluice
    const registers = [this.registry]
    const snap = () => this.#snapshot!
    const hub = sluice.hub
    // the series of the players' slow-player policy exist from the start, at 0
    for (const p of ['rtmp', 'http-flv', 'ws-flv']) hub.drops.gate(p)

    new Gauge({
      name: 'sluice_streams_live', help: 'Streams with a publisher now.', registers,
      collect() { this.set(hub.live().length) },
    })
    new Gauge({
      name: 'sluice_publishers', help: 'Connected publishers, by protocol.', labelNames: ['protocol'], registers,
      collect() { for (const p of CLIENT_PROTOCOLS) this.set({ protocol: p }, snap().publishers.get(p) ?? 0) },
    })
    new Gauge({
      name: 'sluice_players', help: 'Connected players and viewers, by protocol.', labelNames: ['protocol'], registers,
      collect() { for (const p of CLIENT_PROTOCOLS) this.set({ protocol: p }, snap().players.get(p) ?? 0) },
    })
    new Gauge({
      name: 'sluice_rtmp_connections', help: 'RTMP TCP connections, in any state.', registers,
      collect() { this.set(sluice.rtmp.connections.size) },
    })
    new Counter({
      name: 'sluice_received_bytes_total', help: 'Bytes received from clients (media for publishers), by protocol.', labelNames: ['protocol'], registers,
      collect() { setCounter(this, CLIENT_PROTOCOLS.map((p) => [{ protocol: p }, snap().bytes.get(p)?.bytesIn ?? 0])) },
    })
    new Counter({
      name: 'sluice_sent_bytes_total', help: 'Bytes sent to clients, by protocol.', labelNames: ['protocol'], registers,
      collect() { setCounter(this, CLIENT_PROTOCOLS.map((p) => [{ protocol: p }, snap().bytes.get(p)?.bytesOut ?? 0])) },
    })
    new Counter({
      name: 'sluice_dropped_frames_total',
      help: 'Hub frames not sent to a player, by protocol and reason (slow_player: its queue was over its bound; keyframe_wait: waiting for a keyframe after a start or a publisher restart).',
      labelNames: ['protocol', 'reason'], registers,
      collect() {
        setCounter(this, [...hub.drops.drops()].filter((d) => d.unit === 'frames').map((d) => [{ protocol: d.protocol, reason: d.reason }, d.value]))
      },
    })
    new Counter({
      name: 'sluice_dropped_packets_total',
      help: 'RTP packets dropped, by protocol and reason (an ingest or WHIP publisher reason code; viewer_process_behind: WHEP video packets a viewer process skipped while behind).',
      labelNames: ['protocol', 'reason'], registers,
      collect() {
        const rows: [Record<string, string>, number][] = [...hub.drops.drops()].filter((d) => d.unit === 'packets').map((d) => [{ protocol: d.protocol, reason: d.reason }, d.value])
        rows.push([{ protocol: 'whep', reason: 'viewer_process_behind' }, snap().pool.packetsSkipped])
        setCounter(this, rows)
      },
    })
    new Counter({
      name: 'sluice_slow_player_skips_total',
      help: 'Times a player fell behind and skipped to the next keyframe, by protocol (whep: a viewer process, for all its viewers of one stream).',
      labelNames: ['protocol'], registers,
      collect() {
        const rows: [Record<string, string>, number][] = [...hub.drops.gates()].map(([p, g]) => [{ protocol: p }, g.skips.value])
        rows.push([{ protocol: 'whep' }, snap().pool.lagEvents])
        setCounter(this, rows)
      },
    })
    new Counter({
      name: 'sluice_slow_player_disconnects_total', help: 'Players disconnected because they stayed behind, by protocol.', labelNames: ['protocol'], registers,
      collect() { setCounter(this, [...hub.drops.gates()].map(([p, g]) => [{ protocol: p }, g.disconnects.value])) },
    })
    new Counter({
      name: 'sluice_client_kicks_total', help: 'Clients kicked by an administrator (DELETE /api/clients/{id}).', registers,
      collect() { setCounter(this, [[{}, sluice.clients.kicks]]) },
    })
    new Counter({
      name: 'sluice_silent_publishers_closed_total', help: 'Publishers closed because they sent no media (hub.publisherTimeoutMs, firstMediaTimeoutMs).', registers,
      collect() { setCounter(this, [[{}, hub.silentPublishersClosed]]) },
    })
    new Counter({
      name: 'sluice_access_decisions_total', help: 'Publish and play decisions of the access model, by protocol, action and result (accepted, rejected).',
      labelNames: ['protocol', 'action', 'result'], registers,
      collect() {
        const rows: [Record<string, string>, number][] = []
        for (const protocol of CLIENT_PROTOCOLS) {
          for (const action of ACTIONS) {
            for (const result of ['accepted', 'rejected'] as const) rows.push([{ protocol, action, result }, sluice.access.decisions.get(`${protocol}|${action}|${result}`) ?? 0])
          }
        }
        setCounter(this, rows)
      },
    })
    this.registry.registerMetric(new EventLoopSummary(sluice) as unknown as Metric)
    new Gauge({
      name: 'sluice_event_loop_delay_max_seconds', help: 'Largest event-loop delay of the main thread since start or GET /api/stats?reset, seconds.', registers,
      collect() { this.set(sluice.eventLoopDelay.count ? sluice.eventLoopDelay.max / 1e9 : 0) },
    })
    new Gauge({
      name: 'sluice_viewer_processes', help: 'WHEP viewer processes running.', registers,
      collect() { this.set(sluice.whep.pool.processes) },
    })
    new Gauge({
      name: 'sluice_viewer_processes_unanswered', help: 'Viewer processes that did not answer this scrape\'s stats round within 1 s (busy).', registers,
      collect() { this.set(snap().pool.unanswered) },
    })
    new Counter({
      name: 'sluice_viewer_process_exits_total', help: 'Viewer processes that exited while serving viewers.', registers,
      collect() { setCounter(this, [[{}, sluice.whep.pool.processExits]]) },
    })
    const cluster = sluice.cluster
    if (cluster) {
      new Gauge({
        name: 'sluice_cluster_registry_up', help: 'Whether the cluster registry (Redis) answers: 1 or 0.', registers,
        collect() { this.set(cluster.registry.up ? 1 : 0) },
      })
      new Gauge({
        name: 'sluice_cluster_links', help: 'Streams this node pulls from other nodes now (one link each).', registers,
        collect() { this.set(cluster.edges.links.size) },
      })
      new Counter({
        name: 'sluice_cluster_link_events_total', help: 'Links to other nodes opened, closed and failed (could not be made).', labelNames: ['event'], registers,
        collect() { setCounter(this, Object.entries(cluster.edges.counts).map(([event, n]) => [{ event }, n])) },
      })
      new Counter({
        name: 'sluice_cluster_lookups_total',
        help: 'Registry lookups of streams not on this node, by result (found; missing: no node has it; stale: its node is gone; unavailable: Redis down).',
        labelNames: ['result'], registers,
        collect() { setCounter(this, Object.entries(cluster.registry.lookups).map(([result, n]) => [{ result }, n])) },
      })
    }
  }

  /** Content type of `scrape()`'s text. */
  get contentType(): string {
    return this.registry.contentType
  }

  /** Reads every value once and renders the registry in the Prometheus text format. */
  async scrape(): Promise<string> {
    if (!this.#defaults) {
      this.#defaults = true
      collectDefaultMetrics({ register: this.registry })
    }
    const s = this.#sluice
    const [pool] = await Promise.all([s.whep.pool.stats(), s.whep.refreshCounters()])
    const publishers = new Map<string, number>()
    const players = new Map<string, number>()
    for (const c of s.clients.sessions()) {
      const m = c.role === 'publisher' ? publishers : players
      m.set(c.protocol, (m.get(c.protocol) ?? 0) + 1)
    }
    this.#snapshot = { pool, publishers, players, bytes: s.clients.totals() }
    try {
      return await this.registry.metrics()
    } finally {
      this.#snapshot = null
    }
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * Serves `GET {metrics.path}` (default `/metrics`) unless `metrics.enabled` is false; returns the
 * server's `SluiceMetrics` (null when disabled).
 */
export function serveMetrics(sluice: Sluice): SluiceMetrics | null {
  const { enabled, path, requireAdmin } = sluice.config.metrics
  if (!enabled) return null
  const metrics = new SluiceMetrics(sluice)
  let scraping: Promise<string> | null = null
  // with requireAdmin the router refuses non-admins (401/403) before the handler runs
  sluice.http.route('GET', new RegExp(`^${escapeRegExp(path)}$`), async (_req, res) => {
    // concurrent scrapes share one rendering (the snapshot is per scrape)
    scraping ??= metrics.scrape().finally(() => (scraping = null))
    const text = await scraping
    res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' })
    res.end(text)
  }, { access: requireAdmin ? 'admin' : 'public' })
  return metrics
}
