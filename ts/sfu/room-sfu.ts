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
 * SRTP); forwarding costs one RTP header rewrite and one `sendMessageBinary` per packet and
 * subscriber (see `bench/sfu.bench.mjs`).
 */
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { SignalMessage } from '../signaling/protocol'
import type { SfuContext, SfuFactory, SfuHandler, SfuPeer, SfuRoom } from '../signaling/sfu-handler'
import type { WebRtcOptions } from '../webrtc/whep'
import { SfuParticipant, type ParticipantStats } from './participant'
import type { RelayedChat } from './chat'

export interface RoomSfuOptions {
  /** Hub app of the participants' streams. Default `room`. */
  app: string
  /** ICE settings of the server's PeerConnections (as for WHEP/WHIP). Default: no ICE servers, every interface. */
  ice: Pick<WebRtcOptions, 'iceServers' | 'bindAddress' | 'portRangeBegin' | 'portRangeEnd'>
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
  #closed = false

  constructor(hub: StreamHub, context: SfuContext, options: Partial<RoomSfuOptions> = {}) {
    this.#hub = hub
    this.#context = context
    this.#log = context.log
    this.options = { app: options.app ?? 'room', ice: { iceServers: [], ...options.ice } }
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
      log: this.#log,
      ice: this.options.ice,
      signal: (message) => this.#context.send(peer.id, message),
      onReady: (ready) => this.#connect(room.name, ready),
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
    p.close(reason)
  }

  /** Rooms and participants with their negotiation and forwarding counters. */
  stats(): { rooms: { name: string; participants: ParticipantStats[] }[] } {
    return { rooms: [...this.#rooms].map(([name, ps]) => ({ name, participants: [...ps.values()].map((p) => p.stats()) })) }
  }

  /** Closes every participant (idempotent). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const participants of this.#rooms.values()) for (const p of participants.values()) p.close('server closing')
    this.#rooms.clear()
  }
}
