// Accept or reject publishers in code: every publish (and play) request of every protocol
// (RTMP, WHIP, RTP ingest, ...) goes through one access decision; the application has the last
// word with `sluice.on('publish', req => req.accept() / req.reject(reason))` (README, "Securing
// Sluice"). Here a publisher needs `?key=<KEY>` on the stream name.
//
//   node examples/access-control.mjs        (RTMP_PORT, HTTP_PORT: ports; default: any free one)
//
// Publishes twice with ffmpeg, with a wrong key (refused: RTMP NetStream.Publish.Unauthorized)
// and with the right one (accepted), then exits.
import { Sluice } from 'sluice'
import { publishTestStream, envPort } from './test-stream.mjs'

const KEY = process.env.PUBLISH_KEY ?? 'let-me-in'

const sluice = new Sluice({
  rtmp: { host: '127.0.0.1', port: envPort('RTMP_PORT') },
  http: { host: '127.0.0.1', port: envPort('HTTP_PORT') },
  log: { level: 'warn' },
  // The built-in policy runs first: 'loopback' (the default) lets only this machine's clients
  // through to the listener below; 'token', 'jwt' and 'webhook' are the others.
})

// Called for each request the policy accepted; answer within 10 s. With no listener, accepted.
sluice.on('publish', (req) => {
  if (req.query.get('key') === KEY) {
    console.log(`accepted: ${req.protocol} publish of ${req.app}/${req.stream} from ${req.remoteAddress}`)
    req.accept()
  } else {
    console.log(`rejected: ${req.protocol} publish of ${req.app}/${req.stream}: wrong key`)
    req.reject('wrong key') // RTMP: NetStream.Publish.Unauthorized; HTTP: 403 with this body
  }
})
// A publisher left: what it sent, and why it ended.
sluice.on('unpublish', (client) => {
  console.log(`unpublished: ${client.app}/${client.stream} after ${(client.durationMs / 1000).toFixed(1)} s, ${client.bytesIn} bytes in`)
})

await sluice.start()
const base = `rtmp://127.0.0.1:${sluice.rtmp.port}/live/cam`

const refused = await publishTestStream(`${base}?key=guess`, 2)
console.log(`ffmpeg with a wrong key exited ${refused.code}`)

const accepted = await publishTestStream(`${base}?key=${KEY}`, 2)
console.log(`ffmpeg with the key exited ${accepted.code}`)

await sluice.close()
