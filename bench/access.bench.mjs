#!/usr/bin/env node
/**
 * npm run bench:access — the cost of the access decision on the publish/play path: µs per
 * `AccessControl.check()` for each built-in policy, the object every protocol asks (dist/, so
 * `npm run build:ts` first), with no in-process listener:
 *
 *   loopback      the default: the client's address is loopback
 *   open          everything accepted
 *   token         a signed expiring token (HMAC-SHA256, `sluice token`)
 *   jwt HS256     a JWT verified by jose with a shared secret, `play` claim pattern matched
 *   jwt ES256     the same with an ECDSA P-256 public key
 *   webhook       `webhooks.onPlay` POSTed to a node http server on 127.0.0.1 in this process
 *                 (keep-alive; the server's own work is inside the number)
 *
 * Each task awaits one decision per iteration (every one is checked to accept once first);
 * tinybench gives the latency distribution. Output: a table and bench/results/access.json
 * (mean/p50/p99 µs per decision, decisions/s, machine, commit). BENCH_TIME (ms per task,
 * default 2000).
 *
 *   npm run bench:access
 *   nice -n 10 node bench/access.bench.mjs
 */
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { generateKeyPairSync } from 'node:crypto'
import { Bench } from 'tinybench'
import { SignJWT, importPKCS8 } from 'jose'
import pino from 'pino'
import { currentCommit, here, root } from './lib.mjs'

const require = createRequire(import.meta.url)
const { AccessControl } = require(path.join(root, 'dist/access/access-control.js'))
const { signToken } = require(path.join(root, 'dist/access/signed-token.js'))

const TIME = Number(process.env.BENCH_TIME ?? 2000)
const log = pino({ level: 'silent' })
const webhooks = { timeoutMs: 3000 }
const request = (credential) => ({
  action: 'play', app: 'live', stream: 'cam', protocol: 'rtmp', remoteAddress: '127.0.0.1', credential,
  query: new URLSearchParams(credential ? `token=${credential}` : ''), clientId: 'bench-1',
})

// the webhook's server: answers 200 to every on_play
const hook = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 2 }).end('ok'))
})
hook.keepAliveTimeout = 60_000
await new Promise((r) => hook.listen(0, '127.0.0.1', r))
const hookUrl = `http://127.0.0.1:${hook.address().port}/on_play`

const secret = 'bench-secret-0123456789abcdef'
const exp = Math.floor(Date.now() / 1000) + 3600
const hs = await new SignJWT({ play: ['live/*'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(new TextEncoder().encode(secret))
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const es = await new SignJWT({ play: ['live/*'] }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime(exp)
  .sign(await importPKCS8(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }), 'ES256'))

const policies = [
  { name: 'loopback', access: { policy: 'loopback' }, credential: null },
  { name: 'open', access: { policy: 'open' }, credential: null },
  { name: 'token', access: { policy: 'token', token: { secret } }, credential: signToken(secret, 'play', 'live/cam', exp) },
  { name: 'jwt HS256', access: { policy: 'jwt', jwt: { secret } }, credential: hs },
  { name: 'jwt ES256', access: { policy: 'jwt', jwt: { publicKey: ec.publicKey.export({ type: 'spki', format: 'pem' }) } }, credential: es },
  { name: 'webhook', access: { policy: 'webhook' }, credential: null, webhooks: { ...webhooks, onPlay: hookUrl } },
]

const bench = new Bench({ name: 'access', time: TIME, warmupTime: 300 })
for (const p of policies) {
  const control = new AccessControl({ access: p.access, webhooks: p.webhooks ?? webhooks, log })
  const init = request(p.credential)
  const first = await control.check(init)
  if (first) throw new Error(`${p.name}: the decision refused: ${first.reason}`)
  bench.add(p.name, async () => {
    if (await control.check(init)) throw new Error(`${p.name}: refused`)
  })
}
await bench.run()
hook.close()
hook.closeAllConnections()

const rows = policies.map((p, i) => {
  const r = bench.tasks[i].result
  if (r.state !== 'completed') throw new Error(`${p.name}: ${r.state} ${r.error?.stack ?? ''}`)
  const us = (ms) => Math.round(ms * 1000 * 100) / 100
  return {
    policy: p.name, meanUs: us(r.latency.mean), p50Us: us(r.latency.p50), p99Us: us(r.latency.p99),
    decisionsPerSecond: Math.round(1000 / r.latency.mean), rmePercent: Math.round(r.latency.rme * 100) / 100, samples: r.latency.samplesCount,
  }
})

console.log('policy       µs/decision (mean)   p50     p99    decisions/s   ±rme')
for (const r of rows) {
  console.log(`${r.policy.padEnd(12)} ${String(r.meanUs).padStart(12)}   ${String(r.p50Us).padStart(8)} ${String(r.p99Us).padStart(8)} ${String(r.decisionsPerSecond).padStart(12)}   ${r.rmePercent}%`)
}
const out = path.join(here, 'results', 'access.json')
fs.writeFileSync(out, JSON.stringify({
  benchmark: 'access', date: new Date().toISOString(), commit: currentCommit(), timeBudgetMs: TIME,
  machine: { cpus: os.cpus()[0]?.model ?? 'unknown', count: os.availableParallelism(), node: process.version, osRelease: os.release(), loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) },
  note: 'AccessControl.check() from dist/, no in-process listener; webhook against a node http server on 127.0.0.1 in the same process',
  results: rows,
}, null, 2) + '\n')
console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
