/**
 * The native addon (crates/binding), loaded through napi-rs's generated `binding.js`, which
 * picks the prebuilt binary for this platform. Only `ts/` imports it.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
import binding = require('../binding.js')

export const native = binding
export type { RtmpSession as NativeRtmpSession, RtmpFeedDetails, RtmpEvent, CodecInfo } from '../binding.js'

/**
 * Slots per media message in `RtmpSession.mediaIndex`: typeId, messageStreamId, timestamp (ms),
 * slab slot (in `RtmpSession.slabs`; 0 = the `feedInPlace()` input), offset, length (bytes),
 * flags, composition time (ms, signed).
 */
export const MEDIA_INDEX_STRIDE = 8
/** Media flag bits in `mediaIndex`. */
export const MEDIA_FLAG_KEYFRAME = 1
export const MEDIA_FLAG_SEQUENCE_HEADER = 2
