/**
 * Room messages over the participants' data channels (label `chat`, RFC 8831): a client sends
 * `{"type":"chat","text":"..."}` (JSON text, text 1–4000 characters); the SFU relays
 * `{"type":"chat","from":"<peer id>","text":"...","ts":<Unix ms>}` to every other participant's
 * channel. Anything else (binary, oversized, not that shape, over the rate) is dropped and counted.
 *
 * Simulcast layer control on the same channel: a client sends `{"type":"layer","stream":"<peer
 * id>","rid":"h"}` to pin its downlink of that stream to layer `h` (`"rid":null`: its bandwidth
 * estimate chooses again); the SFU sends each participant with simulcast downlinks
 * `{"type":"layers","downlinks":[DownlinkLayers...]}` every second (see `DownlinkLayers`).
 */

/** The data channel label the SFU relays. */
export const CHAT_LABEL = 'chat'

/** Longest chat text, characters (as in the signaling `chat` message). */
export const MAX_CHAT_TEXT = 4000

/** Longest data channel message read, bytes (UTF-16 code units of the JSON text). */
export const MAX_CHAT_MESSAGE = 16 * 1024

/** What the SFU sends to the other participants for one chat line. */
export interface RelayedChat {
  type: 'chat'
  /** The sender's peer id. */
  from: string
  text: string
  /** When the SFU relayed it, Unix ms. */
  ts: number
}

/** One downlink's simulcast state, as the SFU reports it on the data channel every second. */
export interface DownlinkLayers {
  /** The stream (publisher's peer id). */
  stream: string
  /** The rid of the layer it gets now, null when its video is paused by the room's policy. */
  layer: string | null
  /** The stream's layers, lowest first. */
  layers: string[]
  /** The layer it moves to at that layer's next keyframe, or null. */
  switchingTo: string | null
  /** The layer it is pinned to (`layer` message), or null. */
  pinned: string | null
  /** The send-side bandwidth estimate of this downlink, bit/s (0 before the first feedback). */
  estimateBps: number
}

/** A client's data channel message: a chat line, or a simulcast layer pin (`rid` null: unpin). */
export type DataMessage = { type: 'chat'; text: string } | { type: 'layer'; stream: string; rid: string | null }

/** A layer's rid as RFC 8851 §10 allows it (and what we accept). */
const RID = /^[A-Za-z0-9_-]{1,64}$/

/** Reads a client's data channel message; null when it is none of `DataMessage`. */
export function parseDataMessage(message: string | Buffer | ArrayBuffer): DataMessage | null {
  if (typeof message !== 'string' || message.length > MAX_CHAT_MESSAGE) return null
  let value: unknown
  try {
    value = JSON.parse(message)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const { type, text, stream, rid } = value as { type?: unknown; text?: unknown; stream?: unknown; rid?: unknown }
  if (type === 'chat') return typeof text === 'string' && text.length > 0 && text.length <= MAX_CHAT_TEXT ? { type, text } : null
  if (type !== 'layer' || typeof stream !== 'string' || stream.length === 0 || stream.length > 64) return null
  if (rid !== null && (typeof rid !== 'string' || !RID.test(rid))) return null
  return { type, stream, rid }
}
