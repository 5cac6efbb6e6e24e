/**
 * One stream's LL-HLS rendition (RFC 8216bis): fMP4 segments made of partial segments, kept in
 * memory, for `HlsService` to serve.
 *
 * A rendition carries one video track and the default audio track: Enhanced RTMP v2 video track
 * `videoTrack` (0, the default, for every stream that is not multitrack; an OBS multitrack
 * ladder gets one rendition per video track, listed in a multivariant playlist). The stream's
 * frames go through the native `Fmp4Muxer` made for that track (one init segment, `moof` +
 * `mdat` fragments; the other tracks' frames are ignored and never cut a part). A part is cut before the frame that would take it past `partMs` (one frame
 * interval of the video, or of the audio without video, ahead), so no part is longer than
 * PART-TARGET (§4.4.4.9); the part holds the samples decoded before that frame. A segment ends at the first video
 * keyframe after `segmentMs` (every `segmentMs` for audio-only streams), so every segment, and
 * every part that starts with a keyframe (`INDEPENDENT=YES`), is a place to start playing. A
 * segment's bytes are its parts' bytes, so plain HLS players (ffmpeg, older players) fetch the
 * same media as whole segments. The last `segments` segments are kept.
 *
 * Times: part and segment durations are the distances between cut points (decode times, ms);
 * `EXT-X-PROGRAM-DATE-TIME` maps decode time to the wall clock at which the newest frame
 * arrived (frames replayed from the GOP cache at the start are dated back accordingly).
 *
 * A codec change (new sequence headers) restarts the muxer: the next segment has a new init
 * segment (`EXT-X-MAP`) and `EXT-X-DISCONTINUITY`. Frames the muxer refuses are skipped
 * (counted, logged once per reason).
 */
import type { Stream, Subscriber } from '../hub/stream'
import type { MediaFrame } from '../hub/media-frame'
import type { Logger } from '../log'
import { native } from '../native'

type Muxer = InstanceType<typeof native.Fmp4Muxer>

export interface HlsStreamOptions {
  /** Minimum segment duration, ms: a segment ends at the first keyframe after it. */
  segmentMs: number
  /** Part target duration, ms (`EXT-X-PART-INF:PART-TARGET`). */
  partMs: number
  /** Complete segments kept (and listed). */
  segments: number
}

export interface HlsPart {
  /** The part's number, counted across segments from 0 (its URI `part{id}.m4s`). */
  id: number
  /** Index within its segment. */
  index: number
  data: Buffer
  durationMs: number
  independent: boolean
}

export interface HlsSegment {
  /** Media sequence number. */
  msn: number
  parts: HlsPart[]
  /** Decode time of its first sample, ms on the stream's timeline. */
  startDts: number
  durationMs: number
  /** Wall clock of its first sample, ms since the epoch (`EXT-X-PROGRAM-DATE-TIME`). */
  programDateMs: number
  /** The init segment version that describes it (`init{n}.mp4`). */
  init: number
  /** The first segment after a codec change. */
  discontinuity: boolean
  complete: boolean
  /** The segment's bytes (its parts'), once complete. */
  data: Buffer | null
}

/** A request waiting for a part or segment (blocking playlist reload, preload hints). */
interface Waiter {
  ready: () => boolean
  resolve: (ok: boolean) => void
}

/** Audio-only: a stream without a video sequence header after this much audio, ms. */
const AUDIO_ONLY_AFTER_MS = 1000

export class HlsStream implements Subscriber {
  readonly id: string
  readonly stream: Stream
  readonly options: HlsStreamOptions
  /** The Enhanced RTMP v2 video track this rendition carries (0: the default). */
  readonly videoTrack: number
  /** Complete segments then the one being filled (if any), oldest first. */
  readonly segments: HlsSegment[] = []
  /** Init segments by version. */
  readonly inits = new Map<number, Buffer>()
  /** Last time a player asked for something, ms since the epoch (idle streams are closed). */
  lastRequest = Date.now()
  framesSkipped = 0
  readonly #log: Logger
  #muxer: Muxer | null = null
  #initVersion = 0
  #headers = new Set<MediaFrame>()
  #nextMsn = 0
  #nextPartId = 0
  #partStart = 0
  /** Wall clock − decode time of the newest frame (ms), for program dates. */
  #wallOffset = 0
  #audioSince: number | null = null
  #lastVideoDts: number | null = null
  #lastAudioDts: number | null = null
  /** Decode-time distance between frames of the main track, ms (capped at half a part). */
  #frameInterval = 0
  #waiters = new Set<Waiter>()
  readonly #skipReasons = new Set<string>()
  #closed = false
  /** Whether the next segment follows a codec change. */
  #discontinuity = false

  constructor(id: string, stream: Stream, options: HlsStreamOptions, log: Logger, videoTrack = 0) {
    this.id = id
    this.stream = stream
    this.options = options
    this.videoTrack = videoTrack
    this.#log = log.child({ hls: stream.key, ...(videoTrack ? { videoTrack } : {}) })
  }

  /** The muxer's tracks (the video and audio this rendition carries), once it has started. */
  get tracks(): { kind: 'video' | 'audio'; codec: string; width: number; height: number }[] {
    return this.#muxer?.tracks ?? []
  }

  /** The highest bitrate of a complete segment, bit/s (`BANDWIDTH`), 0 before the first. */
  get peakBitrate(): number {
    return Math.max(0, ...this.complete.map((s) => (s.data && s.durationMs > 0 ? Math.round((s.data.length * 8000) / s.durationMs) : 0)))
  }

  /** Starts from the stream's cached GOP. */
  start(): void {
    const gop = this.stream.gop
    const newest = gop.at(-1)
    if (newest) this.#wallOffset = Date.now() - newest.dts
    for (const frame of gop) this.#frame(frame)
  }

  /**
   * The number the next part will have (the preload hint's): parts are numbered across
   * segments, so the hinted part exists whether or not a segment ends before it.
   */
  get nextPartId(): number {
    return this.#nextPartId
  }

  /** A part by number, if it is still kept. */
  part(id: number): HlsPart | undefined {
    for (const s of this.segments) {
      const first = s.parts[0]
      if (first && id >= first.id && id < first.id + s.parts.length) return s.parts[id - first.id]
    }
    return undefined
  }

  /** The segment being filled, if any. */
  get current(): HlsSegment | null {
    const last = this.segments.at(-1)
    return last && !last.complete ? last : null
  }

  /** The complete segments. */
  get complete(): HlsSegment[] {
    return this.segments.filter((s) => s.complete)
  }

  /** The target duration: the longest complete segment, whole seconds rounded up (at least 1). */
  get targetDurationS(): number {
    const longest = Math.max(this.options.segmentMs, ...this.complete.map((s) => s.durationMs))
    return Math.max(1, Math.ceil(longest / 1000))
  }

  /** Resolves true once `ready()` holds (checked after every new part), false after `timeoutMs` or on close. */
  wait(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ready()) return Promise.resolve(true)
    if (this.#closed) return Promise.resolve(false)
    return new Promise((resolve) => {
      const waiter: Waiter = {
        ready,
        resolve: (ok) => {
          clearTimeout(timer)
          this.#waiters.delete(waiter)
          resolve(ok)
        },
      }
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs)
      this.#waiters.add(waiter)
    })
  }

  onPublish(): void {}

  onUnpublish(): void {
    this.close()
  }

  onMetadata(): void {}

  onFrame(_stream: Stream, frame: MediaFrame): void {
    this.#wallOffset = Date.now() - frame.dts
    this.#frame(frame)
  }

  /** Stops: waiting requests are answered (not ready). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const w of [...this.#waiters]) w.resolve(false)
  }

  get closed(): boolean {
    return this.#closed
  }

  #frame(frame: MediaFrame): void {
    if (this.#closed || frame.sequenceHeader) return
    const video = frame.kind === 'video'
    const stream = this.stream
    if (this.#configChanged()) {
      if (stream.videoSequenceHeader ? !(video && frame.keyframe) : !this.#audioOnly(frame)) return
      this.#restart(frame.dts)
    }
    const muxer = this.#muxer!
    let pushed: string
    try {
      pushed = muxer.push(frame.kind, frame.payload, frame.dts)
    } catch (error) {
      return this.#skip(String((error as Error).message ?? error))
    }
    if (pushed !== 'sample' && pushed !== 'keyframe') return // another track's, a header, nothing
    // the frame interval of the video (audio when there is none), for cutting parts in time
    if (video || !muxer.video) {
      const last = video ? this.#lastVideoDts : this.#lastAudioDts
      if (last !== null && frame.dts > last) this.#frameInterval = Math.min(frame.dts - last, this.options.partMs / 2)
      if (video) this.#lastVideoDts = frame.dts
      else this.#lastAudioDts = frame.dts
    }
    const segment = this.current ?? this.#openSegment(frame.dts)
    const hasVideo = !!muxer.video
    const segmentDue = frame.dts - segment.startDts >= this.options.segmentMs && (hasVideo ? pushed === 'keyframe' : true)
    if (segmentDue) {
      this.#cutPart(frame.dts)
      this.#closeSegment(segment)
      this.#openSegment(frame.dts)
    } else if (frame.dts - this.#partStart + this.#frameInterval > this.options.partMs) {
      // another frame would take the part past PART-TARGET (which it must not exceed, §4.4.4.9)
      this.#cutPart(frame.dts)
    }
  }

  #audioOnly(frame: MediaFrame): boolean {
    this.#audioSince ??= frame.dts
    return frame.dts - this.#audioSince >= AUDIO_ONLY_AFTER_MS
  }

  /** What configures the muxer: every sequence header (the muxer takes its tracks'), and the first frame of an audio codec without one (AC-3, E-AC-3). */
  #configs(): MediaFrame[] {
    const s = this.stream
    return [...s.sequenceHeaders, ...(s.audioConfig ? [s.audioConfig] : [])]
  }

  /** The stream's sequence headers are not the ones the muxer was made with. */
  #configChanged(): boolean {
    return !this.#muxer || this.#configs().some((h) => !this.#headers.has(h))
  }

  /** A new muxer (first frame, or a codec change): a new init segment, the next segment discontinuous. */
  #restart(dts: number): void {
    const current = this.current
    if (current && this.#muxer) {
      this.#flushPart(this.#muxer.finish(), dts)
      this.#closeSegment(current)
    }
    const muxer = new native.Fmp4Muxer(this.videoTrack)
    this.#headers = new Set(this.#configs())
    for (const h of this.#headers) {
      try {
        muxer.configure(h.kind, h.payload)
      } catch (error) {
        this.#skip(String((error as Error).message ?? error))
      }
    }
    this.#discontinuity = this.#muxer !== null
    this.#muxer = muxer
    try {
      this.inits.set(++this.#initVersion, muxer.initSegment())
    } catch (error) {
      this.#skip(String((error as Error).message ?? error))
    }
    // keep the init segments some listed segment still names
    const oldest = this.segments[0]?.init ?? this.#initVersion
    for (const v of this.inits.keys()) if (v < oldest) this.inits.delete(v)
  }

  #openSegment(dts: number): HlsSegment {
    const segment: HlsSegment = {
      msn: this.#nextMsn++, parts: [], startDts: dts, durationMs: 0, programDateMs: Math.round(dts + this.#wallOffset),
      init: this.#initVersion, discontinuity: this.#discontinuity, complete: false, data: null,
    }
    this.#discontinuity = false
    this.#partStart = dts
    this.segments.push(segment)
    return segment
  }

  /** The part of the samples decoded before `dts`. */
  #cutPart(dts: number): void {
    this.#flushPart(this.#muxer!.fragment(dts), dts)
  }

  #flushPart(fragment: { data: Buffer; independent: boolean } | null, dts: number): void {
    const segment = this.current
    if (!segment || !fragment) return
    const durationMs = Math.max(0, dts - this.#partStart)
    segment.parts.push({ id: this.#nextPartId++, index: segment.parts.length, data: fragment.data, durationMs, independent: fragment.independent })
    segment.durationMs += durationMs
    this.#partStart = dts
    this.#wake()
  }

  #closeSegment(segment: HlsSegment): void {
    segment.complete = true
    segment.data = Buffer.concat(segment.parts.map((p) => p.data))
    while (this.complete.length > this.options.segments) this.segments.shift()
    this.#wake()
  }

  #wake(): void {
    for (const w of [...this.#waiters]) if (w.ready()) w.resolve(true)
  }

  #skip(reason: string): void {
    this.framesSkipped++
    if (this.#skipReasons.has(reason)) return
    this.#skipReasons.add(reason)
    this.#log.warn({ reason }, 'HLS skips frames')
  }
}
