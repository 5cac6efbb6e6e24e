/**
 * HTTP hardening (issue 17, item 0 and the REST fuzz of item 2): malformed request targets,
 * malformed percent-encoding in every route parameter and oversized bodies are answered 400/413
 * (a real response, not a reset) and never reach an uncaught exception; every registered route,
 * fuzzed with random paths, bodies and content types, answers only 2xx/4xx, and the server goes
 * on serving `/healthz`. Requests are written on raw loopback sockets, byte for byte.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSluice, type TestServer } from './helpers/sluice'

let server: TestServer

interface RawAnswer {
  status: number | null
  head: string
  body: string
  reset: boolean
}

/** Writes `head` (and `body`) on a fresh loopback connection; reads until the server closes it. */
function raw(head: string, body?: Buffer | string, timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(server.sluice.http.port, '127.0.0.1')
    const chunks: Buffer[] = []
    let reset = false
    const done = () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('latin1')
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text)
      const split = text.indexOf('\r\n\r\n')
      resolve({ status: m ? Number(m[1]) : null, head: split >= 0 ? text.slice(0, split) : text, body: split >= 0 ? text.slice(split + 4) : '', reset })
    }
    const timer = setTimeout(() => socket.destroy(), timeoutMs)
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', () => (reset = true))
    socket.on('close', done)
    socket.write(head)
    if (body !== undefined) socket.write(body, () => {})
  })
}

function request(method: string, target: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<RawAnswer> {
  const length = body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }
  const lines = Object.entries({ Host: 'localhost', Connection: 'close', ...length, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`)
  return raw(`${method} ${target} HTTP/1.1\r\n${lines.join('')}\r\n`, body)
}

async function expectHealthy(): Promise<void> {
  const r = await request('GET', '/healthz')
  expect(r.status).toBe(200)
  expect(r.body).toBe('{"status":"ok"}')
}

/** A path `pattern` (one of `http.routes`) matches, its groups filled by `fill(i)`. */
function pathOf(pattern: RegExp, fill: (group: number) => string): string {
  let group = 0
  const path = pattern.source
    .replace(/^\^/, '')
    .replace(/\$$/, '')
    .replace(/\\\/\?/g, '')
    .replace(/\(\[\^\/\]\+\)/g, () => `\u0000${group++}\u0000`)
    .replace(/\\(.)/g, '$1')
  return path.replace(/\u0000(\d+)\u0000/g, (_m, i: string) => fill(Number(i)))
}

const handlerFailures = () => server.logs.filter((l) => l.msg === 'request handler failed' || l.msg === 'upgrade handler failed')

beforeAll(async () => {
  server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1 } })
})

afterAll(async () => {
  await server?.close()
})

describe('malformed requests (issue 17 item 0)', () => {
  it('answers 400 to an absolute-form target new URL() rejects, in the request and the upgrade handler', async () => {
    for (const target of ['http://[/', 'http://x:99999/api/forwards', 'http://[::1/healthz']) {
      for (const method of ['GET', 'POST', 'DELETE', 'OPTIONS']) {
        const r = await request(method, target, method === 'POST' ? { 'Content-Type': 'application/json' } : {}, method === 'POST' ? '{}' : undefined)
        expect(r.status, `${method} ${target}`).toBe(400)
        expect(r.body).toMatch(/malformed request target/)
      }
      const upgrade = await request('GET', target, { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') })
      expect(upgrade.status, `upgrade ${target}`).toBe(400)
    }
    // a valid absolute-form target is served (RFC 9112 §3.2.2)
    expect((await request('GET', 'http://example.invalid/healthz')).status).toBe(200)
    await expectHealthy()
  })

  it('answers 400 to malformed percent-encoding in the parameter of every parameterised route', async () => {
    const routes = server.sluice.http.routes.filter((r) => /\(\[\^\/\]\+\)/.test(r.pattern.source))
    expect(routes.length).toBeGreaterThanOrEqual(12)
    for (const bad of ['%ZZ', '%E0%A4%A', '%', 'a%2']) {
      for (const r of routes) {
        const target = pathOf(r.pattern, () => bad)
        expect(r.pattern.test(target), target).toBe(true)
        const answer = await request(r.method, target, { 'Content-Type': 'application/json' }, r.method === 'POST' || r.method === 'PATCH' ? '{}' : undefined)
        expect(answer.status, `${r.method} ${target}`).toBe(400)
        expect(answer.body).toMatch(/malformed percent-encoding/)
      }
    }
    // the two examples, literally
    expect((await request('GET', '/live/%ZZ.flv')).status).toBe(400)
    expect((await request('DELETE', '/whep/resource/%ZZ')).status).toBe(400)
    await expectHealthy()
    expect(handlerFailures()).toEqual([])
  })

  it('answers a real 413 to a body over the limit (Content-Length or chunked), then closes; 64 KiB passes the limit', async () => {
    const limit = server.sluice.config.http.bodyLimitBytes
    expect(limit).toBe(64 * 1024)
    const big = Buffer.alloc(1024 * 1024, 0x7b)
    const json = { 'Content-Type': 'application/json' }
    for (const [method, path, type] of [['POST', '/api/forwards', 'application/json'], ['POST', '/api/ingests/live/big', 'application/json'], ['POST', '/api/ingests/live/big', 'application/sdp'],
      ['POST', '/api/relays', 'application/json'], ['POST', '/whep/live/big', 'application/sdp'], ['POST', '/whip/live/big', 'application/sdp']] as const) {
      const r = await request(method, path, { 'Content-Type': type }, big)
      expect(r.status, `${method} ${path} ${type}: ${r.head}`).toBe(413)
      expect(r.head).toMatch(/connection: close/i)
      expect(r.body).toMatch(/over the limit of 65536 bytes/)
    }
    // chunked: no Content-Length, the limit is found while reading
    const chunked = Buffer.concat([Buffer.from(`${big.length.toString(16)}\r\n`), big, Buffer.from('\r\n0\r\n\r\n')])
    const r = await raw('POST /api/forwards HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n', chunked)
    expect(r.status).toBe(413)
    expect(r.body).toMatch(/over the limit/)
    // exactly the limit is read (and refused for what it is: not JSON)
    const atLimit = await request('POST', '/api/forwards', json, Buffer.alloc(limit, 0x20).fill('x', 0, 1))
    expect(atLimit.status).toBe(400)
    expect(atLimit.body).toMatch(/not JSON/)
    await expectHealthy()
    expect(handlerFailures()).toEqual([])
  })
})

describe('REST fuzz (issue 17 item 2)', () => {
  const types = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/sdp', 'application/trickle-ice-sdpfrag',
    'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'APPLICATION/JSON', 'application/jsonx', '*/*']
  const pick = <T>(a: readonly T[]): T => a[Math.floor(Math.random() * a.length)]!
  // destinations the fuzz may name: loopback, TEST-NET (refused before any packet) or junk — never a name to resolve
  const values = () => pick<unknown>([
    'live/fuzz', 'a/b', 'nope', '', 'x'.repeat(3000), '127.0.0.1', '192.0.2.1', '::1', 'http://192.0.2.1:8000', 'ftp://192.0.2.1', 'http://[', 0, -1, 1.5, 65536, 5004,
    true, false, null, [], [1, 'a'], {}, { suite: 'AES_CM_128_HMAC_SHA1_80' }, { inline: 'zz' }, { payloadType: 300 }, { config: '1190' }, { config: 'zz' }, randomBytes(12).toString('hex'),
  ])
  const keys = ['stream', 'host', 'videoPort', 'audioPort', 'srtp', 'video', 'audio', 'origin', 'secret', 'simulateLoss', 'port', 'media', 'feedback', 'sps', 'pps', '__proto__', 'constructor']
  const randomJson = () => {
    const o: Record<string, unknown> = {}
    for (let i = Math.floor(Math.random() * 6); i > 0; i--) o[pick(keys)] = values()
    return JSON.stringify(o)
  }
  // valid bodies of the JSON routes, one field then mutated, so that fuzzing reaches past the schemas
  const templates = (): Record<string, unknown>[] => [
    { stream: 'live/fuzz', host: '127.0.0.1', videoPort: 5004, audioPort: 5006, srtp: true },
    { video: { payloadType: 96 }, audio: { config: '1190', payloadType: 97 }, srtp: { suite: 'AES_CM_128_HMAC_SHA1_80' } },
    { origin: 'http://192.0.2.1:8000', stream: 'live/fuzz', simulateLoss: 0.1 },
  ]
  const mutated = () => {
    const o = pick(templates())
    const key = pick(Object.keys(o))
    const what = Math.random()
    if (what < 0.6) o[key] = values()
    else if (what < 0.8) delete o[key]
    else o[pick(keys)] = values()
    return JSON.stringify(o)
  }
  const bodies: (() => Buffer | string | undefined)[] = [
    mutated,
    mutated,
    mutated,
    mutated,
    mutated,
    mutated,
    mutated,
    mutated,
    () => undefined,
    () => '',
    randomJson,
    randomJson,
    () => JSON.stringify(values()),
    () => randomBytes(Math.floor(Math.random() * 2000)),
    () => Buffer.alloc(100 * 1024 + Math.floor(Math.random() * 50_000), 0x61),
    () => '{"stream":"live/fuzz","host":"127.0.0.1","videoPort":5004',
    () => 'v=0\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 sprop-parameter-sets=%%%,zz\r\nm=audio 9 RTP/AVP 300\r\na=rtpmap:300 MPEG4-GENERIC/0\r\na=fmtp:300 config=zz\r\na=crypto:1 NOPE inline:zz\r\n',
    () => `a=candidate:${randomBytes(40).toString('base64')}\r\n`,
  ]
  const segment = () => pick([
    () => encodeURIComponent(randomBytes(8).toString('base64')),
    () => 'x'.repeat(2000),
    () => '..',
    () => '%00',
    () => encodeURIComponent('ü ✓ 𝄞'),
    () => `%${randomBytes(1).toString('hex')}%${randomBytes(1).toString('hex')}`,
    () => 'fuzz',
  ])()

  it('answers only 2xx/4xx to every registered route with random paths, bodies and content types; the server goes on', async () => {
    const routes = server.sluice.http.routes
    const statuses = new Map<number, number>()
    let sent = 0
    for (const route of routes) {
      for (let i = 0; i < 64; i++) {
        const method = i % 8 === 7 ? pick(['PUT', 'PATCH', 'OPTIONS', 'HEAD', 'DELETE', 'POST', 'BREW']) : route.method
        const path = pathOf(route.pattern, segment) + (i % 5 === 4 ? `?token=${segment()}&reset` : '')
        const headers: Record<string, string> = {}
        const type = i % 2 === 0 ? 'application/json' : pick(types)
        if (type) headers['Content-Type'] = type
        if (i % 6 === 5) Object.assign(headers, { Origin: 'http://fuzz.example', 'Access-Control-Request-Method': pick(['POST', 'DELETE', 'GET']) })
        if (i % 7 === 6) headers.Authorization = `Bearer ${randomBytes(12).toString('hex')}`
        const r = await request(method, path, headers, method === 'HEAD' ? undefined : pick(bodies)())
        sent++
        expect(r.status, `${method} ${path.slice(0, 200)} (${type}): ${r.head.split('\r\n')[0]} ${r.body.slice(0, 200)}`).not.toBeNull()
        const status = r.status!
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        expect(status >= 200 && status < 500 && (status < 300 || status >= 400), `${method} ${path.slice(0, 200)} (${type}) → ${status} ${r.body.slice(0, 300)}`).toBe(true)
      }
    }
    console.log(`REST fuzz: ${sent} requests over ${routes.length} routes; statuses`, Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))
    await expectHealthy()
    expect(handlerFailures()).toEqual([])
  }, 120_000)
})
