/**
 * Depacketized media → hub frames (FLV tag bodies, E.4.2.1/E.4.3.1 of the FLV spec v10.1), on the
 * session timeline in ms: what RTP-origin publishers (RTP ingest, relay links, WHIP) push.
 */
import type { Stream } from '../hub/stream'

/** H.264 access units of one publisher into `stream`, decode times kept strictly increasing. */
export class AvcFrameWriter {
  readonly #stream: Stream
  #lastDts = -1

  constructor(stream: Stream) {
    this.#stream = stream
  }

  /** Pushes an AVCDecoderConfigurationRecord (AVC sequence header) at `ms`. */
  decoderConfig(record: Buffer, ms: number): void {
    this.#stream.pushFrame('video', Math.max(0, Math.round(ms)), Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), record]), true, true, 0)
  }

  /**
   * Pushes one AVCC access unit presented at `ptsMs`. `ctsMs` is its composition time when the
   * sender told it (relay links); otherwise dts = pts, kept increasing, so B-frames get a
   * negative composition time, which FLV allows.
   */
  accessUnit(data: Buffer, ptsMs: number, keyframe: boolean, ctsMs: number | null = null): void {
    let dts = Math.round(ptsMs - (ctsMs ?? 0))
    if (dts <= this.#lastDts) dts = this.#lastDts + 1
    dts = Math.max(0, dts)
    this.#lastDts = dts
    const cts = Math.round(ptsMs) - dts
    const header = Buffer.from([keyframe ? 0x17 : 0x27, 1, 0, 0, 0])
    header.writeIntBE(Math.max(-0x800000, Math.min(0x7fffff, cts)), 2, 3)
    this.#stream.pushFrame('video', dts, Buffer.concat([header, data]), keyframe, false, cts)
  }
}

/**
 * VP8 frames of one publisher into `stream` as Enhanced RTMP v2 video tags, FourCC `vp08`:
 * `[IsExHeader 1][FrameType 3][PacketType 4]['vp08']` then the VPCodecConfigurationRecord
 * (PacketType 0, SequenceStart) or one frame (PacketType 3, CodedFramesX: no composition
 * time, VP8 has no reordering). Decode times kept strictly increasing.
 */
export class Vp8FrameWriter {
  readonly #stream: Stream
  #lastDts = -1

  constructor(stream: Stream) {
    this.#stream = stream
  }

  /** Pushes the VPCodecConfigurationRecord (SequenceStart) at `ms`. */
  decoderConfig(record: Buffer, ms: number): void {
    this.#stream.pushFrame('video', Math.max(0, Math.round(ms)), Buffer.concat([exVideoHeader(1, 0, VP08), record]), true, true, 0)
  }

  /** Pushes one VP8 frame (RFC 6386 §9) shown at `ms`. */
  frame(data: Buffer, ms: number, keyframe: boolean): void {
    let dts = Math.max(0, Math.round(ms))
    if (dts <= this.#lastDts) dts = this.#lastDts + 1
    this.#lastDts = dts
    this.#stream.pushFrame('video', dts, Buffer.concat([exVideoHeader(keyframe ? 1 : 2, 3, VP08), data]), keyframe, false, 0)
  }
}

const VP08 = Buffer.from('vp08', 'latin1')

/** Enhanced RTMP video tag header: frame type (1 key, 2 inter), packet type, FourCC. */
function exVideoHeader(frameType: number, packetType: number, fourCc: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | (frameType << 4) | packetType]), fourCc])
}

/** FLV AAC audio tag header: SoundFormat 10, 44 kHz flag, 16-bit, stereo flag (ignored for AAC). */
const AAC_TAG = 0xaf

/** Pushes an AudioSpecificConfig (AAC sequence header) at `ms`. */
export function pushAacConfig(stream: Stream, config: Buffer, ms = 0): void {
  stream.pushFrame('audio', Math.max(0, Math.round(ms)), Buffer.concat([Buffer.from([AAC_TAG, 0]), config]), false, true, 0)
}

/** Pushes one raw AAC access unit at `ms`. */
export function pushAacFrame(stream: Stream, data: Buffer, ms: number): void {
  stream.pushFrame('audio', Math.max(0, Math.round(ms)), Buffer.concat([Buffer.from([AAC_TAG, 1]), data]), false, false, 0)
}
