// Helpers shared by record-session.mjs and chunk.bench.mjs (plain ESM, no build step).

import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const here = path.dirname(fileURLToPath(import.meta.url))
export const root = path.resolve(here, '..')
export const binding = createRequire(import.meta.url)('../binding.js')
const { RtmpSession, muxMessage, encodeAmf0 } = binding

export const FIXTURE = path.join(here, 'fixtures', 'ffmpeg-publish-720p.rtmp')

/**
 * One read through `session.feed()` (or `feedInPlace()` when `inPlace`), as one object:
 * {mediaCount, media: [{typeId, msid, timestamp, payload, flags, cts}], events, transmit,
 * errorCode, errorMessage}. For checks and set-up, not for timed loops.
 */
export function feedRead(session, bytes, inPlace = false) {
  const r = inPlace ? session.feedInPlace(bytes) : session.feed(bytes)
  const details = r & binding.RTMP_FEED_DETAILS ? session.takeDetails() : null
  const mediaCount = r >>> binding.RTMP_FEED_COUNT_SHIFT
  const idx = session.mediaIndex
  const media = []
  for (let i = 0; i < mediaCount * 8; i += 8) {
    const slab = idx[i + 3] === 0 ? bytes : session.slabs[idx[i + 3]]
    media.push({
      typeId: idx[i], msid: idx[i + 1], timestamp: idx[i + 2],
      payload: slab.subarray(idx[i + 4], idx[i + 4] + idx[i + 5]),
      flags: idx[i + 6], cts: idx[i + 7] | 0,
    })
  }
  return { mediaCount, media, events: details?.events, transmit: details?.transmit, errorCode: details?.errorCode, errorMessage: details?.errorMessage }
}

/** Message type id of each non-media event kind `RtmpSession.takeDetails` returns. */
const KIND_TYPE = { chunkSize: 1, acknowledgement: 3, userControl: 4, windowAckSize: 5, peerBandwidth: 6, data: 18, command: 20 }

/**
 * Decodes a client→server byte stream with a server RtmpSession fed `sliceSize` slices.
 * Returns every message in arrival order: media as {typeId, msid, timestamp, payload, flags,
 * cts}, others as {typeId, msid, timestamp, event}.
 */
export function decodeRecording(bytes, sliceSize = 64 * 1024) {
  const session = new RtmpSession()
  const messages = []
  let reads = 0
  for (let off = 0; off < bytes.length; off += sliceSize) {
    const r = feedRead(session, bytes.subarray(off, off + sliceSize))
    reads++
    const media = r.media
    let m = 0
    for (const ev of r.events ?? []) {
      while (m < ev.mediaBefore) messages.push(media[m++])
      if (ev.kind === 'handshake') continue
      const typeId = ev.kind === 'other' ? ev.eventType : KIND_TYPE[ev.kind]
      messages.push({ typeId, msid: ev.messageStreamId ?? 0, timestamp: ev.timestamp ?? 0, event: ev })
    }
    while (m < media.length) messages.push(media[m++])
    if (r.errorCode) throw new Error(`decode failed at read ${reads}: ${r.errorCode} ${r.errorMessage}`)
  }
  return { messages, reads, peerChunkSize: session.peerChunkSize, handshakeDone: session.handshakeDone }
}

/** C0+C1 and C2 of a simple handshake, made by a client RtmpSession against a server one. */
export function clientHandshake() {
  const client = new RtmpSession({ role: 'client', handshake: 'simple' })
  const server = new RtmpSession()
  const c0c1 = client.takeTransmit()
  const s0s1s2 = feedRead(server, c0c1).transmit
  const r = feedRead(client, s0s1s2)
  const c2 = r.transmit ?? client.takeTransmit()
  if (c0c1?.length !== 1537 || c2?.length !== 1536 || !client.handshakeDone) {
    throw new Error(`unexpected handshake: C0C1 ${c0c1?.length} bytes, C2 ${c2?.length} bytes`)
  }
  return { c0c1, c2 }
}

/**
 * A client→server stream carrying `messages` at `chunkSize`: handshake, then Set Chunk Size
 * (when not 128), then every message as fmt 0 + fmt 3 chunks (`muxMessage`). Commands and data
 * are re-encoded from their decoded values; the peer's own Set Chunk Size and other protocol
 * control messages are left out.
 */
export function synthesizeStream(messages, chunkSize) {
  const { c0c1, c2 } = clientHandshake()
  const parts = [c0c1, c2]
  if (chunkSize !== 128) {
    const p = Buffer.alloc(4)
    p.writeUInt32BE(chunkSize)
    parts.push(muxMessage(2, 0, 1, 0, p, 128))
  }
  for (const m of messages) {
    if (m.payload) {
      parts.push(muxMessage(m.typeId === 8 ? 4 : 6, m.timestamp, m.typeId, m.msid, m.payload, chunkSize))
    } else if (m.typeId === 20) {
      const e = m.event
      const payload = encodeAmf0([e.name, e.transactionId, e.commandObject ?? null, ...(e.values ?? [])])
      parts.push(muxMessage(3, m.timestamp, 20, m.msid, payload, chunkSize))
    } else if (m.typeId === 18) {
      parts.push(muxMessage(3, m.timestamp, 18, m.msid, encodeAmf0(m.event.values ?? []), chunkSize))
    }
  }
  return Buffer.concat(parts)
}

/** The checked-out commit, read from .git without running git; `git rev-parse` as fallback. */
export function currentCommit() {
  try {
    let gitDir = path.join(root, '.git')
    if (fs.statSync(gitDir).isFile()) {
      gitDir = path.resolve(root, fs.readFileSync(gitDir, 'utf8').match(/gitdir:\s*(.+)/)[1].trim())
    }
    const head = fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim()
    const ref = head.match(/^ref:\s*(.+)$/)?.[1]
    if (!ref) return head
    const loose = path.join(gitDir, ref)
    if (fs.existsSync(loose)) return fs.readFileSync(loose, 'utf8').trim()
    const packed = fs.readFileSync(path.join(gitDir, 'packed-refs'), 'utf8')
    const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`))
    if (line) return line.split(' ')[0]
  } catch {}
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
  } catch {
    return null
  }
}

function bytes(n, seed) {
  const b = Buffer.allocUnsafe(n)
  let x = seed | 1
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff }
  return b
}

export const SYNTHETIC_SPS = Buffer.from([0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60])
export const SYNTHETIC_PPS = Buffer.from([0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0])
const avcHeader = Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, SYNTHETIC_SPS.length]), SYNTHETIC_SPS, Buffer.from([1, 0, SYNTHETIC_PPS.length]), SYNTHETIC_PPS])
const aacHeader = Buffer.from([0xaf, 0, 0x11, 0x90])

/**
 * A synthetic live stream as hub frames `[kind, dts ms, FLV tag body]` in stream order: H.264 at
 * 30 fps (a 60 KB IDR every 2 s, 10 KB P frames, ~2.5 Mbit/s) and 370-byte AAC frames at 48 kHz,
 * `seconds` long, sequence headers first. Shared by the MPEG-TS and fMP4 benchmarks.
 */
export function syntheticLiveStream(seconds) {
  const frames = [['video', 0, avcHeader], ['audio', 0, aacHeader]]
  let audioMs = 0
  for (let i = 0; i < seconds * 30; i++) {
    const ms = Math.round((i * 1000) / 30)
    const idr = i % 60 === 0
    const size = idr ? 60_000 : 10_000
    const nal = bytes(size, i + 1)
    nal[0] = idr ? 0x65 : 0x41
    // 3-byte zero runs would read as start codes once in Annex B; a real encoder escapes them.
    for (let k = 2; k < nal.length; k++) if (nal[k] <= 3 && nal[k - 1] === 0 && nal[k - 2] === 0) nal[k] = 4
    const body = Buffer.concat([Buffer.from([idr ? 0x17 : 0x27, 1, 0, 0, 0]), Buffer.from([size >>> 24, (size >>> 16) & 255, (size >>> 8) & 255, size & 255]), nal])
    frames.push(['video', ms, body])
    while (audioMs <= ms) {
      frames.push(['audio', Math.round(audioMs), Buffer.concat([Buffer.from([0xaf, 1]), bytes(370, Math.round(audioMs) + 7)])])
      audioMs += 1024 / 48
    }
  }
  return frames
}
