/**
 * The web player at `/`: the live streams (from `/api/streams`), click one to play it over WHEP,
 * with resolution, frame rate, bitrate, packet loss and playout delay from `getStats()` shown
 * live. Plain HTML and JS, no build step. `/?play=app/stream` starts playing at once; a stream
 * that is not live leaves the page settled (`window.sluicePlayer.state === 'missing'`) and plays
 * it as soon as it goes live. The publish hint shows the server's real RTMP address.
 */
import type { HttpServer } from './server'
import { NAV_CSS, fillAddresses, navBar, sendPage } from './nav'
import { OFFER_DEPENDENCY_DESCRIPTOR } from './receive-extensions'

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice player</title>
<style>
  :root { --bg:#0f1419; --panel:#182029; --text:#e6e6e6; --muted:#8a96a3; --accent:#3fb7ff; --bad:#ff6b6b; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
${NAV_CSS}
  main { display:grid; grid-template-columns: 280px 1fr; gap:20px; padding:20px 24px; }
  .panel { background:var(--panel); border-radius:10px; padding:14px; }
  .panel h2 { margin:0 0 10px; font-size:13px; text-transform:uppercase; letter-spacing:1px; color:var(--muted); }
  #streams { list-style:none; margin:0; padding:0; }
  #streams li { padding:9px 10px; border-radius:7px; cursor:pointer; display:flex; justify-content:space-between; gap:8px; }
  #streams li:hover, #streams li.active { background:#22303d; }
  #streams .meta { color:var(--muted); font-size:12px; }
  #empty { color:var(--muted); }
  .screen { position:relative; }
  video { width:100%; max-height:70vh; background:#000; border-radius:10px; display:block; aspect-ratio:16/9; }
  #placeholder { position:absolute; inset:0; display:flex; flex-direction:column; align-items:center; justify-content:center; gap:6px;
    border-radius:10px; background:repeating-linear-gradient(135deg, #121a22 0 14px, #141d26 14px 28px); color:var(--muted); text-align:center; padding:20px; }
  #placeholder b { color:var(--text); font-size:16px; font-weight:600; }
  #placeholder[hidden] { display:none; }
  code { background:#0b1015; padding:1px 5px; border-radius:4px; word-break:break-all; }
  #stats { display:grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap:10px; margin-top:14px; }
  .stat { background:var(--panel); border-radius:8px; padding:10px 12px; }
  .stat b { display:block; font-size:18px; font-variant-numeric: tabular-nums; }
  .stat span { color:var(--muted); font-size:12px; }
  #status { margin-top:10px; color:var(--muted); min-height:20px; }
  #status.error { color:var(--bad); }
</style>
</head>
<body>
${navBar('player', 'live streams over WebRTC (WHEP)')}
<main>
  <section class="panel">
    <h2>Live streams</h2>
    <ul id="streams"></ul>
    <div id="empty">No live stream. Publish one: <code>ffmpeg -re -i in.mp4 -c copy -f flv {{RTMP}}/live/test</code> or from your camera on <a href="/publish">Publish</a>.</div>
  </section>
  <section>
    <div class="screen">
      <video id="video" autoplay playsinline controls></video>
      <div id="placeholder"><b>Nothing playing</b><span id="placeholder-text">Pick a live stream on the left.</span></div>
    </div>
    <div id="status">Pick a stream.</div>
    <div id="stats"></div>
    <div id="layers" hidden>Simulcast layer <select id="layer"><option value="">auto (by bandwidth)</option></select> <span id="layer-now"></span></div>
  </section>
</main>
<script>
${OFFER_DEPENDENCY_DESCRIPTOR}
// the page's ?token= is the credential of its WHEP/WHIP request (the access decision)
const pageToken = () => { const t = new URLSearchParams(location.search).get('token'); return t ? { Authorization: 'Bearer ' + t } : {} }
const $ = (id) => document.getElementById(id)
const player = { pc: null, resource: null, stream: null, connectedAt: null, firstFrameAt: null, last: null, state: 'idle', waiting: null }
window.sluicePlayer = player
const fmtUptime = (s) => s >= 3600 ? Math.floor(s / 3600) + 'h' + String(Math.floor(s / 60) % 60).padStart(2, '0') : s >= 60 ? Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') : s + 's'
function placeholder(text) {
  $('placeholder').hidden = text === null
  if (text !== null) $('placeholder-text').textContent = text
}

async function refresh() {
  try {
    const { streams } = await (await fetch('/api/streams')).json()
    $('empty').style.display = streams.length ? 'none' : ''
    $('streams').innerHTML = ''
    for (const s of streams) {
      const li = document.createElement('li')
      const key = s.app + '/' + s.name
      li.dataset.stream = key
      if (key === player.stream) li.className = 'active'
      const v = s.video ? s.video.codec + (s.video.width ? ' ' + s.video.width + 'x' + s.video.height : '') : 'no video'
      const name = document.createElement('span')
      name.textContent = key
      const meta = document.createElement('span')
      meta.className = 'meta'
      meta.textContent = v + ' · ' + Math.round(s.bitrate / 1000) + ' kb/s · ' + s.players + (s.players === 1 ? ' player' : ' players') + ' · up ' + fmtUptime(s.uptime)
      li.append(name, meta)
      li.onclick = () => play(key)
      $('streams').appendChild(li)
    }
    // a stream asked for while it was not live plays once it is
    if (player.waiting && streams.some((s) => s.app + '/' + s.name === player.waiting)) play(player.waiting)
  } catch {}
}

function status(text, error) { $('status').textContent = text; $('status').className = error ? 'error' : '' }

async function stop() {
  if (player.pc) player.pc.close()
  $('video').srcObject = null
  if (player.resource) fetch(player.resource, { method: 'DELETE' }).catch(() => {})
  Object.assign(player, { pc: null, resource: null, connectedAt: null, firstFrameAt: null, last: null, waiting: null, layer: null })
  $('layers').hidden = true
}

async function play(key) {
  try {
    await start(key)
  } catch (error) {
    await stop()
    player.state = 'failed'
    placeholder('Could not play ' + key + '.')
    status(key + ': ' + (error && error.message ? error.message : error), true)
  }
}

async function start(key) {
  await stop()
  player.stream = key
  player.state = 'connecting'
  placeholder('Connecting to ' + key + '…')
  status('Connecting to ' + key + '…')
  const pc = new RTCPeerConnection()
  player.pc = pc
  offerDependencyDescriptor(pc.addTransceiver('video', { direction: 'recvonly' }))
  pc.addTransceiver('audio', { direction: 'recvonly' })
  // the video gets its MediaStream with the first track: a <video> given a stream with no track
  // waits for media and holds the page's load event (forever when the stream is not live)
  const media = new MediaStream()
  pc.ontrack = (e) => {
    media.addTrack(e.track)
    if ($('video').srcObject !== media) $('video').srcObject = media
    placeholder(null)
    // with sound when the browser allows it (a click, or an autoplay policy); else muted
    $('video').play().catch(() => { $('video').muted = true; $('video').play().catch(() => {}) })
  }
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected' && !player.connectedAt) { player.connectedAt = performance.now(); player.state = 'playing' }
    status(key + ': ' + pc.connectionState, pc.connectionState === 'failed')
  }
  await pc.setLocalDescription(await pc.createOffer())
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve()
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve()
    setTimeout(resolve, 1500)
  })
  const res = await fetch('/whep/' + key, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...pageToken() }, body: pc.localDescription.sdp })
  if (res.status !== 201) {
    const why = await res.text()
    await stop()
    player.stream = key
    if (res.status === 404) {
      // not live (yet): the page is done loading; the list's refresh plays it when it goes live
      player.state = 'missing'
      player.waiting = key
      placeholder(key + ' is not live. It plays as soon as it is published.')
      status(key + ' is not live: waiting for it.', true)
    } else {
      player.state = 'failed'
      placeholder('Could not play ' + key + '.')
      status('WHEP ' + res.status + ': ' + why, true)
    }
    refresh()
    return
  }
  player.resource = new URL(res.headers.get('Location'), location.href).href
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() })
  refresh()
}

// simulcast (native transport): the layer the server sends this viewer, and a choice of layer
async function layerTick() {
  if (!player.resource || player.layer === false) return
  try {
    const r = await fetch(player.resource + '/layer')
    const info = r.ok ? await r.json() : null
    if (!info || !info.layers.length) { player.layer = false; return }
    player.layer = info
    const select = $('layer')
    if (select.options.length !== info.layers.length + 1) {
      select.length = 1
      for (const rid of info.layers) select.add(new Option(rid, rid))
    }
    if (document.activeElement !== select) select.value = info.pinned || ''
    $('layers').hidden = false
  } catch {}
}
$('layer').onchange = () => {
  if (!player.resource) return
  fetch(player.resource + '/layer', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ rid: $('layer').value || null }) }).catch(() => {})
}

function stat(label, value) { return '<div class="stat"><b>' + value + '</b><span>' + label + '</span></div>' }

async function tick() {
  const pc = player.pc
  if (!pc) { $('stats').innerHTML = ''; return }
  const report = await pc.getStats()
  let video, audio
  report.forEach((r) => { if (r.type === 'inbound-rtp') r.kind === 'video' ? (video = r) : (audio = r) })
  if (!video) return
  if (video.framesDecoded > 0 && !player.firstFrameAt) player.firstFrameAt = performance.now()
  const prev = player.last
  const dt = prev ? (video.timestamp - prev.timestamp) / 1000 : 0
  const kbps = prev && dt > 0 ? Math.round(((video.bytesReceived - prev.bytes) * 8) / dt / 1000) : 0
  player.last = { timestamp: video.timestamp, bytes: video.bytesReceived }
  const lost = video.packetsLost || 0
  const loss = video.packetsReceived ? ((100 * lost) / (lost + video.packetsReceived)).toFixed(2) : '0.00'
  const delay = video.jitterBufferEmittedCount ? Math.round((1000 * video.jitterBufferDelay) / video.jitterBufferEmittedCount) : 0
  await layerTick()
  $('stats').innerHTML =
    (player.layer ? stat('simulcast layer', player.layer.layer + (player.layer.switchingTo ? ' → ' + player.layer.switchingTo : '')) + stat('bandwidth estimate', player.layer.estimateBps ? Math.round(player.layer.estimateBps / 1000) + ' kb/s' : '–') : '') +
    stat('resolution', (video.frameWidth || 0) + '×' + (video.frameHeight || 0)) +
    stat('frame rate', Math.round(video.framesPerSecond || 0) + ' fps') +
    stat('video bitrate', kbps + ' kb/s') +
    stat('packet loss', loss + ' %') +
    stat('playout delay', delay + ' ms') +
    stat('frames decoded', video.framesDecoded || 0) +
    stat('frames dropped', video.framesDropped || 0) +
    stat('freezes', video.freezeCount || 0) +
    stat('audio level', audio && audio.audioLevel !== undefined ? audio.audioLevel.toFixed(3) : '–')
}

refresh()
setInterval(refresh, 3000)
setInterval(tick, 1000)
// time to first frame, measured finely
setInterval(async () => {
  const pc = player.pc
  if (!pc || player.firstFrameAt || !player.connectedAt) return
  const report = await pc.getStats()
  report.forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video' && r.framesDecoded > 0 && !player.firstFrameAt) player.firstFrameAt = performance.now() })
}, 10)
const autoplay = new URLSearchParams(location.search).get('play')
if (autoplay) play(autoplay)
</script>
</body>
</html>
`

export function servePlayerPage(http: HttpServer): void {
  http.route('GET', /^\/$/, (req, res) => sendPage(res, fillAddresses(PAGE, http, req)))
}
