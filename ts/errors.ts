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
