/**
 * The UDP port plain RTP/SRTP leaves from: forwarders and relay links, served by the native
 * `RtpForwarders` (crates/binding/src/forward): the egress fan-out (`sluice_rtp::egress`, the
 * one every transport uses), SRTP from `crates/srtp` in place, `sendmmsg`/GSO, NACKs answered
 * from the retransmission rings on the binding's receive thread. One port per `RtpService`,
 * opened with the first forwarder.
 */
import { native } from '../native'
import type { RtpForwarderCounters, RtpForwarderEvent, RtpForwarderSpec } from '../../binding.js'
import type { ReportBlock } from './rtcp'

export type ForwarderCounters = RtpForwarderCounters

export class ForwardPort {
  readonly #native: InstanceType<typeof native.RtpForwarders>
  readonly #onReport = new Map<number, (blocks: ReportBlock[]) => void>()
  #nextId = 1

  /** Binds `bindAddress` (any port). Throws an `Error` whose message starts with `RTP_BIND_FAILED` when it cannot. */
  constructor(bindAddress: string) {
    this.#native = new native.RtpForwarders({ bindAddress }, (e: RtpForwarderEvent) => this.#onReport.get(e.id)?.(e.blocks))
  }

  /** The port's number: the source port receivers see, where their feedback goes. */
  get port(): number {
    return this.#native.port
  }

  /**
   * Adds a forwarder (not sent to until its sender starts it, see `RtpSender.start`) and
   * returns its id. `onReport` gets the report blocks of its receiver's reports. Throws an
   * `Error` whose message starts with `RTP_INVALID_ARGUMENT` (a destination another forwarder
   * uses, a bad key).
   */
  add(spec: Omit<RtpForwarderSpec, 'id'>, onReport: (blocks: ReportBlock[]) => void): number {
    const id = this.#nextId++ >>> 0
    this.#native.add({ ...spec, id })
    this.#onReport.set(id, onReport)
    return id
  }

  /** Removes a forwarder (idempotent); its final counters, or null. */
  remove(id: number): ForwarderCounters | null {
    this.#onReport.delete(id)
    return this.#native.remove(id)
  }

  /** A stream's packets of one frame (or sender reports), to its every live forwarder. */
  media(streamKey: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array): void {
    this.#native.media(streamKey, kind, data, ends)
  }

  /** The RTP clock rate of `streamKey`'s `kind` for its sender reports (90 000 video, 48 000 audio unless set). */
  setClockRate(streamKey: string, kind: 'video' | 'audio', clockRate: number): void {
    this.#native.setClockRate(streamKey, kind, clockRate)
  }

  /** Packets for forwarder `id` alone, numbered for it; then its `kind` sequence offset; `live` starts its live packets. */
  inject(id: number, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, seqOffset: number, live: boolean): void {
    this.#native.inject(id, kind, data, ends, seqOffset, live)
  }

  /** Counters of forwarder `id`, or null when it is gone. */
  counters(id: number): ForwarderCounters | null {
    return this.#native.stats().forwarders.find((f) => f.id === id) ?? null
  }

  close(): void {
    this.#onReport.clear()
    this.#native.close()
  }
}
