/** Worker thread entry: hosts WHEP viewers' PeerConnections (see `viewer-host.ts`). */
import { parentPort } from 'node:worker_threads'
import nodeDataChannel from 'node-datachannel'
import { ViewerHost } from './viewer-host'
import type { HostMessage, PoolMessage } from './viewer-protocol'

if (!parentPort) throw new Error('viewer-worker must run in a worker thread')
const port = parentPort
const host = new ViewerHost((m: HostMessage) => port.postMessage(m))
port.on('message', (m: PoolMessage | { op: 'shutdown' }) => {
  if (m.op === 'shutdown') {
    host.closeAll()
    // libdatachannel's threads must stop before the worker's environment goes away.
    nodeDataChannel.cleanup()
    port.close()
    return
  }
  host.handle(m)
})
