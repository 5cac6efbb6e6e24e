/**
 * Room messages over the participants' data channels (label `chat`, RFC 8831): a client sends
 * `{"type":"chat","text":"..."}` (JSON text, text 1–4000 characters); the SFU relays
 * `{"type":"chat","from":"<peer id>","text":"...","ts":<Unix ms>}` to every other participant's
 * channel. Anything else (binary, oversized, not that shape, over the rate) is dropped and counted.
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

/** The text of a client's chat message, or null when the message is not one. */
export function parseChat(message: string | Buffer | ArrayBuffer): string | null {
  if (typeof message !== 'string' || message.length > MAX_CHAT_MESSAGE) return null
  let value: unknown
  try {
    value = JSON.parse(message)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const { type, text } = value as { type?: unknown; text?: unknown }
  if (type !== 'chat' || typeof text !== 'string' || text.length === 0 || text.length > MAX_CHAT_TEXT) return null
  return text
}
