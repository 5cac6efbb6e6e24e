/**
 * Outgoing RTMP links: pushes ([`RtmpPush`](./push.ts)) and pulls ([`RtmpPull`](./pull.ts)),
 * made by the admin API or by config rules.
 *
 * - `POST /api/pushes` `{"url":"rtmp[s]://host/app/key","app":"live","name":"cam1"}` → 201 with
 *   the push; `GET /api/pushes`; `DELETE /api/pushes/{id}` → 204. Several pushes per stream.
 * - `POST /api/pulls` `{"url":...,"app":...,"name":...}` (409 when the name is live), `GET`,
 *   `DELETE /api/pulls/{id}`.
 * - `rtmp.pushes` rules push every stream published in an app while it is live; `rtmp.pulls`
 *   rules pull a stream on demand when a player asks for it.
 *
 * API targets are resolved and must be loopback or in `rtp.allowedDestinations` (403 otherwise,
 * before any packet leaves); config rules are the operator's own and are not checked.
 */
import { readFileSync } from 'node:fs'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Stream } from '../hub/stream'
import type { ClientRegistry } from '../clients/registry'
import type { SluiceConfig } from '../config/schema'
import type { HttpServer } from '../http/server'
import { serveLinkRoutes } from '../http/link-routes'
import { DestinationPolicy, resolveDestination } from '../rtp/destinations'
import { ConfigError } from '../errors'
import { parseRtmpUrl, type RtmpUrl } from './client'
import { RtmpPush } from './push'
import { RtmpPull } from './pull'

type RtmpConfig = SluiceConfig['rtmp']

let nextId = 1

export class RtmpLinks {
  readonly pushes = new Map<string, RtmpPush>()
  readonly pulls = new Map<string, RtmpPull>()
  /** Pushes made by rules, by `rule index:app/stream`. */
  readonly #rulePushes = new Map<string, RtmpPush>()
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #clients: ClientRegistry
  readonly #config: RtmpConfig
  readonly #ca: Buffer[] | undefined
  readonly #unobserve: () => void
  /** `rtp.allowedDestinations` (set by `serveApi`; loopback only before). */
  #destinations = new DestinationPolicy([])

  /** Throws `ConfigError` when `rtmp.caFile` cannot be read or a rule's URL is malformed. */
  constructor(hub: StreamHub, log: Logger, clients: ClientRegistry, config: RtmpConfig) {
    this.#hub = hub
    this.#log = log.child({ component: 'rtmp-links' })
    this.#clients = clients
    this.#config = config
    try {
      this.#ca = config.caFile ? [readFileSync(config.caFile)] : undefined
    } catch (error) {
      throw new ConfigError([{ path: 'rtmp.caFile', message: (error as Error).message }])
    }
    for (const [kind, rules] of [['pushes', config.pushes], ['pulls', config.pulls]] as const) {
      rules.forEach((r, i) => {
        try {
          parseRtmpUrl(fill(r.url, r.app, r.stream ?? 'stream'))
        } catch (error) {
          throw new ConfigError([{ path: `rtmp.${kind}.${i}.url`, message: (error as Error).message }])
        }
      })
    }
    this.#unobserve = hub.observe({
      published: (stream) => this.#onPublished(stream),
      demanded: (stream) => this.#onDemanded(stream),
    })
  }

  /**
   * `trusted`: made by the config file or the cluster, whose redirects may go anywhere; else
   * (the API, co-hosting) a redirect's host must pass `rtp.allowedDestinations` like the URL did.
   */
  #common(url: RtmpUrl, address: string, trusted: boolean) {
    const c = this.#config
    const checkRedirect = async (host: string) => (await (trusted ? resolveDestination(host) : this.#destinations.check(host))).address
    return { url, address, chunkSize: c.chunkSize, connectTimeoutMs: c.connectTimeoutMs, ca: this.#ca, checkRedirect }
  }

  /** `ruleKey`: made by a config rule (ends with the stream), null: by the API. */
  #push(app: string, stream: string, url: RtmpUrl, address: string, ruleKey: string | null): RtmpPush {
    const c = this.#config
    const push = new RtmpPush(this.#hub, this.#log, {
      ...this.#common(url, address, ruleKey !== null), id: `rtmp-push-${nextId++}`, app, stream, queueBytes: c.playerQueueBytes, maxBehindMs: c.playerMaxBehindMs,
      endWithStream: ruleKey !== null,
      onEnd: (p) => {
        this.pushes.delete(p.id)
        if (ruleKey !== null && this.#rulePushes.get(ruleKey) === p) this.#rulePushes.delete(ruleKey)
      },
    })
    this.pushes.set(push.id, push)
    if (ruleKey !== null) this.#rulePushes.set(ruleKey, push)
    return push
  }

  /** `trusted`: see `#common`. */
  #pull(app: string, stream: string, url: RtmpUrl, address: string, idleMs: number | null, trusted: boolean, link?: { onEnd: (pull: RtmpPull) => void }): RtmpPull {
    const pull = new RtmpPull(this.#hub, this.#log, this.#clients, {
      ...this.#common(url, address, trusted), id: `rtmp-pull-${nextId++}`, app, stream, idleMs,
      ...(link ? { reconnect: false, replaceable: true } : {}),
      onEnd: (p) => {
        this.pulls.delete(p.id)
        link?.onEnd(p)
      },
    })
    this.pulls.set(pull.id, pull)
    return pull
  }

  /**
   * A push of `app/name` to `url` (already checked against the destination policy, `address`
   * its resolved host) made by another Sluice feature (co-hosting): listed in `/api/pushes`,
   * waits for the stream when it is not live, ends only when closed.
   */
  createPush(app: string, name: string, url: RtmpUrl, address: string): RtmpPush {
    return this.#push(app, name, url, address, null)
  }

  /**
   * A cluster link over RTMP (ts/cluster: for codecs relay links do not carry): no reconnection
   * and no idle timer of its own (the cluster makes and ends links), replaceable by a local
   * publisher; `onEnd` when it ends for any reason. Listed in `/api/pulls`.
   */
  createLinkPull(app: string, name: string, url: RtmpUrl, address: string, onEnd: (pull: RtmpPull) => void): RtmpPull {
    return this.#pull(app, name, url, address, null, true, { onEnd })
  }

  #onPublished(stream: Stream): void {
    this.#config.pushes.forEach((rule, i) => {
      if (rule.app !== stream.app || (rule.stream && rule.stream !== stream.name)) return
      const key = `${i}:${stream.key}`
      if (this.#rulePushes.has(key)) return // a publisher back within the grace period: the push goes on
      const url = parseRtmpUrl(fill(rule.url, stream.app, stream.name))
      this.#push(stream.app, stream.name, url, url.host, key)
    })
  }

  /** True when a pull of `stream` runs or starts now (a rule matches). */
  #onDemanded(stream: Stream): boolean {
    if ([...this.pulls.values()].some((p) => p.app === stream.app && p.name === stream.name)) return true
    const rule = this.#config.pulls.find((r) => r.app === stream.app && (!r.stream || r.stream === stream.name))
    if (!rule) return false
    const url = parseRtmpUrl(fill(rule.url, stream.app, stream.name))
    this.#log.info({ stream: stream.key, origin: `${url.tcUrl}/***` }, 'RTMP pull on demand')
    this.#pull(stream.app, stream.name, url, url.host, rule.idleMs, true)
    return true
  }

  /** The admin routes above. `allowedDestinations`: `rtp.allowedDestinations`. */
  serveApi(http: HttpServer, allowedDestinations: readonly string[]): void {
    const destinations = new DestinationPolicy(allowedDestinations)
    this.#destinations = destinations
    serveLinkRoutes(http, '/api/pushes', 'push', this.pushes, async (body) => {
      const url = parseRtmpUrl(body.url)
      const { address } = await destinations.check(url.host)
      return this.#push(body.app, body.name, url, address, null)
    })
    serveLinkRoutes(http, '/api/pulls', 'pull', this.pulls, async (body) => {
      const url = parseRtmpUrl(body.url)
      const { address } = await destinations.check(url.host)
      if (!this.#hub.publishable(body.app, body.name)) return [409, `stream ${body.app}/${body.name} is already published`]
      return this.#pull(body.app, body.name, url, address, null, false)
    })
  }

  /** Ends every push and pull (server shutdown). */
  close(): void {
    this.#unobserve()
    for (const l of [...this.pushes.values(), ...this.pulls.values()]) l.close('server shutting down')
  }
}

/** A rule's URL with `{app}` and `{stream}` replaced. */
function fill(template: string, app: string, stream: string): string {
  return template.replaceAll('{app}', app).replaceAll('{stream}', stream)
}
