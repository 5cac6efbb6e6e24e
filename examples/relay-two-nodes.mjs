// Two Sluice nodes with a relay link: an origin that publishers reach, and an edge that plays
// the origin's stream to its own players. Both get the same `rtp.relaySecret`; the edge asks
// with `POST /api/relays {origin, stream}` (an admin route), makes both SRTP keys and sends them
// to the origin in a call authorized by the secret; the origin then sends the stream to the
// edge over one SRTP port, repairing losses (NACK). Here both nodes run in this process; in
// production they are two machines (`sluice --relay-secret ...` on each,
// `rtp.allowedDestinations` on the origin naming the edge).
//
//   node examples/relay-two-nodes.mjs       (RELAY_SECRET: the shared secret; ports: any free)
//
// Publishes 6 s to the origin, plays 3 s from the edge with ffmpeg (RTMP), prints what the
// player decoded and the link's statistics, then exits.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Sluice } from 'sluice'
import { publishTestStream } from './test-stream.mjs'

const relaySecret = process.env.RELAY_SECRET ?? randomBytes(24).toString('base64')
const node = () =>
  new Sluice({
    rtmp: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    srt: { host: '127.0.0.1', port: 0 },
    rtp: { host: '127.0.0.1', relaySecret },
    log: { level: 'warn' },
  })
const origin = node()
const edge = node()
await origin.start()
await edge.start()
const originUrl = `http://127.0.0.1:${origin.http.port}`
const edgeApi = `http://127.0.0.1:${edge.http.port}/api`
console.log(`origin: rtmp://127.0.0.1:${origin.rtmp.port} ${originUrl}; edge: rtmp://127.0.0.1:${edge.rtmp.port}`)

const published = publishTestStream(`rtmp://127.0.0.1:${origin.rtmp.port}/live/relayed`, 6)
let ended = false
void published.then(() => (ended = true))
while (!ended && !origin.hub.get('live', 'relayed')?.audio) await new Promise((resolve) => setTimeout(resolve, 100))

// On the edge: pull live/relayed from the origin.
const res = await fetch(`${edgeApi}/relays`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ origin: originUrl, stream: 'live/relayed' }),
})
if (res.status !== 201) throw new Error(`POST /api/relays: ${res.status} ${await res.text()}`)
const link = await res.json()
console.log(`relay ${link.id}: live/relayed from the origin is live on the edge`)

// A player on the edge, counting the frames it decodes.
const player = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', `rtmp://127.0.0.1:${edge.rtmp.port}/live/relayed`, '-t', '3', '-f', 'framemd5', '-'], { stdio: ['ignore', 'pipe', 'inherit'] })
let lines = ''
player.stdout.on('data', (d) => (lines += d))
const code = await new Promise((resolve) => player.on('close', resolve))
const frames = lines.split('\n').filter((l) => l && !l.startsWith('#'))
const video = frames.filter((l) => l.startsWith('0,')).length
const audio = frames.filter((l) => l.startsWith('1,')).length
console.log(`edge player (ffmpeg) exited ${code}: decoded ${video} video and ${audio} audio frames`)

const [stats] = await (await fetch(`${edgeApi}/relays`)).json()
console.log(`relay stats on the edge: ${JSON.stringify(stats)}`)
await fetch(`${edgeApi}/relays/${link.id}`, { method: 'DELETE' })
await published
await edge.close()
await origin.close()
