/**
 * A participant's uplink: what it publishes to the SFU, read from its first SDP offer (RFC 8829
 * JSEP), and the receive-only tracks that take it. Video: H.264 packetization-mode=1 preferred
 * (so the room stream plays over RTMP/FLV too), else VP8, VP9 profile 0 or AV1; audio: Opus.
 * Only the first sending video and audio m-lines are taken (one camera, one microphone).
 *
 * The uplink is received on the participant's own node-datachannel PeerConnection, or, for an
 * offer sent with `publish: true`, on the native port (`native-ingest.ts`), where it may be
 * simulcast (RFC 8853).
 */
import nodeDataChannel from 'node-datachannel'
import { chooseOpus, choosePublishVideo, fmtpString, parseSdp, type SdpMediaSection } from '../webrtc/sdp'
import type { PublishTracks } from '../webrtc/native-ingest'
import { addVideoCodec } from '../webrtc/datachannel-codecs'

const { Video, Audio } = nodeDataChannel
type PeerConnection = InstanceType<typeof nodeDataChannel.PeerConnection>
export type Track = ReturnType<PeerConnection['addTrack']>

/** The codecs a participant publishes with, as negotiated (payload types are the offer's), and the offer's sections. */
export interface UplinkPlan extends PublishTracks {
  offered: SdpMediaSection[]
  /** The video's simulcast layers (`a=simulcast:send` rids, lowest first), empty without. */
  simulcast: string[]
}

/**
 * Reads what an offer publishes. Throws `Error` on malformed SDP (`parseSdp`); an offer that
 * sends nothing we can receive gives `{video: null, audio: null}` (a watch-only participant).
 */
export function planUplink(offer: string): UplinkPlan {
  const parsed = parseSdp(offer)
  const sending = (kind: string) => parsed.media.find((m) => m.kind === kind && (m.direction === 'sendonly' || m.direction === 'sendrecv'))
  const v = sending('video')
  const a = sending('audio')
  const video = v && choosePublishVideo(v)
  const opus = a && chooseOpus(a)
  return {
    offered: parsed.media,
    simulcast: v && video && v.simulcastRids.length > 1 ? v.simulcastRids : [],
    video: v && video ? { mid: v.mid, codec: video.codec, payloadType: video.sdp.payloadType, fmtp: video.sdp.fmtp } : null,
    audio: a && opus ? { mid: a.mid, payloadType: opus.payloadType, channels: opus.fmtp.stereo === '1' ? 2 : 1, fmtp: opus.fmtp } : null,
  }
}

/**
 * Adds the receive-only tracks of `plan` to `pc` (before the offer is applied, so the answer
 * accepts exactly these codecs); every RTP/RTCP packet they get goes to `onPacket`.
 */
export function addUplinkTracks(pc: PeerConnection, plan: UplinkPlan, onPacket: (kind: 'video' | 'audio', packet: Buffer) => void): { video: Track | null; audio: Track | null } {
  let video: Track | null = null
  let audio: Track | null = null
  if (plan.video) {
    const media = new Video(plan.video.mid, 'RecvOnly')
    addVideoCodec(media, plan.video.codec, plan.video.payloadType, fmtpString({ fmtp: plan.video.fmtp }))
    video = pc.addTrack(media)
    video.onMessage((msg) => onPacket('video', msg))
  }
  if (plan.audio) {
    const media = new Audio(plan.audio.mid, 'RecvOnly')
    media.addOpusCodec(plan.audio.payloadType, fmtpString({ fmtp: plan.audio.fmtp }) || undefined)
    audio = pc.addTrack(media)
    audio.onMessage((msg) => onPacket('audio', msg))
  }
  return { video, audio }
}
