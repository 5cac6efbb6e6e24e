/**
 * SRTP/SRTCP contexts for forwarders, RTP ingest and relay links, over Sluice's own engine
 * (`crates/srtp`: RFC 3711 AES_CM_128_HMAC_SHA1_80/_32, RFC 7714 AEAD_AES_128_GCM/256_GCM).
 * One context per direction. Keys are SDES key-params (RFC 4568 §6.1): base64 of the master key
 * followed by the master salt.
 */
import { randomBytes } from 'node:crypto'
import { native } from '../native'
import type { SdesKey } from './sdp'
import { SrtpError } from '../errors'

/** Suites and their master key + salt lengths in bytes (for making keys; parsing is native). */
export const SRTP_SUITES: Record<string, { key: number; salt: number }> = {
  AES_CM_128_HMAC_SHA1_80: { key: 16, salt: 14 },
  AES_CM_128_HMAC_SHA1_32: { key: 16, salt: 14 },
  AEAD_AES_128_GCM: { key: 16, salt: 12 },
  AEAD_AES_256_GCM: { key: 32, salt: 12 },
}

export const DEFAULT_SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80'

/**
 * One direction's SRTP state. Each call returns the transformed packet, or a string
 * `"CODE: reason"` when the packet is refused (`SRTP_AUTH_FAILED`, `SRTP_REPLAY`,
 * `SRTP_TOO_SHORT`...) — the caller drops that packet and goes on.
 */
export interface SrtpContext {
  protectRtp(packet: Buffer): Buffer | string
  unprotectRtp(packet: Buffer): Buffer | string
  protectRtcp(packet: Buffer): Buffer | string
  unprotectRtcp(packet: Buffer): Buffer | string
}

/** A fresh random key for `suite`. Throws on an unknown suite. */
export function generateSdesKey(suite = DEFAULT_SRTP_SUITE): SdesKey {
  const sizes = SRTP_SUITES[suite]
  if (!sizes) throw new SrtpError('SRTP_SUITE_UNKNOWN', `unknown SRTP suite ${suite}; expected one of ${Object.keys(SRTP_SUITES).join(', ')}`)
  return { suite, inline: randomBytes(sizes.key + sizes.salt).toString('base64') }
}

/**
 * The master key || salt of `key`, checked against its suite by the native SDES parser
 * (RFC 4568 §6.1). Throws `SRTP_INVALID_ARGUMENT` (unknown suite), `SRTP_MALFORMED` or
 * `SRTP_INVALID_KEY_LENGTH`.
 */
export function sdesKeyMaterial(key: SdesKey): Buffer {
  const params = key.inline.startsWith('inline:') ? key.inline : `inline:${key.inline}`
  return native.parseSdesInline(params, key.suite).key
}

function attempt(fn: () => Buffer): Buffer | string {
  try {
    return fn()
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

/** An SRTP context for `key` (one direction). Throws on a bad suite or key length. */
export function createSrtpContext(key: SdesKey, options: { replayWindow?: number } = {}): SrtpContext {
  const material = sdesKeyMaterial(key)
  const session = new native.SrtpSession({ profile: key.suite as 'AES_CM_128_HMAC_SHA1_80', key: material, replayWindow: options.replayWindow })
  return {
    protectRtp: (p) => attempt(() => session.protectRtp(p)),
    unprotectRtp: (p) => attempt(() => session.unprotectRtp(p)),
    protectRtcp: (p) => attempt(() => session.protectRtcp(p)),
    unprotectRtcp: (p) => attempt(() => session.unprotectRtcp(p)),
  }
}
