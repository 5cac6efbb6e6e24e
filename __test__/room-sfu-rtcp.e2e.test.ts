/**
 * SFU feedback paths with node-datachannel clients (exact packets, no browser), on both viewer
 * transports: two publishers and one watch-only subscriber in an `sfu` room. The subscriber
 * offers one receive-only PeerConnection per stream the SFU announces (`stream-added`).
 * - PLI (RFC 4585 §6.3.1) from the subscriber on one publisher's downlink reaches that
 *   publisher, and only it, as a PLI;
 * - NACK (RFC 4585 §6.2.1) from the subscriber is answered from the stream's retransmission ring
 *   (a sequence number it was sent is sent again; one it was never sent is not);
 * - chat over the data channel is relayed with the sender's peer id.
 */
import { createRequire } from 'node:module'
import { randomInt } from 'node:crypto'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { genericNack, parseRtcp, pictureLossIndication } from '../dist/rtp/rtcp.js'

const nd = createRequire(import.meta.url)('node-datachannel') as typeof import('node-datachannel')
type PeerConnection = InstanceType<typeof nd.PeerConnection>
type Track = ReturnType<PeerConnection['addTrack']>
type DataChannel = ReturnType<PeerConnection['createDataChannel']>

let server: TestServer
const clients: Client[] = []

/** A receive-only PeerConnection for one announced stream. */
interface Subscription {
  pc: PeerConnection
  video: Track
  audio: Track
  /** RTP received on its video track. */
  rtp: Buffer[]
  /** Its local candidates, sent once the answer is applied (see bench/load/whep-viewers.mjs on the DTLS race). */
  candidates: { candidate: string; mid: string }[]
}

interface Client {
  id: string
  ws: WebSocket
  pc: PeerConnection
  tracks: Track[]
  dc: DataChannel | null
  video: Track | null
  videoSsrc: number
  /** RTCP received on the publisher's own video track (from the SFU). */
  rtcp: Buffer[]
  /** Its subscriptions, by stream (publisher peer id). */
  subs: Map<string, Subscription>
  chat: string[]
  closed: boolean
}

async function join(room: string, publish: boolean): Promise<Client> {
  const ws = new WebSocket(server.httpUrl('/signaling').replace('http:', 'ws:'))
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)))
  const pc = new nd.PeerConnection('client', { iceServers: [], bindAddress: '127.0.0.1', enableIceUdpMux: false })
  const c: Client = { id: '', ws, pc, tracks: [], dc: null, video: null, videoSsrc: randomInt(1, 0xffffffff), rtcp: [], subs: new Map(), chat: [], closed: false }
  clients.push(c)
  const send = (m: unknown) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(m))
  pc.onLocalCandidate((candidate, mid) => send({ type: 'candidate', to: 'sfu', candidate: { candidate, sdpMid: mid } }))
  pc.onLocalDescription((sdp, type) => send({ type, to: 'sfu', sdp }))
  if (publish) {
    const v = new nd.Video('0', 'SendOnly')
    v.addH264Codec(102, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f')
    v.addSSRC(c.videoSsrc, 'test', 'pub', 'pub-video')
    c.video = pc.addTrack(v)
    c.video.onMessage((msg) => c.rtcp.push(Buffer.from(msg)))
    c.tracks.push(c.video)
  }
  const joined = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      if (c.closed) return
      const m = JSON.parse(String(data))
      if (m.type === 'joined') {
        c.id = m.peerId
        c.dc = pc.createDataChannel('chat')
        c.dc.onMessage((text) => c.chat.push(String(text)))
        resolve()
      } else if (m.type === 'stream-added') void subscribe(c, m.stream, send)
      else if (m.type === 'answer' && m.stream) {
        const sub = c.subs.get(m.stream)
        if (!sub) return
        sub.pc.setRemoteDescription(m.sdp, 'answer')
        for (const cand of sub.candidates) send({ type: 'candidate', to: 'sfu', stream: m.stream, candidate: { candidate: cand.candidate, sdpMid: cand.mid } })
      } else if (m.type === 'answer') pc.setRemoteDescription(m.sdp, 'answer')
      else if (m.type === 'candidate' && m.candidate?.candidate) pc.addRemoteCandidate(m.candidate.candidate, m.candidate.sdpMid ?? '0')
    })
  })
  send({ type: 'join', room, mode: 'sfu' })
  await joined
  return c
}

/** Offers a receive-only PeerConnection for `stream` (H.264 and Opus), without candidates in the offer. */
async function subscribe(c: Client, stream: string, send: (m: unknown) => void): Promise<void> {
  const pc = new nd.PeerConnection(`sub-${stream}`, { iceServers: [], bindAddress: '127.0.0.1', enableIceUdpMux: false })
  const video = new nd.Video('0', 'RecvOnly')
  video.addH264Codec(102, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f')
  const audio = new nd.Audio('1', 'RecvOnly')
  audio.addOpusCodec(111, 'minptime=10;useinbandfec=1')
  const sub: Subscription = { pc, video: pc.addTrack(video), audio: pc.addTrack(audio), rtp: [], candidates: [] }
  c.subs.set(stream, sub)
  c.tracks.push(sub.video, sub.audio)
  sub.video.onMessage((msg) => {
    if (msg[1]! < 192 || msg[1]! > 223) sub.rtp.push(Buffer.from(msg))
  })
  sub.audio.onMessage(() => {})
  const gathered = new Promise<void>((resolve) => {
    pc.onGatheringStateChange((state) => state === 'complete' && resolve())
    setTimeout(resolve, 3000)
  })
  pc.onLocalCandidate((candidate, mid) => sub.candidates.push({ candidate, mid }))
  pc.setLocalDescription()
  if (pc.gatheringState() !== 'complete') await gathered
  const offer = pc.localDescription()!.sdp.replace(/^a=(candidate:.*|end-of-candidates)\r?\n/gm, '')
  send({ type: 'offer', to: 'sfu', stream, sdp: offer })
}

/** Sends `count` FU-A video packets (one frame each) from a publisher. */
function sendVideo(c: Client, count: number, state: { seq: number; ts: number }): void {
  for (let i = 0; i < count; i++) {
    const p = Buffer.alloc(12 + 2 + 200, i & 0xff)
    p[0] = 0x80
    p[1] = 0x80 | 102
    p.writeUInt16BE(state.seq, 2)
    p.writeUInt32BE(state.ts >>> 0, 4)
    p.writeUInt32BE(c.videoSsrc, 8)
    p[12] = 0x60 | 28
    p[13] = 0xc0 | 1 // start+end, non-IDR
    state.seq = (state.seq + 1) & 0xffff
    state.ts += 3000
    c.video!.sendMessageBinary(p)
  }
}

for (const transport of ['native', 'datachannel'] as const) describe(`SFU feedback with node-datachannel clients, downlinks on the ${transport} transport`, () => {
  beforeAll(async () => {
    server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1, transport, udpPort: 0 } })
  })

  afterAll(async () => {
    for (const c of clients.splice(0)) {
      c.closed = true
      try {
        c.ws.close()
        for (const t of c.tracks) t.close()
        for (const sub of c.subs.values()) sub.pc.close()
        c.pc.close()
      } catch {}
    }
    await server?.close()
  })

  it('PLI reaches the right publisher, NACK is answered from the stream ring, chat is relayed', async () => {
    const room = `rtcp-${transport}`
    const a = await join(room, true)
    const b = await join(room, true)
    const s = await join(room, false)
    await waitFor(() => a.video?.isOpen() && b.video?.isOpen(), 10_000, 'publishers connected')
    const stateA = { seq: 1000, ts: 0 }
    const stateB = { seq: 5000, ts: 0 }
    // the subscriber gets both publishers' video, each over its own PeerConnection
    await waitFor(() => {
      sendVideo(a, 2, stateA)
      sendVideo(b, 2, stateB)
      return (s.subs.get(a.id)?.rtp.length ?? 0) > 0 && (s.subs.get(b.id)?.rtp.length ?? 0) > 0
    }, 10_000, 'the subscriber receiving both publishers')
    const sfu = (await (await fetch(server.httpUrl('/api/sfu'))).json()) as any
    const sub = sfu.rooms[0].participants.find((p: any) => p.peerId === s.id)
    expect(sub.downlinks.map((d: any) => d.publisher).sort()).toEqual([a.id, b.id].sort())
    expect(sub.available.sort()).toEqual([a.id, b.id].sort())
    const downA = s.subs.get(a.id)!
    const ssrcA = downA.rtp[0]!.readUInt32BE(8)

    // PLI on A's downlink → a PLI on A's uplink, none on B's
    await new Promise((r) => setTimeout(r, 600)) // past the publisher's 500 ms PLI rate limit
    const plis = (c: Client) => c.rtcp.flatMap((p) => parseRtcp(p)).filter((f) => f.type === 'pli' && f.mediaSsrc === c.videoSsrc).length
    const [aBefore, bBefore] = [plis(a), plis(b)]
    expect(downA.video.sendMessageBinary(pictureLossIndication(0x5eed, ssrcA))).toBe(true)
    await waitFor(() => plis(a) > aBefore, 3000, 'a PLI at publisher A')
    expect(plis(b)).toBe(bBefore)

    // NACK for a packet A's downlink carried → found in the ring and sent again (the client's
    // SRTP replay check drops the duplicate, as it had the packet: counted server side)
    sendVideo(a, 5, stateA)
    await waitFor(() => downA.rtp.length >= 5, 3000, 'A forwarded')
    const seq = downA.rtp[downA.rtp.length - 3]!.readUInt16BE(2)
    expect(downA.video.sendMessageBinary(genericNack(0x5eed, ssrcA, [seq, (seq + 40000) & 0xffff]))).toBe(true)
    const downlinkOf = async (publisher: string) =>
      ((await (await fetch(server.httpUrl('/api/sfu'))).json()) as any).rooms[0].participants.find((p: any) => p.peerId === s.id).downlinks.find((d: any) => d.publisher === publisher)
    let dA: any
    for (let i = 0; i < 30 && !(dA?.nacks >= 1); i++) {
      await new Promise((r) => setTimeout(r, 100))
      dA = await downlinkOf(a.id)
    }
    expect(dA).toMatchObject({ nacks: 1, retransmitted: 1, state: 'connected' }) // the unknown sequence number is not sent
    expect(await downlinkOf(b.id)).toMatchObject({ nacks: 0, retransmitted: 0 })
    expect(dA.keyframeRequests).toBeGreaterThanOrEqual(1)

    // chat over the data channels: relayed with the sender's id, not echoed
    await waitFor(() => a.dc?.isOpen() && b.dc?.isOpen() && s.dc?.isOpen(), 5000, 'data channels open')
    a.dc!.sendMessage(JSON.stringify({ type: 'chat', text: 'hi from a' }))
    a.dc!.sendMessage('not json') // dropped
    await waitFor(() => b.chat.length > 0 && s.chat.length > 0, 3000, 'chat relayed')
    for (const c of [b, s]) expect(JSON.parse(c.chat[0]!)).toMatchObject({ type: 'chat', from: a.id, text: 'hi from a' })
    await new Promise((r) => setTimeout(r, 200))
    expect(a.chat).toEqual([])
    expect(b.chat.length).toBe(1)

    // A leaves: the subscriber is told, and its downlink of A is gone
    const removed = new Promise<void>((resolve) => s.ws.on('message', (data) => JSON.parse(String(data)).type === 'stream-removed' && resolve()))
    a.ws.send(JSON.stringify({ type: 'leave' }))
    await removed
    const after = (await (await fetch(server.httpUrl('/api/sfu'))).json()) as any
    const subAfter = after.rooms[0].participants.find((p: any) => p.peerId === s.id)
    expect(subAfter.downlinks.map((d: any) => d.publisher)).toEqual([b.id])
    expect(subAfter.available).toEqual([b.id])
  }, 60_000)

  it('an offer for a stream that was not announced is refused with an error, the session goes on', async () => {
    const c = await join(`rtcp-${transport}-bad`, false)
    const error = new Promise<any>((resolve) => c.ws.on('message', (data) => {
      const m = JSON.parse(String(data))
      if (m.type === 'error') resolve(m)
    }))
    c.ws.send(JSON.stringify({ type: 'offer', to: 'sfu', stream: 'nobody', sdp: 'v=0\r\n' }))
    expect(await error).toMatchObject({ type: 'error' })
    c.ws.send(JSON.stringify({ type: 'ping', id: 7 }))
    const pong = await new Promise<any>((resolve) => c.ws.on('message', (data) => {
      const m = JSON.parse(String(data))
      if (m.type === 'pong') resolve(m)
    }))
    expect(pong.id).toBe(7)
  })
})
