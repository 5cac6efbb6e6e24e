/**
 * An SRT push: Sluice calls another SRT listener (a CDN ingest, a broadcaster's receiver,
 * another server) and sends a hub stream to it as MPEG-TS, reconnecting until deleted
 * (ts/srt/caller-link.ts). The stream goes out as to an SRT player (ts/srt/player.ts): from a
 * keyframe, packets muxed once per stream, skipping to keyframes when the link falls behind.
 * Created through `POST /api/srt/pushes`.
 */
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { Stream } from '../hub/stream'
import type { ClientRegistry, ClientSession } from '../clients/registry'
import { SrtPlayer } from './player'
import { CallerLink, type SrtPullTarget } from './caller-link'

export interface SrtPushOptions {
  id: string
  app: string
  stream: string
  /** The listener, with its host already resolved to `address` and allowed. */
  target: SrtPullTarget & { address: string; family: 4 | 6 }
  latencyMs: number
  queuePackets: number
}

export class SrtPush {
  readonly id: string
  readonly app: string
  readonly stream: string
  readonly #link: CallerLink
  #player: SrtPlayer | null = null
  #subscribed: Stream | null = null
  #client: ClientSession | null = null

  constructor(hub: StreamHub, log: Logger, clients: ClientRegistry, options: SrtPushOptions) {
    this.id = options.id
    this.app = options.app
    this.stream = options.stream
    const detach = () => {
      this.#player?.stop()
      if (this.#player && this.#subscribed) hub.unsubscribe(this.#subscribed, this.#player)
      this.#player = null
      this.#subscribed = null
    }
    this.#link = new CallerLink(this.id, options.target, options.latencyMs, log, {
      opened: (session, latencyMs) => {
        const player = new SrtPlayer(
          {
            id: this.id, queuePackets: options.queuePackets, maxBehindMs: 10_000, lingerMs: latencyMs + 250,
            send: (data) => this.#link.send(data),
            queuedPackets: () => this.#link.stats()?.sendBufferedPackets ?? 0,
            // The stream ended or the link fell behind: hang up; the link calls again and the
            // push resumes when the stream is live.
            closeSession: () => this.#link.hangUp(),
          },
          log,
          hub.drops.gate('srt'),
        )
        this.#player = player
        const live = hub.get(this.app, this.stream)
        if (live?.isLive) player.start(live)
        this.#subscribed = hub.subscribe(this.app, this.stream, player)
        this.#client = {
          id: this.id, protocol: 'srt', role: 'player', app: this.app, stream: this.stream, remoteAddress: session, startedAt: Date.now(),
          counters: () => ({ bytesIn: 0, bytesOut: player.bytesOut, queueBytes: (this.#link.stats()?.sendBufferedPackets ?? 0) * 1316 }),
          details: () => ({ push: true, ...(this.#link.stats() ?? { latencyMs }) }),
          close: (reason) => this.close(reason),
        }
        clients.add(this.#client)
        log.info({ push: this.id, stream: `${this.app}/${this.stream}`, remote: session, latencyMs }, 'SRT push connected')
      },
      data: () => {}, // a listener we push to sends no media
      ended: (reason) => {
        detach()
        if (this.#client) clients.remove(this.#client, reason)
        this.#client = null
      },
    })
  }

  /** For `GET /api/srt/pushes`. */
  stats(): Record<string, unknown> {
    return { id: this.id, app: this.app, stream: this.stream, ...this.#link.describe(), bytesOut: this.#player?.bytesOut ?? 0, framesSent: this.#player?.framesSent ?? 0 }
  }

  /** Stops pushing. Idempotent. */
  close(reason = 'push deleted'): void {
    this.#link.close(reason)
  }
}
