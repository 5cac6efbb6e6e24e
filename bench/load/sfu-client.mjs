/**
 * An SFU room participant on node-datachannel, speaking docs/signaling.md over `ws`: the
 * `bench:sfu` load and the `room-sfu-rtcp` test use it.
 *
 * - its own PeerConnection to the peer `sfu`: a `chat` data channel (which triggers the offer) and,
 *   with `publish`, a sendonly H.264 video track (payload type 102, SSRC `videoSsrc`) and, with
 *   `publishAudio`, a sendonly Opus track (111, `audioSsrc`);
 * - for every `stream-added`, a receive-only PeerConnection (H.264 102, Opus 111) offered with
 *   `stream`, its candidates sent after the answer is applied (the DTLS race noted in
 *   whep-viewers.mjs); `stream-removed` closes it.
 *
 * Keep a reference to every Track (a garbage-collected wrapper closes its track): they are in
 * `tracks`. `onRtp(stream, kind, packet)` sees every RTP packet a subscription receives (RTCP is
 * not passed on).
 */
import { createRequire } from 'node:module'
import { randomInt } from 'node:crypto'

const require = createRequire(import.meta.url)
const { PeerConnection, Video, Audio } = require('node-datachannel')
const { WebSocket } = require('ws')

export const VIDEO_PT = 102
export const AUDIO_PT = 111
const H264_FMTP = 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f'
const OPUS_FMTP = 'minptime=10;useinbandfec=1'

const isRtcp = (msg) => msg.length > 1 && msg[1] >= 192 && msg[1] <= 223

/**
 * Joins `room` (mode `sfu`) on the server at `origin` (`http://host:port`); resolves once
 * `joined` came. Options: `name`, `publish`, `publishAudio`, `onRtp`, `onError(message)`.
 */
export async function joinSfuRoom(origin, room, { name = 'client', publish = false, publishAudio = false, onRtp = () => {}, onError = () => {} } = {}) {
  const ws = new WebSocket(origin.replace('http:', 'ws:') + '/signaling')
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  const send = (m) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(m))
  const pc = new PeerConnection(name, { iceServers: [], bindAddress: '127.0.0.1', enableIceUdpMux: false })
  const c = {
    id: '',
    name,
    ws,
    pc,
    send,
    tracks: [],
    /** Subscriptions by stream: `{pc, video, audio, candidates}`. */
    subs: new Map(),
    dc: null,
    video: null,
    audio: null,
    videoSsrc: randomInt(1, 0xffffffff),
    audioSsrc: randomInt(1, 0xffffffff),
    /** RTCP the SFU sent on the published video track. */
    rtcp: [],
    chat: [],
    messages: [],
    closed: false,
    close() {
      c.closed = true
      try {
        ws.close()
        for (const t of c.tracks) t.close()
        for (const sub of c.subs.values()) sub.pc.close()
        pc.close()
      } catch {}
    },
  }
  pc.onLocalCandidate((candidate, mid) => send({ type: 'candidate', to: 'sfu', candidate: { candidate, sdpMid: mid } }))
  pc.onLocalDescription((sdp, type) => send({ type, to: 'sfu', sdp }))
  if (publish) {
    const v = new Video('0', 'SendOnly')
    v.addH264Codec(VIDEO_PT, H264_FMTP)
    v.addSSRC(c.videoSsrc, name, 'pub', 'pub-video')
    c.video = pc.addTrack(v)
    c.video.onMessage((msg) => c.rtcp.push(Buffer.from(msg)))
    c.tracks.push(c.video)
    if (publishAudio) {
      const a = new Audio('1', 'SendOnly')
      a.addOpusCodec(AUDIO_PT, OPUS_FMTP)
      a.addSSRC(c.audioSsrc, name, 'pub', 'pub-audio')
      c.audio = pc.addTrack(a)
      c.tracks.push(c.audio)
    }
  }
  const joined = new Promise((resolve) => {
    ws.on('message', (data) => {
      if (c.closed) return
      const m = JSON.parse(String(data))
      c.messages.push(m)
      if (m.type === 'joined') {
        c.id = m.peerId
        c.dc = pc.createDataChannel('chat')
        c.dc.onMessage((text) => c.chat.push(String(text)))
        resolve()
      } else if (m.type === 'stream-added') void subscribe(c, m.stream, onRtp)
      else if (m.type === 'stream-removed') {
        c.subs.get(m.stream)?.pc.close()
        c.subs.delete(m.stream)
      } else if (m.type === 'answer' && m.stream) {
        const sub = c.subs.get(m.stream)
        if (!sub) return
        sub.pc.setRemoteDescription(m.sdp, 'answer')
        for (const cand of sub.candidates) send({ type: 'candidate', to: 'sfu', stream: m.stream, candidate: { candidate: cand.candidate, sdpMid: cand.mid } })
      } else if (m.type === 'answer') pc.setRemoteDescription(m.sdp, 'answer')
      else if (m.type === 'candidate' && m.candidate?.candidate) pc.addRemoteCandidate(m.candidate.candidate, m.candidate.sdpMid ?? '0')
      else if (m.type === 'error') onError(m)
    })
  })
  send({ type: 'join', room, mode: 'sfu', name })
  await joined
  return c
}

/** Offers a receive-only PeerConnection for `stream`, without candidates in the offer. */
async function subscribe(c, stream, onRtp) {
  const pc = new PeerConnection(`${c.name}-${stream}`, { iceServers: [], bindAddress: '127.0.0.1', enableIceUdpMux: false })
  const video = new Video('0', 'RecvOnly')
  video.addH264Codec(VIDEO_PT, H264_FMTP)
  const audio = new Audio('1', 'RecvOnly')
  audio.addOpusCodec(AUDIO_PT, OPUS_FMTP)
  const sub = { pc, video: pc.addTrack(video), audio: pc.addTrack(audio), candidates: [] }
  c.subs.get(stream)?.pc.close()
  c.subs.set(stream, sub)
  c.tracks.push(sub.video, sub.audio)
  sub.video.onMessage((msg) => isRtcp(msg) || onRtp(stream, 'video', msg))
  sub.audio.onMessage((msg) => isRtcp(msg) || onRtp(stream, 'audio', msg))
  pc.onLocalCandidate((candidate, mid) => sub.candidates.push({ candidate, mid }))
  const gathered = new Promise((resolve) => {
    pc.onGatheringStateChange((state) => state === 'complete' && resolve())
    setTimeout(resolve, 3000)
  })
  pc.setLocalDescription()
  if (pc.gatheringState() !== 'complete') await gathered
  c.send({ type: 'offer', to: 'sfu', stream, sdp: pc.localDescription().sdp.replace(/^a=(candidate:.*|end-of-candidates)\r?\n/gm, '') })
}
