/**
 * The parts of an SDP offer (RFC 8866, RFC 8829 JSEP) a WHEP/WHIP answerer needs: media sections
 * with their mid, direction and codecs (rtpmap/fmtp), and ICE candidates of trickle fragments
 * (RFC 8840 `application/trickle-ice-sdpfrag`).
 */

export interface SdpCodec {
  payloadType: number
  /** Encoding name as written (`H264`, `opus`, `VP8`, `rtx`...). */
  name: string
  /** Clock rate in Hz. */
  clockRate: number
  channels?: number
  /** fmtp parameters (`packetization-mode` → `1`...). */
  fmtp: Record<string, string>
  /** rtcp-fb values for this payload type (`nack`, `nack pli`, `ccm fir`, `transport-cc`...). */
  feedback: string[]
}

export interface SdpMediaSection {
  kind: 'audio' | 'video' | 'application' | string
  mid: string
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'
  codecs: SdpCodec[]
  /** RTP header extensions: id → URI. */
  extensions: Map<number, string>
  /** SSRCs announced by the offerer (a=ssrc). */
  ssrcs: number[]
}

export interface SdpOffer {
  media: SdpMediaSection[]
}

/** Throws `Error` with a readable reason when the text is not an SDP with media sections. */
export function parseSdp(sdp: string): SdpOffer {
  if (!/^v=0\r?\n/.test(sdp)) throw new Error('not an SDP: it must start with "v=0"')
  const media: SdpMediaSection[] = []
  let current: SdpMediaSection | null = null
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim()
    if (line.startsWith('m=')) {
      const [kind, , , ...pts] = line.slice(2).split(' ')
      current = {
        kind: kind ?? '',
        mid: String(media.length),
        direction: 'sendrecv',
        codecs: pts.filter((p) => /^\d+$/.test(p)).map((p) => ({ payloadType: Number(p), name: '', clockRate: 0, fmtp: {}, feedback: [] })),
        extensions: new Map(),
        ssrcs: [],
      }
      media.push(current)
      continue
    }
    if (!current || !line.startsWith('a=')) continue
    const attr = line.slice(2)
    const colon = attr.indexOf(':')
    const key = colon < 0 ? attr : attr.slice(0, colon)
    const value = colon < 0 ? '' : attr.slice(colon + 1)
    const codec = (pt: string) => current!.codecs.find((c) => c.payloadType === Number(pt))
    switch (key) {
      case 'mid':
        current.mid = value
        break
      case 'sendrecv':
      case 'sendonly':
      case 'recvonly':
      case 'inactive':
        current.direction = key
        break
      case 'rtpmap': {
        const m = /^(\d+) ([^/]+)\/(\d+)(?:\/(\d+))?/.exec(value)
        const c = m && codec(m[1]!)
        if (c) {
          c.name = m[2]!
          c.clockRate = Number(m[3])
          if (m[4]) c.channels = Number(m[4])
        }
        break
      }
      case 'fmtp': {
        const sp = value.indexOf(' ')
        const c = codec(value.slice(0, sp))
        if (c) {
          for (const kv of value.slice(sp + 1).split(';')) {
            const [k, v] = kv.split('=')
            if (k) c.fmtp[k.trim()] = (v ?? '').trim()
          }
        }
        break
      }
      case 'rtcp-fb': {
        const sp = value.indexOf(' ')
        const pt = value.slice(0, sp)
        const fb = value.slice(sp + 1)
        for (const c of pt === '*' ? current.codecs : [codec(pt)]) c?.feedback.push(fb)
        break
      }
      case 'extmap': {
        const m = /^(\d+)(?:\/\w+)? (\S+)/.exec(value)
        if (m) current.extensions.set(Number(m[1]), m[2]!)
        break
      }
      case 'ssrc': {
        const ssrc = Number(value.split(' ')[0])
        if (Number.isInteger(ssrc) && !current.ssrcs.includes(ssrc)) current.ssrcs.push(ssrc)
        break
      }
    }
  }
  if (media.length === 0) throw new Error('the SDP has no media section (m=)')
  return { media }
}

/**
 * Picks the H.264 codec a browser offered that we can send: packetization-mode=1, preferring
 * constrained baseline (42e01f), then any profile with level-asymmetry-allowed.
 */
export function chooseH264(section: SdpMediaSection): SdpCodec | undefined {
  const h264 = section.codecs.filter((c) => c.name.toLowerCase() === 'h264' && c.fmtp['packetization-mode'] === '1')
  const score = (c: SdpCodec) => {
    const p = (c.fmtp['profile-level-id'] ?? '').toLowerCase()
    if (p.startsWith('42e0')) return 3
    if (p.startsWith('4200') || p.startsWith('42')) return 2
    if (c.fmtp['level-asymmetry-allowed'] === '1') return 1
    return 0
  }
  return h264.sort((a, b) => score(b) - score(a))[0]
}

/**
 * The video codec to receive from a WebRTC publisher: H.264 with packetization-mode=1 first (it
 * also plays over RTMP/HTTP-FLV), then VP8, VP9 (profile 0), AV1. Undefined when none is offered.
 */
export function choosePublishVideo(section: SdpMediaSection): { codec: 'H264' | 'VP8' | 'VP9' | 'AV1'; sdp: SdpCodec } | undefined {
  const h264 = chooseH264(section)
  if (h264) return { codec: 'H264', sdp: h264 }
  const named = (name: string, ok: (c: SdpCodec) => boolean = () => true) => section.codecs.find((c) => c.name.toUpperCase() === name && c.clockRate === 90000 && ok(c))
  const vp8 = named('VP8')
  if (vp8) return { codec: 'VP8', sdp: vp8 }
  const vp9 = named('VP9', (c) => (c.fmtp['profile-id'] ?? '0') === '0')
  if (vp9) return { codec: 'VP9', sdp: vp9 }
  const av1 = named('AV1')
  if (av1) return { codec: 'AV1', sdp: av1 }
  return undefined
}

/** The offered codec that matches a WebRTC publisher's `codec` (and VP9 profile), for a viewer. */
export function chooseMatching(section: SdpMediaSection, codec: 'H264' | 'VP8' | 'VP9' | 'AV1', fmtp: Record<string, string>): SdpCodec | undefined {
  if (codec === 'H264') return chooseH264(section)
  return section.codecs.find(
    (c) => c.name.toUpperCase() === codec && c.clockRate === 90000 && (codec !== 'VP9' || (c.fmtp['profile-id'] ?? '0') === (fmtp['profile-id'] ?? '0')),
  )
}

export function chooseOpus(section: SdpMediaSection): SdpCodec | undefined {
  return section.codecs.find((c) => c.name.toLowerCase() === 'opus' && c.clockRate === 48000)
}

/** ICE candidates in a trickle-ice-sdpfrag body (RFC 8840), with the mid they belong to. */
export function parseTrickleFragment(body: string): { candidate: string; mid: string }[] {
  const out: { candidate: string; mid: string }[] = []
  let mid = '0'
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim()
    if (line.startsWith('a=mid:')) mid = line.slice(6)
    else if (line.startsWith('a=candidate:')) out.push({ candidate: line.slice(2), mid })
  }
  return out
}

/** A codec's fmtp parameters as one `a=fmtp` value (`k=v;k2=v2`; bare keys kept bare). */
export function fmtpString(c: Pick<SdpCodec, 'fmtp'>): string {
  return Object.entries(c.fmtp)
    .map(([k, v]) => (v ? `${k}=${v}` : k))
    .join(';')
}
