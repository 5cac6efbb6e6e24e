// Read stream statistics two ways: in process from `sluice.hub` (every live `Stream`: codecs,
// bitrate, bytes in, subscribers), and over HTTP from `GET /api/streams` (public, JSON:
// `{streams: StreamInfo[]}`), as a dashboard on another machine would.
//
//   node examples/stream-stats.mjs          (RTMP_PORT, HTTP_PORT: ports; default: any free one)
//
// Publishes 5 s of a test stream with ffmpeg, plays it with a second ffmpeg (HTTP-FLV), prints
// one line of statistics a second while it is live, then exits.
import { spawn } from 'node:child_process'
import { Sluice } from 'sluice'
import { publishTestStream, envPort } from './test-stream.mjs'

const sluice = new Sluice({
  rtmp: { host: '127.0.0.1', port: envPort('RTMP_PORT') },
  http: { host: '127.0.0.1', port: envPort('HTTP_PORT') },
  log: { level: 'warn' },
})
await sluice.start()
const http = `http://127.0.0.1:${sluice.http.port}`

const published = publishTestStream(`rtmp://127.0.0.1:${sluice.rtmp.port}/live/stats`, 5)
// Once it is live, a player: ffmpeg reading the stream over HTTP-FLV, throwing the frames away.
let ended = false
void published.then(() => (ended = true))
while (!ended && !sluice.hub.get('live', 'stats')?.video) await new Promise((resolve) => setTimeout(resolve, 100))
const player = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', `${http}/live/stats.flv`, '-t', '3', '-f', 'null', '-'], { stdio: 'ignore' })
player.on('error', () => {}) // the publisher's failure is reported below

const timer = setInterval(async () => {
  // In process: the hub's live streams.
  for (const stream of sluice.hub.live()) {
    const kbps = Math.round(stream.bitrate() / 1000)
    console.log(`hub: ${stream.app}/${stream.name} video ${stream.video?.codec} audio ${stream.audio?.codec} ${kbps} kbit/s, ${stream.bytesIn} bytes in, ${stream.subscribers.size} subscriber(s)`)
  }
  // Over HTTP: the same streams as JSON, `{streams: StreamInfo[]}`.
  const { streams } = await (await fetch(`${http}/api/streams`)).json()
  for (const s of streams) {
    console.log(`api: ${s.app}/${s.name} ${s.video?.width}x${s.video?.height} ${s.video?.frameRate} fps ${s.video?.codecString} + ${s.audio?.codecString}, ${s.players} player(s), up ${s.uptime} s`)
  }
}, 1000)

const { code, stderr } = await published
clearInterval(timer)
if (code !== 0) console.error(`ffmpeg exited ${code}: ${stderr}`)
player.kill()
await sluice.close()
