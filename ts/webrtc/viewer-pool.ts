/**
 * Main-thread side of WHEP viewers: a pool of viewer processes hosting the PeerConnections
 * (`viewer-host.ts`, forked with structured-clone IPC). Viewers of one stream are packed onto as
 * few workers as their limit allows, so each packet batch is posted once per worker, not once per
 * viewer.
 */
import os from 'node:os'
import path from 'node:path'
import { fork, type ChildProcess } from 'node:child_process'
import type { Logger } from '../log'
import type { FrameStart, HostMessage, PoolMessage, ViewerEvents, ViewerSpec, ViewerStats, ViewerTransport } from './viewer-protocol'

export type { ViewerEvents, ViewerStats } from './viewer-protocol'
import { epochMs } from './clock'

export interface ViewerPoolOptions {
  /** Viewer processes. Default: available parallelism, at most 4 (a configured value is taken as is). */
  workers: number
  /** Viewers of one stream per worker before the next worker takes them. Default 100 (about a third of a core at 2.5 Mbit/s). */
  viewersPerWorker: number
}

interface StatsRound {
  waiting: Set<PoolWorker>
  result: ViewerStats
  timer: NodeJS.Timeout | null
}

interface PoolWorker {
  worker: ChildProcess
  viewers: number
  /** Viewer count per stream key on this worker. */
  streams: Map<string, number>
  /** The process's `lagEvents` and `packetsSkipped` as of its last stats answer. */
  lagEvents: number
  packetsSkipped: number
}

interface PendingViewer {
  worker: PoolWorker
  streamKey: string
  events: ViewerEvents
  answer?: { resolve: (sdp: string) => void; reject: (e: Error) => void }
}

export class ViewerPool implements ViewerTransport {
  readonly #workers: PoolWorker[] = []
  readonly #viewers = new Map<string, PendingViewer>()
  readonly #log: Logger
  readonly #options: ViewerPoolOptions
  #statsWaiters: ((v: ViewerStats) => void)[] = []
  #statsRound: StatsRound | null = null
  /** Fan-out latency samples (ms) from the last `stats()` call, all viewer processes. */
  latencyMs: number[] = []
  /** Viewer processes that exited while serving (not at `close()`), for `/metrics`. */
  processExits = 0
  /** `lagEvents` and `packetsSkipped` of processes that exited (as last reported). */
  #exited = { lagEvents: 0, packetsSkipped: 0 }

  constructor(log: Logger, options: Partial<ViewerPoolOptions> = {}) {
    this.#log = log.child({ component: 'webrtc' })
    this.#options = {
      workers: Math.max(1, options.workers ?? Math.min(4, os.availableParallelism())),
      viewersPerWorker: options.viewersPerWorker ?? 100,
    }
  }

  get size(): number {
    return this.#viewers.size
  }

  /** Viewer processes running now (they are started on demand, up to `workers`). */
  get processes(): number {
    return this.#workers.length
  }

  #spawn(): PoolWorker {
    const worker = fork(path.join(__dirname, 'viewer-worker.js'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const w: PoolWorker = { worker, viewers: 0, streams: new Map(), lagEvents: 0, packetsSkipped: 0 }
    worker.on('message', (m: HostMessage) => this.#onMessage(w, m))
    worker.on('error', (err) => this.#log.error({ err }, 'viewer process failed'))
    worker.on('exit', (code, signal) => this.#onExit(w, code, signal))
    worker.unref()
    worker.channel?.unref()
    this.#workers.push(w)
    return w
  }

  #pick(streamKey: string): PoolWorker {
    const limit = this.#options.viewersPerWorker
    const withStream = this.#workers.filter((w) => (w.streams.get(streamKey) ?? 0) > 0 && (w.streams.get(streamKey) ?? 0) < limit)
    if (withStream.length > 0) return withStream[0]!
    if (this.#workers.length < this.#options.workers) return this.#spawn()
    return this.#workers.reduce((a, b) => (b.viewers < a.viewers ? b : a))
  }

  /** Creates a viewer's PeerConnection in a worker; resolves with the SDP answer. */
  create(spec: ViewerSpec, events: ViewerEvents): Promise<string> {
    const worker = this.#pick(spec.streamKey)
    worker.viewers++
    worker.streams.set(spec.streamKey, (worker.streams.get(spec.streamKey) ?? 0) + 1)
    const pending: PendingViewer = { worker, streamKey: spec.streamKey, events }
    this.#viewers.set(spec.id, pending)
    return new Promise((resolve, reject) => {
      pending.answer = { resolve, reject }
      this.#post(worker, { op: 'create', viewer: spec })
    })
  }

  addCandidate(id: string, candidate: string, mid: string): void {
    const v = this.#viewers.get(id)
    if (v) this.#post(v.worker, { op: 'candidate', id, candidate, mid })
  }

  closeViewer(id: string): void {
    const v = this.#viewers.get(id)
    if (v) this.#post(v.worker, { op: 'close', id })
  }

  /** Posts a stream's packets to every worker that hosts viewers of it. */
  media(streamKey: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, at = epochMs(), start?: FrameStart): void {
    for (const w of this.#workers) {
      if ((w.streams.get(streamKey) ?? 0) > 0) this.#post(w, { op: 'media', streamKey, kind, data, ends, at, start })
    }
  }

  /** Packets for one viewer (GOP replay); `live` lets it receive the stream's packets after them. */
  inject(id: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, seqOffset: number, live: boolean): void {
    const v = this.#viewers.get(id)
    if (v) this.#post(v.worker, { op: 'inject', id, kind, data, ends, seqOffset, live })
  }

  anchor(streamKey: string, kind: 'video' | 'audio', rtpTimestamp: number, wallMs: number): void {
    for (const w of this.#workers) {
      if ((w.streams.get(streamKey) ?? 0) > 0) this.#post(w, { op: 'anchor', streamKey, kind, rtpTimestamp, wallMs })
    }
  }

  /**
   * Per-viewer counters from every viewer process. A process that has not answered within
   * `timeoutMs` (busy, or its queue long) is left out and counted in `unanswered`.
   */
  resetLatency(): void {
    for (const w of this.#workers) this.#post(w, { op: 'reset-latency' })
  }

  stats(timeoutMs = 1000): Promise<ViewerStats> {
    if (this.#workers.length === 0) return Promise.resolve({ viewers: [], latencyMs: [], ...this.#exited, unanswered: 0 })
    return new Promise((resolve) => {
      this.#statsWaiters.push(resolve)
      if (this.#statsRound) return
      const round: StatsRound = { waiting: new Set(this.#workers), result: { viewers: [], latencyMs: [], lagEvents: 0, packetsSkipped: 0, unanswered: 0 }, timer: null }
      this.#statsRound = round
      round.timer = setTimeout(() => this.#finishStats(round), timeoutMs)
      round.timer.unref()
      for (const w of this.#workers) this.#post(w, { op: 'stats' })
    })
  }

  #finishStats(round: StatsRound): void {
    if (this.#statsRound !== round) return
    this.#statsRound = null
    if (round.timer) clearTimeout(round.timer)
    round.result.unanswered = round.waiting.size
    round.result.lagEvents = this.#workers.reduce((n, w) => n + w.lagEvents, this.#exited.lagEvents)
    round.result.packetsSkipped = this.#workers.reduce((n, w) => n + w.packetsSkipped, this.#exited.packetsSkipped)
    this.latencyMs = round.result.latencyMs
    const waiters = this.#statsWaiters
    this.#statsWaiters = []
    for (const r of waiters) r(round.result)
  }

  #post(w: PoolWorker, m: PoolMessage): void {
    if (w.worker.connected) w.worker.send(m)
  }

  /** A viewer process ended: its viewers are gone (logged when it was not a shutdown). */
  #onExit(w: PoolWorker, code: number | null, signal: string | null): void {
    const i = this.#workers.indexOf(w)
    if (i < 0) return
    this.#workers.splice(i, 1)
    this.processExits++
    this.#exited.lagEvents += w.lagEvents
    this.#exited.packetsSkipped += w.packetsSkipped
    this.#log.error({ code, signal }, 'viewer process exited; its viewers are closed')
    for (const [id, v] of this.#viewers) {
      if (v.worker !== w) continue
      this.#viewers.delete(id)
      v.answer?.reject(new Error('viewer process exited'))
      v.events.onClosed('viewer process exited', 0, 0)
    }
    const round = this.#statsRound
    if (round?.waiting.delete(w) && round.waiting.size === 0) this.#finishStats(round)
  }

  #onMessage(w: PoolWorker, m: HostMessage): void {
    switch (m.op) {
      case 'answer': {
        const v = this.#viewers.get(m.id)
        v?.answer?.resolve(m.sdp)
        if (v) v.answer = undefined
        return
      }
      case 'error': {
        const v = this.#viewers.get(m.id)
        v?.answer?.reject(new Error(m.message))
        if (v) v.answer = undefined
        this.#log.warn({ viewer: m.id, reason: m.message }, 'viewer error')
        return
      }
      case 'state':
        this.#viewers.get(m.id)?.events.onState(m.state)
        return
      case 'keyframe':
        this.#viewers.get(m.id)?.events.onKeyframeRequest(m.reason)
        return
      case 'closed': {
        const v = this.#viewers.get(m.id)
        if (!v) return
        this.#viewers.delete(m.id)
        w.viewers--
        const n = (w.streams.get(v.streamKey) ?? 1) - 1
        if (n <= 0) w.streams.delete(v.streamKey)
        else w.streams.set(v.streamKey, n)
        v.answer?.reject(new Error(m.reason))
        v.events.onClosed(m.reason, m.packetsSent, m.bytesSent)
        return
      }
      case 'stats': {
        const round = this.#statsRound
        if (!round?.waiting.delete(w)) return
        round.result.viewers.push(...m.viewers)
        round.result.latencyMs.push(...m.latencyMs)
        w.lagEvents = m.lagEvents
        w.packetsSkipped = m.packetsSkipped
        if (round.waiting.size === 0) this.#finishStats(round)
        return
      }
      case 'log':
        this.#log[m.level](m.data ?? {}, m.msg)
    }
  }

  /** Closes every viewer and stops the viewer processes. */
  async close(): Promise<void> {
    const workers = this.#workers.splice(0)
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.worker.once('exit', () => resolve())
            if (w.worker.exitCode !== null || w.worker.signalCode !== null) return resolve()
            if (w.worker.connected) w.worker.send({ op: 'shutdown' })
            setTimeout(() => {
              w.worker.kill('SIGKILL')
              resolve()
            }, 2000).unref()
          }),
      ),
    )
  }
}
