#!/usr/bin/env node
// Records a real ffmpeg RTMP publish session as the raw bytes the client sent.
//
//   node bench/record-session.mjs
//
// Starts `node dist/cli.js` (the compiled Sluice server) on free ports, puts a TCP proxy in
// front of it, runs ffmpeg through the proxy, and writes:
//   bench/fixtures/ffmpeg-publish-720p.rtmp  every byte ffmpeg sent (handshake included)
//   bench/fixtures/ffmpeg-publish-720p.txt   how it was made + what it contains (decoded with
//                                            the native RtmpSession)
// Needs `npm run build` (dist/ and the native addon) and ffmpeg with libx264 on PATH.

import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { here, root, FIXTURE, decodeRecording } from './lib.mjs'

const TRANSCRIPT = path.join(here, 'fixtures', 'ffmpeg-publish-720p.txt')
const MAX_BYTES = 2.5 * 1024 * 1024

async function freePort() {
  const srv = net.createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address()
  await new Promise((r) => srv.close(r))
  return port
}

function ffmpegArgs(port) {
  return [
    '-hide_banner', '-nostats', '-loglevel', 'warning',
    '-re', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k', '-g', '60',
    '-c:a', 'aac', '-b:a', '128k',
    '-t', '6',
    '-f', 'flv', `rtmp://127.0.0.1:${port}/live/bench`,
  ]
}

async function startServer() {
  const rtmpPort = await freePort()
  const httpPort = await freePort()
  const child = spawn(process.execPath, [path.join(root, 'dist', 'cli.js'),
    '--rtmp-port', String(rtmpPort), '--http-port', String(httpPort), '--srt-port', '0', '--host', '127.0.0.1'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn' },
  })
  let stderr = ''
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr}`)), 10_000)
    child.stderr.on('data', (d) => {
      stderr += d
      if (stderr.includes('sluice listening')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => reject(new Error(`server exited (${code}):\n${stderr}`)))
  })
  return { child, rtmpPort, stderr: () => stderr }
}

/** A one-connection-at-a-time TCP proxy that keeps every client→server byte. */
async function startProxy(targetPort) {
  const recorded = []
  let connections = 0
  let closed
  const allClosed = new Promise((r) => (closed = r))
  const server = net.createServer((client) => {
    connections++
    const upstream = net.connect(targetPort, '127.0.0.1')
    client.on('data', (d) => {
      recorded.push(Buffer.from(d))
      upstream.write(d)
    })
    upstream.pipe(client)
    client.on('end', () => upstream.end())
    const done = () => {
      client.destroy()
      upstream.destroy()
      closed()
    }
    client.on('close', done)
    upstream.on('close', done)
    client.on('error', () => {})
    upstream.on('error', () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: server.address().port, recorded, allClosed, connections: () => connections }
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(err) : reject(new Error(`${cmd} exited ${code}:\n${err}`))))
  })
}

const TYPE_NAMES = {
  1: 'Set Chunk Size', 2: 'Abort', 3: 'Acknowledgement', 4: 'User Control', 5: 'Window Ack Size',
  6: 'Set Peer Bandwidth', 8: 'Audio', 9: 'Video', 15: 'Data (AMF3)', 17: 'Command (AMF3)',
  18: 'Data (AMF0)', 19: 'Shared Object', 20: 'Command (AMF0)', 22: 'Aggregate',
}
function describe(bytes, meta) {
  const { messages, reads, peerChunkSize, handshakeDone } = decodeRecording(bytes)
  const byType = new Map()
  for (const m of messages) {
    const t = byType.get(m.typeId) ?? { count: 0, bytes: 0 }
    t.count++
    t.bytes += m.payload?.length ?? 0
    byType.set(m.typeId, t)
  }
  const video = messages.filter((m) => m.typeId === 9)
  const audio = messages.filter((m) => m.typeId === 8)
  const keyframes = video.filter((m) => m.flags & 1).length
  const seqHeaders = messages.filter((m) => m.flags & 2).length
  const sizes = (list) => {
    const s = list.map((m) => m.payload.length).sort((a, b) => a - b)
    return s.length ? `min ${s[0]}, median ${s[s.length >> 1]}, max ${s[s.length - 1]}` : '-'
  }
  const commands = messages.filter((m) => m.event && (m.typeId === 20 || m.typeId === 18))
    .map((m) => (m.typeId === 20 ? m.event.name : `data ${JSON.stringify(m.event.values?.[0])}`))
  const chunkSizeEvents = messages.filter((m) => m.typeId === 1).map((m) => m.event.value)
  const last = video.at(-1)?.timestamp ?? 0
  const lines = []
  lines.push('ffmpeg-publish-720p.rtmp — raw client→server bytes of one ffmpeg RTMP publish session')
  lines.push('')
  lines.push(`recorded:        ${meta.date} by bench/record-session.mjs (TCP proxy in front of node dist/cli.js)`)
  lines.push(`ffmpeg:          ${meta.ffmpegVersion}`)
  lines.push(`command:         ${meta.command}`)
  lines.push('                 (the port is the recording proxy\'s, a random free port)')
  lines.push(`bytes:           ${bytes.length} (handshake C0+C1+C2 included)`)
  lines.push(`TCP reads:       ${meta.tcpReads} on the proxy, client→server (${Math.round(bytes.length / meta.tcpReads)} bytes on average)`)
  lines.push('')
  lines.push('Decoded with RtmpSession (role server) fed 64 KiB slices:')
  lines.push(`  handshake done:      ${handshakeDone}`)
  lines.push(`  feed() calls:        ${reads}`)
  lines.push(`  peer chunk size:     ${peerChunkSize} bytes (Set Chunk Size values seen: ${chunkSizeEvents.join(', ') || 'none'})`)
  lines.push(`  media duration:      ${last} ms (last video timestamp)`)
  lines.push(`  video keyframes:     ${keyframes}; sequence headers (audio+video): ${seqHeaders}`)
  lines.push(`  video payload sizes: ${sizes(video)}`)
  lines.push(`  audio payload sizes: ${sizes(audio)}`)
  lines.push(`  commands/data:       ${commands.join(', ')}`)
  lines.push('')
  lines.push('  type id | message type          | count | payload bytes')
  lines.push('  --------|-----------------------|-------|--------------')
  for (const [t, v] of [...byType].sort((a, b) => a[0] - b[0])) {
    const bytesCol = t === 8 || t === 9 ? String(v.bytes) : '-'
    lines.push(`  ${String(t).padStart(7)} | ${(TYPE_NAMES[t] ?? '?').padEnd(21)} | ${String(v.count).padStart(5)} | ${bytesCol.padStart(13)}`)
  }
  lines.push(`  ${'total'.padStart(7)} | ${''.padEnd(21)} | ${String(messages.length).padStart(5)} |`)
  lines.push('')
  lines.push('Payload bytes are counted for audio/video only (the native session returns other messages as')
  lines.push('decoded events). Regenerate with: node bench/record-session.mjs')
  return lines.join('\n') + '\n'
}

async function main() {
  const ffmpegVersion = execFileSync('ffmpeg', ['-version']).toString().split('\n')[0]
  const server = await startServer()
  const proxy = await startProxy(server.rtmpPort)
  const args = ffmpegArgs(proxy.port)
  const command = ['ffmpeg', ...args].join(' ')
  process.stderr.write(`recording: ${command}\n`)
  try {
    const warnings = await run('ffmpeg', args)
    if (warnings.trim()) process.stderr.write(warnings)
    await Promise.race([proxy.allClosed, new Promise((r) => setTimeout(r, 5000))])
  } finally {
    proxy.server.close()
    server.child.kill('SIGTERM')
    await Promise.race([once(server.child, 'exit'), new Promise((r) => setTimeout(r, 6000))])
  }
  if (proxy.connections() !== 1) throw new Error(`expected 1 connection through the proxy, saw ${proxy.connections()}`)
  const bytes = Buffer.concat(proxy.recorded)
  if (bytes.length > MAX_BYTES) throw new Error(`recording is ${bytes.length} bytes, above ${MAX_BYTES}`)
  fs.mkdirSync(path.dirname(FIXTURE), { recursive: true })
  fs.writeFileSync(FIXTURE, bytes)
  const text = describe(bytes, { date: new Date().toISOString(), ffmpegVersion, command, tcpReads: proxy.recorded.length })
  fs.writeFileSync(TRANSCRIPT, text)
  process.stdout.write(`wrote ${path.relative(root, FIXTURE)} and ${path.relative(root, TRANSCRIPT)}\n\n${text}`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`${e.stack ?? e}\n`)
    process.exit(1)
  })
}
