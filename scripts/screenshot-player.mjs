#!/usr/bin/env node
// Takes the README's screenshot of the player page (docs/images/player.png): starts Sluice from
// dist/ on loopback ports, publishes ffmpeg's testsrc2 + a sine over RTMP, opens
// `/?play=live/demo` in Debian's Chromium (playwright-core), waits until video plays, and saves
// the page. Needs `npm run build`, ffmpeg and /usr/bin/chromium (CHROMIUM_PATH to override).
//
//   node scripts/screenshot-player.mjs [out.png]
import { spawn } from 'node:child_process'
import { chromium } from 'playwright-core'
import { Sluice } from '../dist/index.js'

const out = process.argv[2] ?? new URL('../docs/images/player.png', import.meta.url).pathname
const sluice = new Sluice({ rtmp: { port: 0 }, http: { port: 0 }, log: { level: 'warn' } })
await sluice.start()
const rtmp = sluice.rtmp
const http = sluice.http
const ffmpeg = spawn('ffmpeg', [
  '-hide_banner', '-v', 'error', '-re',
  '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
  '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-b:v', '2500k', '-bf', '0', '-g', '60', '-pix_fmt', 'yuv420p',
  '-c:a', 'aac', '-b:a', '128k',
  '-f', 'flv', `rtmp://127.0.0.1:${rtmp.port}/live/demo`,
], { stdio: 'inherit' })

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required', '--disable-features=WebRtcHideLocalIpsWithMdns'],
})
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  await new Promise((r) => setTimeout(r, 1500))
  await page.goto(`http://127.0.0.1:${http.port}/?play=live/demo`)
  await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 3, null, { timeout: 30_000 })
  await page.screenshot({ path: out })
  console.log(`wrote ${out}`)
} finally {
  await browser.close()
  ffmpeg.kill('SIGINT')
  await sluice.close()
}
