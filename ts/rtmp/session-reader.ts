/**
 * Reads a socket's bytes through the native sans-IO RTMP session (server or client role): one
 * `feed` per read, then the read's non-media events and media messages in arrival order.
 *
 * Media come as views, not copies: the session's media index (`RtmpSession.mediaIndex`,
 * `MEDIA_INDEX_STRIDE` u32 per message: type id, message stream id, timestamp ms, slot, offset,
 * length, flags, composition time) says where each message body lies — slot 0 is the read's own
 * Buffer (reassembled in place), other slots the session's payload slabs (`RtmpSession.slabs`).
 * A sequence header is copied (it lives as long as the stream).
 */
import { native, MEDIA_INDEX_STRIDE, MEDIA_FLAG_SEQUENCE_HEADER, type NativeRtmpSession, type RtmpEvent } from '../native'
import { rtmpErrorFromCode, type RtmpProtocolError } from '../errors'

/** What the owner of a session does with what a read produced. */
export interface RtmpReadHandlers {
  /** A non-media event (handshake, command, data, control). */
  event(e: RtmpEvent): void
  /**
   * An audio or video message: `payload` (FLV tag body) is a view valid until the next read
   * unless kept; `flags`: `MEDIA_FLAG_KEYFRAME` | `MEDIA_FLAG_SEQUENCE_HEADER`; timestamps in ms.
   */
  media(kind: 'audio' | 'video', messageStreamId: number, timestamp: number, payload: Buffer, flags: number, compositionTime: number): void
  /** Bytes the session answers on its own (handshake, acknowledgements, pings). */
  transmit(bytes: Buffer): void
  /** The owner closed meanwhile (an event handler closed it): nothing more is delivered. */
  closed(): boolean
  /** Malformed input: the session is inert from here on; close the connection. */
  protocolError(error: RtmpProtocolError): void
}

export class RtmpSessionReader {
  readonly #session: NativeRtmpSession
  readonly #handlers: RtmpReadHandlers
  /** The session's slab Buffers by slot (one Array for its whole life). */
  readonly #slabs: Array<Buffer | undefined>
  /** The session's media index, re-read when a read says it is new. */
  #index: Uint32Array | null = null

  constructor(session: NativeRtmpSession, handlers: RtmpReadHandlers) {
    this.#session = session
    this.#handlers = handlers
    this.#slabs = session.slabs
  }

  /** Feeds one socket read and delivers what it completed. */
  read(data: Buffer): void {
    const session = this.#session
    const h = this.#handlers
    // A socket read's Buffer is the whole of a fresh ArrayBuffer that nothing else reads, so the
    // session reassembles messages inside it (views of `data`, no copy). A Buffer that shares
    // its memory (a slice of a pool, pushed by a JS stream or TLS) is only read.
    const r = data.byteOffset === 0 && data.buffer.byteLength === data.length ? session.feedInPlace(data) : session.feed(data)
    if (r & native.RTMP_FEED_NEW_INDEX) this.#index = session.mediaIndex
    const details = r & native.RTMP_FEED_DETAILS ? session.takeDetails() : null
    if (details?.transmit) h.transmit(details.transmit)
    const index = this.#index
    const slabs = this.#slabs
    let m = 0
    const mediaCount = r >>> native.RTMP_FEED_COUNT_SHIFT
    const deliverMediaUpTo = (end: number) => {
      for (; m < end && index; m++) {
        const o = m * MEDIA_INDEX_STRIDE
        const offset = index[o + 4]!
        const flags = index[o + 6]!
        const slot = index[o + 3]!
        const view = (slot === 0 ? data : slabs[slot]!).subarray(offset, offset + index[o + 5]!)
        h.media(
          index[o]! === 8 ? 'audio' : 'video',
          index[o + 1]!,
          index[o + 2]!,
          // A sequence header lives as long as the stream: copied, so it does not keep a
          // socket read or payload slab alive.
          flags & MEDIA_FLAG_SEQUENCE_HEADER ? Buffer.from(view) : view,
          flags,
          index[o + 7]! | 0,
        )
      }
    }
    for (const event of details?.events ?? []) {
      deliverMediaUpTo(event.mediaBefore)
      if (h.closed()) return
      h.event(event)
    }
    deliverMediaUpTo(mediaCount)
    if (details?.errorCode) h.protocolError(rtmpErrorFromCode(details.errorCode, details.errorMessage ?? 'malformed input'))
  }
}
