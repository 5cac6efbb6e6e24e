/**
 * HTTP webhooks (SRS / nginx-rtmp style): `on_publish` and `on_play` are asked before a request
 * is accepted (a 2xx answer accepts; any other status, a timeout or an unreachable server refuses,
 * and the answer's body, up to 200 characters, is the reason); `on_unpublish` and `on_stop` are
 * told when a publisher or player leaves, `on_record_done` when a recording file is finished
 * (their answer is ignored).
 *
 * Each is a `POST` of a JSON body: `{event, action, app, stream, protocol, clientId,
 * remoteAddress, token, query}` for decisions (the token is the credential the client presented,
 * so the hook can check it), `{event, app, stream, protocol, clientId, remoteAddress, bytesIn,
 * bytesOut, durationMs, reason}` for notifications (`on_record_done`: `{event, recording, app,
 * stream, format, path, startedAt, durationMs, bytes, reason}`). URLs come from the config only.
 */
import type { Logger } from '../log'
import type { AccessRefusal, AccessRequest } from './request'

export type WebhookEvent = 'on_publish' | 'on_play' | 'on_unpublish' | 'on_stop' | 'on_record_done'

async function post(url: string, body: unknown, timeoutMs: number): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'error',
  })
}

/** Asks `url` about `request`; null accepts. Never throws. */
export async function askWebhook(url: string, request: AccessRequest, timeoutMs: number): Promise<AccessRefusal | null> {
  const query = Object.fromEntries([...request.query].filter(([k]) => k !== 'token'))
  const body = {
    event: request.action === 'publish' ? 'on_publish' : 'on_play',
    action: request.action, app: request.app, stream: request.stream, protocol: request.protocol,
    clientId: request.clientId, remoteAddress: request.remoteAddress, token: request.credential, query,
  }
  let res: Response
  try {
    res = await post(url, body, timeoutMs)
  } catch (error) {
    const e = error as Error
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError'
    return { status: 403, reason: timedOut ? `webhook did not answer within ${timeoutMs} ms` : `webhook unreachable: ${(e.cause as Error | undefined)?.message ?? e.message}` }
  }
  const text = (await res.text().catch(() => '')).trim().slice(0, 200)
  if (res.status >= 200 && res.status < 300) return null
  return { status: res.status === 401 ? 401 : 403, reason: `webhook refused (${res.status})${text ? `: ${text}` : ''}` }
}

/** Tells `url` about a lifecycle event; failures are logged, never thrown. */
export function notifyWebhook(url: string, event: WebhookEvent, body: Record<string, unknown>, timeoutMs: number, log: Logger): void {
  post(url, { event, ...body }, timeoutMs)
    .then((res) => {
      void res.body?.cancel()
      if (res.status >= 300) log.warn({ event, url, status: res.status }, 'webhook answered an error')
    })
    .catch((error: unknown) => log.warn({ event, url, err: String(error) }, 'webhook failed'))
}
