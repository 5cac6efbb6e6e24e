/**
 * How P2P signaling rooms span several servers (a cluster, ts/cluster/p2p-bus.ts): peers of one
 * room connected to different nodes see each other (`joined.peers`, `peer-joined`,
 * `peer-left`) and exchange `offer`/`answer`/`candidate` as if they were on one server. The
 * signaling server calls it for `p2p` rooms only (SFU/MCU rooms are pinned to one node).
 */
import type { PeerDescription, ServerMessage } from './protocol'

/** What another node tells this one about a room. */
export type RoomBusEvent =
  | { type: 'peer-joined'; peer: PeerDescription }
  | { type: 'peer-left'; peerId: string }
  /** `message` for the local peer `to`. */
  | { type: 'signal'; to: string; message: ServerMessage }

export interface RoomBus {
  /** The room has local peers now: `deliver` gets what other nodes say about it until `detach`. */
  attach(room: string, deliver: (event: RoomBusEvent) => void): void
  /** The room's last local peer left. */
  detach(room: string): void
  /** Announces a local peer; resolves with the room's peers on other nodes (empty when unknown). */
  join(room: string, peer: PeerDescription): Promise<PeerDescription[]>
  /** Announces that a local peer left. */
  leave(room: string, peerId: string): void
  /** Delivers `message` to peer `to` of `room` on the node it is connected to. */
  send(room: string, to: string, message: ServerMessage): void
}
