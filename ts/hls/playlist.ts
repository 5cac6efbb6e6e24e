/**
 * The LL-HLS media playlist of an `HlsStream` (RFC 8216bis-16: §4.4.3.7 EXT-X-PART-INF,
 * §4.4.3.8 EXT-X-SERVER-CONTROL, §4.4.4.9 EXT-X-PART, §4.4.5.2 EXT-X-SKIP, §4.4.5.3
 * EXT-X-PRELOAD-HINT; §6.2.5.1 blocking reload, §6.2.5.2 delta updates).
 *
 * URIs are relative to the playlist: `init{n}.mp4`, `seg{msn}.m4s`, `part{n}.m4s` (parts
 * numbered across segments, so a hinted part exists even when a segment ends first), with
 * `v{t}-` in front for the rendition of Enhanced RTMP video track t ≠ 0 (`mediaPrefix`), each
 * with `query` appended (the player's `token`, so segment requests pass the same access
 * decision). Parts are listed for the segments of the last three target durations (§6.2.2:
 * "SHOULD" keep them that long), then the segment being filled and a preload hint for its next
 * part. `skip`: a delta update (§6.2.5.2) — segments older than `CAN-SKIP-UNTIL` (six target
 * durations) before the end are replaced by `EXT-X-SKIP`.
 */
import type { HlsSegment, HlsStream } from './hls-stream'

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3)
}

export interface PlaylistOptions {
  /** Appended to every URI (`?token=…`), or ''. */
  query: string
  /** A delta update was asked for (`_HLS_skip=YES`). */
  skip: boolean
}

/** What the media files of the rendition of video track `videoTrack` are named with in front. */
export function mediaPrefix(videoTrack: number): string {
  return videoTrack === 0 ? '' : `v${videoTrack}-`
}

export function renderPlaylist(h: HlsStream, options: PlaylistOptions): string {
  const q = options.query
  const v = mediaPrefix(h.videoTrack)
  const target = h.targetDurationS
  const partTarget = h.options.partMs / 1000
  const complete = h.complete
  const current = h.current
  const listed: HlsSegment[] = current ? [...complete, current] : complete
  const first = listed[0]
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:9',
    `#EXT-X-TARGETDURATION:${target}`,
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(partTarget * 3).toFixed(3)},CAN-SKIP-UNTIL=${target * 6}`,
    `#EXT-X-PART-INF:PART-TARGET=${partTarget.toFixed(3)}`,
    `#EXT-X-MEDIA-SEQUENCE:${first?.msn ?? 0}`,
  ]
  // §6.2.5.2: skip what lies more than CAN-SKIP-UNTIL before the end of the playlist
  let skipped = 0
  if (options.skip) {
    let tail = 0
    for (let i = complete.length - 1; i >= 0; i--) {
      tail += complete[i]!.durationMs
      if (tail > target * 6 * 1000) {
        skipped = i + 1
        break
      }
    }
  }
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`)
  const partsFrom = Date.now() - target * 3 * 1000
  let init = -1
  for (const s of listed.slice(skipped)) {
    if (s.discontinuity && s !== first) lines.push('#EXT-X-DISCONTINUITY')
    if (s.init !== init) {
      lines.push(`#EXT-X-MAP:URI="${v}init${s.init}.mp4${q}"`)
      init = s.init
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateMs).toISOString()}`)
    if (!s.complete || s.programDateMs + s.durationMs >= partsFrom) {
      for (const p of s.parts) lines.push(`#EXT-X-PART:DURATION=${seconds(p.durationMs)},URI="${v}part${p.id}.m4s${q}"${p.independent ? ',INDEPENDENT=YES' : ''}`)
    }
    if (s.complete) lines.push(`#EXTINF:${seconds(s.durationMs)},`, `${v}seg${s.msn}.m4s${q}`)
  }
  if (current) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${v}part${h.nextPartId}.m4s${q}"`)
  return lines.join('\n') + '\n'
}

/** One variant of a multivariant playlist: a rendition's media playlist URI and what it carries. */
export interface Variant {
  uri: string
  /** Peak bitrate of its segments, bit/s. */
  bandwidth: number
  /** RFC 6381 codec strings of its tracks. */
  codecs: string[]
  width: number
  height: number
}

/**
 * The multivariant playlist of a stream with several video tracks (an Enhanced RTMP v2
 * multitrack ladder, RFC 8216bis §4.4.6.2 EXT-X-STREAM-INF): one variant per video track,
 * highest bandwidth first; each variant's media playlist carries that video track and the
 * default audio. Segments begin with a keyframe (`EXT-X-INDEPENDENT-SEGMENTS`).
 */
export function renderMultivariant(variants: Variant[], query: string): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-INDEPENDENT-SEGMENTS']
  for (const v of [...variants].sort((a, b) => b.bandwidth - a.bandwidth)) {
    const resolution = v.width > 0 && v.height > 0 ? `,RESOLUTION=${v.width}x${v.height}` : ''
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${Math.max(1, v.bandwidth)},CODECS="${v.codecs.join(',')}"${resolution}`, `${v.uri}${query}`)
  }
  return lines.join('\n') + '\n'
}
