/**
 * A live stream {app, name}: its publisher, sequence headers, metadata, GOP cache and
 * subscribers. Work that is the same for every subscriber happens here, once.
 */
import { GopCache, type GopCacheLimits } from './gop-cache'
import { IngestDiagnostics } from './ingest-diagnostics'
import type { MediaFrame } from './media-frame'
import { native } from '../native'
import type { RtpSource } from './rtp-source'
import { StreamBusyError } from '../errors'

/** Audio codecs (`describeAudioTag` names) that have no sequence header: their frames describe themselves. */
const SELF_DESCRIBING_AUDIO = new Set(['AC-3', 'E-AC-3'])

/** Who publishes into a stream. */
export interface Publisher {
  readonly id: string
  /** `rtmp`, later `whip`, `relay`... */
  readonly protocol: string
  readonly remoteAddress: string
  /** Ends the publishing session with a logged reason. */
  close(reason: string): void
  /** RTP-origin publishers (WHIP, SFU rooms): their packets, for WebRTC viewers as they came. */
  readonly rtpSource?: RtpSource
  /** The stream's subscribers changed (a publisher may start or stop work only some need). */
  onSubscribersChanged?(stream: Stream): void
  /**
   * The sender's wallclock (Unix ms) at this publisher's timestamp 0, once known: WebRTC
   * publishers, from their RTCP sender reports (RFC 3550 §6.4.1). `Stream.captureTimeMs`.
   */
  readonly captureEpochMs?: number | null
  /**
   * A cluster link (a relay or a pull made because local players asked): a local publisher of
   * the same stream replaces it (`StreamHub.publish` closes it first) instead of being refused.
   */
  readonly replaceable?: boolean
}

/** Who receives a stream. Calls arrive in stream order; a subscriber must never throw. */
export interface Subscriber {
  readonly id: string
  /** Takes the publisher's RTP as it came when there is some (WebRTC feeds), not hub frames. */
  readonly prefersRtp?: boolean
  /** A publisher started (or restarted): sequence headers and metadata follow as they arrive. */
  onPublish(stream: Stream): void
  /** The publisher left; the subscriber stays attached and waits for the next one. */
  onUnpublish(stream: Stream): void
  /** `onMetaData` changed (AMF0 payload: `"onMetaData"`, object). */
  onMetadata(stream: Stream, payload: Buffer): void
  onFrame(stream: Stream, frame: MediaFrame): void
}

export interface CodecSummary {
  codec: string
  codecString?: string | null
  sampleRate?: number | null
  channels?: number | null
  profile?: number | null
  level?: number | null
}

export class Stream {
  readonly app: string
  readonly name: string
  readonly #subscribers = new Set<Subscriber>()
  readonly #gop: GopCache
  #publisher: Publisher | null = null
  #publishedAt = 0
  #metadata: Buffer | null = null
  #metadataValues: Record<string, unknown> | null = null
  #videoSequenceHeader: MediaFrame | null = null
  #audioSequenceHeader: MediaFrame | null = null
  /** The first frame of a self-describing audio codec (AC-3, E-AC-3). */
  #audioSelfConfig: MediaFrame | null = null
  /** Enhanced RTMP v2 multitrack: sequence starts of other tracks than the default one, by kind and first track id. */
  readonly #trackSequenceHeaders = new Map<string, MediaFrame>()
  #video: CodecSummary | null = null
  #audio: CodecSummary | null = null
  /** Added to publisher timestamps so the stream's timeline never goes back across restarts. */
  #timestampOffset = 0
  #rebasePending = false
  #lastDts: number | null = null
  /** Bytes received in the current and previous one-second windows, for the bitrate. */
  #bytesIn = 0
  #windowStart = 0
  #windowBytes = 0
  #bitrate = 0
  /** Unix ms of the publisher's last media (a frame or an RTP packet), 0 before its first. */
  #lastMediaAt = 0

  readonly #unpublishGraceMs: number
  #unpublishTimer: NodeJS.Timeout | null = null
  readonly #onIngestWarning: (stream: Stream, kind: string, text: string) => void
  /** The current publisher's ingest diagnostics. */
  #diagnostics: IngestDiagnostics

  /**
   * `unpublishGraceMs`: how long subscribers keep waiting, unaware, when the publisher leaves,
   * before they are told (`onUnpublish`). A publisher that comes back within it (an OBS
   * reconnect, an ffmpeg restart) continues the stream for them seamlessly; this matters for
   * players such as ffmpeg and librtmp, which end on NetStream.Play.UnpublishNotify.
   */
  constructor(app: string, name: string, options: { gopLimits?: Partial<GopCacheLimits>; unpublishGraceMs?: number; onIngestWarning?: (stream: Stream, kind: string, text: string) => void } = {}) {
    this.app = app
    this.name = name
    this.#gop = new GopCache(options.gopLimits)
    this.#unpublishGraceMs = options.unpublishGraceMs ?? 3000
    this.#onIngestWarning = options.onIngestWarning ?? (() => {})
    this.#diagnostics = this.#newDiagnostics()
  }

  #newDiagnostics(): IngestDiagnostics {
    return new IngestDiagnostics((kind, text) => this.#onIngestWarning(this, kind, text))
  }

  /** What the current (or last) publisher's stream looks like: B-frames, timestamps, GOP, A/V drift. */
  get ingest(): IngestDiagnostics {
    return this.#diagnostics
  }

  get key(): string {
    return `${this.app}/${this.name}`
  }
  get publisher(): Publisher | null {
    return this.#publisher
  }
  get isLive(): boolean {
    return this.#publisher !== null
  }
  get subscribers(): ReadonlySet<Subscriber> {
    return this.#subscribers
  }
  get metadata(): Buffer | null {
    return this.#metadata
  }
  get metadataValues(): Record<string, unknown> | null {
    return this.#metadataValues
  }
  /**
   * When `frame` (one of this stream's, of the current publish) was captured, ms on its
   * sender's wallclock, or null when the publisher does not know (see
   * `Publisher.captureEpochMs`: WebRTC publishers once a sender report came).
   */
  captureTimeMs(frame: MediaFrame): number | null {
    const epoch = this.#publisher?.captureEpochMs
    return epoch === null || epoch === undefined ? null : frame.dts - this.#timestampOffset + epoch
  }
  get videoSequenceHeader(): MediaFrame | null {
    return this.#videoSequenceHeader
  }
  get audioSequenceHeader(): MediaFrame | null {
    return this.#audioSequenceHeader
  }
  /**
   * What configures a decoder or muxer for the audio: the sequence header, or, for codecs
   * without one (Enhanced RTMP `ac-3`/`ec-3`, whose frames describe themselves), the first
   * frame. Not sent to players as a header (they get the frames as they came).
   */
  get audioConfig(): MediaFrame | null {
    return this.#audioSequenceHeader ?? this.#audioSelfConfig
  }
  /**
   * Every sequence header a new player needs, in order: the default video and audio tracks',
   * then those of other Enhanced RTMP v2 multitrack tracks (RTMP, FLV players and recordings
   * replay them all; players of one track use the first two).
   */
  get sequenceHeaders(): MediaFrame[] {
    return [this.#videoSequenceHeader, this.#audioSequenceHeader, ...this.#trackSequenceHeaders.values()].filter((h): h is MediaFrame => !!h)
  }
  /** Whether Enhanced RTMP v2 multitrack tracks other than the default ones sent sequence starts. */
  get hasOtherTracks(): boolean {
    return this.#trackSequenceHeaders.size > 0
  }
  /** Whether this stream carries video (a video sequence header or frame was seen). */
  get hasVideo(): boolean {
    return this.#video !== null
  }
  get gop(): readonly MediaFrame[] {
    return this.#gop.frames
  }
  get publishedAt(): number {
    return this.#publishedAt
  }
  get bytesIn(): number {
    return this.#bytesIn
  }
  /** Unix ms of the current publisher's last media, 0 before its first (see `noteMedia`). */
  get lastMediaAt(): number {
    return this.#lastMediaAt
  }

  /**
   * The publisher received media that does not (yet) become a hub frame (an RTP packet of a
   * WebRTC or RTP publisher): keeps the publisher from the silence timeout. `now`: Unix ms.
   */
  noteMedia(now = Date.now()): void {
    this.#lastMediaAt = now
  }

  /** Incoming bitrate in bits/s over the last full second. */
  bitrate(now = Date.now()): number {
    this.#rollWindow(now)
    return this.#bitrate
  }

  /**
   * Resolves once the publisher's codecs are known: both a video and an audio sequence start
   * came, or one did and `soloMs` passed since the publish (an audio-only or video-only stream),
   * or `timeoutMs` passed. For what describes a stream's codecs to others (relay offers, the
   * cluster registry) right after a publish.
   */
  async codecsKnown(soloMs = 1000, timeoutMs = 3000): Promise<void> {
    const start = Date.now()
    for (;;) {
      const known = Number(this.#video !== null) + Number(this.#audio !== null)
      if (!this.isLive || known === 2 || (known === 1 && Date.now() - this.#publishedAt >= soloMs) || Date.now() - start >= timeoutMs) return
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  get video(): CodecSummary | null {
    return this.#video
  }
  get audio(): CodecSummary | null {
    return this.#audio
  }

  attachPublisher(publisher: Publisher): void {
    if (this.#publisher) throw new StreamBusyError(this.key)
    this.#publisher = publisher
    this.#publishedAt = Date.now()
    this.#metadata = null
    this.#metadataValues = null
    this.#videoSequenceHeader = null
    this.#audioSequenceHeader = null
    this.#audioSelfConfig = null
    this.#trackSequenceHeaders.clear()
    this.#video = null
    this.#audio = null
    this.#gop.clear()
    this.#diagnostics = this.#newDiagnostics()
    this.#rebasePending = this.#lastDts !== null
    this.#bytesIn = 0
    this.#windowStart = Date.now()
    this.#windowBytes = 0
    this.#bitrate = 0
    this.#lastMediaAt = 0
    if (this.#unpublishTimer) {
      clearTimeout(this.#unpublishTimer)
      this.#unpublishTimer = null
    }
    for (const s of this.#subscribers) s.onPublish(this)
  }

  detachPublisher(publisher: Publisher): void {
    if (this.#publisher !== publisher) return
    this.#publisher = null
    this.#gop.clear()
    const notify = () => {
      this.#unpublishTimer = null
      if (this.#publisher) return
      for (const s of this.#subscribers) s.onUnpublish(this)
    }
    if (this.#unpublishGraceMs <= 0) return notify()
    this.#unpublishTimer = setTimeout(notify, this.#unpublishGraceMs)
    this.#unpublishTimer.unref()
  }

  /** Cancels pending timers (the hub calls it when the stream is forgotten). */
  dispose(): void {
    if (this.#unpublishTimer) clearTimeout(this.#unpublishTimer)
    this.#unpublishTimer = null
  }

  setMetadata(payload: Buffer, values: Record<string, unknown> | null): void {
    this.#metadata = payload
    this.#metadataValues = values
    for (const s of this.#subscribers) s.onMetadata(this, payload)
  }

  /**
   * A frame from the publisher with its own timestamps (ms): re-based onto the stream's
   * timeline, cached and handed to every subscriber.
   */
  pushFrame(kind: 'audio' | 'video', dts: number, payload: Buffer, keyframe: boolean, sequenceHeader: boolean, compositionTime: number): void {
    const now = Date.now()
    this.#rollWindow(now)
    this.#lastMediaAt = now
    this.#bytesIn += payload.length
    this.#windowBytes += payload.length
    if (this.#rebasePending && this.#lastDts !== null) {
      this.#timestampOffset = this.#lastDts + 1 - dts
      this.#rebasePending = false
    }
    const streamDts = Math.max(0, dts + this.#timestampOffset)
    const frame: MediaFrame = {
      kind,
      dts: streamDts,
      pts: streamDts + compositionTime,
      keyframe,
      sequenceHeader,
      payload,
    }
    if (sequenceHeader) {
      const info = kind === 'video' ? native.describeVideoTag(payload) : native.describeAudioTag(payload)
      if (info?.otherTracks) {
        this.#trackSequenceHeaders.set(`${kind}:${info.trackId}`, frame)
      } else if (kind === 'video') {
        this.#videoSequenceHeader = frame
        this.#video = info ?? { codec: 'unknown' }
      } else {
        this.#audioSequenceHeader = frame
        this.#audio = info ?? { codec: 'unknown' }
      }
    } else {
      if (kind === 'video' && !this.#video) this.#video = native.describeVideoTag(payload) ?? { codec: 'unknown' }
      if (kind === 'audio' && !this.#audio) this.#audio = native.describeAudioTag(payload) ?? { codec: 'unknown' }
      if (kind === 'audio' && !this.#audioSelfConfig && SELF_DESCRIBING_AUDIO.has(this.#audio?.codec ?? '')) this.#audioSelfConfig = frame
      this.#lastDts = streamDts
      this.#diagnostics.frame(kind, dts, dts + compositionTime, keyframe)
      if (!this.#gop.push(frame)) this.#diagnostics.gopOverflow(this.#gop.limitsText)
    }
    for (const s of this.#subscribers) s.onFrame(this, frame)
  }

  addSubscriber(subscriber: Subscriber): void {
    this.#subscribers.add(subscriber)
    this.#publisher?.onSubscribersChanged?.(this)
  }

  removeSubscriber(subscriber: Subscriber): void {
    if (this.#subscribers.delete(subscriber)) this.#publisher?.onSubscribersChanged?.(this)
  }

  #rollWindow(now: number): void {
    const elapsed = now - this.#windowStart
    if (elapsed >= 1000) {
      this.#bitrate = Math.round((this.#windowBytes * 8 * 1000) / elapsed)
      this.#windowStart = now
      this.#windowBytes = 0
    }
  }
}
