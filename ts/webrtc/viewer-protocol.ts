/**
 * What WHEP needs of whatever carries its viewers' media (`ViewerTransport`), and the messages
 * between the main thread (`ViewerPool`) and viewer workers (`ViewerHost`) of the
 * node-datachannel transport. The native transport (`NativeViewers`) implements the same
 * interface on `WebRtcViewers` from the binding.
 */
import type { RtpVideoCodec } from '../hub/rtp-source'
import type { SimulcastPolicyOptions } from './native-viewers'

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
  video?: { mid: string; codec: RtpVideoCodec; payloadType: number; fmtp: string; ssrc: number }
  audio?: { mid: string; payloadType: number; fmtp: string; ssrc: number }
  ice: IceSettings
  /**
   * Native transport: viewers with the same path group are one receiver's (an SFU participant's
   * downlinks) and share its path: congestion one of them sees stops the probes of all.
   */
  pathGroup?: string
}

/**
 * What a frame's first packet starts, for a transport that moves viewers between layers:
 * `keyframe` (any layer may be joined there), `switch-point` (a switching point of an SVC
 * operating point, `RtpRewriter.switchPoint`: a viewer moving up to it moves there); absent:
 * nothing of note. The native port takes the same strings (`WebRtcViewers.media`,
 * `TrackFanout.media`).
 */
export type FrameStart = 'keyframe' | 'switch-point'

export type PoolMessage =
  | { op: 'create'; viewer: ViewerSpec }
  | { op: 'candidate'; id: string; candidate: string; mid: string }
  | { op: 'close'; id: string }
  /** Live packets of a stream, back to back in `data`, packet i ending at `ends[i]`. */
  /** `at`: when the source message reached the server (ms since the epoch, fractional; NaN when unknown). */
  /** `start`: what the batch starts (a viewer skipping ahead may resume on a keyframe). */
  | { op: 'media'; streamKey: string; kind: 'video' | 'audio'; data: Uint8Array; ends: Uint32Array; at: number; start?: FrameStart }
  /** Packets for one viewer only (GOP replay), then its new video sequence offset. */
  | { op: 'inject'; id: string; kind: 'video' | 'audio'; data: Uint8Array; ends: Uint32Array; seqOffset: number; live: boolean }
  /** A publisher's sender report re-based onto a stream's track: `rtpTimestamp` at Unix `wallMs`. */
  | { op: 'anchor'; streamKey: string; kind: 'video' | 'audio'; rtpTimestamp: number; wallMs: number }
  | { op: 'stats' }
  | { op: 'reset-latency' }

export interface ViewerCounters {
  id: string
  packetsSent: number
  bytesSent: number
  nacks: number
  retransmitted: number
  sendFailures: number
  /** Native transport: transport-wide CC feedback packets the viewer sent (it follows our sequence numbers). */
  transportFeedback?: number
  /** Native transport: the send-side bandwidth estimate from that feedback (GCC), bit/s; 0 before the first. */
  estimateBps?: number
  /** Native transport: what the viewer reported receiving over the last 500 ms, bit/s. */
  receivedBps?: number
  /** NACKed packets not sent again because that second's retransmissions had reached the budget (the estimate's room, or the media's rate without one). */
  retransmissionsRefused?: number
  /** Native transport, simulcast streams: the stream or layer key its video comes from, the one it switches to, and the padding packets probes sent. */
  videoStream?: string
  switchingTo?: string
  probePackets?: number
  /** The simulcast layer policy paused its video (estimate under `webrtc.simulcast.pauseVideoBelowBps`). */
  videoPaused?: boolean
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

export interface ViewerEvents {
  onState(state: string): void
  /** `streamKey`: the stream or simulcast layer the keyframe is wanted from (native transport; default the viewer's stream). */
  onKeyframeRequest(reason: string, streamKey?: string): void
  onClosed(reason: string, packetsSent: number, bytesSent: number): void
}

/** What `ViewerTransport.stats()` gathers. */
export interface ViewerStats {
  viewers: ViewerCounters[]
  /** Source message arrival → last viewer's last packet sent, ms, recent video batches. */
  latencyMs: number[]
  /**
   * Native transport: of the same batches, in the same order, the part of `latencyMs` before the
   * fan-out (source message arrival → the send thread that finished last took the batch up), ms.
   */
  queueMs?: number[]
  /** Times a viewer process fell behind a stream and skipped to the next keyframe, since the pool started. */
  lagEvents: number
  /** Video packets skipped by viewer processes while behind, since the pool started. */
  packetsSkipped: number
  /** Viewer processes that did not answer in time (busy). */
  unanswered: number
}

/** Carries WHEP viewers' media: node-datachannel in viewer processes, or the native path. */
export interface ViewerTransport {
  /** Viewers now. */
  readonly size: number
  /** Viewer processes running (0 for the native path). */
  readonly processes: number
  /** Viewer processes that exited while serving (0 for the native path). */
  readonly processExits: number
  /** Sets up a viewer; resolves with the SDP answer. */
  create(spec: ViewerSpec, events: ViewerEvents): Promise<string>
  /** A trickled remote candidate (RFC 8840). */
  addCandidate(id: string, candidate: string, mid: string): void
  /** Closes a viewer (idempotent); `onClosed` follows. */
  closeViewer(id: string): void
  /**
   * A stream's packets of one frame, back to back in `data`, packet i ending at `ends[i]`;
   * `at`: when its source message arrived (`epochMs()`); `start`: what it starts.
   */
  media(streamKey: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, at?: number, start?: FrameStart): void
  /** Packets for one viewer (GOP replay); `live` lets it receive the stream's packets after them. */
  inject(id: string, kind: 'video' | 'audio', data: Uint8Array, ends: Uint32Array, seqOffset: number, live: boolean): void
  /**
   * Anchors the sender reports of `streamKey`'s `kind` track (which the transport sends each
   * viewer every second, RFC 3550 §6.4.1, with its own counts) on a publisher's report re-based
   * onto the stream's timestamps: `rtpTimestamp` was current at Unix `wallMs`. Without one,
   * reports follow when packets were sent.
   */
  anchor(streamKey: string, kind: 'video' | 'audio', rtpTimestamp: number, wallMs: number): void
  stats(timeoutMs?: number): Promise<ViewerStats>
  /**
   * Simulcast (native transport only): `streamKey`'s video also comes in the streams `layers`
   * (lower qualities, lowest first); each viewer is moved between them by its bandwidth estimate.
   * Empty: none. `scalable`: they are operating points of one SVC stream (down at the next
   * picture, no keyframe asked for; up at a keyframe, as between simulcast layers).
   * `withoutDescriptorMaxLayer`: the highest layer (index) a viewer that did not negotiate the
   * Dependency Descriptor can decode (an AV1 SVC stream's lowest spatial layer: 0); such
   * viewers are held there.
   */
  setLayers?(streamKey: string, layers: string[], scalable?: boolean, withoutDescriptorMaxLayer?: number): void
  /** How the layers of `streamKey`'s viewers are chosen, in place of the transport's policy (an SFU room's); `null`: the transport's again. */
  setLayerPolicy?(streamKey: string, policy: SimulcastPolicyOptions | null): void
  /** Pins viewer `id` to layer `index` of its stream's layers (lowest 0, the stream itself last), or unpins it (`null`). */
  pinLayer?(id: string, index: number | null): void
  /** Forgets the server-hop samples so far (`GET /api/stats?reset`: the next read covers a window). */
  resetLatency(): void
  close(): Promise<void>
}
