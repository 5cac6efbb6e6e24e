/**
 * An SRT publisher: the caller's MPEG-TS (released by SRT in order, after TSBPD) demuxed by the
 * native `TsDemuxer` into hub frames (AVC/AAC FLV tag bodies, ms), so RTMP, HTTP-FLV, WHEP
 * (AAC → Opus), forwarders and SRT players get it like any other publish.
 */
import { native } from '../native'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Publisher, Stream } from '../hub/stream'

export interface SrtPublisherOptions {
  id: string
  app: string
  stream: string
  remoteAddress: string
  /** Largest access unit accepted, bytes. */
  maxAccessUnitBytes: number
  /** Ends the SRT session (the server's `close(session)`). */
  closeSession: (reason: string) => void
}

export class SrtPublisher implements Publisher {
  readonly id: string
  readonly protocol = 'srt'
  readonly remoteAddress: string
  readonly stream: Stream
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #demuxer: InstanceType<typeof native.TsDemuxer>
  readonly #closeSession: (reason: string) => void
  #closed = false
  /** Transport stream bytes received. */
  bytesIn = 0
  framesIn = 0

  /** Throws `StreamBusyError` (`PUBLISH_BAD_NAME`) when the stream already has a publisher. */
  constructor(hub: StreamHub, log: Logger, options: SrtPublisherOptions) {
    this.id = options.id
    this.remoteAddress = options.remoteAddress
    this.#hub = hub
    this.#log = log
    this.#closeSession = options.closeSession
    this.#demuxer = new native.TsDemuxer(options.maxAccessUnitBytes)
    this.stream = hub.publish(options.app, options.stream, this)
  }

  /** Transport stream bytes the session released. */
  push(data: Buffer): void {
    if (this.#closed) return
    this.bytesIn += data.length
    const before = this.#demuxer.stats.dropped
    this.#pushFrames(this.#demuxer.push(data))
    this.stream.noteMedia()
    const dropped = this.#demuxer.stats.dropped - before
    if (dropped > 0) {
      const error = this.#demuxer.takeError()
      this.#hub.drops.add('srt', 'frames', 'TS_MALFORMED', dropped)
      this.#log.debug({ publisher: this.id, error }, 'SRT publisher: malformed transport stream data dropped')
    }
    for (const s of this.#demuxer.takeUnsupported()) this.#log.warn({ publisher: this.id, stream: s }, 'SRT publisher: elementary stream not carried (H.264 and AAC are)')
  }

  #pushFrames(frames: ReturnType<InstanceType<typeof native.TsDemuxer>['push']>): void {
    for (const f of frames) {
      this.framesIn++
      this.stream.pushFrame(f.kind as 'audio' | 'video', f.dts, f.payload, f.keyframe, f.sequenceHeader, f.pts - f.dts)
    }
  }

  /** Demuxer counters: packets, continuity errors, resync bytes, drops. */
  get demuxStats(): { packets: number; continuityErrors: number; resyncBytes: number; dropped: number } {
    return this.#demuxer.stats
  }

  /** Ends publishing; the SRT session is closed with `reason`. Idempotent. */
  close(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    // The last video access unit waits for a next PES that will not come.
    this.#pushFrames(this.#demuxer.flush())
    const error = this.#demuxer.takeError()
    if (error) this.#log.debug({ publisher: this.id, error }, 'SRT publisher: the last PES was cut (the stream ended inside it)')
    this.#hub.unpublish(this.stream, this)
    this.#closeSession(reason)
  }
}
