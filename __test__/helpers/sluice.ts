/** Starts a Sluice server in this process on free loopback ports, with its logs captured. */
import { Writable } from 'node:stream'
import pino from 'pino'
import { Sluice, type SluiceOptions } from '../../dist/index.js'

export interface LogLine {
  level: number
  msg: string
  reason?: string
  handshake?: string
  [key: string]: unknown
}

export interface TestServer {
  sluice: Sluice
  rtmpUrl: (path: string) => string
  httpUrl: (path: string) => string
  /** `srt://127.0.0.1:<port>?streamid=<streamId>` plus `extra` query parameters. */
  srtUrl: (streamId: string, extra?: string) => string
  logs: LogLine[]
  close: () => Promise<void>
}

export async function startSluice(options: Omit<SluiceOptions, 'logger'> = {}): Promise<TestServer> {
  const logs: LogLine[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as LogLine)
      done()
    },
  })
  const logger = pino({ level: 'debug', base: undefined }, sink)
  const sluice = new Sluice({
    ...options,
    rtmp: { port: 0, host: '127.0.0.1', ...options.rtmp },
    http: { port: 0, host: '127.0.0.1', ...options.http },
    srt: { port: 0, host: '127.0.0.1', ...options.srt },
    logger,
  })
  await sluice.start()
  return {
    sluice,
    rtmpUrl: (path) => `rtmp://127.0.0.1:${sluice.rtmp.port}/${path}`,
    httpUrl: (path) => `http://127.0.0.1:${sluice.http.port}${path}`,
    srtUrl: (streamId, extra = '') => `srt://127.0.0.1:${sluice.srt.port}?streamid=${streamId}${extra ? `&${extra}` : ''}`,
    logs,
    close: () => sluice.close(),
  }
}

/** Polls `check` (sync or async) every 50 ms until it gives a truthy value, which it returns. */
export async function waitFor<T>(check: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const start = Date.now()
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
