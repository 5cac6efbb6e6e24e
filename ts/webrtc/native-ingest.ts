/**
 * Receiving a publisher on the native port (`NativeViewers.addPublisher`): the one way WHIP
 * sessions and SFU participants' publish PeerConnections are set up there. The port answers the
 * offer (ICE-lite, DTLS-SRTP, simulcast `a=rid` layers accepted, transport-wide CC), decrypts
 * the publisher's RTP on the binding's receive thread and hands it over in batches; this wires
 * those batches into the `WebRtcPublisher` (`pushBundled`, RTP and sender reports by SSRC) and
 * each layer's rid (`bindRid`, from the RtpStreamId extension, RFC 8852).
 */
import { randomInt } from 'node:crypto'
import type { RtpVideoCodec } from '../hub/rtp-source'
import type { NativeViewers } from './native-viewers'
import type { WebRtcPublisher } from './rtp-publisher'
import { fmtpString, type SdpMediaSection } from './sdp'

/** What a publisher sends, as chosen from its offer (payload types are the offer's). */
export interface PublishTracks {
  video: { mid: string; codec: RtpVideoCodec; payloadType: number; fmtp: Record<string, string> } | null
  audio: { mid: string; payloadType: number; channels: number; fmtp: Record<string, string> } | null
}

/** What the owner of a natively received publisher hears. */
export interface NativeIngestEvents {
  /** `connecting` (ICE nominated a pair) or `connected` (DTLS done, SRTP keyed). */
  onState(state: string): void
  /** The peer is gone (consent expired, DTLS closed, closed by us). */
  onClosed(reason: string): void
}

/**
 * Receives `publisher`'s media on `port`: returns its id there (`sendRtcp`, `closePublisher`)
 * and the SDP answer. `offered`: the offer's sections as parsed. Throws `WebRtcError`
 * (`WEBRTC_OFFER_UNSUPPORTED`: no fingerprint, or the offer wants to be the DTLS server;
 * `WEBRTC_TRANSPORT_CLOSED`).
 */
export function receiveOnNativePort(port: NativeViewers, offered: SdpMediaSection[], tracks: PublishTracks, publisher: WebRtcPublisher, events: NativeIngestEvents): { id: number; answer: string } {
  const { video, audio } = tracks
  return port.addPublisher(
    {
      offered,
      video: video ? { mid: video.mid, payloadType: video.payloadType, codec: video.codec, fmtp: fmtpString({ fmtp: video.fmtp }) } : undefined,
      audio: audio ? { mid: audio.mid, payloadType: audio.payloadType, codec: 'opus', fmtp: fmtpString({ fmtp: audio.fmtp }), channels: 2 } : undefined,
      ssrc: randomInt(1, 0xffffffff),
    },
    {
      onState: events.onState,
      onPackets: (data, ends) => {
        let start = 0
        for (const end of ends) {
          publisher.pushBundled(data.subarray(start, end))
          start = end
        }
      },
      onRid: (ssrc, rid) => publisher.bindRid(ssrc, rid),
      onClosed: events.onClosed,
    },
  )
}
