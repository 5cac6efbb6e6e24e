/**
 * A hand-written WHEP offer (recvonly video + audio, BUNDLE, rtcp-mux) for HTTP-level tests: the
 * server creates a real PeerConnection for it; ICE never completes (no peer behind it).
 */
export function staticOffer(video = 'H264', audio = 'opus'): string {
  return [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=recvonly', `a=rtpmap:96 ${video}/90000`,
    'a=fmtp:96 packetization-mode=1;profile-level-id=42e01f', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
    'a=setup:actpass', 'a=rtcp-mux',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=recvonly', `a=rtpmap:111 ${audio}/48000/2`,
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=setup:actpass', 'a=rtcp-mux', '',
  ].join('\r\n')
}
