/** The access model's pure parts: signed tokens, stream patterns, the config schema's refusals. */
import { describe, expect, it } from 'vitest'
import { signToken, verifyToken, matchesPattern, resolveConfig, ConfigError, AccessControl, createLogger } from '../dist/index.js'

const SECRET = 'unit-test-secret-0123456789abcdef'

describe('signed tokens', () => {
  it('grant exactly one action on one stream until their expiry', () => {
    const t = signToken(SECRET, 'publish', 'live/a', 2_000_000_000)
    expect(t).toMatch(/^2000000000\.[A-Za-z0-9_-]{43}$/)
    expect(verifyToken(SECRET, t, 'publish', 'live/a', 1_999_999_999)).toBeNull()
    expect(verifyToken(SECRET, t, 'play', 'live/a', 1_999_999_999)).toMatch(/signature does not match/)
    expect(verifyToken(SECRET, t, 'publish', 'live/b', 1_999_999_999)).toMatch(/signature does not match/)
    expect(verifyToken(SECRET, t, 'publish', 'live/a', 2_000_000_001)).toBe('token expired')
    expect(verifyToken('another-secret-0123456789abcdef', t, 'publish', 'live/a', 0)).toMatch(/signature does not match/)
    // the expiry is signed: moving it breaks the signature
    expect(verifyToken(SECRET, t.replace(/^2/, '3'), 'publish', 'live/a', 0)).toMatch(/signature does not match/)
    for (const bad of ['', 'x', '123', `${t}x`, `-1.${t.split('.')[1]}`]) expect(verifyToken(SECRET, bad, 'publish', 'live/a', 0)).toBe('malformed token')
  })
})

describe('stream patterns (JWT claims)', () => {
  it('* stays within one path segment, ** crosses them, the rest is literal', () => {
    expect(matchesPattern('live/*', 'live/cam')).toBe(true)
    expect(matchesPattern('live/*', 'other/cam')).toBe(false)
    expect(matchesPattern('*', 'live/cam')).toBe(false)
    expect(matchesPattern('**', 'live/cam')).toBe(true)
    expect(matchesPattern('live/cam-*', 'live/cam-1')).toBe(true)
    expect(matchesPattern('live/c.m', 'live/cam')).toBe(false)
    expect(matchesPattern('live/(a|b)', 'live/a')).toBe(false)
  })
})

describe('config schema', () => {
  it('names the key of a wrong type, an unknown key, an invalid port and a policy without its settings', () => {
    const issues = (input: unknown) => {
      try {
        resolveConfig(input as never)
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError)
        expect((error as ConfigError).code).toBe('CONFIG_INVALID')
        return (error as ConfigError).issues.map((i) => i.path)
      }
      return []
    }
    expect(issues({ rtmp: { port: 'x' } })).toEqual(['rtmp.port'])
    expect(issues({ rtmp: { prot: 1935 } })).toEqual(['rtmp.prot'])
    expect(issues({ http: { port: 70000 } })).toEqual(['http.port'])
    expect(issues({ access: { policy: 'token' } })).toEqual(['access.token'])
    expect(issues({ access: { policy: 'jwt', jwt: {} } })).toEqual(['access.jwt'])
    expect(issues({ http: { cors: { adminOrigins: ['*'] } } })).toEqual(['http.cors.adminOrigins.0'])
    expect(resolveConfig({}).access.policy).toBe('loopback')
  })
})

describe('AccessControl', () => {
  const log = createLogger({ level: 'silent' })
  const base = { app: 'live', stream: 's', protocol: 'rtmp', credential: null, query: new URLSearchParams(), clientId: 'c1' } as const

  it('loopback policy: this machine only; trusted requests skip the policy but not the application', async () => {
    const asked: string[] = []
    const ac = new AccessControl({
      access: resolveConfig({}).access, webhooks: resolveConfig({}).webhooks, log,
      ask: (r) => {
        asked.push(r.remoteAddress)
        r.accept()
        return true
      },
    })
    expect(await ac.check({ ...base, action: 'publish', remoteAddress: '127.0.0.1' })).toBeNull()
    expect(await ac.check({ ...base, action: 'publish', remoteAddress: '::1' })).toBeNull()
    expect(await ac.check({ ...base, action: 'play', remoteAddress: '10.0.0.5' })).toMatchObject({ status: 403 })
    expect(await ac.check({ ...base, action: 'play', remoteAddress: '10.0.0.6', trusted: true })).toBeNull()
    expect(asked).toEqual(['127.0.0.1', '::1', '10.0.0.6'])
    expect(ac.decisions.get('rtmp|play|rejected')).toBe(1)
    expect(ac.decisions.get('rtmp|publish|accepted')).toBe(2)
  })

  it('an application that never answers refuses after the answer timeout', async () => {
    const ac = new AccessControl({ access: resolveConfig({ access: { policy: 'open' } }).access, webhooks: resolveConfig({}).webhooks, log, ask: () => true, answerTimeoutMs: 50 })
    expect(await ac.check({ ...base, action: 'play', remoteAddress: '192.0.2.1' })).toEqual({ status: 403, reason: 'no answer from the application' })
  })
})
