/** Merged writes for RTMP players: one joined Buffer per window, shared by identical sequences. */
import { describe, expect, it } from 'vitest'
import { JoinCache, scheduleMergedFlush, type MergedWriter } from '../ts/rtmp/merged-writes'

const bytes = (...v: number[]) => Buffer.from(v)
const total = (parts: Buffer[]) => parts.reduce((n, b) => n + b.length, 0)

describe('JoinCache', () => {
  it('joins a sequence once and hands the same Buffer to the same sequence of Buffers', () => {
    const [a, b, c] = [bytes(1, 2), bytes(3), bytes(4, 5, 6)]
    const joins = new JoinCache()
    const first = joins.join([a, b, c], 6)
    expect([...first]).toEqual([1, 2, 3, 4, 5, 6])
    expect(joins.join([a, b, c], 6)).toBe(first)
    // Equal bytes in other Buffers are another sequence: identity, not content, is shared.
    const other = joins.join([a, bytes(3), c], 6)
    expect(other).not.toBe(first)
    expect([...other]).toEqual([1, 2, 3, 4, 5, 6])
    expect(joins.join([a, b], 3)).not.toBe(first)
    expect([...joins.join([a, b], 3)]).toEqual([1, 2, 3])
  })

  it('stays correct past the sequences it keeps per first Buffer', () => {
    const head = bytes(9)
    const joins = new JoinCache()
    for (let i = 0; i < 10; i++) {
      const parts = [head, bytes(i), bytes(i, i)]
      expect([...joins.join(parts, total(parts))]).toEqual([9, i, i, i])
    }
  })
})

describe('scheduleMergedFlush', () => {
  const writer = (log: Array<[string, JoinCache]>, name: string): MergedWriter => ({
    flushMerged: (joins) => void log.push([name, joins]),
  })

  it('flushes every writer of a window once, together, with one JoinCache', async () => {
    const log: Array<[string, JoinCache]> = []
    const [w1, w2] = [writer(log, 'w1'), writer(log, 'w2')]
    const t0 = performance.now()
    scheduleMergedFlush(w1, 30)
    scheduleMergedFlush(w2, 30)
    scheduleMergedFlush(w1, 30)
    await new Promise((r) => setTimeout(r, 10))
    expect(log).toEqual([])
    await new Promise((r) => setTimeout(r, 60))
    expect(log.map(([n]) => n)).toEqual(['w1', 'w2'])
    expect(log[0]![1]).toBe(log[1]![1])
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29)
    // The next write opens a new window with a fresh cache.
    scheduleMergedFlush(w1, 30)
    await new Promise((r) => setTimeout(r, 60))
    expect(log.map(([n]) => n)).toEqual(['w1', 'w2', 'w1'])
    expect(log[2]![1]).not.toBe(log[0]![1])
  })

  it('with delay 0 flushes at the end of this event-loop turn', async () => {
    const log: Array<[string, JoinCache]> = []
    scheduleMergedFlush(writer(log, 'now'), 0)
    expect(log).toEqual([])
    await new Promise((r) => setImmediate(r))
    expect(log.map(([n]) => n)).toEqual(['now'])
  })
})
