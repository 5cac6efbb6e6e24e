/**
 * Hub frames → MPEG-TS packets, once per stream: every SRT player of a stream gets the same
 * packets (the native `TsMuxer`: PAT/PMT before each keyframe, H.264/H.265 + AAC/Opus in PES,
 * PCR on the video PID; crates/mpegts). Frames are muxed in stream order as the first player meets them,
 * so a stream's continuity counters run on across players that join later.
 */
import { native } from '../native'
import type { Stream } from '../hub/stream'
import type { MediaFrame } from '../hub/media-frame'

type Muxer = InstanceType<typeof native.TsMuxer>

const muxers = new WeakMap<Stream, Muxer>()
const packets = new WeakMap<MediaFrame, Buffer | null>()

function muxerOf(stream: Stream): Muxer {
  let m = muxers.get(stream)
  if (!m) {
    m = new native.TsMuxer()
    // Frames muxed from here on need the decoder configurations already seen.
    for (const h of [stream.videoSequenceHeader, stream.audioSequenceHeader]) {
      if (h && !packets.has(h)) packets.set(h, m.frame(h.kind, h.dts, h.payload))
    }
    muxers.set(stream, m)
  }
  return m
}

/**
 * The transport packets of `frame` (a multiple of 188 bytes), or null when it makes none: a
 * sequence header (kept by the muxer for what follows), a codec not carried here (H.264, H.265,
 * AAC and Opus are), or a frame before its sequence header.
 */
export function transportPackets(stream: Stream, frame: MediaFrame): Buffer | null {
  let p = packets.get(frame)
  if (p === undefined) {
    p = muxerOf(stream).frame(frame.kind, frame.dts, frame.payload)
    packets.set(frame, p)
  }
  return p
}
