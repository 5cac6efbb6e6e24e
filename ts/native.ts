/**
 * The native addon (crates/binding), loaded through napi-rs's generated `binding.js`, which
 * picks the prebuilt binary for this platform. Only `ts/` imports it.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
import binding = require('../binding.js')

export const native = binding
export type { RtmpSession as NativeRtmpSession, RtmpFeedResult, RtmpEvent, CodecInfo } from '../binding.js'

/** Slots per media message in `RtmpFeedResult.mediaIndex`. */
export const MEDIA_INDEX_STRIDE = 7
/** Media flag bits in `mediaIndex`. */
export const MEDIA_FLAG_KEYFRAME = 1
export const MEDIA_FLAG_SEQUENCE_HEADER = 2
