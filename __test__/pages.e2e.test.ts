/**
 * The pages a new user meets, in Debian's Chromium: one navigation bar across player, publish,
 * room and dashboard; hints with the server's real host and RTMP port (never a literal `HOST`);
 * placeholders instead of empty video areas; the player page settles when the stream asked for is
 * missing and plays it once a real ffmpeg publisher makes it live; the stream list shows its
 * player count and uptime.
 */
import { mkdtempSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, playerStats } from './helpers/browser'
import { makeSource, publish, run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-pages-'))
const source = join(dir, 'source.flv')
let server: TestServer
let browser: Browser
const procs: Proc[] = []

beforeAll(async () => {
  await makeSource(source, 30)
  server = await startSluice({ webrtc: { bindAddress: '127.0.0.1' } })
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')
  await browser?.close()
  await server?.close()
})

describe('pages', () => {
  it('share one navigation bar, with the current page marked', async () => {
    const page = await browser.newPage()
    for (const [path, label] of [['/', 'Player'], ['/publish', 'Publish'], ['/cohost', 'Co-host'], ['/room', 'Rooms'], ['/dashboard', 'Dashboard']]) {
      await page.goto(server.httpUrl(path!))
      expect(await page.locator('nav.site a.item').allInnerTexts()).toEqual(['Player', 'Publish', 'Co-host', 'Rooms', 'Dashboard'])
      expect(await page.locator('nav.site a[aria-current=page]').innerText()).toBe(label)
    }
    await page.close()
  })

  it('show the real host and RTMP port in their hints, from the Host header', async () => {
    const port = server.sluice.rtmp.port
    const player = await (await fetch(server.httpUrl('/'))).text()
    expect(player).toContain(`rtmp://127.0.0.1:${port}/live/test`)
    const publishPage = await (await fetch(server.httpUrl('/publish'))).text()
    expect(publishPage).toContain(`rtmp://127.0.0.1:${port}/app/name`)
    expect(publishPage).toContain(`http://127.0.0.1:${server.sluice.http.port}/?play=app/name`)
    for (const html of [player, publishPage]) expect(html).not.toMatch(/HOST|\{\{/)
    // another name the browser used; a hostile Host header is not echoed
    const get = (path: string, host: string) =>
      new Promise<string>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: server.sluice.http.port, path, headers: { Host: host } }, (res) => {
          let body = ''
          res.on('data', (d: Buffer) => (body += d))
          res.on('end', () => resolve(body))
        })
        req.on('error', reject)
      })
    const named = await get('/', 'media.example:8080')
    expect(named).toContain(`rtmp://media.example:${port}/live/test`)
    const hostile = await get('/publish', '"><script>x</script>')
    expect(hostile).not.toContain('<script>x')
    expect(hostile).toContain(`rtmp://localhost:${port}/app/name`)
  })

  it('show placeholders instead of empty video areas', async () => {
    const page = await browser.newPage()
    await page.goto(server.httpUrl('/'))
    expect(await page.locator('#placeholder').isVisible()).toBe(true)
    expect(await page.locator('#placeholder').innerText()).toMatch(/Nothing playing/)
    await page.goto(server.httpUrl('/room'))
    const before = await page.evaluate(() => getComputedStyle(document.getElementById('tiles')!, '::before').content)
    expect(before).toMatch(/No video yet/)
    await page.goto(server.httpUrl('/publish'))
    expect(await page.locator('#placeholder').isVisible()).toBe(true)
    await page.close()
  })

  it('player: a missing stream leaves the page settled, then plays once published; the list shows players and uptime', async () => {
    const page = await browser.newPage()
    await page.goto(server.httpUrl('/?play=live/later'))
    await page.waitForFunction(() => (window as any).sluicePlayer.state === 'missing', null, { timeout: 10_000 })
    expect(await page.locator('#placeholder').innerText()).toMatch(/live\/later is not live/)
    expect(await page.locator('#status').innerText()).toMatch(/not live/)
    const pub = publish(source, server.rtmpUrl('live/later'))
    procs.push(pub)
    await waitFor(() => server.sluice.hub.get('live', 'later')?.isLive, 10_000, 'publisher')
    // the list's refresh (every 3 s) sees it live and plays it over WHEP
    await page.waitForFunction(() => (window as any).sluicePlayer.state === 'playing', null, { timeout: 20_000 })
    const deadline = Date.now() + 15_000
    let decoded = 0
    while (Date.now() < deadline && decoded < 10) {
      decoded = (await playerStats(page)).video?.framesDecoded ?? 0
      await new Promise((r) => setTimeout(r, 300))
    }
    expect(decoded).toBeGreaterThanOrEqual(10)
    expect(await page.locator('#placeholder').isVisible()).toBe(false)
    // an RTMP player too, then the list shows 2 players and the uptime
    const rtmpPlayer = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', server.rtmpUrl('live/later'), '-c', 'copy', '-f', 'null', '-'])
    procs.push(rtmpPlayer)
    const item = page.locator('#streams li[data-stream="live/later"]')
    await page.waitForFunction(() => /2 players/.test(document.querySelector('#streams li[data-stream="live/later"]')?.textContent ?? ''), null, { timeout: 10_000 })
    expect(await item.innerText()).toMatch(/2 players · up \d+s/)
    await page.close()
  }, 60_000)
})
