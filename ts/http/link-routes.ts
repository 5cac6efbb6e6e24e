/**
 * The admin routes of an outgoing-link collection (RTMP and SRT pushes and pulls), one shape for
 * all: `POST {base}` with `{"url", "app", "name"}` → 201 and the link's stats (400 for a bad
 * body or URL, 403 for a destination outside the policy, 409 for a pull of a live name: thrown
 * or answered by `create`); `GET {base}` → the list; `DELETE {base}/{id}` → 204, 404 unknown.
 */
import { z } from 'zod'
import { readJson, sendJson, type HttpServer } from './server'
import { HttpRequestError } from '../errors'

/** Refuses a link's `url` (400 `HTTP_BAD_REQUEST`, "url: why"). */
export function badLinkUrl(why: string): never {
  throw new HttpRequestError(400, 'HTTP_BAD_REQUEST', `url: ${why}`)
}

/** Parses a link's `url`; refuses (`badLinkUrl`) anything but a URL with one of `protocols` (`'srt:'`). */
export function parseLinkUrl(text: string, protocols: readonly string[], expected: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return badLinkUrl('not a URL')
  }
  if (!protocols.includes(url.protocol)) badLinkUrl(`must be ${expected}`)
  return url
}

/** A stream or app name in a link body: URL-safe, 1–128 characters. */
const NAME = /^[A-Za-z0-9._~-]{1,128}$/

export const linkBody = z.strictObject({
  url: z.string().max(2048),
  app: z.string().regex(NAME),
  name: z.string().regex(NAME),
})
export type LinkBody = z.infer<typeof linkBody>

/** What the routes need of a link. */
export interface ApiLink {
  readonly id: string
  stats(): unknown
  close(reason?: string): void
}

/**
 * Serves `base` (e.g. `/api/pushes`) over `links`. `create` makes and registers a link (in
 * `links`), or returns `[status, message]` to refuse; `DELETE` removes it and closes it.
 */
export function serveLinkRoutes(
  http: HttpServer,
  base: string,
  what: string,
  links: Map<string, ApiLink>,
  create: (body: LinkBody) => Promise<ApiLink | [number, string]>,
): void {
  const path = base.replace(/\//g, '\\/')
  http.route('POST', new RegExp(`^${path}/?$`), async (req, res) => {
    const made = await create(await readJson(req, linkBody))
    if (Array.isArray(made)) return sendJson(res, made[0], { error: made[1] })
    sendJson(res, 201, made.stats())
  })
  http.route('GET', new RegExp(`^${path}/?$`), async (_req, res) => sendJson(res, 200, [...links.values()].map((l) => l.stats())))
  http.route('DELETE', new RegExp(`^${path}/([^/]+)$`), async (_req, res, [id]) => {
    const link = links.get(id!)
    if (!link) return sendJson(res, 404, { error: `no ${what} ${id}` })
    links.delete(id!)
    link.close('deleted through the API')
    res.writeHead(204).end()
  })
}
