/**
 * The room page (`/room`) in P2P mode: two Chromium pages with fake cameras join one room through
 * Sluice's signaling, each decodes the other's video (framesDecoded from getStats, growing), chat
 * goes both ways over the peers' own data channels, and a page that leaves is dropped by the other.
 * In SFU mode (with a recording stand-in for the SFU) the page offers to the peer `sfu`.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './helpers/browser'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import type { SignalMessage } from '../dist/index.js'

let server: TestServer
let browser: Browser

type Room = { peerId: string; peerIds: string[]; joined: boolean; chat: { from: string; text: string }[]; errors: unknown[] }

const room = (page: Page) => page.evaluate(() => JSON.parse(JSON.stringify((window as any).sluiceRoom)) as Room)
const frames = (page: Page) => page.evaluate(() => (window as any).sluiceRoom.framesDecoded() as Promise<Record<string, { framesDecoded: number }>>)
const connections = (page: Page) => page.evaluate(() => (window as any).sluiceRoom.connections() as Record<string, { pc: string; chat: string }>)

async function until<T>(what: string, check: () => Promise<T | false | undefined>, timeoutMs = 20_000): Promise<T> {
  const start = Date.now()
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

beforeAll(async () => {
  server = await startSluice()
  browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'])
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe('room page', () => {
  it('P2P: two pages join, each decodes the other\'s video, chat crosses both ways over data channels', async () => {
    const alice = await browser.newPage()
    const bob = await browser.newPage()
    for (const p of [alice, bob]) p.on('pageerror', (e) => console.log('page error:', e.message))
    await alice.goto(server.httpUrl('/room?room=mesh&mode=p2p&name=alice'))
    await alice.waitForFunction(() => (window as any).sluiceRoom.joined, null, { timeout: 10_000 })
    await bob.goto(server.httpUrl('/room?room=mesh&mode=p2p&name=bob'))
    await bob.waitForFunction(() => (window as any).sluiceRoom.joined, null, { timeout: 10_000 })
    const [a, b] = [await room(alice), await room(bob)]
    expect(a.peerIds).toEqual([b.peerId])
    expect(b.peerIds).toEqual([a.peerId])
    const rooms = (await (await fetch(server.httpUrl('/api/rooms'))).json()) as { rooms: unknown[] }
    expect(rooms.rooms).toEqual([expect.objectContaining({ name: 'mesh', mode: 'p2p', peers: 2 })])

    // video both ways
    const first = await until('frames decoded on both pages', async () => {
      const [fa, fb] = [await frames(alice), await frames(bob)]
      return (fa[b.peerId]?.framesDecoded ?? 0) > 0 && (fb[a.peerId]?.framesDecoded ?? 0) > 0 && { fa, fb }
    })
    await new Promise((r) => setTimeout(r, 2000))
    const [fa, fb] = [await frames(alice), await frames(bob)]
    console.log('frames decoded: alice from bob', first.fa[b.peerId]!.framesDecoded, '→', fa[b.peerId]!.framesDecoded, '; bob from alice', first.fb[a.peerId]!.framesDecoded, '→', fb[a.peerId]!.framesDecoded)
    expect(fa[b.peerId]!.framesDecoded).toBeGreaterThan(first.fa[b.peerId]!.framesDecoded + 20)
    expect(fb[a.peerId]!.framesDecoded).toBeGreaterThan(first.fb[a.peerId]!.framesDecoded + 20)

    // chat over the data channels (not over the WebSocket)
    await until('chat channels open', async () => (await connections(alice))[b.peerId]?.chat === 'open' && (await connections(bob))[a.peerId]?.chat === 'open')
    expect(await alice.evaluate(() => (window as any).sluiceRoom.sendChat('hello from alice'))).toBe(1)
    expect(await bob.evaluate(() => (window as any).sluiceRoom.sendChat('hi from bob'))).toBe(1)
    await until('chat on bob', async () => (await room(bob)).chat.length === 1)
    await until('chat on alice', async () => (await room(alice)).chat.length === 1)
    expect((await room(bob)).chat).toEqual([expect.objectContaining({ from: a.peerId, text: 'hello from alice' })])
    expect((await room(alice)).chat).toEqual([expect.objectContaining({ from: b.peerId, text: 'hi from bob' })])
    expect(server.logs.filter((l) => l.component === 'signaling' && l.msg === 'error answered')).toEqual([])
    expect((await room(alice)).errors).toEqual([])

    // bob goes away: alice is told and drops his tile
    await bob.close()
    await until('peer-left on alice', async () => (await room(alice)).peerIds.length === 0)
    expect(await alice.evaluate(() => document.querySelectorAll('figure[data-peer]').length)).toBe(1) // her own
    await alice.close()
    await waitFor(() => server.sluice.signaling.stats().rooms.length === 0, 5000, 'room removed')
  }, 60_000)

  it('SFU mode: the page sends the peer `sfu` one offer (video, audio, the chat data channel) and trickles candidates', async () => {
    const got: { peer: string; msg: SignalMessage }[] = []
    server.sluice.signaling.setSfu(() => ({ onJoin() {}, onLeave() {}, onSignal: (_room, peer, msg) => void got.push({ peer: peer.id, msg }) }))
    try {
      const page = await browser.newPage()
      await page.goto(server.httpUrl('/room?room=conf&mode=sfu'))
      await page.waitForFunction(() => (window as any).sluiceRoom.joined, null, { timeout: 10_000 })
      const { peerId, mode } = await room(page)
      expect(mode).toBe('sfu')
      await waitFor(() => got.some((g) => g.msg.type === 'candidate'), 10_000, 'a candidate for the SFU')
      const offers = got.filter((g) => g.msg.type === 'offer')
      expect(offers).toHaveLength(1)
      expect(offers[0]!.peer).toBe(peerId)
      const sdp = (offers[0]!.msg as { sdp: string }).sdp
      expect(sdp.match(/^m=\w+/gm)?.sort()).toEqual(['m=application', 'm=audio', 'm=video'])
      expect(sdp).toMatch(/a=sendonly/) // what it receives comes over a PeerConnection per announced stream
      await page.close()
    } finally {
      server.sluice.signaling.setSfu(null)
    }
  })
})
