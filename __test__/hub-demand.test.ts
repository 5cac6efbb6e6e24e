/**
 * The hub's rules for cluster links: a local publisher replaces a replaceable one (with or
 * without subscribers), and `demand` waits for a stream an observer fetches, ends at once when
 * no observer finds it, and throws an observer's error when nobody can fetch it.
 */
import { describe, expect, it } from 'vitest'
import { StreamHub, ClusterUnavailableError, type Publisher } from '../dist/index.js'

function publisher(id: string, replaceable = false): Publisher & { closed: string | null } {
  const p = { id, protocol: 'test', remoteAddress: '', replaceable, closed: null as string | null, close: (reason: string) => (p.closed = reason) }
  return p
}

describe('StreamHub and cluster links', () => {
  it('a local publisher replaces a link, with subscribers and without', () => {
    const hub = new StreamHub()
    for (const withSubscriber of [false, true]) {
      const link = publisher('link', true)
      hub.publish('live', `s${withSubscriber}`, link)
      if (withSubscriber) hub.subscribe('live', `s${withSubscriber}`, { id: 'p', onPublish() {}, onUnpublish() {}, onMetadata() {}, onFrame() {} })
      expect(hub.publishable('live', `s${withSubscriber}`)).toBe(true)
      const local = publisher('local')
      const stream = hub.publish('live', `s${withSubscriber}`, local)
      expect(link.closed).toMatch(/replaced by a local publisher/)
      expect(hub.get('live', `s${withSubscriber}`)).toBe(stream)
      expect(stream.publisher).toBe(local)
      expect(hub.publishable('live', `s${withSubscriber}`)).toBe(false)
      expect(() => hub.publish('live', `s${withSubscriber}`, publisher('link2', true))).toThrow(/already being published/)
    }
    hub.close()
  })

  it('demand waits for a fetched stream, ends at once when nothing is found, throws when nobody can fetch', async () => {
    const hub = new StreamHub()
    expect(await hub.demand('live', 'none', 5000)).toBeUndefined()
    let answer: boolean | Promise<boolean> | Error = true
    hub.observe({
      demanded: (stream) => {
        if (answer === true) setTimeout(() => hub.publish(stream.app, stream.name, publisher('pull', true)), 50)
        return answer
      },
    })
    const started = Date.now()
    expect((await hub.demand('live', 'fetched', 5000))?.publisher?.id).toBe('pull')
    answer = Promise.resolve(false)
    expect(await hub.demand('live', 'missing', 5000)).toBeUndefined()
    answer = new ClusterUnavailableError('registry down')
    await expect(hub.demand('live', 'down', 5000)).rejects.toThrow(ClusterUnavailableError)
    expect(Date.now() - started).toBeLessThan(1000)
    expect(hub.all().map((s) => s.key)).toEqual(['live/fetched']) // the waits left nothing behind
    hub.close()
  })
})
