#!/usr/bin/env node
/**
 * rtmp-players: N RTMP play connections made with Sluice's own Rust core (the N-API
 * `RtmpSession` in client mode: handshake, connect, createStream, SetBufferLength, play), spread
 * over K child processes, loopback only, for a bounded window. Works against any RTMP server
 * (Sluice, nginx-rtmp, node-media-server).
 *
 * Per player, over the window: wire bytes and media payload bytes (FLV audio/video message
 * bodies) → received bitrate; audio and video messages; gaps (a video timestamp step above 1.5
 * frame intervals (1.75×) counts the frames missing; audio likewise per AAC frame; timestamps going
 * backwards are counted apart); how far its media time fell behind wall time (`lagMs`); and, at
 * join, the time from TCP connect to NetStream.Play.Start, to the first media message and to
 * the first keyframe. Also: the server's CPU (user+sys per wall second of its process and all
 * its descendants, /proc) and RSS before the players and during the window, and the clients'
 * own CPU (coordinator + player processes).
 *
 *   node bench/load/rtmp-players.mjs --spawn --players 50 --duration 15
 *   node bench/load/rtmp-players.mjs --url rtmp://127.0.0.1:1935/live/test --players 200 \
 *     --procs 2 --duration 20 --server-pid PID [--source-kbps 2630] [--json out.json]
 *
 *   --spawn            start `dist/cli.js` on loopback ports and ffmpeg publishing a pre-encoded
 *                      720p30 2.5 Mbit/s H.264 + AAC file in a loop (`-c copy`), stop both after
 *   --procs K          player processes (players dealt round-robin; default one per 250 players)
 *   --concurrency C    connections being set up at once per process (default 25)
 *   --read-interval MS once every player has its first keyframe, read each socket only every MS
 *                      ms (default 100; 0 = as data arrives): one read then takes all that came,
 *                      as a buffering player does, and the clients cost far less CPU than the
 *                      server (per-read costs would otherwise dominate at hundreds of players)
 *   --settle S         seconds between the last player's first keyframe and the window (default 2)
 *   --source-kbps K    the publisher's media bitrate (audio+video payload), to report delivery
 *                      as a fraction of it (known with --spawn)
 *   --min-delivery F   a player below F × source bitrate fails the run (default 0.9)
 *   --max-lag-ms MS    a player whose media time advanced MS less than the window fails (default 1000)
 *   --json PATH|-      summary and per-player results
 *
 * Exit 0 when every player played through the window at the source rate (no gaps, within
 * --min-delivery and --max-lag-ms), 1 otherwise, 2 on setup errors.
 */
import { parseArgs } from 'node:util'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { availableParallelism, loadavg } from 'node:os'
import { sleep, round, procSample, cpuPercent, machineCpu, distribution, ServerSampler, startSluice, encodeSource, startLoopPublisher, forkClients } from './lib.mjs'

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'rtmp://127.0.0.1:1935/live/test' },
    players: { type: 'string', default: '20' },
    duration: { type: 'string', default: '15' },
    procs: { type: 'string' },
    concurrency: { type: 'string', default: '25' },
    'read-interval': { type: 'string', default: '100' },
    settle: { type: 'string', default: '2' },
    'server-pid': { type: 'string' },
    'source-kbps': { type: 'string' },
    spawn: { type: 'boolean', default: false },
    'connect-timeout': { type: 'string', default: '30' },
    'min-delivery': { type: 'string', default: '0.9' },
    'max-lag-ms': { type: 'string', default: '1000' },
    handshake: { type: 'string', default: 'complex' },
    json: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
  },
})

if (values.child) runChild()
else await runMain()

// ───────────────────────────── player processes ─────────────────────────────

function runChild() {
  const { RtmpSession, RTMP_FEED_DETAILS, RTMP_FEED_NEW_INDEX, RTMP_FEED_COUNT_SHIFT } = createRequire(import.meta.url)('../../binding.js')
  const STRIDE = 8 // RtmpSession.mediaIndex slots per message (ts/native.ts)
  const players = []
  let windowOpen = false
  let batchedReads = false
  let windowStartAt = 0
  let windowEndAt = 0
  /** One read buffer for every socket of this process: feed() copies what it keeps. */
  const readBuffer = Buffer.allocUnsafe(256 * 1024)

  process.on('message', (m) => {
    if (m.op === 'init') void init(m)
    else if (m.op === 'start') startWindow()
    else if (m.op === 'stop') stopWindow()
    else if (m.op === 'close') closeAll()
  })
  process.on('disconnect', () => process.exit(0))

  function newPlayer(i) {
    return {
      i, socket: null, session: null, index: null, state: 'new', error: null, closedBy: null,
      startAt: 0, tcpAt: null, playStartAt: null, firstMediaAt: null, firstKeyframeAt: null,
      streamId: 0, statuses: [],
      // totals
      bytes: 0, videoMsgs: 0, audioMsgs: 0,
      lastVideoTs: null, lastAudioTs: null, videoInterval: null, audioInterval: null, videoSteps: [], audioSteps: [],
      // window
      w: null,
    }
  }

  const windowCounters = (p) => ({
    bytes: 0, mediaBytes: 0, videoMsgs: 0, audioMsgs: 0, keyframes: 0,
    startVideoTs: p.lastVideoTs, endVideoTs: null,
    videoGaps: 0, videoFramesMissing: 0, maxVideoStepMs: 0, audioGaps: 0, audioFramesMissing: 0, backwards: 0,
  })

  /**
   * The nominal frame interval (ms) of a track: the median of its first 15 non-zero timestamp
   * steps (a GOP-cache join burst keeps its real timestamps), null until then.
   */
  function learnInterval(steps, step) {
    if (step > 0) steps.push(step)
    if (steps.length < 15) return null
    return steps.sort((a, b) => a - b)[7]
  }

  function send(p) {
    const out = p.session.takeTransmit()
    if (out && !p.socket.destroyed) p.socket.write(out)
  }

  function onData(p, data) {
    p.bytes += data.length
    const w = windowOpen ? p.w : null
    if (w) w.bytes += data.length
    // A read's own Buffer (the whole of its ArrayBuffer, nothing else reads it) is decoded in
    // place, as the server does; anything else (a pooled slice) is only read.
    const f = data.byteOffset === 0 && data.buffer.byteLength === data.length
      ? p.session.feedInPlace(data)
      : p.session.feed(data)
    if (f & RTMP_FEED_NEW_INDEX) p.index = p.session.mediaIndex
    const r = f & RTMP_FEED_DETAILS ? p.session.takeDetails() : null
    if (r?.transmit && !p.socket.destroyed) p.socket.write(r.transmit)
    const idx = p.index
    const mediaCount = f >>> RTMP_FEED_COUNT_SHIFT
    if (mediaCount > 0) {
      const now = performance.now()
      if (p.firstMediaAt === null) p.firstMediaAt = now
      for (let o = 0; o < mediaCount * STRIDE; o += STRIDE) {
        const type = idx[o]
        const ts = idx[o + 2]
        const len = idx[o + 5]
        const flags = idx[o + 6]
        if (w) w.mediaBytes += len
        if (flags & 2) continue // sequence header
        if (type === 9) {
          p.videoMsgs++
          if (flags & 1 && p.firstKeyframeAt === null) {
            p.firstKeyframeAt = now
            if (batchedReads) p.socket.pause() // from now on read by the timer below
          }
          if (p.lastVideoTs !== null) {
            const step = (ts - p.lastVideoTs) | 0
            if (step < 0) {
              if (w) w.backwards++
            } else {
              if (p.videoInterval === null) p.videoInterval = learnInterval(p.videoSteps, step)
              if (w) {
                if (p.videoInterval && step > 1.75 * p.videoInterval) {
                  w.videoGaps++
                  w.videoFramesMissing += Math.round(step / p.videoInterval) - 1
                }
                if (step > w.maxVideoStepMs) w.maxVideoStepMs = step
              }
            }
          }
          p.lastVideoTs = ts
          if (w) {
            w.videoMsgs++
            if (flags & 1) w.keyframes++
            if (w.startVideoTs === null) w.startVideoTs = ts
            w.endVideoTs = ts
          }
        } else if (type === 8) {
          p.audioMsgs++
          if (p.lastAudioTs !== null) {
            const step = (ts - p.lastAudioTs) | 0
            if (step < 0) {
              if (w) w.backwards++
            } else {
              if (p.audioInterval === null) p.audioInterval = learnInterval(p.audioSteps, step)
              if (w && p.audioInterval && step > 1.75 * p.audioInterval) {
                w.audioGaps++
                w.audioFramesMissing += Math.round(step / p.audioInterval) - 1
              }
            }
          }
          p.lastAudioTs = ts
          if (w) w.audioMsgs++
        }
      }
    }
    for (const e of r?.events ?? []) {
      if (e.kind === 'handshake') {
        p.state = 'handshaken'
        const [host, port] = [p.url.hostname, p.url.port || 1935]
        p.session.sendCommand(0, 'connect', 1, {
          app: p.app, flashVer: 'LNX 9,0,124,2', tcUrl: `rtmp://${host}:${port}/${p.app}`, fpad: false,
          capabilities: 15, audioCodecs: 4071, videoCodecs: 252, videoFunction: 1,
        })
        send(p)
      } else if (e.kind === 'command') {
        if (e.name === '_result' && e.transactionId === 1) {
          p.state = 'connected'
          p.session.sendWindowAckSize(2_500_000)
          p.session.sendCommand(0, 'createStream', 2, null)
          send(p)
        } else if (e.name === '_result' && e.transactionId === 2) {
          p.streamId = Number(e.values?.[0] ?? 1)
          p.session.sendUserControl(3, p.streamId, 1000) // SetBufferLength, as ffmpeg does
          p.session.sendCommand(p.streamId, 'play', 0, null, [p.streamName, -1000])
          send(p)
          p.state = 'play-sent'
        } else if (e.name === 'onStatus') {
          const code = e.values?.[0]?.code
          if (code) p.statuses.push(code)
          if (code === 'NetStream.Play.Start' && p.playStartAt === null) {
            p.playStartAt = performance.now()
            p.state = 'playing'
          } else if (/Failed|NotFound|Unauthorized|Reject/.test(code ?? '')) fail(p, `onStatus ${code}`)
        } else if (e.name === '_error') fail(p, `_error: ${JSON.stringify(e.values?.[0]?.code ?? e.values)}`)
      }
    }
    if (r?.errorCode) fail(p, `${r.errorCode}: ${r.errorMessage}`)
  }

  function fail(p, why) {
    if (p.error === null) p.error = why
    p.state = 'failed'
    p.socket?.destroy()
  }

  function connectPlayer(p, m) {
    return new Promise((resolve) => {
      p.url = new URL(m.url)
      const parts = p.url.pathname.replace(/^\/+/, '').split('/')
      p.streamName = parts.pop() + p.url.search
      p.app = parts.join('/')
      p.session = new RtmpSession({ role: 'client', handshake: m.handshake })
      p.startAt = performance.now()
      p.socket = connect({
        host: p.url.hostname,
        port: Number(p.url.port || 1935),
        noDelay: true,
        onread: { buffer: readBuffer, callback: (n, buf) => void onData(p, buf.subarray(0, n)) },
      })
      p.socket.on('connect', () => {
        p.tcpAt = performance.now()
        send(p)
      })
      p.socket.on('error', (e) => {
        if (p.error === null) p.error = `socket: ${e.message}`
      })
      p.socket.on('close', () => {
        if (p.closedBy === null) p.closedBy = windowOpen ? 'server during the window' : p.state === 'closing' ? 'us' : 'server'
        if (p.state !== 'closing') p.state = p.error ? 'failed' : 'closed'
        resolve()
      })
      const check = setInterval(() => {
        if (p.firstMediaAt !== null || p.state === 'failed' || p.state === 'closed' || performance.now() - p.startAt > m.connectTimeoutMs) {
          clearInterval(check)
          resolve()
        }
      }, 20)
    })
  }

  async function init(m) {
    for (const i of m.ids) players.push(newPlayer(i))
    if (m.readIntervalMs > 0) {
      // Once a player has its first keyframe, its socket is read only every readIntervalMs (all
      // that arrived meanwhile in one read, as a buffering player does): per-read costs (syscall,
      // feed() crossing, result objects) then no longer scale with the server's write rate, and
      // the clients stay cheaper than the server they measure. Only media timestamps are
      // measured after the join, never arrival times, so this changes no figure.
      batchedReads = true
      setInterval(() => {
        const joined = players.filter((p) => p.firstKeyframeAt !== null && p.socket && !p.socket.destroyed)
        for (const p of joined) p.socket.resume()
        setImmediate(() => {
          for (const p of joined) if (!p.socket.destroyed) p.socket.pause()
        })
      }, m.readIntervalMs)
    }
    let next = 0
    const worker = async () => {
      while (next < players.length) await connectPlayer(players[next++], m)
    }
    await Promise.all(Array.from({ length: Math.min(m.concurrency, players.length) }, worker))
    const deadline = performance.now() + m.connectTimeoutMs
    while (performance.now() < deadline && players.some((p) => p.firstKeyframeAt === null && p.state !== 'failed' && p.state !== 'closed')) await sleep(100)
    process.send({ op: 'ready', playing: players.filter((p) => p.firstKeyframeAt !== null && !p.socket.destroyed).length, errors: players.filter((p) => p.error).map((p) => `${p.i}: ${p.error}`).slice(0, 20) })
  }

  function startWindow() {
    for (const p of players) p.w = windowCounters(p)
    windowStartAt = performance.now()
    windowOpen = true
  }

  const since = (from, at) => (from === null || at === null || from === 0 ? null : round(at - from))

  function stopWindow() {
    windowOpen = false
    windowEndAt = performance.now()
    const seconds = (windowEndAt - windowStartAt) / 1000
    const results = players.map((p) => {
      const w = p.w
      const mediaAdvanceMs = w.startVideoTs !== null && w.endVideoTs !== null ? ((w.endVideoTs - w.startVideoTs) >>> 0) : 0
      return {
        player: p.i,
        state: !p.socket?.destroyed && p.playStartAt !== null ? 'playing' : p.state,
        error: p.error,
        closedBy: p.closedBy,
        wireKbps: Math.round((w.bytes * 8) / seconds / 1000),
        mediaKbps: Math.round((w.mediaBytes * 8) / seconds / 1000),
        videoMsgs: w.videoMsgs,
        audioMsgs: w.audioMsgs,
        keyframes: w.keyframes,
        videoFps: round(w.videoMsgs / seconds),
        mediaAdvanceMs,
        lagMs: Math.round(windowEndAt - windowStartAt - mediaAdvanceMs),
        videoGaps: w.videoGaps,
        videoFramesMissing: w.videoFramesMissing,
        maxVideoStepMs: w.maxVideoStepMs,
        audioGaps: w.audioGaps,
        audioFramesMissing: w.audioFramesMissing,
        backwards: w.backwards,
        videoIntervalMs: p.videoInterval,
        tcpConnectMs: since(p.startAt, p.tcpAt),
        playStartMs: since(p.startAt, p.playStartAt),
        firstMediaMs: since(p.startAt, p.firstMediaAt),
        firstKeyframeMs: since(p.startAt, p.firstKeyframeAt),
        statuses: p.statuses.join(' '),
      }
    })
    process.send({ op: 'results', windowMs: windowEndAt - windowStartAt, results })
  }

  function closeAll() {
    for (const p of players) {
      p.state = 'closing'
      p.socket?.destroy()
    }
    setTimeout(() => process.exit(0), 50)
  }
}

// ───────────────────────────── coordinator ─────────────────────────────

async function runMain() {
  const N = Number(values.players)
  const K = Math.max(1, Math.min(values.procs ? Number(values.procs) : Math.ceil(N / 250), N))
  const durationMs = Math.min(Number(values.duration), 600) * 1000
  const connectTimeoutMs = Number(values['connect-timeout']) * 1000
  const cleanups = []
  const log = (s) => values.quiet || process.stderr.write(`rtmp-players: ${s}\n`)
  const die = async (msg) => {
    process.stderr.write(`rtmp-players: ${msg}\n`)
    for (const c of cleanups.reverse()) await c()
    process.exit(2)
  }
  process.on('SIGINT', () => void die('interrupted'))
  process.on('SIGTERM', () => void die('terminated'))

  let url = values.url
  let serverPid = values['server-pid'] ? Number(values['server-pid']) : null
  let sourceKbps = values['source-kbps'] ? Number(values['source-kbps']) : null
  let publisher = null
  if (values.spawn) {
    try {
      const source = encodeSource({ log })
      const server = await startSluice()
      cleanups.push(server.stop)
      serverPid = server.pid
      url = `rtmp://127.0.0.1:${server.rtmpPort}/live/test`
      publisher = startLoopPublisher(source.file, url)
      cleanups.push(publisher.stop)
      await publisher.waitMedia(2500)
      sourceKbps = source.mediaKbps
      log(`spawned sluice pid ${serverPid} (rtmp ${server.rtmpPort}) and ffmpeg pid ${publisher.pid} looping ${source.file} (${source.mediaKbps} kbit/s media)`)
    } catch (e) {
      await die(`setup failed: ${e.message}`)
    }
  }
  const target = new URL(url)
  if (target.protocol !== 'rtmp:') await die('--url must be rtmp://')
  if (!/^(127\.|localhost$|\[::1\]$)/.test(target.hostname)) await die('loopback targets only')

  const server = serverPid ? new ServerSampler(serverPid, publisher ? [publisher.pid] : []) : null
  const before = server ? server.sample() : null

  const { children, waitAll, killAll } = forkClients(fileURLToPath(import.meta.url), N, K)
  cleanups.push(killAll)

  const connectStart = Date.now()
  for (const c of children) c.child.send({ op: 'init', ids: c.ids, url, concurrency: Number(values.concurrency), connectTimeoutMs, handshake: values.handshake, readIntervalMs: Number(values['read-interval']) })
  await waitAll('ready', connectTimeoutMs * 2 + 10000)
  const playing = children.reduce((n, c) => n + (c.ready?.playing ?? 0), 0)
  const setupErrors = children.flatMap((c) => c.ready?.errors ?? [])
  const rampMs = Date.now() - connectStart
  log(`${playing}/${N} players got a keyframe in ${rampMs} ms${setupErrors.length ? `; errors: ${setupErrors.slice(0, 5).join(' | ')}` : ''}`)
  const afterRamp = server ? server.sample() : null
  await sleep(Number(values.settle) * 1000)

  // the measured window
  const clientPids = () => [process.pid, ...children.map((c) => c.child.pid)]
  const client0 = procSample(clientPids())
  const machine0 = machineCpu()
  const publisher0 = publisher ? procSample([publisher.pid]) : null
  if (server) {
    server.first = server.sample()
    server.last = server.first
    server.perSecond = []
    server.maxRss = server.first.rss
  }
  for (const c of children) c.child.send({ op: 'start' })
  await sleep(durationMs)
  for (const c of children) c.child.send({ op: 'stop' })
  const serverStats = server ? server.stop() : null
  const client1 = procSample(clientPids())
  const machine1 = machineCpu()
  const publisher1 = publisher ? procSample([publisher.pid]) : null
  await waitAll('results', 30000)
  for (const c of children) c.child.send({ op: 'close' })
  await Promise.all(children.map((c) => (c.exited === undefined ? new Promise((r) => { c.child.once('exit', r); setTimeout(r, 5000) }) : null)))

  const players = children.flatMap((c) => c.results?.results ?? []).sort((a, b) => a.player - b.player)
  const windowWallMs = Math.round(Math.max(0, ...children.map((c) => c.results?.windowMs ?? 0)))
  const minDelivery = Number(values['min-delivery'])
  const maxLagMs = Number(values['max-lag-ms'])
  for (const p of players) p.delivery = sourceKbps ? round(p.mediaKbps / sourceKbps, 3) : null
  const failing = players.filter((p) => p.state !== 'playing' || p.error || p.videoFramesMissing > 0 || p.audioFramesMissing > 0 || p.backwards > 0 || p.lagMs > maxLagMs || (p.delivery !== null && p.delivery < minDelivery))
  const dist = (key) => distribution(players.map((p) => p[key]))
  const sum = (key) => players.reduce((n, p) => n + (p[key] ?? 0), 0)
  const rssBefore = before ? before.rss / 1048576 : null
  const summary = {
    url,
    players: N,
    procs: K,
    playingAtStart: playing,
    playingAtEnd: players.filter((p) => p.state === 'playing').length,
    rampMs,
    readIntervalMs: Number(values['read-interval']),
    windowMs: durationMs,
    windowWallMs,
    sourceKbps,
    minDelivery,
    maxLagMs,
    allPlayedEverything: players.length === N && failing.length === 0,
    failingPlayers: failing.length + (N - players.length),
    playersWithoutResults: N - players.length,
    failingSample: failing.slice(0, 10).map((p) => p.player),
    belowMinDelivery: players.filter((p) => p.delivery !== null && p.delivery < minDelivery).length,
    lagging: players.filter((p) => p.lagMs > maxLagMs).length,
    withGaps: players.filter((p) => p.videoFramesMissing > 0 || p.audioFramesMissing > 0).length,
    totals: {
      wireMbps: round(sum('wireKbps') / 1000),
      mediaMbps: round(sum('mediaKbps') / 1000),
      videoFramesMissing: sum('videoFramesMissing'),
      audioFramesMissing: sum('audioFramesMissing'),
      backwards: sum('backwards'),
    },
    perPlayer: Object.fromEntries(['mediaKbps', 'wireKbps', 'delivery', 'videoFps', 'lagMs', 'videoFramesMissing', 'maxVideoStepMs', 'audioFramesMissing', 'tcpConnectMs', 'playStartMs', 'firstMediaMs', 'firstKeyframeMs'].map((k) => [k, dist(k)])),
    server: serverStats && {
      pid: serverPid,
      ...serverStats,
      cpuPercentPer100Players: round((serverStats.cpuPercent / N) * 100, 2),
      rampCpuPercent: cpuPercent(before, afterRamp),
      rssMbBefore: round(rssBefore),
      rssKbPerPlayer: round(((serverStats.rssMbMax - rssBefore) * 1024) / N),
    },
    publisherCpuPercent: publisher ? cpuPercent(publisher0, publisher1) : null,
    clients: { processes: K + 1, cpuPercent: cpuPercent(client0, client1) },
    machine: {
      cores: availableParallelism(),
      busyPercent: machine0 && machine1 ? round(((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100 * availableParallelism()) : null,
      loadavg1: round(loadavg()[0], 2),
      note: 'busy = all processes on the machine (100 per core), including other users',
    },
    setupErrors,
  }

  if (!values.quiet) {
    console.table(summary.perPlayer)
    console.log(JSON.stringify({ ...summary, perPlayer: undefined }, null, 1))
  }
  if (values.json) {
    const out = JSON.stringify({ summary, players }, null, 1) + '\n'
    if (values.json === '-') process.stdout.write(out)
    else writeFileSync(values.json, out)
  }
  for (const c of cleanups.reverse()) await c()
  process.exit(summary.allPlayedEverything ? 0 : 1)
}
