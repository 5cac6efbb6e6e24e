/**
 * Errors with stable domain codes. Native errors carry a code (`RTMP_CHUNK_MALFORMED`, ...);
 * each maps to a named class so callers can `instanceof` them.
 */

/** Base class: every Sluice error has a stable `code`. */
export class SluiceError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** Malformed or unsupported RTMP input from a peer; the session was closed. */
export class RtmpProtocolError extends SluiceError {}

/** The RTMP handshake failed (e.g. C0 version other than 3). */
export class RtmpHandshakeError extends RtmpProtocolError {}

/** A request was refused (publish of a name already live, unknown app...). */
export class RequestRejectedError extends SluiceError {}

/** A listening port is already in use or not permitted. */
export class ListenError extends SluiceError {}

/**
 * The native binary (the `.node` addon) could not be loaded, code `NATIVE_BINDING_MISSING`:
 * thrown by `require('sluice')` / `import 'sluice'` when neither `sluice.<platform>.node` beside
 * the package nor the platform package `packageName` (`sluice-linux-x64-gnu`, ...; an optional
 * dependency of `sluice`) can be loaded. `cause` chains the loader's errors.
 */
export class NativeBindingError extends SluiceError {
  /** The platform package that provides this machine's binary, e.g. `sluice-linux-x64-gnu`. */
  readonly packageName: string
  constructor(packageName: string, message: string, cause?: unknown) {
    super('NATIVE_BINDING_MISSING', message)
    this.packageName = packageName
    if (cause !== undefined) this.cause = cause
  }
}

/** Builds the error class for a native error code. */
export function rtmpErrorFromCode(code: string, message: string): RtmpProtocolError {
  if (code === 'RTMP_HANDSHAKE_FAILED') return new RtmpHandshakeError(code, message)
  return new RtmpProtocolError(code, message)
}

/** One problem of a configuration: the key path (`rtmp.port`) and the reason. */
export interface ConfigIssue {
  path: string
  message: string
  /**
   * Where the value came from, when known: the file with its line (`sluice.yaml:12`), an
   * environment variable (`SLUICE_RTMP_PORT`) or a flag (`--rtmp-port`).
   */
  source?: string
}

/** The configuration (file, environment, flags or `new Sluice(options)`) is invalid. Code `CONFIG_INVALID`. */
export class ConfigError extends SluiceError {
  readonly issues: ConfigIssue[]
  constructor(issues: ConfigIssue[]) {
    super('CONFIG_INVALID', `invalid configuration: ${issues.map((i) => `${i.source ? `${i.source}: ` : ''}${i.path || '(root)'}: ${i.message}`).join('; ')}`)
    this.issues = issues
  }

  /** From a zod error: one issue per zod issue, unknown keys named in the path. */
  static fromZod(error: { issues: readonly { path: readonly PropertyKey[]; message: string; code?: string; keys?: readonly string[] }[] }): ConfigError {
    return new ConfigError(
      error.issues.flatMap((i) => {
        const base = i.path.map(String).join('.')
        if (i.code === 'unrecognized_keys' && i.keys) return i.keys.map((k) => ({ path: base ? `${base}.${k}` : k, message: 'unknown key' }))
        return [{ path: base, message: i.message }]
      }),
    )
  }
}

/**
 * An HTTP request Sluice refuses (bad target or encoding, wrong content type, invalid body,
 * destination not allowed): `status` is the 4xx answered, the message its text body.
 * Codes: `HTTP_BAD_REQUEST` (400), `HTTP_UNSUPPORTED_MEDIA_TYPE` (415), `HTTP_BODY_TOO_LARGE`
 * (413, `BodyTooLargeError`), `DESTINATION_REFUSED` (403, `DestinationRefusedError`), and for
 * the API's other refusals `HTTP_FORBIDDEN` (403), `HTTP_NOT_FOUND` (404), `HTTP_CONFLICT` (409),
 * `HTTP_BAD_GATEWAY` (502, an origin node that cannot be reached).
 */
export class HttpRequestError extends SluiceError {
  readonly status: number
  constructor(status: number, code: string, message: string) {
    super(code, message)
    this.status = status
  }
}

/** A request body over `http.bodyLimitBytes`: answered 413, then the connection is closed. Code `HTTP_BODY_TOO_LARGE`. */
export class BodyTooLargeError extends HttpRequestError {
  constructor(limit: number) {
    super(413, 'HTTP_BODY_TOO_LARGE', `request body over the limit of ${limit} bytes`)
  }
}

/**
 * A forward destination or relay origin outside `rtp.allowedDestinations` (and not loopback),
 * refused before any socket is bound or packet sent. Answered 403. Code `DESTINATION_REFUSED`.
 */
export class DestinationRefusedError extends HttpRequestError {
  constructor(message: string) {
    super(403, 'DESTINATION_REFUSED', message)
  }
}

/** An SDP Sluice cannot read: not starting with `v=0`, unparseable, or without a media section. Code `SDP_INVALID`. */
export class SdpError extends SluiceError {
  constructor(message: string) {
    super('SDP_INVALID', message)
  }
}

/**
 * A WebRTC negotiation or transport failure. Codes: `WEBRTC_TRANSPORT_CLOSED` (the transport was
 * closed before the call), `WEBRTC_OFFER_UNSUPPORTED` (the offer lacks what Sluice needs, e.g. a
 * DTLS fingerprint, or asks Sluice to be the DTLS client), `WEBRTC_NEGOTIATION_FAILED` (the ICE/DTLS
 * agent produced no answer or offer), `WEBRTC_NO_SIMULCAST` (a simulcast layer asked of a transport
 * that cannot switch layers: node-datachannel), `WEBRTC_UNKNOWN_LAYER` (a rid the stream has no
 * layer for).
 */
export class WebRtcError extends SluiceError {}

/** An SRTP parameter Sluice does not know (a crypto suite name outside RFC 3711 / RFC 7714). Code `SRTP_SUITE_UNKNOWN`. */
export class SrtpError extends SluiceError {}

/**
 * A stream name already has a live publisher (RTMP, SRT, WHIP, RTP ingest, relay): thrown by
 * `StreamHub.publish`. Code `PUBLISH_BAD_NAME` (RTMP's answer, `NetStream.Publish.BadName`).
 */
export class StreamBusyError extends RequestRejectedError {
  constructor(stream: string) {
    super('PUBLISH_BAD_NAME', `stream ${stream} is already being published`)
  }
}

/**
 * An SRT session refused or ended on bad input. Codes: `SRT_STREAM_ID_INVALID` (the stream id
 * names no stream Sluice can serve), `SRT_PROTOCOL` (a datagram or handshake the SRT engine
 * refused).
 */
export class SrtError extends SluiceError {}

/**
 * A mix or co-hosting session was refused or failed: `MIX_INVALID_CONFIG` (size, rate, layout out
 * of range), `MIX_AUDIO_FAILED` (no AAC encoder in this build), `MIX_LIMIT` (`mix.maxMixes`
 * reached), `MIX_UNKNOWN` (no such mix or co-hosting session).
 */
export class MixError extends SluiceError {}

/** Builds a `MixError` from a native error's `CODE: message`. */
export function mixErrorFrom(error: unknown): MixError {
  const message = error instanceof Error ? error.message : String(error)
  const m = /^([A-Z_]+): (.*)$/s.exec(message)
  return m ? new MixError(m[1]!, m[2]!) : new MixError('MIX_FAILED', message)
}

/**
 * The cluster (ts/cluster) cannot serve a request: `CLUSTER_UNAVAILABLE` (the registry, Redis,
 * is unreachable: streams held on other nodes cannot be located until it returns; local streams
 * are served), `CLUSTER_LINK_FAILED` (the node holding a stream could not be linked to).
 */
export class ClusterError extends SluiceError {}

/** `CLUSTER_UNAVAILABLE`: the registry (Redis) is unreachable or failed a call. */
export class ClusterUnavailableError extends ClusterError {
  constructor(message: string) {
    super('CLUSTER_UNAVAILABLE', message)
  }
}
