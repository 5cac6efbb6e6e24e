/**
 * The reconnect schedule of every outgoing link (SRT pulls and pushes, RTMP pushes and pulls):
 * 1 s after a drop, doubling up to 30 s, back to 1 s once a connection has worked (`succeeded()`).
 * One pending attempt at most; `cancel()` on close.
 */
export const RECONNECT_MIN_MS = 1000
export const RECONNECT_MAX_MS = 30_000

export class ReconnectSchedule {
  #delayMs = RECONNECT_MIN_MS
  #timer: NodeJS.Timeout | null = null
  #at = 0
  /** Attempts made after a drop or failure. */
  attempts = 0

  /** Runs `connect` after the current delay (replacing a pending attempt); returns the delay, ms. */
  schedule(connect: () => void): number {
    this.cancel()
    const wait = this.#delayMs
    this.#delayMs = Math.min(RECONNECT_MAX_MS, this.#delayMs * 2)
    this.#at = Date.now() + wait
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.attempts++
      connect()
    }, wait)
    this.#timer.unref()
    return wait
  }

  /** A connection worked: the next drop is retried after the shortest delay. */
  succeeded(): void {
    this.#delayMs = RECONNECT_MIN_MS
  }

  /** Ms until the pending attempt, or null. */
  get pendingInMs(): number | null {
    return this.#timer ? Math.max(0, this.#at - Date.now()) : null
  }

  cancel(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }
}
