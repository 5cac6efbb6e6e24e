// Shared by the examples: a real ffmpeg publishing a generated test pattern (H.264 without
// B-frames, `-bf 0`, and AAC) over RTMP, the way OBS or a camera would.
import { spawn } from 'node:child_process'

/**
 * Publishes `seconds` of testsrc2 (320x240, 25 fps, keyframe every second) and a 440 Hz sine to
 * `url` (`rtmp://host:port/app/name`, a `?query` allowed). Resolves with ffmpeg's exit code (0:
 * the whole stream was published; not 0: refused or failed) and its last error lines.
 */
export function publishTestStream(url, seconds = 4) {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-bf', '0', '-g', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k',
    '-f', 'flv', url,
  ]
  const ffmpeg = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  ffmpeg.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve, reject) => {
    ffmpeg.on('error', reject) // ffmpeg not installed
    ffmpeg.on('close', (code) => resolve({ code, stderr: stderr.trim() }))
  })
}

/** A port from the environment variable `name`, else 0 (the system picks a free one). */
export function envPort(name) {
  const value = Number(process.env[name] ?? 0)
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number, not ${process.env[name]}`)
  return value
}
