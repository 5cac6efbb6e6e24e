/**
 * A program stream: one hub stream whose content switches between a source stream passed
 * through as it is (no transcoding) and a mix of it, without a break. Whatever pushes or plays
 * the program (an RTMP push to a CDN) keeps its one connection across every switch.
 *
 * How the switch stays seamless (the mix is stamped on the source's timeline, see `Mix`'s
 * `timelineInput`, so a mixed frame carries the timestamp of the source frame it shows):
 *
 * - The source is passed through `delayMs` late (a queue released by a timer), more than the
 *   mix's own latency, so at any moment the mix is ahead of what the program has sent.
 * - Source → mix: on the mix's first keyframe after the switch was asked for (at timestamp K),
 *   the queued source frames before K go out at once, the rest are dropped, the mix's sequence
 *   headers go in-band, and the mix follows from K. Audio continues exactly where the last
 *   source audio frame ends: the new side's first frame that reaches past that end is moved
 *   onto it (by less than one frame, ≤ 21 ms, and so is the rest of that side's audio until
 *   the next switch), the frames wholly before it are left out — no gap, no overlap.
 * - Mix → source: on the source's first keyframe K' after the last mixed picture sent (asked
 *   for with a PLI when the source is a WebRTC publisher), the mix
 *   stops and the source's queued frames (the queue keeps filling while on the mix) are
 *   released on their schedule: video from K', audio from just after the last mixed audio,
 *   the source's sequence headers in-band first.
 *
 * Timestamps stay strictly increasing per track (a frame that would go back is dropped and
 * counted). When the source's publisher leaves, the program is unpublished with it; it comes
 * back with the source.
 */
import { native } from '../native'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Publisher, Stream, Subscriber } from '../hub/stream'
import type { MediaFrame, MediaKind } from '../hub/media-frame'

export type ProgramSource = 'source' | 'mix'

export interface ProgramOptions {
  id: string
  /** The program stream. */
  app: string
  name: string
  /** The stream passed through. */
  source: { app: string; name: string }
  /** Ms the source is held back (more than the mix's latency). */
  delayMs: number
  /** Called on every completed switch. */
  onSwitch?: (to: ProgramSource, atMs: number) => void
}

/** What a program reports. */
export interface ProgramStats {
  app: string
  name: string
  /** What the program carries now, and what it is switching to (null when settled). */
  on: ProgramSource
  switchingTo: ProgramSource | null
  switches: number
  framesOut: number
  /** Frames dropped to keep timestamps increasing. */
  framesDropped: number
}

interface Queued {
  frame: MediaFrame
  releaseAt: number
}

/** A subscriber that hands frames to a callback. */
class Tap implements Subscriber {
  readonly id: string
  constructor(
    id: string,
    readonly handlers: { frame: (f: MediaFrame) => void; publish?: () => void; unpublish?: () => void; metadata?: (p: Buffer) => void },
  ) {
    this.id = id
  }
  onPublish(): void {
    this.handlers.publish?.()
  }
  onUnpublish(): void {
    this.handlers.unpublish?.()
  }
  onMetadata(_s: Stream, payload: Buffer): void {
    this.handlers.metadata?.(payload)
  }
  onFrame(_s: Stream, frame: MediaFrame): void {
    this.handlers.frame(frame)
  }
}

export class ProgramSwitch implements Publisher {
  readonly id: string
  readonly protocol = 'program'
  readonly remoteAddress = 'server'
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #options: ProgramOptions
  readonly #sourceTap: Tap
  readonly #source: Stream
  #mix: Stream | null = null
  #mixTap: Tap | null = null
  #program: Stream | null = null
  #on: ProgramSource = 'source'
  #target: ProgramSource = 'source'
  readonly #queue: Queued[] = []
  #timer: NodeJS.Timeout | null = null
  /** Last timestamp sent per track. */
  readonly #last: Record<MediaKind, number> = { audio: -Infinity, video: -Infinity }
  /** Duration of the last audio frame sent, ms. */
  #lastAudioMs = 0
  /** Ms added to the current side's audio timestamps so that it joins the other side's end. */
  #audioShift = 0
  /** A switch happened and the new side's audio has not been joined yet. */
  #audioJoinPending = false
  /** Source frames before this timestamp (video) are skipped after a switch back. */
  #sourceFrom = -Infinity
  #sourceHeadersPending = false
  #closed = false
  switches = 0
  framesOut = 0
  framesDropped = 0

  constructor(hub: StreamHub, log: Logger, options: ProgramOptions) {
    this.id = options.id
    this.#hub = hub
    this.#options = options
    this.#log = log.child({ program: `${options.app}/${options.name}` })
    this.#sourceTap = new Tap(`${options.id}-source`, {
      frame: (f) => this.#onSourceFrame(f),
      publish: () => this.#publish(),
      unpublish: () => this.#unpublish(),
      metadata: (p) => {
        if (this.#on === 'source') this.#program?.setMetadata(p, this.#source.metadataValues)
      },
    })
    this.#source = hub.subscribe(options.source.app, options.source.name, this.#sourceTap)
    if (this.#source.isLive) this.#publish()
  }

  get on(): ProgramSource {
    return this.#on
  }
  get stream(): Stream | null {
    return this.#program
  }

  #publish(): void {
    if (this.#closed || this.#program) return
    this.#program = this.#hub.publish(this.#options.app, this.#options.name, this)
    const s = this.#source
    if (s.metadata) this.#program.setMetadata(s.metadata, s.metadataValues)
    for (const h of [s.videoSequenceHeader, s.audioSequenceHeader]) if (h) this.#emit(h)
    for (const f of s.gop) this.#enqueue(f)
  }

  #unpublish(): void {
    this.#flushQueue(Infinity)
    if (this.#program) this.#hub.unpublish(this.#program, this)
    this.#program = null
  }

  /** Switches to the mix `stream` (a `Mix`'s stream on the source's timeline) from its next keyframe. */
  toMix(mix: Stream): void {
    if (this.#mix !== mix) {
      this.#detachMix()
      this.#mix = mix
      this.#mixTap = new Tap(`${this.id}-mix`, { frame: (f) => this.#onMixFrame(f) })
      this.#hub.subscribe(mix.app, mix.name, this.#mixTap)
    }
    this.#target = 'mix'
  }

  /** Switches back to the source from its next keyframe after the last mixed picture. */
  toSource(): void {
    this.#target = 'source'
    if (this.#on === 'source') return this.#detachMix()
    // A WebRTC source sends keyframes only when asked (PLI; rate-limited by the publisher).
    this.#source.publisher?.rtpSource?.requestKeyframe('program switching back to it')
  }

  #detachMix(): void {
    if (this.#mix && this.#mixTap) this.#hub.unsubscribe(this.#mix, this.#mixTap)
    this.#mix = null
    this.#mixTap = null
  }

  #onSourceFrame(frame: MediaFrame): void {
    if (!this.#program) return
    if (frame.sequenceHeader) {
      this.#enqueue(frame)
      return
    }
    if (this.#on === 'mix' && this.#target === 'source' && frame.kind === 'video' && frame.keyframe && frame.dts > this.#last.video) {
      // Back to the source from this keyframe: the mix stops now. The queue kept the source's
      // last `delayMs` while on the mix, so its audio continues where the mix's ended.
      this.#on = 'source'
      this.#sourceFrom = frame.dts
      this.#sourceHeadersPending = true
      this.#detachMix()
      this.#switched('source', frame.dts)
    }
    this.#enqueue(frame)
  }

  #onMixFrame(frame: MediaFrame): void {
    if (!this.#program || !this.#mix) return
    if (this.#on === 'source') {
      if (this.#target !== 'mix' || frame.kind !== 'video' || !frame.keyframe || frame.sequenceHeader || frame.dts <= this.#last.video) return
      // To the mix from this keyframe: what the source had before it goes now, the rest never.
      this.#flushQueue(frame.dts)
      this.#queue.length = 0
      this.#on = 'mix'
      for (const h of [this.#mix.videoSequenceHeader, this.#mix.audioSequenceHeader]) if (h) this.#emit({ ...h, dts: frame.dts, pts: frame.dts, wire: undefined })
      this.#switched('mix', frame.dts)
    }
    if (frame.sequenceHeader) return this.#emit({ ...frame, dts: Math.max(frame.dts, this.#last[frame.kind]), wire: undefined })
    this.#emit(frame)
  }

  #switched(to: ProgramSource, at: number): void {
    this.#audioShift = 0
    this.#audioJoinPending = true
    this.switches++
    this.#log.info({ to, at }, 'program switched')
    this.#options.onSwitch?.(to, at)
  }

  #enqueue(frame: MediaFrame): void {
    this.#queue.push({ frame, releaseAt: Date.now() + this.#options.delayMs })
    this.#schedule()
  }

  #schedule(): void {
    if (this.#timer || this.#queue.length === 0) return
    const wait = Math.max(0, this.#queue[0]!.releaseAt - Date.now())
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#release()
    }, wait)
  }

  #release(): void {
    const now = Date.now()
    while (this.#queue.length > 0 && this.#queue[0]!.releaseAt <= now) this.#sendSource(this.#queue.shift()!.frame)
    this.#schedule()
  }

  /** Sends the queued source frames with timestamps before `before` at once. */
  #flushQueue(before: number): void {
    for (const q of this.#queue) if (q.frame.dts < before) this.#sendSource(q.frame)
  }

  #sendSource(frame: MediaFrame): void {
    if (this.#on !== 'source') return // on the mix: the source's frames only wait for a switch back
    if (frame.sequenceHeader) {
      if (!this.#sourceHeadersPending) this.#emit({ ...frame, dts: Math.max(frame.dts, this.#last[frame.kind]), wire: undefined })
      return
    }
    if (frame.kind === 'video' && frame.dts < this.#sourceFrom) return
    if (this.#sourceHeadersPending && frame.kind === 'video') {
      this.#sourceHeadersPending = false
      const s = this.#source
      for (const h of [s.videoSequenceHeader, s.audioSequenceHeader]) if (h) this.#emit({ ...h, dts: frame.dts, pts: frame.dts, wire: undefined })
      if (s.metadata) this.#program?.setMetadata(s.metadata, s.metadataValues)
      // The first keyframe back also carries the source's SPS and PPS in-band (as the mix's do).
      const inBand = s.videoSequenceHeader && native.avcKeyframeWithParameterSets(frame.payload, s.videoSequenceHeader.payload)
      if (inBand) return this.#emit({ ...frame, payload: inBand, wire: undefined })
    }
    this.#emit(frame)
  }

  #emit(frame: MediaFrame): void {
    const program = this.#program
    if (!program) return
    if (frame.kind === 'audio' && !frame.sequenceHeader) {
      const joined = this.#joinAudio(frame)
      if (!joined) return
      frame = joined
    }
    const last = this.#last[frame.kind]
    if (frame.sequenceHeader ? frame.dts < last : frame.dts <= last && !(frame.kind === 'video' && frame.dts === last)) {
      this.framesDropped++
      return
    }
    // Audio must not overlap the frame before it (at a switch the other side's next frame can
    // start inside it): a frame starting more than 2 ms before the last one ends is dropped,
    // leaving at most one frame's gap. (Steady streams space AAC frames 21 or 22 ms apart for
    // 21.3 ms frames, inside the 2 ms.)
    if (frame.kind === 'audio' && !frame.sequenceHeader && frame.dts < last + this.#lastAudioMs - 2) {
      this.framesDropped++
      return
    }
    if (frame.kind === 'audio' && !frame.sequenceHeader) this.#lastAudioMs = audioFrameMs(frame, this.#on === 'mix' ? 48_000 : this.#source.audio?.sampleRate)
    if (!frame.sequenceHeader) this.#last[frame.kind] = frame.dts
    this.framesOut++
    program.pushFrame(frame.kind, frame.dts, frame.payload, frame.keyframe, frame.sequenceHeader, frame.pts - frame.dts)
  }

  /**
   * After a switch, the new side's audio joins the end of the last audio frame sent: the first
   * frame reaching past that end is moved onto it, frames wholly before it are dropped; the same
   * shift then applies to that side until the next switch. Null: drop the frame.
   */
  #joinAudio(frame: MediaFrame): MediaFrame | null {
    if (this.#audioJoinPending && this.#last.audio > -Infinity) {
      const end = this.#last.audio + this.#lastAudioMs
      const duration = audioFrameMs(frame, this.#on === 'mix' ? 48_000 : this.#source.audio?.sampleRate)
      if (frame.dts + duration <= end + 1) {
        this.framesDropped++
        return null
      }
      // a frame starting up to one frame away from the end (either side) is moved onto it; a
      // longer silence stays as it is
      if (Math.abs(end - frame.dts) <= duration + 1) this.#audioShift = Math.round(end) - frame.dts
      this.#audioJoinPending = false
    } else if (this.#audioJoinPending) {
      this.#audioJoinPending = false
    }
    if (this.#audioShift === 0) return frame
    return { ...frame, dts: frame.dts + this.#audioShift, pts: frame.pts + this.#audioShift, wire: undefined }
  }

  stats(): ProgramStats {
    return {
      app: this.#options.app, name: this.#options.name, on: this.#on, switchingTo: this.#target !== this.#on ? this.#target : null,
      switches: this.switches, framesOut: this.framesOut, framesDropped: this.framesDropped,
    }
  }

  /** Ends the program (idempotent): the source and mix are left, the program unpublished. */
  close(reason = 'closed'): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#queue.length = 0
    this.#detachMix()
    this.#hub.unsubscribe(this.#source, this.#sourceTap)
    this.#hub.forget(this.#source)
    if (this.#program) this.#hub.unpublish(this.#program, this)
    this.#program = null
    this.#log.info({ reason, switches: this.switches }, 'program ended')
  }
}

/**
 * Duration of an audio frame in ms: AAC (FLV sound format 10) 1024 samples at `sampleRate`
 * (ISO/IEC 14496-3, frameLengthFlag 0; 48 kHz when unknown); anything else 0 (not checked).
 */
function audioFrameMs(frame: MediaFrame, sampleRate: number | null | undefined): number {
  return frame.payload[0]! >> 4 === 10 ? 1_024_000 / (sampleRate || 48_000) : 0
}
