/** `GET /api/stats`: the main thread's event-loop delay, connection counts, WebRTC fan-out, RSS. */
import type { Sluice } from '../server'

function percentiles(samples: number[]): { p50: number; p99: number; samples: number } | null {
  if (samples.length === 0) return null
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000) / 1000
  return { p50: at(0.5), p99: at(0.99), samples: sorted.length }
}

export function serveStats(sluice: Sluice): void {
  sluice.http.route('GET', /^\/api\/stats$/, async (_req, res, _params, url) => {
    const pool = await sluice.whep.pool.stats()
    const viewers = pool.viewers
    const h = sluice.eventLoopDelay
    const ms = (ns: number) => Math.round(ns / 1e4) / 100
    const body = JSON.stringify({
      eventLoopDelayMs: { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean) },
      rtmpConnections: sluice.rtmp.connections.size,
      webrtcViewers: sluice.whep.sessions,
      webrtc: {
        packetsSent: viewers.reduce((n, v) => n + v.packetsSent, 0),
        nacks: viewers.reduce((n, v) => n + v.nacks, 0),
        retransmitted: viewers.reduce((n, v) => n + v.retransmitted, 0),
        retransmissionsRefused: viewers.reduce((n, v) => n + (v.retransmissionsRefused ?? 0), 0),
        sendFailures: viewers.reduce((n, v) => n + v.sendFailures, 0),
        fanoutLatencyMs: percentiles(pool.latencyMs),
        fanoutQueueMs: pool.queueMs ? percentiles(pool.queueMs) : null,
        lagEvents: pool.lagEvents,
        packetsSkipped: pool.packetsSkipped,
        viewerProcessesUnanswered: pool.unanswered,
      },
      clients: sluice.clients.size,
      liveStreams: sluice.hub.live().length,
      uptime: Math.round((Date.now() - sluice.startedAt) / 1000),
      rssMb: Math.round(process.memoryUsage().rss / 1048576),
    })
    if (url.searchParams.has('reset')) {
      h.reset()
      sluice.whep.pool.resetLatency()
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' })
    res.end(body)
  })
}
