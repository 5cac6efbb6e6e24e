/**
 * The parts of an SDP (RFC 8866; offers per RFC 8829 JSEP) Sluice reads: media sections with
 * their mid, port, direction, codecs (rtpmap/fmtp/rtcp-fb), header extensions, SSRCs and SDES
 * keys (`a=crypto`, RFC 4568), and ICE candidates of trickle fragments (RFC 8840
 * `application/trickle-ice-sdpfrag`). The grammar is `sdp-transform`'s (mediasoup's); this file
 * only shapes its output. It is Sluice's one SDP reader: WHIP, WHEP, SFU rooms and RTP ingests
 * all go through {@link parseSdp}.
 */
import { parse as parseSdpText, parsePayloads } from 'sdp-transform'
import { SdpError } from '../errors'
import type { RtpVideoCodec } from '../hub/rtp-source'

/** RTP header extension URIs Sluice negotiates (RFC 8285 `a=extmap`). */
/** The MID (RFC 9143 §15.2) extension. */
export const MID_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid'
/** RtpStreamId (RFC 8852 §3.1): a simulcast layer's rid. */
export const RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id'
/** The transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2). */
export const TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'
/** The Dependency Descriptor (RTP Payload Format for AV1, Appendix A): each packet's frame and its spatial/temporal layer. */
export const DEPENDENCY_DESCRIPTOR_URI = 'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension'

export interface SdpCodec {
  payloadType: number
  /** Encoding name as written (`H264`, `opus`, `VP8`, `rtx`...); empty without an rtpmap. */
  name: string
  /** Clock rate in Hz (0 without an rtpmap). */
  clockRate: number
  channels?: number
  /** fmtp parameters, keys lower-cased (`packetization-mode` → `1`...); bare keys map to ''. */
  fmtp: Record<string, string>
  /** rtcp-fb values for this payload type (`nack`, `nack pli`, `ccm fir`, `transport-cc`...). */
  feedback: string[]
}

/** One `a=crypto` line (RFC 4568 §9.1). */
export interface SdpCrypto {
  /** Crypto-suite name, e.g. `AES_CM_128_HMAC_SHA1_80`. */
  suite: string
  /** The `inline:` key (master key || master salt, base64), without lifetime or MKI. */
  inline: string
}

export interface SdpMediaSection {
  kind: 'audio' | 'video' | 'application' | string
  mid: string
  /** The m= line's port (0 for a rejected or bundled-away section). */
  port: number
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'
  /** One per payload type of the m= line, in its order. */
  codecs: SdpCodec[]
  /** RTP header extensions: id → URI. */
  extensions: Map<number, string>
  /** `a=extmap-allow-mixed` (RFC 8285 §6), section or session: one- and two-byte extension elements may be mixed. */
  extmapAllowMixed: boolean
  /** SSRCs announced by the offerer (a=ssrc), each once. */
  ssrcs: number[]
  /** SDES keys offered (a=crypto), in order. */
  crypto: SdpCrypto[]
  /** `a=ice-ufrag` of the section, else of the session. */
  iceUfrag?: string
  /** `a=fingerprint` of the section, else of the session, as `sha-256 AB:CD:…`. */
  fingerprint?: string
  /** `a=setup` (`actpass`, `active`, `passive`), section or session. */
  setup?: string
  /**
   * The simulcast layers the offerer sends (RFC 8853 `a=simulcast:send`, each named by an
   * `a=rid:<id> send` line, RFC 8851): rid ids in the attribute's order, the first alternative of
   * each stream, paused ones (`~`) left out. Empty without simulcast.
   */
  simulcastRids: string[]
}

export interface SdpOffer {
  media: SdpMediaSection[]
}

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive'])

/** Parses `k=v;k2=v2` (keys lower-cased and trimmed, bare keys kept with ''). */
function parseFmtp(config: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of config.split(';')) {
    const eq = kv.indexOf('=')
    const k = (eq < 0 ? kv : kv.slice(0, eq)).trim().toLowerCase()
    if (k) out[k] = eq < 0 ? '' : kv.slice(eq + 1).trim()
  }
  return out
}

/** `{ [key]: value }` when the value is there (as text), else `{}`. */
function optional<K extends string, V>(key: K, value: V | undefined, show: (v: V) => string = String): Partial<Record<K, string>> {
  return value === undefined || value === null ? {} : ({ [key]: show(value) } as Record<K, string>)
}

/** The RID grammar (RFC 8851 §10: rid-id = 1*(alpha-numeric / "-" / "_")), bounded to 64. */
const RID = /^[A-Za-z0-9_-]{1,64}$/

/** See {@link SdpMediaSection.simulcastRids}. */
function sendRids(m: ReturnType<typeof parseSdpText>['media'][number]): string[] {
  const declared = new Set((m.rids ?? []).filter((r) => r.direction === 'send').map((r) => String(r.id)))
  const sim = m.simulcast
  if (!sim) return []
  const list = sim.dir1 === 'send' ? sim.list1 : sim.dir2 === 'send' ? sim.list2 : undefined
  if (!list) return []
  const rids = String(list)
    .split(';')
    .map((stream) => stream.split(',')[0]!.trim())
    .filter((rid) => !rid.startsWith('~') && RID.test(rid) && declared.has(rid))
  return [...new Set(rids)].slice(0, 8)
}

/**
 * Reads an SDP. Throws `SdpError` (code `SDP_INVALID`) with a readable reason when the text is not an SDP (it must
 * start with `v=0`) or has no media section; unknown and malformed lines are ignored.
 */
export function parseSdp(sdp: string): SdpOffer {
  if (!/^v=0\r?\n/.test(sdp)) throw new SdpError('not an SDP: it must start with "v=0"')
  let parsed: ReturnType<typeof parseSdpText>
  try {
    parsed = parseSdpText(sdp)
  } catch (err) {
    throw new SdpError(`not a readable SDP: ${(err as Error).message}`)
  }
  const media = (parsed.media ?? []).map((m, index): SdpMediaSection => {
    const payloadTypes = parsePayloads(String(m.payloads ?? '')).filter((pt) => Number.isInteger(pt) && pt >= 0 && pt <= 127)
    const codecs = [...new Set(payloadTypes)].map((payloadType): SdpCodec => {
      const rtp = m.rtp?.find((r) => r.payload === payloadType)
      const channels = Number(rtp?.encoding)
      return {
        payloadType,
        name: rtp ? String(rtp.codec) : '',
        clockRate: rtp ? Number(rtp.rate) || 0 : 0,
        ...(rtp && Number.isInteger(channels) && channels > 0 ? { channels } : {}),
        fmtp: Object.assign({}, ...(m.fmtp ?? []).filter((f) => f.payload === payloadType).map((f) => parseFmtp(String(f.config)))),
        feedback: (m.rtcpFb ?? []).filter((f) => String(f.payload) === '*' || Number(f.payload) === payloadType).map((f) => (f.subtype ? `${f.type} ${f.subtype}` : String(f.type))),
      }
    })
    const direction = [m.direction, parsed.direction].find((d) => d && DIRECTIONS.has(d)) ?? 'sendrecv'
    const ssrcs = [...new Set((m.ssrcs ?? []).map((x) => Number(x.id)).filter((id) => Number.isInteger(id) && id >= 0 && id <= 0xffffffff))]
    return {
      kind: String(m.type ?? ''),
      mid: m.mid !== undefined ? String(m.mid) : String(index),
      port: Number(m.port) || 0,
      direction: direction as SdpMediaSection['direction'],
      codecs,
      extensions: new Map((m.ext ?? []).filter((e) => Number.isInteger(e.value)).map((e) => [e.value, String(e.uri)])),
      extmapAllowMixed: Boolean(m.extmapAllowMixed ?? parsed.extmapAllowMixed),
      ssrcs,
      ...optional('iceUfrag', m.iceUfrag ?? parsed.iceUfrag),
      ...optional('fingerprint', m.fingerprint ?? parsed.fingerprint, (f) => `${f.type} ${f.hash}`),
      ...optional('setup', m.setup ?? parsed.setup),
      simulcastRids: sendRids(m),
      crypto: (m.crypto ?? []).flatMap((c) => {
        const inline = /^inline:([^|\s]+)/.exec(String(c.config))
        return inline ? [{ suite: String(c.suite), inline: inline[1]! }] : []
      }),
    }
  })
  if (media.length === 0) throw new SdpError('the SDP has no media section (m=)')
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
export function chooseMatching(section: SdpMediaSection, codec: RtpVideoCodec, fmtp: Record<string, string>): SdpCodec | undefined {
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
