/** A signaling test client (`ws`): keeps every message received, waits for the next one that matches. */
import WebSocket from 'ws'

export type Msg = { type: string; [key: string]: any }

export class SignalingClient {
  readonly ws: WebSocket
  /** Every JSON message received, in order. */
  readonly received: Msg[] = []
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>
  #taken = new Set<number>()
  #waiters: (() => void)[] = []

  private constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data) => {
      this.received.push(JSON.parse(data.toString()) as Msg)
      for (const w of this.#waiters.splice(0)) w()
    })
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() })
      for (const w of this.#waiters.splice(0)) w()
    }))
  }

  static connect(url: string, options: WebSocket.ClientOptions = {}): Promise<SignalingClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options)
      const client = new SignalingClient(ws)
      ws.once('open', () => resolve(client))
      ws.once('error', reject)
    })
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message))
  }

  /** The first message not taken yet that matches `match` (a type or a predicate); taken once. */
  next(match: string | ((m: Msg) => boolean), timeoutMs = 5000): Promise<Msg> {
    const pred = typeof match === 'string' ? (m: Msg) => m.type === match : match
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message matching ${String(match)} in ${timeoutMs} ms; got ${JSON.stringify(this.received.slice(-5))}`)), timeoutMs)
      const check = () => {
        const i = this.received.findIndex((m, i) => !this.#taken.has(i) && pred(m))
        if (i >= 0) {
          this.#taken.add(i)
          clearTimeout(timer)
          return resolve(this.received[i]!)
        }
        if (this.ws.readyState === WebSocket.CLOSED) {
          clearTimeout(timer)
          return reject(new Error(`socket closed waiting for ${String(match)}`))
        }
        this.#waiters.push(check)
      }
      check()
    })
  }

  /** Resolves once `cond()` holds (checked on each message). */
  until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`condition not met in ${timeoutMs} ms (${this.received.length} received)`)), timeoutMs)
      const check = () => {
        if (cond()) {
          clearTimeout(timer)
          return resolve()
        }
        if (this.ws.readyState === WebSocket.CLOSED) {
          clearTimeout(timer)
          return reject(new Error('socket closed waiting for a condition'))
        }
        this.#waiters.push(check)
      }
      check()
    })
  }

  /** Joins and returns the `joined` message (or throws with the error). */
  async join(room: string, extra: Record<string, unknown> = {}): Promise<Msg> {
    this.send({ type: 'join', room, ...extra })
    const m = await this.next((m) => m.type === 'joined' || m.type === 'error')
    if (m.type === 'error') throw new Error(`${m.code}: ${m.message}`)
    return m
  }

  close(): void {
    this.ws.close()
  }
}
