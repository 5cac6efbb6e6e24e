// Send-side bandwidth estimation cost (`sluice_rtp::bwe`, GCC from transport-wide CC feedback)
// through the N-API binding: what one viewer's estimate costs. A viewer of a 2.5 Mbit/s stream
// (1200-byte packets, ~260 a second) sends a transport-cc feedback every 50 ms (~13 packets each,
// Chromium's rate); per feedback the sender records its ~13 sends (`sent`) and takes the
// feedback (`feedback`: compound RTCP parse, the trendline detector, AIMD, loss bound). Two paths:
// an unlimited one (arrival = send + 20 ms ± 1 ms) and a 1.5 Mbit/s bottleneck where a queue
// builds and packets drop (overuse, decreases, loss). No peer runs beside it: werift's
// SenderBandwidthEstimator keeps one sent packet at a time, so it estimates nothing from
// Chromium-rate feedback to compare with.
//
//   node bench/bwe.bench.mjs   (BENCH_TIME ms per task, default 2000)
// Output: a table and results/bwe.json (feedbacks/s, µs per feedback with its sends, and the
// share of one core 1000 viewers' estimates take at 20 feedbacks a second each).

import { Bench } from 'tinybench'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { binding, here, currentCommit } from './lib.mjs'

const { BandwidthEstimator, writeRtcp } = binding
const TIME = Number(process.env.BENCH_TIME ?? 2000)
const FEEDBACKS = 2000 // 100 s of feedback, replayed in a loop
const PER_FEEDBACK = 13
const SEND_INTERVAL_US = 3846 // 260 packets/s

/** The feedback packets of 100 s on a path of `capacityBps` (Infinity: no bottleneck). */
function feedbackStream(capacityBps) {
  let seed = 7
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
  const packets = []
  let linkFree = 0
  for (let f = 0; f < FEEDBACKS; f++) {
    const arrivals = []
    for (let i = 0; i < PER_FEEDBACK; i++) {
      const sent = (f * PER_FEEDBACK + i) * SEND_INTERVAL_US
      let arrival = sent + 20_000 + Math.round(random() * 1000)
      if (Number.isFinite(capacityBps)) {
        const departure = Math.max(sent, linkFree) + (1200 * 8 * 1e6) / capacityBps
        if (departure - sent > 300_000) { arrivals.push(null); continue } // queue full: dropped
        linkFree = departure
        arrival = Math.round(departure + 20_000)
      }
      arrivals.push(arrival + 5_000_000)
    }
    const first = arrivals.find((a) => a !== null) ?? 5_000_000 + f * 50_000
    packets.push(writeRtcp([{ type: 'twcc', senderSsrc: 1, mediaSsrc: 2, baseSequence: (f * PER_FEEDBACK) & 0xffff, referenceTime: Math.floor(first / 64_000), feedbackCount: f & 0xff, arrivalsUs: arrivals }]))
  }
  return packets
}

const bench = new Bench({ time: TIME, warmupTime: 300 })
const paths = [['unlimited path', Infinity], ['1.5 Mbit/s bottleneck', 1_500_000]]
const checks = []
for (const [label, capacity] of paths) {
  const stream = feedbackStream(capacity)
  let bwe = new BandwidthEstimator()
  let f = 0
  let last = null
  bench.add(`estimate, ${label}`, () => {
    if (f === FEEDBACKS) { f = 0; bwe = new BandwidthEstimator() }
    bwe.sent((f * PER_FEEDBACK) & 0xffff, PER_FEEDBACK, f * PER_FEEDBACK * SEND_INTERVAL_US, SEND_INTERVAL_US, 1200)
    last = bwe.feedback(stream[f], (f + 1) * PER_FEEDBACK * SEND_INTERVAL_US + 20_000) ?? last
    f++
  })
  checks.push({ label, capacity, last: () => last })
}

await bench.run()
const rows = []
for (const c of checks) {
  const t = bench.tasks.find((x) => x.name === `estimate, ${c.label}`)
  const hz = t.result?.throughput?.mean ?? t.result?.hz ?? 1000 / (t.result?.latency?.mean ?? t.result?.mean)
  const last = c.last()
  if (!last) throw new Error(`no estimate on the ${c.label}`)
  rows.push({
    name: t.name, feedbacksPerSec: Math.round(hz), usPerFeedback: Math.round((1e6 / hz) * 100) / 100,
    coreShareFor1000Viewers: `${((1000 * 20 / hz) * 100).toFixed(2)} %`, lastEstimateKbps: Math.round(last.estimateBps / 1000),
  })
}
console.table(rows)
const out = { benchmark: 'bwe', date: new Date().toISOString(), commit: currentCommit(), machine: { cpus: os.cpus()[0]?.model, count: os.cpus().length, node: process.version }, packetsPerFeedback: PER_FEEDBACK, results: rows }
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results', 'bwe.json'), JSON.stringify(out, null, 1) + '\n')
