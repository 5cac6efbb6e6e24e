/**
 * Colour probes of decoded video: each frame of a file scaled to 32x18 RGB by ffmpeg, and the
 * colour at a few points named (`red`, `blue`, `black`, else `other`). Mix and co-hosting tests
 * tell their inputs (solid colours) apart with them.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runOk } from './ffmpeg'

export type Probe = 'red' | 'blue' | 'black' | 'other'

export function classify(r: number, g: number, b: number): Probe {
  if (r > 180 && g < 80 && b < 80) return 'red'
  if (b > 180 && r < 80 && g < 80) return 'blue'
  if (r < 40 && g < 40 && b < 40) return 'black'
  return 'other'
}

/**
 * Each decoded frame of `file` as probes at the centres of its left and right halves and near
 * its bottom-right corner (a picture-in-picture inset). `dir`: where the raw frames go.
 */
export async function probes(file: string, dir: string): Promise<{ left: Probe; right: Probe; corner: Probe }[]> {
  const raw = join(dir, `${Date.now()}-${Math.random().toString(36).slice(2)}.rgb`)
  await runOk('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', file, '-an', '-vf', 'scale=32:18', '-f', 'rawvideo', '-pix_fmt', 'rgb24', raw])
  const data = readFileSync(raw)
  const frame = 32 * 18 * 3
  const at = (f: number, x: number, y: number) => f * frame + (y * 32 + x) * 3
  const out = []
  for (let f = 0; (f + 1) * frame <= data.length; f++) {
    const [l, r, c] = [at(f, 8, 9), at(f, 24, 9), at(f, 27, 15)]
    out.push({ left: classify(data[l]!, data[l + 1]!, data[l + 2]!), right: classify(data[r]!, data[r + 1]!, data[r + 2]!), corner: classify(data[c]!, data[c + 1]!, data[c + 2]!) })
  }
  return out
}
