/** RTP clocks → session ms timeline: arrival anchoring, sender-report sync, wrap, resync. */
import { describe, expect, it } from 'vitest'
import { SessionClock } from '../ts/rtp/rtp-clock'

describe('RTP clock mapping', () => {
  it('anchors a track at its first arrival, then follows its RTP clock across the 32-bit wrap', () => {
    const s = new SessionClock()
    const v = s.track(90000)
    expect(v.toMs(0xffffff00, 10_000)).toBe(0)
    expect(v.toMs(0xffffff00 + 9000 - 0x100000000, 99_999)).toBeCloseTo(100)
  })

  it('puts audio and video on the sender wallclock once both have a sender report', () => {
    const s = new SessionClock()
    const v = s.track(90000)
    const a = s.track(48000)
    // video arrives first; audio 300 ms later in local time, but it was captured at the same instant
    expect(v.toMs(1000, 1000)).toBe(0)
    expect(a.toMs(5000, 1300)).toBe(300)
    // sender: video rtp 1000 and audio rtp 5000 were both at NTP 50 000 ms
    v.onSenderReport(50_000, 1000, 1400)
    a.onSenderReport(50_000, 5000, 1400)
    expect(v.toMs(1000 + 90 * 40)).toBeCloseTo(40)
    expect(a.toMs(5000 + 48 * 40)).toBeCloseTo(40)
  })

  it('ignores sender-report jitter and re-maps only on a disagreement over 1 s', () => {
    const s = new SessionClock()
    const v = s.track(90000)
    v.toMs(0, 0)
    v.onSenderReport(10_000, 0)
    v.onSenderReport(10_000 + 1000 + 80, 90_000) // 80 ms off: ignored
    expect(v.toMs(90_000)).toBeCloseTo(1000)
    v.onSenderReport(10_000 + 5000, 90_000 * 2) // 3 s off: the sender restarted its clock
    expect(v.toMs(90_000 * 2)).toBeCloseTo(5000)
  })
})
