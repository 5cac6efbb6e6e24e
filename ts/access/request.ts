/**
 * The access request: one shape for every publish and play, whatever the protocol, answered by
 * the one access decision (ts/access/access-control.ts) and, last, by the application:
 * `sluice.on('publish', req => req.accept() | req.reject(reason))`.
 */

/** What a client asks to do with a stream. Joining a signaling room is a `publish` in app `room`. */
export type AccessAction = 'publish' | 'play'

/** The protocols whose clients the access model and the clients list know. */
export type ClientProtocol = 'rtmp' | 'http-flv' | 'ws-flv' | 'hls' | 'whip' | 'whep' | 'signaling' | 'rtp' | 'relay' | 'sfu' | 'srt'

export interface AccessRequestInit {
  action: AccessAction
  app: string
  /** Stream name (without its query string). */
  stream: string
  protocol: ClientProtocol
  /** The client's IP (IPv4-mapped IPv6 normalised to IPv4). */
  remoteAddress: string
  /**
   * The credential the client presented: RTMP `?token=` on the stream name or the tcUrl, HTTP
   * `Authorization: Bearer`, or a `token` query parameter (pages, players that cannot set
   * headers), signaling's `join.token`. Null when none.
   */
  credential: string | null
  /** The request's parsed query (stream name query for RTMP, URL query for HTTP). */
  query: URLSearchParams
  /** The id the client has in `GET /api/clients` and in lifecycle events. */
  clientId: string
  /**
   * Already authenticated by Sluice itself (the admin credential for API-created ingests, the
   * relay secret for relay links between nodes): built-in policies accept it; webhooks and
   * in-process listeners are still asked.
   */
  trusted?: boolean
}

/** A refusal: the reason (logged, given to the client) and the HTTP-like status (401 no credential, 403 refused). */
export interface AccessRefusal {
  reason: string
  status: 401 | 403
}

export class AccessRequest {
  readonly action: AccessAction
  readonly app: string
  readonly stream: string
  readonly protocol: ClientProtocol
  readonly remoteAddress: string
  readonly credential: string | null
  readonly query: URLSearchParams
  readonly clientId: string
  readonly trusted: boolean
  #settle: ((refusal: AccessRefusal | null) => void) | null = null

  constructor(init: AccessRequestInit) {
    this.action = init.action
    this.app = init.app
    this.stream = init.stream
    this.protocol = init.protocol
    this.remoteAddress = init.remoteAddress
    this.credential = init.credential
    this.query = init.query
    this.clientId = init.clientId
    this.trusted = init.trusted ?? false
  }

  /** `app/stream`. */
  get path(): string {
    return `${this.app}/${this.stream}`
  }

  /** True once `accept()` or `reject()` was called (or the decision timed out). */
  get settled(): boolean {
    return this.#settle === null
  }

  /** Called by the access control when the application is asked; internal. */
  awaitAnswer(settle: (refusal: AccessRefusal | null) => void): void {
    this.#settle = settle
  }

  accept(): void {
    const settle = this.#settle
    this.#settle = null
    settle?.(null)
  }

  /** Refuses with a reason the client is told (RTMP status description, HTTP body, signaling error). */
  reject(reason = 'rejected', status: 401 | 403 = 403): void {
    const settle = this.#settle
    this.#settle = null
    settle?.({ reason, status })
  }

  toJSON(): Omit<AccessRequestInit, 'query' | 'credential'> & { query: Record<string, string>; hasCredential: boolean } {
    return {
      action: this.action, app: this.app, stream: this.stream, protocol: this.protocol, remoteAddress: this.remoteAddress,
      clientId: this.clientId, trusted: this.trusted, query: Object.fromEntries(this.query), hasCredential: this.credential !== null,
    }
  }
}
