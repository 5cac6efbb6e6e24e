/**
 * SDP (RFC 8866) for plain RTP/SRTP sessions: the file a forwarder serves so that
 * `ffmpeg -protocol_whitelist file,udp,rtp,srtp -i stream.sdp` can receive it, and the few
 * lines an RTP ingest reads from a publisher's SDP (`ffmpeg ... -sdp_file`): payload types,
 * `sprop-parameter-sets` (RFC 6184 §8.1), the AAC `config` (RFC 3640 §4.1) and SDES keys
 * (`a=crypto`, RFC 4568 §9).
 */
import type { RtpSenderCodecs } from './sender'

export interface SdesKey {
  /** RFC 4568 crypto-suite name, e.g. `AES_CM_128_HMAC_SHA1_80`. */
  suite: string
  /** Master key || master salt, base64 (the `inline:` key-params). */
  inline: string
}

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

/** The media sections of an SDP (first payload type of each); unknown lines are ignored. */
export function parseSdpMedia(sdp: string): SdpMedia[] {
  const out: SdpMedia[] = []
  let current: SdpMedia | null = null
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim()
    const m = /^m=(video|audio) (\d+) [A-Z/]+ (\d+)/.exec(line)
    if (m) {
      current = { kind: m[1] as 'video' | 'audio', port: Number(m[2]), payloadType: Number(m[3]), codec: '', clockRate: 0, channels: 1, fmtp: {}, crypto: null }
      out.push(current)
      continue
    }
    if (!current) continue
    const rtpmap = /^a=rtpmap:(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(line)
    if (rtpmap && Number(rtpmap[1]) === current.payloadType) {
      current.codec = rtpmap[2]!.toUpperCase()
      current.clockRate = Number(rtpmap[3])
      current.channels = Number(rtpmap[4] ?? 1)
      continue
    }
    const fmtp = /^a=fmtp:(\d+) (.*)$/.exec(line)
    if (fmtp && Number(fmtp[1]) === current.payloadType) {
      for (const part of fmtp[2]!.split(';')) {
        const eq = part.indexOf('=')
        if (eq > 0) current.fmtp[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim()
      }
      continue
    }
    const crypto = /^a=crypto:\d+ (\S+) inline:([^|\s]+)/.exec(line)
    if (crypto) current.crypto = { suite: crypto[1]!, inline: crypto[2]! }
  }
  return out
}
