/**
 * `RoomSfu`: the server-side SFU of `sfu` rooms, plugged into the signaling server as its
 * `SfuHandler` (the peer `sfu`). Each participant publishes once to Sluice over its one
 * PeerConnection and receives every other participant's tracks from Sluice; the server offers
 * again whenever someone starts publishing or leaves (see `participant.ts` for the negotiation
 * rules). Chat lines from a participant's `chat` data channel are relayed to every other
 * participant's (`chat.ts`).
 *
 * A participant's media are also an ordinary hub stream, `{app}/{room}-{peerId}` (app `room` by
 * default), published by a `WebRtcPublisher`: playable over WHEP (forwarded RTP, any codec) and,
 * for H.264, over RTMP/HTTP-FLV (Opus → AAC while such a player watches), listed in
 * `/api/streams`, and gone when the participant leaves.
 *
 * PeerConnections live in the main process (node-datachannel's own threads do ICE, DTLS and
 * SRTP); downlinks send through the RTP egress pipeline (`SfuEgress`: one rewrite per packet and
 * publisher, the native fan-out, one `sendMessageBinary` per packet and subscriber; see
 * `bench/sfu.bench.mjs`).
 *
 * `mcu` rooms: the same PeerConnection per participant, but instead of everyone's tracks each
 * participant receives one stream, `mix`: a `Mix` of the room's participants (`{room}~mix` in the
 * hub, playable by any player), its video shared, its audio everyone's but the participant's own.
 */
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { SignalMessage } from '../signaling/protocol'
import type { SfuContext, SfuFactory, SfuHandler, SfuPeer, SfuRoom } from '../signaling/sfu-handler'
import type { WebRtcOptions } from '../webrtc/whep'
import { SfuParticipant, type ParticipantStats } from './participant'
import type { RelayedChat } from './chat'
import type { UplinkPlan } from './uplink'
import { Mix, type MixSettings, type MixStats } from '../mix/mix'
import type { MixRtpSource } from '../mix/rtp-source'
import { SfuEgress } from './egress'

export interface RoomSfuOptions {
  /** Hub app of the participants' streams. Default `room`. */
  app: string
  /** ICE settings of the server's PeerConnections (as for WHEP/WHIP). Default: no ICE servers, every interface. */
  ice: Pick<WebRtcOptions, 'iceServers' | 'bindAddress' | 'portRangeBegin' | 'portRangeEnd'>
  /** The mix of `mcu` rooms (the `mix` config's settings); null: `mcu` rooms get no media. */
  mix: MixSettings | null
}

/** The hub stream name of an `mcu` room's mix: `{room}~mix`. */
export function roomMixName(room: string): string {
  return `${room}~mix`
}

/** An `mcu` room's mix and each participant's input index in it. */
interface RoomMix {
  mix: Mix
  inputs: Map<string, number>
}

/** The hub stream name of a participant's media: `{room}-{peerId}`. */
export function roomStreamName(room: string, peerId: string): string {
  return `${room}-${peerId}`
}

export class RoomSfu implements SfuHandler {
  readonly options: RoomSfuOptions
  readonly #hub: StreamHub
  readonly #context: SfuContext
  readonly #log: Logger
  /** room name → peer id → participant */
  readonly #rooms = new Map<string, Map<string, SfuParticipant>>()
  /** `mcu` rooms' mixes, by room name. */
  readonly #mixes = new Map<string, RoomMix>()
  readonly #egress = new SfuEgress()
  #closed = false

  constructor(hub: StreamHub, context: SfuContext, options: Partial<RoomSfuOptions> = {}) {
    this.#hub = hub
    this.#context = context
    this.#log = context.log
    this.options = { app: options.app ?? 'room', ice: { iceServers: [], ...options.ice }, mix: options.mix ?? null }
  }

  /** A factory for `SignalingOptions.sfu`; `onCreate` gets the instance (for stats). */
  static factory(hub: StreamHub, options: Partial<RoomSfuOptions> = {}, onCreate?: (sfu: RoomSfu) => void): SfuFactory {
    return (context) => {
      const sfu = new RoomSfu(hub, context, options)
      onCreate?.(sfu)
      return sfu
    }
  }

  onJoin(room: SfuRoom, peer: SfuPeer): void {
    if (this.#closed) return
    let participants = this.#rooms.get(room.name)
    if (!participants) {
      participants = new Map()
      this.#rooms.set(room.name, participants)
    }
    const p = new SfuParticipant({
      room: room.name,
      peerId: peer.id,
      remoteAddress: peer.remoteAddress,
      app: this.options.app,
      streamName: roomStreamName(room.name, peer.id),
      hub: this.#hub,
      egress: this.#egress,
      log: this.#log,
      ice: this.options.ice,
      signal: (message) => this.#context.send(peer.id, message),
      onReady: (ready) => (room.mode === 'mcu' ? this.#joinMix(room.name, ready) : this.#connect(room.name, ready)),
      onChat: (from, text) => this.#relayChat(room.name, from, text),
      onMediaEnded: (ended, reason) => this.#mediaEnded(room.name, ended, reason),
    })
    participants.set(peer.id, p)
  }

  onLeave(room: SfuRoom, peer: SfuPeer): void {
    const participants = this.#rooms.get(room.name)
    const p = participants?.get(peer.id)
    if (!participants || !p) return
    participants.delete(peer.id)
    if (participants.size === 0) this.#rooms.delete(room.name)
    for (const other of participants.values()) other.unsubscribe(peer.id)
    this.#leaveMix(room.name, peer.id)
    p.close('left the room')
  }

  onSignal(room: SfuRoom, peer: SfuPeer, message: SignalMessage): Promise<void> | void {
    const p = this.#rooms.get(room.name)?.get(peer.id)
    if (!p) return
    switch (message.type) {
      case 'offer':
        return p.handleOffer(message.sdp)
      case 'answer':
        return p.handleAnswer(message.sdp)
      case 'candidate':
        return p.addCandidate(message.candidate)
    }
  }

  /** A participant finished its first negotiation: it and every other ready one subscribe to each other. */
  #connect(room: string, p: SfuParticipant): void {
    const participants = this.#rooms.get(room)
    if (!participants?.has(p.id)) return
    for (const other of participants.values()) {
      if (other === p || !other.ready) continue
      p.subscribe(other)
      other.subscribe(p)
    }
  }

  /**
   * An `mcu` room's participant finished its first negotiation: its stream joins the room's
   * mix (made with the first), and it receives the mix with everyone's audio but its own.
   */
  #joinMix(room: string, p: SfuParticipant): void {
    const settings = this.options.mix
    if (!this.#rooms.get(room)?.has(p.id) || !settings) return
    let roomMix = this.#mixes.get(room)
    if (!roomMix) {
      try {
        const mix = new Mix(this.#hub, this.#log, { ...settings, id: `mcu-${room}`, app: this.options.app, name: roomMixName(room), inputs: [] })
        roomMix = { mix, inputs: new Map() }
        this.#mixes.set(room, roomMix)
      } catch (error) {
        this.#log.error({ room, error: (error as Error).message }, 'mcu room: the mix could not start')
        return
      }
    }
    if (roomMix.inputs.has(p.id)) return
    const index = roomMix.mix.addInput({ app: this.options.app, name: roomStreamName(room, p.id) }, false, true)
    roomMix.inputs.set(p.id, index)
    p.subscribeSource('mix', roomMix.mix.participantSource(index) as MixRtpSource, mixPlan(p.plan))
  }

  #leaveMix(room: string, peerId: string): void {
    const roomMix = this.#mixes.get(room)
    if (!roomMix?.inputs.delete(peerId)) return
    roomMix.mix.removeInput(this.options.app, roomStreamName(room, peerId))
    if (roomMix.inputs.size > 0) return
    this.#mixes.delete(room)
    roomMix.mix.close('the room is empty')
  }

  #relayChat(room: string, from: SfuParticipant, text: string): void {
    const message: RelayedChat = { type: 'chat', from: from.id, text, ts: Date.now() }
    const json = JSON.stringify(message)
    for (const p of this.#rooms.get(room)?.values() ?? []) if (p !== from) p.sendData(json)
  }

  #mediaEnded(room: string, p: SfuParticipant, reason: string): void {
    const participants = this.#rooms.get(room)
    if (participants?.get(p.id) !== p) return
    this.#log.info({ room, peer: p.id, reason }, 'SFU participant media ended: unsubscribing the others')
    for (const other of participants.values()) other.unsubscribe(p.id)
    participants.delete(p.id)
    this.#leaveMix(room, p.id)
    p.close(reason)
  }

  /** Rooms and participants with their negotiation and forwarding counters. */
  stats(): { rooms: { name: string; participants: ParticipantStats[]; mix: MixStats | null }[] } {
    return { rooms: [...this.#rooms].map(([name, ps]) => ({ name, participants: [...ps.values()].map((p) => p.stats()), mix: this.#mixes.get(name)?.mix.stats() ?? null })) }
  }

  /** Closes every participant (idempotent). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const participants of this.#rooms.values()) for (const p of participants.values()) p.close('server closing')
    this.#rooms.clear()
    for (const { mix } of this.#mixes.values()) mix.close('server closing')
    this.#mixes.clear()
    this.#egress.close()
  }
}

/**
 * How a participant receives an `mcu` mix: H.264 (its own uplink's payload type when it publishes
 * H.264, else 102) and Opus (its uplink's payload type and fmtp, else 111).
 */
function mixPlan(plan: UplinkPlan | null): UplinkPlan {
  const h264 = plan?.video?.codec === 'H264' ? plan.video : null
  return {
    video: { mid: 'mix', codec: 'H264', payloadType: h264?.payloadType ?? 102, fmtp: h264?.fmtp ?? { 'level-asymmetry-allowed': '1', 'packetization-mode': '1', 'profile-level-id': '42e01f' } },
    audio: { mid: 'mix', payloadType: plan?.audio?.payloadType ?? 111, channels: 2, fmtp: plan?.audio?.fmtp ?? { minptime: '10', useinbandfec: '1' } },
  }
}
