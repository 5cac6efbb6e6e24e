/**
 * `SfuEgress`: how SFU downlinks send, on the one RTP egress pipeline. Each source forwarded to
 * subscribers (a participant's `WebRtcPublisher`, an `mcu` room's mix for one participant) has
 * one `RtpFeed` — rewritten once, whatever the number of subscribers — whose packets go to the
 * viewer transport WHEP uses (`webrtc.transport`: the native port, ICE-lite/DTLS/SRTP and
 * `sendmmsg` on the binding's threads, or node-datachannel viewer processes). Each downlink is
 * one viewer of its source's feed there.
 *
 * Simulcast sources: the feed carries every layer (`RtpFeed`), and the native transport chooses
 * each downlink's; how it chooses is the room's layer policy (`setRoomPolicy`), else
 * `sfu.simulcast`, else the port's (`webrtc.simulcast`).
 */
import type { RtpSource } from '../hub/rtp-source'
import { RtpFeed } from '../webrtc/rtp-feed'
import type { SimulcastPolicyOptions } from '../webrtc/native-viewers'
import type { ViewerTransport } from '../webrtc/viewer-protocol'

let nextFeed = 1

interface FeedEntry {
  feed: RtpFeed
  users: number
  room: string
}

export class SfuEgress {
  readonly viewers: ViewerTransport
  readonly #feeds = new Map<RtpSource, FeedEntry>()
  /** Every room's layer policy unless it has its own (`sfu.simulcast`); null: the port's. */
  readonly #defaultPolicy: SimulcastPolicyOptions | null
  readonly #roomPolicies = new Map<string, SimulcastPolicyOptions>()

  constructor(viewers: ViewerTransport, defaultPolicy: SimulcastPolicyOptions | null = null) {
    this.viewers = viewers
    this.#defaultPolicy = defaultPolicy
  }

  /** `source`'s feed (a source of room `room`), made with its first downlink; `release` once per `acquire`. */
  acquire(source: RtpSource, room: string): RtpFeed {
    let entry = this.#feeds.get(source)
    if (!entry) {
      const feed = new RtpFeed(`sfu-feed-${nextFeed++}`, this.viewers)
      entry = { feed, users: 0, room }
      this.#feeds.set(source, entry)
      const policy = this.policyOf(room)
      if (policy) this.viewers.setLayerPolicy?.(feed.key, policy)
      feed.attach(source)
    }
    entry.users++
    return entry.feed
  }

  /** One downlink of `source` is gone: its feed stops with the last one. */
  release(source: RtpSource): void {
    const entry = this.#feeds.get(source)
    if (!entry || --entry.users > 0) return
    entry.feed.close()
    if (this.policyOf(entry.room)) this.viewers.setLayerPolicy?.(entry.feed.key, null)
    this.#feeds.delete(source)
  }

  /** The layer policy room `room`'s downlinks follow: its own, else `sfu.simulcast`; null: the port's. */
  policyOf(room: string): SimulcastPolicyOptions | null {
    return this.#roomPolicies.get(room) ?? this.#defaultPolicy
  }

  /** Sets room `room`'s layer policy (null: back to the default), for its downlinks now and later. */
  setRoomPolicy(room: string, policy: SimulcastPolicyOptions | null): void {
    if (policy) this.#roomPolicies.set(room, policy)
    else this.#roomPolicies.delete(room)
    const effective = this.policyOf(room)
    for (const entry of this.#feeds.values()) if (entry.room === room) this.viewers.setLayerPolicy?.(entry.feed.key, effective)
  }

  /** Stops every feed (idempotent; the transport is WHEP's to close). */
  close(): void {
    for (const { feed } of this.#feeds.values()) feed.close()
    this.#feeds.clear()
  }
}
