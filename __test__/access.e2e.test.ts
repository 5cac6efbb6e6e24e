/**
 * The one access decision, end to end with real peers: ffmpeg publishing and playing over RTMP,
 * HTTP-FLV players, Chromium over WHEP; signed tokens, JWT, webhooks (a real HTTP server in the
 * test), in-process listeners and lifecycle events. Every refusal is the protocol's own
 * (RTMP `NetStream.*.Unauthorized` then close, HTTP 401/403 with a body) and the other sessions go on.
 */
import http from 'node:http'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { SignJWT, exportSPKI, generateKeyPair } from 'jose'
import { WebSocket } from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, type Proc } from './helpers/ffmpeg'
import { launchChromium } from './helpers/browser'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { signToken, type ClientEnded } from '../dist/index.js'

const dir = mkdtempSync(join(tmpdir(), 'sluice-access-'))
const SECRET = 'a-test-secret-of-32-characters!!'
const procs: Proc[] = []
const servers: TestServer[] = []
let browser: Browser

function publishLive(url: string, seconds = 30): Proc {
  const p = run('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url,
  ])
  procs.push(p)
  return p
}

/** Plays `url` (RTMP or HTTP-FLV) for `seconds`; resolves with the exit code and how many video frames arrived. */
async function playFor(url: string, seconds: number): Promise<{ code: number | null; frames: number; stderr: string }> {
  const p = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', url, '-t', String(seconds), '-map', '0:v', '-f', 'framemd5', '-'])
  procs.push(p)
  const code = await p.exited
  return { code, frames: p.stdout().split('\n').filter((l) => l && !l.startsWith('#')).length, stderr: p.stderr() }
}

/** A WHEP session from Chromium with an optional bearer token: the HTTP status, and frames decoded in 3 s when accepted. */
async function whep(page: Page, server: TestServer, path: string, token: string | null): Promise<{ status: number; body: string; frames: number }> {
  await page.goto(server.httpUrl('/healthz'))
  return page.evaluate(async ({ path, token }) => {
    const pc = new RTCPeerConnection()
    pc.addTransceiver('video', { direction: 'recvonly' })
    pc.addTransceiver('audio', { direction: 'recvonly' })
    await pc.setLocalDescription(await pc.createOffer())
    await new Promise<void>((r) => {
      if (pc.iceGatheringState === 'complete') return r()
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r())
      setTimeout(r, 2000)
    })
    const headers: Record<string, string> = { 'Content-Type': 'application/sdp' }
    if (token) headers.Authorization = `Bearer ${token}`
    const res = await fetch(`/whep/${path}`, { method: 'POST', headers, body: pc.localDescription!.sdp })
    const body = await res.text()
    if (res.status !== 201) {
      pc.close()
      return { status: res.status, body, frames: 0 }
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: body })
    await new Promise((r) => setTimeout(r, 3000))
    let frames = 0
    ;(await pc.getStats()).forEach((s: any) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded ?? 0
    })
    pc.close()
    return { status: 201, body: '', frames }
  }, { path, token })
}

async function start(options: Parameters<typeof startSluice>[0]): Promise<TestServer> {
  const s = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1 }, ...options })
  servers.push(s)
  return s
}

const live = (s: TestServer, key: string) => waitFor(() => s.logs.find((l) => l.msg === 'publish started' && l.stream === key), 15_000, `${key} live`)

beforeAll(async () => {
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL')
  await browser?.close()
  for (const s of servers) await s.close()
})

describe('access policy "token" (signed expiring tokens)', () => {
  it('a valid token publishes and plays over RTMP, HTTP-FLV and WHEP; expired, tampered, wrong-action and missing tokens are refused on each, and the others go on', async () => {
    const server = await start({ access: { policy: 'token', token: { secret: SECRET } } })
    const now = Math.floor(Date.now() / 1000)
    const pub = signToken(SECRET, 'publish', 'live/tok', now + 600)
    const play = signToken(SECRET, 'play', 'live/tok', now + 600)
    const expired = signToken(SECRET, 'play', 'live/tok', now - 5)
    const tampered = play.slice(0, -2) + (play.endsWith('AA') ? 'BB' : 'AA')

    // publish: missing and wrong tokens are refused with NetStream.Publish.Unauthorized, then the connection closes
    const refusedPublish = publishLive(server.rtmpUrl('live/tok'), 5)
    expect(await refusedPublish.exited).not.toBe(0)
    const refusedWithPlayToken = publishLive(server.rtmpUrl(`live/tok?token=${play}`), 5)
    expect(await refusedWithPlayToken.exited).not.toBe(0)
    expect(server.logs.filter((l) => l.msg === 'publish refused').map((l) => l.reason)).toEqual(['a signed token required', 'token signature does not match publish live/tok'])
    expect(server.logs.some((l) => l.msg === 'connection closed' && String(l.reason).includes('refused'))).toBe(true)

    publishLive(server.rtmpUrl(`live/tok?token=${pub}`))
    await live(server, 'live/tok')

    // RTMP play
    const ok = await playFor(server.rtmpUrl(`live/tok?token=${play}`), 2)
    expect(ok.code).toBe(0)
    expect(ok.frames).toBeGreaterThan(20)
    for (const bad of [null, expired, tampered, pub]) {
      const r = await playFor(server.rtmpUrl(bad ? `live/tok?token=${bad}` : 'live/tok'), 2)
      expect(r.code, `RTMP play with ${bad}`).not.toBe(0)
      expect(r.frames).toBe(0)
    }
    const playRefusals = server.logs.filter((l) => l.msg === 'play refused' && (l.request as any)?.protocol === 'rtmp').map((l) => l.reason)
    expect(playRefusals).toEqual(['a signed token required', 'token expired', 'token signature does not match play live/tok', 'token signature does not match play live/tok'])

    // HTTP-FLV: ?token= (players cannot set headers) or a bearer token
    const flv = await playFor(server.httpUrl(`/live/tok.flv?token=${play}`), 2)
    expect(flv.code).toBe(0)
    expect(flv.frames).toBeGreaterThan(20)
    const noToken = await fetch(server.httpUrl('/live/tok.flv'))
    expect(noToken.status).toBe(401)
    expect(await noToken.text()).toMatch(/play refused: a signed token required/)
    for (const bad of [expired, tampered]) {
      const r = await fetch(server.httpUrl(`/live/tok.flv?token=${bad}`))
      expect(r.status).toBe(403)
      await r.body?.cancel()
    }
    const bearer = await fetch(server.httpUrl('/live/tok.flv'), { headers: { Authorization: `Bearer ${play}` } })
    expect(bearer.status).toBe(200)
    await bearer.body?.cancel()

    // WHEP from Chromium
    const page = await browser.newPage()
    const good = await whep(page, server, 'live/tok', play)
    expect(good.status).toBe(201)
    expect(good.frames).toBeGreaterThan(10)
    expect((await whep(page, server, 'live/tok', null)).status).toBe(401)
    expect((await whep(page, server, 'live/tok', expired)).status).toBe(403)
    const t = await whep(page, server, 'live/tok', tampered)
    expect(t.status).toBe(403)
    expect(t.body).toMatch(/play refused: token signature does not match/)
    // the player page passes its own ?token= to WHEP
    await page.goto(server.httpUrl(`/?play=live/tok&token=${play}`))
    await page.waitForFunction(() => (window as any).sluicePlayer?.firstFrameAt, null, { timeout: 10_000 })
    await page.close()

    // WHIP and signaling joins ask the same decision (refusals checked before any SDP is read)
    const whip = (token?: string) => fetch(server.httpUrl('/whip/live/other'), { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: 'v=0\r\n' })
    expect((await whip()).status).toBe(401)
    const wrong = await whip(play)
    expect(wrong.status).toBe(403)
    expect(await wrong.text()).toMatch(/publish refused: token signature does not match publish live\/other/)
    expect((await whip(signToken(SECRET, 'publish', 'live/other', now + 60))).status).toBe(400) // accepted, then the fake SDP is refused
    const ws = new WebSocket(server.httpUrl('/signaling').replace('http:', 'ws:'))
    const answers: any[] = []
    ws.on("message", (d) => answers.push(JSON.parse(String(d))))
    await new Promise((r) => ws.once("open", r))
    ws.send(JSON.stringify({ type: 'join', room: 'lobby', token: play }))
    await waitFor(() => answers.length >= 1, 5000, 'signaling refusal')
    ws.send(JSON.stringify({ type: 'join', room: 'lobby', token: signToken(SECRET, 'publish', 'room/lobby', now + 60) }))
    await waitFor(() => answers.length >= 2, 5000, 'signaling join')
    expect(answers[0]).toMatchObject({ type: 'error', code: 'UNAUTHORIZED' })
    expect(answers[1]).toMatchObject({ type: 'joined', room: 'lobby' })
    ws.close()
    // the tcUrl's ?token= counts as well as the stream name's
    const viaTcUrl = run('ffmpeg', ['-hide_banner', '-v', 'error', '-rtmp_tcurl', server.rtmpUrl(`live?token=${play}`), '-i', server.rtmpUrl('live/tok'), '-t', '1', '-f', 'null', '-'])
    procs.push(viaTcUrl)
    expect(await viaTcUrl.exited).toBe(0)

    // the valid publisher went on through all of it
    expect(server.sluice.hub.get('live', 'tok')?.isLive).toBe(true)
    const after = await playFor(server.rtmpUrl(`live/tok?token=${play}`), 1)
    expect(after.frames).toBeGreaterThan(10)
  }, 120_000)
})

describe('access policy "jwt"', () => {
  it('ES256 and HS256 tokens grant the actions and stream patterns of their claims; expiry, wrong key and other streams are refused', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256')
    const server = await start({ access: { policy: 'jwt', jwt: { publicKey: await exportSPKI(publicKey), issuer: 'test-issuer' } } })
    const jwt = (claims: Record<string, unknown>, exp = '10m', key: unknown = privateKey) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).setIssuer('test-issuer').setIssuedAt().setExpirationTime(exp).sign(key as any)
    const publisher = await jwt({ publish: ['live/*'] })
    const viewer = await jwt({ play: ['live/jwt'] })
    const otherStream = await jwt({ play: ['live/other'] })
    const expired = await jwt({ play: ['**'] }, Math.floor(Date.now() / 1000) - 60)
    const wrongKey = await jwt({ play: ['**'] }, '10m', (await generateKeyPair('ES256')).privateKey)

    publishLive(server.rtmpUrl(`live/jwt?token=${publisher}`))
    await live(server, 'live/jwt')
    expect((await playFor(server.rtmpUrl(`live/jwt?token=${viewer}`), 1)).frames).toBeGreaterThan(10)
    // a publisher's token does not grant play; a play token does not grant publish
    expect((await playFor(server.rtmpUrl(`live/jwt?token=${publisher}`), 1)).code).not.toBe(0)
    const p = publishLive(server.rtmpUrl(`live/x?token=${viewer}`), 3)
    expect(await p.exited).not.toBe(0)
    for (const [token, status] of [[otherStream, 403], [expired, 403], [wrongKey, 403], [null, 401]] as const) {
      const r = await fetch(server.httpUrl('/live/jwt.flv'), { headers: token ? { Authorization: `Bearer ${token}` } : {} })
      expect(r.status).toBe(status)
      await r.body?.cancel()
    }
    const reasons = server.logs.filter((l) => l.msg === 'play refused').map((l) => String(l.reason))
    expect(reasons.some((r) => r.includes('does not grant play on live/jwt'))).toBe(true)
    expect(reasons.some((r) => r.includes('"exp" claim timestamp check failed'))).toBe(true)
    expect(reasons.some((r) => r.includes('signature verification failed'))).toBe(true)

    // HS256 with a shared secret
    const hs = await start({ access: { policy: 'jwt', jwt: { secret: SECRET } } })
    const hsToken = await new SignJWT({ publish: ['live/hs'], play: ['live/*'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET))
    publishLive(hs.rtmpUrl(`live/hs?token=${hsToken}`))
    await live(hs, 'live/hs')
    const flv = await playFor(hs.httpUrl(`/live/hs.flv?token=${hsToken}`), 1)
    expect(flv.frames).toBeGreaterThan(10)
  }, 90_000)
})

describe('webhooks (on_publish / on_play / on_unpublish / on_stop)', () => {
  let hook: http.Server
  const calls: { path: string; body: any }[] = []

  beforeAll(async () => {
    hook = http.createServer((req, res) => {
      let text = ''
      req.on('data', (c) => (text += c))
      req.on('end', () => {
        const body = JSON.parse(text)
        calls.push({ path: req.url!, body })
        if (body.stream === 'banned') {
          res.writeHead(403, { 'Content-Type': 'text/plain' })
          res.end('this stream name is banned')
        } else if (body.stream === 'slow') {
          setTimeout(() => res.end('ok'), 3000)
        } else res.end('ok')
      })
    })
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
  })
  afterAll(() => new Promise<void>((r) => hook.close(() => r())))

  it('a 2xx answer accepts; a refusal, a slow answer (timeout) and a server that is down refuse; unpublish and stop are told with the client ids', async () => {
    const base = `http://127.0.0.1:${(hook.address() as any).port}`
    const server = await start({
      access: { policy: 'webhook' },
      webhooks: { onPublish: `${base}/on_publish`, onPlay: `${base}/on_play`, onUnpublish: `${base}/on_unpublish`, onStop: `${base}/on_stop`, timeoutMs: 500 },
    })
    const ended: ClientEnded[] = []
    server.sluice.on('unpublish', (c) => ended.push(c))
    server.sluice.on('stop', (c) => ended.push(c))

    const banned = publishLive(server.rtmpUrl('live/banned?token=abc'), 3)
    expect(await banned.exited).not.toBe(0)
    const slow = publishLive(server.rtmpUrl('live/slow'), 3)
    expect(await slow.exited).not.toBe(0)
    const refusals = server.logs.filter((l) => l.msg === 'publish refused').map((l) => l.reason)
    expect(refusals).toEqual(['webhook refused (403): this stream name is banned', 'webhook did not answer within 500 ms'])
    const bannedCall = calls.find((c) => c.body.stream === 'banned')!
    expect(bannedCall).toMatchObject({ path: '/on_publish', body: { event: 'on_publish', action: 'publish', app: 'live', protocol: 'rtmp', token: 'abc', remoteAddress: '127.0.0.1' } })

    const pub = publishLive(server.rtmpUrl('live/hooked'), 30)
    await live(server, 'live/hooked')
    const played = await playFor(server.httpUrl('/live/hooked.flv'), 1)
    expect(played.frames).toBeGreaterThan(10)
    await waitFor(() => calls.find((c) => c.path === '/on_stop'), 5000, 'on_stop')
    const stop = calls.find((c) => c.path === '/on_stop')!.body
    expect(stop).toMatchObject({ event: 'on_stop', protocol: 'http-flv', role: 'player', app: 'live', stream: 'hooked' })
    expect(stop.bytesOut).toBeGreaterThan(10_000)
    pub.child.kill('SIGKILL')
    await waitFor(() => calls.find((c) => c.path === '/on_unpublish'), 10_000, 'on_unpublish')
    const unpublish = calls.find((c) => c.path === '/on_unpublish')!.body
    expect(unpublish).toMatchObject({ event: 'on_unpublish', protocol: 'rtmp', role: 'publisher', stream: 'hooked' })
    expect(unpublish.bytesIn).toBeGreaterThan(10_000)
    expect(ended.map((e) => [e.role, e.id])).toEqual([['player', stop.id], ['publisher', unpublish.id]])

    // the webhook server is down: refused, and the server goes on
    const down = await start({ access: { policy: 'webhook' }, webhooks: { onPublish: 'http://127.0.0.1:9/down', timeoutMs: 1000 } })
    const p = publishLive(down.rtmpUrl('live/any'), 3)
    expect(await p.exited).not.toBe(0)
    expect(down.logs.find((l) => l.msg === 'publish refused')?.reason).toMatch(/^webhook unreachable: /)
    expect((await fetch(down.httpUrl('/healthz'))).status).toBe(200)
  }, 90_000)
})

describe('in-process listeners and lifecycle events', () => {
  it('sluice.on("publish"/"play") decides for every protocol; a throwing listener refuses and is logged; the server goes on', async () => {
    const server = await start({ access: { policy: 'open' } })
    const seen: string[] = []
    server.sluice.on('play', (req) => {
      seen.push(`${req.protocol} ${req.path} ${req.credential}`)
      if (req.stream === 'boom') throw new Error('listener bug')
      if (req.query.get('key') === 'nope') return req.reject('bad key')
      req.accept()
    })
    publishLive(server.rtmpUrl('live/boom'))
    publishLive(server.rtmpUrl('live/app'))
    await live(server, 'live/boom')
    await live(server, 'live/app')
    const boom = await fetch(server.httpUrl('/live/boom.flv'))
    expect(boom.status).toBe(403)
    expect(await boom.text()).toMatch(/the application failed to decide/)
    expect(server.logs.some((l) => String(l.msg).includes('listener threw'))).toBe(true)
    const nope = await fetch(server.httpUrl('/live/app.flv?key=nope&token=t1'))
    expect(nope.status).toBe(403)
    expect(await nope.text()).toBe('play refused: bad key')
    expect((await playFor(server.rtmpUrl('live/app'), 1)).frames).toBeGreaterThan(10)
    expect(seen).toEqual(['http-flv live/boom null', 'http-flv live/app t1', 'rtmp live/app null'])
  }, 60_000)
})

describe('silent publishers and idle ingests', () => {
  it('a frozen publisher (SIGSTOP) is replaced by a republish within the silence timeout plus a second', async () => {
    const server = await start({ access: { policy: 'open' } })
    const frozen = publishLive(server.rtmpUrl('live/frozen'))
    await live(server, 'live/frozen')
    await new Promise((r) => setTimeout(r, 1000))
    frozen.child.kill('SIGSTOP')
    const stoppedAt = Date.now()
    // republish as soon as the name is free, as an encoder's reconnect loop would
    let republishedAt = 0
    while (!republishedAt && Date.now() - stoppedAt < 15_000) {
      const p = publishLive(server.rtmpUrl('live/frozen'), 10)
      const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('running'), 1500))])
      if (code === 'running' && server.sluice.hub.get('live', 'frozen')?.publisher) republishedAt = Date.now()
    }
    frozen.child.kill('SIGKILL')
    expect(republishedAt).toBeGreaterThan(0)
    // when the new publisher took the name (each attempt is watched 1.5 s before it counts)
    const took = server.sluice.hub.get('live', 'frozen')!.publishedAt - stoppedAt
    console.log(`frozen publisher replaced ${took} ms after SIGSTOP (publisherTimeoutMs 5000)`)
    expect(took).toBeLessThan(5000 + 1000)
    expect(server.logs.some((l) => String(l.msg).startsWith('publisher closed: no media for'))).toBe(true)
  }, 60_000)

  it('an RTP ingest that never receives a packet expires (firstMediaTimeoutMs) and frees its name', async () => {
    const server = await start({ access: { policy: 'open' }, hub: { firstMediaTimeoutMs: 1000 } })
    const r = await fetch(server.httpUrl('/api/ingests/live/idle'), {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ video: {} }),
    })
    expect(r.status).toBe(201)
    expect(server.sluice.hub.get('live', 'idle')?.isLive).toBe(true)
    await waitFor(() => !server.sluice.hub.get('live', 'idle')?.isLive, 4000, 'ingest expired')
    expect(server.sluice.rtpService.ingests.size).toBe(0)
  }, 20_000)
})
