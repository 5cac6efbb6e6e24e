/**
 * Signed expiring tokens (the "secure link" of node-media-server and SRS): a token grants one
 * action on one stream until a time.
 *
 * Layout: `<expires>.<signature>` where `expires` is Unix time in seconds (decimal) and
 * `signature` is base64url (no padding) of HMAC-SHA256(secret, `<action>\n<app>/<stream>\n<expires>`).
 * `sluice token --secret S --action publish --stream live/cam --ttl 3600` mints one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { AccessAction } from './request'

function signature(secret: string, action: AccessAction, path: string, expires: number): Buffer {
  return createHmac('sha256', secret).update(`${action}\n${path}\n${expires}`).digest()
}

/** Mints a token for `action` on `path` (`app/stream`) valid until `expires` (Unix seconds). */
export function signToken(secret: string, action: AccessAction, path: string, expires: number): string {
  if (!Number.isInteger(expires) || expires < 0) throw new RangeError('expires must be Unix time in whole seconds')
  return `${expires}.${signature(secret, action, path, expires).toString('base64url')}`
}

/**
 * Checks a token; returns null when it grants `action` on `path` at `nowSeconds`, else the reason
 * (`malformed`, `expired`, `bad signature`). Constant-time in the signature.
 */
export function verifyToken(secret: string, token: string, action: AccessAction, path: string, nowSeconds = Date.now() / 1000): string | null {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token)
  if (!m) return 'malformed token'
  const expires = Number(m[1])
  const given = Buffer.from(m[2]!, 'base64url')
  const expected = signature(secret, action, path, expires)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return `token signature does not match ${action} ${path}`
  if (expires < nowSeconds) return 'token expired'
  return null
}
