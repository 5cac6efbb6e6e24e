/** Messages between the main thread (`ViewerPool`) and viewer workers (`ViewerHost`). */

export interface IceSettings {
  /** STUN/TURN servers as node-datachannel strings (`stun:host:port`, `turn:user:pass@host:port`). */
  iceServers: string[]
  /** Local address ICE binds to (tests: 127.0.0.1, so no candidate names another address). */
  bindAddress?: string
  portRangeBegin?: number
  portRangeEnd?: number
}

export interface ViewerSpec {
  id: string
  streamKey: string
  offer: string
  cname: string
  msid: string
  /** `codec`: the RTP encoding name; H.264 from RTMP sources, the publisher's for WebRTC ones. */
  video?: { mid: string; codec: 'H264' | 'VP8' | 'VP9' | 'AV1'; payloadType: number; fmtp: string; ssrc: number }
  audio?: { mid: string; payloadType: number; fmtp: string; ssrc: number }
  ice: IceSettings
}

export type PoolMessage =
  | { op: 'create'; viewer: ViewerSpec }
  | { op: 'candidate'; id: string; candidate: string; mid: string }
  | { op: 'close'; id: string }
  /** Live packets of a stream, back to back in `data`, packet i ending at `ends[i]`. */
  /** `at`: when the source message reached the server (ms since the epoch, fractional; NaN for RTCP). */
  /** `keyframe`: the batch is an IDR access unit (a viewer skipping ahead may resume on it). */
  | { op: 'media'; streamKey: string; kind: 'video' | 'audio'; data: Uint8Array; ends: Uint32Array; at: number; keyframe: boolean }
  /** Packets for one viewer only (GOP replay), then its new video sequence offset. */
  | { op: 'inject'; id: string; kind: 'video' | 'audio'; data: Uint8Array; ends: Uint32Array; seqOffset: number; live: boolean }
  | { op: 'stats' }

export interface ViewerCounters {
  id: string
  packetsSent: number
  bytesSent: number
  nacks: number
  retransmitted: number
  sendFailures: number
}

export type HostMessage =
  | { op: 'answer'; id: string; sdp: string }
  | { op: 'error'; id: string; message: string }
  | { op: 'state'; id: string; state: string }
  | { op: 'keyframe'; id: string; reason: string }
  | { op: 'closed'; id: string; reason: string; packetsSent: number; bytesSent: number }
  /** `latencyMs`: for recent video batches, source message arrival → last viewer's last packet sent. */
  /** `lagEvents`: times a stream fell behind; `packetsSkipped`: video packets dropped then (both since the process started). */
  | { op: 'stats'; viewers: ViewerCounters[]; latencyMs: number[]; lagEvents: number; packetsSkipped: number }
  | { op: 'log'; level: 'info' | 'warn' | 'debug'; msg: string; data?: Record<string, unknown> }
