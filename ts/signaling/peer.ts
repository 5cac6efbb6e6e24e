/** One signaling connection: a WebSocket, its rate limit, heartbeat state and room. */
import { WebSocket } from 'ws'
import type { Room } from './room'
import type { PeerDescription, ServerMessage } from './protocol'
import { TokenBucket } from './rate-limit'

export class SignalingPeer {
  /** Server-assigned, unique on this server, never `sfu`. */
  readonly id: string
  readonly socket: WebSocket
  readonly remoteAddress: string
  readonly connectedAt = Date.now()
  readonly bucket: TokenBucket
  /** The display name given in `join`. */
  name: string | undefined
  /** The room it is in, once `joined` was sent. */
  room: Room | null = null
  /** Bytes of messages received and sent (JSON text), for the clients list. */
  bytesIn = 0
  bytesOut = 0
  /** True while the access decision runs. */
  joining = false
  /** Cleared at each heartbeat, set by any pong or message. */
  alive = true
  /** Messages dropped by the rate limit in the current window, and the window's start. */
  dropped = 0
  droppedSince = 0
  readonly #maxBufferedBytes: number
  readonly #onSlow: (peer: SignalingPeer) => void

  constructor(
    id: string,
    socket: WebSocket,
    remoteAddress: string,
    rate: { perSecond: number; burst: number },
    maxBufferedBytes: number,
    onSlow: (peer: SignalingPeer) => void,
  ) {
    this.id = id
    this.socket = socket
    this.remoteAddress = remoteAddress
    this.bucket = new TokenBucket(rate.perSecond, rate.burst)
    this.#maxBufferedBytes = maxBufferedBytes
    this.#onSlow = onSlow
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN
  }

  describe(): PeerDescription {
    return this.name === undefined ? { id: this.id } : { id: this.id, name: this.name }
  }

  /**
   * Sends one message; false if the socket is not open. A peer that lets more than
   * `maxBufferedBytes` pile up unread is dropped (`onSlow`).
   */
  send(message: ServerMessage): boolean {
    if (!this.open) return false
    if (this.socket.bufferedAmount > this.#maxBufferedBytes) {
      this.#onSlow(this)
      return false
    }
    const text = JSON.stringify(message)
    this.bytesOut += text.length
    this.socket.send(text)
    return true
  }
}
