/**
 * The dashboard (`/dashboard`) in Debian's Chromium: it lists a live RTMP stream (a real ffmpeg
 * publisher) with its codecs, resolution and its two ffmpeg RTMP players; its graphs fill from
 * the history endpoint; the kick button of one player disconnects exactly that one (its ffmpeg
 * process ends, it leaves `GET /api/clients`, the other plays on). A screenshot is kept as
 * `__test__/artifacts/dashboard.png`. With an `admin.token` configured, the page asks for the
 * token, keeps it in sessionStorage and then shows the clients.
 */
import { mkdirSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './helpers/browser'
import { makeSource, publish, run, type Proc } from './helpers/ffmpeg'
import { startSluice, waitFor, type TestServer } from './helpers/sluice'

const dir = mkdtempSync(join(tmpdir(), 'sluice-dashboard-'))
const source = join(dir, 'source.flv')
const artifacts = join(__dirname, 'artifacts')
let server: TestServer
let browser: Browser
const procs: Proc[] = []

interface Client { id: string; protocol: string; role: string; app: string; stream: string }

const playRtmp = (url: string) => {
  const p = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', url, '-c', 'copy', '-f', 'null', '-'])
  procs.push(p)
  return p
}
async function clients(s: TestServer, headers: Record<string, string> = {}): Promise<Client[]> {
  const r = await fetch(s.httpUrl('/api/clients'), { headers })
  expect(r.status).toBe(200)
  return (await r.json()) as Client[]
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  await makeSource(source, 40)
  server = await startSluice({ hub: { unpublishGraceMs: 300 } })
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')
  await browser?.close()
  await server?.close()
})

describe('dashboard', () => {
  it('lists a live RTMP stream and its players; the kick button disconnects exactly one', async () => {
    const pub = publish(source, server.rtmpUrl('live/dash'))
    procs.push(pub)
    await waitFor(() => server.sluice.hub.get('live', 'dash')?.isLive && server.sluice.hub.get('live', 'dash')!.gop.length > 0, 10_000, 'publisher')
    const first = playRtmp(server.rtmpUrl('live/dash'))
    const firstId = (await waitFor(() => server.sluice.clients.list().find((c) => c.role === 'player'), 10_000, 'first player')).id
    const second = playRtmp(server.rtmpUrl('live/dash'))
    await waitFor(() => server.sluice.clients.list().filter((c) => c.role === 'player').length === 2, 10_000, 'second player')
    const secondId = server.sluice.clients.list().find((c) => c.role === 'player' && c.id !== firstId)!.id

    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } })
    const pageErrors: string[] = []
    page.on('pageerror', (e) => pageErrors.push(String(e)))
    await page.goto(server.httpUrl('/dashboard'))
    // the stream, with its codecs and resolution, and its two RTMP players
    const row = page.locator('tr[data-stream="live/dash"]')
    await row.waitFor({ timeout: 10_000 })
    await page.waitForFunction(() => document.querySelectorAll('#clients tr[data-client]').length === 3, null, { timeout: 10_000 })
    const rowText = await row.innerText()
    expect(rowText).toMatch(/avc1|H264/i)
    expect(rowText).toMatch(/320×240/)
    expect(rowText).toMatch(/mp4a|AAC/i)
    expect(rowText).toMatch(/rtmp 2/)
    for (const id of [firstId, secondId]) expect(await page.locator(`tr[data-client="${id}"]`).innerText()).toMatch(/player\s+rtmp\s+live\/dash/)
    // loopback without admin.token: never asked for a token
    expect(await page.evaluate(() => (window as any).sluiceDashboard.asked)).toBe(0)
    expect(await page.locator('#auth').isVisible()).toBe(false)
    // the graphs get points (one every 2 s) and the nav bar marks the page
    await page.waitForFunction(() => (window as any).sluiceDashboard.history.length >= 3, null, { timeout: 15_000 })
    expect(await page.locator('nav.site a.active').innerText()).toBe('Dashboard')
    const shot = join(artifacts, 'dashboard.png')
    await page.screenshot({ path: shot, fullPage: true })
    expect(statSync(shot).size).toBeGreaterThan(20_000)

    // kick the first player from the page
    await page.locator(`tr[data-client="${firstId}"] button.kick`).click()
    const exited = await Promise.race([first.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 10_000))])
    expect(exited).toBe('exited')
    const listed = await clients(server)
    expect(listed.map((c) => c.id)).not.toContain(firstId)
    expect(listed.map((c) => c.id)).toContain(secondId)
    await page.waitForFunction((id) => !document.querySelector(`tr[data-client="${id}"]`), firstId, { timeout: 5000 })
    await page.waitForFunction(() => document.querySelectorAll('#clients tr[data-client]').length === 2, null, { timeout: 5000 })
    // the other player plays on
    await new Promise((r) => setTimeout(r, 1500))
    expect(second.child.exitCode).toBe(null)
    expect(server.sluice.clients.get(secondId)).toBeDefined()
    expect(server.sluice.clients.kicks).toBe(1)
    expect(pageErrors).toEqual([])
    await page.close()
  }, 60_000)

  it('with admin.token: asks for the token, keeps it in sessionStorage, then shows the clients', async () => {
    const token = 'dashboard-admin-token-0123456789'
    const guarded = await startSluice({ admin: { token } })
    const pub = publish(source, guarded.rtmpUrl('live/guarded'))
    procs.push(pub)
    try {
      await waitFor(() => guarded.sluice.clients.size === 1, 10_000, 'publisher')
      expect((await fetch(guarded.httpUrl('/api/clients'))).status).toBe(401)
      const page = await browser.newPage()
      await page.goto(guarded.httpUrl('/dashboard'))
      await page.locator('#auth').waitFor({ state: 'visible', timeout: 10_000 })
      expect(await page.locator('#clients tr[data-client]').count()).toBe(0)
      await page.fill('#token', token)
      await page.click('#auth button[type=submit]')
      await page.locator('#clients tr[data-client]').first().waitFor({ timeout: 10_000 })
      expect(await page.locator('#clients tr[data-client]').innerText()).toMatch(/publisher\s+rtmp\s+live\/guarded/)
      expect(await page.evaluate(() => sessionStorage.getItem('sluice.adminToken'))).toBe(token)
      expect(await page.locator('#auth').isVisible()).toBe(false)
      // a reload keeps the token: not asked again
      await page.reload()
      await page.locator('#clients tr[data-client]').first().waitFor({ timeout: 10_000 })
      expect(await page.evaluate(() => (window as any).sluiceDashboard.asked)).toBe(0)
      await page.close()
    } finally {
      pub.child.kill('SIGKILL')
      await guarded.close()
    }
  }, 60_000)
})
