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
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { genericNack, parseRtcp, pictureLossIndication } from '../dist/rtp/rtcp.js'
// a plain .mjs module of the load tools (its shapes: Client below)
import { joinSfuRoom } from '../bench/load/sfu-client.mjs'

type Track = { sendMessageBinary(b: Buffer): boolean; isOpen(): boolean }
/** What bench/load/sfu-client.mjs gives (the parts used here). */
interface Client {
  id: string
  ws: WebSocket
  dc: { isOpen(): boolean; sendMessage(s: string): boolean } | null
  video: Track | null
  videoSsrc: number
  rtcp: Buffer[]
  subs: Map<string, { video: Track }>
  chat: string[]
  close(): void
}

let server: TestServer
const clients: Client[] = []
/** RTP video packets each client's subscriptions received, by stream. */
const received = new Map<Client, Map<string, Buffer[]>>()

async function join(room: string, publish: boolean): Promise<Client> {
  const rtp = new Map<string, Buffer[]>()
  const c = (await joinSfuRoom(server.httpUrl(''), room, {
    publish,
    onRtp: (stream: string, kind: string, msg: Buffer) => {
      if (kind !== 'video') return
      if (!rtp.has(stream)) rtp.set(stream, [])
      rtp.get(stream)!.push(Buffer.from(msg))
    },
  })) as Client
  clients.push(c)
  received.set(c, rtp)
  return c
}
const rtpOf = (c: Client, stream: string): Buffer[] => received.get(c)?.get(stream) ?? []

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
    for (const c of clients.splice(0)) c.close()
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
      return rtpOf(s, a.id).length > 0 && rtpOf(s, b.id).length > 0
    }, 10_000, 'the subscriber receiving both publishers')
    const sfu = (await (await fetch(server.httpUrl('/api/sfu'))).json()) as any
    const sub = sfu.rooms[0].participants.find((p: any) => p.peerId === s.id)
    expect(sub.downlinks.map((d: any) => d.publisher).sort()).toEqual([a.id, b.id].sort())
    expect(sub.available.sort()).toEqual([a.id, b.id].sort())
    const downA = s.subs.get(a.id)!
    const ssrcA = rtpOf(s, a.id)[0]!.readUInt32BE(8)

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
    const before = rtpOf(s, a.id).length
    await waitFor(() => rtpOf(s, a.id).length >= before + 5, 3000, 'A forwarded')
    const sent = rtpOf(s, a.id)
    const seq = sent[sent.length - 3]!.readUInt16BE(2)
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

    // everyone leaves: no downlink is left in the viewer transport
    expect(server.sluice.whep.pool.size).toBe(1)
    for (const c of [b, s]) c.ws.send(JSON.stringify({ type: 'leave' }))
    await waitFor(() => server.sluice.whep.pool.size === 0, 5000, 'the downlinks closed in the transport')
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
