/**
 * `RtpFeed`: an RTP-origin source (a WHIP publisher, an SFU participant, an `mcu` room's mix for
 * one participant: an `RtpSource`) as the RTP egress pipeline's per-stream track source. The
 * publisher's packets are forwarded as they came, any codec, rewritten once per feed (not per
 * subscriber) by the native `RtpRewriter`: this feed's SSRCs, sequence numbers and timestamps
 * continuous across publisher restarts, header extensions removed (their ids were negotiated with
 * the publisher, not the subscribers), padding-only packets dropped (the publisher's bandwidth
 * probes). Video packets go to the sink one frame at a time (a batch
 * ends at the marker bit, or after `FORWARD_BATCH` packets); the sink's fan-out gives each
 * subscriber its payload type and sequence offset, keeps the retransmission ring and sends the
 * sender reports, anchored here on the publisher's own (RFC 3550 §6.4.1, for lip sync).
 *
 * A joining subscriber or a PLI/FIR asks the publisher for a keyframe (`RtpSource.requestKeyframe`,
 * rate-limited by the publisher).
 *
 * Simulcast (RFC 8853): each lower layer of the source (`RtpSource.layers`, lowest first) gets a
 * feed of its own, keyed `<key>~<rid>`, with this feed's SSRCs, declared to a sink that can
 * switch layers (`ViewerTransport.setLayers`: the native transport moves each subscriber between
 * them); this feed carries the top layer. A sink without `setLayers` gets the top layer only.
 *
 * Scalable video (Chromium's `scalabilityMode` `L3T3_KEY`, `L1T3`...): every layer comes on one
 * SSRC, marked in the VP9 payload descriptor (RFC 9628) or, for AV1 (and VP8/H.264 temporal
 * layers), in the Dependency Descriptor extension when the publisher negotiated it
 * (`RtpSource.video.dependencyDescriptorId`). When a key picture's structure shows several
 * layers (`vp9Structure`, `dependencyStructure`), each lower operating point gets a feed of its
 * own the same way, keyed
 * `<key>~S<n>` (spatial layers 0..n, all temporal layers) or, with one spatial layer,
 * `<key>~T<n>` (temporal layers 0..n), whose rewriter keeps only that operating point's packets
 * (`RtpRewriter.setSvcFilter`: numbering without holes, the marker bit at the end of the top
 * spatial layer kept); this feed carries them all (`S<top>` / `T<top>`, through a filter that
 * keeps every layer). The native transport then moves each subscriber between operating points
 * as between simulcast layers: down at the next picture, up at the target's next switching point
 * (`RtpRewriter.switchPoint`, passed with each frame: a base layer frame after which the higher
 * temporal layers need nothing older, e.g. every `T0` frame of `L1T3`) or keyframe.
 */
import { randomInt } from 'node:crypto'
import { native } from '../native'
import { isPaddingOnly, rtpPayloadOffset, startsKeyframe, type RtpSource, type RtpSourceListener } from '../hub/rtp-source'
import type { FrameStart, ViewerTransport } from './viewer-protocol'

/** Where a feed's packets go, under its key: WHEP's viewer transport, or the SFU's downlinks. */
export type FeedSink = Pick<ViewerTransport, 'media' | 'inject' | 'anchor'> & Partial<Pick<ViewerTransport, 'setLayers'>>

/** Video packets forwarded in one batch at most (a batch ends at the marker bit). */
const FORWARD_BATCH = 64

/** The payload type of the rewritten packets: a placeholder, the fan-out patches each subscriber's in. */
const PLACEHOLDER_PT = 0

export class RtpFeed implements RtpSourceListener {
  /** The feed's key in its sink (`media`, `anchor`). */
  readonly key: string
  readonly videoSsrc: number
  readonly audioSsrc: number
  readonly #sink: FeedSink
  #source: RtpSource | null = null
  readonly #forward: Record<'video' | 'audio', InstanceType<typeof native.RtpRewriter>>
  #pending: Buffer[] = []
  /** What the pending frame starts (SVC: a switching point of this feed's operating point). */
  #pendingStart: FrameStart | undefined
  #pendingAt = 0
  /** Simulcast or SVC: the lower layers' feeds by key (`<key>~<rid>`, `<key>~S<n>`, `<key>~T<n>`). */
  readonly #layers = new Map<string, RtpFeed>()
  /** SVC: the operating points' names, lowest first (this feed's last), and the structure they came from. */
  #svc: { names: string[]; shape: string } | null = null
  /** An SVC operating point's feed: video only, through its filter. */
  readonly #operatingPoint: boolean

  /**
   * `videoSsrc`/`audioSsrc`: the SSRCs subscribers are told (random when not given). `svc`: this
   * feed is one operating point of an SVC source (its spatial and temporal layers kept).
   */
  constructor(key: string, sink: FeedSink, videoSsrc = randomInt(1, 0xffffffff), audioSsrc = randomInt(1, 0xffffffff), svc?: { maxSpatial: number; maxTemporal: number; dependencyDescriptorId?: number }) {
    this.key = key
    this.#sink = sink
    this.videoSsrc = videoSsrc
    this.audioSsrc = audioSsrc
    this.#forward = {
      video: new native.RtpRewriter(videoSsrc, PLACEHOLDER_PT, 90000),
      audio: new native.RtpRewriter(audioSsrc, PLACEHOLDER_PT, 48000),
    }
    this.#operatingPoint = svc !== undefined
    if (svc) {
      this.#forward.video.setSvcFilter(svc.maxSpatial, svc.maxTemporal, svc.dependencyDescriptorId)
      // the Dependency Descriptor goes on to the subscribers (VP9's payload descriptor says it itself)
      this.#forward.video.keepExtension(svc.dependencyDescriptorId ?? null)
    }
  }

  /** The source forwarded now, or null. */
  get source(): RtpSource | null {
    return this.#source
  }

  /**
   * Forwards `source` from now on (null: none), and its simulcast layers each through a feed of
   * its own; the numbering continues from the last one's.
   */
  attach(source: RtpSource | null): void {
    if (source === this.#source) return
    this.#source?.removeListener(this)
    this.#pending = []
    this.#source = source
    source?.addListener(this)
    if (!this.#sink.setLayers || this.#operatingPoint) return
    this.#closeSvc()
    const layers = source?.layers ?? []
    const keys = layers.map((l) => `${this.key}~${l.rid}`)
    const had = this.#layers.size > 0
    for (const [key, feed] of this.#layers) {
      if (keys.includes(key)) continue
      feed.close()
      this.#layers.delete(key)
    }
    layers.forEach((layer, i) => {
      let feed = this.#layers.get(keys[i]!)
      if (!feed) {
        feed = new RtpFeed(keys[i]!, this.#sink, this.videoSsrc, this.audioSsrc)
        this.#layers.set(keys[i]!, feed)
      }
      feed.attach(layer)
    })
    if (had || keys.length > 0) this.#sink.setLayers(this.key, keys)
  }

  /**
   * SVC: a key picture's structure (`packet`: its first packet; VP9's scalability structure in
   * `payload`, else the Dependency Descriptor's template structure `dependencyDescriptorId`)
   * decides the operating points; when it differs from the last one, their feeds are made anew and declared
   * to the sink. (They listen to the source from then on: the source's dispatch, a `Set`, may
   * give them the packet being dispatched too, or not; a feed's first batch counts as a
   * keyframe only when it starts one.)
   */
  #readStructure(packet: Buffer, payload: Buffer, dependencyDescriptorId: number | undefined): void {
    let structure = dependencyDescriptorId === undefined ? native.vp9Structure(payload) : native.dependencyStructure(packet, dependencyDescriptorId)
    if (!structure) return
    // VP9 in flexible mode (Chromium's `scalabilityMode`) sends no picture group in its SS, so
    // no temporal layer count: the Dependency Descriptor's templates give it, when negotiated
    const vp9Descriptor = dependencyDescriptorId === undefined ? this.#source?.video?.dependencyDescriptorId : undefined
    if (vp9Descriptor !== undefined && structure.temporalLayers === 1) {
      const templates = native.dependencyStructure(packet, vp9Descriptor)
      if (templates?.spatialLayers === structure.spatialLayers) structure = { ...structure, temporalLayers: templates.temporalLayers }
    }
    const { spatialLayers: spatial, temporalLayers: temporal } = structure
    const shape = `${spatial}x${temporal}`
    if (this.#svc?.shape === shape) return
    this.#closeSvc()
    const dimension = spatial > 1 ? 'S' : 'T'
    const count = spatial > 1 ? spatial : temporal
    if (count <= 1) return
    const names = Array.from({ length: count }, (_, i) => `${dimension}${i}`)
    // the Dependency Descriptor goes on to the subscribers: their decoders assemble each
    // spatial layer's frame by it (VP9's payload descriptor says it itself)
    this.#forward.video.keepExtension(dependencyDescriptorId ?? null)
    const keys: string[] = []
    for (let i = 0; i < count - 1; i++) {
      const key = `${this.key}~${names[i]}`
      const point = spatial > 1 ? { maxSpatial: i, maxTemporal: 7 } : { maxSpatial: 0, maxTemporal: i }
      const feed = new RtpFeed(key, this.#sink, this.videoSsrc, this.audioSsrc, { ...point, dependencyDescriptorId })
      feed.attach(this.#source)
      this.#layers.set(key, feed)
      keys.push(key)
    }
    this.#svc = { names, shape }
    // this feed is the top operating point: its filter keeps every layer, and says where a
    // viewer of a lower one may move up (its switching points)
    this.#forward.video.setSvcFilter(spatial > 1 ? spatial - 1 : 0, spatial > 1 ? 7 : temporal - 1, dependencyDescriptorId)
    // spatial layers above the lowest decode only with the descriptor at the viewer (VP9 and
    // temporal layers need none)
    this.#sink.setLayers!(this.key, keys, true, dependencyDescriptorId !== undefined && spatial > 1 ? 0 : undefined)
  }

  /** Ends the SVC operating points' feeds, if any. */
  #closeSvc(): void {
    if (!this.#svc) return
    this.#svc = null
    this.#forward.video.keepExtension(null)
    this.#forward.video.clearSvcFilter()
    for (const feed of this.#layers.values()) feed.close()
    this.#layers.clear()
    this.#sink.setLayers?.(this.key, [])
  }

  /** Simulcast or SVC: the index of layer `rid` among the source's layers (lowest 0, the top last), or null when it has none such. */
  layerIndex(rid: string): number | null {
    const index = this.layerRids.indexOf(rid)
    return index >= 0 ? index : null
  }

  /** Simulcast or SVC: the rids (SVC: `S<n>` / `T<n>`) of the source's layers, lowest first; empty without. */
  get layerRids(): string[] {
    if (this.#svc) return [...this.#svc.names]
    const source = this.#source
    return source?.layers?.length && source.rid ? [...source.layers.map((l) => l.rid), source.rid] : []
  }

  /** The rid of the layer with key `key` (a layer's key, or this feed's: the top layer), or null. */
  ridOf(key: string): string | null {
    if (key === this.key) return this.#svc ? this.#svc.names[this.#svc.names.length - 1]! : (this.#source?.rid ?? null)
    return key.startsWith(`${this.key}~`) ? key.slice(this.key.length + 1) : null
  }

  /** Subscriber `id` of the sink is ready: it gets the live packets from now on, from a keyframe the publisher is asked for. */
  start(id: string, seqOffset: number, reason = 'WebRTC viewer joined'): void {
    this.#sink.inject(id, 'video', new Uint8Array(0), new Uint32Array(0), seqOffset, true)
    this.#source?.requestKeyframe(reason)
  }

  /** A subscriber's PLI/FIR: asks the publisher for a keyframe, of the layer with key `streamKey` (default: this feed's). */
  keyframeRequest(reason: string, streamKey?: string): void {
    const feed = streamKey === undefined || streamKey === this.key ? this : this.#layers.get(streamKey)
    feed?.source?.requestKeyframe(reason)
  }

  /** A publisher's RTP packet: re-numbered for this feed and forwarded (video a frame at a time). */
  onRtp(kind: 'video' | 'audio', packet: Buffer, arrivedAt: number): void {
    // the publisher's bandwidth probes are not media (the fan-out probes each subscriber
    // itself): left out, the numbering closed over them
    if (kind === 'audio' && this.#operatingPoint) return // the top feed carries the audio
    if (isPaddingOnly(packet)) return this.#forward[kind].skip(packet)
    let keyframe = false
    if (kind === 'video' && this.#pending.length === 0) {
      // a frame starts: a key picture's structure may change the operating points (before
      // this packet is rewritten: the top feed then keeps its descriptor from the start)
      const video = this.#source?.video
      const payload = packet.subarray(rtpPayloadOffset(packet))
      keyframe = video ? startsKeyframe(video.codec, payload) : false
      // layers: VP9's own descriptor, else the Dependency Descriptor if negotiated
      const dd = video?.codec === 'VP9' ? undefined : video?.dependencyDescriptorId
      const scalable = video?.codec === 'VP9' || dd !== undefined
      if (keyframe && scalable && this.#sink.setLayers && !this.#operatingPoint && !this.#source?.layers?.length) this.#readStructure(packet, payload, dd)
    }
    const out = this.#forward[kind].rewrite(packet, Date.now())
    if (!out) return
    if (kind === 'audio') {
      this.#sink.media(this.key, 'audio', out, Uint32Array.of(out.length), arrivedAt)
      return
    }
    if (this.#pending.length === 0) {
      this.#pendingAt = arrivedAt
      const switchPoint = (this.#operatingPoint || this.#svc !== null) && this.#forward.video.switchPoint
      this.#pendingStart = keyframe ? 'keyframe' : switchPoint ? 'switch-point' : undefined
    }
    this.#pending.push(out)
    // the output's marker: an SVC operating point ends its pictures at its top spatial layer
    if ((out[1]! & 0x80) !== 0 || this.#pending.length >= FORWARD_BATCH) this.#flushVideo()
  }

  #flushVideo(): void {
    const packets = this.#pending
    this.#pending = []
    const ends = new Uint32Array(packets.length)
    let n = 0
    packets.forEach((p, i) => (ends[i] = n += p.length))
    this.#sink.media(this.key, 'video', Buffer.concat(packets, n), ends, this.#pendingAt, this.#pendingStart)
  }

  /**
   * A publisher's sender report, re-based onto this feed's timestamps: the subscribers' reports
   * (the sink's) follow the publisher's capture clock (A/V sync).
   */
  onSenderReport(kind: 'video' | 'audio', ntpMs: number, rtpTimestamp: number): void {
    if (kind === 'audio' && this.#operatingPoint) return
    const f = this.#forward[kind]
    if (f.started) this.#sink.anchor(this.key, kind, f.timestamp(rtpTimestamp), ntpMs)
  }

  /** Stops listening to the source and its layers (idempotent). */
  close(): void {
    this.attach(null)
  }
}
