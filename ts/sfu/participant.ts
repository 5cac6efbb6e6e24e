/**
 * `SfuParticipant`: one peer of an `sfu` room and its one node-datachannel PeerConnection to the
 * server, which carries its uplink (what it publishes, into a `WebRtcPublisher`), its downlinks
 * (every other participant's tracks, `SfuDownlink`) and its `chat` data channel.
 *
 * Negotiation (RFC 8829 JSEP; the SFU is the impolite peer of "perfect negotiation"):
 * 1. the client offers first (its camera/microphone and the data channel); the server answers
 *    once ICE gathering is complete (at most `GATHER_TIMEOUT_MS`), later candidates trickle;
 * 2. from then on the server offers whenever downlinks come or go (a participant published or
 *    left), one offer at a time: a change while an offer is out waits for the answer;
 * 3. a client offer that crosses one of the server's (glare) is ignored: the client rolls its
 *    own back when it applies the server's offer, and offers again later if it still needs to.
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
import type { SfuEgress } from './egress'
import { CHAT_LABEL, parseChat } from './chat'
import { WebRtcError } from '../errors'

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
  log: Logger
  ice: Pick<WebRtcOptions, 'iceServers' | 'bindAddress' | 'portRangeBegin' | 'portRangeEnd'>
  /** Sends a signaling message to this participant (`from: 'sfu'` is added). */
  signal(message: SfuOutgoingMessage): boolean
  /** The first negotiation is done: the uplink (if any) is publishing, downlinks may be added. */
  onReady(p: SfuParticipant): void
  /** A chat line came through the data channel. */
  onChat(p: SfuParticipant, text: string): void
  /** The PeerConnection failed or closed: its media are gone. */
  onMediaEnded(p: SfuParticipant, reason: string): void
}

export interface ParticipantStats {
  peerId: string
  state: string
  signalingState: string
  stream: string | null
  chat: string
  offers: number
  answers: number
  glare: number
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
  /** Tracks libdatachannel made for m-lines we did not take (kept referenced, or GC closes them). */
  readonly #otherTracks: Track[] = []
  #chat: DataChannel | null = null
  readonly #chatBucket = new TokenBucket(CHAT_RATE.perSecond, CHAT_RATE.burst)
  readonly #downlinks = new Map<string, SfuDownlink>()
  #chain: Promise<void> = Promise.resolve()
  /** The first answer went out. */
  #ready = false
  /** A downlink changed while an offer could not be made: offer at the next chance. */
  #needsOffer = false
  #mids = 0
  #counts = { offers: 0, answers: 0, glare: 0, chatDropped: 0 }
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

  /** What this participant publishes (its codecs), once its first offer was read. */
  get plan(): UplinkPlan | null {
    return this.#plan
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

  /** The client's offer: the first one sets the PeerConnection up; later ones are answered. Rejects on a malformed offer. */
  handleOffer(sdp: string): Promise<void> {
    return this.#queue(() => (this.#pc ? this.#reoffer(this.#pc, sdp) : this.#firstOffer(sdp)))
  }

  /** The client's answer to the server's offer. */
  handleAnswer(sdp: string): Promise<void> {
    return this.#queue(() => {
      const pc = this.#pc
      if (!pc || pc.signalingState() !== 'have-local-offer') {
        this.#log.debug({ state: pc?.signalingState() }, 'answer without an offer out: ignored')
        return
      }
      pc.setRemoteDescription(sdp, 'answer')
      this.#counts.answers++
      if (this.#needsOffer) this.#offer(pc)
    })
  }

  /** A trickled remote candidate (`null` or an empty candidate ends them: nothing to do). */
  addCandidate(candidate: IceCandidate): Promise<void> {
    return this.#queue(() => {
      if (!candidate?.candidate || !this.#pc) return
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
      // DTLS-SRTP even when the first offer has no media (a watch-only client's data channel):
      // downlinks are added by renegotiation, after the transport is up
      forceMediaTransport: true,
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
      const send = (kind: 'video' | 'audio', packet: Buffer) => {
        const t = this.#uplink[kind]
        try {
          if (t?.isOpen()) t.sendMessageBinary(packet)
        } catch {
          // the track is closing
        }
      }
      this.#publisher = new WebRtcPublisher(this.#o.hub, this.#log, {
        app: this.#o.app,
        name: this.#o.streamName,
        protocol: 'sfu',
        remoteAddress: this.#o.remoteAddress,
        video: plan.video ? { codec: plan.video.codec, payloadType: plan.video.payloadType, fmtp: plan.video.fmtp } : null,
        audio: plan.audio ? { payloadType: plan.audio.payloadType, channels: plan.audio.channels } : null,
        sendRtcp: send,
      })
      const publisher = this.#publisher
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
    this.#ready = true
    this.#log.info({ video: plan.video?.codec ?? null, audio: plan.audio ? 'opus' : null, stream: this.#publisher ? `${this.#o.app}/${this.#o.streamName}` : null }, 'SFU participant answered')
    this.#o.onReady(this)
    if (this.#needsOffer) this.#offer(pc)
  }

  #reoffer(pc: PeerConnection, sdp: string): void {
    if (pc.signalingState() === 'have-local-offer') {
      // glare: the server's offer wins; the polite client rolls its own back
      this.#counts.glare++
      this.#log.debug('client offer crossed ours: ignored')
      return
    }
    pc.setRemoteDescription(sdp, 'offer')
    const answer = pc.localDescription()
    if (!answer || answer.type !== 'answer') throw new WebRtcError('WEBRTC_NEGOTIATION_FAILED', `no answer to the offer (local description: ${answer?.type ?? 'none'})`)
    this.#o.signal({ type: 'answer', sdp: answer.sdp })
    if (this.#needsOffer) this.#offer(pc)
  }

  /** Sends a server offer now if the PeerConnection is stable, else at the next chance. */
  #offer(pc: PeerConnection): void {
    if (!this.#ready || this.#closed || pc.signalingState() !== 'stable') {
      this.#needsOffer = true
      return
    }
    this.#needsOffer = false
    pc.setLocalDescription('offer')
    const offer = pc.localDescription()
    if (!offer || offer.type !== 'offer') throw new WebRtcError('WEBRTC_NEGOTIATION_FAILED', `setLocalDescription('offer') gave ${offer?.type ?? 'nothing'}`)
    const streams: Record<string, string> = {}
    for (const id of this.#downlinks.keys()) streams[id] = id
    this.#counts.offers++
    this.#o.signal({ type: 'offer', sdp: offer.sdp, streams })
  }

  /** Starts receiving `from`'s tracks (renegotiates). Needs both participants ready. */
  subscribe(from: SfuParticipant): void {
    if (from === this || !from.publisher || !from.plan) return
    this.subscribeSource(from.id, from.publisher, from.plan)
  }

  /**
   * Starts receiving `source`'s tracks as stream `id` (renegotiates): another participant's, or
   * an `mcu` room's mix. `plan`: the codecs and payload types to send them with.
   */
  subscribeSource(id: string, source: RtpSource, plan: UplinkPlan): void {
    const pc = this.#pc
    if (!pc || this.#closed || this.#downlinks.has(id)) return
    const downlink = new SfuDownlink(pc, id, source, plan, `d${++this.#mids}`, this.#o.egress, this.#log.child({ publisher: id }))
    this.#downlinks.set(id, downlink)
    void this.#queue(() => this.#offer(pc))
  }

  /** Stops receiving `publisherId`'s tracks (renegotiates: their m-lines are removed). */
  unsubscribe(publisherId: string): void {
    const downlink = this.#downlinks.get(publisherId)
    if (!downlink) return
    downlink.close()
    this.#downlinks.delete(publisherId)
    const pc = this.#pc
    if (pc && !this.#closed) void this.#queue(() => this.#offer(pc))
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
      const text = parseChat(message)
      if (text === null || !this.#chatBucket.take()) {
        if (this.#counts.chatDropped++ % 100 === 0) this.#log.info({ dropped: this.#counts.chatDropped }, 'data channel message dropped (not a chat message, or over the rate)')
        return
      }
      this.#o.onChat(this, text)
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

  stats(): ParticipantStats {
    return {
      peerId: this.id,
      state: this.#pc?.state() ?? 'new',
      signalingState: this.#pc?.signalingState() ?? 'new',
      stream: this.#publisher ? `${this.#o.app}/${this.#o.streamName}` : null,
      chat: this.#chat?.isOpen() ? 'open' : 'closed',
      offers: this.#counts.offers,
      answers: this.#counts.answers,
      glare: this.#counts.glare,
      downlinks: [...this.#downlinks.values()].map((d) => d.stats()),
    }
  }

  /** Unpublishes, closes every downlink, the data channel and the PeerConnection. Idempotent. */
  close(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    for (const d of this.#downlinks.values()) d.close()
    this.#downlinks.clear()
    this.#publisher?.close(reason)
    this.#publisher = null
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
