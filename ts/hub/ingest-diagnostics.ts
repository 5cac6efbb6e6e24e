/**
 * Ingest diagnostics: what in a publisher's stream makes viewers' starts slow or playback
 * rough, so an operator sees why (each stream's `ingest` field in `GET /api/streams`, and one
 * logged warning per kind of problem per publish):
 *
 * - `bFrames`: video frames presented before a frame decoded earlier (pts < the largest pts so
 *   far: B-frames). WebRTC viewers do not get them (reduced frame rate), and they add a
 *   frame or two of latency;
 * - `nonMonotonic`: frames whose decode time went back against the previous frame of the same
 *   kind (a broken encoder or a spliced source); players may stall or drop;
 * - `gopOverflows`: GOPs longer than the GOP cache holds (`hub.gopLimits`): the cache empties
 *   and a new player waits for the next keyframe instead of starting at once;
 *   `longestGopMs` is the longest keyframe interval seen;
 * - `avDriftMs`: audio's decode time minus video's at the newest frames, once both flow; a
 *   drift past 1 s for 3 s of media means the publisher's audio and video clocks disagree (lip
 *   sync, and players buffering the leading track).
 */

/** A stream's ingest diagnostics (the publisher's, since it started). */
export interface IngestDiagnosticsInfo {
  bFrames: number
  nonMonotonic: number
  gopOverflows: number
  longestGopMs: number
  avDriftMs: number | null
  /** One text per kind of problem seen, first seen first. */
  warnings: string[]
}

/** Audio/video drift beyond this is a warning, ms… */
export const AV_DRIFT_WARN_MS = 1000
/** …when it lasts this long (ms of media). */
export const AV_DRIFT_HOLD_MS = 3000

export class IngestDiagnostics {
  #bFrames = 0
  #nonMonotonic = 0
  #gopOverflows = 0
  #longestGopMs = 0
  #maxPts: number | null = null
  #lastDts: { audio: number | null; video: number | null } = { audio: null, video: null }
  #lastKeyframeDts: number | null = null
  #driftSince: number | null = null
  readonly #warnings = new Map<string, string>()
  readonly #onWarning: (kind: string, text: string) => void

  /** `onWarning`: called once per kind of problem (`b-frames`, `non-monotonic`, `long-gop`, `av-drift`). */
  constructor(onWarning: (kind: string, text: string) => void) {
    this.#onWarning = onWarning
  }

  /** A coded frame as the publisher sent it (its own timestamps, ms). */
  frame(kind: 'audio' | 'video', dts: number, pts: number, keyframe: boolean): void {
    const last = this.#lastDts[kind]
    if (last !== null && dts < last) {
      this.#nonMonotonic++
      this.#warn('non-monotonic', `${kind} decode time went back from ${last} to ${dts} ms: players may stall or drop`)
    }
    this.#lastDts[kind] = dts
    if (kind === 'video') {
      if (this.#maxPts !== null && pts < this.#maxPts) {
        this.#bFrames++
        this.#warn('b-frames', 'the publisher sends B-frames: WebRTC viewers get a reduced frame rate (publish with -bf 0 / zerolatency for full rate)')
      }
      this.#maxPts = Math.max(this.#maxPts ?? pts, pts)
      if (keyframe) {
        if (this.#lastKeyframeDts !== null) this.#longestGopMs = Math.max(this.#longestGopMs, dts - this.#lastKeyframeDts)
        this.#lastKeyframeDts = dts
      }
    }
    // a drift that lasts (AV_DRIFT_HOLD_MS of media), not an interleaving burst
    const drift = this.avDriftMs
    if (drift === null || Math.abs(drift) <= AV_DRIFT_WARN_MS) {
      this.#driftSince = null
    } else {
      this.#driftSince ??= dts
      if (dts - this.#driftSince >= AV_DRIFT_HOLD_MS) {
        this.#warn('av-drift', `audio is ${drift > 0 ? 'ahead of' : 'behind'} video by ${Math.abs(Math.round(drift))} ms: the publisher's clocks disagree`)
      }
    }
  }

  /** The GOP cache emptied before the next keyframe (the GOP outgrew `hub.gopLimits`). */
  gopOverflow(limit: string): void {
    this.#gopOverflows++
    this.#warn('long-gop', `a GOP outgrew the GOP cache (${limit}): new players wait for the next keyframe (shorter keyframe interval, or raise hub.gopLimits)`)
  }

  get avDriftMs(): number | null {
    const { audio, video } = this.#lastDts
    return audio === null || video === null ? null : audio - video
  }

  get info(): IngestDiagnosticsInfo {
    return {
      bFrames: this.#bFrames, nonMonotonic: this.#nonMonotonic, gopOverflows: this.#gopOverflows, longestGopMs: this.#longestGopMs,
      avDriftMs: this.avDriftMs, warnings: [...this.#warnings.values()],
    }
  }

  #warn(kind: string, text: string): void {
    if (this.#warnings.has(kind)) return
    this.#warnings.set(kind, text)
    this.#onWarning(kind, text)
  }
}
