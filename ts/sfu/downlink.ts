/**
 * `SfuDownlink`: one publisher's tracks forwarded to one subscriber over the subscriber's
 * PeerConnection, as send-only m-lines (`a=msid:<publisher peer id>`).
 *
 * A thin adapter on the RTP egress pipeline (`SfuEgress`): the publisher's RTP is rewritten
 * once by the source's `RtpFeed` (any codec: the feed's SSRCs, continuous sequence numbers and
 * timestamps, header extensions removed) and reaches this downlink's tracks through the shared
 * `TrackFanout` (this downlink's payload types; NACK, RFC 4585 §6.2.1, answered from the
 * stream's retransmission ring; sender reports every second anchored on the publisher's, RFC
 * 3550 §6.4.1, for lip sync). PLI (RFC 4585 §6.3.1) and FIR (RFC 5104 §4.3.1) from the
 * subscriber ask the publisher for a keyframe (`RtpSource.requestKeyframe`, rate-limited there);
 * so does the track opening.
 */
import nodeDataChannel from 'node-datachannel'
import type { RtpSource } from '../hub/rtp-source'
import type { Logger } from '../log'
import { type Track, type UplinkPlan } from './uplink'
import { addVideoCodec } from '../webrtc/datachannel-codecs'
import { fmtpString } from '../webrtc/sdp'
import type { RtpFeed } from '../webrtc/rtp-feed'
import type { TrackCounters } from '../webrtc/track-fanout'
import type { SfuEgress } from './egress'

const { Video, Audio } = nodeDataChannel
type PeerConnection = InstanceType<typeof nodeDataChannel.PeerConnection>

/** The CNAME of every SFU send track (RFC 3550 §6.5.1). */
const CNAME = 'sluice-sfu'

let nextDownlink = 1

/** What a downlink sent and was asked (the fan-out's counters, sender reports included). */
export interface DownlinkStats extends TrackCounters {
  publisher: string
}

export class SfuDownlink {
  /** The publishing participant's peer id (also the MediaStream id the subscriber sees). */
  readonly publisherId: string
  /** Its subscriber id in the fan-out. */
  readonly #id = `sfu-downlink-${nextDownlink++}`
  readonly #source: RtpSource
  readonly #feed: RtpFeed
  readonly #egress: SfuEgress
  readonly #log: Logger
  readonly #tracks: Track[] = []
  #closed = false
  #last: DownlinkStats

  /**
   * Adds the send-only tracks to `pc` (mids `${midPrefix}v`/`${midPrefix}a`, unique in that
   * PeerConnection, with the SSRCs of `source`'s feed) and subscribes them to the feed. The
   * caller renegotiates `pc`.
   */
  constructor(pc: PeerConnection, publisherId: string, source: RtpSource, plan: UplinkPlan, midPrefix: string, egress: SfuEgress, log: Logger) {
    this.publisherId = publisherId
    this.#source = source
    this.#egress = egress
    this.#log = log
    this.#feed = egress.acquire(source)
    this.#last = { publisher: publisherId, packetsSent: 0, bytesSent: 0, nacks: 0, retransmitted: 0, sendFailures: 0, keyframeRequests: 0 }
    let video: Track | null = null
    let audio: Track | null = null
    if (plan.video) {
      const media = new Video(`${midPrefix}v`, 'SendOnly')
      addVideoCodec(media, plan.video.codec, plan.video.payloadType, fmtpString({ fmtp: plan.video.fmtp }))
      media.addSSRC(this.#feed.videoSsrc, CNAME, publisherId, `${publisherId}-video`)
      video = pc.addTrack(media)
    }
    if (plan.audio) {
      const media = new Audio(`${midPrefix}a`, 'SendOnly')
      media.addOpusCodec(plan.audio.payloadType, fmtpString({ fmtp: plan.audio.fmtp }) || 'minptime=10;useinbandfec=1')
      media.addSSRC(this.#feed.audioSsrc, CNAME, publisherId, `${publisherId}-audio`)
      audio = pc.addTrack(media)
    }
    this.#tracks = [video, audio].filter((t): t is Track => t !== null)
    egress.fanout.add(this.#id, {
      streamKey: this.#feed.key,
      video,
      audio,
      videoPayloadType: plan.video?.payloadType,
      audioPayloadType: plan.audio?.payloadType,
      onKeyframeRequest: (reason) => this.#feed.keyframeRequest(`SFU subscriber ${reason.toUpperCase()}`),
    })
    // both tracks ride one DTLS transport: they open together
    this.#tracks[0]?.onOpen(() => {
      if (!this.#closed) this.#feed.start(this.#id, 0, 'SFU subscriber track open')
    })
  }

  stats(): DownlinkStats {
    const c = this.#egress.fanout.counters(this.#id)
    if (c) {
      const { retransmissionsRefused: _refused, ...counters } = c
      this.#last = { publisher: this.publisherId, ...counters }
    }
    return { ...this.#last }
  }

  /** Stops forwarding and closes the tracks (their m-lines go to port 0 at the next offer). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    const stats = this.stats()
    this.#egress.fanout.remove(this.#id)
    this.#egress.release(this.#source)
    for (const t of this.#tracks) {
      try {
        t.close()
      } catch {
        // already closed
      }
    }
    this.#log.debug({ stats }, 'SFU downlink closed')
  }
}
