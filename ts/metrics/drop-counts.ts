/**
 * Counters of media dropped and of slow players, one set per server (`StreamHub.drops`, so
 * several servers in one process count apart). They are incremented where the drop happens — an
 * integer increment on a `Count` object looked up once per player or session, nothing more on
 * the media path — and read by `/metrics` at scrape time (ts/metrics/metrics.ts).
 */

/** A monotonic count (`value` only grows). */
export interface Count {
  value: number
}

/** What media is counted in: hub frames (RTMP, HTTP-FLV players) or RTP packets. */
export type DropUnit = 'frames' | 'packets'

/** One counter of dropped media: `protocol` (`rtmp`, `http-flv`, `whip`, `rtp`...) and `reason`. */
export interface DropCount extends Count {
  readonly protocol: string
  readonly unit: DropUnit
  /** A reason code: `slow_player`, `keyframe_wait`, or an upper-case code (`RTP_PACKET_MALFORMED`). */
  readonly reason: string
}

/** The counters of the slow-player policy (`KeyframeGate`) of one protocol's players. */
export interface GateCounts {
  /** Frames dropped while the player's queue was over its bound (`reason="slow_player"`). */
  readonly slowPlayer: Count
  /**
   * Frames dropped while waiting for a keyframe after a player started without a cached GOP or a
   * publisher restarted (`reason="keyframe_wait"`): not a slow player.
   */
  readonly keyframeWait: Count
  /** Times a player fell behind and skipped to the next keyframe. */
  readonly skips: Count
  /** Players disconnected because they stayed behind past `playerMaxBehindMs`. */
  readonly disconnects: Count
}

/** A reason label: an upper-case code or a snake_case word; anything else is `other` (bounded label values). */
function reasonLabel(reason: string): string {
  return /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(reason) ? reason : 'other'
}

export class DropCounts {
  readonly #drops = new Map<string, DropCount>()
  readonly #gates = new Map<string, GateCounts>()

  /** The counter of `unit`s `protocol` dropped for `reason`, made on first use; keep it to increment it. */
  counter(protocol: string, unit: DropUnit, reason: string): DropCount {
    const label = reasonLabel(reason)
    const key = `${protocol}|${unit}|${label}`
    let c = this.#drops.get(key)
    if (!c) {
      c = { protocol, unit, reason: label, value: 0 }
      this.#drops.set(key, c)
    }
    return c
  }

  /** Counts `n` `unit`s dropped by `protocol` for the reason code `reason` (`CODE` or `CODE: message`). */
  add(protocol: string, unit: DropUnit, reason: string, n = 1): void {
    const colon = reason.indexOf(':')
    this.counter(protocol, unit, colon > 0 ? reason.slice(0, colon) : reason).value += n
  }

  /** The slow-player counters of `protocol`'s players (one object, shared by all of them). */
  gate(protocol: string): GateCounts {
    let g = this.#gates.get(protocol)
    if (!g) {
      g = {
        slowPlayer: this.counter(protocol, 'frames', 'slow_player'),
        keyframeWait: this.counter(protocol, 'frames', 'keyframe_wait'),
        skips: { value: 0 },
        disconnects: { value: 0 },
      }
      this.#gates.set(protocol, g)
    }
    return g
  }

  /** Every drop counter made so far. */
  drops(): IterableIterator<DropCount> {
    return this.#drops.values()
  }

  /** Every protocol's slow-player counters made so far. */
  gates(): IterableIterator<[protocol: string, counts: GateCounts]> {
    return this.#gates.entries()
  }
}
