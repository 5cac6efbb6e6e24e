/**
 * The one place a video codec becomes a node-datachannel media description: WHIP publishers'
 * and SFU participants' receive tracks, SFU downlinks' and WHEP viewers' send tracks.
 */
import nodeDataChannel from 'node-datachannel'
import type { RtpVideoCodec } from '../hub/rtp-source'

type Video = InstanceType<typeof nodeDataChannel.Video>

/** H.264's fmtp when the offer gave none: packetization-mode 1, Constrained Baseline 3.1. */
const DEFAULT_H264_FMTP = 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f'

/** Adds `codec` with payload type `pt` and `fmtp` (`a=fmtp` parameters as written, or '') to `media`. */
export function addVideoCodec(media: Video, codec: RtpVideoCodec, pt: number, fmtp: string): void {
  switch (codec) {
    case 'H264':
      return media.addH264Codec(pt, fmtp || DEFAULT_H264_FMTP)
    case 'H265':
      return media.addH265Codec(pt)
    case 'VP8':
      return media.addVP8Codec(pt)
    case 'VP9':
      return media.addVideoCodec(pt, 'VP9', fmtp || undefined)
    case 'AV1':
      return media.addAV1Codec(pt)
  }
}
