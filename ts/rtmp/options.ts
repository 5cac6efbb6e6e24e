/** Options of the RTMP server. */
export interface RtmpOptions {
  /** TCP port. Default 1935. */
  port: number
  /** Address to bind. Default `0.0.0.0`. */
  host: string
  /**
   * Outgoing chunk size in bytes, sent with Set Chunk Size right after `connect`. Every player
   * shares it, so a stream's media is chunked once for all of them. Default 4096.
   */
  chunkSize: number
  /** Window Acknowledgement Size and Set Peer Bandwidth we announce, in bytes. Default 2 500 000. */
  windowAckSize: number
  /** Largest chunk size (bytes) a peer may set; above it the session is closed. Default 65 536. */
  maxChunkSize: number
  /** Largest message (bytes) a peer may announce; above it the session is closed. Default 8 MiB. */
  maxMessageSize: number
  /**
   * Bytes queued to one player's socket past which it skips to the next keyframe (dropping
   * frames, never slowing the publisher). Default 4 MiB.
   */
  playerQueueBytes: number
  /** A player still skipping after this many ms is disconnected. Default 10 000. */
  playerMaxBehindMs: number
  /**
   * Merged writes for players (as SRS's `mw_latency`): media for a player is gathered for up to
   * this many ms and leaves in one `socket.write()` of one Buffer, shared by the players that got
   * the same frames in the window (ts/rtmp/merged-writes.ts). Default 50: at 1000 players the
   * server's CPU per 100 players is 3.4 % with 0 (one event-loop turn, the lowest latency) and
   * 2.5-2.6 % with 50, for at most 50 ms more latency to RTMP players (WebRTC viewers and
   * HTTP-FLV are not affected). Measured with `npm run bench:fanout` (bench/README.md).
   */
  playerMergeWriteMs: number
  /** Interval (ms) of our PingRequest; a peer silent for 3 intervals is closed. Default 20 000. */
  pingIntervalMs: number
  /** A connection that has not completed `connect` within this many ms is closed. Default 10 000. */
  connectTimeoutMs: number
  /** RTMPS listener (TLS on its own port; PEM files read at `listen()`), or null. Default null. */
  tls: { port: number; host?: string; certFile: string; keyFile: string } | null
}

export const defaultRtmpOptions: RtmpOptions = {
  port: 1935,
  host: '0.0.0.0',
  chunkSize: 4096,
  windowAckSize: 2_500_000,
  maxChunkSize: 65_536,
  maxMessageSize: 8 * 1024 * 1024,
  playerQueueBytes: 4 * 1024 * 1024,
  playerMaxBehindMs: 10_000,
  playerMergeWriteMs: 50,
  pingIntervalMs: 20_000,
  connectTimeoutMs: 10_000,
  tls: null,
}
