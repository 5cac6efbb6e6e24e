/** Debian's Chromium driven by playwright-core (headless, loopback only; playwright gives it a fresh profile). */
import { chromium, type Browser, type Page } from 'playwright-core'

export async function launchChromium(extraArgs: string[] = [], executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      // keep ICE on loopback: no mDNS-obfuscated or other-interface candidates
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      ...extraArgs,
    ],
  })
}

/** Inbound video/audio stats of the page's player (`window.sluicePlayer`). */
export interface PlayerStats {
  video?: {
    /** The negotiated video codec's MIME type (`video/H264`, `video/VP8`...). */
    codec?: string | null
    framesDecoded: number
    frameWidth: number
    frameHeight: number
    framesDropped: number
    freezeCount: number
    packetsLost: number
    packetsReceived: number
    nackCount: number
  }
  audio?: { totalSamplesReceived: number; audioLevel: number; packetsReceived: number }
  /** What the server's sender reports (RTCP SR) said, per kind: `remote-outbound-rtp`. */
  reports?: { video?: { reportsSent: number; packetsSent: number }; audio?: { reportsSent: number; packetsSent: number } }
  connectedAt: number | null
  firstFrameAt: number | null
}

/** `getStats()` of the player page's PeerConnection: inbound video (with its codec) and audio. */
export async function playerStats(page: Page): Promise<PlayerStats> {
  return page.evaluate(async () => {
    const p = (window as any).sluicePlayer
    const out: any = { connectedAt: p.connectedAt, firstFrameAt: p.firstFrameAt }
    if (!p.pc) return out
    const report = await p.pc.getStats()
    report.forEach((r: any) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') out.video = { ...r, codec: r.codecId ? report.get(r.codecId)?.mimeType : null }
      if (r.type === 'inbound-rtp' && r.kind === 'audio') out.audio = r
      if (r.type === 'remote-outbound-rtp') (out.reports ??= {})[r.kind] = r
    })
    return JSON.parse(JSON.stringify(out))
  })
}

/** Opens Sluice's player page at `url` (`…/?play=app/name`) in `browser` and waits until its WebRTC connection is up. */
export async function openPlayer(browser: Browser, url: string, timeout = 20_000): Promise<Page> {
  const page = await browser.newPage()
  await page.goto(url)
  await page.waitForFunction(() => (window as any).sluicePlayer?.connectedAt, null, { timeout })
  return page
}
