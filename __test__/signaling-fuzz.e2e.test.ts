/**
 * Signaling fuzz: 10 000 random, malformed and oversized messages (random bytes as text and
 * binary frames, invalid UTF-8, random JSON values, valid-looking messages with wrong types,
 * deep nesting, over-limit sizes) from one client, while two clients in another room keep
 * exchanging relayed offers/answers. Every bad message gets exactly one error answer; frames
 * over the hard limit close their (throwaway) connections with 1009; the other room loses
 * nothing and the server stays healthy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SignalingClient, type Msg } from './helpers/signaling-client'
import { startSluice, type TestServer } from './helpers/sluice'

const MAX_MESSAGE = 64 * 1024
const MAX_FRAME = 1024 * 1024
let server: TestServer
const clients: SignalingClient[] = []

async function connect(): Promise<SignalingClient> {
  const c = await SignalingClient.connect(server.httpUrl('/signaling').replace('http:', 'ws:'))
  clients.push(c)
  return c
}

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SEED = Number(process.env.FUZZ_SEED ?? 20240611)
const rnd = prng(SEED)
const int = (n: number) => Math.floor(rnd() * n)
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!
const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)))
const randomString = (n: number) => String.fromCharCode(...Array.from({ length: n }, () => int(0xd7ff) + 1))

function randomJson(depth = 0): unknown {
  switch (int(depth > 3 ? 5 : 7)) {
    case 0: return null
    case 1: return rnd() * 1e6 - 5e5
    case 2: return randomString(int(20))
    case 3: return rnd() < 0.5
    case 4: return pick([Infinity, -0, 1e308, '', [], {}, 'join', 'sfu'])
    case 5: return Array.from({ length: int(5) }, () => randomJson(depth + 1))
    default: return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(['type', 'room', 'to', 'sdp', 'id', randomString(5)]), randomJson(depth + 1)]))
  }
}

/** A valid-looking message with one field broken (never a valid message). */
function wrongTypes(): unknown {
  const bad = () => pick<unknown>([123, null, true, [], {}, { a: 1 }, -1, 1.5, 'x'.repeat(70_000 / 10)])
  return pick<() => unknown>([
    () => ({ type: 'join', room: pick<unknown>([bad(), '', 'has space', 'x'.repeat(65), 'ü', '../etc']) }),
    () => ({ type: 'join', room: 'ok', mode: pick<unknown>(['mesh', 1, null, 'P2P']) }),
    () => ({ type: 'join', room: 'ok', capacity: pick<unknown>([0, -1, 1.5, '2', 1001, null]) }),
    () => ({ type: 'join', room: 'ok', token: pick<unknown>([1, {}, [], 'x'.repeat(5000)]) }),
    () => ({ type: 'join', room: 'ok', id: pick<unknown>([{}, [], 1.5, 'x'.repeat(65)]) }),
    () => ({ type: pick(['offer', 'answer']), to: pick<unknown>([1, null, '', {}, 'x'.repeat(65)]), sdp: 'v=0' }),
    () => ({ type: pick(['offer', 'answer']), to: 'peer', sdp: pick<unknown>(['', 5, null, ['v=0']]) }),
    () => ({ type: 'candidate', to: 'peer', candidate: pick<unknown>(['candidate:1', 5, [], { candidate: 5 }, { sdpMid: '0' }]) }),
    () => ({ type: 'candidate', to: 'peer' }),
    () => ({ type: 'chat', text: pick<unknown>(['', 5, null, 'x'.repeat(4001)]) }),
    () => ({ type: 'ping', ts: pick<unknown>(['now', {}, []]) }),
    () => ({ type: pick<unknown>(['JOIN', 'hello', '', 42, null, ['join'], 'peer-joined', 'error', 'pong']) }),
    () => ({ room: 'no-type' }),
  ])()
}

function deepNesting(): string {
  const d = 1000 + int(30_000)
  return rnd() < 0.5 ? '['.repeat(d) + ']'.repeat(d) : '{"type":"join","room":' + '{"a":'.repeat(d / 5) + '1' + '}'.repeat(d / 5) + '}'
}

type Case = { kind: string; data: string | Buffer; binary?: boolean; expect: readonly string[] }

function generate(): Case {
  const r = rnd()
  if (r < 0.12) return { kind: 'binary', data: randomBytes(int(2000)), binary: true, expect: ['BAD_FRAME'] }
  if (r < 0.24) return { kind: 'random bytes as text', data: randomBytes(1 + int(2000)), expect: ['BAD_JSON', 'BAD_MESSAGE'] }
  if (r < 0.30) {
    const b = Buffer.from('{"type":"ping","id":"')
    return { kind: 'invalid UTF-8', data: Buffer.concat([b, Buffer.from([pick([0xc3, 0xff, 0xed, 0x80]), 0x28]), Buffer.from('"}')]), expect: ['BAD_JSON'] }
  }
  if (r < 0.40) {
    const s = JSON.stringify({ type: 'join', room: 'x', id: 1 })
    return { kind: 'truncated JSON', data: s.slice(0, 1 + int(s.length - 2)), expect: ['BAD_JSON'] }
  }
  if (r < 0.58) return { kind: 'random JSON', data: JSON.stringify(randomJson()) ?? 'null', expect: ['BAD_MESSAGE'] }
  if (r < 0.86) return { kind: 'wrong types', data: JSON.stringify(wrongTypes()), expect: ['BAD_MESSAGE', 'TOO_LARGE'] }
  if (r < 0.91) return { kind: 'deep nesting', data: deepNesting(), expect: ['BAD_MESSAGE', 'TOO_LARGE'] }
  if (r < 0.97) {
    // valid schema, but needs a room: the fuzz client never joins one
    return { kind: 'needs a room', data: JSON.stringify(pick([{ type: 'leave' }, { type: 'chat', text: 'hi' }, { type: 'offer', to: 'sfu', sdp: 'v=0' }, { type: 'candidate', to: 'a', candidate: null }])), expect: ['NOT_IN_ROOM'] }
  }
  // mostly just over the soft limit, some up to the hard one
  const size = MAX_MESSAGE + 65 + (rnd() < 0.9 ? int(16 * 1024) : int(MAX_FRAME - MAX_MESSAGE - 65))
  return rnd() < 0.5
    ? { kind: 'over maxMessageBytes (text)', data: JSON.stringify({ type: 'chat', text: String.fromCharCode(97 + int(26)).repeat(size - 64) }), expect: ['TOO_LARGE'] }
    : { kind: 'over maxMessageBytes (binary)', data: Buffer.alloc(size, int(256)), binary: true, expect: ['BAD_FRAME', 'TOO_LARGE'] }
}

beforeAll(async () => {
  // a rate limit the fuzzer stays under, so each message reaches the validators
  server = await startSluice({ signaling: { rateLimit: { perSecond: 1e6, burst: 1e6, closeAfter: 1e9 } } })
})

afterAll(async () => {
  for (const c of clients) c.ws.terminate()
  await server?.close()
})

describe('signaling fuzz', () => {
  it(`10 000 bad messages each get one error; another room goes on untouched (seed ${SEED})`, async () => {
    const [a, b] = [await connect(), await connect()]
    const ia = (await a.join('calm')).peerId
    const ib = (await b.join('calm')).peerId
    const cases: Case[] = Array.from({ length: 10_000 }, generate)
    // the calm room: a and b each send the other a numbered message every 5 ms all through the fuzz
    const calm = { a: 0, b: 0 }
    const timer = setInterval(() => {
      a.send({ type: 'offer', to: ib, sdp: `a ${calm.a++}` })
      b.send({ type: 'answer', to: ia, sdp: `b ${calm.b++}` })
    }, 5)
    const f = await connect()
    const t0 = Date.now()
    for (let i = 0; i < cases.length; i += 500) {
      for (const c of cases.slice(i, i + 500)) f.ws.send(c.data, { binary: c.binary === true })
      // wait for this batch's answers before the next (keeps the socket buffers small)
      await f.until(() => f.received.length >= Math.min(i + 500, cases.length), 15_000)
    }
    const fuzzMs = Date.now() - t0
    clearInterval(timer)

    // the calm room got every message, in order, and nothing else
    await b.until(() => b.received.filter((m) => m.type === 'offer').length === calm.a)
    await a.until(() => a.received.filter((m) => m.type === 'answer').length === calm.b)
    const check = (got: Msg[], type: string, from: string, who: string) => {
      const msgs = got.filter((m) => m.type !== 'joined' && m.type !== 'peer-joined')
      msgs.forEach((m, n) => expect(m).toEqual({ type, from, sdp: `${who} ${n}` }))
      return msgs.length
    }
    const calmMessages = check(b.received, 'offer', ia, 'a') + check(a.received, 'answer', ib, 'b')
    expect(calmMessages).toBeGreaterThan(20)

    expect(f.received).toHaveLength(cases.length)
    const wrong: { kind: string; got: Msg; data: string }[] = []
    cases.forEach((c, i) => {
      const got = f.received[i]!
      if (got.type !== 'error' || !c.expect.includes(got.code)) wrong.push({ kind: c.kind, got, data: String(c.data).slice(0, 120) })
    })
    expect(wrong.slice(0, 5)).toEqual([])
    const kinds: Record<string, number> = {}
    for (const c of cases) kinds[c.kind] = (kinds[c.kind] ?? 0) + 1
    console.log(`fuzz: ${cases.length} messages answered in ${fuzzMs} ms; the calm room relayed ${calmMessages} meanwhile`, kinds)

    // the fuzzing connection still works
    f.send({ type: 'ping', id: 'after' })
    expect(await f.next((m) => m.type === 'pong')).toEqual({ type: 'pong', id: 'after' })
    f.send({ type: 'join', room: 'calm' })
    expect((await f.next('joined')).peers).toHaveLength(2)
    expect(f.received).toHaveLength(cases.length + 2)
    expect((await fetch(server.httpUrl('/healthz'))).status).toBe(200)
    const rooms = (await (await fetch(server.httpUrl('/api/rooms'))).json()) as { rooms: { name: string; peers: number }[] }
    expect(rooms.rooms).toEqual([expect.objectContaining({ name: 'calm', peers: 3 })])
  }, 60_000)

  it('frames over maxFrameBytes close only their own connection, with 1009', async () => {
    const a = await connect()
    const b = await connect()
    const ib = (await b.join('calm2')).peerId
    await a.join('calm2')
    for (let i = 0; i < 3; i++) {
      const big = await connect()
      big.ws.send(i === 2 ? randomBytes(MAX_FRAME + 1) : JSON.stringify({ type: 'chat', text: 'x'.repeat(MAX_FRAME + i * 1000) }), { binary: i === 2 })
      expect((await big.closed).code).toBe(1009)
    }
    a.send({ type: 'offer', to: ib, sdp: 'still here' })
    expect(await b.next('offer')).toMatchObject({ sdp: 'still here' })
    expect((await fetch(server.httpUrl('/healthz'))).status).toBe(200)
  })
})
