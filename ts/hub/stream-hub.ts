/**
 * The stream hub: live streams keyed by `app/name`. A stream exists while it has a publisher
 * or subscribers (players that arrive first wait in it for the publisher).
 */
import { Stream, type Publisher, type Subscriber } from './stream'
import type { GopCacheLimits } from './gop-cache'
import { ClusterError, StreamBusyError } from '../errors'
import type { Logger } from '../log'
import { DropCounts } from '../metrics/drop-counts'

export interface StreamHubOptions {
  /** Bounds of each stream's GOP cache. */
  gopLimits?: Partial<GopCacheLimits>
  /** Ms a stream's subscribers wait for a returning publisher before UnpublishNotify. Default 3000. */
  unpublishGraceMs?: number
  /** A publisher silent (no media) for this many ms is closed. Default 5000. */
  publisherTimeoutMs?: number
  /** As `publisherTimeoutMs` before the first media of a publisher. Default 20 000. */
  firstMediaTimeoutMs?: number
  /** Ms `demand()` waits for a stream fetched on demand to go live. Default 5000. */
  demandTimeoutMs?: number
  log?: Logger
}

/** Why a player's stream cannot be served (`StreamHub.playable`). */
export interface PlayRefusal {
  status: 404 | 503
  reason: string
}

/** Who wants to know when a stream goes live or is asked for while it is not (pushes, pulls). */
export interface HubObserver {
  /** A publisher attached to `stream`. */
  published?(stream: Stream): void
  /**
   * A subscriber joined `stream` while it has no publisher: an on-demand pull or a cluster link
   * may start. Returns true when this observer is fetching the stream (`StreamHub.demand` waits
   * for it then), a promise of whether it found the stream to fetch (false ends the wait at
   * once), or an error saying why it cannot (`StreamHub.demand` throws it when nobody else
   * fetches the stream).
   */
  demanded?(stream: Stream): boolean | Promise<boolean> | Error | void
  /** `stream`'s publisher left (its subscribers may stay, waiting for the next one). */
  unpublished?(stream: Stream, publisher: Publisher): void
}

/** A subscriber that only holds a stream while `StreamHub.demand` waits for it to go live. */
class DemandWaiter implements Subscriber {
  readonly id: string
  readonly #live: () => void
  constructor(id: string, live: () => void) {
    this.id = id
    this.#live = live
  }
  onPublish(): void {
    this.#live()
  }
  onUnpublish(): void {}
  onMetadata(): void {}
  onFrame(): void {}
}

let nextWaiter = 1

export class StreamHub {
  readonly #streams = new Map<string, Stream>()
  readonly #observers = new Set<HubObserver>()
  readonly #options: StreamHubOptions

  readonly #timer: NodeJS.Timeout
  /** Publishers closed for silence, for `/metrics`. */
  silentPublishersClosed = 0
  /** Media dropped and slow players, by protocol and reason, counted where it happens, for `/metrics`. */
  readonly drops = new DropCounts()

  constructor(options: StreamHubOptions = {}) {
    this.#options = options
    this.#timer = setInterval(() => this.#closeSilentPublishers(Date.now()), 250)
    this.#timer.unref()
  }

  /**
   * Closes publishers that sent no media for `publisherTimeoutMs` (`firstMediaTimeoutMs` before
   * their first), so a frozen encoder (a stopped process, a dead link that TCP has not noticed)
   * frees its stream name within seconds, whatever its protocol.
   */
  #closeSilentPublishers(now: number): void {
    const timeout = this.#options.publisherTimeoutMs ?? 5000
    const first = this.#options.firstMediaTimeoutMs ?? 20_000
    for (const stream of this.#streams.values()) {
      const publisher = stream.publisher
      if (!publisher) continue
      const last = stream.lastMediaAt
      const silent = now - (last || stream.publishedAt)
      const limit = last ? timeout : first
      if (silent <= limit) continue
      const reason = last ? `no media for ${silent} ms (publisherTimeoutMs ${timeout})` : `no media within ${limit} ms of publishing (firstMediaTimeoutMs)`
      this.#options.log?.warn({ stream: stream.key, publisher: publisher.id, protocol: publisher.protocol }, `publisher closed: ${reason}`)
      this.silentPublishersClosed++
      this.unpublish(stream, publisher)
      publisher.close(reason)
    }
  }

  /** Stops the hub's timer (the server calls it on close). */
  close(): void {
    clearInterval(this.#timer)
  }

  get(app: string, name: string): Stream | undefined {
    return this.#streams.get(`${app}/${name}`)
  }

  /** Streams that have a publisher now. */
  live(): Stream[] {
    return [...this.#streams.values()].filter((s) => s.isLive)
  }

  all(): Stream[] {
    return [...this.#streams.values()]
  }

  #getOrCreate(app: string, name: string): Stream {
    const key = `${app}/${name}`
    let stream = this.#streams.get(key)
    if (!stream) {
      stream = new Stream(app, name, {
        ...this.#options,
        onIngestWarning: (s, kind, text) => this.#options.log?.warn({ stream: s.key, publisher: s.publisher?.id, protocol: s.publisher?.protocol, kind }, `ingest: ${text}`),
      })
      this.#streams.set(key, stream)
    }
    return stream
  }

  /**
   * Starts publishing. Throws `StreamBusyError` (`PUBLISH_BAD_NAME`) when the name is live. A
   * `replaceable` publisher (a cluster link) is closed first when `publisher` is not one: a
   * publisher who moved to this node takes its stream over; the players stay.
   */
  publish(app: string, name: string, publisher: Publisher): Stream {
    const held = this.get(app, name)
    const current = held?.publisher
    if (held && current?.replaceable && !publisher.replaceable) {
      this.#options.log?.info({ stream: held.key, link: current.id, publisher: publisher.id }, 'a local publisher replaces the cluster link')
      this.unpublish(held, current)
      current.close(`replaced by a local publisher (${publisher.protocol})`)
    }
    // (a stream the link held for no subscriber is gone now: made again)
    const stream = this.#getOrCreate(app, name)
    if (stream.publisher) {
      throw new StreamBusyError(stream.key)
    }
    stream.attachPublisher(publisher)
    for (const o of this.#observers) o.published?.(stream)
    return stream
  }

  /** Adds an observer; returns the function that removes it. */
  observe(observer: HubObserver): () => void {
    this.#observers.add(observer)
    return () => this.#observers.delete(observer)
  }

  /** True when a publisher may take `app/name` now: nobody publishes it, or a cluster link does. */
  publishable(app: string, name: string): boolean {
    const p = this.get(app, name)?.publisher
    return !p || Boolean(p.replaceable)
  }

  unpublish(stream: Stream, publisher: Publisher): void {
    const was = stream.publisher === publisher
    stream.detachPublisher(publisher)
    if (was) for (const o of this.#observers) o.unpublished?.(stream, publisher)
    this.#collect(stream)
  }

  /**
   * The stream `app/name` once it is live: at once when it is; else, when an observer fetches it
   * on demand (an RTMP pull rule, a cluster link), after it went live, waiting at most
   * `timeoutMs` (default `demandTimeoutMs`). Undefined when nobody fetches it or it did not go
   * live in time; throws the observer's error (`ClusterUnavailableError`: the registry is down)
   * when the only one that could fetch it cannot. For players
   * that answer at once (HTTP-FLV, WHEP, LL-HLS, SRT, relay offers); RTMP players subscribe
   * and wait.
   */
  async demand(app: string, name: string, timeoutMs = this.#options.demandTimeoutMs ?? 5000): Promise<Stream | undefined> {
    const live = this.get(app, name)
    if (live?.isLive) return live
    let done!: () => void
    const wentLive = new Promise<void>((resolve) => (done = resolve))
    const waiter = new DemandWaiter(`demand-${nextWaiter++}`, () => done())
    const stream = this.#getOrCreate(app, name)
    stream.addSubscriber(waiter)
    let fetching = false
    let failure: Error | null = null
    const searches: Promise<boolean>[] = []
    for (const o of this.#observers) {
      const answer = o.demanded?.(stream)
      if (answer instanceof Error) failure ??= answer
      else if (answer instanceof Promise) searches.push(answer.catch(() => false))
      else if (answer) fetching = true
    }
    let timer: NodeJS.Timeout | undefined
    try {
      if (!fetching && searches.length === 0 && failure) throw failure
      if ((fetching || searches.length > 0) && !stream.isLive) {
        const waits = [wentLive, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]
        // every search came back empty-handed (and nobody else fetches): no need to wait longer
        if (!fetching) waits.push(Promise.all(searches).then((found) => new Promise<void>((resolve) => (found.some(Boolean) ? undefined : resolve()))))
        await Promise.race(waits)
      }
    } finally {
      clearTimeout(timer)
      this.unsubscribe(stream, waiter)
    }
    const now = this.get(app, name)
    return now?.isLive ? now : undefined
  }

  /**
   * `demand` as a player's answer: the live stream, or why not — 404 when it is not live (here
   * or, in a cluster, anywhere), 503 when the cluster registry cannot be asked. Each protocol
   * turns the refusal into its own (an HTTP status, an SRT reject code).
   */
  async playable(app: string, name: string): Promise<{ stream: Stream } | { refusal: PlayRefusal }> {
    try {
      const stream = await this.demand(app, name)
      return stream ? { stream } : { refusal: { status: 404, reason: `stream ${app}/${name} is not live` } }
    } catch (error) {
      if (error instanceof ClusterError) return { refusal: { status: 503, reason: error.message } }
      throw error
    }
  }

  subscribe(app: string, name: string, subscriber: Subscriber): Stream {
    const stream = this.#getOrCreate(app, name)
    stream.addSubscriber(subscriber)
    if (!stream.publisher) for (const o of this.#observers) o.demanded?.(stream)
    return stream
  }

  unsubscribe(stream: Stream, subscriber: Subscriber): void {
    stream.removeSubscriber(subscriber)
    this.#collect(stream)
  }

  /** Drops a stream with neither publisher nor subscribers (after a subscriber left directly). */
  forget(stream: Stream): void {
    this.#collect(stream)
  }

  #collect(stream: Stream): void {
    if (!stream.publisher && stream.subscribers.size === 0 && this.#streams.get(stream.key) === stream) {
      this.#streams.delete(stream.key)
      stream.dispose()
    }
  }
}
