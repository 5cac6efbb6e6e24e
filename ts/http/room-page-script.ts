/**
 * The room page's script (plain browser JS, no build step), served inline by `room-page.ts`.
 * It speaks the schema of docs/signaling.md over `/signaling`:
 * - `p2p` rooms: a full mesh. The newcomer offers to every peer listed in `joined`; the others
 *   answer (one deterministic offerer per pair, so no glare). Chat goes over a negotiated
 *   RTCDataChannel (`chat`, id 0) on each PeerConnection.
 * - `sfu` and `mcu` rooms: one PeerConnection to the peer `sfu` for the camera/microphone (sendonly)
 *   and the data channel `chat` (the server relays chat); for each stream the server announces
 *   (`stream-added`: another participant's, or in `mcu` rooms `mix`, everyone composed by the
 *   server with everyone's audio but one's own) a receive-only PeerConnection, offered with
 *   `stream` set and closed at `stream-removed`.
 *   With "simulcast" ticked (`&simulcast=1`) in an `sfu` room the camera goes on a PeerConnection
 *   of its own, offered with `publish: true` (received on the server's native port) and sent in
 *   three layers (rids q/h/f: ¼, ½ and full resolution, ≤ 150 k, 500 k, 1.5 Mbit/s); a server
 *   that refuses it gets the camera on the first PeerConnection instead. The server reports each
 *   downlink's layer and estimate on the data channel (`layers`), shown under the video with a
 *   menu that pins a layer (`{"type":"layer","stream","rid"}`).
 * Test hooks: `window.sluiceRoom`.
 */
import { SIMULCAST_ENCODINGS } from './simulcast-encodings'
import { OFFER_DEPENDENCY_DESCRIPTOR } from './receive-extensions'

export const ROOM_SCRIPT = /* js */ `
const $ = (id) => document.getElementById(id)
const params = new URLSearchParams(location.search)
const state = { ws: null, room: null, mode: null, peerId: null, local: null, iceServers: [], peers: new Map(), sfu: null, chat: [], errors: [], joined: false, layers: {} }
/** The simulcast layers the room page sends (RFC 8853 rids, lowest first). */
const SIMULCAST = ${JSON.stringify(SIMULCAST_ENCODINGS)}
${OFFER_DEPENDENCY_DESCRIPTOR}

window.sluiceRoom = {
  get peerId() { return state.peerId },
  get room() { return state.room },
  get mode() { return state.mode },
  get joined() { return state.joined },
  /** ids of the other peers in the room */
  get peerIds() { return [...state.peers.keys()] },
  /** chat messages received: {from, text, at} */
  chat: state.chat,
  /** error messages from the server */
  errors: state.errors,
  sendChat: (text) => sendChat(text),
  /** per remote peer: inbound video framesDecoded (and bytes, frame size, freezes, drops) from getStats */
  framesDecoded: () => framesDecoded(),
  /** sfu rooms: per stream, the server's last layers report {layer, layers, switchingTo, pinned, estimateBps} */
  get layers() { return state.layers },
  /** sfu rooms: pins the downlink of stream to layer rid (null: the estimate chooses) */
  setLayer: (stream, rid) => setLayer(stream, rid),
  /** whether the camera goes out as simulcast on its own PeerConnection, and its state */
  get publishing() { return state.sfu && state.sfu.pub ? { simulcast: true, pc: state.sfu.pub.pc.connectionState } : state.sfu && state.local ? { simulcast: false } : null },
  /** simulcast: each layer the browser sends {rid, width, bytesSent, limitation} and its send estimate (bit/s), from getStats */
  publishStats: () => publishStats(),
  /** per remote peer: RTCPeerConnection state and chat channel state */
  connections: () => {
    const out = {}
    for (const p of state.peers.values()) out[p.id] = { pc: p.pc ? p.pc.connectionState : 'new', chat: p.dc ? p.dc.readyState : 'none' }
    if (state.sfu) {
      out.sfu = { pc: state.sfu.pc.connectionState, chat: state.sfu.dc.readyState }
      for (const sub of state.sfu.subs.values()) out['sfu:' + sub.stream] = { pc: sub.pc.connectionState }
    }
    return out
  },
  leave: () => leave(),
}

function status(text, error) { $('status').textContent = text; $('status').className = error ? 'error' : '' }
function send(message) { if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(message)) }

/** 'turn:user:pass@host:port' → { urls, username, credential } */
function iceServer(url) {
  const m = /^(turns?):([^:@]+):([^@]+)@(.+)$/.exec(url)
  return m ? { urls: m[1] + ':' + m[4], username: decodeURIComponent(m[2]), credential: decodeURIComponent(m[3]) } : { urls: url }
}

// ---- tiles ---------------------------------------------------------------------------------
function tile(id, label) {
  let t = document.querySelector('figure[data-peer="' + CSS.escape(id) + '"]')
  if (!t) {
    t = document.createElement('figure')
    t.dataset.peer = id
    t.innerHTML = '<video autoplay playsinline></video><figcaption></figcaption>'
    $('tiles').appendChild(t)
  }
  if (label) t.querySelector('figcaption').textContent = label
  return t
}
function removeTile(id) { const t = document.querySelector('figure[data-peer="' + CSS.escape(id) + '"]'); if (t) t.remove() }
function show(id, label, stream) {
  const video = tile(id, label).querySelector('video')
  if (video.srcObject !== stream) video.srcObject = stream
  video.play().catch(() => { video.muted = true; video.play().catch(() => {}) })
}
function labelOf(id) { const p = state.peers.get(id); return p && p.name ? p.name + ' (' + id + ')' : id }

// ---- chat ----------------------------------------------------------------------------------
function addChat(from, text) {
  const entry = { from, text, at: Date.now() }
  if (from !== state.peerId) state.chat.push(entry)
  const li = document.createElement('li')
  const who = document.createElement('b')
  who.textContent = from === state.peerId ? 'me' : labelOf(from)
  li.append(who, document.createTextNode(' ' + text))
  $('messages').appendChild(li)
  $('messages').scrollTop = $('messages').scrollHeight
}
/** Wires a chat data channel; messages are JSON {type:'chat', text} (from the SFU also {from}). */
function wireChat(dc, peerId) {
  dc.onmessage = (e) => {
    try {
      const m = JSON.parse(e.data)
      if (m && m.type === 'chat' && typeof m.text === 'string') addChat(peerId || String(m.from || 'sfu'), m.text)
      if (m && m.type === 'layers' && Array.isArray(m.downlinks)) for (const d of m.downlinks) showLayers(d)
    } catch {}
  }
  dc.onopen = () => renderPeers()
  dc.onclose = () => renderPeers()
}
/** Sends a chat line to everyone; returns how many channels took it. */
function sendChat(text) {
  text = String(text || '').trim()
  if (!text || !state.joined) return 0
  const payload = JSON.stringify({ type: 'chat', text })
  let n = 0
  if (state.sfu) {
    if (state.sfu.dc.readyState === 'open') { state.sfu.dc.send(payload); n = 1 } else { send({ type: 'chat', text }); n = 1 }
  } else {
    for (const p of state.peers.values()) if (p.dc && p.dc.readyState === 'open') { p.dc.send(payload); n++ }
  }
  addChat(state.peerId, text)
  return n
}

// ---- P2P mesh ------------------------------------------------------------------------------
function peerEntry(desc) {
  let p = state.peers.get(desc.id)
  if (!p) {
    p = { id: desc.id, name: desc.name, pc: null, dc: null, chain: Promise.resolve() }
    state.peers.set(desc.id, p)
  }
  tile(p.id, labelOf(p.id))
  renderPeers()
  return p
}
/** Runs signaling steps of one peer in order. */
function queue(p, step) {
  p.chain = p.chain.then(step).catch((err) => { console.warn('peer', p.id, err); status('peer ' + p.id + ': ' + err, true) })
}
function ensurePc(p) {
  if (p.pc) return p.pc
  const pc = new RTCPeerConnection({ iceServers: state.iceServers })
  p.pc = pc
  pc.onicecandidate = (e) => send({ type: 'candidate', to: p.id, candidate: e.candidate ? e.candidate.toJSON() : null })
  pc.ontrack = (e) => show(p.id, labelOf(p.id), e.streams[0] || new MediaStream([e.track]))
  pc.onconnectionstatechange = () => renderPeers()
  p.dc = pc.createDataChannel('chat', { negotiated: true, id: 0 })
  wireChat(p.dc, p.id)
  return pc
}
function addLocalTracks(pc) {
  if (state.local) for (const t of state.local.getTracks()) pc.addTrack(t, state.local)
}
function call(p) {
  queue(p, async () => {
    const pc = ensurePc(p)
    if (state.local) addLocalTracks(pc)
    else { pc.addTransceiver('video', { direction: 'recvonly' }); pc.addTransceiver('audio', { direction: 'recvonly' }) }
    await pc.setLocalDescription()
    send({ type: 'offer', to: p.id, sdp: pc.localDescription.sdp })
  })
}
function closePeer(id) {
  const p = state.peers.get(id)
  if (p && p.pc) p.pc.close()
  state.peers.delete(id)
  removeTile(id)
  renderPeers()
}

// ---- SFU -----------------------------------------------------------------------------------
function startSfu() {
  const pc = new RTCPeerConnection({ iceServers: state.iceServers })
  const s = { id: 'sfu', pc, dc: pc.createDataChannel('chat'), chain: Promise.resolve(), subs: new Map(), pub: null }
  state.sfu = s
  wireChat(s.dc, null)
  pc.onicecandidate = (e) => send({ type: 'candidate', to: 'sfu', candidate: e.candidate ? e.candidate.toJSON() : null })
  pc.onconnectionstatechange = () => renderPeers()
  pc.onnegotiationneeded = () => queue(s, async () => {
    await pc.setLocalDescription()
    send({ type: 'offer', to: 'sfu', sdp: pc.localDescription.sdp })
  })
  if (state.local && state.mode === 'sfu' && $('simulcast').checked) {
    // the first offer waits for the publish offer's fate: refused, the camera goes in it
    s.chain = new Promise((resolve) => (s.decided = resolve))
    publishSimulcast()
  } else addCamera(pc)
}
function addCamera(pc) {
  if (state.local) for (const t of state.local.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [state.local] })
}
/** The camera in three layers on a PeerConnection of its own, offered with publish: true. */
function publishSimulcast() {
  const pc = new RTCPeerConnection({ iceServers: state.iceServers })
  const pub = { id: 'publish', pc, chain: Promise.resolve() }
  state.sfu.pub = pub
  pc.onconnectionstatechange = () => renderPeers()
  for (const t of state.local.getTracks()) {
    pc.addTransceiver(t, t.kind === 'video' ? { direction: 'sendonly', streams: [state.local], sendEncodings: SIMULCAST } : { direction: 'sendonly', streams: [state.local] })
  }
  queue(pub, async () => {
    await pc.setLocalDescription()
    send({ type: 'offer', id: 'publish', to: 'sfu', publish: true, sdp: pc.localDescription.sdp })
  })
}
/** The server did not take the publish offer: the camera goes on the first PeerConnection. */
function publishFallback() {
  const s = state.sfu
  if (!s || !s.pub) return
  s.pub.pc.close()
  s.pub = null
  addCamera(s.pc)
  if (s.decided) s.decided()
  renderPeers()
}
async function publishStats() {
  const pub = state.sfu && state.sfu.pub
  if (!pub) return null
  const out = { layers: [], estimateBps: 0 }
  ;(await pub.pc.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') out.layers.push({ rid: r.rid || '', width: r.frameWidth || 0, bytesSent: r.bytesSent || 0, limitation: r.qualityLimitationReason || 'none', active: r.active !== false })
    if (r.type === 'candidate-pair' && r.nominated && r.availableOutgoingBitrate) out.estimateBps = r.availableOutgoingBitrate
  })
  return out
}
function setLayer(stream, rid) {
  const s = state.sfu
  if (!s || s.dc.readyState !== 'open') return false
  s.dc.send(JSON.stringify({ type: 'layer', stream, rid: rid || null }))
  return true
}
function mbps(bps) { return bps >= 1e6 ? (bps / 1e6).toFixed(1) + ' Mbit/s' : Math.round(bps / 1e3) + ' kbit/s' }
/** A downlink's layers report under its video: layer, estimate and a menu that pins one. */
function showLayers(d) {
  state.layers[d.stream] = d
  const t = document.querySelector('figure[data-peer="' + CSS.escape(d.stream) + '"]')
  if (!t) return
  let box = t.querySelector('.layers')
  if (!box) {
    box = document.createElement('div')
    box.className = 'layers'
    box.innerHTML = '<span></span> <select title="simulcast layer"></select>'
    box.querySelector('select').onchange = (e) => setLayer(d.stream, e.target.value || null)
    t.appendChild(box)
  }
  const select = box.querySelector('select')
  const options = ['', ...d.layers]
  if (select.options.length !== options.length) select.replaceChildren(...options.map((rid) => { const o = document.createElement('option'); o.value = rid; o.textContent = rid || 'auto'; return o }))
  if (document.activeElement !== select) select.value = d.pinned || ''
  box.querySelector('span').textContent = 'layer ' + (d.layer || 'paused') + (d.switchingTo ? ' → ' + d.switchingTo : '') + ' · estimate ' + (d.estimateBps ? mbps(d.estimateBps) : '–')
}
/** A receive-only PeerConnection for an announced stream (a peer's id, or 'mix'). */
function subscribe(stream) {
  unsubscribe(stream)
  const pc = new RTCPeerConnection({ iceServers: state.iceServers })
  const sub = { id: 'sfu:' + stream, stream, pc, chain: Promise.resolve() }
  state.sfu.subs.set(stream, sub)
  offerDependencyDescriptor(pc.addTransceiver('video', { direction: 'recvonly' }))
  pc.addTransceiver('audio', { direction: 'recvonly' })
  const media = new MediaStream()
  pc.ontrack = (e) => { media.addTrack(e.track); show(stream, labelOf(stream), media) }
  pc.onicecandidate = (e) => { if (e.candidate) send({ type: 'candidate', to: 'sfu', stream, candidate: e.candidate.toJSON() }) }
  pc.onconnectionstatechange = () => renderPeers()
  queue(sub, async () => {
    await pc.setLocalDescription()
    send({ type: 'offer', to: 'sfu', stream, sdp: pc.localDescription.sdp })
  })
}
function unsubscribe(stream) {
  const sub = state.sfu && state.sfu.subs.get(stream)
  if (!sub) return
  sub.pc.close()
  state.sfu.subs.delete(stream)
  removeTile(stream)
  renderPeers()
}

// ---- signaling -----------------------------------------------------------------------------
function onMessage(m) {
  const sfu = m.from === 'sfu' ? state.sfu : null
  switch (m.type) {
    case 'joined':
      state.joined = true
      state.peerId = m.peerId
      state.room = m.room
      state.mode = m.mode
      state.iceServers = (m.iceServers || []).map(iceServer)
      status('In room ' + m.room + ' (' + m.mode + ') as ' + m.peerId)
      tile('local', 'me (' + m.peerId + ')')
      if (m.mode !== 'p2p') { for (const d of m.peers) peerEntry(d); startSfu() }
      else for (const d of m.peers) call(peerEntry(d))
      break
    case 'peer-joined':
      if (state.mode !== 'p2p') state.peers.set(m.peer.id, { id: m.peer.id, name: m.peer.name, chain: Promise.resolve() })
      else peerEntry(m.peer) // it offers to us
      renderPeers()
      break
    case 'peer-left':
      closePeer(m.peerId)
      break
    case 'stream-added':
      if (sfu) subscribe(m.stream)
      break
    case 'stream-removed':
      if (sfu) unsubscribe(m.stream)
      break
    case 'offer':
      if (state.mode === 'p2p') {
        const p = peerEntry({ id: m.from })
        queue(p, async () => {
          const pc = ensurePc(p)
          const first = !pc.remoteDescription
          await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp })
          if (first) addLocalTracks(pc)
          await pc.setLocalDescription()
          send({ type: 'answer', to: p.id, sdp: pc.localDescription.sdp })
        })
      }
      break
    case 'answer': {
      const p = sfu ? (m.stream ? sfu.subs.get(m.stream) : m.publish ? sfu.pub : sfu) : state.peers.get(m.from)
      if (p) queue(p, async () => { if (p.pc && p.pc.signalingState === 'have-local-offer') await p.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp }) })
      if (sfu && m.publish && sfu.decided) sfu.decided()
      break
    }
    case 'candidate': {
      const p = sfu || state.peers.get(m.from)
      if (p && m.candidate) queue(p, async () => { if (p.pc) await p.pc.addIceCandidate(m.candidate) })
      break
    }
    case 'chat': // relayed over the WebSocket (SFU rooms without an open data channel)
      addChat(m.from, m.text)
      break
    case 'error':
      state.errors.push(m)
      status(m.code + ': ' + m.message, true)
      if (m.id === 'publish') publishFallback()
      // a cluster pins each SFU/MCU room to one node: the page moves there and joins again
      if (m.code === 'ROOM_ELSEWHERE' && m.redirect) location.href = m.redirect + location.pathname + location.search
      break
  }
}

async function join(room, mode, name) {
  if (state.ws) return
  try {
    // simulcast needs a picture its quarter still shows (Chromium sends fewer layers below 720p)
    const size = $('simulcast').checked ? { width: 1280, height: 720 } : { width: 640, height: 360 }
    state.local = await navigator.mediaDevices.getUserMedia({ video: size, audio: true })
    show('local', 'me', state.local)
    tile('local').querySelector('video').muted = true
  } catch (err) {
    status('No camera (' + err.name + '): joining to watch only', true)
  }
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/signaling')
  state.ws = ws
  ws.onopen = () => {
    const msg = { type: 'join', room, mode, name: name || undefined, token: params.get('token') || undefined }
    send(msg)
  }
  ws.onmessage = (e) => { try { onMessage(JSON.parse(e.data)) } catch (err) { console.warn(err) } }
  ws.onclose = (e) => { status('Disconnected from signaling (' + e.code + ')', true); state.joined = false; state.ws = null }
  const ping = setInterval(() => (state.ws === ws ? send({ type: 'ping', ts: Date.now() }) : clearInterval(ping)), 10000)
  $('join').disabled = true
  $('leave').disabled = false
  history.replaceState(null, '', '?room=' + encodeURIComponent(room) + '&mode=' + mode + ($('simulcast').checked ? '&simulcast=1' : ''))
}

function leave() {
  send({ type: 'leave' })
  if (state.ws) state.ws.close()
  state.ws = null
  for (const id of [...state.peers.keys()]) closePeer(id)
  if (state.sfu) {
    for (const sub of state.sfu.subs.values()) sub.pc.close()
    state.sfu.pc.close()
    if (state.sfu.pub) state.sfu.pub.pc.close()
    state.sfu = null
    state.layers = {}
  }
  if (state.local) state.local.getTracks().forEach((t) => t.stop())
  state.local = null
  state.joined = false
  $('tiles').innerHTML = ''
  $('join').disabled = false
  $('leave').disabled = true
  status('Left.')
}

async function framesDecoded() {
  const out = {}
  const read = async (pc, label) => {
    const report = await pc.getStats()
    report.forEach((r) => {
      if (r.type !== 'inbound-rtp' || r.kind !== 'video') return
      const id = label || r.trackIdentifier
      const prev = out[id] || { framesDecoded: 0, bytesReceived: 0, freezeCount: 0, framesDropped: 0 }
      out[id] = {
        framesDecoded: prev.framesDecoded + (r.framesDecoded || 0), bytesReceived: prev.bytesReceived + (r.bytesReceived || 0),
        freezeCount: prev.freezeCount + (r.freezeCount || 0), framesDropped: prev.framesDropped + (r.framesDropped || 0),
        frameWidth: r.frameWidth || prev.frameWidth || 0, frameHeight: r.frameHeight || prev.frameHeight || 0,
      }
    })
  }
  for (const p of state.peers.values()) if (p.pc) await read(p.pc, p.id)
  if (state.sfu) for (const sub of state.sfu.subs.values()) await read(sub.pc, sub.stream)
  return out
}

function renderPeers() {
  const row = (label, meta) => {
    const li = document.createElement('li')
    const a = document.createElement('span')
    const b = document.createElement('span')
    a.textContent = label
    b.textContent = meta
    b.className = 'meta'
    li.append(a, b)
    return li
  }
  const rows = []
  for (const p of state.peers.values()) {
    const conn = p.pc ? p.pc.connectionState : state.mode !== 'p2p' ? 'via the server' : 'waiting'
    rows.push(row(labelOf(p.id), conn + (p.dc ? ' · chat ' + p.dc.readyState : '')))
  }
  if (state.sfu) {
    rows.push(row('sfu', state.sfu.pc.connectionState + ' · chat ' + state.sfu.dc.readyState))
    if (state.sfu.pub) rows.push(row('camera (simulcast)', state.sfu.pub.pc.connectionState))
    for (const sub of state.sfu.subs.values()) rows.push(row(labelOf(sub.stream), 'receiving · ' + sub.pc.connectionState))
  }
  $('peers').replaceChildren(...rows)
}

$('room').value = params.get('room') || ''
$('mode').value = ['sfu', 'mcu'].includes(params.get('mode')) ? params.get('mode') : 'p2p'
$('name').value = params.get('name') || ''
$('simulcast').checked = params.get('simulcast') === '1'
$('join-form').onsubmit = (e) => {
  e.preventDefault()
  const room = $('room').value.trim()
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(room)) return status('Room names are 1-64 of A-Z a-z 0-9 . _ -', true)
  join(room, $('mode').value, $('name').value.trim())
}
$('leave').onclick = () => leave()
$('chat-form').onsubmit = (e) => { e.preventDefault(); sendChat($('text').value); $('text').value = '' }
if (params.get('room')) join(params.get('room'), $('mode').value, $('name').value.trim())
`
