/** Real ffmpeg/ffprobe/rtmpdump processes for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process'

export interface Proc {
  child: ChildProcess
  stderr: () => string
  stdout: () => string
  exited: Promise<number | null>
}

export function run(cmd: string, args: string[]): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { child, stderr: () => err, stdout: () => out, exited }
}

export async function runOk(cmd: string, args: string[]): Promise<string> {
  const p = run(cmd, args)
  const code = await p.exited
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${p.stderr().slice(-2000)}`)
  return p.stdout()
}

/** One framemd5 line: stream index and the hash of the decoded frame. */
export interface FrameHash {
  stream: number
  pts: number
  size: number
  hash: string
}

/**
 * Per-frame hashes of a media file (`ffmpeg -f framemd5`): of the decoded frames, or with
 * `packets` of the compressed packets (stream copy).
 */
export async function frameHashes(file: string, packets = false): Promise<{ video: FrameHash[]; audio: FrameHash[]; errors: string }> {
  const copy = packets ? ['-c', 'copy'] : []
  const p = run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-map', '0:v', '-map', '0:a?', ...copy, '-f', 'framemd5', '-'])
  await p.exited
  const frames = p
    .stdout()
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const f = l.split(',').map((x) => x.trim())
      return { stream: Number(f[0]), pts: Number(f[2]), size: Number(f[4]), hash: f[5]! }
    })
  return { video: frames.filter((f) => f.stream === 0), audio: frames.filter((f) => f.stream === 1), errors: p.stderr() }
}

/** Makes the test source: H.264 (2 s GOP at 25 fps) + AAC sine, in FLV. */
export async function makeSource(file: string, seconds: number): Promise<void> {
  await runOk('ffmpeg', [
    '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k',
    '-f', 'flv', file,
  ])
}

/** Publishes a file in real time with stream copy. */
export function publish(file: string, url: string): Proc {
  return run('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-i', file, '-c', 'copy', '-f', 'flv', url])
}

/** Plays an RTMP URL and records what arrives (stream copy) into an FLV file. */
export function play(url: string, out: string): Proc {
  return run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', url, '-c', 'copy', '-f', 'flv', out])
}
