// Runs benchmark tasks in rounds, so that a ratio between two tasks is taken between runs a
// moment apart. On a shared machine speed drifts over seconds (other work, a peer's JIT state:
// node-media-server's 128 B demux runs at ~0.4 or ~0.7 GB/s for stretches of a few seconds), so
// one long run per task lets a burst land on one side of a ratio only; the median of per-round
// ratios outlasts it. Used by chunk, srtp and rtp (bench/README.md, "Reading the numbers").

import { Bench } from 'tinybench'

/** The median of `xs` (the upper one for an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]

/**
 * Runs `list` ({name, fn}) in `rounds` rounds of `time / rounds` ms per task, the tasks one after
 * the other in each round (a forced GC before each), with `warmup` ms of warm-up per task in the
 * first round and a quarter of it after. Returns per task, in `list` order (latencies in ms):
 * `{ mean, p50, rme, samples, p50s }`: the mean of the rounds' means, the median of their
 * medians, the median of their relative margins of error (%), the iterations run, and each
 * round's median. Throws when a task throws.
 */
export async function runRounds(name, list, { time, rounds, warmup }) {
  const out = list.map(() => ({ means: [], p50s: [], rmes: [], samples: 0 }))
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ name: `${name} ${round + 1}/${rounds}`, time: time / rounds, warmupTime: round === 0 ? warmup : warmup / 4 })
    for (const t of list) bench.add(t.name, t.fn, { beforeAll: () => globalThis.gc?.() })
    await bench.run()
    bench.tasks.forEach((task, i) => {
      const r = task.result
      if (r.state !== 'completed') throw new Error(`${list[i].name}: ${r.state} ${r.error?.stack ?? r.error ?? ''}`)
      out[i].means.push(r.latency.mean)
      out[i].p50s.push(r.latency.p50)
      out[i].rmes.push(r.latency.rme)
      out[i].samples += r.latency.samplesCount
    })
  }
  return out.map((o) => ({
    mean: o.means.reduce((a, b) => a + b, 0) / rounds,
    p50: median(o.p50s),
    rme: median(o.rmes),
    samples: o.samples,
    p50s: o.p50s,
  }))
}

/** Per round, how many times faster `ours` ran than `peer` (`p50s` from `runRounds`; `work`: units per iteration of each), and their median. */
export function ratioPerRound(ours, peer, oursWork = 1, peerWork = 1) {
  const perRound = ours.p50s.map((p50, i) => (oursWork / p50) / (peerWork / peer.p50s[i]))
  return { perRound, median: median(perRound) }
}
