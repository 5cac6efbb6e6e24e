/**
 * Recordings read back (MediaMTX's playback server is the model):
 *
 * - `listRecordingFiles`: a stream's files on disk (`{directory}/{app}/{stream}/`), each with
 *   its wall-clock start (from its name), size and, for fMP4, its media duration (from its
 *   fragments, `mp4Index`, cached by path, size and mtime).
 * - `playback`: a time range of a stream as one fragmented MP4 — the init segment of the first
 *   file in range, then every fragment that overlaps the range, from as many consecutive files
 *   as it spans, moved on one timeline (`mp4Rebase`: time 0 is the first fragment served;
 *   files keep their wall-clock distance, never overlapping) and numbered in order. It stops
 *   before a file whose init segment differs (a codec change). Written fragment by fragment:
 *   memory stays one fragment whatever the range.
 */
import { open, readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { native } from '../native'
import { pathSegment, type RecordFormat } from './recording'

/** A recording file on disk. */
export interface RecordingFileInfo {
  /** File name, e.g. `2026-12-06_07-15-02-123.mp4`. */
  name: string
  path: string
  format: RecordFormat
  /** Wall clock of its first frame (from its name), ISO 8601. */
  startedAt: string
  bytes: number
  /** Media duration (fMP4, from its fragments), ms; null for FLV or a file without fragments. */
  durationMs: number | null
}

type Index = ReturnType<typeof native.mp4Index>

const STAMP = /^(\d{4})-(\d\d)-(\d\d)_(\d\d)-(\d\d)-(\d\d)-(\d{3})(?:-\d+)?\.(mp4|flv)$/
const indexes = new Map<string, { key: string; index: Index | null }>()

/** Wall-clock ms of a file name's stamp, or null. */
export function stampMs(name: string): number | null {
  const m = STAMP.exec(name)
  if (!m) return null
  const [y, mo, d, h, mi, s, ms] = m.slice(1, 8).map(Number) as [number, number, number, number, number, number, number]
  return Date.UTC(y, mo - 1, d, h, mi, s, ms)
}

/** The file's index (cached while its size and mtime stay), or null when it has none. */
async function indexOf(file: string): Promise<Index | null> {
  const st = await stat(file)
  const key = `${st.size}:${st.mtimeMs}`
  const cached = indexes.get(file)
  if (cached?.key === key) return cached.index
  let index: Index | null = null
  try {
    index = native.mp4Index(file)
  } catch {
    index = null
  }
  indexes.set(file, { key, index })
  if (indexes.size > 10_000) indexes.delete(indexes.keys().next().value!)
  return index
}

/** A stream's recording files, oldest first. */
export async function listRecordingFiles(directory: string, app: string, stream: string): Promise<RecordingFileInfo[]> {
  const dir = path.resolve(directory, pathSegment(app), pathSegment(stream))
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const files: RecordingFileInfo[] = []
  for (const name of names.sort()) {
    const start = stampMs(name)
    if (start === null) continue
    const file = path.join(dir, name)
    const format: RecordFormat = name.endsWith('.mp4') ? 'fmp4' : 'flv'
    const st = await stat(file).catch(() => null)
    if (!st?.isFile()) continue
    const index = format === 'fmp4' ? await indexOf(file) : null
    const last = index?.fragments.at(-1)
    files.push({ name, path: file, format, startedAt: new Date(start).toISOString(), bytes: st.size, durationMs: last ? Math.round(last.endMs) : null })
  }
  return files
}

/** What `playback` writes to: `write` resolves when the bytes may be followed by more. */
export interface PlaybackSink {
  write(chunk: Buffer): Promise<void>
}

/**
 * Writes `[fromMs, toMs)` (wall clock) of the stream's fMP4 recordings to `sink` as one fMP4.
 * Resolves with the fragments written (0: nothing in range, nothing written).
 */
export async function playback(files: RecordingFileInfo[], fromMs: number, toMs: number, sink: PlaybackSink): Promise<number> {
  let origin: number | null = null
  let init: Buffer | null = null
  let written = 0
  let outputEnd = 0
  for (const f of files) {
    if (f.format !== 'fmp4') continue
    const wall = Date.parse(f.startedAt)
    const index = await indexOf(f.path)
    if (!index) continue
    const inRange = index.fragments.filter((x) => wall + x.endMs > fromMs && wall + x.startMs < toMs)
    if (inRange.length === 0) continue
    const fh = await open(f.path, 'r')
    try {
      const read = async (offset: number, length: number) => {
        const buf = Buffer.allocUnsafe(length)
        const { bytesRead } = await fh.read(buf, 0, length, offset)
        return buf.subarray(0, bytesRead)
      }
      const fileInit = await read(0, index.initLength)
      if (init && !init.equals(fileInit)) break // a codec change: one init segment per answer
      if (!init) {
        init = fileInit
        await sink.write(init)
      }
      // this file's time 0 on the output timeline: its wall-clock distance from the first
      // fragment served, but never before what was written already
      const o = (origin ??= wall + inRange[0]!.startMs)
      const shift = Math.max(wall - o, outputEnd - inRange[0]!.startMs)
      for (const x of inRange) {
        const fragment = await read(x.offset, x.length)
        if (fragment.length < x.length) break
        await sink.write(native.mp4Rebase(fragment, shift, ++written, index.timescales))
        outputEnd = shift + x.endMs
      }
    } finally {
      await fh.close()
    }
  }
  return written
}
