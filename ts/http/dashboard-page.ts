/**
 * The dashboard at `/dashboard`: live streams (codecs, resolution, bitrate, uptime, viewers per
 * protocol), connected clients with a kick button, forwards, ingests and relays, and small graphs
 * of incoming bitrate, players and event-loop delay over the last 10 minutes. Plain HTML, inline
 * script and canvas, no build step; it polls every 2 s.
 *
 * The page itself is public; its data calls (`/api/clients`, `DELETE /api/clients/{id}`,
 * `/api/forwards`, `/api/ingests`, `/api/relays`, `/api/dashboard/history`) need the admin
 * credential: when one answers 401/403 the page asks for the admin token, keeps it in
 * `sessionStorage` (`sluice.adminToken`) and sends it as `Authorization: Bearer`. With no
 * `admin.token` configured, a browser on this machine (loopback) is an admin and is never asked.
 *
 * `GET /api/dashboard/history[?since=<unix ms>]` (admin) answers `{intervalMs, samples: [{t,
 * bitrateIn, players, publishers, eventLoopDelayP99Ms, eventLoopDelayMaxMs}]}`: one sample every
 * `intervalMs` (2000) over the last 10 minutes (`t` unix ms, `bitrateIn` bits/s summed over live
 * streams, `players`/`publishers` counts of every protocol, the event-loop delay p99 and max over
 * the sample's interval in ms). Sampling starts with the first request and stops after 10
 * minutes without one.
 *
 * Test hooks: `window.sluiceDashboard` (`{updates, errors, asked}`).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { Sluice } from '../server'
import { NAV_CSS, navBar, sendPage, setPageInfo } from './nav'

/** One point of the dashboard's graphs. */
export interface DashboardSample {
  /** Unix ms. */
  t: number
  /** Incoming media bits/s, summed over live streams. */
  bitrateIn: number
  /** Players and viewers of every protocol. */
  players: number
  /** Publishers of every protocol. */
  publishers: number
  /** Event-loop delay over the sample's interval, ms. */
  eventLoopDelayP99Ms: number
  eventLoopDelayMaxMs: number
}

const INTERVAL_MS = 2000
const KEEP_MS = 10 * 60_000

/** Samples the graphs' values every 2 s while the dashboard is in use (ring of 10 minutes). */
class HistorySampler {
  readonly #sluice: Sluice
  readonly #samples: DashboardSample[] = []
  #timer: NodeJS.Timeout | null = null
  #histogram: IntervalHistogram | null = null
  #lastAsked = 0

  constructor(sluice: Sluice) {
    this.#sluice = sluice
  }

  /** The samples after `since` (unix ms); (re)starts sampling. */
  since(since: number): DashboardSample[] {
    this.#lastAsked = Date.now()
    if (!this.#timer) this.#start()
    return this.#samples.filter((s) => s.t > since)
  }

  #start(): void {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 })
    this.#histogram.enable()
    this.#timer = setInterval(() => this.#sample(), INTERVAL_MS)
    this.#timer.unref()
    this.#sample()
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#histogram?.disable()
    this.#timer = null
    this.#histogram = null
  }

  #sample(): void {
    const now = Date.now()
    if (now - this.#lastAsked > KEEP_MS) return this.#stop()
    const s = this.#sluice
    let players = 0
    let publishers = 0
    for (const c of s.clients.sessions()) c.role === 'publisher' ? publishers++ : players++
    const h = this.#histogram!
    const ms = (ns: number) => Math.round(ns / 1e4) / 100
    this.#samples.push({
      t: now,
      bitrateIn: s.hub.live().reduce((n, st) => n + st.bitrate(now), 0),
      players,
      publishers,
      eventLoopDelayP99Ms: h.count ? ms(h.percentile(99)) : 0,
      eventLoopDelayMaxMs: h.count ? ms(h.max) : 0,
    })
    h.reset()
    while (this.#samples.length && this.#samples[0]!.t < now - KEEP_MS) this.#samples.shift()
  }
}

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice dashboard</title>
<style>
  :root { --bg:#0f1419; --panel:#182029; --text:#e6e6e6; --muted:#8a96a3; --accent:#3fb7ff; --bad:#ff6b6b; --good:#4cd48a; --warn:#ffb547; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
${NAV_CSS}
  main { padding:16px 24px 40px; display:flex; flex-direction:column; gap:16px; }
  .cards { display:grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap:10px; }
  .card { background:var(--panel); border-radius:8px; padding:10px 12px; }
  .card b { display:block; font-size:20px; font-variant-numeric: tabular-nums; }
  .card span { color:var(--muted); font-size:12px; }
  .graphs { display:grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap:10px; }
  .graph { background:var(--panel); border-radius:8px; padding:10px 12px; }
  .graph header { display:flex; justify-content:space-between; color:var(--muted); font-size:12px; margin-bottom:4px; }
  .graph header b { color:var(--text); font-variant-numeric: tabular-nums; }
  .graph canvas { width:100%; height:90px; display:block; }
  .panel { background:var(--panel); border-radius:10px; padding:12px 14px; overflow-x:auto; }
  .panel h2 { margin:0 0 8px; font-size:13px; text-transform:uppercase; letter-spacing:1px; color:var(--muted); display:flex; gap:8px; align-items:baseline; }
  .panel h2 small { text-transform:none; letter-spacing:0; font-weight:400; }
  table { width:100%; border-collapse:collapse; font-variant-numeric: tabular-nums; }
  th { text-align:left; color:var(--muted); font-weight:500; font-size:12px; padding:4px 8px; border-bottom:1px solid #26313d; white-space:nowrap; }
  td { padding:5px 8px; border-bottom:1px solid #1f2a35; white-space:nowrap; }
  tr:last-child td { border-bottom:0; }
  td.num { text-align:right; }
  td a { color:var(--accent); text-decoration:none; } td a:hover { text-decoration:underline; }
  .pill { display:inline-block; padding:0 7px; border-radius:9px; background:#22303d; font-size:12px; margin-right:3px; }
  .pill.publisher { background:#2b3f2f; color:var(--good); }
  .empty { color:var(--muted); padding:6px 0; }
  button { font:inherit; border:0; border-radius:6px; padding:3px 10px; cursor:pointer; }
  button.kick { background:#3a2328; color:var(--bad); }
  button.kick:hover { background:var(--bad); color:#1b0d0f; }
  #auth { display:none; background:#2a2417; border:1px solid #5a4a22; border-radius:10px; padding:12px 14px; }
  #auth.shown { display:block; }
  #auth form { display:flex; gap:8px; align-items:center; flex-wrap:wrap; margin-top:6px; }
  #auth input { font:inherit; padding:6px 10px; border-radius:6px; border:1px solid #2c3946; background:var(--panel); color:var(--text); min-width:280px; }
  #auth button { background:var(--accent); color:#06121c; font-weight:600; padding:6px 12px; }
  #status { color:var(--muted); font-size:12px; min-height:16px; }
  #status.error { color:var(--bad); }
</style>
</head>
<body>
${navBar('dashboard', 'server dashboard')}
<main>
  <section id="auth" aria-live="polite">
    <b>Admin token needed.</b> <span id="auth-why">This server's admin API needs its admin token (admin.token).</span>
    <form id="auth-form"><input id="token" type="password" placeholder="admin token" autocomplete="off"><button type="submit">Use token</button></form>
  </section>
  <div class="cards" id="cards"></div>
  <div class="graphs">
    <div class="graph"><header><span>Incoming bitrate</span><b id="g-bitrate-v">–</b></header><canvas id="g-bitrate"></canvas></div>
    <div class="graph"><header><span>Players</span><b id="g-players-v">–</b></header><canvas id="g-players"></canvas></div>
    <div class="graph"><header><span>Event-loop delay p99</span><b id="g-eld-v">–</b></header><canvas id="g-eld"></canvas></div>
  </div>
  <section class="panel"><h2>Live streams</h2><div id="streams"></div></section>
  <section class="panel"><h2>Clients <small id="clients-count"></small></h2><div id="clients"></div></section>
  <section class="panel"><h2>Forwards</h2><div id="forwards"></div></section>
  <section class="panel"><h2>Ingests</h2><div id="ingests"></div></section>
  <section class="panel"><h2>Relays</h2><div id="relays"></div></section>
  <div id="status"></div>
</main>
<script>
const $ = (id) => document.getElementById(id)
const KEY = 'sluice.adminToken'
const state = { updates: 0, errors: [], asked: 0, history: [], lastT: 0, clients: [], streams: [] }
window.sluiceDashboard = state

const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const kbps = (bits) => bits >= 1e6 ? (bits / 1e6).toFixed(2) + ' Mb/s' : Math.round(bits / 1000) + ' kb/s'
const bytes = (n) => n >= 1 << 30 ? (n / (1 << 30)).toFixed(2) + ' GiB' : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MiB' : n >= 1024 ? Math.round(n / 1024) + ' KiB' : n + ' B'
const dur = (s) => { s = Math.round(s); return s >= 3600 ? Math.floor(s / 3600) + 'h' + String(Math.floor(s / 60) % 60).padStart(2, '0') + 'm' : s >= 60 ? Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's' : s + 's' }
function status(text, error) { $('status').textContent = text; $('status').className = error ? 'error' : '' }

// ---- admin credential ----------------------------------------------------------------------
class NeedsToken extends Error {}
let waitingToken = null
function askToken(why) {
  state.asked++
  $('auth-why').textContent = why || 'This server\\'s admin API needs its admin token (admin.token).'
  $('auth').className = 'shown'
  $('token').focus()
}
$('auth-form').onsubmit = (e) => {
  e.preventDefault()
  const t = $('token').value.trim()
  if (!t) return
  sessionStorage.setItem(KEY, t)
  $('token').value = ''
  $('auth').className = ''
  update()
}
/** fetch() of an admin route with the stored token; a 401/403 asks for one and throws NeedsToken. */
async function api(path, init = {}) {
  const token = sessionStorage.getItem(KEY)
  const headers = { ...(init.headers || {}) }
  if (token) headers.Authorization = 'Bearer ' + token
  const res = await fetch(path, { ...init, headers })
  if (res.status === 401 || res.status === 403) {
    const why = (await res.text()).trim()
    if (token && res.status === 403) sessionStorage.removeItem(KEY)
    askToken(token ? 'That token was refused (' + why + '). Enter the admin token.' : why)
    throw new NeedsToken(why)
  }
  return res
}
async function apiJson(path) {
  const res = await api(path)
  if (res.status === 404) return null // not served by this server
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status)
  return res.json()
}

// ---- graphs --------------------------------------------------------------------------------
function drawGraph(id, points, color, format) {
  const canvas = $(id)
  const dpr = window.devicePixelRatio || 1
  const w = canvas.clientWidth, h = canvas.clientHeight
  if (canvas.width !== w * dpr || canvas.height !== h * dpr) { canvas.width = w * dpr; canvas.height = h * dpr }
  const g = canvas.getContext('2d')
  g.setTransform(dpr, 0, 0, dpr, 0, 0)
  g.clearRect(0, 0, w, h)
  // the time axis spans what was sampled: at least a minute, at most ten
  const now = Date.now()
  const span = Math.min(10 * 60 * 1000, Math.max(60 * 1000, points.length ? now - points[0][0] : 0))
  const max = Math.max(1e-9, ...points.map((p) => p[1])) * 1.15
  g.strokeStyle = '#26313d'; g.lineWidth = 1
  for (let i = 1; i < 4; i++) { const y = Math.round((h * i) / 4) + 0.5; g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke() }
  g.fillStyle = '#8a96a3'; g.font = '10px system-ui, sans-serif'
  const spanText = span >= 90 * 1000 ? Math.round(span / 60000) + ' min' : Math.round(span / 1000) + ' s'
  g.fillText(format(max), 4, 11); g.fillText('last ' + spanText, w - g.measureText('last ' + spanText).width - 4, h - 3)
  if (points.length < 2) return
  const x = (t) => w - ((now - t) / span) * w
  const y = (v) => h - (v / max) * (h - 4)
  g.beginPath()
  points.forEach(([t, v], i) => (i ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v))))
  g.strokeStyle = color; g.lineWidth = 1.6; g.stroke()
  g.lineTo(x(points[points.length - 1][0]), h); g.lineTo(x(points[0][0]), h); g.closePath()
  g.globalAlpha = 0.12; g.fillStyle = color; g.fill(); g.globalAlpha = 1
}
function graphs() {
  const hs = state.history
  const last = hs[hs.length - 1]
  drawGraph('g-bitrate', hs.map((s) => [s.t, s.bitrateIn]), '#3fb7ff', kbps)
  drawGraph('g-players', hs.map((s) => [s.t, s.players]), '#4cd48a', (v) => String(Math.round(v)))
  drawGraph('g-eld', hs.map((s) => [s.t, s.eventLoopDelayP99Ms]), '#ffb547', (v) => v.toFixed(1) + ' ms')
  $('g-bitrate-v').textContent = last ? kbps(last.bitrateIn) : '–'
  $('g-players-v').textContent = last ? String(last.players) : '–'
  $('g-eld-v').textContent = last ? last.eventLoopDelayP99Ms.toFixed(1) + ' ms' : '–'
}

// ---- tables --------------------------------------------------------------------------------
function table(el, head, rows, empty) {
  if (!rows.length) { el.innerHTML = '<div class="empty">' + esc(empty) + '</div>'; return }
  el.innerHTML = '<table><thead><tr>' + head.map((h) => '<th>' + esc(h) + '</th>').join('') + '</tr></thead><tbody>' + rows.join('') + '</tbody></table>'
}
function renderStreams(streams, clients) {
  const rows = streams.map((s) => {
    const key = s.app + '/' + s.name
    const per = {}
    for (const c of clients) if (c.role === 'player' && c.app === s.app && c.stream === s.name) per[c.protocol] = (per[c.protocol] || 0) + 1
    const viewers = Object.keys(per).length ? Object.entries(per).map(([p, n]) => '<span class="pill">' + esc(p) + ' ' + n + '</span>').join('') : (s.players ? '<span class="pill">' + s.players + '</span>' : '<span class="empty">none</span>')
    const v = s.video ? esc(s.video.codecString || s.video.codec) + (s.video.width ? ' ' + s.video.width + '×' + s.video.height : '') + (s.video.frameRate ? ' ' + Math.round(s.video.frameRate) + ' fps' : '') : '–'
    const a = s.audio ? esc(s.audio.codecString || s.audio.codec) + (s.audio.sampleRate ? ' ' + s.audio.sampleRate / 1000 + ' kHz' : '') + (s.audio.channels ? ' ' + (s.audio.channels === 2 ? 'stereo' : s.audio.channels + ' ch') : '') : '–'
    const pub = s.publisher ? esc(s.publisher.protocol) + ' ' + esc(s.publisher.address) : '–'
    return '<tr data-stream="' + esc(key) + '"><td><a href="/?play=' + encodeURIComponent(key).replace('%2F', '/') + '">' + esc(key) + '</a></td><td>' + v + '</td><td>' + a + '</td><td class="num">' + kbps(s.bitrate) + '</td><td>' + dur(s.uptime) + '</td><td>' + viewers + '</td><td>' + pub + '</td></tr>'
  })
  table($('streams'), ['stream', 'video', 'audio', 'bitrate in', 'uptime', 'viewers', 'publisher'], rows, 'No live stream.')
}
function renderClients(clients) {
  $('clients-count').textContent = clients.length ? '(' + clients.length + ')' : ''
  const sorted = [...clients].sort((a, b) => (a.app + '/' + a.stream).localeCompare(b.app + '/' + b.stream) || (a.role === 'publisher' ? -1 : 1) || a.id.localeCompare(b.id))
  const rows = sorted.map((c) => '<tr data-client="' + esc(c.id) + '"><td>' + esc(c.id) + '</td><td><span class="pill ' + esc(c.role) + '">' + esc(c.role) + '</span></td><td>' + esc(c.protocol) + '</td><td>' + esc(c.app + '/' + c.stream) + '</td><td>' + esc(c.remoteAddress) + '</td><td>' + dur((c.durationMs || 0) / 1000) + '</td><td class="num">' + kbps(c.bitrate || 0) + '</td><td class="num">' + bytes(c.bytesIn || 0) + '</td><td class="num">' + bytes(c.bytesOut || 0) + '</td><td class="num">' + bytes(c.queueBytes || 0) + '</td><td><button class="kick" data-id="' + esc(c.id) + '" title="Disconnect this client">Kick</button></td></tr>')
  table($('clients'), ['id', 'role', 'protocol', 'stream', 'address', 'connected', 'bitrate', 'in', 'out', 'queued', ''], rows, 'No client connected.')
}
$('clients').onclick = async (e) => {
  const b = e.target.closest('button.kick')
  if (!b) return
  b.disabled = true
  const id = b.dataset.id
  try {
    const res = await api('/api/clients/' + encodeURIComponent(id), { method: 'DELETE' })
    if (!res.ok && res.status !== 404) throw new Error('HTTP ' + res.status + ': ' + (await res.text()))
    status('Kicked ' + id + '.')
    b.closest('tr').remove()
    update()
  } catch (error) {
    b.disabled = false
    if (!(error instanceof NeedsToken)) status('Kick ' + id + ' failed: ' + error.message, true)
  }
}
function renderList(el, items, empty, cols) {
  const rows = (items || []).map((it) => '<tr>' + cols.map(([, f]) => '<td>' + f(it) + '</td>').join('') + '</tr>')
  table(el, cols.map(([h]) => h), rows, empty)
}
const loss = (x) => x && (x.video !== null || x.audio !== null) ? [x.video, x.audio].map((v) => v === null || v === undefined ? '–' : v).join(' / ') : '–'
function renderOthers(forwards, ingests, relays) {
  renderList($('forwards'), forwards, forwards === null ? 'Not served.' : 'No forward.', [
    ['id', (f) => esc(f.id)], ['stream', (f) => esc(f.stream)], ['target', (f) => esc(f.target) + (f.srtp ? ' <span class="pill">SRTP</span>' : '')],
    ['sent', (f) => bytes(f.bytesSent || 0)], ['packets', (f) => f.packetsSent ?? '–'], ['NACKs', (f) => f.nacksReceived ?? '–'], ['lost v/a', (f) => esc(loss(f.cumulativeLost))], ['RTT', (f) => (f.rttMs === null || f.rttMs === undefined ? '–' : Math.round(f.rttMs) + ' ms')],
  ])
  const track = (t) => t ? (t.packetsReceived ?? t.packets ?? '–') + ' pkts' + (t.packetsLost ? ', ' + t.packetsLost + ' lost' : '') : '–'
  const dropped = (d) => d && Object.keys(d).length ? Object.entries(d).map(([k, n]) => esc(k) + ' ' + n).join(', ') : '0'
  renderList($('ingests'), ingests, ingests === null ? 'Not served.' : 'No ingest.', [
    ['id', (i) => esc(i.id)], ['stream', (i) => esc(i.stream)], ['protocol', (i) => esc(i.protocol)], ['from', (i) => esc(i.remoteAddress || '–')],
    ['video', (i) => esc(track(i.video))], ['audio', (i) => esc(track(i.audio))], ['dropped', (i) => dropped(i.dropped)],
  ])
  renderList($('relays'), relays, relays === null ? 'Not served.' : 'No relay.', [
    ['id', (r) => esc(r.id)], ['stream', (r) => esc(r.stream)], ['origin', (r) => esc(r.origin)], ['video', (r) => esc(track(r.video))], ['audio', (r) => esc(track(r.audio))],
    ['dropped', (r) => dropped(r.dropped)], ['uptime', (r) => dur(r.uptime || 0)],
  ])
}
function card(label, value) { return '<div class="card"><b>' + esc(value) + '</b><span>' + esc(label) + '</span></div>' }

// ---- polling -------------------------------------------------------------------------------
let busy = false
async function update() {
  if (busy) return
  busy = true
  try {
    const [streamsRes, stats] = await Promise.all([fetch('/api/streams').then((r) => r.json()), fetch('/api/stats').then((r) => (r.ok ? r.json() : null)).catch(() => null)])
    const streams = streamsRes.streams || []
    state.streams = streams
    let clients = null, forwards = null, ingests = null, relays = null, history = null
    try {
      ;[clients, history, forwards, ingests, relays] = await Promise.all([
        apiJson('/api/clients'), apiJson('/api/dashboard/history?since=' + state.lastT), apiJson('/api/forwards'), apiJson('/api/ingests'), apiJson('/api/relays'),
      ])
      $('auth').className = ''
    } catch (error) {
      if (!(error instanceof NeedsToken)) throw error
    }
    clients = Array.isArray(clients) ? clients : (clients && clients.clients) || []
    state.clients = clients
    if (history && history.samples) {
      state.history.push(...history.samples)
      if (history.samples.length) state.lastT = history.samples[history.samples.length - 1].t
      const cut = Date.now() - 10 * 60 * 1000
      while (state.history.length && state.history[0].t < cut) state.history.shift()
    }
    renderStreams(streams, clients)
    renderClients(clients)
    renderOthers(forwards, ingests, relays)
    graphs()
    const players = clients.filter((c) => c.role === 'player').length
    $('cards').innerHTML = card('live streams', streams.length) + card('players', players) + card('publishers', clients.length - players) +
      card('bitrate in', kbps(streams.reduce((n, s) => n + s.bitrate, 0))) +
      (stats ? card('event-loop p99', stats.eventLoopDelayMs.p99 + ' ms') + card('RSS', stats.rssMb + ' MB') + card('uptime', dur(stats.uptime)) + card('WebRTC viewers', stats.webrtcViewers) : '')
    state.updates++
    if (!$('status').classList.contains('error')) status('Updated ' + new Date().toLocaleTimeString() + '.')
  } catch (error) {
    state.errors.push(String(error))
    status('Update failed: ' + (error && error.message ? error.message : error), true)
  } finally {
    busy = false
  }
}
update()
setInterval(update, 2000)
</script>
</body>
</html>
`

/**
 * Serves the dashboard (`GET /dashboard`, public HTML) and its history (`GET
 * /api/dashboard/history`, admin), and tells the pages the server's RTMP port for their hints.
 */
export function serveDashboard(sluice: Sluice): void {
  const http = sluice.http
  setPageInfo(http, { rtmpPort: () => sluice.rtmp.port })
  const history = new HistorySampler(sluice)
  http.route('GET', /^\/dashboard\/?$/, (_req, res) => sendPage(res, PAGE), { access: 'public' })
  // admin: the router refuses other callers (401/403) before the handler runs
  http.route('GET', /^\/api\/dashboard\/history$/, (_req, res, _params, url) => {
    const since = Number(url.searchParams.get('since') ?? 0)
    const body = JSON.stringify({ intervalMs: INTERVAL_MS, samples: history.since(Number.isFinite(since) ? since : 0) })
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
    res.end(body)
  }, { access: 'admin' })
}
