/**
 * The SDP answer to a WHIP publisher on the native port (RFC 9725 §4.2; JSEP, RFC 8829 §5.3):
 * `recvonly` video and audio with the payload type chosen from the offer, generic NACK, PLI and
 * FIR feedback, the transport-wide sequence number extension with `transport-cc` when offered (we
 * send the feedback its congestion control needs), the MID and RtpStreamId extensions, the
 * Dependency Descriptor on video (the layers of an AV1 SVC stream, or of VP8/H.264 temporal layers;
 * `a=extmap-allow-mixed` echoed, as its key frame structure needs the two-byte form, RFC 8285
 * §4.3), and — for a simulcast offer (RFC 8853) — `a=rid:<id> recv` for each layer it sends with
 * `a=simulcast:recv`. RTX is not accepted: retransmissions come on the layer's own SSRC. Other
 * sections are rejected (port 0). ICE-lite, DTLS and the candidates as for viewers
 * (`native-viewers.ts`).
 */
import type { MediaDescription } from 'sdp-transform'
import { DEPENDENCY_DESCRIPTOR_URI, MID_URI, RID_URI, TRANSPORT_CC_URI, type SdpMediaSection } from './sdp'

/** What is received from the publisher: a section's mid, payload type and codec. */
export interface PublisherTrack {
  mid: string
  payloadType: number
  /** Encoding name for the rtpmap (`H264`, `VP8`, `VP9`, `AV1`, `opus`). */
  codec: string
  /** The offered fmtp, echoed. */
  fmtp: string
  /** Audio channels (2 for Opus). */
  channels?: number
}

/** One host candidate of the port (RFC 8839 §5.1 fields). */
export interface HostCandidate {
  foundation: string
  component: number
  transport: string
  priority: number
  ip: string
  port: number
  type: string
}

/** The parts of the answer the port knows: ICE credentials, DTLS fingerprint, candidates. */
export interface AnswerTransport {
  ufrag: string
  password: string
  /** `sha-256 AB:CD:…`. */
  fingerprint: string
  candidates: HostCandidate[]
}

/** The answer's media sections (`sdp-transform`'s shape, kept out of the published types). */
export type AnswerSections = { media: object[]; accepted: string[] }

/** The id an offered section uses for `uri`, if any (1–14: one-byte form). */
export function extensionId(section: SdpMediaSection | undefined, uri: string): number | undefined {
  if (!section) return undefined
  for (const [id, u] of section.extensions) if (u === uri && id >= 1 && id <= 14) return id
  return undefined
}

/** The Dependency Descriptor extension id the answer accepts on a video section (the offer's), if any. */
export function dependencyDescriptorId(section: SdpMediaSection | undefined): number | undefined {
  return extensionId(section, DEPENDENCY_DESCRIPTOR_URI)
}

/** The answer's media sections for `offered`, receiving `video` and `audio`. */
export function publisherMedia(offered: SdpMediaSection[], video: PublisherTrack | undefined, audio: PublisherTrack | undefined, t: AnswerTransport): AnswerSections {
  const accepted: string[] = []
  const media = offered.map((m): MediaDescription => {
    const track = video?.mid === m.mid ? video : audio?.mid === m.mid ? audio : undefined
    if (!track) {
      return { type: m.kind, port: 0, protocol: 'UDP/TLS/RTP/SAVPF', payloads: m.codecs.map((c) => c.payloadType).join(' ') || '0', mid: m.mid, direction: 'inactive', rtp: [], fmtp: [] }
    }
    accepted.push(m.mid)
    const isVideo = track === video
    const pt = track.payloadType
    const ext = [MID_URI, TRANSPORT_CC_URI, ...(isVideo ? [RID_URI, DEPENDENCY_DESCRIPTOR_URI] : [])].flatMap((uri) => {
      const id = extensionId(m, uri)
      return id === undefined ? [] : [{ value: id, uri }]
    })
    const transportCc = ext.some((e) => e.uri === TRANSPORT_CC_URI)
    const rids = isVideo && extensionId(m, RID_URI) !== undefined ? m.simulcastRids : []
    return {
      type: m.kind,
      port: 9,
      protocol: 'UDP/TLS/RTP/SAVPF',
      payloads: String(pt),
      connection: { version: 4, ip: '0.0.0.0' },
      rtcp: { port: 9, netType: 'IN', ipVer: 4, address: '0.0.0.0' },
      iceUfrag: t.ufrag,
      icePwd: t.password,
      fingerprint: { type: 'sha-256', hash: t.fingerprint.replace(/^sha-256 /, '') },
      setup: 'passive',
      mid: m.mid,
      direction: 'recvonly',
      rtcpMux: 'rtcp-mux',
      rtcpRsize: 'rtcp-rsize',
      rtp: [{ payload: pt, codec: track.codec, rate: isVideo ? 90000 : 48000, ...(track.channels ? { encoding: track.channels } : {}) }],
      fmtp: track.fmtp ? [{ payload: pt, config: track.fmtp }] : [],
      rtcpFb: [
        ...(isVideo ? [{ payload: pt, type: 'nack' }, { payload: pt, type: 'nack', subtype: 'pli' }, { payload: pt, type: 'ccm', subtype: 'fir' }] : []),
        ...(transportCc ? [{ payload: pt, type: 'transport-cc' }] : []),
      ],
      ext,
      ...(m.extmapAllowMixed ? { extmapAllowMixed: 'extmap-allow-mixed' } : {}),
      ...(rids.length > 0 ? { rids: rids.map((id) => ({ id, direction: 'recv' })), simulcast: { dir1: 'recv', list1: rids.join(';') } } : {}),
      candidates: t.candidates,
      endOfCandidates: 'end-of-candidates',
    } as MediaDescription
  })
  return { media, accepted }
}
