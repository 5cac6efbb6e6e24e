/**
 * Viewer process entry: hosts WHEP viewers' PeerConnections (see `viewer-host.ts`). It is a child
 * process rather than a worker thread: libdatachannel's native threads can crash Node while an
 * environment is torn down, and in a child process such a crash (or any other one in the native
 * WebRTC stack) ends only that process's viewers, never the server's RTMP ingest or HTTP.
 */
import nodeDataChannel from 'node-datachannel'
import { ViewerHost } from './viewer-host'
import type { HostMessage, PoolMessage } from './viewer-protocol'

if (!process.send) throw new Error('viewer-worker must run as a forked child process')
const send = process.send.bind(process)
const host = new ViewerHost((m: HostMessage) => send(m))
process.on('message', (m: PoolMessage | { op: 'shutdown' }) => {
  if (m.op === 'shutdown') {
    host.closeAll()
    nodeDataChannel.cleanup()
    process.exit(0)
  }
  host.handle(m)
})
// The server went away: nothing left to serve. SIGKILL rather than exit(): libdatachannel's
// teardown can hang in exit handlers while its threads still run, leaving an orphan behind.
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'))
