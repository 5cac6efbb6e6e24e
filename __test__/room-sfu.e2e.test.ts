/**
 * SFU rooms end to end, on both viewer transports (the downlinks ride WHEP's): three Chromium
 * pages with fake cameras join an `sfu` room from Sluice's `/room` page. Each publishes once to
 * Sluice's SFU (a node-datachannel PeerConnection on the server) and decodes both others' videos
 * forwarded by it, each over a receive-only PeerConnection of its own; chat goes over each
 * page's `chat` data channel and the SFU relays it (with the sender's peer id); one page leaving
 * removes its video from the others (`stream-removed` closes their PeerConnection for it) and
 * they get peer-left. A participant's stream is an ordinary hub stream: listed in /api/streams
 * and played over WHEP from the player page.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './helpers/browser'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

let server: TestServer
let browser: Browser
const ROOM = 'sfu-e2e'

type Frames = Record<string, { framesDecoded: number; bytesReceived: number }>

const framesDecoded = (page: Page): Promise<Frames> => page.evaluate(() => (window as any).sluiceRoom.framesDecoded())
const peerIds = (page: Page): Promise<string[]> => page.evaluate(() => (window as any).sluiceRoom.peerIds)

/** Live remote video tracks of the page's SFU PeerConnection, by the peer id their stream shows. */
const liveVideoTiles = (page: Page): Promise<string[]> =>
  page.evaluate(() =>
    [...document.querySelectorAll('figure[data-peer]')]
      .filter((f) => (f as HTMLElement).dataset.peer !== 'local')
      .filter((f) => {
        const stream = (f.querySelector('video') as HTMLVideoElement).srcObject as MediaStream | null
        return !!stream && stream.getVideoTracks().some((t) => t.readyState === 'live')
      })
      .map((f) => (f as HTMLElement).dataset.peer!),
  )


async function joinPage(name: string): Promise<{ page: Page; id: string }> {
  const page = await browser.newPage()
  page.on('console', (m) => m.type() === 'warning' || m.type() === 'error' ? console.log(`[${name}]`, m.text()) : undefined)
  await page.goto(server.httpUrl(`/room?room=${ROOM}&mode=sfu&name=${name}`))
  await page.waitForFunction(() => (window as any).sluiceRoom?.joined, null, { timeout: 15_000 })
  const id = await page.evaluate(() => (window as any).sluiceRoom.peerId as string)
  return { page, id }
}

for (const transport of ['native', 'datachannel'] as const) describe(`SFU rooms with Chromium, downlinks on the ${transport} transport`, () => {
  beforeAll(async () => {
    server = await startSluice({ webrtc: { bindAddress: '127.0.0.1', workers: 1, transport, udpPort: 0 } })
    browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'])
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('three pages: each decodes both others, chat over data channels, WHEP of a room stream, one leaves', async () => {
    const peers = [await joinPage('ann'), await joinPage('bob'), await joinPage('cat')]
    const ids = peers.map((p) => p.id)
    const others = (i: number) => ids.filter((_, j) => j !== i).sort()

    // every page sees both others' videos decoding, and growing
    for (const [i, { page }] of peers.entries()) {
      await waitFor(async () => {
        const f = await framesDecoded(page)
        return others(i).every((id) => (f[id]?.framesDecoded ?? 0) > 10)
      }, 20_000, `${ids[i]} decoding both others`)
    }
    const before = await Promise.all(peers.map(({ page }) => framesDecoded(page)))
    await new Promise((r) => setTimeout(r, 3000))
    const after = await Promise.all(peers.map(({ page }) => framesDecoded(page)))
    for (const [i] of peers.entries()) {
      const remote = Object.keys(after[i]!).filter((id) => ids.includes(id)).sort()
      expect(remote, JSON.stringify({ before: before[i], after: after[i] })).toEqual(others(i))
      for (const id of others(i)) {
        const grew = after[i]![id]!.framesDecoded - before[i]![id]!.framesDecoded
        console.log(`SFU: ${ids[i]} decodes ${id}: ${after[i]![id]!.framesDecoded} frames (+${grew} in 3 s)`)
        expect(grew).toBeGreaterThan(30)
      }
    }

    // chat over the data channels, relayed by the SFU with the sender's peer id
    for (const { page } of peers) await page.waitForFunction(() => (window as any).sluiceRoom.connections().sfu?.chat === 'open', null, { timeout: 10_000 })
    for (const [i, { page }] of peers.entries()) {
      const took = await page.evaluate((text) => (window as any).sluiceRoom.sendChat(text), `hello from ${ids[i]}`)
      expect(took).toBe(1)
    }
    for (const [i, { page }] of peers.entries()) {
      await page.waitForFunction((n) => (window as any).sluiceRoom.chat.length >= n, 2, { timeout: 5000 })
      const chat = (await page.evaluate(() => (window as any).sluiceRoom.chat)) as { from: string; text: string }[]
      expect(chat.map((c) => `${c.from}:${c.text}`).sort()).toEqual(others(i).map((id) => `${id}:hello from ${id}`))
    }
    const logs = server.logs.filter((l) => l.msg === 'SFU participant answered')
    expect(logs.length).toBe(3)

    // a participant's media are an ordinary hub stream: listed and playable over WHEP
    const streams = (await (await fetch(server.httpUrl('/api/streams'))).json()) as { streams: { app: string; name: string; publisher: { protocol: string } | null }[] }
    const roomStreams = streams.streams.filter((s) => s.app === 'room').map((s) => s.name).sort()
    expect(roomStreams).toEqual(ids.map((id) => `${ROOM}-${id}`).sort())
    const player = await browser.newPage()
    await player.goto(server.httpUrl(`/?play=room/${ROOM}-${ids[0]}`))
    await waitFor(
      () => player.evaluate(async () => {
        const pc = (window as any).sluicePlayer?.pc as RTCPeerConnection | undefined
        if (!pc) return false
        return [...(await pc.getStats()).values()].some((s: any) => s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 30)
      }),
      20_000,
      'the WHEP player decoding a room stream',
    )
    await player.close()

    // NACK/PLI reached the SFU; every downlink forwarded packets
    const sfu = (await (await fetch(server.httpUrl('/api/sfu'))).json()) as any
    const participants = sfu.rooms.find((r: any) => r.name === ROOM).participants
    expect(participants.length).toBe(3)
    for (const p of participants) {
      expect(p.downlinks.length).toBe(2)
      for (const d of p.downlinks) expect(d.packetsSent).toBeGreaterThan(100)
      // on the native port, Chromium's transport-wide CC feedback drives an estimate per downlink
      if (transport === 'native') for (const d of p.downlinks) expect(d.estimateBps, JSON.stringify(d)).toBeGreaterThan(0)
      console.log(`SFU ${transport}: ${p.peerId} downlinks`, p.downlinks.map((d: any) => `${d.publisher} ${d.packetsSent} packets, estimate ${Math.round((d.estimateBps ?? 0) / 1000)} kbit/s, received ${Math.round((d.receivedBps ?? 0) / 1000)} kbit/s`).join('; '))
    }

    // cat leaves: the others get peer-left and stream-removed, which closes their PeerConnection for its stream
    const [ann, bob, cat] = peers as [(typeof peers)[0], (typeof peers)[0], (typeof peers)[0]]
    expect((await liveVideoTiles(ann.page)).sort()).toEqual(others(0))
    await cat.page.evaluate(() => (window as any).sluiceRoom.leave())
    for (const { page } of [ann, bob]) {
      await page.waitForFunction((gone) => !(window as any).sluiceRoom.peerIds.includes(gone), cat.id, { timeout: 5000 })
      expect(await peerIds(page)).not.toContain(cat.id)
    }
    await waitFor(async () => !(await fetch(server.httpUrl('/api/streams')).then((r) => r.json()) as any).streams.some((s: any) => s.name === `${ROOM}-${cat.id}`), 5000, 'the leaver unpublished')
    const stats = (await (await fetch(server.httpUrl('/api/sfu'))).json()) as any
    const left = stats.rooms[0].participants
    expect(left.map((p: any) => p.peerId).sort()).toEqual([ann.id, bob.id].sort())
    for (const p of left) expect(p.downlinks.map((d: any) => d.publisher)).not.toContain(cat.id)
    for (const p of left) expect(p.available).toEqual([p.peerId === ann.id ? bob.id : ann.id])
    for (const { page } of [ann, bob]) {
      const connections = Object.keys(await page.evaluate(() => (window as any).sluiceRoom.connections())).filter((k) => k.startsWith('sfu:'))
      expect(connections).toHaveLength(1)
      expect(connections).not.toContain(`sfu:${cat.id}`)
    }
    // ann and bob still decode each other
    const b1 = await framesDecoded(ann.page)
    await new Promise((r) => setTimeout(r, 2000))
    const b2 = await framesDecoded(ann.page)
    expect(b2[bob.id]!.framesDecoded - b1[bob.id]!.framesDecoded).toBeGreaterThan(20)
    expect((await liveVideoTiles(ann.page)).sort()).toEqual([bob.id])
    expect((await liveVideoTiles(bob.page)).sort()).toEqual([ann.id])
  }, 120_000)

  it(transport === 'native' ? 'a page ticking simulcast publishes on the native port (publish offer)' : 'a page ticking simulcast is refused the publish offer and publishes on its own PeerConnection', async () => {
    const page = await browser.newPage()
    await page.goto(server.httpUrl(`/room?room=${ROOM}-sim&mode=sfu&name=sim&simulcast=1`))
    await page.waitForFunction(() => (window as any).sluiceRoom?.joined, null, { timeout: 15_000 })
    const id = await page.evaluate(() => (window as any).sluiceRoom.peerId as string)
    await waitFor(async () => (await (await fetch(server.httpUrl('/api/streams'))).json() as any).streams.some((s: any) => s.name === `${ROOM}-sim-${id}`), 15_000, 'the simulcast page published')
    const sfu = (await (await fetch(server.httpUrl('/api/sfu'))).json()) as any
    const me = sfu.rooms.find((r: any) => r.name === `${ROOM}-sim`).participants[0]
    if (transport === 'native') {
      expect(me.uplink).toBe('native')
      await waitFor(async () => (await page.evaluate(() => (window as any).sluiceRoom.publishing?.pc)) === 'connected', 10_000, 'the publish PeerConnection connected')
    } else {
      expect(me.uplink).toBe('peer-connection')
      const errors = (await page.evaluate(() => (window as any).sluiceRoom.errors)) as { code: string; message: string; id?: string }[]
      expect(errors).toEqual([{ type: 'error', code: 'INTERNAL', id: 'publish', message: expect.stringMatching(/^SFU refused: publish offers are received on the native port only/) }])
      expect(await page.evaluate(() => (window as any).sluiceRoom.publishing)).toEqual({ simulcast: false })
    }
    await page.close()
  }, 60_000)
})
