/**
 * `SfuEgress`: how SFU downlinks send, on the one RTP egress pipeline. Each source forwarded to
 * subscribers (a participant's `WebRtcPublisher`, an `mcu` room's mix for one participant) has
 * one `RtpFeed` — rewritten once, whatever the number of subscribers — shared by every downlink
 * of it; the packets reach each subscriber's send tracks through one `TrackFanout` (the native
 * fan-out: payload type per subscriber, retransmission ring, sender reports), the same as WHEP
 * viewers on the node-datachannel transport.
 */
import type { RtpSource } from '../hub/rtp-source'
import { RtpFeed } from '../webrtc/rtp-feed'
import { TrackFanout } from '../webrtc/track-fanout'

let nextFeed = 1

export class SfuEgress {
  readonly fanout = new TrackFanout()
  readonly #feeds = new Map<RtpSource, { feed: RtpFeed; users: number }>()

  /** Sources with at least one downlink. */
  get feeds(): number {
    return this.#feeds.size
  }

  /** `source`'s feed, made with its first downlink; `release` once per `acquire`. */
  acquire(source: RtpSource): RtpFeed {
    let entry = this.#feeds.get(source)
    if (!entry) {
      const feed = new RtpFeed(`sfu-feed-${nextFeed++}`, this.fanout)
      feed.attach(source)
      entry = { feed, users: 0 }
      this.#feeds.set(source, entry)
    }
    entry.users++
    return entry.feed
  }

  /** One downlink of `source` is gone: its feed stops with the last one. */
  release(source: RtpSource): void {
    const entry = this.#feeds.get(source)
    if (!entry || --entry.users > 0) return
    entry.feed.close()
    this.#feeds.delete(source)
  }

  /** Stops every feed and the fan-out (idempotent). */
  close(): void {
    for (const { feed } of this.#feeds.values()) feed.close()
    this.#feeds.clear()
    this.fanout.close()
  }
}
