/**
 * The co-hosting page at `/cohost`: a host goes live from the browser (WHIP into `host`), invites
 * a guest with a link, and starts or stops co-hosting with one button; both see the program,
 * what the audience gets (`{host}~program` over WHEP: the host alone, or the mix with the guest).
 *
 * - Host: `/cohost?host=live/me` (`&push=rtmp://cdn/app/key` pushes the program to a CDN, `&token=`
 *   is the admin credential the button's `/api/cohosts` calls need, and the WHIP/WHEP requests'
 *   credential).
 * - Guest: `/cohost?host=live/me&guest=live/me-guest` (the link the host page shows).
 * - `&start=1` goes live (host) or joins (guest) at once (tests). Plain HTML and JS, no build step.
 */
import type { HttpServer } from './server'
import { NAV_CSS, navBar, sendPage } from './nav'

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice co-hosting</title>
<style>
  :root { --bg:#0f1419; --panel:#182029; --text:#e6e6e6; --muted:#8a96a3; --accent:#3fb7ff; --bad:#ff6b6b; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
${NAV_CSS}
  main { max-width:1100px; padding:20px 24px; }
  .bar { display:flex; gap:10px; align-items:center; margin-bottom:14px; flex-wrap:wrap; }
  input, button { font:inherit; padding:7px 10px; border-radius:7px; border:1px solid #2c3946; background:var(--panel); color:var(--text); }
  button { background:var(--accent); color:#06121c; border:0; cursor:pointer; font-weight:600; }
  button:disabled { opacity:.5; cursor:default; }
  .screens { display:grid; grid-template-columns: 1fr 2fr; gap:14px; }
  figure { margin:0; } figcaption { color:var(--muted); margin-bottom:6px; }
  video { width:100%; background:#000; border-radius:10px; display:block; aspect-ratio:16/9; }
  code { background:#0b1015; padding:1px 5px; border-radius:4px; word-break:break-all; }
  #status { margin-top:10px; color:var(--muted); min-height:20px; } #status.error { color:var(--bad); }
  [hidden] { display:none !important; }
</style>
</head>
<body>
${navBar('cohost', 'co-hosting: host and guest, one push')}
<main>
  <div class="bar">
    <label>Host stream <input id="host" value="live/host" size="18"></label>
    <label id="guestLabel" hidden>Your stream <input id="guest" size="18"></label>
    <label id="pushLabel">Push to <input id="push" placeholder="rtmp://cdn.example/live/KEY (optional)" size="34"></label>
    <button id="live">Go live</button>
    <button id="toggle" disabled>Start co-hosting</button>
  </div>
  <div id="invite" hidden>Guest link: <code id="link"></code></div>
  <div class="screens">
    <figure><figcaption>You</figcaption><video id="self" autoplay playsinline muted></video></figure>
    <figure><figcaption id="programCaption">Program (what the audience sees)</figcaption><video id="program" autoplay playsinline muted></video></figure>
  </div>
  <div id="status"></div>
</main>
<script>
const $ = (id) => document.getElementById(id)
const q = new URLSearchParams(location.search)
const auth = () => { const t = q.get('token'); return t ? { Authorization: 'Bearer ' + t } : {} }
const role = q.get('guest') ? 'guest' : 'host'
const state = { role, publisher: null, preview: null, session: null, mixing: false }
window.sluiceCohost = state
function status(text, error) { $('status').textContent = text; $('status').className = error ? 'error' : '' }
const key = (v) => v.trim().replace(/^\\/+|\\/+$/g, '')
const hostKey = () => key($('host').value)
const guestKey = () => role === 'guest' ? key($('guest').value) : hostKey() + '-guest'

async function gathered(pc) {
  await pc.setLocalDescription(await pc.createOffer())
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve()
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve()
    setTimeout(resolve, 2000)
  })
  return pc.localDescription.sdp
}

/** Camera and microphone → WHIP into stream, H.264 preferred (the mixer decodes H.264). */
async function publish(stream) {
  const media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true })
  $('self').srcObject = media
  const pc = new RTCPeerConnection()
  for (const track of media.getTracks()) {
    const t = pc.addTransceiver(track, { direction: 'sendonly', streams: [media] })
    const caps = track.kind === 'video' && RTCRtpSender.getCapabilities('video')
    if (caps && t.setCodecPreferences) {
      const h264 = caps.codecs.filter((c) => c.mimeType.toLowerCase() === 'video/h264' && /packetization-mode=1/.test(c.sdpFmtpLine || ''))
      if (h264.length) t.setCodecPreferences([...h264, ...caps.codecs.filter((c) => /(rtx|red|ulpfec)$/i.test(c.mimeType))])
    }
  }
  const res = await fetch('/whip/' + stream, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...auth() }, body: await gathered(pc) })
  if (res.status !== 201) throw new Error('WHIP ' + res.status + ': ' + await res.text())
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() })
  state.publisher = { pc, media, stream, connectedAt: null }
  pc.onconnectionstatechange = () => { if (pc.connectionState === 'connected') state.publisher.connectedAt = performance.now() }
}

/** The program over WHEP, once it is live; again if it ends. */
async function watchProgram() {
  if (state.preview) return
  const stream = hostKey() + '~program'
  const list = await (await fetch('/api/streams')).json().catch(() => ({ streams: [] }))
  if (!list.streams.some((s) => s.app + '/' + s.name === stream)) return
  const pc = new RTCPeerConnection()
  state.preview = { pc, connectedAt: null }
  pc.addTransceiver('video', { direction: 'recvonly' })
  pc.addTransceiver('audio', { direction: 'recvonly' })
  const media = new MediaStream()
  pc.ontrack = (e) => { media.addTrack(e.track); $('program').srcObject = media; $('program').play().catch(() => {}) }
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected') state.preview.connectedAt = performance.now()
    if (['failed', 'closed'].includes(pc.connectionState)) { state.preview = null; pc.close() }
  }
  const res = await fetch('/whep/' + stream, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...auth() }, body: await gathered(pc) })
  if (res.status !== 201) { state.preview = null; pc.close(); return }
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() })
}

/** The host's co-hosting session (admin API), made on the first start. */
async function toggle() {
  const api = (path, method, body) => fetch(path, { method, headers: { 'Content-Type': 'application/json', ...auth() }, body: body && JSON.stringify(body) })
  if (!state.session) {
    const push = $('push').value.trim()
    const res = await api('/api/cohosts', 'POST', { host: hostKey(), guests: [guestKey()], pushes: push ? [push] : [] })
    if (res.status !== 201) throw new Error('co-hosting: ' + res.status + ' ' + await res.text())
    state.session = (await res.json()).id
    state.mixing = true
  } else {
    state.mixing = !state.mixing
    const res = await api('/api/cohosts/' + state.session + '/' + (state.mixing ? 'start' : 'stop'), 'POST', {})
    if (res.status !== 200) throw new Error('co-hosting: ' + res.status + ' ' + await res.text())
  }
  $('toggle').textContent = state.mixing ? 'Stop co-hosting' : 'Start co-hosting'
  status(state.mixing ? 'Co-hosting: the guest appears beside you as soon as they join.' : 'You alone again.')
}

async function goLive() {
  $('live').disabled = true
  try {
    await publish(role === 'guest' ? guestKey() : hostKey())
    status(role === 'guest' ? 'Joined: the host sees you in the program while co-hosting is on.' : 'Live. Send the guest link, then start co-hosting.')
    if (role === 'host') $('toggle').disabled = false
  } catch (e) {
    $('live').disabled = false
    status(String(e.message || e), true)
  }
}

if (q.get('host')) $('host').value = q.get('host')
if (role === 'guest') {
  $('guest').value = q.get('guest'); $('guestLabel').hidden = false; $('pushLabel').hidden = true; $('toggle').hidden = true
  $('host').disabled = true; $('live').textContent = 'Join'
} else {
  if (q.get('push')) $('push').value = q.get('push')
  const showLink = () => { $('invite').hidden = false; $('link').textContent = location.origin + '/cohost?host=' + hostKey() + '&guest=' + guestKey() }
  $('host').oninput = showLink
  showLink()
}
$('live').onclick = goLive
$('toggle').onclick = () => toggle().catch((e) => status(String(e.message || e), true))
setInterval(() => watchProgram().catch(() => {}), 1000)
if (q.get('start')) goLive()
</script>
</body>
</html>
`

export function serveCohostPage(http: HttpServer): void {
  http.route('GET', /^\/cohost\/?$/, (_req, res) => sendPage(res, PAGE))
}
