/**
 * The REST API is an admin API (issue 17, item 2). A real non-loopback client: the test makes a
 * network namespace joined to this one by a veth pair (10.77.N.1 here, 10.77.N.2 there; removed
 * afterwards) and sends its requests from inside it with curl. Checks:
 * - without `admin.token`, admin routes refuse a non-loopback client (403) before anything is
 *   created, while public routes answer it (without the publisher's address);
 * - with `admin.token`: missing → 401, wrong → 403, right → works; a forward destination outside
 *   `rtp.allowedDestinations` (TEST-NET 192.0.2.1, an unlisted address of the namespace) or a
 *   relay origin outside it → 403 before any socket or packet; a loopback destination → 201 and
 *   RTP arrives; a listed destination in the namespace → 201 and RTP arrives there; a
 *   `text/plain` body → 415 and nothing created;
 * - CORS: admin routes answer only `http.cors.adminOrigins` (preflight 204 / 403), public routes
 *   echo a listed origin;
 * - API-created ingests are trusted by the access decision (policy `token`, no token given).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import dgram from 'node:dgram'
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { createVethNamespace, type VethNamespace } from './helpers/netns'

let net: VethNamespace
const TOKEN = 'admin-token-for-the-test-0123456789'


interface CurlAnswer {
  status: number
  body: string
}

/** curl from inside the namespace (a non-loopback client of `hostIp`); never blocks the event loop (the server is in this process). */
async function curlFromNs(method: string, url: string, headers: Record<string, string> = {}, body?: string): Promise<CurlAnswer> {
  const args = ['netns', 'exec', net.ns, 'curl', '-sS', '--max-time', '10', '-X', method, '-o', '-', '-w', '\n%{http_code}']
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`)
  if (body !== undefined) args.push('--data-binary', body)
  args.push(url)
  const { stdout: out } = await promisify(execFile)('ip', args)
  const nl = out.lastIndexOf('\n')
  return { status: Number(out.slice(nl + 1)), body: out.slice(0, nl) }
}

/** A request from this process (loopback) with full control of the headers (Origin included). */
function local(server: TestServer, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.sluice.http.port, method, path, headers, agent: false }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** A live ffmpeg RTMP publisher (small, so that it costs little CPU). */
function publishLive(url: string): Proc {
  return run('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=15', '-t', '120',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-pix_fmt', 'yuv420p', '-f', 'flv', url,
  ])
}

/** Counts UDP datagrams arriving on a loopback port. */
async function udpCounter(): Promise<{ port: number; count: () => number; close: () => void }> {
  const socket = dgram.createSocket('udp4')
  let n = 0
  socket.on('message', () => n++)
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  return { port: socket.address().port, count: () => n, close: () => socket.close() }
}

const procs: Proc[] = []
const servers: TestServer[] = []

beforeAll(() => {
  net = createVethNamespace('sla', 77)
})

afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL')
  for (const s of servers) await s.close()
  net?.remove()
})

describe('admin API without admin.token: loopback only', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startSluice({ http: { host: net.hostIp } })
    servers.push(server)
    procs.push(publishLive(server.rtmpUrl('live/adm')))
    await waitFor(() => server.logs.find((l) => l.msg === 'publish started' && l.stream === 'live/adm'), 15_000, 'publisher')
  })

  it('refuses an unauthenticated POST /api/forwards from a non-loopback client (403) before creating anything', async () => {
    const base = `http://${net.hostIp}:${server.sluice.http.port}`
    const r = (await curlFromNs('POST', `${base}/api/forwards`, { 'Content-Type': 'application/json' }, JSON.stringify({ stream: 'live/adm', host: '127.0.0.1', videoPort: 5004 })))
    expect(r.status).toBe(403)
    expect(r.body).toMatch(/admin API answers only on this machine/)
    expect(server.sluice.rtpService.forwarders.size).toBe(0)
    // every admin route, read or write
    for (const [method, path] of [['GET', '/api/forwards'], ['GET', '/api/ingests'], ['GET', '/api/relays'], ['GET', '/api/clients'], ['GET', '/api/publishers'],
      ['GET', '/api/sfu'], ['POST', '/api/ingests/live/x'], ['POST', '/api/relays'], ['DELETE', '/api/forwards/x'], ['DELETE', '/api/clients/rtmp-1']]) {
      expect((await curlFromNs(method!, `${base}${path}`)).status, `${method} ${path}`).toBe(403)
    }
    // public routes answer, without the publisher's address
    const streams = (await curlFromNs('GET', `${base}/api/streams`))
    expect(streams.status).toBe(200)
    const live = (JSON.parse(streams.body) as { streams: { name: string; publisher: Record<string, unknown> }[] }).streams.find((s) => s.name === 'adm')!
    expect(live.publisher).toEqual({ protocol: 'rtmp' })
    for (const path of ['/healthz', '/api/rooms', '/api/stats']) expect((await curlFromNs('GET', `${base}${path}`)).status, path).toBe(200)
  })
})

describe('admin API with admin.token', () => {
  let server: TestServer
  let base: string
  const auth = { Authorization: `Bearer ${TOKEN}` }
  const json = { 'Content-Type': 'application/json' }
  beforeAll(async () => {
    server = await startSluice({
      http: { host: net.hostIp, cors: { origins: ['http://player.example'], adminOrigins: ['http://admin.example'] } },
      admin: { token: TOKEN },
      rtp: { allowedDestinations: [`${net.nsIp}/32`] },
    })
    servers.push(server)
    base = `http://${net.hostIp}:${server.sluice.http.port}`
    procs.push(publishLive(server.rtmpUrl('live/tok')))
    await waitFor(() => server.logs.find((l) => l.msg === 'publish started' && l.stream === 'live/tok'), 15_000, 'publisher')
  })

  it('answers 401 without the credential, 403 with a wrong one, and serves the right one', async () => {
    const missing = (await curlFromNs('GET', `${base}/api/forwards`))
    expect(missing.status).toBe(401)
    expect(missing.body).toMatch(/admin credential is required/)
    const wrong = (await curlFromNs('GET', `${base}/api/forwards`, { Authorization: 'Bearer not-the-admin-token-at-all' }))
    expect(wrong.status).toBe(403)
    expect(wrong.body).toMatch(/does not match/)
    const right = (await curlFromNs('GET', `${base}/api/forwards`, auth))
    expect(right.status).toBe(200)
    expect(JSON.parse(right.body)).toEqual([])
    const body = JSON.stringify({ stream: 'live/tok', host: '127.0.0.1', videoPort: 5004 })
    expect((await curlFromNs('POST', `${base}/api/forwards`, json, body)).status).toBe(401)
    expect((await curlFromNs('POST', `${base}/api/forwards`, { ...json, Authorization: 'Bearer x' }, body)).status).toBe(403)
    expect(server.sluice.rtpService.forwarders.size).toBe(0)
    // an admin sees the publisher's address in the stream list, others don't
    const streams = (b: string) => (JSON.parse(b) as { streams: { name: string; publisher: { address?: string } }[] }).streams.find((s) => s.name === 'tok')!.publisher
    expect(streams((await curlFromNs('GET', `${base}/api/streams`, auth)).body).address).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(streams((await curlFromNs('GET', `${base}/api/streams`)).body).address).toBeUndefined()
  })

  it('refuses destinations outside rtp.allowedDestinations (403, nothing bound or sent), forwards to loopback and to a listed address', async () => {
    const forward = async (host: string, videoPort: number) => (await curlFromNs('POST', `${base}/api/forwards`, { ...json, ...auth }, JSON.stringify({ stream: 'live/tok', host, videoPort })))
    for (const host of ['192.0.2.1', net.nsIp.replace(/\.2$/, '.3'), '0.0.0.0', '::ffff:192.0.2.1', '[2001:db8::1]']) {
      const r = await forward(host, 5004)
      expect(r.status, `${host}: ${r.body}`).toBe(403)
      expect(r.body).toMatch(/not allowed: only loopback and rtp.allowedDestinations/)
    }
    const relay = (await curlFromNs('POST', `${base}/api/relays`, { ...json, ...auth }, JSON.stringify({ origin: 'http://192.0.2.1:8000', stream: 'live/pulled', secret: 'relay-secret-0123456789' })))
    expect(relay.status).toBe(403)
    expect(relay.body).toMatch(/192\.0\.2\.1 is not allowed/)
    expect(server.sluice.rtpService.forwarders.size).toBe(0)
    expect(server.sluice.rtpService.relays.size).toBe(0)
    expect(server.logs.filter((l) => l.msg === 'relay link up')).toEqual([])

    // loopback: allowed, and RTP arrives
    const counter = await udpCounter()
    const ok = await forward('127.0.0.1', counter.port)
    expect(ok.status, ok.body).toBe(201)
    const id = (JSON.parse(ok.body) as { id: string }).id
    await waitFor(() => counter.count() > 10, 10_000, 'RTP on loopback')
    expect((await curlFromNs('DELETE', `${base}/api/forwards/${id}`, auth)).status).toBe(204)
    counter.close()

    // the listed address in the namespace: allowed, and RTP arrives there (a receiver inside the namespace)
    const receiver = run('ip', ['netns', 'exec', net.ns, 'node', '-e',
      `const s=require('dgram').createSocket('udp4');let n=0;s.on('message',()=>n++);s.bind(5004,'${net.nsIp}',()=>console.log('ready'));setTimeout(()=>{console.log('count',n);process.exit(0)},4000)`])
    procs.push(receiver)
    await waitFor(() => receiver.stdout().includes('ready'), 5000, 'receiver in the namespace')
    const listed = await forward(net.nsIp, 5004)
    expect(listed.status, listed.body).toBe(201)
    await receiver.exited
    const count = Number(/count (\d+)/.exec(receiver.stdout())?.[1])
    expect(count).toBeGreaterThan(10)
    expect((await curlFromNs('DELETE', `${base}/api/forwards/${(JSON.parse(listed.body) as { id: string }).id}`, auth)).status).toBe(204)
  })

  it('answers 415 to a text/plain (CORS-simple) body and creates nothing', async () => {
    const body = JSON.stringify({ stream: 'live/tok', host: '127.0.0.1', videoPort: 5004 })
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = (await curlFromNs('POST', `${base}/api/forwards`, { 'Content-Type': type, ...auth }, body))
      expect(r.status, type).toBe(415)
      expect(r.body).toMatch(/Content-Type: application\/json/)
    }
    expect((await curlFromNs('POST', `${base}/api/ingests/live/plain`, { 'Content-Type': 'text/plain', ...auth }, '{"video":{}}')).status).toBe(415)
    expect((await curlFromNs('POST', `${base}/api/relays`, { 'Content-Type': 'text/plain', ...auth }, '{"origin":"http://127.0.0.1:1","stream":"a/b"}')).status).toBe(415)
    expect(server.sluice.rtpService.forwarders.size).toBe(0)
    expect(server.sluice.rtpService.ingests.size).toBe(0)
    // a schema refusal names the key
    const bad = (await curlFromNs('POST', `${base}/api/forwards`, { ...json, ...auth }, JSON.stringify({ stream: 'live/tok', host: '127.0.0.1', videoPort: 70000, extra: 1 })))
    expect(bad.status).toBe(400)
    expect(bad.body).toMatch(/videoPort: /)
    expect(bad.body).toMatch(/extra: unknown key/)
  })
})

describe('CORS of admin and public routes', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startSluice({ http: { cors: { origins: ['http://player.example'], adminOrigins: ['http://admin.example'] } } })
    servers.push(server)
  })

  it('sends admin CORS headers only to adminOrigins and public ones only to origins', async () => {
    const preflight = (path: string, origin: string, method = 'POST') =>
      local(server, 'OPTIONS', path, { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'authorization, content-type' })
    const admin = await preflight('/api/forwards', 'http://admin.example')
    expect(admin.status).toBe(204)
    expect(admin.headers['access-control-allow-origin']).toBe('http://admin.example')
    expect(admin.headers['access-control-allow-headers']).toMatch(/Authorization/)
    expect(admin.headers['access-control-allow-methods']).toMatch(/POST/)
    for (const origin of ['http://player.example', 'http://evil.example']) {
      const r = await preflight('/api/forwards', origin)
      expect(r.status, origin).toBe(403)
      expect(r.headers['access-control-allow-origin']).toBeUndefined()
    }
    expect((await preflight('/api/clients/x', 'http://evil.example', 'DELETE')).status).toBe(403)
    const list = await local(server, 'GET', '/api/forwards', { Origin: 'http://evil.example' })
    expect(list.status).toBe(200) // loopback admin; a browser on another origin cannot read it
    expect(list.headers['access-control-allow-origin']).toBeUndefined()
    expect((await local(server, 'GET', '/api/forwards', { Origin: 'http://admin.example' })).headers['access-control-allow-origin']).toBe('http://admin.example')

    const pub = await local(server, 'GET', '/api/streams', { Origin: 'http://player.example' })
    expect(pub.headers['access-control-allow-origin']).toBe('http://player.example')
    expect(pub.headers.vary).toMatch(/Origin/)
    expect((await local(server, 'GET', '/api/streams', { Origin: 'http://evil.example' })).headers['access-control-allow-origin']).toBeUndefined()
    expect((await local(server, 'GET', '/live/none.flv', { Origin: 'http://player.example' })).headers['access-control-allow-origin']).toBe('http://player.example')
    // WHEP/WHIP stay usable cross-origin for listed origins
    const whep = await local(server, 'OPTIONS', '/whep/live/x', { Origin: 'http://player.example', 'Access-Control-Request-Method': 'POST' })
    expect(whep.status).toBe(204)
    expect(whep.headers['access-control-allow-origin']).toBe('http://player.example')
    expect(whep.headers['access-control-allow-methods']).toMatch(/PATCH/)
    expect((await local(server, 'OPTIONS', '/whip/live/x', { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' })).headers['access-control-allow-origin']).toBeUndefined()
  })
})

describe('API-created ingests are trusted', () => {
  it('creates an ingest under policy "token" without a token (the admin credential was checked)', async () => {
    const server = await startSluice({ access: { policy: 'token', token: { secret: 'a-secret-of-sixteen-chars' } } })
    servers.push(server)
    const r = await local(server, 'POST', '/api/ingests/live/trusted', { 'Content-Type': 'application/json' }, JSON.stringify({ video: {} }))
    expect(r.status, r.body).toBe(201)
    // the same publish over WHIP, untrusted, is refused by the policy
    const whip = await local(server, 'POST', '/whip/live/other', { 'Content-Type': 'application/sdp' }, 'v=0\r\n')
    expect([401, 403]).toContain(whip.status)
  })
})

describe('relay origins on loopback pass the allow-list', () => {
  it('pulls a stream from a loopback origin (the offer sent to the checked address) and ends it', async () => {
    const secret = 'relay-secret-for-the-test-0123'
    const origin = await startSluice({ rtp: { relaySecret: secret } })
    const edge = await startSluice({ rtp: { relaySecret: secret } })
    servers.push(origin, edge)
    procs.push(publishLive(origin.rtmpUrl('live/relayed')))
    // the origin answers an offer with the codecs it has: wait for the sequence header
    await waitFor(() => origin.sluice.hub.get('live', 'relayed')?.video, 15_000, 'video on the origin')
    const r = await local(edge, 'POST', '/api/relays', { 'Content-Type': 'application/json' }, JSON.stringify({ origin: `http://localhost:${origin.sluice.http.port}/`, stream: 'live/relayed' }))
    expect(r.status, r.body).toBe(201)
    const link = JSON.parse(r.body) as { id: string; origin: string }
    expect(link.origin).toBe(`http://localhost:${origin.sluice.http.port}`)
    expect(origin.sluice.rtpService.forwarders.size).toBe(1)
    await waitFor(() => edge.sluice.hub.get('live', 'relayed')?.video, 10_000, 'relayed video on the edge')
    expect((await local(edge, 'DELETE', `/api/relays/${link.id}`)).status).toBe(204)
    await waitFor(() => origin.sluice.rtpService.forwarders.size === 0, 5000, 'the origin ended its forwarder')
  })
})
