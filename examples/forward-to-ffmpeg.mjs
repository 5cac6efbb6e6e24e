// Forward a live stream to ffmpeg over SRTP: `POST /api/forwards` (an admin route: loopback, or
// `Authorization: Bearer <admin.token>`) makes Sluice send the stream's H.264 and AAC as RTP
// to a host and ports, encrypted with a fresh SRTP key; `GET /api/forwards/{id}/sdp` is the SDP
// that ffmpeg (or GStreamer, VLC) opens to receive it. Here ffmpeg records 3 s into a file.
//
//   node examples/forward-to-ffmpeg.mjs [out.mkv]
//     RTMP_PORT, HTTP_PORT: Sluice's ports (default: any free one); FORWARD_PORT: the even UDP
//     port ffmpeg receives video on (audio: +2, RTCP: +1 and +3; default: a free one)
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from 'sluice'
import { publishTestStream, envPort } from './test-stream.mjs'

const dir = mkdtempSync(join(tmpdir(), 'sluice-forward-'))
const out = process.argv[2] ?? join(dir, 'forwarded.mkv')

const sluice = new Sluice({
  rtmp: { host: '127.0.0.1', port: envPort('RTMP_PORT') },
  http: { host: '127.0.0.1', port: envPort('HTTP_PORT') },
  rtp: { host: '127.0.0.1' }, // the address Sluice's RTP sockets bind
  log: { level: 'warn' },
})
await sluice.start()
const api = `http://127.0.0.1:${sluice.http.port}/api`

const published = publishTestStream(`rtmp://127.0.0.1:${sluice.rtmp.port}/live/fwd`, 6)
let ended = false
void published.then(() => (ended = true))
while (!ended && !sluice.hub.get('live', 'fwd')?.audio) await new Promise((resolve) => setTimeout(resolve, 100))

const videoPort = envPort('FORWARD_PORT') || (await freeUdpPorts())
const res = await fetch(`${api}/forwards`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ stream: 'live/fwd', host: '127.0.0.1', videoPort, srtp: true }),
})
if (res.status !== 201) throw new Error(`POST /api/forwards: ${res.status} ${await res.text()}`)
const forward = await res.json() // {id, sdp, sdpUrl, ...}
console.log(`forward ${forward.id}: live/fwd to 127.0.0.1:${videoPort} (video) and :${videoPort + 2} (audio) over SRTP`)
const sdpFile = join(dir, 'forward.sdp')
writeFileSync(sdpFile, await (await fetch(`${api}/forwards/${forward.id}/sdp`)).text())

// ffmpeg reads the SDP (keys included) and records what arrives, without re-encoding.
const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-protocol_whitelist', 'file,udp,rtp,srtp', '-i', sdpFile, '-t', '3', '-c', 'copy', out], { stdio: 'inherit' })
const code = await new Promise((resolve) => ffmpeg.on('close', resolve))
console.log(`ffmpeg exited ${code}: recorded ${out}`)

const [stats] = await (await fetch(`${api}/forwards`)).json()
console.log(`forward stats: ${stats.packetsSent} packets sent, ${stats.sendErrors} send errors`)
await fetch(`${api}/forwards/${forward.id}`, { method: 'DELETE' })
await published
await sluice.close()

/** An even UDP port p with p..p+3 free (video RTP/RTCP, audio RTP/RTCP). */
async function freeUdpPorts() {
  for (;;) {
    const base = 20000 + 2 * Math.floor(Math.random() * 20000)
    const sockets = []
    try {
      for (let i = 0; i < 4; i++) {
        const socket = dgram.createSocket('udp4')
        sockets.push(socket)
        await new Promise((resolve, reject) => socket.once('error', reject).bind(base + i, '127.0.0.1', resolve))
      }
      return base
    } catch {
      // taken: try another
    } finally {
      for (const socket of sockets) socket.close()
    }
  }
}
