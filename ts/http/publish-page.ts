/**
 * The publish page at `/publish`: camera and microphone → WHIP (RFC 9725) into `app/stream`, with
 * the outgoing codec, resolution, frame rate and bitrate from `getStats()`. Plain HTML and JS, no
 * build step. `/publish?stream=app/name&start=1` publishes at once (tests); `&simulcast=1` sends
 * three simulcast layers (rids q, h, f, lowest first); `&svc=L3T3_KEY` (or `L1T3`, ...) sends one
 * scalable stream in that mode (VP9 or AV1, `scalabilityMode`); `&codec=VP8` makes the
 * browser offer only that video codec (H.264 by default, so RTMP players can watch too). The
 * hints show the server's real addresses (the request's host, the RTMP port).
 */
import type { HttpServer } from './server'
import { NAV_CSS, fillAddresses, navBar, sendPage } from './nav'
import { SIMULCAST_ENCODINGS } from './simulcast-encodings'

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice publish</title>
<style>
  :root { --bg:#0f1419; --panel:#182029; --text:#e6e6e6; --muted:#8a96a3; --accent:#3fb7ff; --bad:#ff6b6b; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
${NAV_CSS}
  main { max-width:960px; padding:20px 24px; }
  form { display:flex; gap:10px; align-items:center; margin-bottom:14px; flex-wrap:wrap; }
  input, select, button { font:inherit; padding:7px 10px; border-radius:7px; border:1px solid #2c3946; background:var(--panel); color:var(--text); }
  button { background:var(--accent); color:#06121c; border:0; cursor:pointer; font-weight:600; }
  button.stop { background:#33414f; color:var(--text); }
  .screen { position:relative; }
  video { width:100%; background:#000; border-radius:10px; display:block; aspect-ratio:16/9; }
  #placeholder { position:absolute; inset:0; display:flex; align-items:center; justify-content:center; border-radius:10px;
    background:repeating-linear-gradient(135deg, #121a22 0 14px, #141d26 14px 28px); color:var(--muted); text-align:center; padding:20px; }
  #placeholder[hidden] { display:none; }
  code { background:#0b1015; padding:1px 5px; border-radius:4px; word-break:break-all; }
  #stats { display:grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap:10px; margin-top:14px; }
  .stat { background:var(--panel); border-radius:8px; padding:10px 12px; }
  .stat b { display:block; font-size:18px; font-variant-numeric: tabular-nums; } .stat span { color:var(--muted); font-size:12px; }
  #status { margin-top:10px; color:var(--muted); min-height:20px; } #status.error { color:var(--bad); }
</style>
</head>
<body>
${navBar('publish', 'publish your camera over WebRTC (WHIP)')}
<main>
  <form id="form">
    <label>Stream <input id="stream" value="live/camera" size="24"></label>
    <label>Video <select id="codec"><option>H264</option><option>VP8</option><option>VP9</option><option>AV1</option></select></label>
    <label title="three layers (rids q, h, f: ¼, ½ and full resolution); needs webrtc.transport native"><input id="simulcast" type="checkbox"> Simulcast</label>
    <label title="one scalable stream (VP9 or AV1); viewers get the layers their path carries on webrtc.transport native">SVC <select id="svc"><option value="">off</option><option>L1T3</option><option>L3T3_KEY</option></select></label>
    <button id="go" type="submit">Publish</button>
    <button id="stop" class="stop" type="button" disabled>Stop</button>
  </form>
  <div class="screen">
    <video id="preview" autoplay playsinline muted></video>
    <div id="placeholder">Your camera's preview appears here once you publish.</div>
  </div>
  <div id="status">Choose a stream name and publish. Watch it at <code>{{HTTP}}/?play=app/name</code> or <code>{{RTMP}}/app/name</code>.</div>
  <div id="stats"></div>
</main>
<script>
// the page's ?token= is the credential of its WHEP/WHIP request (the access decision)
const pageToken = () => { const t = new URLSearchParams(location.search).get('token'); return t ? { Authorization: 'Bearer ' + t } : {} }
const $ = (id) => document.getElementById(id)
const pub = { pc: null, resource: null, connectedAt: null, last: null }
window.sluicePublisher = pub
function status(text, error) { $('status').textContent = text; $('status').className = error ? 'error' : '' }

function preferCodec(transceiver, name) {
  const caps = RTCRtpSender.getCapabilities('video')
  if (!caps || !transceiver.setCodecPreferences) return
  const mime = 'video/' + name.toLowerCase()
  // only the chosen codec (Sluice's answer prefers H.264 whenever it is offered), with its helpers
  const chosen = caps.codecs.filter((c) => c.mimeType.toLowerCase() === mime && (name !== 'H264' || /packetization-mode=1/.test(c.sdpFmtpLine || '')))
  const helpers = caps.codecs.filter((c) => /(rtx|red|ulpfec)$/i.test(c.mimeType))
  if (chosen.length) transceiver.setCodecPreferences([...chosen, ...helpers])
}

async function start() {
  await stop()
  const key = $('stream').value.trim().replace(/^\\/+|\\/+$/g, '')
  if (!/^[^/]+\\/[^/]+$/.test(key)) return status('The stream name must be app/name.', true)
  let media
  try {
    media = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true })
  } catch (e) {
    return status('No camera: ' + e.message, true)
  }
  $('preview').srcObject = media
  $('placeholder').hidden = true
  const pc = new RTCPeerConnection()
  pub.pc = pc
  pub.media = media
  for (const track of media.getTracks()) {
    // simulcast: lowest layer first (Sluice's convention); viewers are switched between them
    const encodings = track.kind !== 'video' ? undefined
      : $('simulcast').checked ? ${JSON.stringify(SIMULCAST_ENCODINGS)}
      : $('svc').value ? [{ scalabilityMode: $('svc').value }]
      : undefined
    const t = pc.addTransceiver(track, { direction: 'sendonly', streams: [media], ...(encodings ? { sendEncodings: encodings } : {}) })
    if (track.kind === 'video') preferCodec(t, $('codec').value)
  }
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected' && !pub.connectedAt) { pub.connectedAt = performance.now(); status('Publishing ' + key + '.') }
    if (pc.connectionState === 'failed') status('Connection failed.', true)
  }
  await pc.setLocalDescription(await pc.createOffer())
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve()
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve()
    setTimeout(resolve, 2000)
  })
  const res = await fetch('/whip/' + key, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...pageToken() }, body: pc.localDescription.sdp })
  const body = await res.text()
  if (res.status !== 201) { status('WHIP ' + res.status + ': ' + body, true); return stop() }
  pub.resource = new URL(res.headers.get('Location'), location.href).href
  await pc.setRemoteDescription({ type: 'answer', sdp: body })
  $('go').disabled = true; $('stop').disabled = false
  status('Connecting…')
}

async function stop() {
  if (pub.resource) fetch(pub.resource, { method: 'DELETE' }).catch(() => {})
  if (pub.pc) pub.pc.close()
  if (pub.media) for (const t of pub.media.getTracks()) t.stop()
  Object.assign(pub, { pc: null, resource: null, connectedAt: null, last: null, media: null })
  $('preview').srcObject = null
  $('placeholder').hidden = false
  $('go').disabled = false; $('stop').disabled = true
}

function stat(label, value) { return '<div class="stat"><b>' + value + '</b><span>' + label + '</span></div>' }

async function tick() {
  if (!pub.pc) return
  const report = await pub.pc.getStats()
  const layers = []
  report.forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') layers.push(r)
    // the browser's own send-side estimate (what its congestion control allows)
    if (r.type === 'candidate-pair' && r.nominated && r.availableOutgoingBitrate) pub.estimateBps = r.availableOutgoingBitrate
  })
  if (layers.length === 0) return
  // the largest layer (the only one without simulcast) leads; each simulcast layer gets a line
  const v = layers.reduce((a, b) => ((b.frameWidth || 0) > (a.frameWidth || 0) ? b : a))
  const codec = v.codecId ? report.get(v.codecId) : null
  const last = pub.last || {}
  const kbps = (r) => (last[r.id] ? Math.round(((r.bytesSent - last[r.id].bytes) * 8) / (r.timestamp - last[r.id].at)) : 0)
  const rates = Object.fromEntries(layers.map((r) => [r.id, kbps(r)]))
  pub.last = Object.fromEntries(layers.map((r) => [r.id, { at: r.timestamp, bytes: r.bytesSent }]))
  pub.scalabilityMode = v.scalabilityMode || null
  pub.layers = layers.filter((r) => r.rid).map((r) => ({ rid: r.rid, width: r.frameWidth || 0, height: r.frameHeight || 0, fps: r.framesPerSecond || 0, kbps: rates[r.id], active: r.active !== false, limitation: r.qualityLimitationReason }))
  $('stats').innerHTML = stat('codec', codec ? codec.mimeType.replace('video/', '') : '–') +
    stat('resolution', (v.frameWidth || 0) + '×' + (v.frameHeight || 0)) +
    stat('frames per second', v.framesPerSecond || 0) + stat('video kbit/s', layers.reduce((n, r) => n + rates[r.id], 0)) +
    stat('frames sent', v.framesSent || 0) + stat('NACKs / PLIs', (v.nackCount || 0) + ' / ' + (v.pliCount || 0)) +
    (pub.estimateBps ? stat('send estimate kbit/s', Math.round(pub.estimateBps / 1000)) : '') +
    pub.layers.map((l) => stat('layer ' + l.rid, l.width + '×' + l.height + ' · ' + l.kbps + ' kbit/s')).join('')
}

$('form').onsubmit = (e) => { e.preventDefault(); start().catch((err) => status(String(err), true)) }
$('stop').onclick = () => { stop(); status('Stopped.') }
const q = new URLSearchParams(location.search)
if (q.get('stream')) $('stream').value = q.get('stream')
if (q.get('codec')) $('codec').value = q.get('codec').toUpperCase()
if (q.get('simulcast')) $('simulcast').checked = true
if (q.get('svc')) $('svc').value = q.get('svc')
if (q.get('start')) start().catch((err) => status(String(err), true))
setInterval(tick, 1000)
</script>
</body>
</html>
`

export function servePublishPage(http: HttpServer): void {
  http.route('GET', /^\/publish\/?$/, (req, res) => sendPage(res, fillAddresses(PAGE, http, req)))
}
