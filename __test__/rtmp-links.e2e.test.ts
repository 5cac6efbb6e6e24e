/**
 * RTMP(S) pushes and pulls against real peers: nginx-rtmp (Debian `nginx` + `libnginx-mod-rtmp`)
 * stands in for a CDN ingest and for an origin, stunnel terminates TLS in front of it, ffmpeg
 * publishes and plays. Frames are compared with the source (framemd5) from the first keyframe.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameHashes, makeSource, publish, run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { freePort, startNginxRtmp, type NginxRtmp } from './helpers/nginx-rtmp'

const dir = mkdtempSync(join(tmpdir(), 'sluice-rtmp-links-'))
const source = join(dir, 'source.flv')
const cert = join(dir, 'cert.pem')
const key = join(dir, 'key.pem')
let nginx: NginxRtmp
let server: TestServer
const procs: Proc[] = []

const hashes = (f: { hash: string }[]) => f.map((x) => x.hash)
const api = (s: TestServer, path: string, init?: RequestInit) => fetch(s.httpUrl(path), init)
const post = (s: TestServer, path: string, body: unknown) => api(s, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
const exited = (p: Proc, ms: number) => Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))])

/** ffmpeg recording `url` (RTMP or RTMPS) into an FLV file with stream copy; it ends 3 s after the last byte. */
function record(url: string, out: string): Proc {
  const p = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-rw_timeout', '3000000', '-i', url, '-c', 'copy', '-f', 'flv', out])
  procs.push(p)
  return p
}

/**
 * Waits for an ffmpeg recording from nginx to end once nginx no longer has `name` published:
 * nginx keeps its players connected after the publisher leaves (UnpublishNotify), so the
 * recording is made with `-rw_timeout` and ends 3 s after the last byte.
 */
async function stopNginxRecording(p: Proc, name: string): Promise<void> {
  await waitFor(async () => !(await nginx.stat()).some((s) => s.name === name && s.publishing), 10_000, `${name} to end on nginx`)
  expect(await exited(p, 10_000), p.stderr()).not.toBe('timeout')
}

/** The recording's frames are the source's, from a keyframe on (the last one may be cut). */
async function expectSourceFrames(file: string, what: string, min = 100): Promise<void> {
  const src = await frameHashes(source)
  const got = await frameHashes(file)
  expect(got.errors, what).toBe('')
  const start = hashes(src.video).indexOf(got.video[0]?.hash ?? 'none')
  console.log(`${what}: ${got.video.length} video frames from source frame ${start}, ${got.audio.length} audio frames`)
  expect(start % 50, what).toBe(0)
  const whole = got.video.slice(0, -1)
  expect(hashes(whole), what).toEqual(hashes(src.video).slice(start, start + whole.length))
  expect(got.video.length, what).toBeGreaterThan(min)
}

beforeAll(async () => {
  await makeSource(source, 8)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'pipe' })
  nginx = await startNginxRtmp()
  server = await startSluice({
    hub: { unpublishGraceMs: 500 },
    rtmp: {
      tls: { port: 0, certFile: cert, keyFile: key },
      caFile: cert,
      pushes: [{ app: 'rules', url: `rtmp://127.0.0.1:${nginx.port}/live/ruled-{stream}` }],
      pulls: [{ app: 'edge', url: `rtmp://127.0.0.1:${nginx.port}/live/{stream}`, idleMs: 1000 }],
    },
  })
}, 60_000)

afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL')
  await server?.close()
  await nginx?.stop()
})

describe('RTMP pushes', () => {
  it('pushes a stream to nginx-rtmp through the API: ffmpeg plays it from nginx with frames identical to the source; the stream key is not shown', async () => {
    expect((await post(server, '/api/pushes', { url: 'rtmp://192.0.2.1/live/x', app: 'live', name: 'src' })).status).toBe(403)
    expect((await post(server, '/api/pushes', { url: 'http://127.0.0.1/live/x', app: 'live', name: 'src' })).status).toBe(400)
    const created = await post(server, '/api/pushes', { url: nginx.url('live/secret-key'), app: 'live', name: 'src' })
    expect(created.status).toBe(201)
    const { id, url } = (await created.json()) as { id: string; url: string }
    expect(url).toBe(`rtmp://127.0.0.1:${nginx.port}/live/***`)
    const pub = publish(source, server.rtmpUrl('live/src'))
    procs.push(pub)
    await waitFor(async () => (await nginx.stat()).some((s) => s.name === 'secret-key' && s.publishing), 10_000, 'the push to publish on nginx')
    const out = join(dir, 'from-nginx.flv')
    const player = record(nginx.url('live/secret-key'), out)
    expect(await pub.exited).toBe(0)
    await stopNginxRecording(player, 'secret-key')
    await expectSourceFrames(out, 'Sluice → nginx push, played from nginx', 80)
    const list = (await (await api(server, '/api/pushes')).json()) as { id: string; connects: number; framesSent: number }[]
    const push = list.find((p) => p.id === id)!
    expect(push.connects).toBe(1)
    expect(push.framesSent).toBeGreaterThan(300)
    expect((await api(server, `/api/pushes/${id}`, { method: 'DELETE' })).status).toBe(204)
    expect((await api(server, `/api/pushes/${id}`, { method: 'DELETE' })).status).toBe(404)
  }, 60_000)

  it('a target that is down: the push reconnects with backoff, counted; the stream and its RTMP players are untouched; the push connects once the target is up', async () => {
    const port = await freePort()
    const created = await post(server, '/api/pushes', { url: `rtmp://127.0.0.1:${port}/live/later`, app: 'live', name: 'down' })
    const { id } = (await created.json()) as { id: string }
    const pub = publish(source, server.rtmpUrl('live/down'))
    procs.push(pub)
    const out = join(dir, 'down-player.flv')
    await waitFor(() => server.sluice.hub.get('live', 'down')?.isLive, 10_000, 'live/down')
    const player = record(server.rtmpUrl('live/down'), out)
    const stats = async () => ((await (await api(server, '/api/pushes')).json()) as { id: string; reconnects: number; connects: number; lastError: string | null }[]).find((p) => p.id === id)!
    await waitFor(async () => (await stats()).reconnects >= 2, 10_000, 'two reconnect attempts')
    const down = await stats()
    console.log('push to a closed port:', down)
    expect(down.connects).toBe(0)
    expect(down.lastError).toMatch(/ECONNREFUSED/)
    const late = await startNginxRtmp(port)
    try {
      await waitFor(async () => (await stats()).connects === 1, 10_000, 'the push to connect once the target is up')
      await waitFor(async () => (await late.stat()).some((s) => s.name === 'later' && s.publishing), 5000, 'the stream on the late nginx')
    } finally {
      await late.stop()
    }
    expect(await pub.exited).toBe(0)
    expect(await exited(player, 15_000)).not.toBe('timeout')
    await expectSourceFrames(out, 'RTMP player of a stream whose push target was down', 150)
    await api(server, `/api/pushes/${id}`, { method: 'DELETE' })
  }, 60_000)

  it('a config rule pushes every stream of an app while it is live and ends with it', async () => {
    const pub = publish(source, server.rtmpUrl('rules/cam7'))
    procs.push(pub)
    await waitFor(async () => (await nginx.stat()).some((s) => s.name === 'ruled-cam7' && s.publishing), 10_000, 'the rule push on nginx')
    const out = join(dir, 'ruled.flv')
    const player = record(nginx.url('live/ruled-cam7'), out)
    expect(await pub.exited).toBe(0)
    await stopNginxRecording(player, 'ruled-cam7')
    await expectSourceFrames(out, 'rule push played from nginx', 80)
    await waitFor(async () => ((await (await api(server, '/api/pushes')).json()) as unknown[]).length === 0, 5000, 'the rule push to end with its stream')
  }, 60_000)
})

describe('RTMP pulls', () => {
  it('pulls on demand: a player of edge/{stream} makes Sluice play it from nginx; frames identical; the pull ends after the last player', async () => {
    const pub = publish(source, nginx.url('live/origin1'))
    procs.push(pub)
    await waitFor(async () => (await nginx.stat()).some((s) => s.name === 'origin1' && s.publishing), 10_000, 'the origin stream')
    const out = join(dir, 'edge.flv')
    const player = record(server.rtmpUrl('edge/origin1'), out)
    await waitFor(async () => ((await (await api(server, '/api/pulls')).json()) as { connected: boolean }[]).some((p) => p.connected), 10_000, 'the on-demand pull')
    const clients = (await (await api(server, '/api/clients')).json()) as { id: string; role: string; details?: { pull?: boolean } }[]
    expect(clients.some((c) => c.role === 'publisher' && c.details?.pull)).toBe(true)
    expect(await pub.exited).toBe(0)
    expect(await exited(player, 15_000), player.stderr()).not.toBe('timeout')
    await expectSourceFrames(out, 'nginx origin → Sluice on-demand pull → RTMP player', 80)
    await waitFor(async () => ((await (await api(server, '/api/pulls')).json()) as unknown[]).length === 0, 5000, 'the pull to end after its last player')
  }, 60_000)

  it('pulls through the API until deleted; HTTP-FLV plays the pulled stream', async () => {
    const pub = publish(source, nginx.url('live/origin2'))
    procs.push(pub)
    await waitFor(async () => (await nginx.stat()).some((s) => s.name === 'origin2' && s.publishing), 10_000, 'the origin stream')
    const created = await post(server, '/api/pulls', { url: nginx.url('live/origin2'), app: 'pulled', name: 'two' })
    expect(created.status).toBe(201)
    const { id } = (await created.json()) as { id: string }
    await waitFor(() => server.sluice.hub.get('pulled', 'two')?.isLive, 10_000, 'pulled/two')
    expect((await post(server, '/api/pulls', { url: nginx.url('live/origin2'), app: 'pulled', name: 'two' })).status).toBe(409)
    const res = await fetch(server.httpUrl('/pulled/two.flv'))
    const reader = res.body!.getReader()
    let bytes = 0
    while (bytes < 200_000) {
      const { value, done } = await reader.read()
      if (done) break
      bytes += value.length
    }
    await reader.cancel()
    expect(bytes).toBeGreaterThanOrEqual(200_000)
    expect((await api(server, `/api/pulls/${id}`, { method: 'DELETE' })).status).toBe(204)
    await waitFor(() => !server.sluice.hub.get('pulled', 'two')?.isLive, 5000, 'the pulled stream to end')
    pub.child.kill()
  }, 60_000)
})

describe('RTMPS', () => {
  it('ffmpeg publishes and plays over rtmps:// (self-signed certificate): frames identical to the source', async () => {
    const port = server.sluice.rtmp.tlsPort!
    expect(port).toBeGreaterThan(0)
    const pub = publish(source, `rtmps://127.0.0.1:${port}/live/secure`)
    procs.push(pub)
    await waitFor(() => server.sluice.hub.get('live', 'secure')?.isLive, 10_000, 'live/secure over RTMPS')
    const out = join(dir, 'rtmps.flv')
    const player = record(`rtmps://127.0.0.1:${port}/live/secure`, out)
    expect(await pub.exited, pub.stderr()).toBe(0)
    expect(await exited(player, 15_000), player.stderr()).not.toBe('timeout')
    await expectSourceFrames(out, 'RTMPS publish → RTMPS play', 80)
  }, 60_000)

  it('pushes over rtmps:// to nginx-rtmp behind stunnel (TLS terminator, certificate trusted through rtmp.caFile)', async () => {
    const tlsPort = await freePort()
    const conf = join(dir, 'stunnel.conf')
    writeFileSync(conf, `foreground = yes\npid =\n[rtmps]\naccept = 127.0.0.1:${tlsPort}\nconnect = 127.0.0.1:${nginx.port}\ncert = ${cert}\nkey = ${key}\n`)
    const stunnel = run('stunnel', [conf])
    procs.push(stunnel)
    try {
      await new Promise((r) => setTimeout(r, 700))
      expect(stunnel.stderr()).not.toMatch(/error/i)
      const created = await post(server, '/api/pushes', { url: `rtmps://127.0.0.1:${tlsPort}/live/via-tls`, app: 'live', name: 'tlspush' })
      const { id } = (await created.json()) as { id: string }
      const pub = publish(source, server.rtmpUrl('live/tlspush'))
      procs.push(pub)
      await waitFor(async () => (await nginx.stat()).some((s) => s.name === 'via-tls' && s.publishing), 10_000, 'the RTMPS push on nginx')
      const out = join(dir, 'via-tls.flv')
      const player = record(nginx.url('live/via-tls'), out)
      expect(await pub.exited).toBe(0)
      await stopNginxRecording(player, 'via-tls')
      await expectSourceFrames(out, 'RTMPS push through stunnel, played from nginx', 80)
      await api(server, `/api/pushes/${id}`, { method: 'DELETE' })
    } finally {
      stunnel.child.kill()
    }
  }, 60_000)
})
