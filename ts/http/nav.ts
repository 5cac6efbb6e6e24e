/**
 * What the built-in pages (player `/`, publish `/publish`, co-hosting `/cohost`, room `/room`,
 * dashboard `/dashboard`)
 * share: the navigation bar, its style, and the real addresses shown in their hints (the host
 * the browser used, from the request's `Host` header, and the server's RTMP port).
 */
import type http from 'node:http'
import type { HttpServer } from './server'

export type PageName = 'player' | 'publish' | 'cohost' | 'room' | 'dashboard'

const LINKS: [PageName, string, string][] = [
  ['player', '/', 'Player'],
  ['publish', '/publish', 'Publish'],
  ['cohost', '/cohost', 'Co-host'],
  ['room', '/room', 'Rooms'],
  ['dashboard', '/dashboard', 'Dashboard'],
]

/** The navigation bar's CSS (uses the pages' `--muted`, `--text`, `--accent` variables). */
export const NAV_CSS = `
  nav.site { display:flex; align-items:center; gap:4px; padding:10px 24px; border-bottom:1px solid #26313d; background:#121a22; }
  nav.site .brand { font-weight:700; font-size:16px; letter-spacing:.5px; margin-right:14px; color:var(--text); text-decoration:none; }
  nav.site a.item { color:var(--muted); text-decoration:none; padding:5px 11px; border-radius:6px; }
  nav.site a.item:hover { color:var(--text); background:#1d2833; }
  nav.site a.item.active { color:var(--text); background:#22303d; box-shadow: inset 0 -2px 0 var(--accent); }
  nav.site .tag { margin-left:auto; color:var(--muted); font-size:12px; }
`

/** The navigation bar, `active` marked (`aria-current="page"`); `tag` is a short text on the right. */
export function navBar(active: PageName, tag = ''): string {
  const items = LINKS.map(([name, href, label]) =>
    `<a class="item${name === active ? ' active' : ''}" href="${href}"${name === active ? ' aria-current="page"' : ''}>${label}</a>`,
  ).join('')
  return `<nav class="site"><a class="brand" href="/">Sluice</a>${items}${tag ? `<span class="tag">${escapeHtml(tag)}</span>` : ''}</nav>`
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** What the pages need to know of the server beyond HTTP (set once by `setPageInfo`). */
export interface PageInfo {
  /** The RTMP port bound now. */
  rtmpPort(): number
}

const pageInfo = new WeakMap<HttpServer, PageInfo>()

/** Tells the pages served by `http` the server's RTMP port (called by `serveDashboard`). */
export function setPageInfo(http: HttpServer, info: PageInfo): void {
  pageInfo.set(http, info)
}

/**
 * The host name the browser used (`Host` header without its port; an IPv6 literal keeps its
 * brackets), or `localhost` when the header is missing or not a plain host name.
 */
export function requestHost(req: http.IncomingMessage): string {
  const host = req.headers.host ?? ''
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d+)?$/.exec(host)
  return m ? m[1]! : 'localhost'
}

/** Real addresses for a page's hints: `{rtmp: 'rtmp://host[:port]', http: 'http://host[:port]'}` (HTML-safe). */
export function addresses(http: HttpServer, req: http.IncomingMessage): { host: string; rtmp: string; http: string } {
  const host = requestHost(req)
  const rtmpPort = pageInfo.get(http)?.rtmpPort() ?? 1935
  const hostHeader = req.headers.host && /^[A-Za-z0-9.\-[\]:]+$/.test(req.headers.host) ? req.headers.host : host
  return { host, rtmp: `rtmp://${host}${rtmpPort === 1935 ? '' : `:${rtmpPort}`}`, http: `http://${hostHeader}` }
}

/** Replaces `{{RTMP}}`, `{{HTTP}}` and `{{HOST}}` in a page with the request's real addresses. */
export function fillAddresses(page: string, http: HttpServer, req: http.IncomingMessage): string {
  const a = addresses(http, req)
  return page.replaceAll('{{RTMP}}', a.rtmp).replaceAll('{{HTTP}}', a.http).replaceAll('{{HOST}}', a.host)
}

/** Answers a page's HTML (`no-cache`: pages change with the server's version). */
export function sendPage(res: http.ServerResponse, html: string): void {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html), 'Cache-Control': 'no-cache' })
  res.end(html)
}
