/**
 * The one SDP reader (ts/webrtc/sdp.ts over sdp-transform): offers made by real stacks
 * (node-datachannel's libdatachannel, werift), an ffmpeg-style RTP session, and a property test
 * (fast-check) that random text and mutated real offers either parse into well-formed sections
 * or throw an `Error` with one of the documented reasons — never anything else, never a hang;
 * the receive-only reading WHEP and the SFU answer from (`viewerMedia`) gives media to answer or
 * a `WebRtcError` `WEBRTC_OFFER_UNSUPPORTED` for every mutated offer.
 */
import fc from 'fast-check'
import nodeDataChannel from 'node-datachannel'
import { describe, expect, it } from 'vitest'
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift'
import { parseSdp } from '../dist/webrtc/sdp.js'
import { parseSdpMedia } from '../dist/rtp/sdp.js'
import { viewerMedia } from '../dist/webrtc/viewer-media.js'
import { staticOffer } from './helpers/sdp'

const REASONS = /^(not an SDP: it must start with "v=0"|not a readable SDP: .*|the SDP has no media section \(m=\))$/s

function wellFormed(offer: ReturnType<typeof parseSdp>): void {
  expect(offer.media.length).toBeGreaterThan(0)
  for (const m of offer.media) {
    expect(typeof m.kind).toBe('string')
    expect(typeof m.mid).toBe('string')
    expect(Number.isInteger(m.port)).toBe(true)
    expect(['sendrecv', 'sendonly', 'recvonly', 'inactive']).toContain(m.direction)
    for (const c of m.codecs) {
      expect(Number.isInteger(c.payloadType) && c.payloadType >= 0 && c.payloadType <= 127).toBe(true)
      expect(typeof c.name).toBe('string')
      expect(Number.isFinite(c.clockRate)).toBe(true)
      for (const [k, v] of Object.entries(c.fmtp)) expect(typeof k === 'string' && typeof v === 'string').toBe(true)
      for (const f of c.feedback) expect(typeof f).toBe('string')
    }
    expect(new Set(m.codecs.map((c) => c.payloadType)).size).toBe(m.codecs.length)
    for (const s of m.ssrcs) expect(Number.isInteger(s) && s >= 0 && s <= 0xffffffff).toBe(true)
    for (const [id, uri] of m.extensions) expect(Number.isInteger(id) && typeof uri === 'string').toBe(true)
  }
}

/** Parses or throws one of the documented errors. */
function parsesOrRefuses(text: string): void {
  let offer: ReturnType<typeof parseSdp>
  try {
    offer = parseSdp(text)
  } catch (err) {
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).message).toMatch(REASONS)
    return
  }
  wellFormed(offer)
}

async function ndcOffer(): Promise<string> {
  const pc = new nodeDataChannel.PeerConnection('sdp-test', { iceServers: [] })
  try {
    const video = new nodeDataChannel.Video('0', 'RecvOnly')
    video.addH264Codec(102)
    video.addVP8Codec(96)
    pc.addTrack(video)
    const audio = new nodeDataChannel.Audio('1', 'RecvOnly')
    audio.addOpusCodec(111)
    pc.addTrack(audio)
    pc.setLocalDescription()
    return pc.localDescription()!.sdp
  } finally {
    pc.close()
  }
}

async function wereiftOffer(): Promise<string> {
  const pc = new RTCPeerConnection({
    codecs: {
      video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'transport-cc' }], parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1' })],
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
    },
  })
  try {
    pc.addTransceiver('video', { direction: 'recvonly' })
    pc.addTransceiver('audio', { direction: 'recvonly' })
    const offer = await pc.createOffer()
    return offer.sdp
  } finally {
    await pc.close()
  }
}

describe('SDP from real stacks', () => {
  it('node-datachannel offer: H.264, VP8 and Opus with their payload types', async () => {
    const offer = parseSdp(await ndcOffer())
    wellFormed(offer)
    const video = offer.media.find((m) => m.kind === 'video')!
    expect(video.direction).toBe('recvonly')
    expect(video.codecs.find((c) => c.payloadType === 102)).toMatchObject({ name: 'H264', clockRate: 90000 })
    expect(video.codecs.find((c) => c.payloadType === 96)).toMatchObject({ name: 'VP8', clockRate: 90000 })
    const audio = offer.media.find((m) => m.kind === 'audio')!
    expect(audio.codecs.find((c) => c.payloadType === 111)).toMatchObject({ name: 'opus', clockRate: 48000, channels: 2 })
  })

  it('werift offer: fmtp, rtcp-fb and header extensions', async () => {
    const offer = parseSdp(await wereiftOffer())
    wellFormed(offer)
    const video = offer.media.find((m) => m.kind === 'video')!
    const h264 = video.codecs.find((c) => c.name === 'H264')!
    expect(h264.fmtp).toMatchObject({ 'packetization-mode': '1', 'profile-level-id': '42e01f' })
    expect(h264.feedback).toEqual(expect.arrayContaining(['nack', 'nack pli', 'transport-cc']))
    expect(video.mid).not.toBe('')
  })

  it('an RTP session with SDES keys (ffmpeg -sdp_file style)', () => {
    const text = [
      'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=No Name', 'c=IN IP4 127.0.0.1', 't=0 0',
      'm=video 5004 RTP/SAVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LAH9kAUAW7AQ==,aMuMsg==; profile-level-id=42C01F',
      'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32',
      'm=audio 5006 RTP/SAVP 97', 'a=rtpmap:97 MPEG4-GENERIC/48000/2', 'a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=119056E500', '',
    ].join('\r\n')
    expect(parseSdpMedia(text)).toEqual([
      { kind: 'video', port: 5004, payloadType: 96, codec: 'H264', clockRate: 90000, channels: 1, fmtp: { 'packetization-mode': '1', 'sprop-parameter-sets': 'Z0LAH9kAUAW7AQ==,aMuMsg==', 'profile-level-id': '42C01F' }, crypto: { suite: 'AES_CM_128_HMAC_SHA1_80', inline: 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz' } },
      { kind: 'audio', port: 5006, payloadType: 97, codec: 'MPEG4-GENERIC', clockRate: 48000, channels: 2, fmtp: { 'profile-level-id': '1', mode: 'AAC-hbr', sizelength: '13', indexlength: '3', indexdeltalength: '3', config: '119056E500' }, crypto: null },
    ])
  })

  it('refuses what is not an SDP with a reason', () => {
    expect(() => parseSdp('hello')).toThrow('not an SDP: it must start with "v=0"')
    expect(() => parseSdp('v=0\r\ns=-\r\n')).toThrow('the SDP has no media section (m=)')
    expect(() => parseSdpMedia('')).toThrow(/not an SDP/)
  })
})

describe('SDP property test', () => {
  it('random text parses or is refused with a documented reason', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (tail) => {
        parsesOrRefuses(tail)
        parsesOrRefuses(`v=0\r\n${tail}`)
        parsesOrRefuses(`v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n${tail}`)
      }),
      { numRuns: 2000 },
    )
  })

  it('mutated real offers (lines dropped, duplicated, cut, bytes changed) parse or are refused', async () => {
    const seeds = [staticOffer(), await ndcOffer(), await wereiftOffer()]
    const mutation = fc.record({
      seed: fc.nat(seeds.length - 1),
      drop: fc.array(fc.nat(60), { maxLength: 5 }),
      dup: fc.array(fc.nat(60), { maxLength: 3 }),
      flips: fc.array(fc.tuple(fc.nat(4000), fc.integer({ min: 0, max: 0x10ffff })), { maxLength: 8 }),
      cut: fc.option(fc.nat(4000)),
    })
    fc.assert(
      fc.property(mutation, ({ seed, drop, dup, flips, cut }) => {
        let lines = seeds[seed]!.split('\r\n')
        lines = lines.filter((_, i) => i === 0 || !drop.includes(i))
        for (const d of dup) if (lines[d] !== undefined) lines.splice(d, 0, lines[d]!)
        const chars = [...lines.join('\r\n')]
        for (const [at, cp] of flips) if (at > 3 && at < chars.length) chars[at] = String.fromCodePoint(cp)
        let text = chars.join('')
        if (cut !== null) text = text.slice(0, cut)
        parsesOrRefuses(text)
        // the receive-only reading WHEP and the SFU answer from: media to answer, or a WebRtcError
        for (const want of [{ codec: 'H264' as const, fmtp: {} }, { codec: 'VP8' as const, fmtp: {} }, null]) {
          try {
            const media = viewerMedia(text, want)
            expect(Number.isInteger(media.audio.payloadType)).toBe(true)
            if (want) expect(media.video?.codec).toBe(want.codec)
          } catch (err) {
            // (the class by name: the test's import of dist/errors.js is another module instance)
            expect((err as Error).name).toBe('WebRtcError')
            expect((err as { code?: string }).code).toBe('WEBRTC_OFFER_UNSUPPORTED')
          }
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('a long line does not take long (no catastrophic backtracking)', () => {
    const long = 'a=fmtp:96 ' + 'x=1;'.repeat(50_000)
    const start = performance.now()
    parsesOrRefuses(`v=0\r\nm=video 9 RTP/AVP 96\r\n${long}\r\na=rtpmap:96 ${'H'.repeat(100_000)}/90000\r\n`)
    expect(performance.now() - start).toBeLessThan(2000)
  })
})
