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

/** Builds the error class for a native error code. */
export function rtmpErrorFromCode(code: string, message: string): RtmpProtocolError {
  if (code === 'RTMP_HANDSHAKE_FAILED') return new RtmpHandshakeError(code, message)
  return new RtmpProtocolError(code, message)
}

/** One problem of a configuration: the key path (`rtmp.port`) and the reason. */
export interface ConfigIssue {
  path: string
  message: string
}

/** The configuration (file, environment, flags or `new Sluice(options)`) is invalid. Code `CONFIG_INVALID`. */
export class ConfigError extends SluiceError {
  readonly issues: ConfigIssue[]
  constructor(issues: ConfigIssue[]) {
    super('CONFIG_INVALID', `invalid configuration: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`)
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
