/**
 * RTP clocks → one millisecond timeline for a publishing session (the FLV timestamps of the hub).
 *
 * Each track's RTP timestamps (32-bit, wrapping; 90 kHz video, 48 kHz Opus, the AAC sample rate)
 * are unwrapped and mapped to ms:
 * - before the sender's first RTCP sender report (SR) for the track, from the local arrival time
 *   of the track's first packet, then by the RTP clock;
 * - once an SR is known, through its NTP ↔ RTP pair (RFC 3550 §6.4.1): ms = NTP time of the
 *   timestamp − the session's NTP epoch. The epoch is fixed by the first SR of any track so that
 *   this track's timeline goes on without a jump; every other track's SR maps onto the same
 *   epoch, which puts audio and video in sync by the sender's own wallclock (lip sync), whatever
 *   their arrival order. After that the track follows its RTP clock (the media clock, which
 *   FLV timestamps are); a later SR re-maps it only when it disagrees by more than
 *   `RESYNC_MS` (a sender that restarted its clocks), so SR jitter never moves frames.
 */

/** A sender report that disagrees with the current mapping by more than this re-maps the track. */
export const RESYNC_MS = 1000

/** The session's shared origin: local time of the first packet, sender NTP time of timeline 0. */
export class SessionClock {
  /** Local `Date.now()` ms that timeline 0 stands for (the first packet of any track). */
  epochWall: number | null = null
  /** Sender NTP time (Unix ms) that timeline 0 stands for, once an SR fixed it. */
  epochNtp: number | null = null

  /** A clock for one track at `clockRate` Hz. */
  track(clockRate: number): TrackClock {
    return new TrackClock(this, clockRate)
  }
}

export class TrackClock {
  readonly #session: SessionClock
  readonly #rate: number
  /** Last unwrapped timestamp (RTP units), and whether one was seen. */
  #last = 0
  #seen = false
  /** Arrival anchor: timeline ms of `#anchorExt`. */
  #anchorMs = 0
  #anchorExt: number | null = null
  /** The latest SR: sender NTP ms at unwrapped RTP timestamp `#srExt`. */
  #srNtp = 0
  #srExt: number | null = null

  constructor(session: SessionClock, clockRate: number) {
    this.#session = session
    this.#rate = clockRate
  }

  /** Whether a sender report maps this track. */
  get synced(): boolean {
    return this.#srExt !== null
  }

  /** Unwraps a 32-bit RTP timestamp against the last one seen (±2^31 window). */
  #unwrap(ts: number): number {
    if (!this.#seen) {
      this.#seen = true
      this.#last = ts >>> 0
      return this.#last
    }
    const delta = ((ts >>> 0) - (this.#last >>> 0)) | 0
    this.#last += delta
    return this.#last
  }

  #anchor(ext: number, now: number): void {
    this.#session.epochWall ??= now
    this.#anchorMs = now - this.#session.epochWall
    this.#anchorExt = ext
  }

  /** Timeline ms of RTP timestamp `ts` (fractional; may be negative for a frame before the epoch). */
  toMs(ts: number, now = Date.now()): number {
    const ext = this.#unwrap(ts)
    return this.#mapped(ext, now)
  }

  #mapped(ext: number, now: number): number {
    if (this.#srExt !== null && this.#session.epochNtp !== null) {
      return this.#srNtp + ((ext - this.#srExt) * 1000) / this.#rate - this.#session.epochNtp
    }
    if (this.#anchorExt === null) this.#anchor(ext, now)
    return this.#anchorMs + ((ext - this.#anchorExt!) * 1000) / this.#rate
  }

  /** A sender report for this track: `ntpMs` (Unix ms) is the sender's time at `rtpTimestamp`. */
  onSenderReport(ntpMs: number, rtpTimestamp: number, now = Date.now()): void {
    if (!Number.isFinite(ntpMs)) return
    // Unwrap without moving the running timestamp (SRs may come out of order with packets).
    const ext = this.#seen ? this.#last + ((((rtpTimestamp >>> 0) - (this.#last >>> 0)) | 0)) : rtpTimestamp >>> 0
    const before = this.#mapped(ext, now)
    if (this.#session.epochNtp === null) this.#session.epochNtp = ntpMs - before
    if (this.#srExt !== null && Math.abs(ntpMs - this.#session.epochNtp - before) <= RESYNC_MS) return
    this.#srNtp = ntpMs
    this.#srExt = ext
  }
}
