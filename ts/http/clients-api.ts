/**
 * The clients API (admin routes, see ts/http/server.ts):
 * - `GET /api/clients` → `200` and a JSON array of `ClientInfo` (ts/clients/registry.ts): every
 *   connected publisher, player and viewer of every protocol — `id`, `protocol`, `role`, `app`,
 *   `stream`, `remoteAddress` (`ip:port`), `startedAt` (ISO 8601), `durationMs`, `bytesIn`,
 *   `bytesOut` (bytes), `queueBytes` (bytes queued towards a player), `bitrate` (bits/s since
 *   the previous listing). WHEP viewers' counters are refreshed from the viewer processes first.
 * - `DELETE /api/clients/{id}` kicks one client the protocol's own way (RTMP status then close,
 *   HTTP-FLV response ended, WHEP/WHIP PeerConnection closed) → `204`; an unknown id → `404`.
 * Both answer 401/403 to a caller without the admin credential.
 */
import type { Sluice } from '../server'
import { sendJson, sendText } from './server'

export function serveClientsApi(sluice: Sluice): void {
  const log = sluice.log.child({ component: 'clients-api' })
  sluice.http.route('GET', /^\/api\/clients\/?$/, async (_req, res) => {
    try {
      await sluice.whep.refreshCounters()
    } catch (error) {
      log.warn({ err: String(error) }, 'WHEP counters not refreshed; listing the last known ones')
    }
    sendJson(res, 200, sluice.clients.list())
  }, { access: 'admin' })
  sluice.http.route('DELETE', /^\/api\/clients\/([^/]+)$/, (_req, res, [id]) => {
    if (!sluice.clients.kick(id!)) return sendText(res, 404, `no client ${id}`)
    log.info({ client: id }, 'client kicked over HTTP')
    res.writeHead(204).end()
  }, { access: 'admin' })
}
