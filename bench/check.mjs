#!/usr/bin/env node
// Regression check for the chunk benchmark: our demux throughput relative to node-media-server's
// parser (the `ratio` of each row that has a peer), against the committed baseline.
//
//   npm run bench:check        short run (BENCH_TIME=1000), compare with bench/baseline/chunk.json,
//                              exit 1 when a ratio falls more than BENCH_TOLERANCE (default 0.25 =
//                              25 %) below its baseline
//   npm run bench:baseline     rewrite bench/baseline/chunk.json (BENCH_TIME=2000); commit it
//
// Ratios (of medians), not MB/s: both sides run in the same process on the same bytes, so machine speed and
// load mostly cancel out and a baseline made on one machine is usable on another.
// Neither mode touches bench/results/chunk.json (the bench writes its JSON to a temp file).

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { here } from './lib.mjs'

const BASELINE = path.join(here, 'baseline', 'chunk.json')
const writeBaseline = process.argv.includes('--write-baseline')
const tolerance = Number(process.env.BENCH_TOLERANCE ?? 0.25)
if (!(tolerance >= 0 && tolerance < 1)) {
  console.error(`BENCH_TOLERANCE must be a fraction in [0, 1), e.g. 0.25; got ${process.env.BENCH_TOLERANCE}`)
  process.exit(2)
}

const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-')), 'chunk.json')
const run = spawnSync(process.execPath, ['--expose-gc', path.join(here, 'chunk.bench.mjs')], {
  stdio: 'inherit',
  env: {
    ...process.env,
    BENCH_TIME: process.env.BENCH_TIME ?? (writeBaseline ? '2000' : '1000'),
    BENCH_DIAGNOSTICS: '0',
    BENCH_OUT: out,
  },
})
if (run.status !== 0) {
  console.error(`\nbench failed (exit ${run.status ?? run.signal})`)
  process.exit(2)
}
const current = JSON.parse(fs.readFileSync(out, 'utf8'))
fs.rmSync(path.dirname(out), { recursive: true, force: true })
const compared = current.results.filter((r) => typeof r.ratio === 'number')

if (writeBaseline) {
  if (current.seededRegression) {
    console.error('\nrefusing to write a baseline with BENCH_SEED_REGRESSION=1')
    process.exit(2)
  }
  const baseline = {
    benchmark: current.benchmark,
    about: 'ratio = our median MB/s / peer median MB/s, same bytes and reads; written by `npm run bench:baseline`, checked by `npm run bench:check`',
    peer: current.peer,
    fixture: current.fixture,
    timeBudgetMs: current.timeBudgetMs,
    loadAverage: current.loadAverage,
    rows: compared.map((r) => ({
      name: r.name, ratio: r.ratio, mbPerSecMedian: r.mbPerSecMedian, mbPerSec: r.mbPerSec, rmePercent: r.rmePercent,
      peer: { name: r.peer.name, mbPerSecMedian: r.peer.mbPerSecMedian, mbPerSec: r.peer.mbPerSec, rmePercent: r.peer.rmePercent },
    })),
    machine: current.machine,
    commit: current.commit,
    date: current.date,
  }
  fs.mkdirSync(path.dirname(BASELINE), { recursive: true })
  fs.writeFileSync(BASELINE, JSON.stringify(baseline, null, 2) + '\n')
  console.log(`\nwrote ${path.relative(process.cwd(), BASELINE)}:`)
  for (const r of baseline.rows) console.log(`  ${r.name}: ${r.ratio.toFixed(2)}× (p50 ${r.mbPerSecMedian.toFixed(0)} vs ${r.peer.mbPerSecMedian.toFixed(0)} MB/s)`)
  process.exit(0)
}

if (!fs.existsSync(BASELINE)) {
  console.error(`\nno baseline at ${path.relative(process.cwd(), BASELINE)}: run npm run bench:baseline and commit it`)
  process.exit(2)
}
const baseline = JSON.parse(fs.readFileSync(BASELINE, 'utf8'))
if (baseline.peer?.version !== current.peer?.version) {
  console.log(`\nnote: baseline peer is node-media-server ${baseline.peer?.version}, this run uses ${current.peer?.version}`)
}

const fmtRatio = (x) => (typeof x === 'number' ? `${x.toFixed(2)}×` : '-')
const table = [['row', 'baseline', 'current', 'change', 'p50 MB/s ours / peer', 'result']]
let failed = 0
for (const b of baseline.rows) {
  const c = compared.find((r) => r.name === b.name)
  if (!c) {
    failed++
    table.push([b.name, fmtRatio(b.ratio), '-', '-', '-', 'FAIL (row missing)'])
    continue
  }
  const change = c.ratio / b.ratio - 1
  const ok = c.ratio >= b.ratio * (1 - tolerance)
  if (!ok) failed++
  table.push([
    b.name, fmtRatio(b.ratio), fmtRatio(c.ratio), `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%`,
    `${c.mbPerSecMedian.toFixed(0)} / ${c.peer.mbPerSecMedian.toFixed(0)}`, ok ? 'PASS' : 'FAIL',
  ])
}
for (const c of compared) {
  if (!baseline.rows.some((b) => b.name === c.name)) table.push([c.name, '-', fmtRatio(c.ratio), '-', `${c.mbPerSecMedian.toFixed(0)} / ${c.peer.mbPerSecMedian.toFixed(0)}`, 'new (not checked)'])
}
const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)))
const line = (row) => row.map((cell, i) => (i === 0 || i === row.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd()
console.log(`\nbench:check — ratio to node-media-server vs ${path.relative(process.cwd(), BASELINE)} ` +
  `(baseline ${baseline.commit?.slice(0, 10) ?? '?'} ${baseline.date?.slice(0, 10) ?? ''}), fail below baseline × ${(1 - tolerance).toFixed(2)}` +
  `${current.seededRegression ? ' [BENCH_SEED_REGRESSION=1]' : ''}`)
console.log(line(table[0]))
console.log(widths.map((w) => '-'.repeat(w)).join('  '))
for (const row of table.slice(1)) console.log(line(row))
console.log(failed ? `\nFAIL: ${failed} row(s) regressed more than ${(tolerance * 100).toFixed(0)}% against the baseline` : '\nPASS')
process.exit(failed ? 1 : 0)
