/**
 * SDP (RFC 8866) for plain RTP/SRTP sessions: the file a forwarder serves so that
 * `ffmpeg -protocol_whitelist file,udp,rtp,srtp -i stream.sdp` can receive it, and the few
 * lines an RTP ingest reads from a publisher's SDP (`ffmpeg ... -sdp_file`): payload types,
 * `sprop-parameter-sets` (RFC 6184 §8.1), the AAC `config` (RFC 3640 §4.1) and SDES keys
 * (`a=crypto`, RFC 4568 §9).
 */
import { parseSdp, type SdpCrypto } from '../webrtc/sdp'
import type { RtpSenderCodecs } from './sender'

/** An SDES key (RFC 4568): crypto-suite name and the `inline:` master key || salt, base64. */
export type SdesKey = SdpCrypto

export interface SdpTarget {
  /** Where the media goes (the `c=` address). */
  host: string
  videoPort: number
  audioPort: number
  /** Session name (`s=`). */
  name: string
  srtp?: SdesKey | null
}

/** The SDP describing what an `RtpSender` sends to `target`. */
export function describeRtpSession(codecs: RtpSenderCodecs, target: SdpTarget): string {
  const proto = target.srtp ? 'RTP/SAVP' : 'RTP/AVP'
  const crypto = target.srtp ? [`a=crypto:1 ${target.srtp.suite} inline:${target.srtp.inline}`] : []
  const ip = target.host.includes(':') ? 'IP6' : 'IP4'
  const lines = ['v=0', `o=- 0 0 IN ${ip} ${target.host}`, `s=${target.name}`, `c=IN ${ip} ${target.host}`, 't=0 0']
  if (codecs.video) {
    const { payloadType: pt, sps, pps } = codecs.video
    const profile = sps.subarray(1, 4).toString('hex')
    lines.push(
      `m=video ${target.videoPort} ${proto} ${pt}`,
      `a=rtpmap:${pt} H264/90000`,
      `a=fmtp:${pt} packetization-mode=1;profile-level-id=${profile};sprop-parameter-sets=${sps.toString('base64')},${pps.toString('base64')}`,
      ...crypto,
    )
  }
  if (codecs.audio) {
    const { payloadType: pt, sampleRate, channels, config } = codecs.audio
    lines.push(
      `m=audio ${target.audioPort} ${proto} ${pt}`,
      `a=rtpmap:${pt} MPEG4-GENERIC/${sampleRate}/${channels}`,
      `a=fmtp:${pt} streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=${config.toString('hex')}`,
      ...crypto,
    )
  }
  return lines.join('\r\n') + '\r\n'
}

/** One media section of a publisher's SDP, as an RTP ingest needs it. */
export interface SdpMedia {
  kind: 'video' | 'audio'
  port: number
  payloadType: number
  /** Upper-case encoding name: `H264`, `MPEG4-GENERIC`, `OPUS`... */
  codec: string
  clockRate: number
  channels: number
  fmtp: Record<string, string>
  crypto: SdesKey | null
}

/**
 * The audio and video sections of an SDP, first payload type of each (read by {@link parseSdp};
 * unknown lines are ignored). Throws `Error` when the text is not an SDP with media sections.
 */
export function parseSdpMedia(sdp: string): SdpMedia[] {
  return parseSdp(sdp).media.flatMap((m): SdpMedia[] => {
    const codec = m.codecs[0]
    if ((m.kind !== 'video' && m.kind !== 'audio') || !codec) return []
    return [{ kind: m.kind, port: m.port, payloadType: codec.payloadType, codec: codec.name.toUpperCase(), clockRate: codec.clockRate, channels: codec.channels ?? 1, fmtp: codec.fmtp, crypto: m.crypto[0] ?? null }]
  })
}
