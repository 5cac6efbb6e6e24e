/**
 * The hub's one internal currency: a media frame with its timestamps. For RTMP-origin media the
 * payload is the FLV tag body (what an RTMP audio/video message carries).
 */
import { native } from '../native'

export type MediaKind = 'audio' | 'video'

export interface MediaFrame {
  kind: MediaKind
  /** Decode timestamp in ms on the stream's timeline (monotonic across publisher restarts). */
  dts: number
  /** Presentation timestamp in ms (dts + composition time). */
  pts: number
  /** A video keyframe (random access point). */
  keyframe: boolean
  /** A sequence header (AVCDecoderConfigurationRecord / AudioSpecificConfig): not a frame. */
  sequenceHeader: boolean
  /** The FLV tag body. */
  payload: Buffer
  /** Chunked RTMP bytes for message stream id 1 at the hub's chunk size, muxed once on demand. */
  wire?: Buffer
}

/** RTMP message type id of a frame. */
export function rtmpTypeId(kind: MediaKind): number {
  return kind === 'audio' ? 8 : 9
}

/** Chunk stream ids used for media sent to players (audio 4, video 6). */
export function rtmpCsid(kind: MediaKind): number {
  return kind === 'audio' ? 4 : 6
}

/**
 * The frame's chunked bytes for a player on message stream id `messageStreamId` whose outgoing
 * chunk size is `chunkSize`: computed once per stream for id 1 (every player we create gets 1)
 * and shared by every player.
 */
export function wireBytes(frame: MediaFrame, messageStreamId: number, chunkSize: number): Buffer {
  if (messageStreamId === 1) {
    frame.wire ??= mux(frame, 1, chunkSize)
    return frame.wire
  }
  return mux(frame, messageStreamId, chunkSize)
}

function mux(frame: MediaFrame, messageStreamId: number, chunkSize: number): Buffer {
  return native.muxMessage(
    rtmpCsid(frame.kind),
    frame.dts >>> 0,
    rtmpTypeId(frame.kind),
    messageStreamId,
    frame.payload,
    chunkSize,
  )
}
