/**
 * The one access decision of every protocol. `check()` is asked for every publish and every play
 * (RTMP, HTTP-FLV, WHIP, WHEP, signaling joins, RTP ingest, relay links) and answers in order:
 * 1. the built-in policy (`access.policy`; skipped for `trusted` requests and for other nodes of
 *    the cluster, whose credential is a token signed with the relay secret),
 * 2. the `on_publish` / `on_play` webhook, when configured,
 * 3. the application's listeners (`sluice.on('publish' | 'play')`), when there are any: the
 *    first `accept()`/`reject()` wins; a throwing listener refuses (logged); no answer within
 *    `answerTimeoutMs` refuses.
 * Every decision is counted (accepted/refused per protocol and action) and refusals are logged.
 */
import type { SluiceConfig } from '../config/schema'
import type { Logger } from '../log'
import { createPolicy, type AccessPolicy } from './policy'
import { AccessRequest, type AccessAction, type AccessRefusal, type AccessRequestInit, type ClientProtocol } from './request'
import { askWebhook } from './webhooks'
import { verifyToken } from './signed-token'

/** Asks the application: calls its listeners with the request; returns false when it has none. */
export type AskApplication = (request: AccessRequest) => boolean

export interface AccessControlOptions {
  access: SluiceConfig['access']
  webhooks: SluiceConfig['webhooks']
  log: Logger
  ask?: AskApplication
  /** Ms the application has to answer a request. Default 10 000. */
  answerTimeoutMs?: number
  /**
   * The relay secret (`rtp.relaySecret`): a credential that is a signed token
   * (ts/access/signed-token.ts) made with it, for the request's action and stream, comes from
   * another node of the cluster (an RTMP pull between nodes) and is trusted. Null: none are.
   */
  nodeSecret?: string | null
}

/** Decisions taken, for `/metrics`: `protocol|action|result` → count. */
export type DecisionCounts = Map<`${ClientProtocol}|${AccessAction}|${'accepted' | 'rejected'}`, number>

export class AccessControl {
  readonly policy: AccessPolicy
  readonly decisions: DecisionCounts = new Map()
  readonly #webhooks: SluiceConfig['webhooks']
  readonly #log: Logger
  readonly #ask: AskApplication | undefined
  readonly #answerTimeoutMs: number
  readonly #nodeSecret: string | null

  constructor(options: AccessControlOptions) {
    this.policy = createPolicy(options.access)
    this.#webhooks = options.webhooks
    this.#log = options.log.child({ component: 'access' })
    this.#ask = options.ask
    this.#answerTimeoutMs = options.answerTimeoutMs ?? 10_000
    this.#nodeSecret = options.nodeSecret ?? null
  }

  /**
   * True when `credential` is a node token for `action` on `app/stream` (see `nodeSecret`): the
   * request comes from another node of the cluster (its link must be served here, never sent
   * elsewhere by placement).
   */
  isNodeCredential(action: AccessAction, app: string, stream: string, credential: string | null): boolean {
    if (!this.#nodeSecret || !credential) return false
    return verifyToken(this.#nodeSecret, credential, action, `${app}/${stream}`) === null
  }

  #fromNode(request: AccessRequest): boolean {
    return this.isNodeCredential(request.action, request.app, request.stream, request.credential)
  }

  /** Decides a request: null accepts, an `AccessRefusal` refuses. Never throws. */
  async check(init: AccessRequestInit): Promise<AccessRefusal | null> {
    const request = new AccessRequest(init)
    let refusal: AccessRefusal | null
    try {
      refusal = await this.#decide(request)
    } catch (error) {
      this.#log.error({ err: String(error), request }, 'access decision failed')
      refusal = { status: 403, reason: 'access decision failed' }
    }
    const key = `${request.protocol}|${request.action}|${refusal ? 'rejected' : 'accepted'}` as const
    this.decisions.set(key, (this.decisions.get(key) ?? 0) + 1)
    if (refusal) this.#log.info({ request, reason: refusal.reason }, `${request.action} refused`)
    return refusal
  }

  async #decide(request: AccessRequest): Promise<AccessRefusal | null> {
    if (!request.trusted && !this.#fromNode(request)) {
      const refusal = await this.policy.decide(request)
      if (refusal) return refusal
    }
    const hook = request.action === 'publish' ? this.#webhooks.onPublish : this.#webhooks.onPlay
    if (hook) {
      const refusal = await askWebhook(hook, request, this.#webhooks.timeoutMs)
      if (refusal) return refusal
    }
    return this.#askApplication(request)
  }

  #askApplication(request: AccessRequest): Promise<AccessRefusal | null> | null {
    if (!this.#ask) return null
    return new Promise((resolve) => {
      const timer = setTimeout(() => request.reject('no answer from the application'), this.#answerTimeoutMs)
      timer.unref()
      request.awaitAnswer((refusal) => {
        clearTimeout(timer)
        resolve(refusal)
      })
      let asked: boolean
      try {
        asked = this.#ask!(request)
      } catch (error) {
        this.#log.error({ err: String(error), request }, `${request.action} listener threw: refused`)
        request.reject('the application failed to decide')
        return
      }
      if (!asked) request.accept()
    })
  }
}
