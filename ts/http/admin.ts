/**
 * The admin credential of the HTTP admin API (`admin.token`, sent as `Authorization: Bearer
 * <token>`). Without a configured token, only clients on this machine (loopback) are admins.
 */
import type http from 'node:http'
import { timingSafeEqual } from 'node:crypto'
import { isLoopback } from '../access/address'

/** Why `req` is not an admin (`{status, reason}`), or null when it is. */
export function adminRefusal(req: http.IncomingMessage, token: string | null): { status: 401 | 403; reason: string } | null {
  if (!token) {
    return isLoopback(req.socket.remoteAddress) ? null : { status: 403, reason: 'the admin API answers only on this machine (no admin.token configured)' }
  }
  const auth = req.headers.authorization ?? ''
  if (!auth.startsWith('Bearer ')) return { status: 401, reason: 'the admin credential is required (Authorization: Bearer <admin.token>)' }
  const given = Buffer.from(auth.slice(7).trim())
  const expected = Buffer.from(token)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { status: 403, reason: 'the admin credential does not match' }
  return null
}

/** True when `req` carries the admin credential (or, with none configured, comes from loopback). */
export function isAdmin(req: http.IncomingMessage, token: string | null): boolean {
  return adminRefusal(req, token) === null
}
