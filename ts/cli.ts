#!/usr/bin/env node
/**
 * `npx sluice`: starts the relay from a YAML file, `SLUICE_*` environment variables and flags
 * (each overriding the one before; ts/config/load.ts), or with embedded defaults (RTMP 1935,
 * HTTP 8000). `sluice token` mints a signed token. Exit status: 0 done, 1 cannot listen, 2 bad
 * configuration or usage (1 too when the native binary is missing: the message names the
 * platform package to install). Flags are parsed, `--help` printed and tokens minted before the
 * server, and with it the native binary, is loaded.
 */
import os from 'node:os'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { Sluice as SluiceClass } from './server'
import { ConfigError, ListenError, NativeBindingError } from './errors'
import { configToYaml, loadConfig, type FlagSetting, type LoadedConfig } from './config/load'
import { signToken } from './access/signed-token'

const HELP = `Usage: sluice [options]
       sluice token --action publish|play --stream <app/name> [options]   (sluice token --help)

Real-time media relay: RTMP, HTTP-FLV, WebRTC (WHIP/WHEP, rooms), RTP; HTTP API.

Configuration comes from a YAML file, then SLUICE_* environment variables, then flags, each
overriding the one before; one schema checks the result, and a bad value exits 2 naming its
source and key. sluice.example.yaml (in the package) lists every key with its default.

Options:
  -c, --config <file>  YAML config file (also SLUICE_CONFIG)
  --print-config       print the effective configuration as YAML and exit; secrets (keys
                       named *secret*, *token*, *password*, passwords in URLs) are shown
                       as "<redacted>"
  --rtmp-port <port>   rtmp.port (default 1935)
  --http-port <port>   http.port (default 8000): GET /api/streams, GET /healthz
  --srt-port <port>    srt.port (default 8890): SRT publish and play (MPEG-TS), stream ids
                       #!::r=live/stream,m=publish or publish:live/stream
  --host <address>     rtmp.host, srt.host and http.host: the address to bind (default 0.0.0.0)
  --webrtc-bind <addr> webrtc.bindAddress: local address WebRTC (WHEP) ICE binds to
                       (default: every interface)
  --webrtc-transport <datachannel|native>
                       webrtc.transport: what carries WHEP viewers' media (default
                       datachannel; native: one UDP port, webrtc.udpPort, default 8189)
  --ice-server <url>   webrtc.iceServers: STUN/TURN server announced to WHEP viewers
                       (repeatable), e.g. stun:stun.example.net:3478 or
                       turn:user:pass@host:3478
  --rtp-host <addr>    rtp.host: address RTP/SRTP forwarders, ingest and relay links bind
                       (default: http.host)
  --relay-secret <s>   rtp.relaySecret: shared secret that authorizes relay links between
                       nodes (also SLUICE_RELAY_SECRET); relays are refused without it
  --redis <url>        cluster.redis.url: join a cluster whose stream registry is this
                       Redis (redis://[:password@]host:6379, rediss:// for TLS); needs
                       --relay-secret, the same on every node
  --node-id <id>       cluster.nodeId: this node's id in the registry (default
                       hostname-pid)
  --merge-write-ms <n> rtmp.playerMergeWriteMs: merge RTMP players' writes for up to n ms
                       (default 50; 0: one event-loop turn, the lowest latency, about 1.4x
                       the CPU)
  -h, --help           show this help

Environment:
  SLUICE_<SECTION>_<KEY>  any key of the file: its path in SCREAMING_SNAKE_CASE, joined
                       by _ (SLUICE_RTMP_PORT=1935, SLUICE_ACCESS_POLICY=token,
                       SLUICE_ACCESS_TOKEN_SECRET=..., SLUICE_HTTP_CORS_ORIGINS=a,b);
                       lists as comma lists or JSON, booleans as true/false; an unknown
                       SLUICE_* name is reported as a warning
  SLUICE_LOG_LEVEL     log.level: fatal, error, warn, info (default), debug, trace
  SLUICE_RELAY_SECRET  rtp.relaySecret (see --relay-secret)

Shutdown: on SIGTERM or SIGINT, new connections are refused, publishers are closed, players
are told their stream ended, and they get shutdown.graceMs (default 5000) to leave before
the server closes; a second signal exits at once.

Publish: ffmpeg -re -i input.mp4 -c copy -f flv rtmp://127.0.0.1:1935/live/test
Play:    ffplay rtmp://127.0.0.1:1935/live/test
Browser: http://127.0.0.1:8000/ (WebRTC over WHEP: POST /whep/{app}/{stream})
RTP:     POST /api/forwards, POST /api/ingests/{app}/{stream}, POST /api/relays
`

const TOKEN_HELP = `Usage: sluice token --action publish|play --stream <app/name> [options]

Mints a signed expiring token for access.policy "token" (HMAC-SHA256 over the action, the
stream and the expiry). Prints the token, then the URLs that carry it (?token=...).

Options:
  --action <a>          publish or play (required)
  --stream <app/name>   the stream, e.g. live/cam (required)
  --ttl <seconds>       how long the token is valid, from now (default 3600)
  --secret <s>          access.token.secret (at least 16 characters); else
                        SLUICE_ACCESS_TOKEN_SECRET, else the config file's
  -c, --config <file>   config file to read the secret and the ports from (also SLUICE_CONFIG)
  -h, --help            show this help

Example: sluice token --action publish --stream live/cam --ttl 3600 --secret "$SECRET"
`

/** Flags that set keys of the config: flag name → key paths. */
const FLAG_KEYS: Record<string, string[][]> = {
  'rtmp-port': [['rtmp', 'port']],
  'http-port': [['http', 'port']],
  'srt-port': [['srt', 'port']],
  host: [
    ['rtmp', 'host'],
    ['srt', 'host'],
    ['http', 'host'],
  ],
  'webrtc-bind': [['webrtc', 'bindAddress']],
  'webrtc-transport': [['webrtc', 'transport']],
  'ice-server': [['webrtc', 'iceServers']],
  'rtp-host': [['rtp', 'host']],
  'relay-secret': [['rtp', 'relaySecret']],
  'merge-write-ms': [['rtmp', 'playerMergeWriteMs']],
  redis: [['cluster', 'redis', 'url']],
  'node-id': [['cluster', 'nodeId']],
}

function fail(message: string, status = 2): never {
  process.stderr.write(`sluice: ${message}\n`)
  process.exit(status)
}

/** Loads the configuration; on a bad one prints `sluice: <source>: <key.path>: <reason>` per issue and exits 2. */
function load(file: string | undefined, flags: FlagSetting[]): LoadedConfig {
  let loaded: LoadedConfig
  try {
    loaded = loadConfig({ file, flags, onWarning: (warning) => process.stderr.write(`sluice: warning: ${warning}\n`) })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    for (const i of error.issues) process.stderr.write(`sluice: ${i.source ?? 'config'}: ${i.path ? `${i.path}: ` : ''}${i.message}\n`)
    process.exit(2)
  }
  return loaded
}

/** Parses flags; on an unknown or malformed one prints it with the help and exits 2. */
function parse<const T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, help: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values
  } catch (error) {
    process.stderr.write(`sluice: ${(error as Error).message}\n\n${help}`)
    process.exit(2)
  }
}

function wildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === ''
}

/** `sluice token ...` */
function token(args: string[]): void {
  const values = parse(
    args,
    {
      action: { type: 'string' },
      stream: { type: 'string' },
      ttl: { type: 'string' },
      secret: { type: 'string' },
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    },
    TOKEN_HELP,
  )
  if (values.help) {
    process.stdout.write(TOKEN_HELP)
    return
  }
  const action = values.action
  if (action !== 'publish' && action !== 'play') fail(`token: --action must be publish or play, not ${JSON.stringify(action ?? '')}`)
  const stream = values.stream ?? ''
  if (!/^[^/\s?#]+\/[^\s?#]+$/.test(stream)) fail(`token: --stream must be app/name (e.g. live/cam), not ${JSON.stringify(stream)}`)
  const ttlText = values.ttl ?? '3600'
  if (!/^\d+$/.test(ttlText) || Number(ttlText) < 1) fail(`token: --ttl must be a whole number of seconds >= 1, not ${JSON.stringify(ttlText)}`)
  const flags: FlagSetting[] = values.secret === undefined ? [] : [{ flag: '--secret', path: ['access', 'token', 'secret'], value: values.secret }]
  const { config } = load(values.config, flags)
  const secret = config.access.token?.secret
  if (!secret) fail('token: no secret: give --secret, SLUICE_ACCESS_TOKEN_SECRET, or access.token.secret in the --config file')
  const expires = Math.floor(Date.now() / 1000) + Number(ttlText)
  const minted = signToken(secret, action, stream, expires)
  const host = (h: string) => (wildcard(h) ? os.hostname() : h.includes(':') ? `[${h}]` : h)
  const query = `?token=${encodeURIComponent(minted)}`
  const [app, ...name] = stream.split('/')
  let out = `${minted}\nrtmp://${host(config.rtmp.host)}:${config.rtmp.port}/${app}/${name.join('/')}${query}\n`
  if (action === 'play') out += `http://${host(config.http.host)}:${config.http.port}/${stream}.flv${query}\n`
  process.stdout.write(out)
  process.stderr.write(`sluice: token for ${action} on ${stream}, valid until ${new Date(expires * 1000).toISOString()}\n`)
}

async function serve(args: string[]): Promise<void> {
  const values = parse(
    args,
    {
      config: { type: 'string', short: 'c' },
      'print-config': { type: 'boolean' },
      'rtmp-port': { type: 'string' },
      'http-port': { type: 'string' },
      'srt-port': { type: 'string' },
      host: { type: 'string' },
      'webrtc-bind': { type: 'string' },
      'webrtc-transport': { type: 'string' },
      'ice-server': { type: 'string', multiple: true },
      'rtp-host': { type: 'string' },
      'relay-secret': { type: 'string' },
      'merge-write-ms': { type: 'string' },
      redis: { type: 'string' },
      'node-id': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  )
  if (values.help) {
    process.stdout.write(HELP)
    return
  }
  const flags: FlagSetting[] = []
  for (const [flag, paths] of Object.entries(FLAG_KEYS)) {
    const value = (values as Record<string, string | string[] | undefined>)[flag]
    if (value !== undefined) for (const path of paths) flags.push({ flag: `--${flag}`, path, value })
  }
  const { config } = load(values.config, flags)
  if (values['print-config']) {
    process.stdout.write(configToYaml(config))
    return
  }

  let Sluice: typeof SluiceClass
  try {
    // Loaded here, not at the top: `--help`, `--print-config` and `sluice token` work without the
    // native binary.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    Sluice = (require('./server') as typeof import('./server')).Sluice
  } catch (error) {
    if (error instanceof NativeBindingError) fail(error.message, 1)
    throw error
  }
  let sluice: SluiceClass
  try {
    sluice = new Sluice(config)
  } catch (error) {
    // settings that only the server can check (a file it cannot read, keys that go together)
    if (!(error instanceof ConfigError)) throw error
    for (const i of error.issues) process.stderr.write(`sluice: ${i.source ?? 'config'}: ${i.path ? `${i.path}: ` : ''}${i.message}
`)
    process.exit(2)
  }
  try {
    await sluice.start()
  } catch (error) {
    const message = error instanceof ListenError && error.code === 'EADDRINUSE' ? `${error.message} (port already in use)` : (error as Error).message
    fail(message, 1)
  }
  process.stderr.write(`sluice listening: rtmp://${config.rtmp.host}:${sluice.rtmp.port}  http://${config.http.host}:${sluice.http.port}\n`)
  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`sluice: ${signal} again: exiting now\n`)
      process.exit(signal === 'SIGINT' ? 130 : 143)
    }
    stopping = true
    const graceMs = config.shutdown.graceMs
    sluice.log.info({ signal, graceMs }, 'shutting down')
    // Past the grace period, close() itself gets 5 s.
    setTimeout(() => fail('shutdown took too long, exiting', 1), graceMs + 5000).unref()
    sluice.drain(graceMs).then(
      () => process.exit(0),
      (error: unknown) => fail(`shutdown failed: ${(error as Error).message}`, 1),
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

const argv = process.argv.slice(2)
if (argv[0] === 'token') token(argv.slice(1))
else void serve(argv)
