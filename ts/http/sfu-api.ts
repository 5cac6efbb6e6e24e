/**
 * The SFU API (admin routes, see ts/http/server.ts):
 * - `GET /api/sfu` → `200` and `{rooms: [{name, simulcast, participants: ParticipantStats[], mix}]}`
 *   (ts/sfu/room-sfu.ts): every `sfu`/`mcu` room, its layer policy in force, each participant's
 *   negotiation, uplink (per simulcast layer) and downlinks (layer, estimate, counters).
 * - `GET /api/sfu/rooms/{room}/simulcast` → `200` and the room's simulcast layer policy in force
 *   (`{maxLayer, pauseVideoBelowBps, audioFirst}`, or `null`: `webrtc.simulcast`).
 * - `PUT /api/sfu/rooms/{room}/simulcast` with `{maxLayer?, pauseVideoBelowBps?, audioFirst?}`
 *   (as `webrtc.simulcast`) sets the room's own policy for its downlinks now and later (the room
 *   need not exist yet); the body `null` drops it (back to `sfu.simulcast`, else
 *   `webrtc.simulcast`). `200` and the policy in force; `400` for a body outside that shape,
 *   `404` when the server has no SFU of its own.
 * All answer 401/403 to a caller without the admin credential.
 */
import { z } from 'zod'
import type { Sluice } from '../server'
import { simulcastPolicySchema } from '../config/schema'
import { ROOM_NAME } from '../signaling/protocol'
import { HttpRequestError } from '../errors'
import { readJson, sendJson } from './server'

const policyBody = simulcastPolicySchema.nullable()

export function serveSfuApi(sluice: Sluice): void {
  const log = sluice.log.child({ component: 'sfu-api' })
  sluice.http.route('GET', /^\/api\/sfu$/, async (_req, res) => sendJson(res, 200, (await sluice.sfu?.stats()) ?? { rooms: [] }), { access: 'admin' })
  const room = (name: string) => {
    if (!sluice.sfu) throw new HttpRequestError(404, 'HTTP_NOT_FOUND', 'this server has no SFU of its own (sfu.enabled: false, or signaling.sfu replaced it)')
    if (!ROOM_NAME.test(name)) throw new HttpRequestError(400, 'HTTP_BAD_REQUEST', `not a room name: ${name}`)
    return sluice.sfu
  }
  sluice.http.route('GET', /^\/api\/sfu\/rooms\/([^/]+)\/simulcast$/, (_req, res, [name]) => sendJson(res, 200, room(name!).roomPolicy(name!)), { access: 'admin' })
  sluice.http.route('PUT', /^\/api\/sfu\/rooms\/([^/]+)\/simulcast$/, async (req, res, [name]) => {
    const sfu = room(name!)
    const policy: z.output<typeof policyBody> = await readJson(req, policyBody)
    sfu.setRoomPolicy(name!, policy)
    log.info({ room: name, policy }, 'room simulcast policy set')
    sendJson(res, 200, sfu.roomPolicy(name!))
  }, { access: 'admin' })
}
