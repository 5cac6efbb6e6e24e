/**
 * The web player at `/`: the live streams (from `/api/streams`), click one to play it over WHEP,
 * with resolution, frame rate, bitrate, packet loss and playout delay from `getStats()` shown
 * live. Plain HTML and JS, no build step. `/?play=app/stream` starts playing at once.
 */
import type { HttpServer } from './server'

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
  header { padding:14px 24px; border-bottom:1px solid #26313d; display:flex; align-items:baseline; gap:14px; }
  header h1 { margin:0; font-size:18px; letter-spacing:.5px; }
  header span { color:var(--muted); }
  main { display:grid; grid-template-columns: 280px 1fr; gap:20px; padding:20px 24px; }
  .panel { background:var(--panel); border-radius:10px; padding:14px; }
  .panel h2 { margin:0 0 10px; font-size:13px; text-transform:uppercase; letter-spacing:1px; color:var(--muted); }
  #streams { list-style:none; margin:0; padding:0; }
  #streams li { padding:9px 10px; border-radius:7px; cursor:pointer; display:flex; justify-content:space-between; gap:8px; }
  #streams li:hover, #streams li.active { background:#22303d; }
  #streams .meta { color:var(--muted); font-size:12px; }
  #empty { color:var(--muted); }
  video { width:100%; max-height:70vh; background:#000; border-radius:10px; display:block; }
  #stats { display:grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap:10px; margin-top:14px; }
  .stat { background:var(--panel); border-radius:8px; padding:10px 12px; }
  .stat b { display:block; font-size:18px; font-variant-numeric: tabular-nums; }
  .stat span { color:var(--muted); font-size:12px; }
  #status { margin-top:10px; color:var(--muted); min-height:20px; }
  #status.error { color:var(--bad); }
</style>
</head>
<body>
<header><h1>Sluice</h1><span>live streams over WebRTC (WHEP)</span></header>
<main>
  <section class="panel">
    <h2>Live streams</h2>
    <ul id="streams"></ul>
    <div id="empty">No live stream. Publish one: <code>ffmpeg -re -i in.mp4 -c copy -f flv rtmp://HOST/live/test</code></div>
  </section>
  <section>
    <video id="video" autoplay playsinline controls></video>
    <div id="status">Pick a stream.</div>
    <div id="stats"></div>
  </section>
</main>
<script>
const $ = (id) => document.getElementById(id)
const player = { pc: null, resource: null, stream: null, connectedAt: null, firstFrameAt: null, last: null }
window.sluicePlayer = player

async function refresh() {
  try {
    const { streams } = await (await fetch('/api/streams')).json()
    $('empty').style.display = streams.length ? 'none' : ''
    $('streams').innerHTML = ''
    for (const s of streams) {
      const li = document.createElement('li')
      const key = s.app + '/' + s.name
      if (key === player.stream) li.className = 'active'
      const v = s.video ? s.video.codec + (s.video.width ? ' ' + s.video.width + 'x' + s.video.height : '') : 'no video'
      li.innerHTML = '<span>' + key + '</span><span class="meta">' + v + ' · ' + Math.round(s.bitrate / 1000) + ' kb/s</span>'
      li.onclick = () => play(key)
      $('streams').appendChild(li)
    }
  } catch {}
}

function status(text, error) { $('status').textContent = text; $('status').className = error ? 'error' : '' }

async function stop() {
  if (player.pc) player.pc.close()
  if (player.resource) fetch(player.resource, { method: 'DELETE' }).catch(() => {})
  Object.assign(player, { pc: null, resource: null, connectedAt: null, firstFrameAt: null, last: null })
}

async function play(key) {
  await stop()
  player.stream = key
  status('Connecting to ' + key + '…')
  const pc = new RTCPeerConnection()
  player.pc = pc
  pc.addTransceiver('video', { direction: 'recvonly' })
  pc.addTransceiver('audio', { direction: 'recvonly' })
  const media = new MediaStream()
  $('video').srcObject = media
  pc.ontrack = (e) => {
    media.addTrack(e.track)
    // with sound when the browser allows it (a click, or an autoplay policy); else muted
    $('video').play().catch(() => { $('video').muted = true; $('video').play().catch(() => {}) })
  }
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected' && !player.connectedAt) player.connectedAt = performance.now()
    status(key + ': ' + pc.connectionState, pc.connectionState === 'failed')
  }
  await pc.setLocalDescription(await pc.createOffer())
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve()
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve()
    setTimeout(resolve, 1500)
  })
  const res = await fetch('/whep/' + key, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp })
  if (res.status !== 201) { status('WHEP ' + res.status + ': ' + (await res.text()), true); return }
  player.resource = new URL(res.headers.get('Location'), location.href).href
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() })
  refresh()
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
  $('stats').innerHTML =
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
  http.route('GET', /^\/$/, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(PAGE) })
    res.end(PAGE)
  })
}
