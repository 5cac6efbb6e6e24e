/**
 * GOP cache: the frames from the last video keyframe onward, so a new player starts on a
 * keyframe at once. Bounded in bytes and frames; past a bound it empties and waits for the next
 * keyframe (a player then waits for that keyframe too).
 */
import type { MediaFrame } from './media-frame'

export interface GopCacheLimits {
  /** Most payload bytes held. Default 32 MiB. */
  maxBytes: number
  /** Most frames held. Default 4096. */
  maxFrames: number
}

export class GopCache {
  #frames: MediaFrame[] = []
  #bytes = 0
  readonly #limits: GopCacheLimits

  constructor(limits: Partial<GopCacheLimits> = {}) {
    this.#limits = { maxBytes: 32 * 1024 * 1024, maxFrames: 4096, ...limits }
  }

  /**
   * Adds a coded frame (not a sequence header). Returns false when it took the cache past a
   * bound (the cache emptied: the GOP is too long for it).
   */
  push(frame: MediaFrame): boolean {
    if (frame.kind === 'video' && frame.keyframe) {
      this.clear()
    } else if (this.#frames.length === 0) {
      return true // nothing before the first keyframe is useful to a new player
    }
    this.#frames.push(frame)
    this.#bytes += frame.payload.length
    if (this.#bytes > this.#limits.maxBytes || this.#frames.length > this.#limits.maxFrames) {
      this.clear()
      return false
    }
    return true
  }

  /** The bounds, as text for a warning. */
  get limitsText(): string {
    return `maxBytes ${this.#limits.maxBytes}, maxFrames ${this.#limits.maxFrames}`
  }

  /** Frames from the last keyframe, oldest first (empty when none). */
  get frames(): readonly MediaFrame[] {
    return this.#frames
  }

  get bytes(): number {
    return this.#bytes
  }

  clear(): void {
    this.#frames = []
    this.#bytes = 0
  }
}
