/**
 * Graceful drain (SIGTERM): stop taking new work, tell every player its stream ended the
 * protocol's own way, give them a grace period to hang up, then close.
 *
 * 1. Nothing new: the RTMP and HTTP listeners close (new connections are refused and the ports
 *    are free for a replacement process); a request on an HTTP connection that was already open
 *    (WHEP/WHIP POSTs, HTTP-FLV, the API, `/healthz`) answers 503 `{"error":"server shutting
 *    down"}` with `Connection: close`, a WebSocket handshake there 503.
 * 2. Every publisher (any protocol) is closed with reason `server shutting down`, and the
 *    subscribers of every stream are told at once, without waiting for `hub.unpublishGraceMs`
 *    (the grace is for a publisher that comes back; none will): RTMP players get
 *    `NetStream.Play.UnpublishNotify` (ffmpeg and librtmp end there), HTTP-FLV responses end,
 *    WebSocket-FLV players get a close frame after what was queued.
 * 3. Clients with no in-band end of stream are closed now, which is their protocol's end:
 *    WebRTC viewers and publishers (the PeerConnection closes), signaling peers, RTP forwards
 *    and relay links. RTMP, HTTP-FLV and WebSocket-FLV players keep their connection to drain
 *    what they were sent.
 * 4. Waits until every client is gone (`sluice.clients.size === 0`) or `graceMs` passed, then
 *    `sluice.close()` closes whatever is left.
 */
import type { Sluice } from './server'

/** How a drain went. */
export interface DrainResult {
  /** Publishers closed in step 2. */
  publishersClosed: number
  /** Players told their stream ended in step 2. */
  playersTold: number
  /** Clients still connected when the grace period ended (closed by `close()`); 0 if all left in time. */
  clientsLeftOver: number
  /** Ms from the start of the drain to the end of `close()`. */
  elapsedMs: number
}

const REASON = 'server shutting down'
/** Players that are told in-band (step 2) and hang up themselves. */
const TOLD_IN_BAND = new Set(['rtmp', 'http-flv', 'ws-flv'])

/**
 * Drains `sluice` (see the module comment) and closes it. `graceMs`: the longest wait for
 * clients to leave, ms (≥ 0). Resolves when closed; never rejects for a client's sake.
 */
export async function drain(sluice: Sluice, graceMs: number): Promise<DrainResult> {
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new RangeError(`graceMs must be a number of ms >= 0, not ${graceMs}`)
  const started = Date.now()
  const log = sluice.log.child({ component: 'drain' })

  // 1. Nothing new.
  sluice.rtmp.stopAccepting()
  sluice.http.stopAccepting()
  sluice.rtmp.on('connection', (connection) => connection.close(REASON))
  const body = JSON.stringify({ error: REASON })
  // Routes added later are tried first: these take every path and method.
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    sluice.http.route(
      method,
      /^/,
      (_req, res) => {
        res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close', 'Retry-After': '5' })
        res.end(body)
      },
      { access: 'public', head: method === 'GET' },
    )
  }
  sluice.http.onUpgrade(/^/, (_req, socket) => {
    socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
  })

  // 2. Every stream ends now.
  let publishersClosed = 0
  let playersTold = 0
  for (const stream of sluice.hub.all()) {
    const publisher = stream.publisher
    if (publisher) {
      sluice.hub.unpublish(stream, publisher)
      publisher.close(REASON)
      publishersClosed++
    }
    stream.dispose() // cancels the unpublish grace timer: the subscribers are told here instead
    for (const subscriber of [...stream.subscribers]) {
      subscriber.onUnpublish(stream)
      playersTold++
    }
  }

  // 3. Clients told by closing them.
  for (const session of [...sluice.clients.sessions()]) {
    if (session.role === 'player' && TOLD_IN_BAND.has(session.protocol)) continue
    session.close(REASON)
    sluice.clients.remove(session, REASON)
  }
  log.info({ publishersClosed, playersTold, clients: sluice.clients.size, graceMs }, 'draining: streams ended, waiting for players to leave')

  // 4. The grace period, then close.
  if (sluice.clients.size > 0) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        sluice.clients.off('removed', onRemoved)
        resolve()
      }
      const onRemoved = () => {
        if (sluice.clients.size === 0) done()
      }
      const timer = setTimeout(done, graceMs)
      sluice.clients.on('removed', onRemoved)
    })
  }
  const clientsLeftOver = sluice.clients.size
  if (clientsLeftOver > 0) log.warn({ clients: clientsLeftOver, graceMs }, 'grace period over: closing the clients left')
  await sluice.close()
  const result = { publishersClosed, playersTold, clientsLeftOver, elapsedMs: Date.now() - started }
  log.info(result, 'drained')
  return result
}
