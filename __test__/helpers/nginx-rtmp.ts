/**
 * nginx with the RTMP module (Debian `nginx` + `libnginx-mod-rtmp`) as a real peer: a CDN-like
 * ingest and origin on loopback, in the foreground, one process, its own prefix directory.
 * `stat()` reads `rtmp_stat` (publishers and players of each stream).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, type Proc } from './ffmpeg'

export interface NginxRtmp {
  port: number
  url: (path: string) => string
  /** Streams of application `app` with their client counts (`rtmp_stat`). */
  stat: (app?: string) => Promise<{ name: string; publishing: boolean; clients: number; publisherId: string | null }[]>
  stop: () => Promise<void>
  proc: Proc
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const start = Date.now()
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy()
        resolve(true)
      })
      c.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() - start > timeoutMs) throw new Error(`nginx did not listen on ${port}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Starts nginx-rtmp on `port` (default: a free one), application `live`. */
export async function startNginxRtmp(port?: number): Promise<NginxRtmp> {
  const rtmpPort = port ?? (await freePort())
  const httpPort = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sluice-nginx-'))
  mkdirSync(join(dir, 'logs'))
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/logs/error.log info;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
rtmp {
  server {
    listen 127.0.0.1:${rtmpPort};
    chunk_size 4096;
    application live { live on; record off; }
  }
}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${httpPort}; location /stat { rtmp_stat all; } }
}
`)
  const proc = run('nginx', ['-p', dir, '-c', conf])
  await waitForPort(rtmpPort, 5000).catch((e: Error) => {
    throw new Error(`${e.message}: ${proc.stderr()}`)
  })
  return {
    port: rtmpPort,
    proc,
    url: (path) => `rtmp://127.0.0.1:${rtmpPort}/${path}`,
    stat: async (app = 'live') => {
      const xml = await (await fetch(`http://127.0.0.1:${httpPort}/stat`)).text()
      const appXml = xml.split('<application>').find((a) => a.includes(`<name>${app}</name>`)) ?? ''
      return appXml.split('<stream>').slice(1).map((s) => ({
        name: /<name>([^<]*)<\/name>/.exec(s)?.[1] ?? '',
        publishing: s.includes('<publishing/>'),
        clients: Number(/<nclients>(\d+)<\/nclients>/.exec(s)?.[1] ?? 0),
        /** nginx's id of the publishing connection (one per TCP connection). */
        publisherId: /<id>(\d+)<\/id>/.exec(s.split('<client>').find((c) => c.includes('<publishing/>')) ?? '')?.[1] ?? null,
      }))
    },
    stop: async () => {
      proc.child.kill('SIGTERM')
      await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 3000))])
      proc.child.kill('SIGKILL')
    },
  }
}
