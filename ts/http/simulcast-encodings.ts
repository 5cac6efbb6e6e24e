/**
 * The simulcast layers Sluice's own pages send (RFC 8853 rids, lowest first, as the native
 * transport expects them): `q` at ¼ resolution ≤ 150 kbit/s, `h` at ½ ≤ 500 kbit/s, `f` full
 * ≤ 1.5 Mbit/s — `RTCRtpEncodingParameters` for `addTransceiver(track, { sendEncodings })`.
 * One list for the publish page and the room page, written into their inline scripts as JSON.
 */
export const SIMULCAST_ENCODINGS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
] as const
