/**
 * LL-HLS and HLS delivery (RFC 8216bis), served from memory by the HTTP server:
 *
 * - `GET /hls/{app}/{stream}/index.m3u8` — the media playlist (see `playlist.ts`); for a stream
 *   with several video tracks (Enhanced RTMP v2 multitrack, an OBS ladder) the multivariant
 *   playlist, one variant `video{t}.m3u8` per video track t (that track and the default audio;
 *   BANDWIDTH the peak of its segments, so it is answered once each has a whole segment).
 *   The first request for a live stream starts its rendition (`HlsStream`) from the GOP cache; a
 *   rendition nobody asked anything of for `idleTimeoutMs` is dropped; the first playlist is
 *   answered once it lists a whole segment. Blocking reload
 *   (`_HLS_msn`, `_HLS_part`: held until that part exists, 503 after three target durations,
 *   400 when it lies too far ahead), delta updates (`_HLS_skip=YES`).
 * - `init{n}.mp4`, `seg{msn}.m4s` (complete segments), `part{n}.m4s` (a part, numbered across
 *   segments; the one the preload hint names is held until it exists); `v{t}-` in front for
 *   video track t ≠ 0.
 *
 * Every request passes the access decision (action `play`, protocol `hls`; credential
 * `Authorization: Bearer` or `?token=`, which the playlist carries into its URIs). 404 when the
 * stream is not live or the file is gone. Playlists are `Cache-Control: no-cache`, media
 * `max-age` of a minute (immutable once made).
 */
import type http from 'node:http'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { HttpServer } from '../http/server'
import type { AccessControl } from '../access/access-control'
import { normalizeIp } from '../access/address'
import { httpCredential } from '../access/http-credential'
import { HlsStream, type HlsStreamOptions } from './hls-stream'
import { renderMultivariant, renderPlaylist } from './playlist'
import type { Stream } from '../hub/stream'
import type { MediaFrame } from '../hub/media-frame'
import { native } from '../native'

export interface HlsOptions extends HlsStreamOptions {
  enabled: boolean
  /** A rendition without requests this long is dropped, ms. */
  idleTimeoutMs: number
}

/** What `GET /api/hls` shows of a rendition. */
export interface HlsInfo {
  stream: string
  /** The Enhanced RTMP v2 video track it carries (0: the default). */
  videoTrack: number
  segments: number
  /** Media sequence number of the newest segment. */
  msn: number
  targetDurationS: number
  framesSkipped: number
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer, cache: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': cache })
  res.end(body)
}

export class HlsService {
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #options: HlsOptions
  readonly #access: AccessControl
  readonly #streams = new Map<string, HlsStream>()
  readonly #sweep: NodeJS.Timeout
  #nextId = 1

  constructor(hub: StreamHub, http: HttpServer, log: Logger, options: HlsOptions, access: AccessControl) {
    this.#hub = hub
    this.#log = log.child({ component: 'hls' })
    this.#options = options
    this.#access = access
    this.#sweep = setInterval(() => this.#dropIdle(), Math.min(5000, options.idleTimeoutMs))
    this.#sweep.unref()
    if (!options.enabled) return
    http.route('GET', /^\/hls\/([^/]+)\/([^/]+)\/([^/]+)$/, (req, res, [app, name, file], url) => this.#get(req, res, app!, name!, file!, url), { access: 'public', head: true })
    http.route('GET', /^\/api\/hls\/?$/, (_req, res) => send(res, 200, 'application/json; charset=utf-8', JSON.stringify({ streams: this.stats() }), 'no-cache'))
  }

  stats(): HlsInfo[] {
    return [...this.#streams.values()].map((h) => ({
      stream: h.stream.key, videoTrack: h.videoTrack, segments: h.complete.length, msn: h.segments.at(-1)?.msn ?? 0, targetDurationS: h.targetDurationS, framesSkipped: h.framesSkipped,
    }))
  }

  async #get(req: http.IncomingMessage, res: http.ServerResponse, app: string, name: string, file: string, url: URL): Promise<void> {
    const refusal = await this.#access.check({
      action: 'play', app, stream: name, protocol: 'hls', remoteAddress: normalizeIp(req.socket.remoteAddress),
      credential: httpCredential(req, url), query: url.searchParams, clientId: `hls-${normalizeIp(req.socket.remoteAddress)}`,
    })
    if (refusal) return send(res, refusal.status, 'text/plain; charset=utf-8', `play refused: ${refusal.reason}`, 'no-cache')
    const found = await this.#hub.playable(app, name)
    if ('refusal' in found) return send(res, found.refusal.status, 'text/plain; charset=utf-8', found.refusal.reason, 'no-cache')
    const stream = found.stream
    const token = url.searchParams.get('token')
    const query = token ? `?token=${encodeURIComponent(token)}` : ''
    const tracks = videoTracks(stream)
    if (file === 'index.m3u8' && tracks.length > 1) return this.#multivariant(res, stream, tracks, query)
    // video{t}.m3u8: track t's media playlist; v{t}-…: its media files (t ≠ 0)
    const named = /^(?:video(\d+)\.m3u8|(?:v(\d+)-)?(.+))$/.exec(file)!
    const track = Number(named[1] ?? named[2] ?? 0)
    if (!tracks.includes(track) || (named[2] !== undefined && track === 0)) return send(res, 404, 'text/plain', `no video track ${track}`, 'no-cache')
    const h = this.#rendition(stream, track)
    h.lastRequest = Date.now()
    const blockMs = 3 * h.targetDurationS * 1000
    if (named[1] !== undefined || named[3] === 'index.m3u8') return this.#playlist(res, h, url, query, blockMs)
    file = named[3]!
    let m = /^init(\d+)\.mp4$/.exec(file)
    if (m) {
      const init = h.inits.get(Number(m[1]))
      return init ? send(res, 200, 'video/mp4', init, 'max-age=60') : send(res, 404, 'text/plain', 'no such init segment', 'no-cache')
    }
    m = /^seg(\d+)\.m4s$/.exec(file)
    if (m) {
      const s = h.segments.find((x) => x.msn === Number(m![1]))
      return s?.data ? send(res, 200, 'video/iso.segment', s.data, 'max-age=60') : send(res, 404, 'text/plain', 'no such segment', 'no-cache')
    }
    m = /^part(\d+)\.m4s$/.exec(file)
    if (m) {
      const id = Number(m[1])
      // the preload hint (the next part) is held until it exists
      if (id === h.nextPartId) await h.wait(() => !!h.part(id), blockMs)
      const part = h.part(id)
      return part ? send(res, 200, 'video/iso.segment', part.data, 'max-age=60') : send(res, 404, 'text/plain', 'no such part', 'no-cache')
    }
    send(res, 404, 'text/plain', 'no such file', 'no-cache')
  }

  async #playlist(res: http.ServerResponse, h: HlsStream, url: URL, query: string, blockMs: number): Promise<void> {
    const msnParam = url.searchParams.get('_HLS_msn')
    const partParam = url.searchParams.get('_HLS_part')
    if (msnParam !== null || partParam !== null) {
      const msn = Number(msnParam)
      const part = partParam === null ? null : Number(partParam)
      if (msnParam === null || !Number.isInteger(msn) || msn < 0 || (part !== null && (!Number.isInteger(part) || part < 0))) {
        return send(res, 400, 'text/plain', '_HLS_msn (and _HLS_part) must be integers >= 0', 'no-cache')
      }
      const last = h.segments.at(-1)?.msn ?? 0
      // §6.2.5.1: more than two segments ahead (or parts past a segment's worth) is a bad request
      if (msn > last + 2 || (part !== null && part > Math.ceil(h.targetDurationS * 1000 / h.options.partMs) * 3)) {
        return send(res, 400, 'text/plain', `_HLS_msn ${msn} is too far ahead of ${last}`, 'no-cache')
      }
      const ready = () => {
        const s = h.segments.find((x) => x.msn === msn)
        if (h.segments.some((x) => x.msn > msn)) return true
        return !!s && (part === null ? s.complete : s.parts.length > part)
      }
      if (!(await h.wait(ready, blockMs))) return send(res, 503, 'text/plain', 'the requested part did not come in time', 'no-cache')
    } else if (h.complete.length === 0) {
      // a new rendition: a playlist with at least one whole segment, which plain HLS players
      // (ffmpeg) need to start; LL-HLS players get its parts too
      await h.wait(() => h.complete.length > 0, blockMs)
    }
    send(res, 200, 'application/vnd.apple.mpegurl', renderPlaylist(h, { query, skip: url.searchParams.get('_HLS_skip') === 'YES' }), 'no-cache')
  }

  /** The multivariant playlist of a multitrack stream, once every variant has a whole segment (its BANDWIDTH). */
  async #multivariant(res: http.ServerResponse, stream: Stream, tracks: number[], query: string): Promise<void> {
    const renditions = tracks.map((t) => this.#rendition(stream, t))
    await Promise.all(renditions.map((h) => {
      h.lastRequest = Date.now()
      return h.wait(() => h.complete.length > 0, 3 * h.targetDurationS * 1000)
    }))
    const variants = renditions.map((h) => {
      const video = h.tracks.find((t) => t.kind === 'video')
      return { uri: `video${h.videoTrack}.m3u8`, bandwidth: h.peakBitrate, codecs: h.tracks.map((t) => t.codec), width: video?.width ?? 0, height: video?.height ?? 0 }
    })
    send(res, 200, 'application/vnd.apple.mpegurl', renderMultivariant(variants, query), 'no-cache')
  }

  /** The rendition of a live stream's video track `track`, made on first request. */
  #rendition(stream: Stream, track: number): HlsStream {
    const key = `${stream.key}#${track}`
    let h = this.#streams.get(key)
    if (h && (h.closed || h.stream !== stream)) {
      this.#drop(h)
      h = undefined
    }
    if (h) return h
    h = new HlsStream(`hls-${this.#nextId++}`, stream, this.#options, this.#log, track)
    this.#streams.set(key, h)
    this.#hub.subscribe(stream.app, stream.name, h)
    h.start()
    this.#log.info({ stream: stream.key, videoTrack: track }, 'HLS rendition started')
    return h
  }

  #drop(h: HlsStream): void {
    h.close()
    this.#hub.unsubscribe(h.stream, h)
    const key = `${h.stream.key}#${h.videoTrack}`
    if (this.#streams.get(key) === h) this.#streams.delete(key)
    this.#log.info({ stream: h.stream.key, videoTrack: h.videoTrack }, 'HLS rendition ended')
  }

  #dropIdle(): void {
    const now = Date.now()
    for (const h of this.#streams.values()) if (h.closed || now - h.lastRequest > this.#options.idleTimeoutMs) this.#drop(h)
  }

  close(): void {
    clearInterval(this.#sweep)
    for (const h of [...this.#streams.values()]) this.#drop(h)
  }
}

/** Video track ids by stream, with the sequence headers they were read from. */
const trackCache = new WeakMap<Stream, { headers: MediaFrame[]; ids: number[] }>()

/**
 * The Enhanced RTMP v2 video track ids of a stream, from its sequence headers as the muxer
 * reads them (a ManyTracks sequence start holds several); `[0]` for a stream of one video
 * track or none.
 */
function videoTracks(stream: Stream): number[] {
  if (!stream.hasOtherTracks) return [0]
  const headers = stream.sequenceHeaders
  const cached = trackCache.get(stream)
  if (cached && cached.headers.length === headers.length && cached.headers.every((h, i) => h === headers[i])) return cached.ids
  const probe = new native.Fmp4Muxer()
  for (const h of headers) {
    try {
      probe.configure(h.kind, h.payload)
    } catch {
      // a header the muxer refuses: its track is not served
    }
  }
  const found = probe.tracks.filter((t) => t.kind === 'video').map((t) => t.flvTrack)
  const ids = found.length > 0 ? found : [0]
  trackCache.set(stream, { headers, ids })
  return ids
}
