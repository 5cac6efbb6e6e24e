/**
 * Send-side bandwidth estimation for native WHEP viewers (GCC from transport-wide CC feedback,
 * `sluice_rtp::bwe`), against real Chromium viewers on a real bandwidth limit: one Chromium runs
 * inside a network namespace this test creates (a veth pair, 10.214.<n>.0/30), behind `tc tbf`
 * at 400 kbit/s on the root side of the pair (Sluice → viewer); another plays over the unlimited
 * local path. ffmpeg publishes 1.2 Mbit/s over RTMP. The limited viewer's estimate must come down
 * near 400 kbit/s, the other's stay at least at the stream's rate; when the limit is lifted the
 * first climbs back within 15 s; what is sent to it stays under twice the stream's rate (NACK
 * answers within the estimate, PLI replays rate-limited), and its retransmissions come as RTX. The estimates over time are printed. Needs root, `ip` and `tc`;
 * no traffic leaves the veth pair.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'
import { launchChromium, openPlayer, playerStats } from './helpers/browser'
import { chromiumInNamespace, createVethNamespace, type VethNamespace } from './helpers/netns'

const dir = mkdtempSync(join(tmpdir(), 'sluice-bwe-'))
const LIMIT = '400kbit'
let net: VethNamespace
let server: TestServer
let pub: Proc
const browsers: Browser[] = []

beforeAll(async () => {
  net = createVethNamespace('swb', 214)
  // Sluice → viewer limited: a token bucket on the root side's egress, 300 ms of queue
  net.sh('tc', ['qdisc', 'add', 'dev', net.hostSide, 'root', 'tbf', 'rate', LIMIT, 'burst', '8kb', 'latency', '300ms'])
  // The namespace viewer is not on loopback: the default policy (`loopback`) would refuse it.
  server = await startSluice({
    http: { host: net.hostIp }, access: { policy: 'open' },
    webrtc: { transport: 'native', udpPort: 0, bindAddress: net.hostIp, announcedAddresses: [net.hostIp] },
  })
  pub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine', '-t', '90',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', '1200k', '-maxrate', '1200k', '-bufsize', '600k', '-g', '60', '-bf', '0',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', server.rtmpUrl('live/bwe')])
  await waitFor(() => server.sluice.hub.get('live', 'bwe')?.gop.length, 10_000, 'publisher')
}, 60_000)

afterAll(async () => {
  for (const b of browsers) await b.close().catch(() => {})
  pub?.child.kill('SIGKILL')
  await server?.close()
  net?.remove()
})

/** Chromium inside the namespace. */
const namespacedChromium = () => chromiumInNamespace(net, dir)

function play(browser: Browser): Promise<Page> {
  browsers.push(browser)
  return openPlayer(browser, `http://${net.hostIp}:${server.sluice.http.port}/?play=live/bwe`)
}

/**
 * From the clients list: the namespace viewer's estimate and receive rate (bit/s), the other's,
 * then the namespace viewer's bytes sent and retransmissions refused.
 */
async function estimates(): Promise<[number, number, number, number, number, number]> {
  await server.sluice.whep.refreshCounters()
  const viewers = server.sluice.clients.list().filter((c) => c.protocol === 'whep')
  const limited = viewers.find((c) => c.remoteAddress.startsWith(`${net.nsIp}:`))
  const open = viewers.find((c) => !c.remoteAddress.startsWith(`${net.nsIp}:`))
  const n = (c: typeof limited, k: string) => Number(c?.details?.[k] ?? 0)
  return [n(limited, 'estimateBps'), n(limited, 'receivedBps'), n(open, 'estimateBps'), n(open, 'receivedBps'), limited?.bytesOut ?? 0, n(limited, 'retransmissionsRefused')]
}

describe('send-side bandwidth estimation (native WHEP transport, tc tbf in a network namespace)', () => {
  it(`a viewer behind ${LIMIT} is estimated near it, an unlimited one at least at the stream's rate; lifting the limit, the estimate climbs back within 15 s`, async () => {
    const limitedPage = await play(await launchChromium([], namespacedChromium()))
    await play(await launchChromium())
    const timeline: string[] = []
    const kbit = (bps: number) => Math.round(bps / 1000)
    let last = await estimates()
    const bytesAtStart = last[4]
    for (let s = 1; s <= 12; s++) {
      await new Promise((r) => setTimeout(r, 1000))
      last = await estimates()
      timeline.push(`${s}s limited ${kbit(last[0])} (received ${kbit(last[1])}) open ${kbit(last[2])} (received ${kbit(last[3])})`)
    }
    const [limited, , open, openReceived, bytesAtEnd, refused] = last
    const sentBps = ((bytesAtEnd - bytesAtStart) * 8) / 12
    // Chromium offers RTX (RFC 4588): NACKed packets come back as RTX, which it counts
    const video = (await playerStats(limitedPage)).video as Record<string, number> | undefined
    timeline.push(`limited viewer's Chromium: ${video?.packetsReceived} video packets, ${video?.retransmittedPacketsReceived} of them retransmissions (RTX), ${video?.nackCount} NACKs sent`)
    timeline.push(`limited viewer: ${kbit(sentBps)} kbit/s sent on average (stream and retransmissions), ${refused} retransmissions refused by the budget`)
    net.sh('tc', ['qdisc', 'del', 'dev', net.hostSide, 'root'])
    let climbedAt = 0
    for (let s = 1; s <= 15 && !climbedAt; s++) {
      await new Promise((r) => setTimeout(r, 1000))
      const e = await estimates()
      timeline.push(`lifted +${s}s limited ${kbit(e[0])} (received ${kbit(e[1])}) open ${kbit(e[2])}`)
      if (e[0] >= 1_000_000) climbedAt = s
    }
    console.log(`bandwidth estimates, kbit/s (stream ~1 260 kbit/s):\n${timeline.join('\n')}`)
    expect(limited, 'the limited viewer\'s estimate after 12 s').toBeGreaterThan(150_000)
    expect(limited).toBeLessThan(700_000)
    expect(open, 'the unlimited viewer\'s estimate').toBeGreaterThan(1_000_000)
    // NACK answers stay within the estimate and PLIs are answered with a GOP replay at most every
    // 2 s: the narrow path gets the stream and some repair, not a flood (without the budget,
    // ~100 Mbit/s of retransmissions went to it)
    expect(sentBps, 'bit/s sent to the limited viewer').toBeLessThan(2 * openReceived)
    expect(video?.retransmittedPacketsReceived, 'RTX packets Chromium received').toBeGreaterThan(0)
    expect(climbedAt, 'seconds after the limit was lifted until the estimate passed 1 Mbit/s').toBeGreaterThan(0)
  }, 120_000)

  it('on the datachannel transport (no transport-cc estimate there), a viewer behind 400 kbit/s is sent less than three times the stream (itself, GOP replays, NACK answers within the media\'s rate), not a flood', async () => {
    net.sh('tc', ['qdisc', 'replace', 'dev', net.hostSide, 'root', 'tbf', 'rate', LIMIT, 'burst', '8kb', 'latency', '300ms'])
    const dc = await startSluice({ http: { host: net.hostIp }, access: { policy: 'open' }, webrtc: { transport: 'datachannel', bindAddress: net.hostIp } })
    const dcPub = run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine', '-t', '60',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', '1200k', '-maxrate', '1200k', '-bufsize', '600k', '-g', '60', '-bf', '0',
      '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', dc.rtmpUrl('live/bwe')])
    try {
      await waitFor(() => dc.sluice.hub.get('live', 'bwe')?.gop.length, 10_000, 'publisher')
      const browser = await launchChromium([], namespacedChromium())
      browsers.push(browser)
      const page = await browser.newPage()
      await page.goto(`http://${net.hostIp}:${dc.sluice.http.port}/?play=live/bwe`)
      await page.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout: 20_000 })
      const viewer = async () => {
        await dc.sluice.whep.refreshCounters()
        return dc.sluice.clients.list().find((c) => c.protocol === 'whep')
      }
      await new Promise((r) => setTimeout(r, 2000))
      const before = await viewer()
      const streamBps: number[] = []
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 1000))
        streamBps.push(dc.sluice.hub.get('live', 'bwe')!.bitrate())
      }
      const after = await viewer()
      const sentBps = (((after?.bytesOut ?? 0) - (before?.bytesOut ?? 0)) * 8) / 10
      const stream = streamBps.reduce((a, b) => a + b, 0) / streamBps.length
      const refused = Number(after?.details?.retransmissionsRefused ?? 0)
      console.log(`datachannel transport, viewer behind ${LIMIT}: ${Math.round(sentBps / 1000)} kbit/s sent on average for a ${Math.round(stream / 1000)} kbit/s stream, ${refused} retransmissions refused by the budget`)
      expect(refused, 'retransmissions refused').toBeGreaterThan(0)
      // the stream, GOP replays (at most every 2 s) and retransmissions (at most the media's rate)
      expect(sentBps).toBeLessThan(3 * stream)
    } finally {
      dcPub.child.kill('SIGKILL')
      await dc.close()
      net.sh('tc', ['qdisc', 'del', 'dev', net.hostSide, 'root'])
    }
  }, 120_000)
})
