// Helpers shared by the load tools (whep-viewers.mjs, rtmp-players.mjs) and bench/fanout.mjs:
// ports, child processes, /proc sampling (CPU ticks, RSS), distributions, and the servers and
// publishers they start (Sluice, a pre-encoded source file, ffmpeg publishing it in a loop).

import { readFileSync, readdirSync, existsSync, mkdirSync, statSync } from 'node:fs'
import { spawn, execFileSync, fork } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { tmpdir } from 'node:os'
import path from 'node:path'

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
export const round = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d)
export const root = fileURLToPath(new URL('../../', import.meta.url))

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Sends `signal`, SIGKILL after 6 s; resolves once the process is gone. */
export function stopProcess(p, signal) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        p.kill('SIGKILL')
      } catch {}
      resolve()
    }, 6000)
    p.once('exit', () => {
      clearTimeout(t)
      resolve()
    })
    try {
      p.kill(signal)
    } catch {}
  })
}

/** All descendants of `pid` (children of any of its threads, recursively). */
export function descendants(pid) {
  const out = []
  const visit = (p) => {
    let tasks = []
    try {
      tasks = readdirSync(`/proc/${p}/task`)
    } catch {
      return
    }
    for (const t of tasks) {
      let kids = ''
      try {
        kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8')
      } catch {}
      for (const k of kids.trim().split(/\s+/)) if (k && !out.includes(Number(k))) {
        out.push(Number(k))
        visit(Number(k))
      }
    }
  }
  visit(pid)
  return out
}

/** User+system CPU ticks (CLK_TCK 100; `sysTicks` the system part) and RSS summed over `pids`. */
export function procSample(pids) {
  let ticks = 0
  let sysTicks = 0
  let rss = 0
  let processes = 0
  const each = {}
  for (const p of pids) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')
      const t = Number(f[11]) + Number(f[12])
      ticks += t
      sysTicks += Number(f[12])
      each[p] = t
      rss += Number(readFileSync(`/proc/${p}/statm`, 'utf8').split(' ')[1]) * 4096
      processes++
    } catch {}
  }
  return { ticks, sysTicks, rss, at: Date.now(), processes, each }
}

/** CPU % of one core (100 = one core busy) between two procSample()s. */
export const cpuPercent = (a, b) => (a && b && b.at > a.at ? round(((b.ticks - a.ticks) / 100 / ((b.at - a.at) / 1000)) * 100) : null)

/** Aggregate jiffies of the machine (/proc/stat), busy = total - idle - iowait. */
export function machineCpu() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const total = f.reduce((a, b) => a + b, 0)
    return { total, busy: total - f[3] - f[4] }
  } catch {
    return null
  }
}

export function udpSnmp() {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'))
    const keys = lines[0].split(/\s+/).slice(1)
    const vals = lines[1].split(/\s+/).slice(1).map(Number)
    return Object.fromEntries(keys.map((k, i) => [k, vals[i]]))
  } catch {
    return null
  }
}

/** min / p10 / median / max of the non-null numbers in `xs`. */
export function distribution(xs) {
  const v = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return { min: null, p10: null, median: null, max: null }
  return { min: v[0], p10: v[Math.floor(v.length / 10)], median: v[Math.floor(v.length / 2)], max: v[v.length - 1] }
}

/**
 * Samples the CPU and RSS of a server (its process and all its descendants, re-listed each time:
 * nginx's worker, Sluice's viewer processes) once a second until `stop()`.
 */
export class ServerSampler {
  constructor(pid, exclude = []) {
    this.pid = pid
    this.exclude = exclude
    this.perSecond = []
    this.maxRss = 0
    this.first = this.sample()
    this.last = this.first
    this.maxRss = this.first.rss
    this.timer = setInterval(() => {
      const s = this.sample()
      if (s.at > this.last.at) this.perSecond.push(((s.ticks - this.last.ticks) / 100 / ((s.at - this.last.at) / 1000)) * 100)
      this.maxRss = Math.max(this.maxRss, s.rss)
      this.last = s
    }, 1000)
  }
  pids() {
    return this.pid ? [this.pid, ...descendants(this.pid).filter((p) => !this.exclude.includes(p))] : []
  }
  sample() {
    return procSample(this.pids())
  }
  stop() {
    clearInterval(this.timer)
    const end = this.sample()
    this.maxRss = Math.max(this.maxRss, end.rss)
    return {
      cpuPercent: cpuPercent(this.first, end),
      /** the part spent in the kernel (socket writes and reads, TCP on loopback) */
      cpuSysPercent: cpuPercent({ ticks: this.first.sysTicks, at: this.first.at }, { ticks: end.sysTicks, at: end.at }),
      cpuPercentMaxSecond: this.perSecond.length ? round(Math.max(...this.perSecond)) : null,
      cpuPercentByProcess: Object.keys(end.each).map((p) => (this.first.each[p] === undefined ? null : round(((end.each[p] - this.first.each[p]) / 100 / ((end.at - this.first.at) / 1000)) * 100))),
      processes: end.processes,
      rssMb: round(end.rss / 1048576),
      rssMbMax: round(this.maxRss / 1048576),
    }
  }
}

/** Starts `node dist/cli.js` on loopback ports; resolves once it listens. */
export async function startSluice({ logLevel = 'warn', extraArgs = [], env = {} } = {}) {
  const [rtmpPort, httpPort] = [await freePort(), await freePort()]
  const cli = path.join(root, 'dist', 'cli.js')
  const proc = spawn(process.execPath, [cli, '--rtmp-port', String(rtmpPort), '--http-port', String(httpPort), '--srt-port', '0', '--host', '127.0.0.1', '--webrtc-bind', '127.0.0.1', ...extraArgs], {
    env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? logLevel, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  await new Promise((resolve, reject) => {
    let text = ''
    const t = setTimeout(() => reject(new Error('sluice did not start within 10 s')), 10000)
    proc.stderr.on('data', (d) => {
      text += d
      if (text.includes('sluice listening')) {
        clearTimeout(t)
        resolve()
      }
    })
    proc.once('exit', (code) => {
      clearTimeout(t)
      reject(new Error(`sluice exited (${code}): ${text}`))
    })
  })
  return { name: 'sluice', proc, pid: proc.pid, rtmpPort, httpPort, origin: `http://127.0.0.1:${httpPort}`, stop: () => stopProcess(proc, 'SIGINT') }
}

/**
 * Encodes the source once (cached in the temp dir by its parameters): testsrc2 720p30 H.264
 * (x264 veryfast, no B-frames, GOP `gop`, VBV-capped at `videoBitrate`) + 44.1 kHz AAC, FLV.
 * Returns the file and its measured bitrates (payload bytes / duration, from ffprobe).
 */
export function encodeSource({ seconds = 20, size = '1280x720', fps = 30, gop = 60, videoBitrate = '2500k', audioBitrate = '128k', log = () => {} } = {}) {
  const dir = path.join(tmpdir(), 'sluice-bench-source')
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `testsrc2-${size}-${fps}fps-g${gop}-${videoBitrate}-${audioBitrate}-${seconds}s.flv`)
  if (!existsSync(file) || statSync(file).size < 1000) {
    log(`encoding the source once: ${path.basename(file)}`)
    const t0 = Date.now()
    execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      '-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
      '-b:v', videoBitrate, '-maxrate', videoBitrate, '-bufsize', videoBitrate, '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', audioBitrate, '-f', 'flv', `${file}.tmp`])
    execFileSync('mv', [`${file}.tmp`, file])
    log(`encoded in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  }
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,size,pts_time', '-of', 'csv=p=0', file]).toString()
  const bytes = { video: 0, audio: 0 }
  let maxTs = 0
  for (const line of out.split('\n')) {
    const [type, pts, sz] = line.split(',')
    if (!sz) continue
    bytes[type] = (bytes[type] ?? 0) + Number(sz)
    maxTs = Math.max(maxTs, Number(pts))
  }
  const dur = maxTs + 1 / fps
  return {
    file,
    seconds: round(dur, 2),
    videoKbps: Math.round((bytes.video * 8) / dur / 1000),
    audioKbps: Math.round((bytes.audio * 8) / dur / 1000),
    mediaKbps: Math.round(((bytes.video + bytes.audio) * 8) / dur / 1000),
    fps,
    gop,
  }
}

/**
 * ffmpeg publishing `file` in a loop in real time without re-encoding (`-stream_loop -1 -re
 * -c copy`), so the encoder costs nothing during a measurement. `progress.mediaMs` follows its
 * output media time; `waitMedia(ms)` resolves once that much has been sent.
 */
export function startLoopPublisher(file, url) {
  const proc = spawn('ffmpeg', ['-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-progress', 'pipe:1', '-stats_period', '0.5', '-f', 'flv', url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const pub = { proc, pid: proc.pid, progress: { mediaMs: 0, at: Date.now() }, stderr: '' }
  let pending = ''
  proc.stdout.on('data', (d) => {
    pending += d
    const lines = pending.split('\n')
    pending = lines.pop()
    for (const l of lines) if (l.startsWith('out_time_us=') && Number(l.slice(12)) > 0) pub.progress = { mediaMs: Number(l.slice(12)) / 1000, at: Date.now() }
  })
  proc.stderr.on('data', (d) => {
    pub.stderr = (pub.stderr + d).slice(-2000)
  })
  pub.waitMedia = async (ms, timeoutMs = 20000) => {
    const deadline = Date.now() + timeoutMs
    while (pub.progress.mediaMs < ms) {
      if (proc.exitCode !== null) throw new Error(`publisher exited (${proc.exitCode}): ${pub.stderr.trim()}`)
      if (Date.now() > deadline) throw new Error(`publisher sent only ${pub.progress.mediaMs} ms of media in ${timeoutMs} ms: ${pub.stderr.trim()}`)
      await sleep(100)
    }
  }
  pub.stop = () => stopProcess(proc, 'SIGTERM')
  return pub
}

/**
 * Forks `K` client processes of `script` (run with `--child`) and deals clients 0..N-1 to them
 * round-robin. Each child posts `{op: 'ready'}` then `{op: 'results'}`; `waitAll(key, ms)` waits
 * until every child has sent `key` (or exited) or the time is up; `killAll()` SIGKILLs the rest.
 */
export function forkClients(script, N, K, env = process.env) {
  const children = Array.from({ length: K }, (_, k) => {
    const ids = []
    for (let i = k; i < N; i += K) ids.push(i)
    const child = fork(script, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env })
    const c = { child, ids, ready: null, results: null, waiters: [], exited: undefined }
    child.on('message', (m) => {
      if (m.op === 'ready') c.ready = m
      if (m.op === 'results') c.results = m
      for (const w of c.waiters.splice(0)) w()
    })
    child.on('exit', (code) => {
      c.exited = code
      for (const w of c.waiters.splice(0)) w()
    })
    return c
  })
  const waitAll = async (key, timeoutMs) => {
    const deadline = Date.now() + timeoutMs
    for (const c of children) {
      while (!c[key] && c.exited === undefined && Date.now() < deadline) await new Promise((r) => { c.waiters.push(r); setTimeout(r, 500) })
    }
  }
  const killAll = async () => {
    for (const c of children) if (c.exited === undefined) c.child.kill('SIGKILL')
  }
  return { children, waitAll, killAll }
}
