/**
 * The slow-player policy shared by RTMP and HTTP-FLV players: frames go to the connection's own
 * queue; once more than `queueBytes` are queued the player drops frames until the queue is half
 * drained and a keyframe arrives (audio too, so it resumes in sync). A player that stays behind
 * longer than `maxBehindMs` is to be disconnected. At the start of a publish session nothing was
 * skipped yet, so audio ahead of the first keyframe passes.
 */
import type { Stream } from './stream'
import type { MediaFrame } from './media-frame'
import type { GateCounts } from '../metrics/drop-counts'

/** `send`; `drop`; `behind`: the first drop of a fall-behind (log it); `disconnect`: behind too long. */
export type GateDecision = 'send' | 'drop' | 'behind' | 'disconnect'

export class KeyframeGate {
  readonly #queueBytes: number
  readonly #maxBehindMs: number
  /** Dropping frames until a keyframe (at start, after a publisher restart, or when behind). */
  #waitingKeyframe = true
  /** Dropping because the queue was over its bound (not merely at start). */
  #skipping = false
  #behindSince: number | null = null
  framesDropped = 0
  /** The server's counters of this protocol's players (`/metrics`), when given. */
  readonly #counts: GateCounts | undefined

  constructor(queueBytes: number, maxBehindMs: number, counts?: GateCounts) {
    this.#queueBytes = queueBytes
    this.#maxBehindMs = maxBehindMs
    this.#counts = counts
  }

  /** A publisher (re)started: wait for its first keyframe. */
  reset(): void {
    this.#waitingKeyframe = true
    this.#skipping = false
    this.#behindSince = null
  }

  /** The cached GOP (starting on a keyframe) was sent: live frames follow it. */
  startedOnGop(): void {
    this.#waitingKeyframe = false
  }

  /** Whether a live, non-sequence-header `frame` goes out with `queued` bytes waiting. */
  admit(stream: Stream, frame: MediaFrame, queued: number): GateDecision {
    if (this.#waitingKeyframe) {
      const canStart = frame.kind === 'video' ? frame.keyframe : !stream.hasVideo || !this.#skipping
      if (!canStart || queued > this.#queueBytes / 2) return this.#drop()
      if (frame.kind === 'video') {
        this.#waitingKeyframe = false
        this.#skipping = false
        this.#behindSince = null
      }
      return 'send'
    }
    if (queued <= this.#queueBytes) return 'send'
    this.#waitingKeyframe = true
    this.#skipping = true
    this.#behindSince ??= Date.now()
    if (this.#drop() === 'disconnect') return 'disconnect'
    if (this.#counts) this.#counts.skips.value++
    return 'behind'
  }

  #drop(): GateDecision {
    this.framesDropped++
    if (this.#counts) (this.#skipping ? this.#counts.slowPlayer : this.#counts.keyframeWait).value++
    if (this.#behindSince !== null && Date.now() - this.#behindSince > this.#maxBehindMs) {
      if (this.#counts) this.#counts.disconnects.value++
      return 'disconnect'
    }
    return 'drop'
  }
}
