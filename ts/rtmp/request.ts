/**
 * Publish and play requests the application answers (auth hooks plug in here):
 * `server.on('publish', req => req.accept() / req.reject('reason'))`. With no listener a request
 * is accepted. An unanswered request is rejected after 10 s.
 */
export type RequestKind = 'publish' | 'play'

export class StreamRequest {
  readonly kind: RequestKind
  readonly app: string
  readonly name: string
  /** Query string of the stream name (`name?token=...`), e.g. for a token check. */
  readonly query: URLSearchParams
  readonly remoteAddress: string
  readonly connectionId: string
  #settle: ((accepted: boolean, reason: string) => void) | null

  constructor(
    init: { kind: RequestKind; app: string; name: string; query: URLSearchParams; remoteAddress: string; connectionId: string },
    settle: (accepted: boolean, reason: string) => void,
  ) {
    this.kind = init.kind
    this.app = init.app
    this.name = init.name
    this.query = init.query
    this.remoteAddress = init.remoteAddress
    this.connectionId = init.connectionId
    this.#settle = settle
  }

  get settled(): boolean {
    return this.#settle === null
  }

  accept(): void {
    const settle = this.#settle
    this.#settle = null
    settle?.(true, '')
  }

  reject(reason = 'rejected'): void {
    const settle = this.#settle
    this.#settle = null
    settle?.(false, reason)
  }
}
