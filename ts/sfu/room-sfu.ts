/**
 * `RoomSfu`: the server-side SFU of `sfu` rooms, plugged into the signaling server as its
 * `SfuHandler` (the peer `sfu`). Each participant publishes once to Sluice over its own
 * PeerConnection and receives every other participant's stream over a receive-only
 * PeerConnection per stream, which it offers when the server announces the stream (see
 * `participant.ts` for the negotiation rules). Chat lines from a participant's `chat` data
 * channel are relayed to every other participant's (`chat.ts`).
 *
 * A participant's media are also an ordinary hub stream, `{app}/{room}-{peerId}` (app `room` by
 * default), published by a `WebRtcPublisher`: playable over WHEP (forwarded RTP, any codec) and,
 * for H.264, over RTMP/HTTP-FLV (Opus → AAC while such a player watches), listed in
 * `/api/streams`, and gone when the participant leaves.
 *
 * Participants' own PeerConnections live in the main process (node-datachannel's threads do
 * ICE, DTLS and SRTP); downlinks are viewers of the transport WHEP uses (`SfuEgress`: one rewrite
 * per packet and publisher, then the native port's fan-out and `sendmmsg`, or node-datachannel
 * viewer processes; see `bench/sfu.bench.mjs`).
 *
 * Simulcast: a participant may publish on a PeerConnection of its own received on the native
 * port (`publish` offers), with `a=rid` layers; each downlink of it then gets the layer its
 * bandwidth estimate carries, under the room's layer policy (`setRoomPolicy`, else
 * `sfu.simulcast`, else `webrtc.simulcast`), and may be pinned by the subscriber (a `layer`
 * message on its data channel). Every second each participant with such downlinks gets their
 * layers and estimates on its data channel (`layers`, see chat.ts).
 *
 * `mcu` rooms: the same, but instead of everyone's stream each participant is announced one,
 * `mix`: a `Mix` of the room's participants (`{room}~mix` in the hub, playable by any player),
 * its video shared, its audio everyone's but the participant's own.
 */
import type { Logger } from '../log'
import type { StreamHub } from '../hub/stream-hub'
import type { SignalMessage } from '../signaling/protocol'
import type { SfuContext, SfuFactory, SfuHandler, SfuPeer, SfuRoom } from '../signaling/sfu-handler'
import type { WebRtcOptions } from '../webrtc/whep'
import { SfuParticipant, type ParticipantStats } from './participant'
import type { RelayedChat } from './chat'
import { Mix, type MixSettings, type MixStats } from '../mix/mix'
import { SfuEgress } from './egress'
import type { ViewerCounters, ViewerTransport } from '../webrtc/viewer-protocol'
import { NativeViewers, type SimulcastPolicyOptions } from '../webrtc/native-viewers'

/** How often participants with simulcast downlinks are sent their layers, ms. */
const LAYERS_INTERVAL_MS = 1000

export interface RoomSfuOptions {
  /** Hub app of the participants' streams. Default `room`. */
  app: string
  /** ICE settings of the server's PeerConnections (as for WHEP/WHIP). Default: no ICE servers, every interface. */
  ice: Pick<WebRtcOptions, 'iceServers' | 'bindAddress' | 'portRangeBegin' | 'portRangeEnd'>
  /** The mix of `mcu` rooms (the `mix` config's settings); null: `mcu` rooms get no media. */
  mix: MixSettings | null
  /** What carries the downlinks: WHEP's viewer transport (`WhepEndpoint.pool`). Required. On the native port, participants may also publish there (simulcast). */
  viewers: ViewerTransport
  /** The layer policy of every room without its own (`sfu.simulcast`); null: the native port's (`webrtc.simulcast`). */
  simulcast: SimulcastPolicyOptions | null
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
  readonly #egress: SfuEgress
  readonly #layersTimer: NodeJS.Timeout
  #closed = false

  constructor(hub: StreamHub, context: SfuContext, options: Partial<RoomSfuOptions> & Pick<RoomSfuOptions, 'viewers'>) {
    this.#hub = hub
    this.#context = context
    this.#log = context.log
    this.options = { app: options.app ?? 'room', ice: { iceServers: [], ...options.ice }, mix: options.mix ?? null, viewers: options.viewers, simulcast: options.simulcast ?? null }
    this.#egress = new SfuEgress(options.viewers, this.options.simulcast)
    this.#layersTimer = setInterval(() => void this.#sendLayers(), LAYERS_INTERVAL_MS)
    this.#layersTimer.unref()
  }

  /**
   * Sets room `room`'s simulcast layer policy (max layer, pause video under a rate, audio first)
   * for its downlinks now and later; `null`: back to `sfu.simulcast` / `webrtc.simulcast`. The
   * room need not exist yet.
   */
  setRoomPolicy(room: string, policy: SimulcastPolicyOptions | null): void {
    this.#egress.setRoomPolicy(room, policy)
  }

  /** Room `room`'s layer policy in force (null: the native port's, `webrtc.simulcast`). */
  roomPolicy(room: string): SimulcastPolicyOptions | null {
    return this.#egress.policyOf(room)
  }

  /** Sends each participant with simulcast downlinks their layers and estimates (data channel `layers`). */
  async #sendLayers(): Promise<void> {
    const receivers = [...this.#rooms.values()].flatMap((ps) => [...ps.values()]).filter((p) => p.hasLayeredDownlinks)
    if (receivers.length === 0) return
    const viewers = new Map<string, ViewerCounters>((await this.#egress.viewers.stats()).viewers.map((v) => [v.id, v]))
    for (const p of receivers) p.sendLayers(viewers)
  }

  /** A factory for `SignalingOptions.sfu`; `onCreate` gets the instance (for stats). */
  static factory(hub: StreamHub, options: Partial<RoomSfuOptions> & Pick<RoomSfuOptions, 'viewers'>, onCreate?: (sfu: RoomSfu) => void): SfuFactory {
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
      native: this.options.viewers instanceof NativeViewers ? this.options.viewers : null,
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
    for (const other of participants.values()) other.withdraw(peer.id)
    this.#leaveMix(room.name, peer.id)
    p.close('left the room')
  }

  onSignal(room: SfuRoom, peer: SfuPeer, message: SignalMessage): Promise<void> | void {
    const p = this.#rooms.get(room.name)?.get(peer.id)
    if (!p) return
    switch (message.type) {
      case 'offer':
        return p.handleOffer(message.sdp, message.stream, message.publish)
      case 'answer':
        this.#log.debug({ room: room.name, peer: peer.id }, 'answer to the SFU ignored: it never offers')
        return
      case 'candidate':
        if (message.publish) return // the native port is ICE-lite: it learns the addresses from the checks
        return p.addCandidate(message.candidate, message.stream)
    }
  }

  /** A participant finished its first negotiation: it and every other ready one are announced each other's streams. */
  #connect(room: string, p: SfuParticipant): void {
    const participants = this.#rooms.get(room)
    if (!participants?.has(p.id)) return
    for (const other of participants.values()) {
      if (other === p || !other.ready) continue
      p.offerParticipant(other)
      other.offerParticipant(p)
    }
  }

  /**
   * An `mcu` room's participant finished its first negotiation: its stream joins the room's
   * mix (made with the first), and it is announced the mix with everyone's audio but its own.
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
    const source = roomMix.mix.participantSource(index)
    if (source) p.announce('mix', source)
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
    for (const other of participants.values()) other.withdraw(p.id)
    participants.delete(p.id)
    this.#leaveMix(room, p.id)
    p.close(reason)
  }

  /** Rooms and participants with their negotiation and forwarding counters (the downlinks' from the viewer transport). */
  async stats(): Promise<{ rooms: { name: string; simulcast: SimulcastPolicyOptions | null; participants: ParticipantStats[]; mix: MixStats | null }[] }> {
    const viewers = this.#rooms.size > 0 ? new Map<string, ViewerCounters>((await this.#egress.viewers.stats()).viewers.map((v) => [v.id, v])) : new Map<string, ViewerCounters>()
    return {
      rooms: [...this.#rooms].map(([name, ps]) => ({ name, simulcast: this.#egress.policyOf(name), participants: [...ps.values()].map((p) => p.stats(viewers)), mix: this.#mixes.get(name)?.mix.stats() ?? null })),
    }
  }

  /** Closes every participant (idempotent). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#layersTimer)
    for (const participants of this.#rooms.values()) for (const p of participants.values()) p.close('server closing')
    this.#rooms.clear()
    for (const { mix } of this.#mixes.values()) mix.close('server closing')
    this.#mixes.clear()
    this.#egress.close()
  }
}
