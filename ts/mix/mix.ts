/**
 * A mix: a hub stream composed on the server (MCU) from other hub streams. Each input is a hub
 * subscriber whose frames (FLV tag bodies, ms) go to the native mixer thread
 * (`crates/mixer`: OpenH264 or libvpx (VP8) decode, scale into the layout, encode once; audio decoded, summed
 * with gain, limited, AAC once); the mixer's frames come back and are published as the mix's
 * own stream, which every player protocol serves like any other.
 *
 * Inputs that stall keep their last picture and go silent; after `inputTimeoutMs` they leave
 * the layout. An input whose stream is not live yet waits for it. With `timelineInput`, the
 * mix is stamped on that input's timeline (co-hosting switches between it and the mix).
 */
import { native } from '../native'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Publisher, Stream, Subscriber } from '../hub/stream'
import type { MediaFrame } from '../hub/media-frame'
import { TypedEmitter } from '../events'
import { mixErrorFrom } from '../errors'
import { MixRtpSource, MixVideoPacketizer } from './rtp-source'

/** Where inputs go: `grid`, `speaker` (the first large), `pip` (the first full, others small), `rects`. */
export type MixLayoutName = 'grid' | 'speaker' | 'pip' | 'rects'

/** A rectangle of a `rects` layout, px on the mix's canvas. */
export interface MixRectangle {
  x: number
  y: number
  width: number
  height: number
}

/** A mix's picture and sound settings (`mix` in the config gives the defaults). */
export interface MixSettings {
  /** Output size, px (even). */
  width: number
  height: number
  /** Frames per second. */
  frameRate: number
  /** H.264 target, bits/s. */
  videoBitrate: number
  /** AAC-LC target, bits/s. */
  audioBitrate: number
  /** Ms between keyframes. */
  keyframeIntervalMs: number
  layout: MixLayoutName
  /** The rectangles of a `rects` layout, one per input in order. */
  rects?: MixRectangle[]
  /** Canvas colour, `#rrggbb`. */
  background: string
  /** Ms every input is held back to absorb jitter. */
  latencyMs: number
  /** Ms without video after which an input leaves the layout. */
  inputTimeoutMs: number
}

/** One input: a hub stream `app/name` with a linear audio gain (1 unchanged, 0 muted). */
export interface MixInputSpec {
  app: string
  name: string
  gain?: number
}

export interface MixOptions extends MixSettings {
  id: string
  /** The mix's own stream. */
  app: string
  name: string
  inputs: MixInputSpec[]
  /** Index in `inputs` whose timeline the mix's timestamps follow. */
  timelineInput?: number
  /** Called once when the mix has ended. */
  onEnd?: (mix: Mix) => void
}

/** What `GET /api/mixes` shows of a mix. */
export interface MixStats {
  id: string
  app: string
  name: string
  layout: MixLayoutName
  width: number
  height: number
  frameRate: number
  /** `clock`: `capture` when the input's frames are placed by their capture time (a WebRTC
   * publisher's sender reports: inputs so placed are shown in sync), else `arrival`. */
  inputs: { app: string; name: string; gain: number; live: boolean; framesIn: number; clock: 'capture' | 'arrival'; audio: MixInputAudio | null }[]
  /** Inputs in the layout now. */
  visibleInputs: number
  framesOut: number
  /** Input access units decoded; input bodies refused; pictures encoded. */
  decoded: number
  inputErrors: number
  encoded: number
  /** Share of one core the mix thread used since it started (0–1). */
  cpu: number
  /** Mix latency (an input picture in → the mixed picture out, ms) over recent pictures. */
  latencyMs: { p50: number; p99: number } | null
  lastError: string | null
}

/**
 * What one input's audio did in the mix, ms of audio: `mixedMs` heard; `lateMs` came after its
 * place had been mixed; `overflowMs` dropped for being over 2 s ahead; `resets`: times it was
 * placed anew (a jump back, a gap over 1 s). An input whose audio is not heard shows it here.
 */
export interface MixInputAudio {
  frames: number
  mixedMs: number
  lateMs: number
  overflowMs: number
  resets: number
}

/** The mix thread's own counters (benchmarks). */
export interface MixThreadStats {
  /** Input access units decoded; input bodies refused; pictures encoded. */
  decoded: number
  inputErrors: number
  encoded: number
  /** Output ticks skipped because the thread fell behind. */
  ticksSkipped: number
  visibleInputs: number
  /** Ms the thread spent working since the mix started, and ms since it started. */
  busyMs: number
  elapsedMs: number
  /** Input frames dropped because the thread's queue was full. */
  framesDropped: number
  lastError?: string | null
  /** Mix latency of recent pictures, ms (input picture in → mixed picture encoded). */
  latencyMs: number[]
  /** Each input's audio (`input`: its index). */
  audioInputs: ({ input: number } & MixInputAudio)[]
}

export type MixEvents = {
  /** The mix ended (idempotent `close`, or its stream was taken over). */
  closed: [reason: string]
}

class MixInput implements Subscriber {
  readonly id: string
  readonly index: number
  readonly spec: Required<MixInputSpec>
  readonly stream: Stream
  framesIn = 0
  /** The mix is stamped on this input's timeline (never capture-clocked). */
  readonly timeline: boolean
  /** Its frames go to the mixer with their capture times (see `onFrame`). */
  captureClock = false
  readonly #mixer: InstanceType<typeof native.NativeMixer>

  constructor(hub: StreamHub, mixer: InstanceType<typeof native.NativeMixer>, mixId: string, index: number, spec: MixInputSpec, timeline: boolean) {
    this.index = index
    this.timeline = timeline
    this.id = `${mixId}-input-${index}`
    this.spec = { app: spec.app, name: spec.name, gain: spec.gain ?? 1 }
    this.#mixer = mixer
    this.stream = hub.subscribe(spec.app, spec.name, this)
    if (this.stream.isLive) this.onPublish(this.stream)
  }

  /**
   * Sequence headers and the cached GOP first, so the decoder starts on a keyframe; a WebRTC
   * publisher is also asked for a fresh one (it sends keyframes only on request).
   */
  onPublish(stream: Stream): void {
    stream.publisher?.rtpSource?.requestKeyframe('mix input')
    for (const f of [stream.videoSequenceHeader, stream.audioSequenceHeader, ...stream.gop]) if (f) this.onFrame(stream, f)
  }

  onUnpublish(): void {}
  onMetadata(): void {}

  onFrame(stream: Stream, frame: MediaFrame): void {
    this.framesIn++
    // A WebRTC publisher's frames carry their capture time once its sender reports came:
    // those inputs share one clock in the mixer (A/V sync across inputs), the timeline input
    // (co-hosting's host) excepted.
    const capture = this.timeline || frame.sequenceHeader ? null : stream.captureTimeMs(frame)
    if ((capture !== null) !== this.captureClock && !frame.sequenceHeader && !this.timeline) {
      this.captureClock = capture !== null
      this.#mixer.setCaptureClock(this.index, this.captureClock)
    }
    this.#mixer.push(this.index, frame.kind === 'video', frame.payload, capture ?? frame.dts)
  }
}

export class Mix extends TypedEmitter<MixEvents> implements Publisher {
  readonly id: string
  readonly protocol = 'mix'
  readonly remoteAddress = 'server'
  readonly stream: Stream
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #options: MixOptions
  readonly #mixer: InstanceType<typeof native.NativeMixer>
  readonly #inputs = new Map<number, MixInput>()
  /** Conference participants' RTP (mix video + their mix-minus), by input index. */
  readonly #rtpSources = new Map<number, MixRtpSource>()
  #videoPacketizer: MixVideoPacketizer | null = null
  #nextIndex = 0
  #layout: MixLayoutName
  #closed = false
  framesOut = 0

  /**
   * Starts the mix thread and publishes `app/name`. Throws `MixError` (`MIX_INVALID_CONFIG`,
   * `MIX_AUDIO_FAILED`) when the mixer refuses the settings, `StreamBusyError` when the name is
   * live.
   */
  constructor(hub: StreamHub, log: Logger, options: MixOptions) {
    super()
    this.id = options.id
    this.#hub = hub
    this.#options = options
    this.#layout = options.layout
    this.#log = log.child({ mix: options.id, stream: `${options.app}/${options.name}` })
    try {
      this.#mixer = new native.NativeMixer(
        {
          width: options.width, height: options.height, frameRate: options.frameRate, videoBitrate: options.videoBitrate,
          audioBitrate: options.audioBitrate, keyframeIntervalMs: options.keyframeIntervalMs, layout: options.layout, rects: options.rects,
          background: options.background, latencyMs: options.latencyMs, inputTimeoutMs: options.inputTimeoutMs,
        },
        (frames) => this.#onFrames(frames),
      )
    } catch (error) {
      throw mixErrorFrom(error)
    }
    try {
      this.stream = hub.publish(options.app, options.name, this)
    } catch (error) {
      this.#mixer.close()
      throw error
    }
    this.stream.setMetadata(
      native.encodeAmf0(['onMetaData', { width: options.width, height: options.height, framerate: options.frameRate, videocodecid: 7, audiocodecid: 10, encoder: 'Sluice mix' }]),
      { width: options.width, height: options.height, framerate: options.frameRate },
    )
    options.inputs.forEach((spec, i) => this.addInput(spec, i === options.timelineInput))
    this.#log.info({ inputs: options.inputs.map((i) => `${i.app}/${i.name}`), layout: options.layout }, 'mix started')
  }

  get app(): string {
    return this.#options.app
  }
  get name(): string {
    return this.#options.name
  }

  /**
   * Adds an input after those there (its stream may go live later). Returns its index. With
   * `timeline`, the mix is stamped on this input's timeline; with `minus`, the input's
   * participant gets the mix as RTP with everyone's audio but its own (`participantSource(index)`).
   */
  addInput(spec: MixInputSpec, timeline = false, minus = false): number {
    const index = this.#nextIndex++
    this.#mixer.addInput(index, spec.gain ?? 1, timeline)
    if (minus) {
      this.#mixer.setMinus(index, true, 48_000)
      this.#rtpSources.set(index, new MixRtpSource(() => this.#mixer.requestKeyframe()))
    }
    this.#inputs.set(index, new MixInput(this.#hub, this.#mixer, this.id, index, spec, timeline))
    return index
  }

  /** The mix as RTP for input `index`'s participant (added with `minus`), or null. */
  participantSource(index: number): MixRtpSource | null {
    return this.#rtpSources.get(index) ?? null
  }

  /** Removes the input of stream `app/name` (its cell goes at the next picture). False when none. */
  removeInput(app: string, name: string): boolean {
    for (const [index, input] of this.#inputs) {
      if (input.spec.app !== app || input.spec.name !== name) continue
      this.#inputs.delete(index)
      this.#rtpSources.delete(index)
      this.#mixer.removeInput(index)
      this.#hub.unsubscribe(input.stream, input)
      this.#hub.forget(input.stream)
      return true
    }
    return false
  }

  /** Changes the layout from the next picture on. Throws `MixError` (`MIX_INVALID_CONFIG`). */
  setLayout(layout: MixLayoutName, rects?: MixRectangle[]): void {
    try {
      this.#mixer.setLayout(layout, rects)
    } catch (error) {
      throw mixErrorFrom(error)
    }
    this.#layout = layout
  }

  /** The next mixed picture is a keyframe. */
  requestKeyframe(): void {
    this.#mixer.requestKeyframe()
  }

  #onFrames(frames: { kind: string; input?: number | null; timestamp: number; keyframe: boolean; sequenceHeader: boolean; payload: Buffer }[]): void {
    if (this.#closed) return
    for (const f of frames) {
      if (f.kind === 'minus') {
        this.#rtpSources.get(f.input ?? -1)?.minus(f.payload, f.timestamp)
        continue
      }
      if (f.kind === 'video' && !f.sequenceHeader && this.#rtpSources.size > 0) {
        this.#videoPacketizer ??= new MixVideoPacketizer()
        const packets = this.#videoPacketizer.packetize(f.payload.subarray(5), f.timestamp)
        for (const source of this.#rtpSources.values()) source.sendVideo(packets)
      }
      this.framesOut++
      this.stream.pushFrame(f.kind as 'audio' | 'video', f.timestamp, f.payload, f.keyframe, f.sequenceHeader, 0)
    }
  }

  stats(): MixStats {
    const s = this.#mixer.stats()
    const o = this.#options
    const sorted = [...s.latencyMs].sort((a, b) => a - b)
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
    return {
      id: this.id, app: o.app, name: o.name, layout: this.#layout, width: o.width, height: o.height, frameRate: o.frameRate,
      inputs: [...this.#inputs].map(([index, i]) => {
        const a = s.audioInputs.find((x) => x.input === index)
        const audio = a ? { frames: a.frames, mixedMs: Math.round(a.mixedMs), lateMs: Math.round(a.lateMs), overflowMs: Math.round(a.overflowMs), resets: a.resets } : null
        return { app: i.spec.app, name: i.spec.name, gain: i.spec.gain, live: i.stream.isLive, framesIn: i.framesIn, clock: i.captureClock ? 'capture' : 'arrival', audio }
      }),
      visibleInputs: s.visibleInputs, framesOut: this.framesOut, decoded: s.decoded, inputErrors: s.inputErrors, encoded: s.encoded,
      cpu: s.elapsedMs > 0 ? Math.round((s.busyMs / s.elapsedMs) * 1000) / 1000 : 0,
      latencyMs: sorted.length ? { p50: pick(0.5), p99: pick(0.99) } : null,
      lastError: s.lastError ?? null,
    }
  }

  /** Native counters as they are (benchmarks). */
  nativeStats(): MixThreadStats {
    return this.#mixer.stats()
  }

  /** Forgets the latency samples so far. */
  resetLatency(): void {
    this.#mixer.resetLatency()
  }

  /** Ends the mix (idempotent): inputs left, the thread stopped, the stream unpublished. */
  close(reason = 'closed'): void {
    if (this.#closed) return
    this.#closed = true
    for (const input of this.#inputs.values()) {
      this.#hub.unsubscribe(input.stream, input)
      this.#hub.forget(input.stream)
    }
    this.#inputs.clear()
    this.#mixer.close()
    this.#hub.unpublish(this.stream, this)
    this.#log.info({ reason, framesOut: this.framesOut }, 'mix ended')
    this.#options.onEnd?.(this)
    this.safeEmit('closed', reason)
  }
}
