/** A signaling room: a name, a mode, an optional capacity and the peers in it. */
import type { PeerDescription, RoomMode, ServerMessage } from './protocol'
import type { SignalingPeer } from './peer'
import type { SfuRoom } from './sfu-handler'

/** One entry of `GET /api/rooms`. */
export interface RoomInfo {
  name: string
  mode: RoomMode
  capacity: number | null
  peers: number
  /** Seconds since the first peer joined. */
  uptime: number
}

export class Room implements SfuRoom {
  readonly name: string
  readonly mode: RoomMode
  /** The most peers; null for no limit. Set by the peer that created the room. */
  readonly capacity: number | null
  readonly createdAt = Date.now()
  readonly peers = new Map<string, SignalingPeer>()
  /** Peers of this room connected to other nodes of a cluster (`RoomBus`), by id. */
  readonly remote = new Map<string, PeerDescription>()

  constructor(name: string, mode: RoomMode, capacity: number | null) {
    this.name = name
    this.mode = mode
    this.capacity = capacity
  }

  get full(): boolean {
    return this.capacity !== null && this.peers.size >= this.capacity
  }

  get peerIds(): string[] {
    return [...this.peers.keys()]
  }

  /** Sends `message` to every peer but `except`. */
  broadcast(message: ServerMessage, except?: SignalingPeer): void {
    for (const p of this.peers.values()) if (p !== except) p.send(message)
  }

  describe(now = Date.now()): RoomInfo {
    return { name: this.name, mode: this.mode, capacity: this.capacity, peers: this.peers.size, uptime: Math.round((now - this.createdAt) / 1000) }
  }
}
