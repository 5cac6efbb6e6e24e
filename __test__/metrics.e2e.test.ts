/**
 * Prometheus `/metrics` end to end: the text is parsed by a Prometheus text-format parser
 * (parse-prometheus-text-format, prom2json's output shape), and its series move as a real ffmpeg
 * RTMP publisher and real ffmpeg players (RTMP, HTTP-FLV) come and go, as a play is refused by an
 * in-process listener, as a client is kicked, and as a player that stops reading falls behind
 * (frames dropped as `slow_player`, a skip, then a disconnect). Also: `metrics.enabled: false` answers 404,
 * `metrics.requireAdmin` wants the admin credential, and two servers in one process keep apart
 * registries.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
// @ts-expect-error the package ships no type declarations
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeSource, publish, run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { command, rawHandshake } from './helpers/raw-client'

interface Family {
  name: string
  help: string
  type: string
  metrics: { value?: string; labels?: Record<string, string>; quantiles?: Record<string, string>; count?: string; sum?: string }[]
}

/** One scrape, parsed: families by name, and `value(name, labels)` (0 for a missing series). */
async function scrape(server: TestServer, headers: Record<string, string> = {}) {
  const res = await fetch(server.httpUrl('/metrics'), { headers })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  const families = new Map<string, Family>((parsePrometheusTextFormat(text) as Family[]).map((f) => [f.name, f]))
  const value = (name: string, labels: Record<string, string> = {}): number => {
    const f = families.get(name)
    if (!f) throw new Error(`no metric ${name}`)
    const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))
    return m ? Number(m.value) : 0
  }
  return { text, families, value }
}

const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-'))
const source = join(dir, 'source.flv')
let server: TestServer
const procs: Proc[] = []

const playRtmp = (url: string) => {
  const p = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', url, '-c', 'copy', '-f', 'null', '-'])
  procs.push(p)
  return p
}
const playFlv = (url: string) => {
  const p = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', url, '-c', 'copy', '-f', 'null', '-'])
  procs.push(p)
  return p
}

beforeAll(async () => {
  await makeSource(source, 12)
  server = await startSluice({ hub: { unpublishGraceMs: 300 } })
  // the application refuses one stream for every protocol
  server.sluice.on('play', (req) => (req.stream === 'refused' ? req.reject('not this one') : req.accept()))
}, 60_000)

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')
  await server?.close()
})

describe('/metrics', () => {
  it('is Prometheus text: every family has help and a type; counters end in _total; the default process metrics are there', async () => {
    const { families } = await scrape(server)
    const ours = [...families.values()].filter((f) => f.name.startsWith('sluice_'))
    expect(ours.map((f) => f.name).sort()).toEqual([
      'sluice_access_decisions_total', 'sluice_client_kicks_total', 'sluice_dropped_frames_total', 'sluice_dropped_packets_total',
      'sluice_event_loop_delay_max_seconds', 'sluice_event_loop_delay_seconds', 'sluice_players', 'sluice_publishers',
      'sluice_received_bytes_total', 'sluice_rtmp_connections', 'sluice_sent_bytes_total', 'sluice_silent_publishers_closed_total',
      'sluice_slow_player_disconnects_total', 'sluice_slow_player_skips_total', 'sluice_streams_live', 'sluice_viewer_process_exits_total',
      'sluice_viewer_processes', 'sluice_viewer_processes_unanswered',
    ])
    for (const f of ours) {
      expect(f.help, f.name).not.toBe('')
      expect(['COUNTER', 'GAUGE', 'SUMMARY'], f.name).toContain(f.type)
      expect(f.type === 'COUNTER', f.name).toBe(f.name.endsWith('_total'))
    }
    const eld = families.get('sluice_event_loop_delay_seconds')!
    expect(eld.type).toBe('SUMMARY')
    expect(Object.keys(eld.metrics[0]!.quantiles!)).toEqual(['0.5', '0.9', '0.99'])
    expect(Number(eld.metrics[0]!.count)).toBeGreaterThan(0)
    // prom-client's default metrics, on this server's own registry
    expect(Number(families.get('process_resident_memory_bytes')!.metrics[0]!.value)).toBeGreaterThan(10 * 1024 * 1024)
    expect(families.get('process_cpu_seconds_total')!.type).toBe('COUNTER')
    expect(families.has('nodejs_eventloop_lag_p99_seconds')).toBe(true)
  })

  it('moves as an RTMP publisher and RTMP/HTTP-FLV players come and go, a play is refused and a client is kicked', async () => {
    const before = await scrape(server)
    expect(before.value('sluice_streams_live')).toBe(0)
    expect(before.value('sluice_publishers', { protocol: 'rtmp' })).toBe(0)

    const pub = publish(source, server.rtmpUrl('live/m'))
    procs.push(pub)
    await waitFor(() => server.sluice.hub.get('live', 'm')?.isLive && server.sluice.hub.get('live', 'm')!.gop.length > 0, 10_000, 'publisher')
    const rtmpPlayer = playRtmp(server.rtmpUrl('live/m'))
    const flvPlayer = playFlv(server.httpUrl('/live/m.flv'))
    await waitFor(() => server.sluice.clients.list().filter((c) => c.role === 'player').length === 2, 10_000, 'two players')
    await new Promise((r) => setTimeout(r, 1500))

    const during = await scrape(server)
    expect(during.value('sluice_streams_live')).toBe(1)
    expect(during.value('sluice_publishers', { protocol: 'rtmp' })).toBe(1)
    expect(during.value('sluice_players', { protocol: 'rtmp' })).toBe(1)
    expect(during.value('sluice_players', { protocol: 'http-flv' })).toBe(1)
    expect(during.value('sluice_rtmp_connections')).toBe(2)
    expect(during.value('sluice_received_bytes_total', { protocol: 'rtmp' })).toBeGreaterThan(50_000)
    expect(during.value('sluice_sent_bytes_total', { protocol: 'rtmp' })).toBeGreaterThan(20_000)
    expect(during.value('sluice_sent_bytes_total', { protocol: 'http-flv' })).toBeGreaterThan(20_000)
    const decisions = (d: typeof during, protocol: string, action: string, result: string) => d.value('sluice_access_decisions_total', { protocol, action, result })
    expect(decisions(during, 'rtmp', 'publish', 'accepted')).toBe(1)
    expect(decisions(during, 'rtmp', 'play', 'accepted')).toBe(1)
    expect(decisions(during, 'http-flv', 'play', 'accepted')).toBe(1)
    expect(decisions(during, 'rtmp', 'play', 'rejected')).toBe(0)

    // a play the application refuses, on each protocol
    const refusedFlv = await fetch(server.httpUrl('/live/refused.flv'))
    expect(refusedFlv.status).toBe(403)
    await refusedFlv.text()
    const refusedRtmp = playRtmp(server.rtmpUrl('live/refused'))
    expect(await Promise.race([refusedRtmp.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))])).not.toBe(0)
    const refused = await scrape(server)
    expect(decisions(refused, 'http-flv', 'play', 'rejected')).toBe(1)
    expect(decisions(refused, 'rtmp', 'play', 'rejected')).toBe(1)
    expect(decisions(refused, 'rtmp', 'play', 'accepted')).toBe(1)

    // kick the RTMP player through the clients API; the HTTP-FLV player's process is stopped
    const rtmpId = server.sluice.clients.list().find((c) => c.role === 'player' && c.protocol === 'rtmp')!.id
    const kick = await fetch(server.httpUrl(`/api/clients/${encodeURIComponent(rtmpId)}`), { method: 'DELETE' })
    expect(kick.status).toBe(204)
    expect(await Promise.race([rtmpPlayer.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('timeout'), 10_000))])).toBe('exited')
    flvPlayer.child.kill('SIGTERM')
    await flvPlayer.exited
    await waitFor(() => server.sluice.clients.list().filter((c) => c.role === 'player').length === 0, 10_000, 'players gone')
    const after = await scrape(server)
    expect(after.value('sluice_players', { protocol: 'rtmp' })).toBe(0)
    expect(after.value('sluice_players', { protocol: 'http-flv' })).toBe(0)
    expect(after.value('sluice_publishers', { protocol: 'rtmp' })).toBe(1)
    expect(after.value('sluice_client_kicks_total')).toBe(1)

    // the publisher ends: the stream goes, the counters stay
    await pub.exited
    await waitFor(() => server.sluice.hub.live().length === 0 && server.sluice.clients.size === 0, 10_000, 'publisher gone')
    const end = await scrape(server)
    expect(end.value('sluice_streams_live')).toBe(0)
    expect(end.value('sluice_publishers', { protocol: 'rtmp' })).toBe(0)

    // every counter series only grew from one scrape to the next
    const scrapes = [before, during, refused, after, end]
    for (let i = 1; i < scrapes.length; i++) {
      for (const f of scrapes[i - 1]!.families.values()) {
        if (f.type !== 'COUNTER' || !f.name.startsWith('sluice_')) continue
        for (const s of f.metrics) {
          expect(scrapes[i]!.value(f.name, s.labels ?? {}), `${f.name}${JSON.stringify(s.labels ?? {})} scrape ${i}`).toBeGreaterThanOrEqual(Number(s.value))
        }
      }
    }
    expect(end.value('sluice_received_bytes_total', { protocol: 'rtmp' })).toBeGreaterThan(during.value('sluice_received_bytes_total', { protocol: 'rtmp' }))
    console.log('metrics: rtmp in', end.value('sluice_received_bytes_total', { protocol: 'rtmp' }), 'B; rtmp out', end.value('sluice_sent_bytes_total', { protocol: 'rtmp' }),
      'B; http-flv out', end.value('sluice_sent_bytes_total', { protocol: 'http-flv' }), 'B; frames dropped',
      end.families.get('sluice_dropped_frames_total')!.metrics.map((m) => `${m.labels!.protocol}/${m.labels!.reason}=${m.value}`).join(' '))
  }, 60_000)

  it('counts a stalled RTMP player: frames dropped as slow_player, a skip to the next keyframe, then a disconnect', async () => {
    // a heavy stream (about 2 MB/s) fills the stalled player's socket buffers quickly
    const heavy = join(dir, 'heavy.flv')
    const make = run('ffmpeg', [
      '-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-t', '6',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-b:v', '16M', '-minrate', '16M', '-maxrate', '16M', '-bufsize', '4M', '-f', 'flv', heavy,
    ])
    expect(await make.exited).toBe(0)
    const slow = await startSluice({ rtmp: { playerQueueBytes: 256 * 1024, playerMaxBehindMs: 1500 }, hub: { unpublishGraceMs: 0 } })
    try {
      const url = slow.rtmpUrl('live/heavy')
      const stalled = await rawHandshake(slow.sluice.rtmp.port)
      stalled.send(command(0, 'connect', 1, { app: 'live', tcUrl: url.replace('/heavy', '') }))
      stalled.send(command(0, 'createStream', 2, null))
      stalled.send(command(1, 'play', 0, null, 'heavy'))
      stalled.socket.pause() // never reads again
      await waitFor(() => slow.sluice.clients.size === 1, 10_000, 'the stalled player')
      const pub = publish(heavy, url)
      procs.push(pub)
      expect(await pub.exited).toBe(0)
      stalled.socket.destroy()
      const m = await scrape(slow)
      const dropped = m.value('sluice_dropped_frames_total', { protocol: 'rtmp', reason: 'slow_player' })
      console.log('stalled player: frames dropped', dropped, 'skips', m.value('sluice_slow_player_skips_total', { protocol: 'rtmp' }),
        'disconnects', m.value('sluice_slow_player_disconnects_total', { protocol: 'rtmp' }))
      expect(dropped).toBeGreaterThan(10)
      expect(m.value('sluice_slow_player_skips_total', { protocol: 'rtmp' })).toBeGreaterThanOrEqual(1)
      expect(m.value('sluice_slow_player_disconnects_total', { protocol: 'rtmp' })).toBe(1)
      expect(m.value('sluice_dropped_frames_total', { protocol: 'http-flv', reason: 'slow_player' })).toBe(0)
    } finally {
      await slow.close()
    }
  }, 60_000)

  it('is a 404 with metrics.enabled false; wants the admin credential with metrics.requireAdmin; each server has its own registry', async () => {
    const off = await startSluice({ metrics: { enabled: false } })
    const token = 'metrics-admin-token-0123456789'
    const guarded = await startSluice({ metrics: { requireAdmin: true, path: '/prom' }, admin: { token } })
    try {
      expect((await fetch(off.httpUrl('/metrics'))).status).toBe(404)
      expect((await fetch(guarded.httpUrl('/prom'))).status).toBe(401)
      expect((await fetch(guarded.httpUrl('/prom'), { headers: { Authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(403)
      const ok = await fetch(guarded.httpUrl('/prom'), { headers: { Authorization: `Bearer ${token}` } })
      expect(ok.status).toBe(200)
      const fams = parsePrometheusTextFormat(await ok.text()) as Family[]
      // a fresh server: its counters start at 0 whatever the first server counted
      const kicks = fams.find((f) => f.name === 'sluice_client_kicks_total')!
      expect(Number(kicks.metrics[0]!.value)).toBe(0)
      const accepted = fams.find((f) => f.name === 'sluice_access_decisions_total')!.metrics.filter((m) => Number(m.value) > 0)
      expect(accepted).toEqual([])
    } finally {
      await off.close()
      await guarded.close()
    }
  })
})
