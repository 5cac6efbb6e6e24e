/** A raw TCP RTMP client for hostile-input tests: does a simple handshake, then sends bytes. */
import net from 'node:net'

export interface RawClient {
  socket: net.Socket
  closed: Promise<void>
  send: (bytes: Buffer) => void
}

/** Connects and completes a simple handshake (C0 = 3, C1 with zero version: no digest). */
export function rawHandshake(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let received = Buffer.alloc(0)
    let done = false
    const closed = new Promise<void>((r) => socket.on('close', () => r()))
    socket.on('error', () => {})
    socket.on('connect', () => {
      const c1 = Buffer.alloc(1536)
      for (let i = 8; i < 1536; i++) c1[i] = (i * 7) & 0xff
      socket.write(Buffer.concat([Buffer.from([3]), c1]))
    })
    socket.on('data', (d: Buffer) => {
      if (done) return
      received = Buffer.concat([received, d])
      if (received.length >= 1 + 1536 * 2) {
        done = true
        socket.write(received.subarray(1, 1537)) // C2 = echo of S1
        resolve({ socket, closed, send: (b) => socket.write(b) })
      }
    })
    setTimeout(() => reject(new Error('handshake timed out')), 5000)
  })
}

/** A chunk with a fmt 0 header (csid < 64) and the given payload, in one chunk. */
export function fmt0Chunk(csid: number, typeId: number, msid: number, length: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12)
  h[0] = csid
  h.writeUIntBE(0, 1, 3)
  h.writeUIntBE(length, 4, 3)
  h[7] = typeId
  h.writeUInt32LE(msid, 8)
  return Buffer.concat([h, payload])
}

/** AMF0 encoding of the few shapes test commands need (string, number, null, flat object). */
export function amf0(...values: unknown[]): Buffer {
  const parts: Buffer[] = []
  const str = (s: string) => {
    const b = Buffer.from(s)
    const h = Buffer.alloc(2)
    h.writeUInt16BE(b.length)
    return Buffer.concat([h, b])
  }
  for (const v of values) {
    if (typeof v === 'number') {
      const b = Buffer.alloc(9)
      b[0] = 0
      b.writeDoubleBE(v, 1)
      parts.push(b)
    } else if (typeof v === 'string') {
      parts.push(Buffer.from([2]), str(v))
    } else if (v === null) {
      parts.push(Buffer.from([5]))
    } else if (typeof v === 'object') {
      parts.push(Buffer.from([3]))
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) parts.push(str(k), amf0(x))
      parts.push(Buffer.from([0, 0, 9]))
    }
  }
  return Buffer.concat(parts)
}

/** A type-20 command in one chunk (payload must fit the default 128-byte chunk size). */
export function command(msid: number, ...values: unknown[]): Buffer {
  const payload = amf0(...values)
  if (payload.length > 128) throw new Error('command too long for one chunk')
  return fmt0Chunk(3, 20, msid, payload.length, payload)
}
