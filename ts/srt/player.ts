/**
 * An SRT player: the stream as MPEG-TS (packets made once per stream, ts/srt/transport-stream.ts)
 * from a keyframe: sequence headers, the cached GOP, then live frames. A player whose SRT send
 * buffer holds more than `queuePackets` drops frames until it drains and a keyframe comes (the
 * RTMP and HTTP-FLV policy, ts/hub/keyframe-gate.ts); one behind for `maxBehindMs` is closed.
 * When the publisher leaves (after the hub's grace) the session ends, once the player had time to
 * play out what its receiver holds (`lingerMs`).
 */
import type { Logger } from '../log'
import type { Stream, Subscriber } from '../hub/stream'
import type { MediaFrame } from '../hub/media-frame'
import { KeyframeGate } from '../hub/keyframe-gate'
import type { GateCounts } from '../metrics/drop-counts'
import { transportPackets } from './transport-stream'

/** SRT live payload size: the unit the send buffer counts in. */
const PAYLOAD = 1316

export interface SrtPlayerOptions {
  id: string
  queuePackets: number
  maxBehindMs: number
  /** Queues TS bytes to the session; false when it is gone. */
  send: (data: Buffer) => boolean
  /** Packets in the session's send buffer (from its last statistics). */
  queuedPackets: () => number
  /** Ends the SRT session. */
  closeSession: (reason: string) => void
  /**
   * When the stream ends, ms to wait before the SRT shutdown: the player's receiver holds the
   * last packets for its TSBPD latency and drops them when the session closes first. The
   * negotiated latency plus a margin.
   */
  lingerMs: number
}

export class SrtPlayer implements Subscriber {
  readonly id: string
  readonly #options: SrtPlayerOptions
  readonly #log: Logger
  readonly #gate: KeyframeGate
  #closed = false
  /** Why the server ended the player, when it did. */
  endReason: string | null = null
  bytesOut = 0
  framesSent = 0

  constructor(options: SrtPlayerOptions, log: Logger, counts?: GateCounts) {
    this.id = options.id
    this.#options = options
    this.#log = log
    this.#gate = new KeyframeGate(options.queuePackets * PAYLOAD, options.maxBehindMs, counts)
  }

  get framesDropped(): number {
    return this.#gate.framesDropped
  }

  /** Sends the sequence headers and the cached GOP. */
  start(stream: Stream): void {
    for (const h of [stream.videoSequenceHeader, stream.audioSequenceHeader]) if (h) this.#send(stream, h)
    const gop = stream.gop
    if (gop.length > 0) {
      this.#gate.startedOnGop()
      for (const frame of gop) this.#send(stream, frame)
    }
  }

  onPublish(): void {
    this.#gate.reset()
  }

  onUnpublish(): void {
    if (this.#closed) return
    this.#closed = true
    this.endReason = 'the stream ended'
    setTimeout(() => this.#options.closeSession('the stream ended'), this.#options.lingerMs).unref()
  }

  onMetadata(): void {}

  onFrame(stream: Stream, frame: MediaFrame): void {
    if (this.#closed) return
    if (frame.sequenceHeader) return this.#send(stream, frame)
    switch (this.#gate.admit(stream, frame, this.#options.queuedPackets() * PAYLOAD)) {
      case 'send':
        return this.#send(stream, frame)
      case 'behind':
        this.#log.warn({ player: this.id }, 'SRT player behind: skipping to the next keyframe')
        return
      case 'disconnect':
        this.#end(`behind for more than ${this.#options.maxBehindMs} ms`)
        return
      case 'drop':
        return
    }
  }

  #send(stream: Stream, frame: MediaFrame): void {
    const ts = transportPackets(stream, frame)
    if (!ts) return
    if (!this.#options.send(ts)) return this.#end('the SRT session is gone')
    this.framesSent++
    this.bytesOut += ts.length
  }

  #end(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.endReason = reason
    this.#options.closeSession(reason)
  }

  /** The session ended on its own: stop sending. */
  stop(): void {
    this.#closed = true
  }
}
