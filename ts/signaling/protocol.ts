/**
 * The signaling message schema (WebSocket, one JSON object per text frame), validated with zod.
 * `docs/signaling.md` is the reader's version of this file: keep the two in step.
 */
import { z } from 'zod'

/** The reserved peer id of the server-side SFU in `sfu` rooms. */
export const SFU_PEER_ID = 'sfu'

/** Room names: 1–64 characters of `A-Z a-z 0-9 . _ -`. */
export const ROOM_NAME = /^[A-Za-z0-9._-]{1,64}$/

/**
 * Room modes: `p2p` (a full mesh of browser PeerConnections), `sfu` (a PeerConnection to the
 * server for what one publishes and the chat, and one receive-only PeerConnection per other
 * participant's stream the server announces) or `mcu` (the same, but the one stream announced
 * is `mix`: everyone, with everyone's audio but one's own).
 */
export const roomMode = z.enum(['p2p', 'sfu', 'mcu'])
export type RoomMode = z.infer<typeof roomMode>

/** Whether a room's media go through the server (`sfu` and `mcu` rooms: the peer `sfu`). */
export function isServerRoom(mode: RoomMode): boolean {
  return mode !== 'p2p'
}

/** A client's optional correlation id, echoed in the `joined`/`left`/`pong`/`error` that answers it. */
const requestId = z.union([z.string().max(64), z.number().int().safe()]).optional()
const peerId = z.string().min(1).max(64)
const sdp = z.string().min(1).max(60_000)
/**
 * To the peer `sfu` only: the announced stream (`stream-added`) a subscriber's receive-only
 * PeerConnection is for; without it, the message is about the participant's own PeerConnection.
 */
const stream = z.string().min(1).max(64).optional()
/**
 * To the peer `sfu` only: the offer is for a PeerConnection that publishes the participant's
 * camera (simulcast welcome), received on the server's native port; candidates for it need not
 * be sent (the server is ICE-lite) and are ignored.
 */
const publish = z.boolean().optional()

/** An ICE candidate as `RTCIceCandidate.toJSON()` gives it; `null` ends the candidates. */
export const iceCandidate = z
  .object({
    candidate: z.string().max(2048),
    sdpMid: z.string().max(64).nullable().optional(),
    sdpMLineIndex: z.number().int().min(0).max(1024).nullable().optional(),
    usernameFragment: z.string().max(256).nullable().optional(),
  })
  .nullable()
export type IceCandidate = z.infer<typeof iceCandidate>

export const joinMessage = z.object({
  type: z.literal('join'),
  id: requestId,
  room: z.string().regex(ROOM_NAME),
  /** Default `p2p`; must match the room's mode when the room exists. */
  mode: roomMode.optional(),
  /** The most peers in the room; only the peer that creates the room sets it. */
  capacity: z.number().int().min(1).max(1000).optional(),
  /** Passed to the server's `authorize` hook. */
  token: z.string().max(4096).optional(),
  /** A display name shown to the other peers. */
  name: z.string().max(64).optional(),
})
export const leaveMessage = z.object({ type: z.literal('leave'), id: requestId })
export const offerMessage = z.object({ type: z.literal('offer'), id: requestId, to: peerId, sdp, stream, publish })
export const answerMessage = z.object({ type: z.literal('answer'), id: requestId, to: peerId, sdp })
export const candidateMessage = z.object({ type: z.literal('candidate'), id: requestId, to: peerId, candidate: iceCandidate, stream, publish })
export const chatMessage = z.object({ type: z.literal('chat'), id: requestId, text: z.string().min(1).max(4000) })
export const pingMessage = z.object({ type: z.literal('ping'), id: requestId, ts: z.number().optional() })

/** Every message a client may send. */
export const clientMessage = z.discriminatedUnion('type', [
  joinMessage,
  leaveMessage,
  offerMessage,
  answerMessage,
  candidateMessage,
  chatMessage,
  pingMessage,
])
export type ClientMessage = z.infer<typeof clientMessage>
export type JoinMessage = z.infer<typeof joinMessage>
/** `offer`, `answer` or `candidate` from a client, addressed to a peer (or to `sfu`). */
export type SignalMessage = z.infer<typeof offerMessage> | z.infer<typeof answerMessage> | z.infer<typeof candidateMessage>

/** Error codes of `{type:'error'}` messages (see docs/signaling.md). */
export const ErrorCode = {
  /** A text frame that is not UTF-8 JSON. */
  BAD_JSON: 'BAD_JSON',
  /** JSON that is not a valid message (not an object, unknown `type`, a field missing or of the wrong type). */
  BAD_MESSAGE: 'BAD_MESSAGE',
  /** A binary frame: only text frames are accepted. */
  BAD_FRAME: 'BAD_FRAME',
  /** A message over `maxMessageBytes` (frames over `maxFrameBytes` close the socket with 1009). */
  TOO_LARGE: 'TOO_LARGE',
  /** Over the connection's message rate; the message was dropped. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A message that needs a room (offer, answer, candidate, chat, leave) before `join`. */
  NOT_IN_ROOM: 'NOT_IN_ROOM',
  /** `join` while already in (or joining) a room: `leave` first. */
  ALREADY_JOINED: 'ALREADY_JOINED',
  /** The room has `capacity` peers already. */
  ROOM_FULL: 'ROOM_FULL',
  /** The `authorize` hook refused the token. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** `to` names no peer of the room. */
  UNKNOWN_PEER: 'UNKNOWN_PEER',
  /** The room exists with the other mode. */
  MODE_MISMATCH: 'MODE_MISMATCH',
  /** An `sfu` room, but no SFU is plugged into this server. */
  SFU_UNAVAILABLE: 'SFU_UNAVAILABLE',
  /** The server has `maxRooms` rooms already. */
  TOO_MANY_ROOMS: 'TOO_MANY_ROOMS',
  /**
   * A cluster pins every SFU/MCU room to one node and the room lives on another: the error's
   * `redirect` is that node's HTTP base URL (`http://host:port`); join there (its `/signaling`).
   */
  ROOM_ELSEWHERE: 'ROOM_ELSEWHERE',
  /** The server failed (an `authorize` hook or the SFU threw); logged. */
  INTERNAL: 'INTERNAL',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** WebSocket close codes the server uses. */
export const CloseCode = {
  /** Server shutting down. */
  GOING_AWAY: 1001,
  /** Abuse: far over the rate limit, or too slow to read what the server sends. */
  POLICY: 1008,
  /** A frame over `maxFrameBytes`. */
  TOO_BIG: 1009,
} as const

/** A peer as the others see it. */
export interface PeerDescription {
  id: string
  name?: string
}

/** Every message the server sends. */
export type ServerMessage =
  | {
      type: 'joined'
      id?: string | number
      room: string
      mode: RoomMode
      capacity: number | null
      peerId: string
      peers: PeerDescription[]
      /** STUN/TURN URLs for the RTCPeerConnections (`turn:user:pass@host:port` carries credentials). */
      iceServers: string[]
    }
  | { type: 'left'; id?: string | number; room: string }
  | { type: 'peer-joined'; peer: PeerDescription }
  | { type: 'peer-left'; peerId: string }
  | { type: 'offer'; from: string; sdp: string }
  /** `stream`: from `sfu`, the answer to a subscriber's offer for that stream; `publish`: to the participant's `publish` offer. */
  | { type: 'answer'; from: string; sdp: string; stream?: string; publish?: boolean }
  | { type: 'candidate'; from: string; candidate: IceCandidate }
  /** From `sfu`: a stream this participant may receive (offer a receive-only PeerConnection with `stream`). */
  | { type: 'stream-added'; from: string; stream: string }
  /** From `sfu`: that stream ended; the server closed its side of the subscriber's PeerConnection. */
  | { type: 'stream-removed'; from: string; stream: string }
  | { type: 'chat'; from: string; text: string; ts: number }
  | { type: 'pong'; id?: string | number; ts?: number }
  | { type: 'error'; code: ErrorCode; message: string; id?: string | number; redirect?: string }

/** A short readable summary of a zod error for a `BAD_MESSAGE` answer. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ` : '') + i.message)
    .join('; ')
    .slice(0, 300)
}
