/**
 * WHEP viewers on the native media path: one UDP port for every viewer, ICE-lite, DTLS-SRTP
 * and SRTP from Sluice's Rust crates, fan-out and `sendmmsg` on the binding's own threads
 * (`WebRtcViewers`, crates/binding/src/webrtc). This file writes the SDP answer (with
 * `sdp-transform`) and maps the binding's numeric viewer ids and events onto the
 * `ViewerTransport` interface WHEP uses, so the feed and the endpoint do not know which
 * transport carries their viewers.
 *
 * The answer (RFC 8829 JSEP, RFC 8839 ICE, RFC 8842 DTLS): `a=ice-lite`, one BUNDLE group of the
 * accepted sections, `a=setup:passive` (we are the DTLS server), `a=rtcp-mux`, host candidates
 * on the port for each announced address, `sendonly` video and audio with the payload types the
 * offer used, generic NACK and PLI feedback (and transport-cc with the transport-wide sequence
 * number extension when offered; RTX, RFC 4588, with `a=ssrc-group:FID` when the offer has
 * `rtx` for the video payload type: retransmissions then go out as RTX), and the feed's SSRCs;
 * other sections are rejected (port 0).
 */
import os from 'node:os'
import { randomInt } from 'node:crypto'
import { write as writeSdp, type MediaDescription, type SessionDescription } from 'sdp-transform'
import { native } from '../native'
import type { Logger } from '../log'
import { epochMs } from './clock'
import { DEPENDENCY_DESCRIPTOR_URI, parseSdp, RID_URI, TRANSPORT_CC_URI, type SdpMediaSection } from './sdp'
import { dependencyDescriptorId, extensionId, publisherMedia, type PublisherTrack } from './native-publisher-answer'
import type { FrameStart, ViewerEvents, ViewerSpec, ViewerStats, ViewerTransport } from './viewer-protocol'
import { WebRtcError } from '../errors'

export interface NativeViewersOptions {
  /** Address the UDP port binds to. Default `0.0.0.0`. */
  bindAddress?: string
  /** The UDP port; 0 picks a free one. */
  port: number
  /**
   * Addresses put in the answer's candidates (a public address behind NAT, several interfaces).
   * Default: `bindAddress` when it names one interface, else every non-internal IPv4 address.
   */
  announcedAddresses?: string[]
  /** Send threads, each serving a share of the viewers (1–64). Default: one per core, at most 4. */
  sendThreads?: number
  /** How simulcast layers are chosen for viewers. */
  simulcast?: SimulcastPolicyOptions
}

/**
 * `webrtc.simulcast`: how each viewer's simulcast layer is chosen from its bandwidth estimate
 * (crates/rtp/src/egress/layers.rs).
 */
export interface SimulcastPolicyOptions {
  /** The highest layer a viewer gets (0 the lowest); absent or null: the top. */
  maxLayer?: number | null
  /** Under this estimate (bit/s; after the audio with `audioFirst`) a viewer's video pauses, audio only, until the estimate is 1.25 × it and the lowest layer fits. 0 (default): never. */
  pauseVideoBelowBps?: number
  /** The estimate covers the audio first; layers are fitted in what it leaves. Default true. */
  audioFirst?: boolean
}

interface NativeViewer {
  id: string
  native: number
  events: ViewerEvents
}

/** An RTX stream for the video (RFC 4588): its payload type and SSRC. */
interface Rtx {
  payloadType: number
  ssrc: number
}

/**
 * The offer's RTX payload type for video payload type `apt` (`a=rtpmap:N rtx/90000` with
 * `a=fmtp:N apt=<apt>`, RFC 4588 §8.6), and the RTX SSRC: the feed's video SSRC with its bits
 * mixed, so every viewer of a feed announces the same pair.
 */
function rtxFor(section: SdpMediaSection, apt: number, videoSsrc: number): Rtx | undefined {
  const codec = section.codecs.find((c) => c.name.toLowerCase() === 'rtx' && c.clockRate === 90000 && c.fmtp.apt === String(apt))
  return codec ? { payloadType: codec.payloadType, ssrc: (videoSsrc ^ 0x5bd1e995) >>> 0 } : undefined
}

/** The offer's id for the transport-wide sequence number extension, if a section has one. */
function transportCcId(sections: SdpMediaSection[]): number | undefined {
  for (const m of sections) {
    const id = extensionId(m, TRANSPORT_CC_URI)
    if (id !== undefined) return id
  }
  return undefined
}

type NativeEvent = { type: string; id: number; state?: string; reason?: string; packetsSent?: number; bytesSent?: number; data?: Buffer; ends?: number[]; ssrc?: number; rid?: string; streamKey?: string }

/** What the owner of a publisher on the native port (WHIP) hears. */
export interface NativePublisherEvents {
  /** `connecting` (ICE nominated a pair) or `connected` (DTLS done, SRTP keyed). */
  onState(state: string): void
  /** Decrypted RTP packets and the publisher's sender reports (RTCP SR), in arrival order: packet `i` ends at `ends[i]`. */
  onPackets(data: Buffer, ends: number[]): void
  /** RTP stream `ssrc` is simulcast layer `rid` (reported once, before its packets). */
  onRid(ssrc: number, rid: string): void
  /** The peer is gone (consent expired, DTLS closed, connect timeout, closed by us). */
  onClosed(reason: string): void
}

/** A WHIP offer to receive on the native port. */
export interface NativePublisherSpec {
  /** The offer's sections, as parsed. */
  offered: SdpMediaSection[]
  video?: PublisherTrack
  audio?: PublisherTrack
  /** Our SSRC in the RTCP we send the publisher. */
  ssrc: number
}

/** A layer policy as the binding takes it (`null` max layer: absent), or undefined for none. */
function nativePolicy(policy: SimulcastPolicyOptions | null | undefined) {
  return policy ? { maxLayer: policy.maxLayer ?? undefined, pauseVideoBelowBps: policy.pauseVideoBelowBps, audioFirst: policy.audioFirst } : undefined
}

/** The addresses to announce when none are configured. */
function defaultAddresses(bindAddress: string): string[] {
  if (bindAddress !== '0.0.0.0' && bindAddress !== '::') return [bindAddress]
  const found = Object.values(os.networkInterfaces())
    .flat()
    .filter((i): i is os.NetworkInterfaceInfo => !!i && i.family === 'IPv4' && !i.internal)
    .map((i) => i.address)
  return found.length > 0 ? found : ['127.0.0.1']
}

export class NativeViewers implements ViewerTransport {
  readonly #host: InstanceType<typeof native.WebRtcViewers>
  readonly #log: Logger
  readonly #addresses: string[]
  readonly #byId = new Map<string, NativeViewer>()
  readonly #byNative = new Map<number, NativeViewer>()
  readonly #publishers = new Map<number, NativePublisherEvents>()
  #nextId = 1
  #closed = false
  readonly processes = 0
  readonly processExits = 0

  /** Binds the port. Throws an `Error` whose message starts with `WEBRTC_BIND_FAILED` when it cannot. */
  constructor(log: Logger, options: NativeViewersOptions) {
    this.#log = log.child({ component: 'webrtc-native' })
    const bindAddress = options.bindAddress ?? '0.0.0.0'
    this.#host = new native.WebRtcViewers({ bindAddress, port: options.port, sendThreads: options.sendThreads, simulcast: nativePolicy(options.simulcast) }, (e: NativeEvent) => this.#onEvent(e))
    this.#addresses = options.announcedAddresses?.length ? options.announcedAddresses : defaultAddresses(bindAddress)
    this.#log.info({ port: this.#host.port, announced: this.#addresses }, 'native WebRTC port open')
  }

  /** The UDP port every native viewer uses. */
  get port(): number {
    return this.#host.port
  }

  get size(): number {
    return this.#byId.size
  }

  /**
   * The accepted sections of an offer (by mid) and the first one's DTLS parameters. Throws
   * `WebRtcError`: `WEBRTC_TRANSPORT_CLOSED` after `close()`, `WEBRTC_OFFER_UNSUPPORTED` for an
   * offer without a fingerprint or that wants to be the DTLS server (we answer passive only).
   */
  #sections(offered: SdpMediaSection[], videoMid: string | undefined, audioMid: string | undefined): { video?: SdpMediaSection; audio?: SdpMediaSection; first: SdpMediaSection & { fingerprint: string } } {
    if (this.#closed) throw new WebRtcError('WEBRTC_TRANSPORT_CLOSED', 'the native WebRTC transport is closed')
    const video = videoMid === undefined ? undefined : offered.find((m) => m.mid === videoMid)
    const audio = audioMid === undefined ? undefined : offered.find((m) => m.mid === audioMid)
    const first = video ?? audio
    if (!first?.fingerprint) throw new WebRtcError('WEBRTC_OFFER_UNSUPPORTED', 'the offer has no a=fingerprint')
    if (first.setup === 'passive') throw new WebRtcError('WEBRTC_OFFER_UNSUPPORTED', 'the offer wants to be the DTLS server (a=setup:passive); Sluice answers passive only')
    return { video, audio, first: first as SdpMediaSection & { fingerprint: string } }
  }

  async create(spec: ViewerSpec, events: ViewerEvents): Promise<string> {
    const offer = parseSdp(spec.offer)
    const { video, audio, first } = this.#sections(offer.media, spec.video?.mid, spec.audio?.mid)
    const nativeId = this.#nextId++ >>> 0
    const transportCc = transportCcId([video, audio].filter((m): m is SdpMediaSection => !!m))
    const rtx = spec.video && video ? rtxFor(video, spec.video.payloadType, spec.video.ssrc) : undefined
    // the Dependency Descriptor (an AV1 SVC stream's frames per spatial layer): its key frames'
    // structure needs the two-byte form, so only with a=extmap-allow-mixed
    const dd = spec.video && video?.extmapAllowMixed ? dependencyDescriptorId(video) : undefined
    const credentials = this.#host.addViewer({
      id: nativeId,
      streamKey: spec.streamKey,
      remoteUfrag: first.iceUfrag,
      remoteFingerprint: first.fingerprint,
      videoPayloadType: spec.video?.payloadType,
      audioPayloadType: spec.audio?.payloadType,
      transportCcId: transportCc,
      rtxPayloadType: rtx?.payloadType,
      rtxSsrc: rtx?.ssrc,
      pathGroup: spec.pathGroup,
      dependencyDescriptorId: dd,
    })
    const v: NativeViewer = { id: spec.id, native: nativeId, events }
    this.#byId.set(spec.id, v)
    this.#byNative.set(nativeId, v)
    return this.#answer(spec, offer.media, credentials, transportCc, rtx, dd)
  }

  /**
   * Receives a WHIP publisher on this port: returns its id (for `sendRtcp`, `closePublisher`)
   * and the SDP answer (see native-publisher-answer.ts). Throws `WebRtcError`
   * (`WEBRTC_OFFER_UNSUPPORTED`) for an offer without a fingerprint or that wants to be the DTLS
   * server, `WEBRTC_TRANSPORT_CLOSED` after `close()`.
   */
  addPublisher(spec: NativePublisherSpec, events: NativePublisherEvents): { id: number; answer: string } {
    const { video, audio, first } = this.#sections(spec.offered, spec.video?.mid, spec.audio?.mid)
    const id = this.#nextId++ >>> 0
    const credentials = this.#host.addPublisher({
      id,
      remoteUfrag: first.iceUfrag,
      remoteFingerprint: first.fingerprint,
      transportCcId: transportCcId([video, audio].filter((m): m is SdpMediaSection => !!m)),
      ssrc: spec.ssrc,
      ridId: extensionId(video, RID_URI),
    })
    this.#publishers.set(id, events)
    const { media, accepted } = publisherMedia(spec.offered, spec.video, spec.audio, { ...credentials, fingerprint: this.#host.fingerprint, candidates: this.#candidates() })
    return { id, answer: this.#session(media as MediaDescription[], accepted) }
  }

  /** Sends an RTCP packet (RR, NACK, PLI) to publisher `id`, protected; dropped before it is connected. */
  sendRtcp(id: number, packet: Buffer): void {
    if (this.#publishers.has(id)) this.#host.sendRtcp(id, packet)
  }

  /** Closes publisher `id` (idempotent); its `onClosed` follows. */
  closePublisher(id: number): void {
    if (this.#publishers.has(id)) this.#host.closeViewer(id)
  }

  #candidates(): NonNullable<MediaDescription['candidates']> {
    const port = this.#host.port
    return this.#addresses.map((ip, i) => ({ foundation: String(i + 1), component: 1, transport: 'udp', priority: 2130706431 - i, ip, port, type: 'host' }))
  }

  /** The session around answer sections: ICE-lite, one BUNDLE group of the accepted ones. */
  #session(media: MediaDescription[], accepted: string[], msid?: string): string {
    const session = {
      version: 0,
      origin: { username: '-', sessionId: randomInt(2 ** 47), sessionVersion: 2, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
      name: '-',
      timing: { start: 0, stop: 0 },
      icelite: 'ice-lite',
      groups: accepted.length ? [{ type: 'BUNDLE', mids: accepted.join(' ') }] : [],
      ...(msid ? { msidSemantic: { semantic: 'WMS', token: msid } } : {}),
      media,
    } as SessionDescription
    return writeSdp(session)
  }

  #answer(spec: ViewerSpec, offered: SdpMediaSection[], ice: { ufrag: string; password: string }, transportCc: number | undefined, rtx: Rtx | undefined, dd: number | undefined): string {
    const candidates = this.#candidates()
    const accepted: string[] = []
    const media = offered.map((m): MediaDescription => {
      const video = spec.video?.mid === m.mid ? spec.video : undefined
      const audio = spec.audio?.mid === m.mid ? spec.audio : undefined
      const pt = video?.payloadType ?? audio?.payloadType
      if (pt === undefined) {
        // Rejected: port 0, the offered payloads kept so the line stays valid (RFC 8829 §5.3.1).
        return { type: m.kind, port: 0, protocol: 'UDP/TLS/RTP/SAVPF', payloads: m.codecs.map((c) => c.payloadType).join(' ') || '0', mid: m.mid, direction: 'inactive', rtp: [], fmtp: [] }
      }
      accepted.push(m.mid)
      const ssrc = (video ?? audio)!.ssrc
      const track = `${spec.msid}-${video ? 'video' : 'audio'}`
      const fmtp = (video ?? audio)!.fmtp
      return {
        type: m.kind,
        port: 9,
        protocol: 'UDP/TLS/RTP/SAVPF',
        payloads: video && rtx ? `${pt} ${rtx.payloadType}` : String(pt),
        connection: { version: 4, ip: '0.0.0.0' },
        rtcp: { port: 9, netType: 'IN', ipVer: 4, address: '0.0.0.0' },
        iceUfrag: ice.ufrag,
        icePwd: ice.password,
        fingerprint: { type: 'sha-256', hash: this.#host.fingerprint.replace(/^sha-256 /, '') },
        setup: 'passive',
        mid: m.mid,
        direction: 'sendonly',
        rtcpMux: 'rtcp-mux',
        msid: [{ id: spec.msid, appdata: track }],
        rtp: [video ? { payload: pt, codec: video.codec, rate: 90000 } : { payload: pt, codec: 'opus', rate: 48000, encoding: 2 }, ...(video && rtx ? [{ payload: rtx.payloadType, codec: 'rtx', rate: 90000 }] : [])],
        fmtp: [...(fmtp ? [{ payload: pt, config: fmtp }] : []), ...(video && rtx ? [{ payload: rtx.payloadType, config: `apt=${pt}` }] : [])],
        rtcpFb: video
          ? [{ payload: pt, type: 'nack' }, { payload: pt, type: 'nack', subtype: 'pli' }, ...(transportCc ? [{ payload: pt, type: 'transport-cc' }] : [])]
          : [],
        ext: [
          ...(transportCc && m.extensions.get(transportCc) === TRANSPORT_CC_URI ? [{ value: transportCc, uri: TRANSPORT_CC_URI }] : []),
          ...(video && dd !== undefined ? [{ value: dd, uri: DEPENDENCY_DESCRIPTOR_URI }] : []),
        ],
        ...(video && dd !== undefined ? { extmapAllowMixed: 'extmap-allow-mixed' } : {}),
        ssrcs: [
          { id: ssrc, attribute: 'cname', value: spec.cname },
          { id: ssrc, attribute: 'msid', value: `${spec.msid} ${track}` },
          ...(video && rtx ? [{ id: rtx.ssrc, attribute: 'cname', value: spec.cname }, { id: rtx.ssrc, attribute: 'msid', value: `${spec.msid} ${track}` }] : []),
        ],
        ...(video && rtx ? { ssrcGroups: [{ semantics: 'FID', ssrcs: `${ssrc} ${rtx.ssrc}` }] } : {}),
        candidates,
        endOfCandidates: 'end-of-candidates',
      } as MediaDescription
    })
    return this.#session(media, accepted, spec.msid)
  }

  #onEvent(e: NativeEvent): void {
    const p = this.#publishers.get(e.id)
    if (p) return this.#onPublisherEvent(e, p)
    const v = this.#byNative.get(e.id)
    if (!v) return
    switch (e.type) {
      case 'state':
        v.events.onState(e.state === 'selected' ? 'connecting' : (e.state ?? 'unknown'))
        return
      case 'keyframe':
        v.events.onKeyframeRequest(e.reason ?? 'pli', e.streamKey)
        return
      case 'closed':
        this.#byNative.delete(e.id)
        if (this.#byId.get(v.id) === v) this.#byId.delete(v.id)
        v.events.onClosed(e.reason ?? 'closed', e.packetsSent ?? 0, e.bytesSent ?? 0)
    }
  }

  #onPublisherEvent(e: NativeEvent, p: NativePublisherEvents): void {
    switch (e.type) {
      case 'rtp':
        if (e.data && e.ends) p.onPackets(e.data, e.ends)
        return
      case 'rid':
        if (e.ssrc !== undefined && e.rid) p.onRid(e.ssrc, e.rid)
        return
      case 'state':
        p.onState(e.state === 'selected' ? 'connecting' : (e.state ?? 'unknown'))
        return
      case 'closed':
        this.#publishers.delete(e.id)
        p.onClosed(e.reason ?? 'closed')
    }
  }

  /** ICE-lite learns the browser's addresses from its checks: trickled candidates are not needed. */
  addCandidate(): void {}

  /**
   * Closes one viewer. It leaves {@link size} at once; its `onClosed` (with the final counters) follows
   * when the native side reports it closed.
   */
  closeViewer(id: string): void {
    const v = this.#byId.get(id)
    if (!v) return
    this.#byId.delete(id)
    this.#host.closeViewer(v.native)
  }

  /** `at`: when the source message arrived (`epochMs()`), for the server-hop samples in `stats()`. */
  media(streamKey: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, at?: number, start?: FrameStart): void {
    if (this.#byId.size === 0) return
    this.#host.media(streamKey, kind, data, ends, at === undefined || Number.isNaN(at) ? undefined : epochMs() - at, start)
  }

  setLayers(streamKey: string, layers: string[], scalable = false, withoutDescriptorMaxLayer?: number): void {
    if (!this.#closed) this.#host.setLayers(streamKey, layers, scalable, withoutDescriptorMaxLayer)
  }

  setLayerPolicy(streamKey: string, policy: SimulcastPolicyOptions | null): void {
    if (!this.#closed) this.#host.setLayerPolicy(streamKey, nativePolicy(policy))
  }

  pinLayer(id: string, index: number | null): void {
    const v = this.#byId.get(id)
    if (v) this.#host.pinLayer(v.native, index ?? undefined)
  }

  inject(id: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, seqOffset: number, live: boolean): void {
    const v = this.#byId.get(id)
    if (v) this.#host.inject(v.native, kind, data, ends, seqOffset, live)
  }

  anchor(streamKey: string, kind: 'video' | 'audio', rtpTimestamp: number, wallMs: number): void {
    if (this.#byId.size > 0) this.#host.anchor(streamKey, kind, rtpTimestamp >>> 0, wallMs)
  }

  async stats(): Promise<ViewerStats> {
    const s = this.#host.stats()
    const viewers = s.viewers.flatMap((c) => {
      const v = this.#byNative.get(c.id)
      return v ? [{ id: v.id, packetsSent: c.packetsSent, bytesSent: c.bytesSent, nacks: c.nacks, retransmitted: c.retransmitted, sendFailures: c.sendFailures, transportFeedback: c.transportFeedback, estimateBps: c.estimateBps, receivedBps: c.receivedBps, retransmissionsRefused: c.retransmissionsRefused, ...(c.videoStream ? { videoStream: c.videoStream, probePackets: c.probePackets, videoPaused: c.videoPaused } : {}), ...(c.switchingTo ? { switchingTo: c.switchingTo } : {}) }] : []
    })
    return { viewers, latencyMs: s.latencyMs, queueMs: s.queueMs, lagEvents: 0, packetsSkipped: 0, unanswered: 0 }
  }

  resetLatency(): void {
    this.#host.resetLatency()
  }

  /** Port-level counters: datagrams in, unrouted, `sendmmsg` calls, datagrams out and refused, frames dropped behind a full send queue. */
  portStats(): { datagramsIn: number; unrouted: number; sendCalls: number; datagramsOut: number; sendFailed: number; framesDropped: number } {
    const { viewers: _viewers, latencyMs: _latency, queueMs: _queue, ...port } = this.#host.stats()
    return port
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#host.close()
  }
}
