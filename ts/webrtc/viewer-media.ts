/**
 * What a receive-only offer (a WHEP viewer's, an SFU subscriber's) can be answered with: its
 * first receivable video section with the stream's codec (H.264 needs packetization-mode=1,
 * RFC 6184 §8.1) and its first receivable audio section with Opus (RFC 7587), with the payload
 * types the offer gave them. One reading for every receive-only answer Sluice writes.
 */
import { WebRtcError } from '../errors'
import { chooseMatching, chooseOpus, fmtpString, parseSdp } from './sdp'
import type { WebRtcVideoCodec } from './feed'
import type { ViewerSpec } from './viewer-protocol'

/** The offer's sections to answer, without the SSRCs (the feed's). */
export interface ViewerMedia {
  video?: Omit<NonNullable<ViewerSpec['video']>, 'ssrc'>
  audio: Omit<NonNullable<ViewerSpec['audio']>, 'ssrc'>
}

/**
 * Reads `offer` for a stream whose video is `want` (null: audio only). Throws `WebRtcError`
 * `WEBRTC_OFFER_UNSUPPORTED` with a readable message when the SDP is malformed, has no receivable
 * video with that codec while the stream has video, or no receivable audio with Opus.
 */
export function viewerMedia(offer: string, want: WebRtcVideoCodec | null): ViewerMedia {
  let parsed
  try {
    parsed = parseSdp(offer)
  } catch (error) {
    throw new WebRtcError('WEBRTC_OFFER_UNSUPPORTED', `malformed SDP offer: ${(error as Error).message}`)
  }
  const receivable = (kind: 'video' | 'audio') => parsed.media.find((m) => m.kind === kind && m.direction !== 'inactive' && m.direction !== 'sendonly')
  const videoSection = receivable('video')
  const audioSection = receivable('audio')
  const videoCodec = videoSection && want && chooseMatching(videoSection, want.codec, want.fmtp)
  const opus = audioSection && chooseOpus(audioSection)
  if (want && (!videoSection || !videoCodec)) {
    const what = want.codec === 'H264' ? 'H.264 (packetization-mode=1)' : want.codec
    throw new WebRtcError('WEBRTC_OFFER_UNSUPPORTED', `the offer cannot be answered: it has no receivable video with ${what}, the stream's video codec`)
  }
  if (!audioSection || !opus) throw new WebRtcError('WEBRTC_OFFER_UNSUPPORTED', 'the offer cannot be answered: it has no receivable audio with Opus')
  return {
    video: want && videoSection && videoCodec ? { mid: videoSection.mid, codec: want.codec, payloadType: videoCodec.payloadType, fmtp: fmtpString(videoCodec) } : undefined,
    audio: { mid: audioSection.mid, payloadType: opus.payloadType, fmtp: fmtpString(opus) },
  }
}
