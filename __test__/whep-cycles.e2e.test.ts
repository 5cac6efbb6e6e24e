/** 200 WHEP viewer create/delete cycles leave no PeerConnection, timer or buffer behind, on both transports. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { staticOffer } from './helpers/sdp'

for (const transport of ['datachannel', 'native'] as const) describe(`on the ${transport} transport`, () => {
let server: TestServer
let pub: Proc

const offer = staticOffer()

function resources(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1
  return counts
}

beforeAll(async () => {
  // native: two send threads, so viewers come and go on both hosts of the port
  server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: transport === 'native' ? 2 : 1, transport, udpPort: 0 } })
  pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-f', 'flv', server.rtmpUrl('live/cycles')])
  await waitFor(() => server.logs.find((l) => l.msg === 'publish started'), 10_000, 'publisher')
})

afterAll(async () => {
  pub?.child.kill('SIGKILL')
  await server?.close()
})

describe('WHEP viewer lifecycle', () => {
  it('200 connect/disconnect cycles leave nothing behind', async () => {
    const whep = server.sluice.whep
    // one warm-up cycle so the worker thread exists before counting
    const warm = await fetch(server.httpUrl('/whep/live/cycles'), { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer })
    await fetch(server.httpUrl(warm.headers.get('location')!), { method: 'DELETE' })
    await waitFor(async () => (await whep.pool.stats()).viewers.length === 0, 5000, 'warm-up viewer gone')
    const before = resources()
    for (let i = 0; i < 200; i++) {
      const r = await fetch(server.httpUrl('/whep/live/cycles'), { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer })
      expect(r.status).toBe(201)
      await r.text()
      const d = await fetch(server.httpUrl(r.headers.get('location')!), { method: 'DELETE' })
      expect(d.status).toBe(200)
    }
    expect(whep.sessions).toBe(0)
    expect(whep.feeds).toBe(0)
    let hosted = -1
    for (let i = 0; i < 50 && hosted !== 0; i++) {
      hosted = (await whep.pool.stats()).viewers.length
      if (hosted !== 0) await new Promise((r) => setTimeout(r, 100))
    }
    expect(hosted, 'viewers still hosted by the transport').toBe(0)
    expect(whep.pool.size, 'viewers known to the pool').toBe(0)
    const after = resources()
    expect(after.Timeout ?? 0, 'timers').toBeLessThanOrEqual((before.Timeout ?? 0) + 1)
    expect(server.sluice.hub.get('live', 'cycles')?.subscribers.size ?? 0, 'hub subscribers').toBe(0)
    console.log('resources before', before, 'after', after)
  }, 120_000)
})
})
