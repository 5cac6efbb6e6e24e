/**
 * The plug for a server-side SFU. In an `sfu` room the SFU is the peer `sfu`: clients send it
 * `offer`/`answer`/`candidate` with `to: 'sfu'`, and it answers through `SfuContext.send`, which
 * the signaling server stamps `from: 'sfu'`. No media flows through the signaling server.
 */
import type { Logger } from '../log'
import type { IceCandidate, RoomMode, SignalMessage } from './protocol'

/** A room as the SFU sees it. */
export interface SfuRoom {
  readonly name: string
  readonly mode: RoomMode
  /** Ids of the peers in the room now. */
  readonly peerIds: readonly string[]
}

/** A peer as the SFU sees it. */
export interface SfuPeer {
  readonly id: string
  readonly name?: string
  readonly remoteAddress: string
}

/** What the SFU may send to a peer (the server adds `from: 'sfu'`). */
export type SfuOutgoingMessage =
  /** `stream`: the answer to a subscriber's offer for that stream; `publish`: to a `publish` offer; without either, to the participant's own. */
  | { type: 'answer'; sdp: string; stream?: string; publish?: boolean }
  | { type: 'candidate'; candidate: IceCandidate }
  | { type: 'stream-added'; stream: string }
  | { type: 'stream-removed'; stream: string }

/** Given to `createSfu`: the way back to the peers. */
export interface SfuContext {
  /** Sends a message to a peer of an `sfu` room; false if the peer is gone. */
  send(peerId: string, message: SfuOutgoingMessage): boolean
  /** The signaling logger. */
  log: Logger
}

/**
 * A server-side SFU. Calls come in order per peer: `onJoin`, any number of `onSignal`, `onLeave`
 * (on `leave`, socket close or heartbeat timeout); returned promises are not awaited, so an SFU
 * with asynchronous setup queues per peer itself. A throwing or rejecting call is logged and the
 * peer gets an `INTERNAL` error.
 */
export interface SfuHandler {
  /** A peer joined an `sfu` room (after `authorize`). */
  onJoin(room: SfuRoom, peer: SfuPeer): void | Promise<void>
  /** A peer left; drop its PeerConnection. */
  onLeave(room: SfuRoom, peer: SfuPeer): void | Promise<void>
  /** `offer`, `answer` or `candidate` sent `to: 'sfu'`. */
  onSignal(room: SfuRoom, peer: SfuPeer, message: SignalMessage): void | Promise<void>
  /** The signaling server is closing. */
  close?(): void | Promise<void>
}

/** Builds the SFU once the signaling server can give it a `send`. */
export type SfuFactory = (context: SfuContext) => SfuHandler
