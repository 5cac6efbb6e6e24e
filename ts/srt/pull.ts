/**
 * An SRT pull: Sluice calls another SRT listener and publishes what it sends as a hub stream,
 * reconnecting until deleted (ts/srt/caller-link.ts). Created through `POST /api/srt/pulls`.
 */
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { ClientRegistry, ClientSession } from '../clients/registry'
import { SrtPublisher } from './publisher'
import { CallerLink, type SrtPullTarget } from './caller-link'


export interface SrtPullOptions {
  id: string
  app: string
  stream: string
  /** The listener, with its host already resolved to `address` and allowed. */
  target: SrtPullTarget & { address: string; family: 4 | 6 }
  latencyMs: number
  maxAccessUnitBytes: number
}

export class SrtPull {
  readonly id: string
  readonly app: string
  readonly stream: string
  readonly #link: CallerLink
  #publisher: SrtPublisher | null = null
  #client: ClientSession | null = null

  constructor(hub: StreamHub, log: Logger, clients: ClientRegistry, options: SrtPullOptions) {
    this.id = options.id
    this.app = options.app
    this.stream = options.stream
    this.#link = new CallerLink(this.id, options.target, options.latencyMs, log, {
      opened: (session, latencyMs) => {
        try {
          this.#publisher = new SrtPublisher(hub, log, {
            id: this.id, app: this.app, stream: this.stream, remoteAddress: session, maxAccessUnitBytes: options.maxAccessUnitBytes,
            // The hub closed the publisher (silence): hang up; the link calls again.
            closeSession: () => this.#link.hangUp(),
          })
        } catch (error) {
          this.#link.lastError = (error as Error).message
          return
        }
        const publisher = this.#publisher
        this.#client = {
          id: this.id, protocol: 'srt', role: 'publisher', app: this.app, stream: this.stream, remoteAddress: session, startedAt: Date.now(),
          counters: () => ({ bytesIn: publisher.bytesIn, bytesOut: 0, queueBytes: 0 }),
          details: () => ({ pull: true, ...(this.#link.stats() ?? { latencyMs }) }),
          close: (reason) => this.close(reason),
        }
        clients.add(this.#client)
        log.info({ pull: this.id, stream: `${this.app}/${this.stream}`, remote: session, latencyMs }, 'SRT pull connected')
      },
      data: (data) => this.#publisher?.push(data),
      ended: (reason) => {
        const publisher = this.#publisher
        this.#publisher = null
        publisher?.close(reason)
        if (this.#client) clients.remove(this.#client, reason)
        this.#client = null
      },
    })
  }

  /** For `GET /api/srt/pulls`. */
  stats(): Record<string, unknown> {
    return { id: this.id, app: this.app, stream: this.stream, ...this.#link.describe(), bytesIn: this.#publisher?.bytesIn ?? 0 }
  }

  /** Stops pulling: the session closes, the stream is unpublished. Idempotent. */
  close(reason = 'pull deleted'): void {
    this.#link.close(reason)
  }
}
