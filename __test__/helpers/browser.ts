/** Debian's Chromium driven by playwright-core (headless, loopback only; playwright gives it a fresh profile). */
import { chromium, type Browser } from 'playwright-core'

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
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
  connectedAt: number | null
  firstFrameAt: number | null
}
