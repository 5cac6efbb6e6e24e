/**
 * A node's load for the cluster registry and placement: process CPU (fraction of one core) and
 * bytes sent to clients (bits/s) over the interval since the previous sample, players and
 * publishers now (the clients list, every protocol).
 */
import type { ClientRegistry } from '../clients/registry'
import type { NodeLoad } from './registry'

export class LoadMeter {
  readonly #clients: ClientRegistry
  #cpu = process.cpuUsage()
  #at = performance.now()
  #bytesOut = 0
  #cpuShare = 0
  #bitrateOut = 0

  constructor(clients: ClientRegistry) {
    this.#clients = clients
    this.#bytesOut = this.#totalOut()
  }

  #totalOut(): number {
    let n = 0
    for (const t of this.#clients.totals().values()) n += t.bytesOut
    return n
  }

  #counts(): { viewers: number; publishers: number } {
    let viewers = 0
    let publishers = 0
    for (const s of this.#clients.sessions()) {
      if (s.role === 'player') viewers++
      else publishers++
    }
    return { viewers, publishers }
  }

  /** Samples: CPU and bitrate since the previous sample, the clients now. */
  sample(): Omit<NodeLoad, 'links'> {
    const now = performance.now()
    const seconds = Math.max(0.001, (now - this.#at) / 1000)
    const cpu = process.cpuUsage(this.#cpu)
    const out = this.#totalOut()
    this.#cpuShare = Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 1000) / 1000
    this.#bitrateOut = Math.round(((out - this.#bytesOut) * 8) / seconds)
    this.#cpu = process.cpuUsage()
    this.#at = now
    this.#bytesOut = out
    return { cpu: this.#cpuShare, bitrateOut: this.#bitrateOut, ...this.#counts() }
  }

  /** The last sample's CPU and bitrate with the clients counted now (placement between samples). */
  peek(links: number): NodeLoad {
    return { cpu: this.#cpuShare, bitrateOut: this.#bitrateOut, links, ...this.#counts() }
  }
}
