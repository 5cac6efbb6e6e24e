/**
 * `RtmpSession.prototype.feed` and `feedInPlace` are raw N-API callbacks
 * (crates/binding/src/raw_method.rs), not napi-rs glue: they must refuse every `this` that is
 * not a live RtmpSession, refuse a reentrant call while napi-rs holds the session, and behave
 * exactly as before for a real session.
 */
import { describe, expect, it } from 'vitest'
import { native } from '../dist/native.js'

const { RtmpSession, H264Packetizer } = native
const empty = Buffer.alloc(0)

describe('RtmpSession raw per-read methods', () => {
  it('feed a real session as the napi-rs methods did', () => {
    const s = new RtmpSession()
    expect(s.feed(empty)).toBe(0)
    expect(s.feedInPlace(Buffer.alloc(0))).toBe(0)
    // C0 + C1 of a simple handshake: the reply (S0 S1 S2) waits in takeDetails().
    const c0c1 = Buffer.alloc(1537)
    c0c1[0] = 3
    const r = s.feed(c0c1)
    expect(r & native.RTMP_FEED_DETAILS).toBe(native.RTMP_FEED_DETAILS)
    expect(s.takeDetails()?.transmit?.length).toBe(1 + 1536 + 1536)
  })

  it('refuse a this that is not an RtmpSession', () => {
    const s = new RtmpSession()
    s.feed(empty)
    const { feed, feedInPlace } = RtmpSession.prototype
    const others: unknown[] = [
      {},
      null,
      undefined,
      42,
      Object.create(RtmpSession.prototype),
      new H264Packetizer(1234, 96, 1200),
    ]
    for (const other of others) {
      expect(() => feed.call(other as InstanceType<typeof RtmpSession>, empty)).toThrow()
      expect(() => feedInPlace.call(other as InstanceType<typeof RtmpSession>, Buffer.alloc(0))).toThrow()
    }
    // A spoofed prototype does not make another class's object an RtmpSession.
    const spoof = new H264Packetizer(1234, 96, 1200)
    Object.setPrototypeOf(spoof, RtmpSession.prototype)
    expect(() => (spoof as unknown as InstanceType<typeof RtmpSession>).feed(empty)).toThrow(/RtmpSession/)
    expect(s.feed(empty)).toBe(0)
  })

  it('refuse what is not a Buffer with an InvalidArg error', () => {
    const s = new RtmpSession()
    for (const bad of ['x', 1, {}, undefined]) {
      expect(() => s.feed(bad as unknown as Buffer)).toThrow(expect.objectContaining({ code: 'InvalidArg' }))
    }
  })

  it('refuse a reentrant read while sendCommand (napi-rs) holds the session', () => {
    const s = new RtmpSession()
    let inner: unknown = null
    const arg = {
      toJSON() {
        try {
          s.feed(empty)
        } catch (error) {
          inner = error
        }
        return 'x'
      },
    }
    s.sendCommand(0, 'onStatus', 0, null, [arg])
    expect(String(inner)).toMatch(/borrowed/)
    // The session goes on: the command waits in takeDetails() after the next read.
    expect(s.feed(empty)).toBe(native.RTMP_FEED_DETAILS)
    expect(s.takeDetails()?.transmit?.length).toBeGreaterThan(0)
  })
})
