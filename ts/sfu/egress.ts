/**
 * `SfuEgress`: how SFU downlinks send, on the one RTP egress pipeline. Each source forwarded to
 * subscribers (a participant's `WebRtcPublisher`, an `mcu` room's mix for one participant) has
 * one `RtpFeed` — rewritten once, whatever the number of subscribers — whose packets go to the
 * viewer transport WHEP uses (`webrtc.transport`: the native port, ICE-lite/DTLS/SRTP and
 * `sendmmsg` on the binding's threads, or node-datachannel viewer processes). Each downlink is
 * one viewer of its source's feed there.
 */
import type { RtpSource } from '../hub/rtp-source'
import { RtpFeed } from '../webrtc/rtp-feed'
import type { ViewerTransport } from '../webrtc/viewer-protocol'

let nextFeed = 1

export class SfuEgress {
  readonly viewers: ViewerTransport
  readonly #feeds = new Map<RtpSource, { feed: RtpFeed; users: number }>()

  constructor(viewers: ViewerTransport) {
    this.viewers = viewers
  }

  /** `source`'s feed, made with its first downlink; `release` once per `acquire`. */
  acquire(source: RtpSource): RtpFeed {
    let entry = this.#feeds.get(source)
    if (!entry) {
      const feed = new RtpFeed(`sfu-feed-${nextFeed++}`, this.viewers)
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

  /** Stops every feed (idempotent; the transport is WHEP's to close). */
  close(): void {
    for (const { feed } of this.#feeds.values()) feed.close()
    this.#feeds.clear()
  }
}
