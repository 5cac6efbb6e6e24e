/**
 * Recordings, made by config rules (`record.rules`: every publish of a matching stream is
 * recorded until it ends) or the admin API:
 *
 * - `POST /api/recordings` `{"stream":"live/cam","format":"fmp4"}` (`format` optional, the
 *   `record.*` settings otherwise; `segmentDurationMs`, `segmentMaxBytes` may be given) → 201
 *   and the recording; 404 when the stream is not live, 409 when it is being recorded in that
 *   format already, 400 for a bad body. The recording ends with the stream.
 * - `GET /api/recordings` → `{recordings: [...active], files: [...finished, newest first]}`;
 *   `GET /api/recordings/{id}`; `DELETE /api/recordings/{id}` stops one (its file is finished
 *   and reported).
 * - Playback (see `playback.ts`): `GET /api/recordings/files/{app}/{stream}` → `{files}` on disk
 *   with start, size and duration; `GET /api/recordings/playback/{app}/{stream}?start=ISO&
 *   duration=seconds` → that range as one fragmented MP4 (`video/mp4`), 404 when no fMP4
 *   recording covers it, 400 for a bad start or duration.
 *
 * Every finished file is the `recordDone` event of `Sluice` and the `on_record_done` webhook.
 */
import { z } from 'zod'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Stream } from '../hub/stream'
import type { SluiceConfig } from '../config/schema'
import type { HttpServer } from '../http/server'
import { readJson, sendJson } from '../http/server'
import { HttpRequestError } from '../errors'
import { Recording, type RecordedFile, type RecordFormat, type RecordingInfo, type RecordingOptions } from './recording'
import { listRecordingFiles, playback } from './playback'

type RecordConfig = SluiceConfig['record']

const NAME = '[^/]{1,128}'
const startBody = z.strictObject({
  stream: z.string().regex(new RegExp(`^${NAME}/${NAME}$`), 'app/name'),
  format: z.enum(['fmp4', 'flv']).optional(),
  segmentDurationMs: z.number().int().min(0).max(86_400_000).optional(),
  segmentMaxBytes: z.number().int().min(0).optional(),
})

export class RecordingService {
  readonly #hub: StreamHub
  readonly #config: RecordConfig
  readonly #log: Logger
  readonly #onFile: (file: RecordedFile) => void
  readonly #active = new Map<string, Recording>()
  readonly #files: RecordedFile[] = []
  readonly #unobserve: () => void
  #closed = false

  /** `onFile`: every finished file (the `recordDone` event and webhook). */
  constructor(hub: StreamHub, http: HttpServer, config: RecordConfig, log: Logger, onFile: (file: RecordedFile) => void) {
    this.#hub = hub
    this.#config = config
    this.#log = log.child({ component: 'record' })
    this.#onFile = onFile
    this.#unobserve = hub.observe({ published: (stream) => this.#published(stream) })
    http.route('GET', /^\/api\/recordings\/?$/, (_req, res) => sendJson(res, 200, this.stats()))
    http.route('POST', /^\/api\/recordings\/?$/, async (req, res) => {
      const body = await readJson(req, startBody)
      const [app, name] = body.stream.split('/') as [string, string]
      const stream = this.#hub.get(app, name)
      if (!stream?.isLive) throw new HttpRequestError(404, 'STREAM_NOT_LIVE', `stream ${app}/${name} is not live`)
      const format = body.format ?? this.#config.format
      if ([...this.#active.values()].some((r) => r.app === app && r.name === name && r.info.format === format)) {
        throw new HttpRequestError(409, 'RECORDING_EXISTS', `stream ${app}/${name} is being recorded as ${format} already`)
      }
      const r = this.start(stream, { format, segmentDurationMs: body.segmentDurationMs, segmentMaxBytes: body.segmentMaxBytes }, false)
      sendJson(res, 201, r.info)
    })
    http.route('GET', /^\/api\/recordings\/files\/([^/]+)\/([^/]+)$/, async (_req, res, [app, name]) => {
      sendJson(res, 200, { files: await listRecordingFiles(this.#config.directory, app!, name!) })
    })
    http.route('GET', /^\/api\/recordings\/playback\/([^/]+)\/([^/]+)$/, async (_req, res, [app, name], url) => {
      const startParam = url.searchParams.get('start') ?? ''
      const from = /^\d+$/.test(startParam) ? Number(startParam) : Date.parse(startParam)
      const seconds = Number(url.searchParams.get('duration'))
      if (!Number.isFinite(from)) throw new HttpRequestError(400, 'PLAYBACK_BAD_START', 'start must be an ISO 8601 time or ms since the epoch')
      if (!(seconds > 0 && seconds <= 86_400)) throw new HttpRequestError(400, 'PLAYBACK_BAD_DURATION', 'duration must be seconds, more than 0 and at most 86400')
      const files = await listRecordingFiles(this.#config.directory, app!, name!)
      let started = false
      const written = await playback(files, from, from + seconds * 1000, {
        write: (chunk) => {
          if (!started) {
            started = true
            res.writeHead(200, { 'Content-Type': 'video/mp4', 'Cache-Control': 'no-cache' })
          }
          if (res.destroyed) return Promise.reject(new Error('the client left'))
          return res.write(chunk) ? Promise.resolve() : new Promise((resolve) => res.once('drain', resolve))
        },
      }).catch((error: unknown) => {
        if (!started) throw error
        this.#log.warn({ err: String(error) }, 'playback ended early')
        res.destroy()
        return -1
      })
      if (written === 0) throw new HttpRequestError(404, 'PLAYBACK_NOTHING', `no fMP4 recording of ${app}/${name} in that range`)
      if (written > 0) res.end()
    })
    http.route('GET', /^\/api\/recordings\/([^/]+)$/, (_req, res, [id]) => sendJson(res, 200, this.#get(id!).info))
    http.route('DELETE', /^\/api\/recordings\/([^/]+)$/, (_req, res, [id]) => {
      const r = this.#get(id!)
      r.stop('stopped')
      sendJson(res, 200, r.info)
    })
  }

  /** Active recordings and the finished files kept (newest first). */
  stats(): { recordings: RecordingInfo[]; files: RecordedFile[] } {
    return { recordings: [...this.#active.values()].map((r) => r.info), files: [...this.#files] }
  }

  /** Starts recording a live stream (settings over `record.*`). */
  start(stream: Stream, settings: Partial<RecordingOptions> & { format?: RecordFormat }, rule: boolean): Recording {
    const options: RecordingOptions = {
      directory: this.#config.directory,
      format: settings.format ?? this.#config.format,
      segmentDurationMs: settings.segmentDurationMs ?? this.#config.segmentDurationMs,
      segmentMaxBytes: settings.segmentMaxBytes ?? this.#config.segmentMaxBytes,
    }
    const r = new Recording(stream.app, stream.name, options, this.#log, rule, (file) => this.#fileDone(file), (done) => {
      this.#active.delete(done.id)
      this.#hub.unsubscribe(stream, done)
    })
    this.#active.set(r.id, r)
    this.#hub.subscribe(stream.app, stream.name, r)
    r.start(stream)
    return r
  }

  #get(id: string): Recording {
    const r = this.#active.get(id)
    if (!r) throw new HttpRequestError(404, 'RECORDING_NOT_FOUND', `no recording ${id}`)
    return r
  }

  #published(stream: Stream): void {
    if (this.#closed) return
    for (const rule of this.#config.rules) {
      if (rule.app !== stream.app || (rule.streams && !rule.streams.includes(stream.name))) continue
      const format = rule.format ?? this.#config.format
      if ([...this.#active.values()].some((r) => r.app === stream.app && r.name === stream.name && r.info.format === format)) continue
      this.start(stream, { format }, true)
    }
  }

  #fileDone(file: RecordedFile): void {
    this.#files.unshift(file)
    this.#files.length = Math.min(this.#files.length, this.#config.historySize)
    this.#onFile(file)
  }

  /** Stops every recording; resolves when their files are on disk. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    this.#unobserve()
    const all = [...this.#active.values()]
    for (const r of all) r.stop('server shutting down')
    await Promise.all(all.map((r) => r.flushed()))
  }
}
