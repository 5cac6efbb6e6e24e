/**
 * SRT stream ids (the caller's `SRT_CMD_SID` handshake extension, up to 512 bytes) → what the
 * caller asks for: publish or play, which stream, with which credential.
 *
 * Accepted forms:
 * - the SRT access control syntax (Haivision's `AccessControl.md`): `#!::` then comma-separated
 *   `key=value` pairs — `r` the resource (`live/stream`, may carry `?token=...`), `m` the mode
 *   (`request`, the default, plays; `publish` publishes; `bidirectional` is refused), `u` user,
 *   `s` session id, `t` type (only `stream`); `token` (Sluice's) or `s` carry a credential;
 * - the short forms other servers accept: `publish:live/stream`, `read:live/stream`
 *   (also `play:`/`request:`), and a bare `live/stream` (play).
 * A resource without an app (`stream`) is in app `live`. The stream part may carry a query
 * (`live/stream?token=...`), parsed into `query`.
 */
import { SrtError } from '../errors'

export interface SrtStreamRequest {
  action: 'publish' | 'play'
  app: string
  stream: string
  /** The credential presented: `token` in the query or a key, else `s` (session id); null when none. */
  credential: string | null
  /** The resource's query plus the access-control keys other than r/m/t. */
  query: URLSearchParams
  /** The user (`u`), when given. */
  user: string | null
}

/** Largest stream id SRT carries (SRT draft §3.2.1.3: 512 bytes). */
export const MAX_STREAM_ID_LENGTH = 512

const NAME = /^[A-Za-z0-9._~-]{1,128}$/

/**
 * Parses a stream id. Throws `SrtError` with code `SRT_STREAM_ID_INVALID` (an empty or
 * over-long id, an unknown mode or type, a bad app or stream name: 1–128 of `A–Z a–z 0–9 . _ ~ -`).
 */
export function parseStreamId(id: string): SrtStreamRequest {
  const bad = (why: string): never => {
    throw new SrtError('SRT_STREAM_ID_INVALID', `stream id ${JSON.stringify(id.slice(0, 80))}: ${why}`)
  }
  if (!id) bad('empty (give #!::r=app/stream,m=publish or publish:app/stream)')
  if (id.length > MAX_STREAM_ID_LENGTH) bad(`over ${MAX_STREAM_ID_LENGTH} bytes`)
  let action: 'publish' | 'play' = 'play'
  let resource: string
  const query = new URLSearchParams()
  let user: string | null = null
  let session: string | null = null
  if (id.startsWith('#!::')) {
    let r: string | null = null
    for (const pair of id.slice(4).split(',')) {
      if (!pair) continue
      const eq = pair.indexOf('=')
      const key = eq < 0 ? pair : pair.slice(0, eq)
      const value = eq < 0 ? '' : pair.slice(eq + 1)
      if (key === 'r') r = value
      else if (key === 'm') {
        if (value === 'publish') action = 'publish'
        else if (value === 'request') action = 'play'
        else bad(`mode ${JSON.stringify(value)} (publish or request)`)
      } else if (key === 't') {
        if (value !== 'stream') bad(`type ${JSON.stringify(value)} (only stream)`)
      } else if (key === 'u') user = value
      else if (key === 's') session = value
      else query.append(key, value)
    }
    if (r === null) bad('no resource (r=app/stream)')
    resource = r!
  } else {
    const colon = /^(publish|read|play|request):(.*)$/.exec(id)
    if (colon) {
      action = colon[1] === 'publish' ? 'publish' : 'play'
      resource = colon[2]!
    } else resource = id
  }
  const q = resource.indexOf('?')
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(resource.slice(q + 1))) query.append(k, v)
    resource = resource.slice(0, q)
  }
  const parts = resource.split('/').filter(Boolean)
  if (parts.length === 1) parts.unshift('live')
  if (parts.length !== 2) bad('the resource must be app/stream')
  const [app, stream] = parts as [string, string]
  if (!NAME.test(app) || !NAME.test(stream)) bad('app and stream are 1–128 of A–Z a–z 0–9 . _ ~ -')
  return { action, app, stream, credential: query.get('token') ?? session ?? null, query, user }
}
