/**
 * Mixes and co-hosting sessions, made by the config (`mix.mixes`, `mix.cohosts`) or the admin API:
 *
 * - `POST /api/mixes` `{"output":"live/mix","inputs":["live/a",{"stream":"live/b","gain":0.5}],
 *   "layout":"grid"}` (any `mix` setting may be given: `width`, `height`, `frameRate`,
 *   `videoBitrate`, `audioBitrate`, `keyframeIntervalMs`, `background`, `latencyMs`,
 *   `inputTimeoutMs`; `layout: "rects"` with `rects: [{x,y,width,height}]`) → 201 and the mix;
 *   409 when the output is live, 503 `MIX_LIMIT` past `mix.maxMixes`, 400 for bad settings.
 *   `GET /api/mixes`, `GET|DELETE /api/mixes/{id}`, `POST /api/mixes/{id}/inputs`
 *   `{"stream","gain"?}`, `DELETE /api/mixes/{id}/inputs/{app}/{name}`, `PUT
 *   /api/mixes/{id}/layout` `{"layout","rects"?}`.
 * - `POST /api/cohosts` `{"host":"live/host","guests":["live/guest"],"pushes":["rtmp://cdn/app/key"],
 *   "layout":"grid","active":true}` → 201; push targets must be loopback or in
 *   `rtp.allowedDestinations` (403 before any packet leaves). `GET /api/cohosts`, `GET|DELETE
 *   /api/cohosts/{id}`, `POST /api/cohosts/{id}/start` and `/stop`, `POST /api/cohosts/{id}/guests`
 *   `{"stream"}`, `DELETE /api/cohosts/{id}/guests/{app}/{name}`.
 */
import { z } from 'zod'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { SluiceConfig } from '../config/schema'
import type { HttpServer } from '../http/server'
import { readJson, sendJson } from '../http/server'
import type { RtmpLinks } from '../rtmp/links'
import { parseRtmpUrl } from '../rtmp/client'
import { DestinationPolicy } from '../rtp/destinations'
import { ConfigError, HttpRequestError, MixError, StreamBusyError } from '../errors'
import { Mix, type MixInputSpec, type MixSettings } from './mix'
import { Cohost, type StreamRef } from './cohost'

type MixConfig = SluiceConfig['mix']

const NAME = '[A-Za-z0-9._~-]{1,128}'
const streamRef = z.string().regex(new RegExp(`^${NAME}/${NAME}$`), 'app/name')
const layoutName = z.enum(['grid', 'speaker', 'pip', 'rects'])
const rect = z.strictObject({ x: z.number().int().min(0), y: z.number().int().min(0), width: z.number().int().min(2), height: z.number().int().min(2) })

const mixBody = z.strictObject({
  output: streamRef,
  inputs: z.array(z.union([streamRef, z.strictObject({ stream: streamRef, gain: z.number().min(0).max(8).optional() })])).min(1).max(16),
  layout: layoutName.optional(),
  rects: z.array(rect).max(16).optional(),
  width: z.number().int().min(16).max(3840).multipleOf(2).optional(),
  height: z.number().int().min(16).max(2160).multipleOf(2).optional(),
  frameRate: z.number().min(1).max(60).optional(),
  videoBitrate: z.number().int().min(50_000).max(50_000_000).optional(),
  audioBitrate: z.number().int().min(8000).max(512_000).optional(),
  keyframeIntervalMs: z.number().int().min(100).max(60_000).optional(),
  background: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional(),
  latencyMs: z.number().int().min(0).max(5000).optional(),
  inputTimeoutMs: z.number().int().min(100).optional(),
})

const cohostBody = z.strictObject({
  host: streamRef,
  guests: z.array(streamRef).max(15).default([]),
  pushes: z.array(z.string().max(2048)).max(8).default([]),
  layout: z.enum(['grid', 'speaker', 'pip']).optional(),
  active: z.boolean().default(true),
})

let nextId = 1

export class MixService {
  readonly mixes = new Map<string, Mix>()
  readonly cohosts = new Map<string, Cohost>()
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #links: RtmpLinks
  readonly #config: MixConfig

  /** Starts the config's mixes and co-hosting sessions. Throws `ConfigError` for a malformed push URL. */
  constructor(hub: StreamHub, log: Logger, links: RtmpLinks, config: MixConfig) {
    this.#hub = hub
    this.#log = log.child({ component: 'mix' })
    this.#links = links
    this.#config = config
    config.cohosts.forEach((c, i) => {
      const pushes = c.pushes.map((u, j) => {
        try {
          const url = parseRtmpUrl(u)
          return { url, address: url.host }
        } catch (error) {
          throw new ConfigError([{ path: `mix.cohosts.${i}.pushes.${j}`, message: (error as Error).message }])
        }
      })
      this.#cohost({ host: ref(c.host), guests: c.guests.map(ref), layout: c.layout, active: true }, pushes)
    })
    for (const m of config.mixes) this.#mix({ output: m.output, inputs: m.inputs, layout: m.layout })
  }

  #settings(o: Partial<MixSettings>): MixSettings {
    const c = this.#config
    return {
      width: o.width ?? c.width, height: o.height ?? c.height, frameRate: o.frameRate ?? c.frameRate, videoBitrate: o.videoBitrate ?? c.videoBitrate,
      audioBitrate: o.audioBitrate ?? c.audioBitrate, keyframeIntervalMs: o.keyframeIntervalMs ?? c.keyframeIntervalMs, layout: o.layout ?? c.layout,
      rects: o.rects, background: o.background ?? c.background, latencyMs: o.latencyMs ?? c.latencyMs, inputTimeoutMs: o.inputTimeoutMs ?? c.inputTimeoutMs,
    }
  }

  #checkLimit(): void {
    if (this.mixes.size + this.cohosts.size >= this.#config.maxMixes) throw new MixError('MIX_LIMIT', `mix.maxMixes (${this.#config.maxMixes}) reached`)
  }

  /** Throws `MixError`, `StreamBusyError`. */
  #mix(body: Omit<z.input<typeof mixBody>, 'output'> & { output: string }): Mix {
    this.#checkLimit()
    const out = ref(body.output)
    const inputs: MixInputSpec[] = body.inputs.map((i) => (typeof i === 'string' ? ref(i) : { ...ref(i.stream), gain: i.gain }))
    const mix = new Mix(this.#hub, this.#log, {
      ...this.#settings(body), id: `mix-${nextId++}`, app: out.app, name: out.name, inputs, onEnd: (m) => this.mixes.delete(m.id),
    })
    this.mixes.set(mix.id, mix)
    return mix
  }

  #cohost(body: { host: StreamRef; guests: StreamRef[]; layout?: 'grid' | 'speaker' | 'pip'; active: boolean }, pushes: { url: ReturnType<typeof parseRtmpUrl>; address: string }[]): Cohost {
    this.#checkLimit()
    const cohost = new Cohost(this.#hub, this.#log, this.#links, {
      id: `cohost-${nextId++}`, host: body.host, guests: body.guests, pushes, mix: this.#settings({ layout: body.layout }),
      delayMs: this.#config.cohostDelayMs, active: body.active, onEnd: (c) => this.cohosts.delete(c.id),
    })
    this.cohosts.set(cohost.id, cohost)
    return cohost
  }

  /** The admin routes above. `allowedDestinations`: `rtp.allowedDestinations`. */
  serveApi(http: HttpServer, allowedDestinations: readonly string[]): void {
    const destinations = new DestinationPolicy(allowedDestinations)
    const mixOf = (id: string) => this.mixes.get(id) ?? notFound('mix', id)
    const cohostOf = (id: string) => this.cohosts.get(id) ?? notFound('co-hosting session', id)

    http.route('POST', /^\/api\/mixes\/?$/, async (req, res) => {
      const body = await readJson(req, mixBody)
      if (body.layout === 'rects' && !body.rects) throw new HttpRequestError(400, 'HTTP_BAD_REQUEST', 'a rects layout needs rects')
      sendJson(res, 201, refusing(() => this.#mix(body)).stats())
    })
    http.route('GET', /^\/api\/mixes\/?$/, async (_req, res) => sendJson(res, 200, [...this.mixes.values()].map((m) => m.stats())))
    http.route('GET', /^\/api\/mixes\/([^/]+)$/, async (_req, res, [id]) => sendJson(res, 200, mixOf(id!).stats()))
    http.route('DELETE', /^\/api\/mixes\/([^/]+)$/, async (_req, res, [id]) => {
      mixOf(id!).close('deleted through the API')
      res.writeHead(204).end()
    })
    http.route('POST', /^\/api\/mixes\/([^/]+)\/inputs$/, async (req, res, [id]) => {
      const mix = mixOf(id!)
      const body = await readJson(req, z.strictObject({ stream: streamRef, gain: z.number().min(0).max(8).optional() }))
      mix.addInput({ ...ref(body.stream), gain: body.gain })
      sendJson(res, 201, mix.stats())
    })
    http.route('DELETE', /^\/api\/mixes\/([^/]+)\/inputs\/([^/]+)\/([^/]+)$/, async (_req, res, [id, app, name]) => {
      if (!mixOf(id!).removeInput(app!, name!)) return sendJson(res, 404, { error: `no input ${app}/${name}` })
      res.writeHead(204).end()
    })
    http.route('PUT', /^\/api\/mixes\/([^/]+)\/layout$/, async (req, res, [id]) => {
      const mix = mixOf(id!)
      const body = await readJson(req, z.strictObject({ layout: layoutName, rects: z.array(rect).max(16).optional() }))
      refusing(() => mix.setLayout(body.layout, body.rects))
      sendJson(res, 200, mix.stats())
    })

    http.route('POST', /^\/api\/cohosts\/?$/, async (req, res) => {
      const body = await readJson(req, cohostBody)
      const pushes: { url: ReturnType<typeof parseRtmpUrl>; address: string }[] = []
      for (const u of body.pushes) {
        let url
        try {
          url = parseRtmpUrl(u)
        } catch (error) {
          throw new HttpRequestError(400, 'HTTP_BAD_REQUEST', `pushes: ${(error as Error).message}`)
        }
        const { address } = await destinations.check(url.host)
        pushes.push({ url, address })
      }
      const cohost = refusing(() => this.#cohost({ host: ref(body.host), guests: body.guests.map(ref), layout: body.layout, active: body.active }, pushes))
      sendJson(res, 201, cohost.stats())
    })
    http.route('GET', /^\/api\/cohosts\/?$/, async (_req, res) => sendJson(res, 200, [...this.cohosts.values()].map((c) => c.stats())))
    http.route('GET', /^\/api\/cohosts\/([^/]+)$/, async (_req, res, [id]) => sendJson(res, 200, cohostOf(id!).stats()))
    http.route('DELETE', /^\/api\/cohosts\/([^/]+)$/, async (_req, res, [id]) => {
      cohostOf(id!).close('deleted through the API')
      res.writeHead(204).end()
    })
    for (const action of ['start', 'stop'] as const) {
      http.route('POST', new RegExp(`^/api/cohosts/([^/]+)/${action}$`), async (_req, res, [id]) => {
        const cohost = cohostOf(id!)
        cohost[action]()
        sendJson(res, 200, cohost.stats())
      })
    }
    http.route('POST', /^\/api\/cohosts\/([^/]+)\/guests$/, async (req, res, [id]) => {
      const cohost = cohostOf(id!)
      const body = await readJson(req, z.strictObject({ stream: streamRef }))
      cohost.addGuest(ref(body.stream))
      sendJson(res, 201, cohost.stats())
    })
    http.route('DELETE', /^\/api\/cohosts\/([^/]+)\/guests\/([^/]+)\/([^/]+)$/, async (_req, res, [id, app, name]) => {
      if (!cohostOf(id!).removeGuest({ app: app!, name: name! })) return sendJson(res, 404, { error: `no guest ${app}/${name}` })
      res.writeHead(204).end()
    })
  }

  /** Ends every mix and co-hosting session (server shutdown). */
  close(): void {
    for (const c of [...this.cohosts.values()]) c.close('server shutting down')
    for (const m of [...this.mixes.values()]) m.close('server shutting down')
  }
}

function ref(s: string): StreamRef {
  const at = s.indexOf('/')
  return { app: s.slice(0, at), name: s.slice(at + 1) }
}

function notFound(what: string, id: string): never {
  throw new HttpRequestError(404, 'HTTP_NOT_FOUND', `no ${what} ${id}`)
}

/** Runs `make`, answering a refusal with its status: 409 busy name, 503 limit, 400 bad settings. */
function refusing<T>(make: () => T): T {
  try {
    return make()
  } catch (error) {
    if (error instanceof StreamBusyError) throw new HttpRequestError(409, error.code, error.message)
    if (error instanceof MixError) throw new HttpRequestError(error.code === 'MIX_LIMIT' ? 503 : 400, error.code, error.message)
    throw error
  }
}
