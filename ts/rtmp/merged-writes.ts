/**
 * Merged writes for RTMP players (as SRS's `mw_latency`): what a connection writes during a
 * merge window of `delayMs` (0: the rest of this event-loop turn) is gathered and leaves in one
 * `socket.write()` of one Buffer, one syscall per window instead of one per message.
 *
 * Connections with the same delay are flushed together by one timer. The live players of a
 * stream get the same chunk Buffers in a window (a frame's chunk bytes are made once and shared,
 * see `wireBytes`), so they also share one joined Buffer: a window's join is made once per
 * distinct sequence of Buffers, not once per player.
 */

/** A connection whose merged writes wait for their window's end. */
export interface MergedWriter {
  /** Writes what was gathered (if anything), joining through `joins`. */
  flushMerged(joins: JoinCache): void
}

/** Distinct sequences one `JoinCache` keeps per first Buffer; more are joined without caching. */
const MAX_SEQUENCES_PER_FIRST = 4

/** Joined Buffers of one flush, by the exact sequence (identity) of the Buffers joined. */
export class JoinCache {
  readonly #byFirst = new Map<Buffer, Array<{ parts: Buffer[]; joined: Buffer }>>()

  /** One Buffer with the bytes of `parts` (at least 2 Buffers, `bytes` in all), in order. */
  join(parts: Buffer[], bytes: number): Buffer {
    let seen = this.#byFirst.get(parts[0]!)
    if (seen) {
      for (const s of seen) if (sameBuffers(s.parts, parts)) return s.joined
    } else {
      seen = []
      this.#byFirst.set(parts[0]!, seen)
    }
    const joined = Buffer.concat(parts, bytes)
    if (seen.length < MAX_SEQUENCES_PER_FIRST) seen.push({ parts, joined })
    return joined
  }
}

function sameBuffers(a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const waiting = new Map<number, Set<MergedWriter>>()

function flushAll(delayMs: number): void {
  const writers = waiting.get(delayMs)
  if (!writers) return
  waiting.delete(delayMs)
  const joins = new JoinCache()
  for (const w of writers) w.flushMerged(joins)
}

/** Flushes `writer` at the end of the current `delayMs` window (opened now if none is open). */
export function scheduleMergedFlush(writer: MergedWriter, delayMs: number): void {
  let writers = waiting.get(delayMs)
  if (!writers) {
    writers = new Set()
    waiting.set(delayMs, writers)
    if (delayMs > 0) setTimeout(flushAll, delayMs, delayMs).unref()
    else setImmediate(flushAll, 0)
  }
  writers.add(writer)
}
