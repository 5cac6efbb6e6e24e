/**
 * HTTP pieces WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) share: CORS, ICE servers in `Link`
 * headers (RFC 8288 `rel="ice-server"`, RFC 9725 §4.6), the offer body and the bearer token.
 *
 * CORS: `Access-Control-Allow-Origin` is set by the HTTP server for every public route from
 * `http.cors.origins` (the request's origin when listed, `*` when configured); `CORS_HEADERS`
 * adds what WHIP/WHEP clients need besides (methods, headers, exposed headers).
 */
import type http from 'node:http'
import { BodyTooLargeError, readBody, sendText } from '../http/server'

export const CORS_HEADERS = {
  'Access-Control-Allow-Methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type, Authorization, If-Match',
  'Access-Control-Expose-Headers': 'Location, Link, ETag, Accept-Patch',
}

/** `Link` header announcing ICE servers, or nothing when none are configured. */
export function iceLinkHeader(iceServers: readonly string[]): Record<string, string> {
  if (iceServers.length === 0) return {}
  return { Link: iceServers.map((u) => `<${u}>; rel="ice-server"`).join(', ') }
}

/** The bearer token of the `Authorization` header, or null. */
export function bearerToken(req: http.IncomingMessage): string | null {
  const auth = req.headers.authorization ?? ''
  return auth.startsWith('Bearer ') ? auth.slice(7) : null
}

/** Answers with a text body and the CORS headers (and `Connection: close` after a 413). */
export function answerText(res: http.ServerResponse, status: number, text: string): void {
  sendText(res, status, text, status === 413 ? { ...CORS_HEADERS, Connection: 'close' } : CORS_HEADERS)
}

/**
 * Reads an `application/sdp` offer of at most `http.bodyLimitBytes`; on a wrong content type
 * (415), an oversized (413) or broken body (400) it answers the request itself and returns null.
 */
export async function readOffer(req: http.IncomingMessage, res: http.ServerResponse, protocol: string): Promise<string | null> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/sdp')) {
    answerText(res, 415, `${protocol} offers must be sent as Content-Type: application/sdp`)
    return null
  }
  try {
    return await readBody(req)
  } catch (error) {
    answerText(res, error instanceof BodyTooLargeError ? 413 : 400, `cannot read the offer: ${(error as Error).message}`)
    return null
  }
}

/**
 * Placement: when `ctx.placement` names another node, answers `307 Temporary Redirect` to the
 * same path there (RFC 9725 §4.5, WHIP; the same for WHEP: the client sends its offer again) and
 * returns true. The access decision is the target node's.
 */
export async function redirectElsewhere(ctx: { placement?: () => Promise<string | null> }, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
  const to = await ctx.placement?.()
  if (!to) return false
  res.writeHead(307, { Location: `${to}${req.url ?? '/'}`, 'Content-Length': 0 })
  res.end()
  return true
}

/** Reads a trickle-ICE PATCH body (RFC 8840); answers 415/413 itself and returns null on error. */
export async function readTrickle(req: http.IncomingMessage, res: http.ServerResponse): Promise<string | null> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/trickle-ice-sdpfrag')) {
    answerText(res, 415, 'PATCH bodies must be application/trickle-ice-sdpfrag')
    return null
  }
  try {
    return await readBody(req)
  } catch (error) {
    answerText(res, error instanceof BodyTooLargeError ? 413 : 400, (error as Error).message)
    return null
  }
}
