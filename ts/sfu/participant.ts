/**
 * `SfuParticipant`: one peer of an `sfu` or `mcu` room. Its node-datachannel PeerConnection to
 * the server carries its uplink (what it publishes, into a `WebRtcPublisher`) and its `chat` data
 * channel; what it receives comes over one receive-only PeerConnection per stream (`SfuDownlink`,
 * on the viewer transport WHEP uses, `webrtc.transport`: the native port or node-datachannel).
 *
 * Negotiation (RFC 8829 JSEP; the client always offers, the server answers):
 * 1. the participant's own PeerConnection: the client offers (its camera/microphone and the data
 *    channel) and may offer again; the server answers once ICE gathering is complete (at most
 *    `GATHER_TIMEOUT_MS`), later candidates trickle;
 *    A client that wants to publish simulcast offers its camera on a PeerConnection of its own
 *    instead (`offer` with `publish: true`), received on the native port (ICE-lite, DTLS-SRTP,
 *    `a=rid` layers; `native-ingest.ts`); its own PeerConnection then carries the chat only;
 * 2. the server announces each stream the participant may receive (`stream-added`: another
 *    participant that publishes, or `mix`) and its end (`stream-removed`); the client offers a
 *    receive-only PeerConnection with `stream` set, the server answers with `stream` set.
 * Signaling steps of one participant run in order (one promise chain).
 */
import nodeDataChannel from 'node-datachannel'
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { IceCandidate } from '../signaling/protocol'
import type { SfuOutgoingMessage } from '../signaling/sfu-handler'
import { TokenBucket } from '../signaling/rate-limit'
import { WebRtcPublisher } from '../webrtc/rtp-publisher'
import type { RtpSource } from '../hub/rtp-source'
import type { WebRtcOptions } from '../webrtc/whep'
import { addUplinkTracks, planUplink, type Track, type UplinkPlan } from './uplink'
import { SfuDownlink, type DownlinkStats } from './downlink'
import type { ViewerCounters } from '../webrtc/viewer-protocol'
import type { SfuEgress } from './egress'
import { CHAT_LABEL, parseDataMessage, type DownlinkLayers } from './chat'
import { WebRtcError } from '../errors'
import type { NativeViewers } from '../webrtc/native-viewers'
import { receiveOnNativePort } from '../webrtc/native-ingest'
import { dependencyDescriptorId } from '../webrtc/native-publisher-answer'
import type { WebRtcPublisherStats } from '../webrtc/rtp-publisher'

const { PeerConnection } = nodeDataChannel
type PeerConnection = InstanceType<typeof PeerConnection>
type DataChannel = ReturnType<PeerConnection['createDataChannel']>

/** How long ICE gathering may take before the first answer goes out with what it has, ms. */
export const GATHER_TIMEOUT_MS = 3000

/** Chat messages a participant may send through its data channel: per second, and burst. */
const CHAT_RATE = { perSecond: 10, burst: 30 }

export interface ParticipantOptions {
  room: string
  peerId: string
  remoteAddress: string
  /** Hub app and stream name of the participant's published stream. */
  app: string
  streamName: string
  hub: StreamHub
  /** The RTP egress of the SFU's downlinks (shared by every participant). */
  egress: SfuEgress
  /** The native port (`webrtc.transport: native`), which receives `publish` offers; null: none. */
  native: NativeViewers | null
  log: Logger
  ice: Pick<WebRtcOptions, 'iceServers' | 'bindAddress' | 'portRangeBegin' | 'portRangeEnd'>
  /** Sends a signaling message to this participant (`from: 'sfu'` is added). */
  signal(message: SfuOutgoingMessage): boolean
  /** The first negotiation is done: the uplink (if any) is publishing, streams may be announced. Again when a `publish` PeerConnection starts publishing. */
  onReady(p: SfuParticipant): void
  /** A chat line came through the data channel. */
  onChat(p: SfuParticipant, text: string): void
  /** The PeerConnection failed or closed: its media are gone. */
  onMediaEnded(p: SfuParticipant, reason: string): void
}

export interface ParticipantStats {
  peerId: string
  /** Its own PeerConnection's state and signaling state. */
  state: string
  signalingState: string
  /** Its published hub stream (`app/name`), or null. */
  stream: string | null
  /** Where its uplink is received: its own PeerConnection, the native port (`publish` offer), or none. */
  uplink: 'peer-connection' | 'native' | null
  /** The uplink's receive counters (per simulcast layer too), while it publishes. */
  publisher: WebRtcPublisherStats | null
  chat: string
  /** Answers to its own PeerConnection's offers. */
  answers: number
  /** Streams announced to it (peer ids, `mix`). */
  available: string[]
  downlinks: DownlinkStats[]
}

export class SfuParticipant {
  readonly id: string
  readonly #o: ParticipantOptions
  readonly #log: Logger
  #pc: PeerConnection | null = null
  #plan: UplinkPlan | null = null
  #publisher: WebRtcPublisher | null = null
  #uplink: { video: Track | null; audio: Track | null } = { video: null, audio: null }
  /** Its publisher's id on the native port (a `publish` offer), or null. */
  #nativeUplink: number | null = null
  /** Tracks libdatachannel made for m-lines we did not take (kept referenced, or GC closes them). */
  readonly #otherTracks: Track[] = []
  #chat: DataChannel | null = null
  readonly #chatBucket = new TokenBucket(CHAT_RATE.perSecond, CHAT_RATE.burst)
  /** Streams announced to it: id → source. */
  readonly #available = new Map<string, RtpSource>()
  readonly #downlinks = new Map<string, SfuDownlink>()
  #chain: Promise<void> = Promise.resolve()
  /** The first answer went out. */
  #ready = false
  #counts = { answers: 0, chatDropped: 0 }
  #closed = false

  constructor(options: ParticipantOptions) {
    this.id = options.peerId
    this.#o = options
    this.#log = options.log.child({ room: options.room, peer: options.peerId })
  }

  /** Whether the first negotiation is done. */
  get ready(): boolean {
    return this.#ready && !this.#closed
  }

  /** The hub publisher of this participant's media, while it publishes. */
  get publisher(): WebRtcPublisher | null {
    return this.#publisher
  }

  /** Runs signaling steps in order; a failing step is logged and ends nothing else. */
  #queue(step: () => void | Promise<void>): Promise<void> {
    const run = this.#chain.then(() => (this.#closed ? undefined : step()))
    this.#chain = run.catch((err) => this.#log.warn({ err: String(err) }, 'SFU signaling step failed'))
    return run
  }

  /**
   * The client's offer for its own PeerConnection (no `stream`): the first one sets it up, later
   * ones are answered; or for a receive-only PeerConnection of an announced `stream`, answered by
   * a new `SfuDownlink` (one before it for the same stream is closed). Rejects on a malformed or
   * unanswerable offer, or a stream not announced (`WebRtcError`).
   */
  handleOffer(sdp: string, stream?: string, publish?: boolean): Promise<void> {
    if (stream !== undefined) return this.#queue(() => this.#subscribe(stream, sdp))
    if (publish) return this.#queue(() => this.#publishNative(sdp))
    return this.#queue(() => (this.#pc ? this.#reoffer(this.#pc, sdp) : this.#firstOffer(sdp)))
  }

  /** A trickled remote candidate of its own PeerConnection, or of `stream`'s (`null` or an empty candidate ends them: nothing to do). */
  addCandidate(candidate: IceCandidate, stream?: string): Promise<void> {
    return this.#queue(() => {
      if (!candidate?.candidate) return
      if (stream !== undefined) {
        this.#downlinks.get(stream)?.addCandidate(candidate.candidate, candidate.sdpMid ?? '0')
        return
      }
      if (!this.#pc) return
      try {
        this.#pc.addRemoteCandidate(candidate.candidate, candidate.sdpMid ?? this.#plan?.video?.mid ?? '0')
      } catch (err) {
        this.#log.debug({ err: String(err) }, 'remote candidate refused')
      }
    })
  }

  async #firstOffer(sdp: string): Promise<void> {
    const plan = planUplink(sdp)
    this.#plan = plan
    const ice = this.#o.ice
    const pc = new PeerConnection(`sfu-${this.#o.room}-${this.id}`, {
      iceServers: ice.iceServers,
      bindAddress: ice.bindAddress,
      portRangeBegin: ice.portRangeBegin,
      portRangeEnd: ice.portRangeEnd,
      enableIceUdpMux: false,
    })
    this.#pc = pc
    pc.onStateChange((state) => this.#onState(state))
    pc.onTrack((track) => this.#otherTracks.push(track))
    pc.onDataChannel((dc) => this.#onDataChannel(dc))
    pc.onLocalCandidate((candidate, mid) => {
      // candidates found after the first answer (which carries those found before) trickle
      if (this.#ready && !this.#closed) this.#o.signal({ type: 'candidate', candidate: { candidate: candidate.replace(/^a=/, ''), sdpMid: mid } })
    })
    if (plan.video || plan.audio) {
      const publisher = this.#startPublisher(plan, (kind, packet) => {
        const t = this.#uplink[kind]
        try {
          if (t?.isOpen()) t.sendMessageBinary(packet)
        } catch {
          // the track is closing
        }
      })
      this.#uplink = addUplinkTracks(pc, plan, (kind, packet) => publisher.push(kind, packet))
    }
    pc.setRemoteDescription(sdp, 'offer')
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, GATHER_TIMEOUT_MS)
      pc.onGatheringStateChange((state) => {
        if (state === 'complete') {
          clearTimeout(timer)
          resolve()
        }
      })
      if (pc.gatheringState() === 'complete') {
        clearTimeout(timer)
        resolve()
      }
    })
    if (this.#closed) return
    const answer = pc.localDescription()
    if (!answer || answer.type !== 'answer') throw new WebRtcError('WEBRTC_NEGOTIATION_FAILED', `no answer to the offer (local description: ${answer?.type ?? 'none'})`)
    this.#o.signal({ type: 'answer', sdp: answer.sdp })
    this.#counts.answers++
    this.#ready = true
    this.#log.info({ video: plan.video?.codec ?? null, audio: plan.audio ? 'opus' : null, stream: this.#publisher ? `${this.#o.app}/${this.#o.streamName}` : null }, 'SFU participant answered')
    this.#o.onReady(this)
  }

  /**
   * Publishes `plan` as this participant's hub stream (`simulcast`: the layers' rids, lowest
   * first). Throws `WebRtcError` `WEBRTC_OFFER_UNSUPPORTED` when it publishes already, and
   * `RequestRejectedError` when the hub stream is taken.
   */
  #startPublisher(plan: UplinkPlan, sendRtcp: (kind: 'video' | 'audio', packet: Buffer) => void, simulcast?: string[], dependencyDescriptorId?: number): WebRtcPublisher {
    if (this.#publisher) throw new WebRtcError('WEBRTC_OFFER_UNSUPPORTED', 'this participant publishes already (one camera per participant)')
    this.#publisher = new WebRtcPublisher(this.#o.hub, this.#log, {
      app: this.#o.app,
      name: this.#o.streamName,
      protocol: 'sfu',
      remoteAddress: this.#o.remoteAddress,
      video: plan.video ? { codec: plan.video.codec, payloadType: plan.video.payloadType, fmtp: plan.video.fmtp, dependencyDescriptorId } : null,
      audio: plan.audio ? { payloadType: plan.audio.payloadType, channels: plan.audio.channels } : null,
      sendRtcp,
      simulcast,
    })
    return this.#publisher
  }

  /**
   * A `publish` offer: the participant's camera (simulcast welcome) on a PeerConnection of its
   * own, received on the native port; answered at once (ICE-lite: the port's host candidates are
   * in the answer). Throws `WebRtcError` `WEBRTC_OFFER_UNSUPPORTED` without a native port, for an
   * offer that sends nothing we can receive, or when the participant publishes already.
   */
  #publishNative(sdp: string): void {
    const port = this.#o.native
    if (!port) throw new WebRtcError('WEBRTC_OFFER_UNSUPPORTED', 'publish offers are received on the native port only (webrtc.transport: native); publish on your own PeerConnection')
    const plan = planUplink(sdp)
    if (!plan.video && !plan.audio) throw new WebRtcError('WEBRTC_OFFER_UNSUPPORTED', 'the publish offer sends no H.264/VP8/VP9/AV1 video and no Opus audio')
    const dd = dependencyDescriptorId(plan.offered.find((m) => m.mid === plan.video?.mid))
    const publisher = this.#startPublisher(plan, (_kind, packet) => this.#nativeUplink !== null && port.sendRtcp(this.#nativeUplink, packet), plan.simulcast.length > 1 ? plan.simulcast : undefined, dd)
    let added: { id: number; answer: string }
    try {
      added = receiveOnNativePort(port, plan.offered, plan, publisher, {
        onState: (state) => {
          if (state !== 'connected' || this.#closed) return
          this.#log.info({ simulcast: plan.simulcast }, 'SFU participant publishing on the native port')
          publisher.requestKeyframe('SFU participant connected')
        },
        onClosed: (reason) => {
          if (this.#nativeUplink === null || this.#closed) return
          this.#nativeUplink = null
          this.#o.onMediaEnded(this, `publish peer closed: ${reason}`)
        },
      })
    } catch (error) {
      this.#publisher = null
      publisher.close('publish offer refused')
      throw error
    }
    this.#nativeUplink = added.id
    this.#o.signal({ type: 'answer', sdp: added.answer, publish: true })
    this.#counts.answers++
    this.#log.info({ video: plan.video?.codec ?? null, audio: plan.audio ? 'opus' : null, simulcast: plan.simulcast, stream: `${this.#o.app}/${this.#o.streamName}` }, 'SFU participant publish offer answered (native port)')
    if (this.#ready) this.#o.onReady(this)
  }

  #reoffer(pc: PeerConnection, sdp: string): void {
    pc.setRemoteDescription(sdp, 'offer')
    const answer = pc.localDescription()
    if (!answer || answer.type !== 'answer') throw new WebRtcError('WEBRTC_NEGOTIATION_FAILED', `no answer to the offer (local description: ${answer?.type ?? 'none'})`)
    this.#o.signal({ type: 'answer', sdp: answer.sdp })
    this.#counts.answers++
  }

  /** Announces another participant's stream (`from`'s publisher) to this one. Needs both participants ready. */
  offerParticipant(from: SfuParticipant): void {
    if (from === this || !from.publisher) return
    this.announce(from.id, from.publisher.rtpSource)
  }

  /**
   * Announces stream `id` (another participant's, or an `mcu` room's mix for this one):
   * `stream-added`, which the client answers with an offer for it.
   */
  announce(id: string, source: RtpSource): void {
    if (this.#closed || this.#available.get(id) === source) return
    this.#available.set(id, source)
    this.#o.signal({ type: 'stream-added', stream: id })
  }

  /** Stream `id` ended: its downlink closes, the client is told (`stream-removed`). */
  withdraw(id: string): void {
    if (!this.#available.delete(id)) return
    this.#downlinks.get(id)?.close()
    this.#downlinks.delete(id)
    if (!this.#closed) this.#o.signal({ type: 'stream-removed', stream: id })
  }

  async #subscribe(stream: string, sdp: string): Promise<void> {
    const source = this.#available.get(stream)
    if (!source) throw new WebRtcError('WEBRTC_OFFER_UNSUPPORTED', `no stream ${stream} was announced to this participant`)
    this.#downlinks.get(stream)?.close()
    const downlink = new SfuDownlink(stream, source, this.#o.room, `${this.#o.room}/${this.id}`, this.#o.egress, this.#log.child({ publisher: stream }), (reason) => {
      if (this.#downlinks.get(stream) !== downlink) return
      this.#downlinks.delete(stream)
      this.#log.info({ publisher: stream, reason }, 'SFU downlink ended')
    })
    this.#downlinks.set(stream, downlink)
    const answer = await downlink.answer(sdp, this.#o.ice)
    if (this.#closed || this.#downlinks.get(stream) !== downlink) return
    this.#o.signal({ type: 'answer', sdp: answer, stream })
  }

  /** Sends a text message on the chat data channel; false when it is not open. */
  sendData(text: string): boolean {
    const dc = this.#chat
    if (!dc || this.#closed) return false
    try {
      return dc.isOpen() && dc.sendMessage(text)
    } catch {
      return false
    }
  }

  #onDataChannel(dc: DataChannel): void {
    if (dc.getLabel() !== CHAT_LABEL || this.#chat) {
      this.#log.debug({ label: dc.getLabel() }, 'data channel closed: only one `chat` channel is relayed')
      dc.close()
      return
    }
    this.#chat = dc
    dc.onMessage((message) => {
      const m = parseDataMessage(message)
      if (m === null || !this.#chatBucket.take()) {
        if (this.#counts.chatDropped++ % 100 === 0) this.#log.info({ dropped: this.#counts.chatDropped }, 'data channel message dropped (not a chat or layer message, or over the rate)')
        return
      }
      if (m.type === 'chat') return this.#o.onChat(this, m.text)
      try {
        this.#downlinks.get(m.stream)?.pin(m.rid)
      } catch (error) {
        this.#log.info({ stream: m.stream, rid: m.rid, reason: (error as Error).message }, 'layer message ignored')
      }
    })
    dc.onClosed(() => {
      if (this.#chat === dc) this.#chat = null
    })
  }

  #onState(state: string): void {
    if (state === 'connected') {
      this.#log.info('SFU participant connected')
      this.#publisher?.requestKeyframe('SFU participant connected')
    }
    if ((state === 'failed' || state === 'closed') && !this.#closed) {
      this.#o.onMediaEnded(this, `peer connection ${state}`)
    }
  }

  /** Whether a downlink of a simulcast stream is open (it gets `layers` messages). */
  get hasLayeredDownlinks(): boolean {
    for (const d of this.#downlinks.values()) if (d.layerRids.length > 0) return true
    return false
  }

  /** Sends `{"type":"layers","downlinks":[...]}` on the data channel: each simulcast downlink's layer and estimate (`viewers`: the transport's counters). */
  sendLayers(viewers: Map<string, ViewerCounters>): void {
    const downlinks: DownlinkLayers[] = []
    for (const d of this.#downlinks.values()) {
      const layers = d.layers(viewers.get(d.id))
      if (layers) downlinks.push(layers)
    }
    if (downlinks.length > 0) this.sendData(JSON.stringify({ type: 'layers', downlinks }))
  }

  /** `viewers`: the transport's counters by viewer id (`ViewerTransport.stats()`). */
  stats(viewers: Map<string, ViewerCounters>): ParticipantStats {
    return {
      peerId: this.id,
      state: this.#pc?.state() ?? 'new',
      signalingState: this.#pc?.signalingState() ?? 'new',
      stream: this.#publisher ? `${this.#o.app}/${this.#o.streamName}` : null,
      uplink: this.#publisher ? (this.#nativeUplink !== null ? 'native' : 'peer-connection') : null,
      publisher: this.#publisher?.stats() ?? null,
      chat: this.#chat?.isOpen() ? 'open' : 'closed',
      answers: this.#counts.answers,
      available: [...this.#available.keys()],
      downlinks: [...this.#downlinks.values()].map((d) => d.stats(viewers.get(d.id))),
    }
  }

  /** Unpublishes, closes every downlink, the data channel and the PeerConnection. Idempotent. */
  close(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    for (const d of this.#downlinks.values()) d.close()
    this.#downlinks.clear()
    this.#available.clear()
    this.#publisher?.close(reason)
    this.#publisher = null
    if (this.#nativeUplink !== null) this.#o.native?.closePublisher(this.#nativeUplink)
    this.#nativeUplink = null
    try {
      this.#chat?.close()
      this.#uplink.video?.close()
      this.#uplink.audio?.close()
      for (const t of this.#otherTracks) t.close()
      this.#pc?.close()
    } catch {
      // already closed
    }
    this.#log.info({ reason }, 'SFU participant closed')
  }
}
