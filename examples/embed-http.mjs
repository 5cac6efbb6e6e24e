// Sluice inside an existing Node service: the application keeps its own HTTP server (its pages,
// its API) and runs Sluice in the same process, reading `sluice.hub` directly. Sluice cannot
// share the application's `http.Server` today: it listens on its own HTTP port (WHEP, WHIP,
// HTTP-FLV, the player page, /api), beside the application's, and the application links to it
// (or a reverse proxy puts both behind one origin).
//
//   node examples/embed-http.mjs
//     APP_PORT: the application's port; RTMP_PORT, HTTP_PORT: Sluice's (default: any free one)
//
// Publishes 4 s of a test stream with ffmpeg, asks the application's own routes what is live,
// reads the first bytes of the HTTP-FLV URL it links to, then exits.
import http from 'node:http'
import { Sluice } from 'sluice'
import { publishTestStream, envPort } from './test-stream.mjs'

const sluice = new Sluice({
  rtmp: { host: '127.0.0.1', port: envPort('RTMP_PORT') },
  http: { host: '127.0.0.1', port: envPort('HTTP_PORT') },
  log: { level: 'warn' },
})

// The application's server, with its own routes; what is live comes from the hub, in process.
const app = http.createServer((req, res) => {
  const media = `http://127.0.0.1:${sluice.http.port}`
  const live = sluice.hub.live().map((s) => ({
    stream: `${s.app}/${s.name}`,
    codecs: [s.video?.codecString, s.audio?.codecString].filter(Boolean),
    viewers: s.subscribers.size,
    watch: `${media}/?play=${s.app}/${s.name}`, // Sluice's WebRTC player page
    flv: `${media}/${s.app}/${s.name}.flv`, // HTTP-FLV, for flv.js/mpegts.js or ffmpeg
  }))
  if (req.url === '/streams.json') {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(live))
  } else if (req.url === '/') {
    const items = live.map((s) => `<li><a href="${s.watch}">${s.stream}</a> (${s.codecs.join(', ')})</li>`).join('')
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(`<h1>My app</h1><ul>${items}</ul>`)
  } else {
    res.writeHead(404).end()
  }
})

await sluice.start()
await new Promise((resolve) => app.listen(envPort('APP_PORT'), '127.0.0.1', resolve))
const appUrl = `http://127.0.0.1:${app.address().port}`
console.log(`app: ${appUrl}  sluice: rtmp://127.0.0.1:${sluice.rtmp.port} http://127.0.0.1:${sluice.http.port}`)

const published = publishTestStream(`rtmp://127.0.0.1:${sluice.rtmp.port}/live/embedded`, 4)
let ended = false
void published.then(() => (ended = true))
while (!ended && !sluice.hub.get('live', 'embedded')?.audio) await new Promise((resolve) => setTimeout(resolve, 100))

const [entry] = await (await fetch(`${appUrl}/streams.json`)).json()
console.log(`app /streams.json: ${JSON.stringify(entry)}`)
console.log(`app /: ${await (await fetch(`${appUrl}/`)).text()}`)

// Follow the application's link: Sluice serves the stream over HTTP-FLV.
const flv = await fetch(entry.flv)
const reader = flv.body.getReader()
const { value } = await reader.read()
console.log(`GET ${entry.flv}: ${flv.status} ${flv.headers.get('content-type')}, starts with ${JSON.stringify(Buffer.from(value.subarray(0, 3)).toString('latin1'))}`)
await reader.cancel()

await published
await new Promise((resolve) => app.close(resolve))
await sluice.close()
