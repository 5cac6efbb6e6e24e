/**
 * RTMP 302 redirects followed by Sluice's own pushes and pulls. A server that sends its client
 * elsewhere (SRS's convention, which Sluice's cluster nodes use past their placement limits)
 * answers `publish`/`play` with an `onStatus` of level `error`, code
 * `NetConnection.Connect.Rejected` and `ex: {code: 302, redirect: <tcUrl>, redirect2: <URL with
 * the stream>}`; `RtmpClient` reports it as its `redirect` event.
 *
 * One connection attempt follows at most `MAX_HOPS` redirects, each to a destination its checker
 * allows (a push or pull made over the API: `rtp.allowedDestinations`); the attempt after a
 * failure starts from the configured URL again.
 */
import { parseRtmpUrl, type RtmpUrl } from './client'

/** Redirects one connection attempt follows, at most. */
export const MAX_HOPS = 3

/** Where a connection goes: the URL and its host resolved (and checked). */
export interface RtmpTarget {
  url: RtmpUrl
  address: string
}

export class RtmpRedirects {
  readonly #configured: RtmpTarget
  readonly #check: ((host: string) => Promise<string>) | null
  #target: RtmpTarget
  #hops = 0
  /** The redirect the last closed connection reported, not yet followed. */
  #pending: string | null = null

  /**
   * `check`: resolves a redirect's host to the address to connect to, or rejects when it may not
   * be used; null follows no redirect.
   */
  constructor(configured: RtmpTarget, check: ((host: string) => Promise<string>) | null) {
    this.#configured = configured
    this.#check = check
    this.#target = configured
  }

  /** Where the next connection goes. */
  get target(): RtmpTarget {
    return this.#target
  }

  /** A connection was redirected to `url` (it closes next). */
  redirected(url: string): void {
    this.#pending = url
  }

  /** The connection is up: the redirects that led to it count no more. */
  connected(): void {
    this.#hops = 0
  }

  /**
   * The connection closed: `follow` when the next connection should go to its redirect's target
   * at once; else the next attempt starts from the configured URL, and `refused` says why the
   * redirect was not followed (too many hops, a malformed URL, a destination refused; null when
   * none came).
   */
  async closed(): Promise<{ follow: true } | { follow: false; refused: string | null }> {
    const url = this.#pending
    this.#pending = null
    const refuse = (why: string | null): { follow: false; refused: string | null } => {
      this.#target = this.#configured
      this.#hops = 0
      return { follow: false, refused: why }
    }
    if (url === null) return refuse(null)
    if (!this.#check) return refuse(`redirected to ${url}, which this link does not follow`)
    if (this.#hops >= MAX_HOPS) return refuse(`more than ${MAX_HOPS} redirects`)
    let next: RtmpUrl
    try {
      next = parseRtmpUrl(url)
    } catch (error) {
      return refuse(`redirect to a malformed URL: ${(error as Error).message}`)
    }
    try {
      this.#target = { url: next, address: await this.#check(next.host) }
    } catch (error) {
      return refuse(`redirect to ${next.host} refused: ${(error as Error).message}`)
    }
    this.#hops++
    return { follow: true }
  }
}
