/**
 * SRT end to end against real peers: ffmpeg (libsrt) publishes H.264 + AAC in MPEG-TS to Sluice's
 * SRT listener; ffmpeg plays it back over RTMP and over SRT, srt-live-transmit reads Sluice's SRT
 * output; passphrases right, wrong and missing; refusals by the access decision, by the stream
 * id and by the hub; malformed datagrams and a handshake flood leave the server and its live
 * sessions alone.
 */
import { spawnSync } from 'node:child_process'
import dgram from 'node:dgram'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameHashes, makeSource, run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-srt-'))
const source = join(dir, 'source.flv')
let server: TestServer

/** ffmpeg publishing `file` (FLV, copied into MPEG-TS) to an SRT URL in real time. */
function publishSrt(file: string, url: string): Proc {
  return run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-i', file, '-c', 'copy', '-f', 'mpegts', url])
}

const live = (s: TestServer, key: string) => s.sluice.hub.live().some((x) => x.key === key)
const exited = (p: Proc, ms: number) => Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))])
const hashes = (f: { hash: string }[]) => f.map((x) => x.hash)

beforeAll(async () => {
  await makeSource(source, 8)
  server = await startSluice({ hub: { unpublishGraceMs: 500 }, srt: { handshakeTimeoutMs: 1000, maxPendingHandshakes: 64 } })
  server.sluice.on('publish', (req) => (req.stream === 'forbidden' ? req.reject('not this one') : req.accept()))
}, 60_000)

afterAll(async () => {
  await server?.close()
})

describe('SRT', () => {
  it('ffmpeg publishes over SRT; RTMP and SRT players decode frames identical to the source from a keyframe on', async () => {
    const src = await frameHashes(source)
    const pub = publishSrt(source, server.srtUrl('#!::r=live/srt,m=publish', 'pkt_size=1316'))
    await waitFor(() => live(server, 'live/srt'), 10_000, 'live/srt to be live')
    await new Promise((r) => setTimeout(r, 2500))
    const rtmpOut = join(dir, 'rtmp.flv')
    const srtOut = join(dir, 'srt.ts')
    const rtmp = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', server.rtmpUrl('live/srt'), '-c', 'copy', '-f', 'flv', rtmpOut])
    const srt = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', server.srtUrl('#!::r=live/srt,m=request'), '-c', 'copy', '-f', 'mpegts', srtOut])
    await waitFor(() => server.sluice.clients.list().filter((c) => c.protocol === 'srt').length === 2, 10_000, 'the SRT publisher and player in /api/clients')
    const clients = (await (await fetch(server.httpUrl('/api/clients'))).json()) as { protocol: string; role: string; details?: Record<string, unknown> }[]
    const srtClients = clients.filter((c) => c.protocol === 'srt')
    expect(srtClients.map((c) => c.role).sort()).toEqual(['player', 'publisher'])
    for (const c of srtClients) expect(c.details).toMatchObject({ latencyMs: 120, encrypted: false })
    for (const c of srtClients) expect(c.details?.rttMs, 'RTT from the ACKs').toBeGreaterThan(0)
    expect(await pub.exited).toBe(0)
    expect(await exited(rtmp, 15_000), rtmp.stderr()).toBe(0)
    // An SRT player ends when the publisher's stream ends (after the unpublish grace).
    expect(await exited(srt, 15_000), srt.stderr()).not.toBe('timeout')
    for (const [name, file] of [['RTMP', rtmpOut], ['SRT', srtOut]] as const) {
      const got = await frameHashes(file)
      expect(got.errors, name).toBe('')
      const start = hashes(src.video).indexOf(got.video[0]!.hash)
      console.log(`SRT publish → ${name} play: joined at source frame ${start}, decoded ${got.video.length} video and ${got.audio.length} audio frames`)
      expect(start % 50, name).toBe(0)
      expect(hashes(got.video), name).toEqual(hashes(src.video).slice(start, start + got.video.length))
      expect(got.video.length, name).toBeGreaterThan(100)
      expect(got.audio.length, name).toBeGreaterThan(50)
    }
    const ended = server.logs.find((l) => l.msg === 'SRT publisher ended') as { demux?: { continuityErrors: number; dropped: number } } | undefined
    expect(ended?.demux).toMatchObject({ continuityErrors: 0 })
    // ffmpeg's shutdown can land inside its last PES: that one is cut, counted and dropped.
    expect(ended?.demux?.dropped).toBeLessThanOrEqual(1)
  }, 60_000)

  it('carries H.265: an SRT publish of HEVC + AAC plays back over SRT with frames identical to the source, the hub sees H265', async () => {
    const hevc = join(dir, 'hevc.ts')
    const make = run('ffmpeg', [
      '-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      '-t', '6', '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'keyint=25:min-keyint=25:scenecut=0:bframes=0:log-level=none',
      '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', hevc,
    ])
    expect(await make.exited, make.stderr()).toBe(0)
    const src = await frameHashes(hevc)
    const pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-i', hevc, '-c', 'copy', '-f', 'mpegts', server.srtUrl('publish:live/hevc', 'pkt_size=1316')])
    await waitFor(() => live(server, 'live/hevc'), 10_000, 'live/hevc')
    await new Promise((r) => setTimeout(r, 1500))
    expect(server.sluice.hub.get('live', 'hevc')?.video?.codec).toBe('H265')
    const out = join(dir, 'hevc-out.ts')
    const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', server.srtUrl('live/hevc'), '-c', 'copy', '-f', 'mpegts', out])
    expect(await pub.exited).toBe(0)
    expect(await exited(player, 15_000), player.stderr()).not.toBe('timeout')
    const got = await frameHashes(out)
    expect(got.errors).toBe('')
    const start = hashes(src.video).indexOf(got.video[0]!.hash)
    console.log(`SRT H.265 publish → SRT play: joined at source frame ${start}, decoded ${got.video.length} video and ${got.audio.length} audio frames`)
    expect(start % 25).toBe(0)
    // Every frame identical; the very last one may be cut if the end of the stream fell inside
    // it for the player (what its receiver held when the session closed), so it is left out.
    const whole = got.video.slice(0, -1)
    expect(hashes(whole)).toEqual(hashes(src.video).slice(start, start + whole.length))
    expect(start + got.video.length).toBeGreaterThanOrEqual(src.video.length - 3)
  }, 40_000)

  it('carries Opus: an SRT publish of H.264 + Opus plays back over SRT with the same Opus packets; the hub sees Opus (Enhanced RTMP v2)', async () => {
    const opus = join(dir, 'opus.ts')
    const make = run('ffmpeg', [
      '-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '6', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-bf', '0', '-pix_fmt', 'yuv420p', '-c:a', 'libopus', '-b:a', '64k', '-ac', '2', '-f', 'mpegts', opus,
    ])
    expect(await make.exited, make.stderr()).toBe(0)
    const src = await frameHashes(opus, true)
    const pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-i', opus, '-c', 'copy', '-f', 'mpegts', server.srtUrl('publish:live/opus', 'pkt_size=1316')])
    await waitFor(() => live(server, 'live/opus'), 10_000, 'live/opus')
    await new Promise((r) => setTimeout(r, 1500))
    expect(server.sluice.hub.get('live', 'opus')?.audio).toMatchObject({ codec: 'Opus', sampleRate: 48000, channels: 2 })
    const out = join(dir, 'opus-out.ts')
    const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', server.srtUrl('live/opus'), '-c', 'copy', '-f', 'mpegts', out])
    expect(await pub.exited).toBe(0)
    expect(await exited(player, 15_000), player.stderr()).not.toBe('timeout')
    const probe = run('ffprobe', ['-hide_banner', '-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=codec_name,channels,sample_rate', '-of', 'csv=p=0', out])
    await probe.exited
    expect([...new Set(probe.stdout().split('\n').map((l) => l.trim()).filter(Boolean))]).toEqual(['opus,48000,2'])
    const got = await frameHashes(out, true)
    expect(got.errors).toBe('')
    const first = hashes(src.audio).indexOf(got.audio[0]!.hash)
    console.log(`SRT Opus publish → SRT play: ${got.audio.length} Opus packets from source packet ${first}, ${got.video.length} video frames`)
    expect(first).toBeGreaterThanOrEqual(0)
    expect(got.audio.length).toBeGreaterThan(100)
    expect(hashes(got.audio)).toEqual(hashes(src.audio).slice(first, first + got.audio.length))
  }, 40_000)

  it('RTMP publish → srt-live-transmit reads MPEG-TS with H.264 and AAC from Sluice (short stream id form)', async () => {
    const pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-i', source, '-c', 'copy', '-f', 'flv', server.rtmpUrl('live/fromrtmp')])
    await waitFor(() => live(server, 'live/fromrtmp'), 10_000, 'live/fromrtmp')
    await new Promise((r) => setTimeout(r, 1500))
    const out = join(dir, 'slt.ts')
    const slt = run('sh', ['-c', `timeout 4 srt-live-transmit -q '${server.srtUrl('live/fromrtmp')}' file://con > '${out}'`])
    await slt.exited
    pub.child.kill()
    expect(statSync(out).size).toBeGreaterThan(100_000)
    expect(statSync(out).size % 188).toBe(0)
    const probe = run('ffprobe', ['-hide_banner', '-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', out])
    await probe.exited
    expect([...new Set(probe.stdout().split('\n').map((l) => l.trim()).filter(Boolean))].sort()).toEqual(['aac', 'h264'])
    const got = await frameHashes(out)
    expect(got.errors).toBe('')
    expect(got.video.length).toBeGreaterThan(50)
  }, 30_000)

  it('refuses a bad stream id, a play of a stream that is not live, a second publisher and an access refusal; other sessions go on', async () => {
    const pub = publishSrt(source, server.srtUrl('publish:live/busy'))
    await waitFor(() => live(server, 'live/busy'), 10_000, 'live/busy')
    const attempts: [string, string][] = [
      ['#!::m=publish', 'no resource'],
      ['#!::r=live/nothing,m=request', 'not live'],
      ['publish:live/busy', 'already published'],
      ['publish:live/forbidden', 'refused'],
    ]
    for (const [streamId, why] of attempts) {
      const p = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', source, '-c', 'copy', '-t', '1', '-f', 'mpegts', server.srtUrl(streamId)])
      const code = await exited(p, 10_000)
      expect(code, `${streamId} (${why})`).not.toBe(0)
      expect(p.stderr(), streamId).toMatch(/reject|Connection|refused|error/i)
    }
    expect(live(server, 'live/busy')).toBe(true)
    expect(live(server, 'live/forbidden')).toBe(false)
    pub.child.kill()
  }, 60_000)

  it('survives random and truncated datagrams and a handshake flood: pending handshakes stay bounded and expire, a publisher keeps publishing', async () => {
    const pub = publishSrt(source, server.srtUrl('publish:live/flooded'))
    await waitFor(() => live(server, 'live/flooded'), 10_000, 'live/flooded')
    const port = server.sluice.srt.port
    const sockets = await Promise.all(
      Array.from({ length: 100 }, () => new Promise<dgram.Socket>((resolve) => {
        const s = dgram.createSocket('udp4')
        s.bind(0, '127.0.0.1', () => resolve(s))
      })),
    )
    // An SRT induction handshake (control type 0, version 4, handshake type 1), then garbage.
    const induction = Buffer.alloc(64)
    induction.writeUInt32BE(0x80000000, 0)
    induction.writeUInt32BE(4, 16)
    induction.writeUInt16BE(2, 22)
    induction.writeUInt32BE(1500, 28)
    induction.writeUInt32BE(8192, 32)
    induction.writeUInt32BE(1, 36)
    const sends: Promise<void>[] = []
    for (const [i, s] of sockets.entries()) {
      for (let k = 0; k < 20; k++) {
        const junk = Buffer.from(Array.from({ length: 1 + ((i * 37 + k * 11) % 300) }, (_, j) => (i * 131 + k * 17 + j * 7) & 0xff))
        const packet = k === 0 ? induction : k % 3 === 0 ? induction.subarray(0, 16 + (k % 40)) : junk
        sends.push(new Promise((r) => s.send(packet, port, '127.0.0.1', () => r())))
      }
    }
    await Promise.all(sends)
    await new Promise((r) => setTimeout(r, 200))
    const during = server.sluice.srt.stats()
    console.log('SRT under a flood of 2000 datagrams from 100 ports:', during)
    expect(during.pendingHandshakes).toBeLessThanOrEqual(64)
    expect(during.ignoredHandshakes).toBeGreaterThan(0)
    expect(during.parseErrors).toBeGreaterThan(0)
    for (const s of sockets) s.close()
    await waitFor(() => server.sluice.srt.stats().pendingHandshakes === 0, 5000, 'pending handshakes to expire')
    const stream = server.sluice.hub.get('live', 'flooded')!
    const before = stream.bytesIn
    await new Promise((r) => setTimeout(r, 1000))
    expect(stream.bytesIn).toBeGreaterThan(before)
    pub.child.kill()
  }, 60_000)

  it('re-sends a lost handshake answer in a form libsrt accepts: ffmpeg connects through a path that drops the first conclusion answer', async () => {
    // A UDP relay between ffmpeg and Sluice that drops Sluice's first conclusion answer (SRT
    // control packet type 0 handshake, handshake type 0xFFFFFFFF at byte 36). libsrt re-sends its
    // conclusion request (destination socket id 0) and must get the answer again, not keepalives.
    const relay = dgram.createSocket('udp4')
    const upstream = dgram.createSocket('udp4')
    await Promise.all([new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r())), new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()))])
    let caller: { address: string; port: number } | undefined
    let dropped = 0
    relay.on('message', (m, from) => {
      caller = { address: from.address, port: from.port }
      upstream.send(m, server.sluice.srt.port, '127.0.0.1')
    })
    upstream.on('message', (m) => {
      const conclusion = m.length >= 40 && m.readUInt16BE(0) === 0x8000 && m.readUInt32BE(36) === 0xffffffff
      if (conclusion && dropped === 0) return void dropped++
      if (caller) relay.send(m, caller.port, caller.address)
    })
    const url = `srt://127.0.0.1:${relay.address().port}?streamid=publish:live/lostanswer`
    const pub = publishSrt(source, url)
    try {
      await waitFor(() => live(server, 'live/lostanswer'), 10_000, 'live/lostanswer through a lost handshake answer')
      expect(dropped).toBe(1)
      const stream = server.sluice.hub.get('live', 'lostanswer')!
      const before = stream.bytesIn
      await new Promise((r) => setTimeout(r, 1000))
      expect(stream.bytesIn, pub.stderr()).toBeGreaterThan(before)
    } finally {
      pub.child.kill()
      relay.close()
      upstream.close()
    }
  }, 30_000)
})

describe('SRT pulls and pushes (Sluice as the caller)', () => {
  it('pushes an RTMP publish to srt-live-transmit in listener mode: it writes MPEG-TS whose frames are the source\'s', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000)
    const out = join(dir, 'pushed.ts')
    const receiver = run('sh', ['-c', `exec srt-live-transmit -q 'srt://127.0.0.1:${port}?mode=listener' file://con > '${out}'`])
    await new Promise((r) => setTimeout(r, 300))
    const post = (body: unknown) => fetch(server.httpUrl('/api/srt/pushes'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect((await post({ url: 'srt://192.0.2.1:9000', app: 'live', name: 'topush' })).status).toBe(403)
    const created = await post({ url: `srt://127.0.0.1:${port}`, app: 'live', name: 'topush' })
    expect(created.status).toBe(201)
    const { id } = (await created.json()) as { id: string }
    const pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-i', source, '-c', 'copy', '-f', 'flv', server.rtmpUrl('live/topush')])
    expect(await pub.exited).toBe(0)
    const list = (await (await fetch(server.httpUrl('/api/srt/pushes'))).json()) as { id: string; connected: boolean; framesSent: number }[]
    expect(list.find((p) => p.id === id)?.framesSent).toBeGreaterThan(100)
    expect((await fetch(server.httpUrl(`/api/srt/pushes/${id}`), { method: 'DELETE' })).status).toBe(204)
    await new Promise((r) => setTimeout(r, 500))
    receiver.child.kill()
    await receiver.exited
    const got = await frameHashes(out)
    const src = await frameHashes(source)
    const start = hashes(src.video).indexOf(got.video[0]!.hash)
    console.log(`SRT push: srt-live-transmit wrote ${got.video.length} video and ${got.audio.length} audio frames from source frame ${start}`)
    expect(start).toBeGreaterThanOrEqual(0)
    const whole = got.video.slice(0, -1)
    expect(hashes(whole)).toEqual(hashes(src.video).slice(start, start + whole.length))
    expect(got.video.length).toBeGreaterThan(150)
  }, 40_000)

  it('pulls from srt-live-transmit in listener mode (AES-128) into the hub; RTMP plays it; DELETE stops it', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000)
    const feeder = run('sh', ['-c', `ffmpeg -hide_banner -v error -re -i '${source}' -c copy -f mpegts - | srt-live-transmit -q file://con 'srt://127.0.0.1:${port}?mode=listener&passphrase=a pull passphrase&pbkeylen=16'`])
    await new Promise((r) => setTimeout(r, 500))
    const post = (body: unknown) => fetch(server.httpUrl('/api/srt/pulls'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect((await post({ url: 'http://127.0.0.1:1/x', app: 'live', name: 'x' })).status).toBe(400)
    expect((await post({ url: 'srt://192.0.2.1:9000', app: 'live', name: 'x' })).status).toBe(403)
    const created = await post({ url: `srt://127.0.0.1:${port}?passphrase=a pull passphrase&pbkeylen=16`, app: 'live', name: 'pulled' })
    expect(created.status).toBe(201)
    const { id } = (await created.json()) as { id: string }
    await waitFor(() => live(server, 'live/pulled'), 10_000, 'live/pulled from the pull')
    const out = join(dir, 'pulled.flv')
    const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', server.rtmpUrl('live/pulled'), '-t', '2', '-c', 'copy', '-f', 'flv', out])
    expect(await exited(player, 15_000), player.stderr()).toBe(0)
    const got = await frameHashes(out)
    const src = await frameHashes(source)
    const start = hashes(src.video).indexOf(got.video[0]!.hash)
    expect(start).toBeGreaterThanOrEqual(0)
    expect(hashes(got.video)).toEqual(hashes(src.video).slice(start, start + got.video.length))
    const list = (await (await fetch(server.httpUrl('/api/srt/pulls'))).json()) as { id: string; connected: boolean }[]
    expect(list.find((p) => p.id === id)?.connected).toBe(true)
    expect((await fetch(server.httpUrl(`/api/srt/pulls/${id}`), { method: 'DELETE' })).status).toBe(204)
    await waitFor(() => !live(server, 'live/pulled'), 5000, 'the pulled stream to end')
    feeder.child.kill()
    // the shell's pipeline (ffmpeg | srt-live-transmit) outlives the shell: end it by its port
    spawnSync('pkill', ['-f', `srt://127.0.0.1:${port}`])
  }, 40_000)
})

describe('SRT with a passphrase', () => {
  let secure: TestServer
  beforeAll(async () => {
    secure = await startSluice({ srt: { passphrase: 'correct horse battery' } })
  })
  afterAll(async () => {
    await secure?.close()
  })

  for (const pbkeylen of [16, 32]) {
    it(`accepts the right passphrase (AES-${pbkeylen * 8}) and plays it back encrypted`, async () => {
      const key = `live/aes${pbkeylen}`
      const pub = publishSrt(source, secure.srtUrl(`publish:${key}`, `passphrase=correct horse battery&pbkeylen=${pbkeylen}`))
      await waitFor(() => live(secure, key), 10_000, `${key} to be live`)
      await new Promise((r) => setTimeout(r, 1500))
      const out = join(dir, `aes${pbkeylen}.ts`)
      const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', secure.srtUrl(key, `passphrase=correct horse battery&pbkeylen=${pbkeylen}`), '-t', '2', '-c', 'copy', '-f', 'mpegts', out])
      expect(await exited(player, 15_000), player.stderr()).toBe(0)
      const clients = secure.sluice.clients.list().filter((c) => c.protocol === 'srt')
      expect(clients.every((c) => c.details?.encrypted === true)).toBe(true)
      pub.child.kill()
      const got = await frameHashes(out)
      expect(got.errors).toBe('')
      expect(got.video.length).toBeGreaterThan(30)
    }, 40_000)
  }

  it('switches keys mid-stream both ways (key refresh every 64 packets): srt-live-transmit publishes, RTMP and SRT players decode every frame', async () => {
    const rekey = await startSluice({ hub: { unpublishGraceMs: 500 }, srt: { passphrase: 'correct horse battery', kmRefreshRate: 64, kmPreAnnounce: 16 } })
    try {
      const src = await frameHashes(source)
      const url = `${rekey.srtUrl('publish:live/rekey')}&passphrase=correct horse battery&kmrefreshrate=64&kmpreannounce=16`
      // srt-live-transmit stays connected after its input ends: `timeout` ends it (8 s of source).
      const pub = run('sh', ['-c', `ffmpeg -hide_banner -v error -re -i '${source}' -c copy -f mpegts - | timeout 12 srt-live-transmit -q file://con '${url}'`])
      await waitFor(() => live(rekey, 'live/rekey'), 10_000, 'live/rekey')
      const rtmpOut = join(dir, 'rekey.flv')
      const srtOut = join(dir, 'rekey.ts')
      const rtmp = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', rekey.rtmpUrl('live/rekey'), '-c', 'copy', '-f', 'flv', rtmpOut])
      const srt = run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', rekey.srtUrl('live/rekey', 'passphrase=correct horse battery'), '-c', 'copy', '-f', 'mpegts', srtOut])
      let player: { details?: Record<string, unknown> } | undefined
      const sample = setInterval(() => {
        player = rekey.sluice.clients.list().find((c) => c.protocol === 'srt' && c.role === 'player') ?? player
      }, 500)
      await pub.exited
      clearInterval(sample)
      await Promise.all([exited(rtmp, 15_000), exited(srt, 15_000)])
      console.log('SRT key refresh every 64 packets: player session', player?.details)
      expect(Number(player?.details?.packetsSent)).toBeGreaterThan(3 * 64)
      for (const [name, file] of [['RTMP', rtmpOut], ['SRT', srtOut]] as const) {
        const got = await frameHashes(file)
        expect(got.errors, name).toBe('')
        const start = hashes(src.video).indexOf(got.video[0]!.hash)
        expect(start, name).toBeGreaterThanOrEqual(0)
        const whole = got.video.slice(0, -1)
        expect(hashes(whole), name).toEqual(hashes(src.video).slice(start, start + whole.length))
        expect(got.video.length, name).toBeGreaterThan(100)
      }
    } finally {
      await rekey.close()
    }
  }, 60_000)

  it('refuses a wrong and a missing passphrase', async () => {
    for (const extra of ['passphrase=wrong horse battery&pbkeylen=16', '']) {
      const p = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', source, '-c', 'copy', '-t', '1', '-f', 'mpegts', secure.srtUrl('publish:live/denied', extra)])
      expect(await exited(p, 10_000), extra || 'no passphrase').not.toBe(0)
    }
    expect(live(secure, 'live/denied')).toBe(false)
    expect(readFileSync(source).length).toBeGreaterThan(0)
  }, 40_000)
})
