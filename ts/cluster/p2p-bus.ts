/**
 * P2P signaling rooms across the nodes of a cluster (`RoomBus`, ts/signaling/room-bus.ts),
 * through Redis: a room's members in the hash `p` `p2p:` room `:peers` (peer id → `{node,
 * peer}`; members of nodes that are not up are left out), its events on the channel `p` `p2p:`
 * room (JSON `{node, event}`, a node ignores its own). A node subscribes to a room's channel
 * while it has local peers in it; the peers of a node that died (its record expired) leave the
 * room within `ttlMs` + 2 s. Redis down: the room goes on between the peers of each node.
 */
import type { PeerDescription, ServerMessage } from '../signaling/protocol'
import type { RoomBus, RoomBusEvent } from '../signaling/room-bus'
import type { ClusterRegistry } from './registry'
import type { Logger } from '../log'

/** Ms between checks for peers whose node died. */
const PRUNE_MS = 2000

export class P2pBus implements RoomBus {
  readonly #registry: ClusterRegistry
  readonly #node: string
  readonly #log: Logger
  readonly #rooms = new Map<string, (event: RoomBusEvent) => void>()
  /** Peers on other nodes per room: peer id → its node (to drop them when their node dies). */
  readonly #remote = new Map<string, Map<string, string>>()
  readonly #timer: NodeJS.Timeout

  constructor(registry: ClusterRegistry, node: string, log: Logger) {
    this.#registry = registry
    this.#node = node
    this.#log = log.child({ component: 'cluster-p2p' })
    registry.on('room', (room, text) => {
      const deliver = this.#rooms.get(room)
      if (!deliver) return
      let m: { node: string; event: RoomBusEvent }
      try {
        m = JSON.parse(text) as typeof m
      } catch {
        return
      }
      if (m.node === this.#node || !m.event || typeof m.event.type !== 'string') return
      const remote = this.#remote.get(room)
      if (m.event.type === 'peer-joined') remote?.set(m.event.peer.id, m.node)
      else if (m.event.type === 'peer-left') remote?.delete(m.event.peerId)
      deliver(m.event)
    })
    this.#timer = setInterval(() => void this.#dropPeersOfDeadNodes(), PRUNE_MS)
    this.#timer.unref()
  }

  /** A node that died says nothing: its peers leave the rooms here once its record is gone. */
  async #dropPeersOfDeadNodes(): Promise<void> {
    if (![...this.#remote.values()].some((r) => r.size > 0) || !this.#registry.up) return
    let up: Set<string>
    try {
      up = new Set((await this.#registry.nodes()).map((n) => n.id))
    } catch {
      return
    }
    for (const [room, remote] of this.#remote) {
      for (const [peerId, node] of remote) {
        if (up.has(node)) continue
        remote.delete(peerId)
        this.#rooms.get(room)?.({ type: 'peer-left', peerId })
      }
    }
  }

  /** Stops the pruning timer. */
  close(): void {
    clearInterval(this.#timer)
  }

  #publish(room: string, event: RoomBusEvent): void {
    this.#registry.publishRoom(room, JSON.stringify({ node: this.#node, event })).catch((error) => this.#log.debug({ room, err: (error as Error).message }, 'room event not published'))
  }

  attach(room: string, deliver: (event: RoomBusEvent) => void): void {
    this.#rooms.set(room, deliver)
    this.#remote.set(room, new Map())
    this.#registry.subscribeRoom(room)
  }

  detach(room: string): void {
    this.#remote.delete(room)
    if (!this.#rooms.delete(room)) return
    this.#registry.unsubscribeRoom(room)
  }

  async join(room: string, peer: PeerDescription): Promise<PeerDescription[]> {
    try {
      await this.#registry.addRoomPeer(room, peer.id, JSON.stringify({ node: this.#node, peer }))
      this.#publish(room, { type: 'peer-joined', peer })
      const [members, nodes] = await Promise.all([this.#registry.roomPeers(room), this.#registry.nodes()])
      const up = new Set(nodes.map((n) => n.id))
      const others = members.map((t) => JSON.parse(t) as { node: string; peer: PeerDescription }).filter((m) => m.node !== this.#node && up.has(m.node))
      for (const m of others) this.#remote.get(room)?.set(m.peer.id, m.node)
      return others.map((m) => m.peer)
    } catch (error) {
      this.#log.warn({ room, err: (error as Error).message }, 'the room\'s peers on other nodes are unknown (the cluster registry failed)')
      return []
    }
  }

  leave(room: string, peerId: string): void {
    this.#registry.removeRoomPeer(room, peerId).catch(() => {})
    this.#publish(room, { type: 'peer-left', peerId })
  }

  send(room: string, to: string, message: ServerMessage): void {
    this.#publish(room, { type: 'signal', to, message })
  }
}
