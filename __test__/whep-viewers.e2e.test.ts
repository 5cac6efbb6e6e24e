/**
 * 20 WHEP viewers at once, in a separate process (bench/load/whep-viewers.mjs, werift clients),
 * each receive every video packet of a 30 s window: no sequence gap that a NACK did not fill.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

let server: TestServer
let pub: Proc

beforeAll(async () => {
  server = await startSluice({ webrtc: { bindAddress: '127.0.0.1' } })
  pub = run('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine',
    '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '1M', '-maxrate', '1M', '-bufsize', '1M', '-g', '60',
    '-c:a', 'aac', '-f', 'flv', server.rtmpUrl('live/load'),
  ])
  await waitFor(() => server.logs.find((l) => l.msg === 'publish started'), 10_000, 'publisher')
})

afterAll(async () => {
  pub?.child.kill('SIGKILL')
  await server?.close()
})

describe('20 WHEP viewers', () => {
  it('all receive every video packet of a 30 s window', async () => {
    const load = run('node', ['bench/load/whep-viewers.mjs', '--http', server.httpUrl(''), '--stream', 'live/load', '--viewers', '20', '--duration', '30', '--json'])
    expect(await load.exited, load.stderr()).toBe(0)
    const { summary, viewers } = JSON.parse(load.stdout().trim().split('\n').pop()!)
    console.log('20 viewers:', JSON.stringify(summary))
    expect(summary.connected).toBe(20)
    for (const v of viewers) {
      expect(v.windowReceived, `viewer ${v.viewer}`).toBeGreaterThan(1000)
      expect(v.unrecovered, `viewer ${v.viewer}: packets never received`).toBe(0)
    }
  }, 90_000)
})
