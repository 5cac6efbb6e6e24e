/** Address helpers of the access model: loopback detection and IP normalisation. */
import net from 'node:net'

/** The IP of a socket's remote address without the IPv4-mapped prefix (`::ffff:1.2.3.4` → `1.2.3.4`). */
export function normalizeIp(address: string | undefined | null): string {
  const a = address ?? ''
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a
}

/** True for 127.0.0.0/8 and ::1 (also IPv4-mapped). */
export function isLoopback(address: string | undefined | null): boolean {
  const ip = normalizeIp(address)
  return ip === '::1' || (net.isIPv4(ip) && ip.startsWith('127.'))
}
