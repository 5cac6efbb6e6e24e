/**
 * A recording: one hub stream written to files as it plays, whatever protocol it came in on.
 *
 * Formats:
 * - `fmp4` (default): fragmented MP4 (ISO BMFF, CMAF-style), muxed by the native `Fmp4Muxer`:
 *   the init segment (`ftyp` + `moov`), then one `moof` + `mdat` fragment per GOP, appended as
 *   each GOP ends. A file is playable while it is written and, after a crash, up to its last
 *   whole fragment. H.264/H.265 video, AAC/Opus audio.
 * - `flv`: the FLV header, `onMetaData`, the sequence headers and every tag as RTMP players get
 *   them (the same tag bytes as HTTP-FLV).
 *
 * A file begins on a keyframe (the stream's cached GOP first, so a recording started mid-stream
 * loses nothing of the current GOP) and is rotated on the first keyframe after
 * `segmentDurationMs` of media or `segmentMaxBytes` bytes, or when a track's codec
 * configuration changes (new sequence headers); an audio-only stream is cut every second.
 * Files are `{directory}/{app}/{stream}/{YYYY-MM-DD_HH-MM-SS-mmm}.{mp4|flv}` (UTC, the media's
 * wall-clock start; app and stream made safe path segments by `pathSegment`). Each finished file is reported (`onFile`) with its path, start, duration
 * and size: the `recordDone` event and the `on_record_done` webhook.
 *
 * A frame the muxer refuses (malformed, an unsupported codec) is skipped and counted, logged
 * once per reason; a write error ends the recording (logged, reported with its reason).
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import path from 'node:path'
import type { Stream, Subscriber } from '../hub/stream'
import type { MediaFrame } from '../hub/media-frame'
import type { Logger } from '../log'
import { native } from '../native'
import { flvTag } from '../http/flv-player'

export type RecordFormat = 'fmp4' | 'flv'

export interface RecordingOptions {
  /** Root directory; files go to `{directory}/{app}/{stream}/`. */
  directory: string
  format: RecordFormat
  /** Rotate on the first keyframe after this much media, ms (0: never by duration). */
  segmentDurationMs: number
  /** Rotate on the first keyframe after this many bytes (0: never by size). */
  segmentMaxBytes: number
}

/** A finished recording file (`recordDone`, `on_record_done`, `GET /api/recordings`). */
export interface RecordedFile {
  /** The recording it belongs to. */
  recording: string
  app: string
  stream: string
  format: RecordFormat
  /** Absolute path. */
  path: string
  /** Wall-clock time of its first frame, ISO 8601. */
  startedAt: string
  /** Media duration, ms (last frame's end − first frame's decode time). */
  durationMs: number
  bytes: number
  /** Why the file was closed: `rotated`, `codec changed`, `stream ended`, `stopped`, or a write error. */
  reason: string
}

/** What `GET /api/recordings` shows of an active recording. */
export interface RecordingInfo {
  id: string
  app: string
  stream: string
  format: RecordFormat
  /** The file being written, if one is open. */
  path: string | null
  /** Files finished so far. */
  files: number
  bytes: number
  framesWritten: number
  framesSkipped: number
  /** Made by a config rule (`record.rules`) rather than the API. */
  rule: boolean
}

type Muxer = InstanceType<typeof native.Fmp4Muxer>

/** Audio-only streams: a fragment per this much audio, ms. */
const AUDIO_FRAGMENT_MS = 1000
/** A file waits this long (ms of media) after its first keyframe for the audio configuration. */
const AUDIO_WAIT_MS = 1000
/** An audio-only stream is assumed after this much audio without a video sequence header, ms. */
const AUDIO_ONLY_AFTER_MS = 1000

/** `2026-12-06_07-15-02-123` (UTC). */
function fileStamp(ms: number): string {
  const d = new Date(ms)
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}_${p(d.getUTCHours())}-${p(d.getUTCMinutes())}-${p(d.getUTCSeconds())}-${p(d.getUTCMilliseconds(), 3)}`
}

/**
 * A stream's app or name as one safe path segment: characters outside `[A-Za-z0-9._~-]` become
 * `_`, and a name of dots only (`.`, `..`) gets a leading `_`, so no name leaves the directory.
 */
export function pathSegment(s: string): string {
  const safe = s.replace(/[^A-Za-z0-9._~-]/g, '_') || '_'
  return /^\.+$/.test(safe) ? `_${safe}` : safe
}

/** One file being written. */
class RecordFile {
  readonly path: string
  readonly startedAt: number
  readonly firstDts: number
  lastEnd: number
  bytes = 0
  readonly #out: WriteStream
  #error: Error | null = null

  constructor(filePath: string, firstDts: number) {
    this.path = filePath
    this.startedAt = Date.now()
    this.firstDts = firstDts
    this.lastEnd = firstDts
    mkdirSync(path.dirname(filePath), { recursive: true })
    this.#out = createWriteStream(filePath, { flags: 'wx' })
    this.#out.on('error', (e) => { this.#error ??= e })
  }

  get error(): Error | null {
    return this.#error
  }

  write(chunk: Buffer): void {
    this.bytes += chunk.length
    this.#out.write(chunk)
  }

  /** Closes the file; resolves when its bytes are on disk (or the write failed). */
  close(): Promise<void> {
    return new Promise((resolve) => this.#out.end(() => resolve()))
  }
}

let nextId = 1

export class Recording implements Subscriber {
  readonly id: string
  readonly app: string
  readonly name: string
  readonly rule: boolean
  readonly #options: RecordingOptions
  readonly #log: Logger
  readonly #onFile: (file: RecordedFile) => void
  readonly #onEnd: (r: Recording) => void
  #file: RecordFile | null = null
  #muxer: Muxer | null = null
  #files = 0
  #bytes = 0
  #framesWritten = 0
  #framesSkipped = 0
  readonly #skipReasons = new Set<string>()
  /** Audio since the start without a video sequence header: ms of the first such frame. */
  #audioSince: number | null = null
  #lastCut = 0
  #closed = false
  /** Files still being flushed to disk. */
  readonly #closing = new Set<Promise<void>>()

  constructor(app: string, name: string, options: RecordingOptions, log: Logger, rule: boolean, onFile: (file: RecordedFile) => void, onEnd: (r: Recording) => void) {
    this.id = `rec-${nextId++}`
    this.app = app
    this.name = name
    this.rule = rule
    this.#options = options
    this.#log = log.child({ recording: this.id, stream: `${app}/${name}` })
    this.#onFile = onFile
    this.#onEnd = onEnd
  }

  /** Starts on a live stream: the cached GOP is written first. */
  start(stream: Stream): void {
    this.#log.info({ format: this.#options.format }, 'recording started')
    for (const frame of stream.gop) this.onFrame(stream, frame)
  }

  get info(): RecordingInfo {
    return {
      id: this.id, app: this.app, stream: this.name, format: this.#options.format, path: this.#file?.path ?? null,
      files: this.#files, bytes: this.#bytes + (this.#file?.bytes ?? 0), framesWritten: this.#framesWritten, framesSkipped: this.#framesSkipped, rule: this.rule,
    }
  }

  onPublish(): void {}

  onUnpublish(): void {
    this.stop('stream ended')
  }

  onMetadata(): void {}

  onFrame(stream: Stream, frame: MediaFrame): void {
    if (this.#closed || frame.sequenceHeader) return
    const file = this.#file
    if (file?.error) return this.stop(`write failed: ${file.error.message}`)
    const video = frame.kind === 'video'
    if (!file) {
      if (this.#waiting.length > 0) return this.#wait(stream, frame)
      if (video ? !frame.keyframe || !stream.videoSequenceHeader : !this.#audioOnly(stream, frame)) return
      // a publish's audio configuration often comes just after its first keyframe: hold the
      // GOP's start until it does (or AUDIO_WAIT_MS of media passed), so the file has both tracks
      if (video && !stream.audioConfig) return this.#wait(stream, frame)
      this.#open(stream, frame.dts)
    } else if (video && frame.keyframe && this.#rotationDue(file, frame.dts)) {
      this.#rotate(stream, frame.dts, 'rotated')
    } else if (this.#configChanged(stream)) {
      // a new sequence header came since the file began: the next keyframe starts a new file
      if (stream.videoSequenceHeader && !(video && frame.keyframe)) return this.#skip('waiting for a keyframe after a codec change')
      this.#rotate(stream, frame.dts, 'codec changed')
    }
    this.#write(frame)
  }

  /** Stops (idempotent): the open file is finished and reported. */
  stop(reason = 'stopped'): void {
    if (this.#closed) return
    this.#closed = true
    this.#finishFile(reason)
    this.#log.info({ reason, files: this.#files }, 'recording ended')
    this.#onEnd(this)
  }

  /** Resolves when every closed file is on disk. */
  async flushed(): Promise<void> {
    await Promise.all([...this.#closing])
  }

  /** Frames from a keyframe on, held until the audio configuration comes (see `onFrame`). */
  #waiting: MediaFrame[] = []

  #wait(stream: Stream, frame: MediaFrame): void {
    this.#waiting.push(frame)
    const first = this.#waiting[0]!
    if (!stream.audioConfig && frame.dts - first.dts < AUDIO_WAIT_MS) return
    const held = this.#waiting
    this.#waiting = []
    this.#open(stream, first.dts)
    for (const f of held) this.#write(f)
  }

  #audioOnly(stream: Stream, frame: MediaFrame): boolean {
    if (stream.videoSequenceHeader) return false
    this.#audioSince ??= frame.dts
    return frame.dts - this.#audioSince >= AUDIO_ONLY_AFTER_MS
  }

  #rotationDue(file: RecordFile, dts: number): boolean {
    const { segmentDurationMs, segmentMaxBytes } = this.#options
    return (segmentDurationMs > 0 && dts - file.firstDts >= segmentDurationMs) || (segmentMaxBytes > 0 && file.bytes >= segmentMaxBytes)
  }

  /** The sequence headers in the file are not the stream's any more. */
  #configChanged(stream: Stream): boolean {
    return stream.sequenceHeaders.some((h) => !this.#headers.has(h))
  }

  /** The sequence headers written to the open file. */
  #headers = new Set<MediaFrame>()

  #open(stream: Stream, dts: number): void {
    const ext = this.#options.format === 'fmp4' ? 'mp4' : 'flv'
    const dir = path.resolve(this.#options.directory, pathSegment(this.app), pathSegment(this.name))
    let filePath = path.join(dir, `${fileStamp(Date.now())}.${ext}`)
    for (let i = 1; this.#file?.path === filePath; i++) filePath = path.join(dir, `${fileStamp(Date.now())}-${i}.${ext}`)
    const file = new RecordFile(filePath, dts)
    this.#file = file
    this.#headers = new Set(stream.sequenceHeaders)
    this.#lastCut = dts
    if (this.#options.format === 'flv') {
      file.write(Buffer.from([0x46, 0x4c, 0x56, 1, (stream.audioSequenceHeader ? 4 : 0) | (stream.videoSequenceHeader ? 1 : 0), 0, 0, 0, 9, 0, 0, 0, 0]))
      if (stream.metadata) file.write(flvTag(18, 0, stream.metadata))
      for (const h of this.#headers) file.write(flvTag(h.kind === 'audio' ? 8 : 9, dts, h.payload))
    } else {
      const muxer = new native.Fmp4Muxer()
      // the sequence headers, and the first frame of an audio codec without one (AC-3, E-AC-3)
      const configs = new Set([...this.#headers, ...(stream.audioConfig ? [stream.audioConfig] : [])])
      for (const h of configs) {
        try {
          muxer.configure(h.kind, h.payload)
        } catch (error) {
          this.#skip(String((error as Error).message ?? error))
        }
      }
      this.#muxer = muxer
      file.write(muxer.initSegment())
    }
    this.#log.info({ path: filePath }, 'recording file opened')
  }

  #rotate(stream: Stream, dts: number, reason: string): void {
    this.#finishFile(reason)
    this.#open(stream, dts)
  }

  #finishFile(reason: string): void {
    const file = this.#file
    if (!file) return
    this.#file = null
    if (this.#muxer) {
      try {
        const last = this.#muxer.finish()
        if (last) this.#appendFragment(file, last)
      } catch (error) {
        this.#log.warn({ err: String(error) }, 'the last fragment could not be muxed')
      }
      this.#muxer = null
    }
    this.#files++
    this.#bytes += file.bytes
    const done = file.close().then(() => {
      this.#closing.delete(done)
      const error = file.error
      const recorded: RecordedFile = {
        recording: this.id, app: this.app, stream: this.name, format: this.#options.format, path: file.path,
        startedAt: new Date(file.startedAt).toISOString(), durationMs: Math.max(0, Math.round(file.lastEnd - file.firstDts)), bytes: file.bytes,
        reason: error ? `write failed: ${error.message}` : reason,
      }
      this.#log.info({ path: file.path, durationMs: recorded.durationMs, bytes: file.bytes, reason: recorded.reason }, 'recording file done')
      this.#onFile(recorded)
    })
    this.#closing.add(done)
  }

  #write(frame: MediaFrame): void {
    const file = this.#file!
    if (this.#options.format === 'flv') {
      file.write(flvTag(frame.kind === 'audio' ? 8 : 9, frame.dts, frame.payload))
      file.lastEnd = Math.max(file.lastEnd, frame.dts)
      this.#framesWritten++
      return
    }
    const muxer = this.#muxer!
    const pushed = this.#push(muxer, frame, frame.dts)
    if (pushed !== 'sample' && pushed !== 'keyframe') return
    this.#framesWritten++
    const video = frame.kind === 'video'
    const cut = video ? pushed === 'keyframe' : !muxer.video && frame.dts - this.#lastCut >= AUDIO_FRAGMENT_MS
    if (!cut) return
    const fragment = video ? muxer.fragment(frame.dts) : muxer.fragment()
    if (fragment) this.#appendFragment(file, fragment)
    this.#lastCut = frame.dts
  }

  #appendFragment(file: RecordFile, fragment: { data: Buffer; endMs: number }): void {
    file.write(fragment.data)
    file.lastEnd = Math.max(file.lastEnd, fragment.endMs)
  }

  /** Pushes into the muxer; a refused frame is skipped (counted, logged once per reason). */
  #push(muxer: Muxer, frame: MediaFrame, dts: number): string {
    try {
      return muxer.push(frame.kind, frame.payload, dts)
    } catch (error) {
      this.#skip(String((error as Error).message ?? error))
      return 'ignored'
    }
  }

  #skip(reason: string): void {
    this.#framesSkipped++
    if (this.#skipReasons.has(reason)) return
    this.#skipReasons.add(reason)
    this.#log.warn({ reason }, 'recording skips frames')
  }
}
