/** The credential of an HTTP request: `Authorization: Bearer <token>`, else the `token` query parameter. */
import type http from 'node:http'

export function httpCredential(req: http.IncomingMessage, url: URL): string | null {
  const auth = req.headers.authorization ?? ''
  if (auth.startsWith('Bearer ')) return auth.slice(7).trim() || null
  return url.searchParams.get('token')
}
