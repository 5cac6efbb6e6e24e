/**
 * Signaling protocol (docs/signaling.md) over real WebSockets (`ws` clients) against a running
 * Sluice: rooms, peer lists, relay to a named peer, capacity, tokens, the SFU plug, heartbeats,
 * rate limit, leave on disconnect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SfuContext, SfuHandler, SignalMessage } from '../dist/index.js'
import { SignalingClient } from './helpers/signaling-client'
import { startSluice, type TestServer } from './helpers/sluice'

let server: TestServer
const clients: SignalingClient[] = []

async function connect(srv = server, options = {}): Promise<SignalingClient> {
  const c = await SignalingClient.connect(srv.httpUrl('/signaling').replace('http:', 'ws:'), options)
  clients.push(c)
  return c
}

async function rooms(srv = server): Promise<{ rooms: { name: string; mode: string; capacity: number | null; peers: number }[]; peers: number }> {
  return (await fetch(srv.httpUrl('/api/rooms'))).json() as any
}

beforeAll(async () => {
  server = await startSluice({
    sfu: { enabled: false }, // SFU_UNAVAILABLE is checked; the SFU plug test plugs its own
  })
  // joining a room is a publish of `room/{name}` for the one access decision
  server.sluice.on('publish', (req) => {
    if (req.protocol !== 'signaling') return req.accept()
    setTimeout(() => (!req.stream.startsWith('private-') || req.credential === 'letmein' ? req.accept() : req.reject('token refused')), 10)
  })
})

afterAll(async () => {
  for (const c of clients) c.ws.terminate()
  await server?.close()
})

describe('signaling: rooms', () => {
  it('join answers the peer list; others get peer-joined / peer-left; /api/rooms counts them; empty rooms go away', async () => {
    const a = await connect()
    const b = await connect()
    const ja = await a.join('lobby', { id: 'req-1' })
    expect(ja).toMatchObject({ type: 'joined', id: 'req-1', room: 'lobby', mode: 'p2p', capacity: null, peers: [], iceServers: [] })
    expect(ja.peerId).toMatch(/^[A-Za-z0-9_-]{8}$/)
    const jb = await b.join('lobby', { name: 'bob' })
    expect(jb.peers).toEqual([{ id: ja.peerId }])
    expect(await a.next('peer-joined')).toEqual({ type: 'peer-joined', peer: { id: jb.peerId, name: 'bob' } })
    expect((await rooms()).rooms).toContainEqual(expect.objectContaining({ name: 'lobby', mode: 'p2p', peers: 2 }))

    b.send({ type: 'leave', id: 7 })
    expect(await b.next('left')).toEqual({ type: 'left', id: 7, room: 'lobby' })
    expect(await a.next('peer-left')).toEqual({ type: 'peer-left', peerId: jb.peerId })

    const jb2 = await b.join('lobby')
    await a.next((m) => m.type === 'peer-joined' && m.peer.id === jb2.peerId)
    b.close() // leave on disconnect
    expect(await a.next('peer-left')).toEqual({ type: 'peer-left', peerId: jb2.peerId })
    a.close()
    await a.closed
    await new Promise((r) => setTimeout(r, 50))
    expect((await rooms()).rooms.find((r) => r.name === 'lobby')).toBeUndefined()
  })

  it('relays offer / answer / candidate to the named peer only, with `from`', async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()]
    const ia = (await a.join('relay')).peerId
    const ib = (await b.join('relay')).peerId
    await c.join('relay')
    a.send({ type: 'offer', to: ib, sdp: 'v=0 offer' })
    expect(await b.next('offer')).toEqual({ type: 'offer', from: ia, sdp: 'v=0 offer' })
    b.send({ type: 'answer', to: ia, sdp: 'v=0 answer' })
    expect(await a.next('answer')).toEqual({ type: 'answer', from: ib, sdp: 'v=0 answer' })
    const cand = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 }
    a.send({ type: 'candidate', to: ib, candidate: cand })
    a.send({ type: 'candidate', to: ib, candidate: null })
    expect(await b.next('candidate')).toEqual({ type: 'candidate', from: ia, candidate: cand })
    expect(await b.next('candidate')).toEqual({ type: 'candidate', from: ia, candidate: null })
    // room chat over the WebSocket goes to everyone else
    a.send({ type: 'chat', text: 'hello' })
    expect(await b.next('chat')).toMatchObject({ from: ia, text: 'hello' })
    expect(await c.next('chat')).toMatchObject({ from: ia, text: 'hello' })
    await new Promise((r) => setTimeout(r, 100))
    expect(c.received.filter((m) => m.type === 'offer' || m.type === 'answer' || m.type === 'candidate')).toEqual([])
  })

  it('errors: UNKNOWN_PEER (other room, self, gone), NOT_IN_ROOM, ALREADY_JOINED, MODE_MISMATCH, SFU_UNAVAILABLE', async () => {
    const [a, b] = [await connect(), await connect()]
    a.send({ type: 'offer', id: 1, to: 'nobody', sdp: 'x' })
    expect(await a.next('error')).toMatchObject({ code: 'NOT_IN_ROOM', id: 1 })
    a.send({ type: 'leave' })
    expect(await a.next('error')).toMatchObject({ code: 'NOT_IN_ROOM' })
    const ia = (await a.join('one')).peerId
    const ib = (await b.join('two')).peerId
    a.send({ type: 'offer', id: 'x', to: ib, sdp: 'x' })
    expect(await a.next('error')).toMatchObject({ code: 'UNKNOWN_PEER', id: 'x' })
    a.send({ type: 'answer', to: ia, sdp: 'x' })
    expect(await a.next('error')).toMatchObject({ code: 'UNKNOWN_PEER' })
    a.send({ type: 'candidate', to: 'sfu', candidate: null }) // no SFU peer in a p2p room
    expect(await a.next('error')).toMatchObject({ code: 'UNKNOWN_PEER' })
    a.send({ type: 'join', room: 'two' })
    expect(await a.next('error')).toMatchObject({ code: 'ALREADY_JOINED' })
    b.send({ type: 'leave' })
    await b.next('left')
    b.send({ type: 'join', room: 'one', mode: 'sfu' })
    expect(await b.next('error')).toMatchObject({ code: 'MODE_MISMATCH' })
    b.send({ type: 'join', room: 'conference', mode: 'sfu' })
    expect(await b.next('error')).toMatchObject({ code: 'SFU_UNAVAILABLE' })
    // b is still usable
    expect((await b.join('one')).peers).toEqual([{ id: ia }])
  })

  it('capacity: the creator sets it, the next joiner gets ROOM_FULL until someone leaves', async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()]
    expect((await a.join('small', { capacity: 2 })).capacity).toBe(2)
    await b.join('small', { capacity: 50 }) // ignored: the room exists
    c.send({ type: 'join', room: 'small', id: 3 })
    expect(await c.next('error')).toMatchObject({ code: 'ROOM_FULL', id: 3 })
    expect((await rooms()).rooms).toContainEqual(expect.objectContaining({ name: 'small', capacity: 2, peers: 2 }))
    b.close()
    await a.next('peer-left')
    expect((await c.join('small')).peers).toHaveLength(1)
  })

  it('token: the access decision (a publish listener) refuses a wrong token with UNAUTHORIZED and lets the right one in', async () => {
    const [a, b] = [await connect(), await connect()]
    a.send({ type: 'join', room: 'private-1', token: 'guess' })
    expect(await a.next('error')).toMatchObject({ code: 'UNAUTHORIZED' })
    a.send({ type: 'join', room: 'private-1' })
    expect(await a.next('error')).toMatchObject({ code: 'UNAUTHORIZED' })
    expect((await a.join('private-1', { token: 'letmein' })).room).toBe('private-1')
    // a second join while the hook runs is refused
    b.send({ type: 'join', room: 'private-1', token: 'letmein' })
    b.send({ type: 'join', room: 'private-1', token: 'letmein' })
    expect(await b.next('error')).toMatchObject({ code: 'ALREADY_JOINED' })
    expect(await b.next('joined')).toMatchObject({ room: 'private-1' })
  })

  it('SFU plug: `to: "sfu"` reaches the handler in sfu rooms, its sends arrive `from: "sfu"`, join/leave are reported', async () => {
    const calls: string[] = []
    let ctx: SfuContext | undefined
    const handler: SfuHandler = {
      onJoin: (room, peer) => void calls.push(`join ${room.name} ${peer.id} [${room.peerIds.length}]`),
      onLeave: (room, peer) => void calls.push(`leave ${room.name} ${peer.id}`),
      onSignal: (_room, peer, msg: SignalMessage) => {
        calls.push(`${msg.type} ${peer.id}`)
        if (msg.type === 'offer') ctx!.send(peer.id, { type: 'answer', sdp: 'answer for ' + msg.sdp })
      },
    }
    server.sluice.signaling.setSfu((c) => ((ctx = c), handler))
    try {
      const a = await connect()
      const j = await a.join('conf', { mode: 'sfu' })
      expect(j.mode).toBe('sfu')
      a.send({ type: 'offer', to: 'sfu', sdp: 'o1' })
      expect(await a.next('answer')).toEqual({ type: 'answer', from: 'sfu', sdp: 'answer for o1' })
      a.send({ type: 'candidate', to: 'sfu', candidate: null })
      // server-initiated renegotiation with a stream → peer map
      expect(ctx!.send(j.peerId, { type: 'offer', sdp: 'o2', streams: { s1: 'peerX' } })).toBe(true)
      expect(await a.next('offer')).toEqual({ type: 'offer', from: 'sfu', sdp: 'o2', streams: { s1: 'peerX' } })
      // a join without a mode takes the room's
      const b = await connect()
      expect((await b.join('conf')).mode).toBe('sfu')
      a.close()
      await b.next('peer-left')
      expect(ctx!.send(j.peerId, { type: 'answer', sdp: 'late' })).toBe(false)
      expect(calls).toEqual([`join conf ${j.peerId} [1]`, `offer ${j.peerId}`, `candidate ${j.peerId}`, expect.stringMatching(/^join conf /), `leave conf ${j.peerId}`])
    } finally {
      server.sluice.signaling.setSfu(null)
    }
  })

  it('app-level ping answers pong with the same id and ts', async () => {
    const a = await connect()
    a.send({ type: 'ping', id: 'p1', ts: 12345 })
    expect(await a.next('pong')).toEqual({ type: 'pong', id: 'p1', ts: 12345 })
  })

  it('an upgrade on another path gets 404', async () => {
    await expect(SignalingClient.connect(server.httpUrl('/nope').replace('http:', 'ws:'))).rejects.toThrow(/404/)
    expect((await fetch(server.httpUrl('/healthz'))).status).toBe(200)
  })
})

describe('signaling: heartbeat and rate limit', () => {
  let fast: TestServer
  beforeAll(async () => {
    fast = await startSluice({ signaling: { heartbeatMs: 200, rateLimit: { perSecond: 10, burst: 20, closeAfter: 100 } } })
  })
  afterAll(() => fast?.close())

  it('a peer that stops answering WebSocket pings is dropped and the room told', async () => {
    const alive = await connect(fast)
    const silent = await connect(fast, { autoPong: false })
    await alive.join('hb')
    const { peerId } = await silent.join('hb')
    await alive.next('peer-joined')
    const t0 = Date.now()
    expect(await alive.next('peer-left', 3000)).toEqual({ type: 'peer-left', peerId })
    expect(Date.now() - t0).toBeLessThan(1500)
    expect((await silent.closed).code).toBe(1006) // terminated
    // the answering peer stays
    await new Promise((r) => setTimeout(r, 700))
    expect(alive.ws.readyState).toBe(alive.ws.OPEN)
    expect(fast.logs.some((l) => l.msg === 'heartbeat timeout, dropped' && l.peer === peerId)).toBe(true)
  })

  it('over the rate: RATE_LIMITED for each message dropped; a flood is closed with 1008', async () => {
    const c = await connect(fast)
    for (let i = 0; i < 50; i++) c.send({ type: 'ping', id: i })
    await c.next((m) => m.id === 49 || (m.type === 'error' && c.received.length >= 50), 3000).catch(() => {})
    await new Promise((r) => setTimeout(r, 200))
    const pongs = c.received.filter((m) => m.type === 'pong').length
    const limited = c.received.filter((m) => m.type === 'error' && m.code === 'RATE_LIMITED').length
    expect(pongs + limited).toBe(50)
    expect(pongs).toBeGreaterThanOrEqual(20)
    expect(pongs).toBeLessThan(30)
    for (let i = 0; i < 200; i++) c.send({ type: 'ping' })
    expect(await c.closed).toEqual({ code: 1008, reason: 'rate limit' })
  })
})
