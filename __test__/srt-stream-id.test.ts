/** SRT stream ids: the access-control syntax and the short forms (ts/srt/stream-id.ts). */
import { describe, expect, it } from 'vitest'
import { parseStreamId } from '../ts/srt/stream-id'
import { SrtError } from '../ts/errors'

describe('parseStreamId', () => {
  it('reads the SRT access control syntax', () => {
    const r = parseStreamId('#!::r=live/cam?token=abc,m=publish,u=alice,x=1')
    expect(r).toMatchObject({ action: 'publish', app: 'live', stream: 'cam', credential: 'abc', user: 'alice' })
    expect(r.query.get('x')).toBe('1')
    expect(parseStreamId('#!::r=live/cam')).toMatchObject({ action: 'play', app: 'live', stream: 'cam', credential: null })
    expect(parseStreamId('#!::m=request,r=tv/news,s=session-key')).toMatchObject({ action: 'play', app: 'tv', stream: 'news', credential: 'session-key' })
    expect(parseStreamId('#!::r=cam,m=publish,token=t1')).toMatchObject({ app: 'live', stream: 'cam', credential: 't1' })
  })

  it('reads the short forms', () => {
    expect(parseStreamId('publish:live/cam')).toMatchObject({ action: 'publish', app: 'live', stream: 'cam' })
    expect(parseStreamId('read:live/cam?token=z')).toMatchObject({ action: 'play', credential: 'z' })
    expect(parseStreamId('play:cam')).toMatchObject({ action: 'play', app: 'live', stream: 'cam' })
    expect(parseStreamId('live/cam')).toMatchObject({ action: 'play', app: 'live', stream: 'cam' })
  })

  it('refuses what names no stream, with SRT_STREAM_ID_INVALID', () => {
    for (const bad of ['', '#!::m=publish', '#!::r=live/cam,m=bidirectional', '#!::r=live/cam,t=file', 'a/b/c', 'live/../x', 'live/ca m', 'x'.repeat(513), '#!::r=/']) {
      let error: unknown
      try {
        parseStreamId(bad)
      } catch (e) {
        error = e
      }
      expect(error, bad).toBeInstanceOf(SrtError)
      expect((error as SrtError).code).toBe('SRT_STREAM_ID_INVALID')
    }
  })
})
