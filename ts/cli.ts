#!/usr/bin/env node
/** `npx sluice`: starts the relay with embedded defaults (RTMP 1935, HTTP 8000). */
import { parseArgs } from 'node:util'
import { Sluice } from './server'
import { ListenError } from './errors'

const HELP = `Usage: sluice [options]

Real-time media relay: RTMP publish and play, HTTP API.

Options:
  --rtmp-port <port>   RTMP port (default 1935)
  --http-port <port>   HTTP port (default 8000): GET /api/streams, GET /healthz
  --host <address>     address to bind (default 0.0.0.0)
  --webrtc-bind <addr> local address WebRTC (WHEP) ICE binds to (default: every interface)
  --ice-server <url>   STUN/TURN server announced to WHEP viewers (repeatable),
                       e.g. stun:stun.example.net:3478 or turn:user:pass@host:3478
  --rtp-host <addr>    address RTP/SRTP forwarders, ingest and relay links bind
                       (default: --host)
  --relay-secret <s>   shared secret that authorizes relay links between nodes
                       (also SLUICE_RELAY_SECRET); relays are refused without it
  --merge-write-ms <n> merge RTMP players' writes for up to n ms (default 50; 0: one
                       event-loop turn, the lowest latency, about 1.4x the CPU)
  -h, --help           show this help

Environment:
  SLUICE_LOG_LEVEL     log level: fatal, error, warn, info (default), debug, trace
  SLUICE_RELAY_SECRET  relay secret (see --relay-secret)

Publish: ffmpeg -re -i input.mp4 -c copy -f flv rtmp://127.0.0.1:1935/live/test
Play:    ffplay rtmp://127.0.0.1:1935/live/test
Browser: http://127.0.0.1:8000/ (WebRTC over WHEP: POST /whep/{app}/{stream})
RTP:     POST /api/forwards, POST /api/ingests/{app}/{stream}, POST /api/relays
`

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    process.stderr.write(`sluice: ${flag} must be a port number (0-65535), not "${value}"\n`)
    process.exit(2)
  }
  return n
}

/** A delay in ms from 0 to 1000 (undefined when absent); exits 2 with a message otherwise. */
function milliseconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 1000) {
    process.stderr.write(`sluice: ${flag} must be a whole number of ms from 0 to 1000, got ${JSON.stringify(value)}\n`)
    process.exit(2)
  }
  return n
}

/** `{ [key]: value }`, or nothing when `value` is undefined (so the option's default applies). */
function withValue<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>)
}

async function main(): Promise<void> {
  let values
  try {
    ;({ values } = parseArgs({
      options: {
        'rtmp-port': { type: 'string' },
        'http-port': { type: 'string' },
        host: { type: 'string' },
        'webrtc-bind': { type: 'string' },
        'ice-server': { type: 'string', multiple: true },
        'rtp-host': { type: 'string' },
        'relay-secret': { type: 'string' },
        'merge-write-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    process.stderr.write(`sluice: ${(error as Error).message}\n\n${HELP}`)
    process.exit(2)
  }
  if (values.help) {
    process.stdout.write(HELP)
    return
  }
  const host = values.host ?? '0.0.0.0'
  const sluice = new Sluice({
    rtmp: { port: port(values['rtmp-port'], 1935, '--rtmp-port'), host, ...withValue('playerMergeWriteMs', milliseconds(values['merge-write-ms'], '--merge-write-ms')) },
    http: { port: port(values['http-port'], 8000, '--http-port'), host },
    webrtc: { bindAddress: values['webrtc-bind'], iceServers: values['ice-server'] ?? [] },
    rtp: { host: values['rtp-host'] ?? host, relaySecret: values['relay-secret'] ?? process.env.SLUICE_RELAY_SECRET ?? null },
  })
  try {
    await sluice.start()
  } catch (error) {
    const message = error instanceof ListenError && error.code === 'EADDRINUSE' ? `${error.message} (port already in use)` : (error as Error).message
    process.stderr.write(`sluice: ${message}\n`)
    process.exit(1)
  }
  process.stderr.write(`sluice listening: rtmp://${host}:${sluice.rtmp.port}  http://${host}:${sluice.http.port}\n`)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    sluice.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => process.exit(1), 5000)
    force.unref()
    void sluice.close().then(() => process.exit(0))
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

void main()
