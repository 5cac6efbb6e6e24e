#!/usr/bin/env node
/**
 * npm run bench:fanout — side-by-side RTMP fan-out (Sluice, nginx-rtmp, node-media-server) and
 * WHEP fan-out (Sluice), one publisher, loopback, in one run.
 *
 * The source is encoded once (testsrc2 1280×720@30, x264 veryfast, 2.5 Mbit/s VBV-capped, GOP 2 s,
 * no B-frames, + AAC 128 kbit/s, FLV in the temp dir, cached) and published by ffmpeg in a loop
 * with `-re -stream_loop -1 -c copy`, so no encoder runs during a measurement. Every cell (server ×
 * N) gets a fresh server process and publisher, so RSS and CPU belong to that cell only:
 *   start server → publisher → 2.5 s of media sent (a GOP cached) → N players/viewers join →
 *   settle → window (--window s) sampling the server's CPU and RSS → stop everything.
 * RTMP cells run bench/load/rtmp-players.mjs, WHEP cells bench/load/whep-viewers.mjs, each with
 * --json into a temp file; the table is built from those.
 *
 *   npm run bench:fanout                               # full run, ~8-10 min on 2 cores
 *   node bench/fanout.mjs --players 20 --viewers 10 --window 5    # smoke run
 *   node bench/fanout.mjs --servers sluice,nginx --players 100 --viewers ''   # subsets
 *
 * Flags: --players LIST (default 100,500,1000), --viewers LIST (default 50,200,500; '' skips),
 * --servers LIST (sluice,nginx,nms), --window S (default 15), --settle S (default 2),
 * --json PATH (default bench/results/fanout.json), --sluice-args 'FLAGS' (extra CLI flags for
 * Sluice, e.g. '--merge-write-ms 50'), --whep-procs K (default: one per 100
 * viewers, at most 4), --player-procs K (default: one per 250 players, at most 4),
 * --whep-transports native,datachannel (WHEP cells per transport), --whep-client node|rust
 * (rust: crates/webrtc/examples/whep_load.rs against the native transport only, for 500-1000
 * viewers that node-datachannel clients cannot load on a small machine), --client-gro 1|0 (the
 * Rust client's sockets ask for UDP GRO, default 1; see whep_load.rs: on loopback without it the
 * server's own system calls cut its GSO datagrams and queue every packet at the viewers),
 * --client-nice N (the Rust client's nice(1) value, default 0; 19 lets the server's threads run
 * first), --join-rate N (Rust client: viewers join N per second rather than all at once).
 */
import { parseArgs } from 'node:util'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, mkdirSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir, cpus, availableParallelism, loadavg, release } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sleep, round, freePort, stopProcess, ServerSampler, startSluice, encodeSource, startLoopPublisher } from './load/lib.mjs'
import { currentCommit } from './lib.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({
  options: {
    players: { type: 'string', default: '100,500,1000' },
    viewers: { type: 'string', default: '50,200,500' },
    servers: { type: 'string', default: 'sluice,nginx,nms' },
    'whep-transports': { type: 'string', default: 'native,datachannel' },
    'whep-client': { type: 'string', default: 'node' },
    /** the Rust client's sockets take the server's GSO datagrams whole (UDP GRO): 1, or 0 */
    'client-gro': { type: 'string', default: '1' },
    /** the Rust client's nice(1) value: 19 lets the server's threads run first when both want a core */
    'client-nice': { type: 'string', default: '0' },
    /** Rust client: viewers joining per second (default: all at once) */
    'join-rate': { type: 'string' },
    window: { type: 'string', default: '15' },
    settle: { type: 'string', default: '2' },
    idle: { type: 'string', default: '3' },
    // BENCH_OUT: where bench:check wants it
    json: { type: 'string', default: process.env.BENCH_OUT ?? path.join(here, 'results', 'fanout.json') },
    'whep-procs': { type: 'string' },
    'player-procs': { type: 'string' },
    /** extra `sluice` CLI flags for the Sluice cells, e.g. --sluice-args='--merge-write-ms 50' */
    'sluice-args': { type: 'string', default: '' },
  },
})
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean).map(Number)
const playerCounts = list(values.players)
const viewerCounts = list(values.viewers)
const servers = values.servers.split(',').map((s) => s.trim()).filter(Boolean)
const windowS = Number(values.window)
const t0 = Date.now()
const log = (s) => process.stderr.write(`fanout [${((Date.now() - t0) / 1000).toFixed(0).padStart(3)} s]: ${s}\n`)
const STREAM = 'live/fanout'

const tmp = mkdtempSync(path.join(tmpdir(), 'sluice-fanout-'))
const live = new Set()
const cleanup = async () => {
  for (const stop of [...live].reverse()) await stop().catch(() => {})
  live.clear()
}
process.on('SIGINT', async () => {
  await cleanup()
  process.exit(130)
})

function waitPort(port, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect({ host: '127.0.0.1', port })
      s.once('connect', () => {
        s.destroy()
        resolve()
      })
      s.once('error', () => {
        s.destroy()
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${port}`))
        else setTimeout(attempt, 100)
      })
    }
    attempt()
  })
}

/** Each returns { name, pid, rtmpUrl, origin?, stop }. */
const starters = {
  async sluice() {
    const s = await startSluice({ extraArgs: values['sluice-args'].split(/\s+/).filter(Boolean) })
    return { name: 'sluice', pid: s.pid, rtmpUrl: `rtmp://127.0.0.1:${s.rtmpPort}/${STREAM}`, origin: s.origin, stop: s.stop }
  },
  /** Sluice with WHEP viewers on the native transport (one UDP port, ICE-lite, SRTP in Rust). */
  async 'sluice-native'() {
    const udpPort = await freePort()
    const s = await startSluice({ extraArgs: ['--webrtc-transport', 'native', ...values['sluice-args'].split(/\s+/).filter(Boolean)], env: { SLUICE_WEBRTC_UDP_PORT: String(udpPort) } })
    return { name: 'sluice-native', pid: s.pid, rtmpUrl: `rtmp://127.0.0.1:${s.rtmpPort}/${STREAM}`, origin: s.origin, stop: s.stop }
  },
  async nginx() {
    const port = await freePort()
    const dir = mkdtempSync(path.join(tmp, 'nginx-'))
    const module = ['/usr/lib/nginx/modules/ngx_rtmp_module.so', '/usr/share/nginx/modules/ngx_rtmp_module.so'].find(existsSync)
    if (!module) throw new Error('ngx_rtmp_module.so not found: sudo apt-get install -y nginx libnginx-mod-rtmp')
    // one worker, in the foreground; rtmp defaults otherwise (chunk_size 4096, no GOP cache:
    // a player starts with the next frame and waits for a keyframe at the decoder)
    writeFileSync(path.join(dir, 'nginx.conf'), `load_module ${module};
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application live { live on; record off; }
  }
}
`)
    const proc = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    proc.stderr.on('data', (d) => (err += d))
    await waitPort(port).catch((e) => {
      proc.kill('SIGKILL')
      throw new Error(`nginx: ${e.message} ${err}`)
    })
    return { name: 'nginx-rtmp', pid: proc.pid, rtmpUrl: `rtmp://127.0.0.1:${port}/${STREAM}`, stop: () => stopProcess(proc, 'SIGQUIT') }
  },
  async nms() {
    const port = await freePort()
    const dir = mkdtempSync(path.join(tmp, 'nms-'))
    const proc = spawn(process.execPath, [path.join(here, 'load', 'nms-server.mjs'), String(port), dir], { stdio: ['ignore', 'ignore', 'inherit'] })
    await waitPort(port).catch((e) => {
      proc.kill('SIGKILL')
      throw e
    })
    return { name: 'node-media-server', pid: proc.pid, rtmpUrl: `rtmp://127.0.0.1:${port}/${STREAM}`, stop: () => stopProcess(proc, 'SIGTERM') }
  },
}

function versions() {
  const v = {}
  try {
    v.nginx = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: ', '')
    v.nginxRtmp = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'libnginx-mod-rtmp'], { encoding: 'utf8' }).stdout.trim() || null
  } catch {}
  try {
    v.nodeMediaServer = JSON.parse(readFileSync(path.join(here, '..', 'node_modules', 'node-media-server', 'package.json'), 'utf8')).version
  } catch {}
  v.ffmpeg = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8' }).stdout.split('\n')[0]
  return v
}

/** Runs a load tool with --json into a temp file; returns its parsed JSON (or null) and exit code. */
async function runTool(script, args, timeoutMs) {
  const out = path.join(tmp, `${path.basename(script, '.mjs')}-${Date.now()}.json`)
  const proc = spawn(process.execPath, [path.join(here, 'load', script), ...args, '--json', out], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  proc.stderr.on('data', (d) => {
    err += d
    for (const l of String(d).split('\n')) if (/players got|viewers connected/.test(l)) log(`  ${l.trim()}`)
  })
  const timer = setTimeout(() => {
    log(`  ${script} over its ${timeoutMs / 1000} s limit: stopping it`)
    proc.kill('SIGINT')
    setTimeout(() => proc.kill('SIGKILL'), 8000)
  }, timeoutMs)
  const code = await new Promise((r) => proc.once('exit', (c, sig) => r(c ?? sig)))
  clearTimeout(timer)
  const json = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : null
  if (!json) log(`  ${script} gave no results (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`)
  return { code, json }
}

/** One cell: fresh server + publisher, then `measure(server, publisher, rssBefore)`. */
async function cell(serverKey, measure) {
  let server = null
  let publisher = null
  try {
    server = await starters[serverKey]()
    live.add(server.stop)
    publisher = startLoopPublisher(source.file, server.rtmpUrl)
    live.add(publisher.stop)
    await publisher.waitMedia(2500)
    // the server's own cost of the publisher alone (ingest, timers), over --idle seconds
    const before = new ServerSampler(server.pid, [publisher.pid])
    await sleep(Number(values.idle) * 1000)
    const idle = before.stop()
    return await measure(server, publisher, idle)
  } catch (e) {
    log(`  ${serverKey}: ${e.message}`)
    return { error: e.message }
  } finally {
    if (publisher) {
      await publisher.stop()
      live.delete(publisher.stop)
    }
    if (server) {
      await server.stop()
      live.delete(server.stop)
    }
  }
}

log(`source: encoding/probing`)
const source = encodeSource({ seconds: 20, log })
log(`source: ${source.file} — ${source.mediaKbps} kbit/s media (video ${source.videoKbps}, audio ${source.audioKbps}), ${source.fps} fps, GOP ${source.gop}`)

const rows = []
for (const serverKey of servers) {
  if (!starters[serverKey]) {
    log(`unknown server ${serverKey} (sluice, nginx, nms)`)
    continue
  }
  for (const n of playerCounts) {
    log(`RTMP ${serverKey} × ${n} players`)
    const procs = values['player-procs'] ?? String(Math.min(4, Math.ceil(n / 250)))
    const r = await cell(serverKey, async (server, publisher, idle) => {
      const { code, json } = await runTool('rtmp-players.mjs', ['--url', server.rtmpUrl, '--players', String(n), '--procs', procs, '--duration', String(windowS), '--settle', values.settle,
        '--server-pid', String(server.pid), '--source-kbps', String(source.mediaKbps), '--quiet'], (windowS + 150) * 1000)
      return { server: server.name, code, json, idle, publisherMediaMs: publisher.progress.mediaMs }
    })
    const s = r.json?.summary
    rows.push({
      kind: 'rtmp', server: r.server ?? serverKey, n, error: r.error ?? (s ? null : 'no results'),
      ...(s && {
        playing: s.playingAtEnd,
        rampMs: s.rampMs,
        cpuPercent: s.server?.cpuPercent,
        cpuPer100: s.server?.cpuPercentPer100Players,
        cpuIdle: r.idle?.cpuPercent,
        cpuMarginalPer100: round(((s.server?.cpuPercent - (r.idle?.cpuPercent ?? 0)) / n) * 100, 2),
        cpuMaxSecond: s.server?.cpuPercentMaxSecond,
        cpuSysPercent: s.server?.cpuSysPercent,
        rssMbIdle: r.idle?.rssMb,
        rssMbMax: s.server?.rssMbMax,
        rssKbPerClient: round((((s.server?.rssMbMax ?? 0) - (r.idle?.rssMb ?? 0)) * 1024) / n),
        sourceKbps: source.mediaKbps,
        medianKbps: s.perPlayer.mediaKbps.median,
        minKbps: s.perPlayer.mediaKbps.min,
        medianDelivery: s.perPlayer.delivery.median,
        minDelivery: s.perPlayer.delivery.min,
        belowMinDelivery: s.belowMinDelivery,
        withGaps: s.withGaps,
        lagging: s.lagging,
        lagMsMax: s.perPlayer.lagMs.max,
        firstKeyframeMsMedian: s.perPlayer.firstKeyframeMs.median,
        firstKeyframeMsMax: s.perPlayer.firstKeyframeMs.max,
        clientCpuPercent: s.clients.cpuPercent,
        machineBusyPercent: s.machine.busyPercent,
        allPlayedEverything: s.allPlayedEverything,
        summary: s,
      }),
    })
    const last = rows.at(-1)
    log(`  → ${last.error ?? `${last.playing}/${n} playing, server ${last.cpuPercent}% CPU, ${last.rssMbMax} MB, median ${last.medianKbps} / min ${last.minKbps} kbit/s`}`)
  }
}

const whepTransports = values['whep-transports'].split(',').map((s) => s.trim()).filter(Boolean)
const whepLoad = path.join(here, '..', 'target', 'release', 'examples', 'whep_load')
if (viewerCounts.length && values['whep-client'] === 'rust') {
  // The Rust load client (crates/webrtc/examples/whep_load.rs): ~0.035 % of a core per viewer,
  // so 1000 viewers fit beside the server; it speaks ICE-lite-facing ICE only: native cells.
  log('building the Rust WHEP load client (cargo, release)')
  const b = spawnSync('cargo', ['build', '--release', '-q', '-p', 'sluice-webrtc', '--example', 'whep_load'], { cwd: path.join(here, '..'), stdio: 'inherit' })
  if (b.status !== 0) throw new Error('cargo build of whep_load failed')
  for (const n of viewerCounts) {
    log(`WHEP sluice-native × ${n} viewers (Rust client)`)
    const r = await cell('sluice-native', async (server, publisher, idle) => {
      const rate = values['join-rate'] ? Number(values['join-rate']) : null
      // joined by the time it says so (paced), or within `join` s of it
      const join = rate ? 2 : Math.max(5, Math.ceil(n / 150))
      const pacing = rate ? Math.ceil(n / rate) : 0
      const proc = spawn('nice', ['-n', values['client-nice'], whepLoad, '--url', `${server.origin}/whep/${STREAM}`, '--viewers', String(n), '--duration', String(pacing + join + Number(values.settle) + windowS + 1), '--gro', values['client-gro'], ...(rate ? ['--join-rate', String(rate)] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      proc.stdout.on('data', (d) => (out += d))
      await new Promise((resolve) => proc.stderr.on('data', (d) => (err += d) && err.includes('offers answered') && resolve()))
      await sleep((join + Number(values.settle)) * 1000)
      const stats = () => fetch(`${server.origin}/api/stats`).then((res) => res.json()).catch(() => null)
      await fetch(`${server.origin}/api/stats?reset`).catch(() => null) // event-loop histogram from here
      const sampler = new ServerSampler(server.pid, [publisher.pid])
      await sleep(windowS * 1000)
      const window = sampler.stop()
      const serverStats = await stats()
      await new Promise((resolve) => proc.once('exit', resolve))
      return { json: JSON.parse(out || 'null'), window, idle, err, serverStats }
    })
    const j = r.json
    rows.push({
      kind: 'whep', server: 'sluice-native', client: 'rust', clientGro: values['client-gro'] !== '0', clientNice: Number(values['client-nice']), joinRate: values['join-rate'] ? Number(values['join-rate']) : null, n, error: r.error ?? (j ? null : `no results: ${r.err ?? ''}`.slice(0, 200)),
      ...(j && {
        playing: j.connected,
        cpuPercent: r.window.cpuPercent,
        cpuPer100: round((r.window.cpuPercent / n) * 100, 2),
        cpuIdle: r.idle?.cpuPercent,
        cpuMarginalPer100: round(((r.window.cpuPercent - (r.idle?.cpuPercent ?? 0)) / n) * 100, 2),
        cpuSysPercent: r.window.cpuPercent ? round((r.window.cpuSysPercent / r.window.cpuPercent) * 100) : null,
        rssMbIdle: r.idle?.rssMb,
        rssMbMax: r.window.rssMbMax,
        rssKbPerClient: round(((r.window.rssMbMax - (r.idle?.rssMb ?? 0)) * 1024) / n),
        sourceKbps: source.videoKbps,
        medianKbps: null,
        minKbps: null,
        lagging: null,
        unrecovered: j.gaps,
        firstKeyframeMsMedian: j.connectMsMedian,
        clientCpuPercent: j.clientCpuPercent,
        serverHopMsP50: r.serverStats?.webrtc?.fanoutLatencyMs?.p50 ?? null,
        serverHopMsP99: r.serverStats?.webrtc?.fanoutLatencyMs?.p99 ?? null,
        serverQueueMsP50: r.serverStats?.webrtc?.fanoutQueueMs?.p50 ?? null,
        serverQueueMsP99: r.serverStats?.webrtc?.fanoutQueueMs?.p99 ?? null,
        eventLoopMsP99: r.serverStats?.eventLoopDelayMs?.p99 ?? null,
        summary: j,
      }),
    })
    const last = rows.at(-1)
    log(`  → ${last.error ?? `${last.playing}/${n} connected, server ${last.cpuPercent}% CPU, ${last.rssMbMax} MB, gaps ${j.gaps}, packets verified ${j.verified} (failed ${j.failed}), client ${j.clientCpuPercent}% CPU`}`)
  }
} else if (viewerCounts.length && servers.includes('sluice')) {
  for (const n of viewerCounts) for (const transport of whepTransports) {
    const serverKey = transport === 'native' ? 'sluice-native' : 'sluice'
    log(`WHEP ${serverKey} × ${n} viewers`)
    const procs = values['whep-procs'] ?? String(Math.min(4, Math.ceil(n / 100)))
    const r = await cell(serverKey, async (server, publisher, idle) => {
      const sampler = new ServerSampler(server.pid, [publisher.pid])
      const { code, json } = await runTool('whep-viewers.mjs', ['--url', server.origin, '--stream', STREAM, '--viewers', String(n), '--procs', procs, '--duration', String(windowS),
        '--server-pid', String(server.pid), '--connect-timeout', String(Math.max(20, Math.ceil(n / 8)))], (windowS + 200) * 1000)
      const whole = sampler.stop()
      // kernel share over the whole tool run (join + window), as whep-viewers reports no split
      return { server: server.name, code, json, idle, sys: whole.cpuPercent ? round((whole.cpuSysPercent / whole.cpuPercent) * 100) : null }
    })
    const s = r.json?.summary
    const kbps = (k) => s?.perViewer?.videoKbps?.[k] ?? null
    rows.push({
      kind: 'whep', server: serverKey, transport, n, error: r.error ?? (s ? null : 'no results'),
      ...(s && {
        playing: s.connected,
        cpuPercent: s.server?.cpuPercent,
        cpuPer100: round((s.server?.cpuPercent / n) * 100, 2),
        cpuIdle: r.idle?.cpuPercent,
        cpuMarginalPer100: round(((s.server?.cpuPercent - (r.idle?.cpuPercent ?? 0)) / n) * 100, 2),
        cpuMaxSecond: s.server?.cpuPercentMaxSecond,
        cpuPercentByProcess: s.server?.cpuPercentByProcess,
        cpuSysPercent: r.sys,
        serverPacketsSkipped: s.server?.packetsSkipped ?? null,
        serverLagEvents: s.server?.lagEvents ?? null,
        rssMbIdle: r.idle?.rssMb,
        rssMbMax: s.server?.rssMbMax,
        rssKbPerClient: round((((s.server?.rssMbMax ?? 0) - (r.idle?.rssMb ?? 0)) * 1024) / n),
        sourceKbps: source.videoKbps,
        medianKbps: kbps('median'),
        minKbps: kbps('min'),
        medianDelivery: kbps('median') !== null ? round(kbps('median') / source.videoKbps, 3) : null,
        minDelivery: kbps('min') !== null ? round(kbps('min') / source.videoKbps, 3) : null,
        lagging: s.laggingViewers,
        lagMsMax: s.perViewer?.lagMs?.max,
        unrecovered: s.totals?.unrecovered,
        failing: s.failingViewers,
        firstKeyframeMsMedian: s.perViewer?.keyframeCompleteMs?.median,
        firstKeyframeMsMax: s.perViewer?.keyframeCompleteMs?.max,
        clientCpuPercent: s.clients?.cpuPercent,
        machineBusyPercent: s.machine?.busyPercent,
        serverHopMsP50: s.server?.fanoutLatencyMs?.p50 ?? null,
        serverHopMsP99: s.server?.fanoutLatencyMs?.p99 ?? null,
        serverQueueMsP50: s.server?.fanoutQueueMs?.p50 ?? null,
        serverQueueMsP99: s.server?.fanoutQueueMs?.p99 ?? null,
        eventLoopMsP99: s.server?.eventLoopDelayMs?.p99 ?? null,
        udpRcvbufErrors: s.kernel?.udpRcvbufErrors,
        allPlayedEverything: s.allReceivedEverything,
        summary: s,
      }),
    })
    const last = rows.at(-1)
    log(`  → ${last.error ?? `${last.playing}/${n} connected, server ${last.cpuPercent}% CPU, ${last.rssMbMax} MB, median ${last.medianKbps} / min ${last.minKbps} kbit/s video`}`)
  }
}
await cleanup()

// ───────────────────────────── table ─────────────────────────────
const fmt = (x, d = 0) => (x === null || x === undefined ? '-' : typeof x === 'number' ? x.toFixed(d) : String(x))
const header = ['kind', 'server', 'N', 'ok', 'CPU % idle→N', 'CPU %/100', '(−idle)', 'sys', 'RSS MB', 'RSS KB/cl', 'kbit/s med / min (src)', 'deliv med / min', 'gaps/lag', 'join ms med', 'hop p50/p99 (queue), loop p99 ms', 'client CPU %', 'machine %']
const table = [header]
for (const r of rows) {
  if (r.error) {
    table.push([r.kind, r.server, String(r.n), 'ERROR', r.error.slice(0, 60), ...header.slice(5).map(() => '')])
    continue
  }
  table.push([
    r.kind, r.server, String(r.n), `${r.playing}/${r.n}`, `${fmt(r.cpuIdle)}→${fmt(r.cpuPercent)}`, fmt(r.cpuPer100, 1), fmt(r.cpuMarginalPer100, 1),
    r.kind === 'rtmp' ? (r.cpuPercent ? `${fmt((r.cpuSysPercent / r.cpuPercent) * 100)}%` : '-') : r.cpuSysPercent === null ? '-' : `${fmt(r.cpuSysPercent)}%*`, `${fmt(r.rssMbIdle)}→${fmt(r.rssMbMax)}`, fmt(r.rssKbPerClient),
    `${fmt(r.medianKbps)} / ${fmt(r.minKbps)} (${r.sourceKbps})`, `${fmt(r.medianDelivery, 2)} / ${fmt(r.minDelivery, 2)}`,
    r.kind === 'rtmp' ? `${r.withGaps}/${r.lagging}` : `${r.unrecovered}/${r.lagging}`, fmt(r.firstKeyframeMsMedian),
    r.kind === 'whep' ? `${fmt(r.serverHopMsP50, 1)}/${fmt(r.serverHopMsP99, 1)} (${fmt(r.serverQueueMsP50, 1)}/${fmt(r.serverQueueMsP99, 1)}), ${fmt(r.eventLoopMsP99, 1)}` : '-', fmt(r.clientCpuPercent), fmt(r.machineBusyPercent),
  ])
}
const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)))
const line = (row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
console.log(`\nfan-out: one publisher (${source.mediaKbps} kbit/s: H.264 ${source.videoKbps} + AAC ${source.audioKbps}), ${windowS} s window per cell, ${availableParallelism()} cores, loopback`)
console.log(line(header))
console.log(widths.map((w) => '-'.repeat(w)).join('  '))
for (const row of table.slice(1)) console.log(line(row))
console.log(`
CPU %: server process + descendants, user+sys per wall second (100 = one core), with the publisher
alone (idle, ${values.idle} s) → with N clients; CPU %/100: per 100 clients; (−idle): the same without the idle part;
sys: the share of that CPU spent in the kernel (socket I/O, loopback TCP/UDP); *WHEP: over join + window.
RSS MB: idle with the publisher → max during the window; RSS KB/cl: (max − idle) / N.
kbit/s: per client over the window — RTMP: audio+video message payload vs the source's media bitrate;
WHEP: video RTP packet bytes vs the source's video bitrate. deliv = that ÷ source (1.00 = all of it).
gaps/lag: RTMP players with missing frames / players whose media time fell >1 s behind the window;
WHEP: packets never recovered / viewers >1 s behind. join ms: connect → first keyframe (median).
hop p50/p99 (queue), loop p99 (WHEP): server hop, RTMP message in → the last viewer's packet of that video frame
sent, over the window; (queue: native transport, its part before the fan-out, waiting behind earlier
frames in the send thread that finished last); and the server's main event-loop delay p99.
client CPU % is the load tools' own processes; machine % is everything on the box (incl. other users).
total ${((Date.now() - t0) / 1000).toFixed(0)} s`)

mkdirSync(path.dirname(values.json), { recursive: true })
writeFileSync(values.json, JSON.stringify({
  benchmark: 'fanout',
  date: new Date().toISOString(),
  commit: currentCommit(),
  machine: { cpus: cpus()[0]?.model, count: availableParallelism(), node: process.version, osRelease: release(), loadavg: loadavg().map((l) => round(l, 2)) },
  versions: versions(),
  source: { ...source, file: path.basename(source.file) },
  windowSeconds: windowS,
  settleSeconds: Number(values.settle),
  totalSeconds: round((Date.now() - t0) / 1000),
  rows,
}, null, 1) + '\n')
log(`wrote ${path.relative(process.cwd(), values.json)}`)
rmSync(tmp, { recursive: true, force: true })
