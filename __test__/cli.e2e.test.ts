/** `npx sluice`: flags, where it listens, HTTP endpoints, a taken port, SIGTERM (config file: config.e2e, drain: drain.e2e). */
import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { run } from './helpers/ffmpeg'
import { waitFor } from './helpers/sluice'

const cli = ['dist/cli.js']

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

describe('sluice CLI', () => {
  it('prints help', async () => {
    const p = run('node', [...cli, '--help'])
    expect(await p.exited).toBe(0)
    expect(p.stdout()).toContain('--rtmp-port')
    expect(p.stdout()).toContain('--http-port')
    expect(p.stdout()).toContain('--host')
    expect(p.stdout()).toContain('--ice-server')
    expect(p.stdout()).toContain('--config <file>')
    expect(p.stdout()).toContain('--print-config')
    expect(p.stdout()).toContain('"<redacted>"')
    expect(p.stdout()).toContain('SLUICE_<SECTION>_<KEY>')
    expect(p.stdout()).toContain('sluice token')
  })

  it('rejects an unknown flag', async () => {
    const p = run('node', [...cli, '--bogus'])
    expect(await p.exited).toBe(2)
    expect(p.stderr()).toContain('bogus')
  })

  it('starts, answers /healthz and /api/streams, refuses a taken port, stops on SIGTERM', async () => {
    const rtmpPort = await freePort()
    const httpPort = await freePort()
    const args = [...cli, '--rtmp-port', String(rtmpPort), '--http-port', String(httpPort), '--srt-port', '0', '--host', '127.0.0.1', '--webrtc-bind', '127.0.0.1', '--ice-server', 'stun:stun.example.net:3478']
    const p = run('node', args)
    await waitFor(() => p.stderr().includes('sluice listening'), 10_000, 'listening line')
    expect(p.stderr()).toContain(`rtmp://127.0.0.1:${rtmpPort}`)
    expect(p.stderr()).toContain(`http://127.0.0.1:${httpPort}`)

    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok' })
    const streams = await fetch(`http://127.0.0.1:${httpPort}/api/streams`)
    expect(await streams.json()).toEqual({ streams: [] })
    expect((await fetch(`http://127.0.0.1:${httpPort}/nope`)).status).toBe(404)
    const options = await fetch(`http://127.0.0.1:${httpPort}/whep/live/x`, { method: 'OPTIONS' })
    expect(options.headers.get('link')).toBe('<stun:stun.example.net:3478>; rel="ice-server"')

    const second = run('node', args)
    expect(await second.exited).toBe(1)
    expect(second.stderr()).toMatch(/RTMP cannot listen on 127\.0\.0\.1:\d+: .*port already in use/)

    p.child.kill('SIGTERM')
    expect(await p.exited).toBe(0)
    expect(p.stdout()).toContain('shutting down')
  })
})
