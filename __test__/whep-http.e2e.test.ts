/** WHEP HTTP semantics: statuses and readable bodies for the error cases; CORS; on both transports. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { staticOffer } from './helpers/sdp'

const offerWith = staticOffer

for (const transport of ['datachannel', 'native'] as const) describe(`on the ${transport} transport`, () => {
let server: TestServer
let pub: Proc

beforeAll(async () => {
  server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1, transport, udpPort: 0 } })
  pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-f', 'flv', server.rtmpUrl('live/http')])
  await waitFor(() => server.logs.find((l) => l.msg === 'publish started'), 10_000, 'publisher')
})

afterAll(async () => {
  pub?.child.kill('SIGKILL')
  await server?.close()
})

const post = (path: string, body: string, type = 'application/sdp') =>
  fetch(server.httpUrl(path), { method: 'POST', headers: { 'Content-Type': type }, body })

describe('WHEP HTTP', () => {
  it('answers 404 with a readable body for an unknown stream', async () => {
    const r = await post('/whep/live/nope', offerWith('H264', 'opus'))
    expect(r.status).toBe(404)
    expect(await r.text()).toMatch(/live\/nope is not live/)
  })

  it('answers 400 for a malformed SDP', async () => {
    const r = await post('/whep/live/http', 'hello')
    expect(r.status).toBe(400)
    expect(await r.text()).toMatch(/malformed SDP/)
  })

  it('answers 400 for an offer without H.264', async () => {
    const r = await post('/whep/live/http', offerWith('VP8', 'opus'))
    expect(r.status).toBe(400)
    expect(await r.text()).toMatch(/no receivable video with H\.264/)
  })

  it('answers 400 for an offer without Opus', async () => {
    const r = await post('/whep/live/http', offerWith('H264', 'PCMU'))
    expect(r.status).toBe(400)
    expect(await r.text()).toMatch(/Opus/)
  })

  it('answers 415 for a wrong content type', async () => {
    const r = await post('/whep/live/http', offerWith('H264', 'opus'), 'text/plain')
    expect(r.status).toBe(415)
  })

  it('answers 404 to DELETE and PATCH of an unknown resource', async () => {
    expect((await fetch(server.httpUrl('/whep/resource/nope'), { method: 'DELETE' })).status).toBe(404)
    const p = await fetch(server.httpUrl('/whep/resource/nope'), { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' }, body: '' })
    expect(p.status).toBe(404)
  })

  it('answers OPTIONS with CORS headers', async () => {
    const r = await fetch(server.httpUrl('/whep/live/http'), { method: 'OPTIONS' })
    expect(r.status).toBe(204)
    expect(r.headers.get('access-control-allow-origin')).toBe('*')
    expect(r.headers.get('access-control-allow-methods')).toContain('PATCH')
    expect(r.headers.get('accept-post')).toBe('application/sdp')
  })

  it('creates a session (201, Location, SDP answer) and DELETE ends it', async () => {
    const r = await post('/whep/live/http', offerWith('H264', 'opus'))
    expect(r.status, await r.clone().text()).toBe(201)
    expect(r.headers.get('content-type')).toBe('application/sdp')
    const location = r.headers.get('location')!
    expect(location).toMatch(/^\/whep\/resource\//)
    const answer = await r.text()
    expect(answer).toMatch(/a=mid:0/)
    expect(answer).toMatch(/H264\/90000/)
    expect(answer).toMatch(/opus\/48000/)
    expect(answer).toMatch(/a=candidate:.* 127\.0\.0\.1 /)
    expect(answer).not.toMatch(/a=candidate:(?!.* 127\.0\.0\.1 )/)
    if (transport === 'native') {
      expect(answer).toMatch(/^a=ice-lite\r$/m)
      expect(answer).toMatch(/^a=setup:passive\r$/m)
      expect(answer).toMatch(/^a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r$/m)
      expect(answer).toMatch(/^a=group:BUNDLE 0 1\r$/m)
    }
    expect(server.sluice.whep.sessions).toBe(1)
    const d = await fetch(server.httpUrl(location), { method: 'DELETE' })
    expect(d.status).toBe(200)
    expect(server.sluice.whep.sessions).toBe(0)
    expect(server.sluice.whep.feeds).toBe(0)
  })

  it('the server goes on after all that', async () => {
    const r = await fetch(server.httpUrl('/healthz'))
    expect(r.status).toBe(200)
  })
})
})
