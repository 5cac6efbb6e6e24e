/**
 * A co-hosting session (连麦): a host's stream goes to CDNs over RTMP(S) pushes; when a guest
 * is live (and co-hosting is started), the pushes carry a mix of host and guests instead, and
 * the host's own stream again when the last guest leaves (or co-hosting is stopped) — over the
 * same outgoing connections, without a break.
 *
 * Pieces: a `ProgramSwitch` publishes the program stream `{host}~program` (the host passed
 * through, delayed by `mix.cohostDelayMs`); the pushes push the program; a `Mix` of the host
 * (its timeline) and the live guests exists while co-hosting, published as `{host}~mix` (the
 * preview the co-hosting page shows). Guests are checked twice a second: one who goes live
 * joins the mix, one who leaves is taken out; no live guest left, the program switches back
 * and the mix ends once it has.
 */
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { RtmpLinks } from '../rtmp/links'
import type { RtmpPush } from '../rtmp/push'
import type { RtmpUrl } from '../rtmp/client'
import { Mix, type MixLayoutName, type MixSettings, type MixStats } from './mix'
import { ProgramSwitch, type ProgramStats } from './program'

/** A stream as `app/name`. */
export interface StreamRef {
  app: string
  name: string
}

export interface CohostOptions {
  id: string
  host: StreamRef
  guests: StreamRef[]
  /** Push targets, checked by the caller, with their resolved addresses. */
  pushes: { url: RtmpUrl; address: string }[]
  /** Mix settings (the layout among them). */
  mix: MixSettings
  /** Ms the host is held back in the program (more than the mix's latency). */
  delayMs: number
  /** Co-hosting on at start (a live guest is mixed in at once). */
  active: boolean
  onEnd?: (cohost: Cohost) => void
}

/** What `GET /api/cohosts` shows. */
export interface CohostStats {
  id: string
  host: string
  guests: { stream: string; live: boolean }[]
  active: boolean
  /** The program stream (what the pushes carry) and the mix stream (the preview). */
  program: ProgramStats
  mix: string
  mixing: boolean
  /** The mix while co-hosting (inputs, CPU, latency), else null. */
  mixStats: MixStats | null
  pushes: string[]
}

const CHECK_MS = 500
/** A mix left over after a switch back that did not happen (the host sent no keyframe) ends after this. */
const SWITCH_BACK_LIMIT_MS = 15_000

export class Cohost {
  readonly id: string
  readonly #hub: StreamHub
  readonly #log: Logger
  readonly #options: CohostOptions
  readonly program: ProgramSwitch
  readonly #pushes: RtmpPush[]
  #guests: StreamRef[]
  #mix: Mix | null = null
  /** The guests (`app/name`) now inputs of the mix. */
  readonly #mixed = new Set<string>()
  #active: boolean
  #leavingSince = 0
  readonly #timer: NodeJS.Timeout
  #closed = false

  /** Throws `StreamBusyError` when the program name is taken. */
  constructor(hub: StreamHub, log: Logger, links: RtmpLinks, options: CohostOptions) {
    this.id = options.id
    this.#hub = hub
    this.#options = options
    this.#guests = [...options.guests]
    this.#active = options.active
    this.#log = log.child({ cohost: options.id, host: key(options.host) })
    this.program = new ProgramSwitch(hub, log, {
      id: `${options.id}-program`, app: options.host.app, name: `${options.host.name}~program`, source: options.host, delayMs: options.delayMs,
      onSwitch: (to) => {
        if (to === 'source') this.#endMix('switched back to the host')
      },
    })
    this.#pushes = options.pushes.map((p) => links.createPush(options.host.app, `${options.host.name}~program`, p.url, p.address))
    this.#timer = setInterval(() => this.#check(), CHECK_MS)
    this.#timer.unref()
    this.#check()
  }

  /** The mix stream's name (in the host's app). */
  get mixName(): string {
    return `${this.#options.host.name}~mix`
  }

  /** Starts co-hosting: live guests are mixed in. */
  start(): void {
    this.#active = true
    this.#check()
  }

  /** Stops co-hosting: the program goes back to the host alone. */
  stop(): void {
    this.#active = false
    this.#check()
  }

  /** Adds a guest stream (mixed in once live). */
  addGuest(guest: StreamRef): void {
    if (!this.#guests.some((g) => key(g) === key(guest))) this.#guests.push(guest)
    this.#check()
  }

  /** Removes a guest stream. False when it was not a guest. */
  removeGuest(guest: StreamRef): boolean {
    const before = this.#guests.length
    this.#guests = this.#guests.filter((g) => key(g) !== key(guest))
    this.#check()
    return this.#guests.length < before
  }

  #liveGuests(): StreamRef[] {
    return this.#guests.filter((g) => this.#hub.get(g.app, g.name)?.isLive)
  }

  #check(): void {
    if (this.#closed) return
    const live = this.#active ? this.#liveGuests() : []
    const hostLive = this.#hub.get(this.#options.host.app, this.#options.host.name)?.isLive ?? false
    if (live.length > 0 && hostLive) {
      this.#leavingSince = 0
      if (!this.#mix) this.#startMix()
      const mix = this.#mix
      if (!mix) return
      for (const g of live) {
        if (this.#mixed.has(key(g))) continue
        mix.addInput(g)
        this.#mixed.add(key(g))
      }
      for (const k of this.#mixed) {
        if (live.some((g) => key(g) === k)) continue
        mix.removeInput(...split(k))
        this.#mixed.delete(k)
      }
      this.program.toMix(mix.stream)
      return
    }
    if (!this.#mix) return
    if (this.program.on === 'mix') {
      this.#leavingSince ||= Date.now()
      this.program.toSource()
      if (Date.now() - this.#leavingSince > SWITCH_BACK_LIMIT_MS) {
        this.#log.warn('the host sent no keyframe to switch back on: the mix ends (the program stalls until one)')
        this.#endMix('no keyframe from the host')
      }
    } else {
      this.program.toSource()
      this.#endMix('no guest left')
    }
  }

  #startMix(): void {
    const o = this.#options
    try {
      this.#mix = new Mix(this.#hub, this.#log, {
        ...o.mix, id: `${o.id}-mix`, app: o.host.app, name: this.mixName, inputs: [o.host], timelineInput: 0,
      })
      this.#mix.requestKeyframe()
    } catch (error) {
      this.#log.error({ error: (error as Error).message }, 'co-hosting: the mix could not start; the program stays on the host')
    }
  }

  #endMix(reason: string): void {
    const mix = this.#mix
    if (!mix) return
    this.#mix = null
    this.#mixed.clear()
    mix.close(reason)
  }

  stats(): CohostStats {
    return {
      id: this.id, host: key(this.#options.host), guests: this.#guests.map((g) => ({ stream: key(g), live: this.#hub.get(g.app, g.name)?.isLive ?? false })),
      active: this.#active, program: this.program.stats(), mix: `${this.#options.host.app}/${this.mixName}`, mixing: this.#mix !== null,
      mixStats: this.#mix?.stats() ?? null,
      pushes: this.#pushes.map((p) => p.id),
    }
  }

  /** Sets the mix layout (now and for later mixes). */
  setLayout(layout: MixLayoutName): void {
    this.#options.mix = { ...this.#options.mix, layout }
    this.#mix?.setLayout(layout)
  }

  /** Ends co-hosting (idempotent): pushes, mix and program end. */
  close(reason = 'closed'): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    for (const p of this.#pushes) p.close(reason)
    this.#endMix(reason)
    this.program.close(reason)
    this.#log.info({ reason }, 'co-hosting ended')
    this.#options.onEnd?.(this)
  }
}

function key(s: StreamRef): string {
  return `${s.app}/${s.name}`
}

function split(k: string): [string, string] {
  const at = k.indexOf('/')
  return [k.slice(0, at), k.slice(at + 1)]
}
