/**
 * An RTMP player: a hub subscriber writing one stream to one connection.
 *
 * Slow players never slow the publisher: frames go to the socket's own queue, and once more than
 * `playerQueueBytes` are queued the player drops frames until the queue is half drained and a
 * keyframe arrives. A player still behind after `playerMaxBehindMs` is disconnected.
 */
import type { Stream, Subscriber } from '../hub/stream'
import { wireBytes, type MediaFrame } from '../hub/media-frame'
import { KeyframeGate } from '../hub/keyframe-gate'
import type { RtmpConnection } from './connection'
import { status } from './status'
import type { GateCounts } from '../metrics/drop-counts'

let nextPlayerId = 1

export class RtmpPlayer implements Subscriber {
  readonly id: string
  readonly messageStreamId: number
  readonly #connection: RtmpConnection
  #stream: Stream | null = null
  readonly #gate: KeyframeGate
  #closed = false
  #toldUnpublished = false
  framesSent = 0
  bytesSent = 0

  /** `counts`: the server's slow-player counters of RTMP players (`hub.drops.gate('rtmp')`). */
  constructor(connection: RtmpConnection, messageStreamId: number, counts?: GateCounts) {
    this.id = `player-${nextPlayerId++}`
    this.#connection = connection
    this.messageStreamId = messageStreamId
    this.#gate = new KeyframeGate(connection.options.playerQueueBytes, connection.options.playerMaxBehindMs, counts)
  }

  get framesDropped(): number {
    return this.#gate.framesDropped
  }

  get stream(): Stream | null {
    return this.#stream
  }

  /** Sends the play responses, then what the stream has (metadata, sequence headers, GOP). */
  start(stream: Stream): void {
    this.#stream = stream
    const c = this.#connection
    c.sendUserControl(0, this.messageStreamId) // StreamBegin
    c.sendStatus(this.messageStreamId, status('NetStream.Play.Reset', `Playing and resetting ${stream.name}.`, { details: stream.name }))
    c.sendStatus(this.messageStreamId, status('NetStream.Play.Start', `Started playing ${stream.name}.`, { details: stream.name }))
    c.sendData(this.messageStreamId, ['|RtmpSampleAccess', true, true])
    if (stream.isLive) this.#sendStreamHead(stream)
    c.flush()
  }

  #sendStreamHead(stream: Stream): void {
    if (stream.metadata) this.#connection.sendDataPayload(this.messageStreamId, 0, stream.metadata)
    for (const header of stream.sequenceHeaders) this.#write(header)
    const gop = stream.gop
    if (gop.length > 0) {
      this.#gate.startedOnGop()
      for (const frame of gop) this.#write(frame)
    }
  }

  onPublish(stream: Stream): void {
    this.#gate.reset()
    if (!this.#toldUnpublished) return // a publisher restart within the grace period: seamless
    this.#toldUnpublished = false
    const c = this.#connection
    c.sendUserControl(0, this.messageStreamId)
    c.sendStatus(this.messageStreamId, status('NetStream.Play.PublishNotify', `${stream.name} is now published.`, { details: stream.name }))
    c.flush()
  }

  onUnpublish(stream: Stream): void {
    this.#toldUnpublished = true
    this.#connection.sendStatus(this.messageStreamId, status('NetStream.Play.UnpublishNotify', `${stream.name} is now unpublished.`, { details: stream.name }))
    this.#connection.flush()
  }

  onMetadata(_stream: Stream, payload: Buffer): void {
    this.#connection.sendDataPayload(this.messageStreamId, 0, payload)
    this.#connection.flush()
  }

  onFrame(stream: Stream, frame: MediaFrame): void {
    if (this.#closed) return
    if (frame.sequenceHeader) {
      this.#write(frame)
      return
    }
    const queued = this.#connection.queuedBytes
    switch (this.#gate.admit(stream, frame, queued)) {
      case 'send':
        return this.#write(frame)
      case 'behind':
        this.#connection.log.warn({ player: this.id, queued }, 'player behind: skipping to the next keyframe')
        return
      case 'disconnect':
        this.#closed = true
        this.#connection.close(`player stayed behind for more than ${this.#connection.options.playerMaxBehindMs} ms (${queued} bytes queued)`)
        return
      case 'drop':
        return
    }
  }

  #write(frame: MediaFrame): void {
    const bytes = wireBytes(frame, this.messageStreamId, this.#connection.options.chunkSize)
    this.framesSent++
    this.bytesSent += bytes.length
    this.#connection.writeRaw(bytes)
  }

  /** Detaches from the stream (idempotent). */
  stop(): void {
    this.#closed = true
  }
}
