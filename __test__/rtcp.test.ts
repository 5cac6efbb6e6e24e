/**
 * RTCP through the native parser and writer (crates/rtp/src/rtcp), checked against a real peer's
 * RTCP stack: werift's (its werift-rtp package, re-exported by `werift`). What we write, werift reads to the same values; what werift
 * writes, we read to the same values — SR/RR with report blocks, SDES, NACK, PLI, FIR, REMB and
 * transport-wide CC feedback with run-length and status-vector chunks.
 */
import { describe, expect, it } from 'vitest'
import {
  RtcpPacketConverter,
  RtcpPayloadSpecificFeedback,
  RtcpRrPacket,
  RtcpReceiverInfo,
  RtcpSenderInfo,
  RtcpSrPacket,
  RtcpTransportLayerFeedback,
  GenericNack,
  PictureLossIndication,
  ReceiverEstimatedMaxBitrate,
  TransportWideCC,
  RunLengthChunk,
  StatusVectorChunk,
  RecvDelta,
  RtcpSourceDescriptionPacket,
  SourceDescriptionChunk,
  SourceDescriptionItem,
} from 'werift'
import { genericNack, parseRtcp, pictureLossIndication, receiverReport, senderReport, writeRtcp, type ReportBlock } from '../dist/rtp/rtcp.js'

const block: ReportBlock = { ssrc: 0xaabbccdd, fractionLost: 26, cumulativeLost: -3, highestSequence: 0x1fffe, jitter: 90, lastSr: 0x12345678, delaySinceLastSr: 65536 }

describe('RTCP we write, werift reads', () => {
  it('a sender report: NTP time, RTP timestamp and counters', () => {
    const unixMs = Date.UTC(2026, 11, 5, 8, 0, 0, 250)
    const [sr] = RtcpPacketConverter.deSerialize(senderReport(0x01020304, unixMs, 90000, 10, 12000)) as [RtcpSrPacket]
    expect(sr.type).toBe(200)
    expect(sr.ssrc).toBe(0x01020304)
    expect(sr.senderInfo.rtpTimestamp).toBe(90000)
    expect(sr.senderInfo.packetCount).toBe(10)
    expect(sr.senderInfo.octetCount).toBe(12000)
    const ntp = sr.senderInfo.ntpTimestamp
    expect(Number(ntp >> 32n)).toBe(Math.floor(unixMs / 1000) + 2208988800)
    expect(Number(ntp & 0xffffffffn) / 2 ** 32).toBeCloseTo(0.25, 6)
  })

  it('a receiver report with a block (negative cumulative loss)', () => {
    const [rr] = RtcpPacketConverter.deSerialize(receiverReport(7, [block])) as [RtcpRrPacket]
    expect(rr.ssrc).toBe(7)
    expect(rr.reports[0]).toMatchObject({ ssrc: block.ssrc, fractionLost: 26, highestSequence: 0x1fffe, jitter: 90, lsr: 0x12345678, dlsr: 65536 })
    // werift reads the 24-bit field unsigned: −3 is 0xFFFFFD.
    expect(rr.reports[0]!.packetsLost).toBe(0xfffffd)
  })

  it('generic NACK, PLI, FIR and REMB', () => {
    const [nack] = RtcpPacketConverter.deSerialize(genericNack(1, 2, [1000, 1001, 1016, 1017, 1040])) as [RtcpTransportLayerFeedback]
    expect((nack.feedback as GenericNack).lost.sort((a, b) => a - b)).toEqual([1000, 1001, 1016, 1017, 1040])
    expect((nack.feedback as GenericNack).mediaSourceSsrc).toBe(2)
    const [pli] = RtcpPacketConverter.deSerialize(pictureLossIndication(1, 2)) as [RtcpPayloadSpecificFeedback]
    expect(pli.feedback).toBeInstanceOf(PictureLossIndication)
    expect((pli.feedback as PictureLossIndication).mediaSsrc).toBe(2)
    const compound = writeRtcp([
      { type: 'fir', senderSsrc: 1, mediaSsrc: 9, firSequence: 4 },
      { type: 'remb', senderSsrc: 1, bitrate: 1_000_000, ssrcs: [9, 10] },
    ])
    const [fir, remb] = RtcpPacketConverter.deSerialize(compound) as [RtcpPayloadSpecificFeedback, RtcpPayloadSpecificFeedback]
    expect((fir.feedback as unknown as { fir: { ssrc: number; sequenceNumber: number }[] }).fir[0]).toMatchObject({ ssrc: 9, sequenceNumber: 4 })
    expect((remb.feedback as ReceiverEstimatedMaxBitrate).bitrate).toBe(1_000_000n)
    expect((remb.feedback as ReceiverEstimatedMaxBitrate).ssrcFeedbacks).toEqual([9, 10])
  })

  it('transport-wide CC feedback: arrivals, losses, a negative delta', () => {
    const ref = 10 * 64000
    const arrivalsUs = [ref + 1000, null, ref + 3000, ...Array.from({ length: 20 }, (_, i) => ref + 4000 + 1000 * i), ref + 2000, ref + 100000]
    const buf = writeRtcp([{ type: 'twcc', senderSsrc: 1, mediaSsrc: 2, baseSequence: 65530, referenceTime: 10, feedbackCount: 3, arrivalsUs }])
    const [fb] = RtcpPacketConverter.deSerialize(buf) as [RtcpTransportLayerFeedback]
    const twcc = fb.feedback as TransportWideCC
    expect(twcc.baseSequenceNumber).toBe(65530)
    expect(twcc.packetStatusCount).toBe(arrivalsUs.length)
    expect(twcc.fbPktCount).toBe(3)
    // werift's own `packetResults` skips status-vector chunks, so expand its parsed chunks and
    // receive deltas here: symbols 1 and 2 are received, each with the next delta (µs).
    const symbols = twcc.packetChunks.flatMap((c) => (c instanceof RunLengthChunk ? Array<number>(c.runLength).fill(c.packetStatus) : (c as StatusVectorChunk).symbolList)).slice(0, twcc.packetStatusCount)
    let t = twcc.referenceTime * 64000
    let d = 0
    const decoded = symbols.map((sym) => (sym === 1 || sym === 2 ? (t += twcc.recvDeltas[d++]!.delta) : null))
    expect(decoded).toEqual(arrivalsUs)
  })
})

describe('RTCP werift writes, we read', () => {
  it('SR + SDES compound', () => {
    const sr = new RtcpSrPacket({
      ssrc: 5,
      senderInfo: new RtcpSenderInfo({ ntpTimestamp: (3_000_000_000n << 32n) | 0x80000000n, rtpTimestamp: 1234, packetCount: 2, octetCount: 3 }),
      reports: [new RtcpReceiverInfo({ ssrc: 6, fractionLost: 1, packetsLost: 2, highestSequence: 3, jitter: 4, lsr: 5, dlsr: 6 })],
    })
    const sdes = new RtcpSourceDescriptionPacket({ chunks: [new SourceDescriptionChunk({ source: 5, items: [new SourceDescriptionItem({ type: 1, text: 'werift-cname' })] })] })
    const packets = parseRtcp(Buffer.concat([sr.serialize(), sdes.serialize()]))
    expect(packets).toHaveLength(2)
    expect(packets[0]).toMatchObject({ type: 'sr', ssrc: 5, rtpTimestamp: 1234, packets: 2, octets: 3, ntpMiddle: ((3_000_000_000 & 0xffff) * 0x10000 + 0x8000) >>> 0 })
    expect((packets[0] as { ntpMs: number }).ntpMs).toBeCloseTo((3_000_000_000 - 2208988800) * 1000 + 500, 3)
    expect((packets[0] as { blocks: ReportBlock[] }).blocks).toEqual([{ ssrc: 6, fractionLost: 1, cumulativeLost: 2, highestSequence: 3, jitter: 4, lastSr: 5, delaySinceLastSr: 6 }])
    expect(packets[1]).toEqual({ type: 'sdes', chunks: [{ ssrc: 5, cname: 'werift-cname' }] })
  })

  it('RR, NACK, PLI, REMB', () => {
    const buf = Buffer.concat([
      new RtcpRrPacket({ ssrc: 1, reports: [] }).serialize(),
      new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: 2, lost: [10, 11, 30] }) }).serialize(),
      new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: 1, mediaSsrc: 2 }) }).serialize(),
      new RtcpPayloadSpecificFeedback({ feedback: new ReceiverEstimatedMaxBitrate({ senderSsrc: 1, mediaSsrc: 0, brExp: 3, brMantissa: 125000, ssrcNum: 1, ssrcFeedbacks: [2] }) }).serialize(),
    ])
    expect(parseRtcp(buf)).toEqual([
      { type: 'rr', ssrc: 1, blocks: [] },
      { type: 'nack', senderSsrc: 1, mediaSsrc: 2, sequenceNumbers: [10, 11, 30] },
      { type: 'pli', senderSsrc: 1, mediaSsrc: 2 },
      { type: 'remb', senderSsrc: 1, bitrate: 1_000_000, ssrcs: [2] },
    ])
  })

  it('transport-wide CC feedback with run-length and status-vector chunks', () => {
    const twcc = new TransportWideCC({
      senderSsrc: 1,
      mediaSourceSsrc: 2,
      baseSequenceNumber: 100,
      packetStatusCount: 27,
      referenceTime: 5,
      fbPktCount: 7,
      packetChunks: [
        new RunLengthChunk({ packetStatus: 1, runLength: 6 }),
        new StatusVectorChunk({ symbolSize: 0, symbolList: [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }),
        new StatusVectorChunk({ symbolSize: 1, symbolList: [2, 0, 0, 0, 0, 0, 0] }),
      ],
      // 36 bytes in all: werift's serialize() does not pad the deltas to 32 bits (a 35-byte packet
      // says 32 in its length field, and we would rightly stop at the length), so keep it aligned.
      recvDeltas: [...[250, 500, 750, 1000, 1250, 1500], 2500, 5000, -1000].map((delta) => new RecvDelta({ delta })),
    })
    const [p] = parseRtcp(new RtcpTransportLayerFeedback({ feedback: twcc }).serialize())
    expect(p).toMatchObject({ type: 'twcc', senderSsrc: 1, mediaSsrc: 2, baseSequence: 100, referenceTime: 5, feedbackCount: 7 })
    const arrivals = (p as { arrivalsUs: (number | null)[] }).arrivalsUs
    const ref = 5 * 64000
    const expected: (number | null)[] = Array<number | null>(27).fill(null)
    let t = ref
    ;[250, 500, 750, 1000, 1250, 1500].forEach((d, i) => (expected[i] = t += d))
    expected[6] = t += 2500
    expected[8] = t += 5000
    expected[6 + 14] = t += -1000
    expect(arrivals).toEqual(expected)
  })
})

describe('bad input', () => {
  it('a malformed part ends the walk with its code; what came before is kept', () => {
    const good = pictureLossIndication(1, 2)
    const broken = Buffer.from('81cd00ff00000001', 'hex')
    expect(parseRtcp(Buffer.concat([good, broken]))).toEqual([
      { type: 'pli', senderSsrc: 1, mediaSsrc: 2 },
      { type: 'malformed', code: 'RTCP_TOO_SHORT', reason: 'RTCP packet too short: length field beyond the datagram' },
    ])
    expect(parseRtcp(Buffer.alloc(0))).toEqual([])
    expect(parseRtcp(Buffer.from('80cc000200000001', 'hex').subarray(0, 8))).toEqual([
      { type: 'malformed', code: 'RTCP_TOO_SHORT', reason: 'RTCP packet too short: length field beyond the datagram' },
    ])
  })

  it('writing checks its input', () => {
    expect(() => writeRtcp([{ type: 'rr', ssrc: 1, blocks: Array(32).fill(block) }])).toThrow(/^RTCP_TOO_LARGE/)
    expect(() => writeRtcp([{ type: 'unknown', packetType: 204, count: 0, size: 4 } as never])).toThrow(/^RTCP_INVALID_ARGUMENT/)
    expect(() => writeRtcp([{ type: 'nack', senderSsrc: 1 } as never])).toThrow(/RTCP_INVALID_ARGUMENT: a "nack" packet needs mediaSsrc/)
  })
})
