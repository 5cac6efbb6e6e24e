/**
 * Built-in access policies (`access.policy` in the config): each decides one `AccessRequest`
 * alone, from the request's credential and address. Webhooks and in-process listeners come after
 * (ts/access/access-control.ts).
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'
import { jwtVerify, type JWTPayload } from 'jose'
import type { SluiceConfig } from '../config/schema'
import { isLoopback } from './address'
import type { AccessRefusal, AccessRequest } from './request'
import { verifyToken } from './signed-token'

/** Null accepts; an `AccessRefusal` refuses. */
export type PolicyDecision = AccessRefusal | null

export interface AccessPolicy {
  readonly name: string
  decide(request: AccessRequest): PolicyDecision | Promise<PolicyDecision>
}

const missing = (what: string): AccessRefusal => ({ status: 401, reason: `${what} required` })

/** Today's behaviour: everything is accepted. */
export const openPolicy: AccessPolicy = { name: 'open', decide: () => null }

/** The default: requests from this machine are accepted, others refused. */
export const loopbackPolicy: AccessPolicy = {
  name: 'loopback',
  decide: (r) =>
    isLoopback(r.remoteAddress)
      ? null
      : { status: 403, reason: 'only clients on this machine are accepted: no access policy is configured (set access.policy)' },
}

export function tokenPolicy(secret: string): AccessPolicy {
  return {
    name: 'token',
    decide(r) {
      if (!r.credential) return missing('a signed token')
      const why = verifyToken(secret, r.credential, r.action, r.path)
      return why ? { status: 403, reason: why } : null
    },
  }
}

/**
 * `*` matches any run of characters except `/`, `**` any run (with `/`); anything else is literal.
 * `live/*` matches `live/cam`, `*` matches nothing with a slash, so use `*\/*` or `**` for all.
 */
export function matchesPattern(pattern: string, path: string): boolean {
  let re = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*'
        i++
      } else re += '[^/]*'
    } else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`${re}$`).test(path)
}

/**
 * JWT: the token's `publish` and `play` claims (arrays of patterns, `matchesPattern`) list the
 * streams it grants each action on; `exp`/`nbf`, `iss` and `aud` are checked by `jose`.
 */
export function jwtPolicy(settings: NonNullable<SluiceConfig['access']['jwt']>): AccessPolicy {
  let key: KeyObject
  let algorithms: string[]
  if (settings.secret) {
    key = createSecretKey(Buffer.from(settings.secret))
    algorithms = settings.algorithms ?? ['HS256']
  } else {
    key = createPublicKey(settings.publicKey!)
    algorithms = settings.algorithms ?? (key.asymmetricKeyType === 'ec' ? ['ES256'] : key.asymmetricKeyType === 'ed25519' ? ['EdDSA'] : ['RS256'])
  }
  return {
    name: 'jwt',
    async decide(r) {
      if (!r.credential) return missing('a JWT')
      let payload: JWTPayload
      try {
        ;({ payload } = await jwtVerify(r.credential, key, { algorithms, issuer: settings.issuer, audience: settings.audience }))
      } catch (error) {
        return { status: 403, reason: `JWT refused: ${(error as Error).message}` }
      }
      const granted = payload[r.action]
      const patterns = Array.isArray(granted) ? granted.filter((p): p is string => typeof p === 'string') : typeof granted === 'string' ? [granted] : []
      if (!patterns.some((p) => matchesPattern(p, r.path))) return { status: 403, reason: `JWT does not grant ${r.action} on ${r.path}` }
      return null
    },
  }
}

/** The policy the config names (the config schema has checked its settings are present). */
export function createPolicy(access: SluiceConfig['access']): AccessPolicy {
  switch (access.policy) {
    case 'open':
    case 'webhook':
      return access.policy === 'open' ? openPolicy : { name: 'webhook', decide: () => null }
    case 'token':
      return tokenPolicy(access.token!.secret)
    case 'jwt':
      return jwtPolicy(access.jwt!)
    default:
      return loopbackPolicy
  }
}
