/**
 * The one schema of Sluice's settings: the config file (YAML), `SLUICE_*` environment variables
 * and CLI flags are merged in that order of precedence and validated here; `new Sluice(options)`
 * takes the same shape (every key optional) plus code-only hooks.
 *
 * Units: every `...Ms` is milliseconds, every `...Bytes` bytes. An unknown key is an error (the
 * path of the key is reported), so a typo never silently falls back to a default.
 */
import { z } from 'zod'

const port = z.number().int().min(0).max(65535)
const ms = z.number().int().min(0)
const bytes = z.number().int().min(1)

export const rtmpSchema = z.strictObject({
  /** TCP port. Default 1935. */
  port: port.default(1935),
  /** Address to bind. Default `0.0.0.0`. */
  host: z.string().min(1).default('0.0.0.0'),
  /** Outgoing chunk size sent after `connect`, bytes (128-65536). Default 4096. */
  chunkSize: z.number().int().min(128).max(65536).default(4096),
  /** Window Acknowledgement Size / Set Peer Bandwidth we announce, bytes. Default 2 500 000. */
  windowAckSize: bytes.default(2_500_000),
  /** Largest chunk size a peer may set, bytes; above it the session is closed. Default 65 536. */
  maxChunkSize: z.number().int().min(128).max(16 * 1024 * 1024).default(65_536),
  /** Largest message a peer may announce, bytes. Default 8 MiB. */
  maxMessageSize: bytes.default(8 * 1024 * 1024),
  /** Bytes queued to one player past which it skips to the next keyframe. Default 4 MiB. */
  playerQueueBytes: bytes.default(4 * 1024 * 1024),
  /** A player still skipping after this many ms is disconnected. Default 10 000. */
  playerMaxBehindMs: ms.default(10_000),
  /** Merge players' writes for up to this many ms (0-1000; SRS's `mw_latency`). Default 50. */
  playerMergeWriteMs: z.number().int().min(0).max(1000).default(50),
  /** PingRequest interval, ms; a peer silent for 3 intervals is closed. Default 20 000. */
  pingIntervalMs: z.number().int().min(100).default(20_000),
  /** A connection without `connect` after this many ms is closed. Default 10 000. */
  connectTimeoutMs: z.number().int().min(100).default(10_000),
  /** RTMPS: RTMP over TLS on its own port, beside plain RTMP. Default null (off). */
  tls: z.strictObject({
    /** TCP port. Default 1936 (MediaMTX's). */
    port: port.default(1936),
    /** Address to bind. Default `rtmp.host`. */
    host: z.string().min(1).optional(),
    /** PEM certificate chain file. */
    certFile: z.string().min(1),
    /** PEM private key file. */
    keyFile: z.string().min(1),
  }).nullable().default(null),
  /** PEM file of extra CA certificates trusted by `rtmps://` pushes and pulls (besides Node's). Default none. */
  caFile: z.string().min(1).nullable().default(null),
  /**
   * Push rules: every stream published in `app` (only `stream`, when given) is pushed to `url`
   * while it is live, `{app}` and `{stream}` replaced (e.g. `rtmp://cdn.example/live/{stream}`).
   */
  pushes: z.array(z.strictObject({
    app: z.string().min(1),
    stream: z.string().min(1).optional(),
    url: z.string().regex(/^rtmps?:\/\//, 'an rtmp:// or rtmps:// URL'),
  })).default([]),
  /**
   * On-demand pull rules: a player asking for a stream of `app` (only `stream`, when given)
   * that is not live makes Sluice play it from `url` (`{app}`, `{stream}` replaced); the pull
   * ends `idleMs` after the last player left.
   */
  pulls: z.array(z.strictObject({
    app: z.string().min(1),
    stream: z.string().min(1).optional(),
    url: z.string().regex(/^rtmps?:\/\//, 'an rtmp:// or rtmps:// URL'),
    idleMs: z.number().int().min(0).default(10_000),
  })).default([]),
})

export const srtSchema = z.strictObject({
  /** Serve SRT (publish and play, MPEG-TS inside). Default true. */
  enabled: z.boolean().default(true),
  /** UDP port. Default 8890 (MediaMTX's). */
  port: port.default(8890),
  /** Address to bind. Default `0.0.0.0`. */
  host: z.string().min(1).default('0.0.0.0'),
  /** TSBPD latency Sluice asks for (SRTO_LATENCY; the larger of both sides wins), ms. Default 120. */
  latencyMs: z.number().int().min(20).max(10_000).default(120),
  /**
   * Passphrase every caller must use (10–79 characters; AES-128/192/256 as the caller chooses
   * with its `pbkeylen`). Null: callers must not encrypt. Default null.
   */
  passphrase: z.string().min(10).max(79).nullable().default(null),
  /**
   * With a passphrase: Sluice switches to a new key after this many packets sent to a session
   * (SRTO_KMREFRESHRATE; at least twice `kmPreAnnounce`). Default 2^24 (libsrt's).
   */
  kmRefreshRate: z.number().int().min(2).max(0xffffffff).default(1 << 24),
  /** ... and announces it (KMREQ) this many packets before (SRTO_KMPREANNOUNCE). Default 4096. */
  kmPreAnnounce: z.number().int().min(1).max(0x7fffffff).default(1 << 12),
  /** A peer silent this long is dropped, ms. Default 5000. */
  peerIdleTimeoutMs: z.number().int().min(500).default(5000),
  /** Handshakes in progress at once; more are ignored until some finish (a flood bound). Default 256. */
  maxPendingHandshakes: z.number().int().min(1).max(100_000).default(256),
  /** A handshake that does not finish within this is forgotten, ms. Default 5000. */
  handshakeTimeoutMs: z.number().int().min(100).default(5000),
  /** Largest access unit accepted from a publisher's transport stream, bytes. Default 8 MiB. */
  maxAccessUnitBytes: bytes.default(8 * 1024 * 1024),
  /**
   * Packets in an SRT player's send buffer past which it skips to the next keyframe (at most
   * 4096: the buffer holds 8192). Default 2048 (~2.7 MB, ~8 s at 2.5 Mbit/s).
   */
  playerQueuePackets: z.number().int().min(16).max(4096).default(2048),
}).refine((s) => s.kmRefreshRate >= 2 * s.kmPreAnnounce, { message: 'kmRefreshRate must be at least twice kmPreAnnounce', path: ['kmRefreshRate'] })

export const httpSchema = z.strictObject({
  /** TCP port. Default 8000. */
  port: port.default(8000),
  /** Address to bind. Default `0.0.0.0`. */
  host: z.string().min(1).default('0.0.0.0'),
  /** Largest request body read by any route, bytes; larger bodies answer 413. Default 64 KiB. */
  bodyLimitBytes: bytes.default(64 * 1024),
  cors: z
    .strictObject({
      /**
       * Origins allowed to read the public routes (stream lists, HTTP-FLV, WHIP/WHEP). `*` for
       * any. Default `["*"]`.
       */
      origins: z.array(z.string().min(1)).default(['*']),
      /**
       * Origins allowed to call the admin API from a browser. Never `*`. Default none (the
       * dashboard is same-origin and needs none).
       */
      adminOrigins: z.array(z.string().min(1).refine((o) => o !== '*', 'adminOrigins may not be "*"')).default([]),
    })
    .prefault({}),
})

/** How a viewer's simulcast layer is chosen from its bandwidth estimate (`webrtc.simulcast`, `sfu.simulcast`, a room's policy). */
export const simulcastPolicySchema = z.strictObject({
  /** The highest layer a viewer gets (0 the lowest); null: the top. */
  maxLayer: z.number().int().min(0).max(15).nullable().default(null),
  /** Under this estimate (bit/s, after the audio with `audioFirst`) video pauses, audio only; 0: never. */
  pauseVideoBelowBps: z.number().min(0).max(1e9).default(0),
  /** The estimate covers the audio first. */
  audioFirst: z.boolean().default(true),
})

export const webrtcSchema = z.strictObject({
  /** ICE servers announced to viewers, as URLs (`stun:host:3478`, `turn:user:pass@host:3478`). */
  iceServers: z.array(z.string().min(1)).default([]),
  /** Local address ICE binds to. Default: every interface. */
  bindAddress: z.string().min(1).optional(),
  /** UDP port range for ICE. Default: any. */
  portRangeBegin: port.optional(),
  portRangeEnd: port.optional(),
  /**
   * Where WHEP viewers are served in parallel: viewer processes hosting PeerConnections
   * (`datachannel`), or send threads each serving a share of the viewers (`native`). Default: one
   * per core, at most 4.
   */
  workers: z.number().int().min(1).max(64).optional(),
  /** Viewers of one stream per viewer process before the next process takes them. Default 100. */
  viewersPerWorker: z.number().int().min(1).max(10_000).optional(),
  /**
   * What carries WHEP viewers' media: `datachannel` (node-datachannel PeerConnections in viewer
   * processes, default) or `native` (ICE-lite, DTLS-SRTP and SRTP in the binding, every viewer on
   * one UDP port, `udpPort`).
   */
  transport: z.enum(['datachannel', 'native']).default('datachannel'),
  /** The native transport's UDP port (all viewers). Default 8189; 0 picks a free one. */
  udpPort: port.optional(),
  /** Addresses the native transport announces in its candidates (public IP behind NAT, several interfaces). Default: `bindAddress`, or every non-internal IPv4 address. */
  announcedAddresses: z.array(z.string().min(1)).optional(),
  /** How each WHEP viewer's simulcast layer is chosen from its bandwidth estimate (native transport). */
  simulcast: simulcastPolicySchema.default({ maxLayer: null, pauseVideoBelowBps: 0, audioFirst: true }),
})

export const rtpSchema = z.strictObject({
  /** Address UDP sockets of forwarders, ingests and relay links bind to. Default: `http.host`. */
  host: z.string().min(1).optional(),
  /** Address given to senders in ingest answers and to origins in relay offers. */
  advertisedHost: z.string().min(1).nullable().default(null),
  /** Shared secret authorizing relay links between nodes; relays are refused without it. */
  relaySecret: z.string().min(16, 'relaySecret must be at least 16 characters').nullable().default(null),
  /**
   * Where forwarders may send and relays may pull from, beyond loopback: CIDRs (`10.0.0.0/8`,
   * `2001:db8::/32`) and host names. Default none: no destination off this machine.
   */
  allowedDestinations: z.array(z.string().min(1)).default([]),
})

export const hubSchema = z.strictObject({
  gopLimits: z
    .strictObject({
      /** Most payload bytes a stream's GOP cache holds. Default 32 MiB. */
      maxBytes: bytes.optional(),
      /** Most frames a stream's GOP cache holds. Default 4096. */
      maxFrames: z.number().int().min(1).optional(),
    })
    .prefault({}),
  /** Ms players wait, unaware, for a returning publisher before UnpublishNotify. Default 3000. */
  unpublishGraceMs: ms.default(3000),
  /**
   * A publisher (any protocol) that sends no media for this many ms is closed, freeing its
   * stream name (SRS's `normal_timeout`, MediaMTX's `readTimeout`). Default 5000.
   */
  publisherTimeoutMs: z.number().int().min(500).default(5000),
  /** As `publisherTimeoutMs`, before a publisher's first media (SRS's `firstpkt_timeout`). Default 20 000. */
  firstMediaTimeoutMs: z.number().int().min(500).default(20_000),
})

export const signalingSchema = z.strictObject({
  /** HTTP path of the WebSocket endpoint. Default `/signaling`. */
  path: z.string().startsWith('/').default('/signaling'),
  /** Messages longer than this get `TOO_LARGE`, bytes. Default 64 KiB. */
  maxMessageBytes: bytes.default(64 * 1024),
  /** Frames longer than this close the connection (1009), bytes. Default 1 MiB. */
  maxFrameBytes: bytes.default(1024 * 1024),
  /** WebSocket ping interval, ms. Default 15 000. */
  heartbeatMs: z.number().int().min(100).default(15_000),
  rateLimit: z
    .strictObject({ perSecond: z.number().positive().default(50), burst: z.number().int().min(1).default(200), closeAfter: z.number().int().min(1).default(1000) })
    .prefault({}),
  /** The most rooms at once. Default 10 000. */
  maxRooms: z.number().int().min(1).default(10_000),
  /** A peer with more than this unread is dropped, bytes. Default 8 MiB. */
  maxBufferedBytes: bytes.default(8 * 1024 * 1024),
})

export const sfuSchema = z.strictObject({
  /** `false`: no SFU (joining an `sfu` room answers `SFU_UNAVAILABLE`). Default true. */
  enabled: z.boolean().default(true),
  /** Hub app of the participants' streams. Default `room`. */
  app: z.string().min(1).default('room'),
  /** The simulcast layer policy of rooms without their own (`PUT /api/sfu/rooms/{room}/simulcast`); null (default): `webrtc.simulcast`. */
  simulcast: simulcastPolicySchema.nullable().default(null),
})

export const accessSchema = z.strictObject({
  /**
   * How publish and play requests of every protocol are decided:
   * - `loopback` (the default): any request from this machine is accepted, any other refused;
   * - `open`: every request is accepted (a trusted network only);
   * - `token`: a signed expiring token (`sluice token`, HMAC-SHA256) for the action and stream;
   * - `jwt`: a JSON Web Token (HS256/RS256/ES256) whose `publish`/`play` claims match the stream;
   * - `webhook`: `webhooks.onPublish` / `webhooks.onPlay` decide.
   * Webhooks, when configured, are asked after any policy accepts; in-process listeners
   * (`sluice.on('publish')`) last.
   */
  policy: z.enum(['loopback', 'open', 'token', 'jwt', 'webhook']).default('loopback'),
  token: z.strictObject({ /** HMAC-SHA256 key of signed tokens. */ secret: z.string().min(16, 'access.token.secret must be at least 16 characters') }).optional(),
  jwt: z
    .strictObject({
      /** HS256 shared secret. */
      secret: z.string().min(16).optional(),
      /** RS256/ES256 public key (PEM, SPKI). */
      publicKey: z.string().min(1).optional(),
      /** Accepted algorithms. Default: HS256 with `secret`, RS256 and ES256 with `publicKey`. */
      algorithms: z.array(z.enum(['HS256', 'HS384', 'HS512', 'RS256', 'ES256', 'EdDSA'])).optional(),
      /** Required `iss` claim. */
      issuer: z.string().optional(),
      /** Required `aud` claim. */
      audience: z.string().optional(),
    })
    .refine((j) => Boolean(j.secret) !== Boolean(j.publicKey), 'give exactly one of access.jwt.secret and access.jwt.publicKey')
    .optional(),
})

export const webhooksSchema = z.strictObject({
  /** POSTed before a publish is accepted; a non-2xx answer or a timeout refuses it. */
  onPublish: z.url().optional(),
  /** POSTed before a play is accepted; a non-2xx answer or a timeout refuses it. */
  onPlay: z.url().optional(),
  /** POSTed when a publisher leaves (notification; the answer is ignored). */
  onUnpublish: z.url().optional(),
  /** POSTed when a player leaves (notification; the answer is ignored). */
  onStop: z.url().optional(),
  /** POSTed when a recording file is finished: its path, start, duration, size (notification). */
  onRecordDone: z.url().optional(),
  /** Ms to wait for a webhook's answer. Default 3000. */
  timeoutMs: z.number().int().min(50).max(60_000).default(3000),
})

export const adminSchema = z.strictObject({
  /**
   * Admin credential (`Authorization: Bearer <token>`) for the admin API (`/api/forwards`,
   * `/api/ingests`, `/api/relays`, `/api/clients`, the dashboard). Without one, the admin API
   * answers only on loopback. At least 16 characters.
   */
  token: z.string().min(16, 'admin.token must be at least 16 characters').nullable().default(null),
})

export const metricsSchema = z.strictObject({
  /** Serve Prometheus metrics. Default true. */
  enabled: z.boolean().default(true),
  /** Path of the metrics endpoint. Default `/metrics`. */
  path: z.string().startsWith('/').default('/metrics'),
  /** Require the admin credential (as the admin API does). Default false. */
  requireAdmin: z.boolean().default(false),
})

export const shutdownSchema = z.strictObject({
  /** On SIGTERM/SIGINT: ms to wait for players to finish after they are told the stream ended. Default 5000. */
  graceMs: ms.default(5000),
})

export const logSchema = z.strictObject({
  /** pino level. Default `info`. */
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

const streamRef = z.string().regex(/^[A-Za-z0-9._~-]{1,128}\/[A-Za-z0-9._~-]{1,128}$/, 'app/name')

export const mixSchema = z.strictObject({
  /** A mix's output width, px (even). Default 1280. */
  width: z.number().int().min(16).max(3840).multipleOf(2).default(1280),
  /** A mix's output height, px (even). Default 720. */
  height: z.number().int().min(16).max(2160).multipleOf(2).default(720),
  /** Frames per second. Default 30. */
  frameRate: z.number().min(1).max(60).default(30),
  /** H.264 target, bits/s. Default 2 500 000. */
  videoBitrate: z.number().int().min(50_000).max(50_000_000).default(2_500_000),
  /** AAC-LC target, bits/s. Default 128 000. */
  audioBitrate: z.number().int().min(8000).max(512_000).default(128_000),
  /** Ms between keyframes. Default 2000. */
  keyframeIntervalMs: z.number().int().min(100).max(60_000).default(2000),
  /** `grid`, `speaker` (the first input large, thumbnails below) or `pip`. Default `grid`. */
  layout: z.enum(['grid', 'speaker', 'pip']).default('grid'),
  /** Canvas colour. Default `#000000`. */
  background: z.string().regex(/^#[0-9a-fA-F]{6}$/).default('#000000'),
  /** Ms every input is held back to absorb jitter. Default 100. */
  latencyMs: z.number().int().min(0).max(5000).default(100),
  /** Ms without video after which an input leaves the layout. Default 3000. */
  inputTimeoutMs: z.number().int().min(100).default(3000),
  /** Mixes at once at most (each is about a core at 720p30). Default 4. */
  maxMixes: z.number().int().min(0).default(4),
  /** Co-hosting: ms the host is held back in the program, more than a mix's latency. Default 500. */
  cohostDelayMs: z.number().int().min(100).max(10_000).default(500),
  /** Mixes made at start: the stream `output` (`app/name`) composed of `inputs`. */
  mixes: z.array(z.strictObject({
    output: streamRef,
    inputs: z.array(streamRef).min(1).max(16),
    layout: z.enum(['grid', 'speaker', 'pip']).optional(),
  })).default([]),
  /**
   * Co-hosting sessions made at start: `host` pushed to `pushes` (rtmp[s]:// URLs), switching
   * to a mix with `guests` while one is live.
   */
  cohosts: z.array(z.strictObject({
    host: streamRef,
    guests: z.array(streamRef).max(15).default([]),
    pushes: z.array(z.string().regex(/^rtmps?:\/\//, 'an rtmp:// or rtmps:// URL')).default([]),
    layout: z.enum(['grid', 'speaker', 'pip']).optional(),
  })).default([]),
})

const recordFormat = z.enum(['fmp4', 'flv'])

export const recordSchema = z.strictObject({
  /** Where recordings go: `{directory}/{app}/{stream}/{YYYY-MM-DD_HH-MM-SS-mmm}.{mp4|flv}`. Default `./recordings`. */
  directory: z.string().min(1).default('./recordings'),
  /** `fmp4` (fragmented MP4, one fragment per GOP; default) or `flv`. */
  format: recordFormat.default('fmp4'),
  /** A new file on the first keyframe after this much media, ms; 0 never. Default one hour. */
  segmentDurationMs: z.number().int().min(0).max(86_400_000).default(3_600_000),
  /** A new file on the first keyframe after this many bytes; 0 never. Default 0. */
  segmentMaxBytes: z.number().int().min(0).default(0),
  /** Streams recorded whenever they are published: every stream of `app`, or only `streams`. */
  rules: z
    .array(z.strictObject({
      app: z.string().min(1),
      /** Stream names; default every stream of the app. */
      streams: z.array(z.string().min(1)).optional(),
      /** Overrides `format` for these streams. */
      format: recordFormat.optional(),
    }))
    .default([]),
  /** Finished files listed by `GET /api/recordings`, the newest first. Default 1000. */
  historySize: z.number().int().min(0).max(100_000).default(1000),
})

export const hlsSchema = z.strictObject({
  /** Serve `/hls/{app}/{stream}/index.m3u8` (LL-HLS, fMP4). Default true. */
  enabled: z.boolean().default(true),
  /** Minimum segment duration, ms: a segment ends at the first keyframe after it. Default 2000. */
  segmentMs: z.number().int().min(500).max(30_000).default(2000),
  /** Part target duration, ms (LL-HLS partial segments). Default 200. */
  partMs: z.number().int().min(50).max(5000).default(200),
  /** Complete segments kept in memory and listed. Default 7. */
  segments: z.number().int().min(3).max(100).default(7),
  /** A stream's HLS muxing stops after this long without a request, ms. Default 30 000. */
  idleTimeoutMs: z.number().int().min(1000).max(3_600_000).default(30_000),
})

export const clusterSchema = z.strictObject({
  /**
   * The Redis server of the stream registry (ts/cluster): nodes, their load, which node holds
   * which stream. Null (default): no cluster, this node serves only what is published on it.
   */
  redis: z.strictObject({
    /** `redis://[user:password@]host:6379[/db]`, or `rediss://` for TLS. */
    url: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL'),
    /** Password (AUTH), when not in the URL. Default null. */
    password: z.string().min(1).nullable().default(null),
    /** TLS even with a `redis://` URL. Default false. */
    tls: z.boolean().default(false),
    /** PEM file of the CA that signed the Redis server's certificate (TLS). Default: Node's CAs. */
    caFile: z.string().min(1).nullable().default(null),
    /** Prefix of every key and of the event channel. Default `sluice:`. */
    keyPrefix: z.string().max(64).default('sluice:'),
  }).nullable().default(null),
  /** This node's id in the registry (letters, digits, `._-`). Default: host name and process id. */
  nodeId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_", "-" (at most 64)').nullable().default(null),
  /** Addresses other nodes and redirected clients reach this node at. */
  advertise: z.strictObject({
    /** Base URL of this node's HTTP server (`http://10.0.0.2:8000`). Default: `http://` `rtp.advertisedHost` (or the first non-internal IPv4 address) `:http.port`. */
    http: z.string().regex(/^https?:\/\/[^/]+$/, 'http(s)://host:port, no path').nullable().default(null),
    /** `rtmp://host:port` (RTMP pulls between nodes, for codecs relay links do not carry). Default: the HTTP host and `rtmp.port`. */
    rtmp: z.string().regex(/^rtmps?:\/\/[^/]+$/, 'rtmp(s)://host:port, no path').nullable().default(null),
  }).prefault({}),
  /** Ms between heartbeats (this node's record, load, streams and rooms rewritten). Default 1000. */
  heartbeatMs: z.number().int().min(100).max(60_000).default(1000),
  /** Ms a node's entries live without a heartbeat (at least 2 heartbeats): a dead node's streams vanish this long after it died. Default 3000. */
  ttlMs: z.number().int().min(200).max(600_000).default(3000),
  /**
   * Tiers: the id of the node this node pulls every stream through (an edge of that edge), which
   * gets it from the stream's node the same way. Null (default): straight from the node the
   * stream is published on.
   */
  upstream: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).nullable().default(null),
  /**
   * What this node pulls streams over: `srtp` (relay links: RTP over SRTP with NACK repair, H.264
   * and AAC; other codecs over RTMP) or `rtmp` (RTMP for every stream: costs the origin what an
   * RTMP player does, carries every codec; TCP between the nodes). Default `srtp`.
   */
  links: z.enum(['srtp', 'rtmp']).default('srtp'),
  /** An edge's link to another node closes this long after its last local player left, ms. Default 10 000. */
  idleMs: z.number().int().min(0).max(3_600_000).default(10_000),
  /**
   * Placement: past either limit this node redirects new WHEP viewers and WHIP publishers
   * (HTTP 307, RFC 9725 §4.5) and RTMP players and publishers (RTMP 302, SRS's form) to the
   * least loaded node below its own limits. Null: no limit.
   * Default null.
   */
  maxViewers: z.number().int().min(0).nullable().default(null),
  /** CPU limit for placement, cores (1.5 = one and a half cores busy). Default null. */
  maxCpu: z.number().positive().nullable().default(null),
})

export const configSchema = z.strictObject({
  rtmp: rtmpSchema.prefault({}),
  mix: mixSchema.prefault({}),
  record: recordSchema.prefault({}),
  hls: hlsSchema.prefault({}),
  srt: srtSchema.prefault({}),
  http: httpSchema.prefault({}),
  webrtc: webrtcSchema.prefault({}),
  rtp: rtpSchema.prefault({}),
  hub: hubSchema.prefault({}),
  signaling: signalingSchema.prefault({}),
  sfu: sfuSchema.prefault({}),
  access: accessSchema.prefault({}),
  webhooks: webhooksSchema.prefault({}),
  admin: adminSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
  shutdown: shutdownSchema.prefault({}),
  log: logSchema.prefault({}),
  cluster: clusterSchema.prefault({}),
})

/** The effective settings, every default filled in. */
export type SluiceConfig = z.output<typeof configSchema>
/** What a config file or `new Sluice(options)` may give: every key optional. */
export type SluiceConfigInput = z.input<typeof configSchema>

/** `configSchema` with the checks that span sections (a policy needs its settings). */
export const checkedConfigSchema = configSchema.superRefine((c, ctx) => {
  if (c.access.policy === 'token' && !c.access.token) ctx.addIssue({ code: 'custom', path: ['access', 'token'], message: 'policy "token" needs access.token.secret' })
  if (c.access.policy === 'jwt' && !c.access.jwt) ctx.addIssue({ code: 'custom', path: ['access', 'jwt'], message: 'policy "jwt" needs access.jwt (secret or publicKey)' })
  if (c.access.policy === 'webhook' && !c.webhooks.onPublish && !c.webhooks.onPlay) {
    ctx.addIssue({ code: 'custom', path: ['webhooks'], message: 'policy "webhook" needs webhooks.onPublish or webhooks.onPlay' })
  }
  if (c.cluster.ttlMs < 2 * c.cluster.heartbeatMs) ctx.addIssue({ code: 'custom', path: ['cluster', 'ttlMs'], message: 'ttlMs must be at least twice heartbeatMs' })
  const { portRangeBegin: b, portRangeEnd: e } = c.webrtc
  if ((b === undefined) !== (e === undefined) || (b !== undefined && e !== undefined && b > e)) {
    ctx.addIssue({ code: 'custom', path: ['webrtc', 'portRangeEnd'], message: 'portRangeBegin and portRangeEnd go together, begin <= end' })
  }
})
