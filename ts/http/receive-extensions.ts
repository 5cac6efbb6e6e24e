/**
 * What Sluice's own receiving pages (player, room) run on each receive-only video transceiver
 * before the offer, as inline-script source: they offer the Dependency Descriptor header
 * extension (RTP Payload Format for AV1, Appendix A), which Chromium offers only on transceivers
 * that send. The native transport then forwards an AV1 SVC stream's descriptors, by which the
 * decoder assembles each spatial layer's frame; a viewer without them is held at an AV1 SVC
 * stream's lowest spatial layer (the only one it can decode). Browsers without `setHeaderExtensionsToNegotiate`
 * (W3C WebRTC Extensions §6) offer what they offer.
 */
import { DEPENDENCY_DESCRIPTOR_URI } from '../webrtc/sdp'

export const OFFER_DEPENDENCY_DESCRIPTOR = `function offerDependencyDescriptor(t) {
  if (!t.getHeaderExtensionsToNegotiate) return
  const extensions = t.getHeaderExtensionsToNegotiate()
  for (const e of extensions) if (e.uri === ${JSON.stringify(DEPENDENCY_DESCRIPTOR_URI)} && e.direction === 'stopped') e.direction = 'recvonly'
  try { t.setHeaderExtensionsToNegotiate(extensions) } catch (e) { console.warn('header extensions not set', e) }
}`
