#!/usr/bin/env node
// node-media-server (the pinned devDependency) as an RTMP server on 127.0.0.1 for the fan-out
// comparison: RTMP only (no HTTP/admin, no recording), its store in a temp dir, logging at warn.
//   node bench/load/nms-server.mjs PORT [DATA_DIR]
import { createRequire } from 'node:module'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

const require = createRequire(import.meta.url)
const NodeMediaServer = require('node-media-server')
const logger = require('node-media-server/src/core/logger.js')
const port = Number(process.argv[2] ?? 1935)
const dataDir = process.argv[3] ?? mkdtempSync(path.join(tmpdir(), 'nms-data-'))
const nms = new NodeMediaServer({ bind: '127.0.0.1', rtmp: { port }, store: { path: dataDir }, record: { auto: false }, notify: { url: '' } })
logger.level = 'warn' // the constructor sets debug; a line per connection would cost CPU
await nms.run()
console.log(`nms listening on 127.0.0.1:${port}`)
const stop = async () => {
  await nms.stop().catch(() => {})
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
