/**
 * Payload slabs (crates/rtmp/src/chunk/arena.rs) seen from JS: every media message is a view
 * into a slab Buffer; a view must keep its bytes for as long as JS holds it, through later
 * reads, `release()`, collected sessions and slab memory going round the pool.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { native, MEDIA_INDEX_STRIDE } from '../dist/native.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const turn = () => new Promise((resolve) => setImmediate(resolve))

type Session = InstanceType<typeof native.RtmpSession>

/**
 * One read through `feed()` (or `feedInPlace()`): the media count, each message's Buffer (slab
 * slot 0 = the read) and view, and what `takeDetails()` holds.
 */
function feedRead(session: Session, read: Buffer, inPlace = false) {
  const r = inPlace ? session.feedInPlace(read) : session.feed(read)
  const details = r & native.RTMP_FEED_DETAILS ? session.takeDetails() : null
  const count = r >>> native.RTMP_FEED_COUNT_SHIFT
  const index = session.mediaIndex
  const buffers: Buffer[] = []
  const views: Buffer[] = []
  for (let m = 0; m < count; m++) {
    const o = m * MEDIA_INDEX_STRIDE
    const buffer = index![o + 3] === 0 ? read : session.slabs[index![o + 3]!]!
    buffers.push(buffer)
    views.push(buffer.subarray(index![o + 4]!, index![o + 4]! + index![o + 5]!))
  }
  return { result: r, count, buffers, views, index, transmit: details?.transmit, errorCode: details?.errorCode }
}

/** C0+C1+C2 of a simple handshake made by a client session. */
function handshake(): Buffer {
  const client = new native.RtmpSession({ role: 'client', handshake: 'simple' })
  const server = new native.RtmpSession()
  const c0c1 = client.takeTransmit()!
  const c2 = feedRead(client, feedRead(server, c0c1).transmit!).transmit ?? client.takeTransmit()!
  return Buffer.concat([c0c1, c2])
}

/**
 * Video messages chunked at `chunkSize`: `sizes` if given, else `count` pseudo-random sizes
 * (one chunk to several slabs' worth).
 */
function stream(seed: number, count: number, chunkSize: number, sizes?: number[]): { wire: Buffer; payloads: Buffer[] } {
  const payloads: Buffer[] = []
  const parts: Buffer[] = [handshake()]
  if (chunkSize !== 128) {
    const size = Buffer.alloc(4)
    size.writeUInt32BE(chunkSize)
    parts.push(native.muxMessage(2, 0, 1, 0, size, 128))
  }
  let x = seed
  for (let i = 0; i < (sizes?.length ?? count); i++) {
    x = (x * 1103515245 + 12345) >>> 0
    const len = sizes?.[i] ?? 2 + (x % (i % 50 === 0 ? 700_000 : 40_000)) // now and then one over 512 KiB
    const p = Buffer.alloc(len, (seed + i) & 0xff)
    p[0] = 0x27 // inter frame, AVC
    p[1] = 1 // NALU
    if (len >= 6) p.writeUInt32BE(i, len - 4)
    payloads.push(p)
    parts.push(native.muxMessage(6, i * 33, 9, 1, p, chunkSize))
  }
  return { wire: Buffer.concat(parts), payloads }
}

/**
 * Feeds `wire` in `readSize` reads and returns every media payload view, in order. With
 * `inPlace` each read is a fresh copy given to `feedInPlace()` (as a socket read is), and
 * `stats` counts the views that point into their read.
 */
function demux(
  session: Session,
  wire: Buffer,
  readSize: number,
  inPlace = false,
  stats = { inRead: 0 },
): Buffer[] {
  const views: Buffer[] = []
  for (let off = 0; off < wire.length; off += readSize) {
    const read = wire.subarray(off, off + readSize)
    const fresh = inPlace ? Buffer.from(read) : read
    const r = feedRead(session, fresh, inPlace)
    expect(r.errorCode).toBeUndefined()
    if (inPlace) stats.inRead += r.buffers.includes(fresh) ? 1 : 0
    views.push(...r.views)
  }
  return views
}

describe('RTMP payload slabs', () => {
  it('keeps every view intact through later reads, release(), collection and pool reuse', async () => {
    const kept = stream(1, 300, 4096)
    const session = new native.RtmpSession()
    const views = demux(session, kept.wire, 64 * 1024)
    session.release()
    expect(views.length).toBe(kept.payloads.length)
    // Churn: many more sessions, their views dropped, collected, their slabs back in the pool
    // and handed out again.
    for (let round = 0; round < 6; round++) {
      const other = stream(100 + round, 200, round % 2 ? 128 : 4096)
      const s = new native.RtmpSession()
      const got = demux(s, other.wire, round % 3 === 0 ? 1460 : 64 * 1024)
      expect(got.length).toBe(other.payloads.length)
      for (let i = 0; i < got.length; i++) expect(got[i]!.equals(other.payloads[i]!)).toBe(true)
      if (round % 2) s.release()
      gc()
      await turn()
      gc()
      await turn()
    }
    for (let i = 0; i < views.length; i++) expect(views[i]!.equals(kept.payloads[i]!), `message ${i}`).toBe(true)
  })

  it('grows slabs from small ones to 2 MiB, with a slab of its own for a message over 512 KiB', () => {
    const { wire } = stream(7, 0, 4096, [100, 5000, 20_000, 70_000, 300_000, 600_000, 400_000, 400_000, 400_000])
    const s = new native.RtmpSession()
    const seen = new Set<Buffer>()
    for (let off = 0; off < wire.length; off += 64 * 1024) {
      for (const slab of feedRead(s, wire.subarray(off, off + 64 * 1024)).buffers) seen.add(slab)
    }
    const sizes = [...seen].map((b) => b.length).sort((a, b) => a - b)
    // ×4 from 4 KiB, each message in the next size that holds it; the 600 000-byte message in a
    // slab of its own; the third 400 000 no longer fits the 1 MiB slab.
    expect(sizes).toEqual([4096, 16_384, 65_536, 262_144, 600_000, 1_048_576, 2_097_152])
  })

  it('gives a new media index array when JS has detached the old one', () => {
    const { wire, payloads } = stream(9, 0, 4096, [300, 5000, 300, 9000])
    const s = new native.RtmpSession()
    const first = feedRead(s, wire.subarray(0, wire.length - 9000))
    const index = first.index!
    expect(first.count).toBe(3)
    expect(first.result & native.RTMP_FEED_NEW_INDEX).toBe(native.RTMP_FEED_NEW_INDEX)
    structuredClone(index.buffer, { transfer: [index.buffer] }) // detaches it
    expect(index.length).toBe(0)
    const next = feedRead(s, wire.subarray(wire.length - 9000))
    expect(next.count).toBe(1)
    expect(next.result & native.RTMP_FEED_NEW_INDEX).toBe(native.RTMP_FEED_NEW_INDEX)
    expect(next.index === index).toBe(false)
    expect(next.views[0]!.equals(payloads[3]!)).toBe(true)
  })

  it('keeps a slab in its slot of slabs until the read after its last message, then reuses the slot', () => {
    // Messages over 512 KiB get a slab each: 8 slabs, one after the other.
    const { wire, payloads } = stream(11, 0, 4096, [600_000, 600_000, 600_000, 600_000, 600_000, 600_000, 600_000, 600_000])
    const s = new native.RtmpSession()
    const table = s.slabs
    expect(table[0]).toBeUndefined() // slot 0 stands for the feedInPlace() input
    const views: Buffer[] = []
    const seen = new Set<Buffer>()
    let largest = 0
    for (let off = 0; off < wire.length; off += 64 * 1024) {
      const r = feedRead(s, wire.subarray(off, off + 64 * 1024))
      views.push(...r.views)
      // Every slab this read's messages sit in is still in its slot of the same Array.
      for (const b of r.buffers) {
        expect(table.includes(b)).toBe(true)
        seen.add(b)
      }
      expect(s.slabs).toBe(table)
      largest = Math.max(largest, table.length)
    }
    expect(views.length).toBe(payloads.length)
    for (let i = 0; i < views.length; i++) expect(views[i]!.equals(payloads[i]!)).toBe(true)
    s.release()
    expect(table.every((b) => b === undefined)).toBe(true)
    expect(seen.size).toBe(8)
    expect(largest).toBeLessThanOrEqual(3) // slot 0, and slots reused: never one per slab
  })
  it('feedInPlace() returns views into the read itself, the same payloads as feed()', async () => {
    for (const [seed, chunkSize, readSize] of [[7, 4096, 64 * 1024], [8, 128, 64 * 1024], [9, 4096, 1460], [10, 60_000, 8192]] as const) {
      const sizes = seed === 10 ? [1, 59_999, 60_000, 60_001, 300_000, 5, 123_456] : undefined
      const kept = stream(seed, 120, chunkSize, sizes)
      const session = new native.RtmpSession()
      const stats = { inRead: 0 }
      const views = demux(session, kept.wire, readSize, true, stats)
      session.release()
      expect(views.length).toBe(kept.payloads.length)
      for (let i = 0; i < views.length; i++) expect(views[i]!.equals(kept.payloads[i]!), `seed ${seed} message ${i}`).toBe(true)
      // Messages whole in one read stay in it (the rest span reads and go to slabs).
      if (readSize > chunkSize) expect(stats.inRead).toBeGreaterThan(0)
      // Other sessions' slabs churning through the pool do not touch the views.
      for (let round = 0; round < 2; round++) {
        const s = new native.RtmpSession()
        demux(s, stream(200 + round, 100, 4096).wire, 64 * 1024, true)
        s.release()
        gc()
        await turn()
      }
      for (let i = 0; i < views.length; i++) expect(views[i]!.equals(kept.payloads[i]!)).toBe(true)
    }
  })
})
