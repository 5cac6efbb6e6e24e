/**
 * The allow-list of where Sluice sends media or requests on an API caller's behalf: forwarder
 * destinations (`POST /api/forwards` `host`) and relay origins (`POST /api/relays` `origin`).
 *
 * A destination is resolved first (`dns.lookup`, every address; an IP literal is taken as is) and
 * accepted only when every address is loopback (127.0.0.0/8, ::1) or inside one of the entries
 * of `rtp.allowedDestinations` — CIDRs (`10.0.0.0/8`, `2001:db8::/32`), single addresses, or host
 * names (`origin.example.net`, or `*.example.net` for any name under it; a listed name is
 * accepted whatever it resolves to). The caller then uses the resolved address, never the name
 * again, so a second resolution cannot point elsewhere (DNS rebinding). Nothing is bound or sent
 * before the check: a refusal throws `DestinationRefusedError` (HTTP 403).
 */
import dns from 'node:dns/promises'
import net from 'node:net'
import { ConfigError, DestinationRefusedError, HttpRequestError } from '../errors'
import { isLoopback, normalizeIp } from '../access/address'

/** A checked destination: the address to use (IPv4 or IPv6 literal) and its family. */
export interface AllowedDestination {
  address: string
  family: 4 | 6
}

export class DestinationPolicy {
  readonly #blocks = new net.BlockList()
  readonly #names = new Set<string>()
  readonly #suffixes: string[] = []

  /** `allowed`: the `rtp.allowedDestinations` entries; a malformed CIDR throws `ConfigError`. */
  constructor(allowed: readonly string[]) {
    allowed.forEach((entry, i) => {
      const slash = entry.indexOf('/')
      const bad = (why: string) => new ConfigError([{ path: `rtp.allowedDestinations.${i}`, message: why }])
      if (slash >= 0) {
        const ip = entry.slice(0, slash)
        const prefix = Number(entry.slice(slash + 1))
        const type = net.isIPv4(ip) ? 'ipv4' : net.isIPv6(ip) ? 'ipv6' : null
        if (!type || !Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128)) throw bad(`"${entry}" is not a CIDR`)
        this.#blocks.addSubnet(ip, prefix, type)
      } else if (net.isIP(entry)) {
        this.#blocks.addAddress(entry, net.isIPv4(entry) ? 'ipv4' : 'ipv6')
      } else {
        const name = entry.toLowerCase().replace(/\.$/, '')
        if (name.startsWith('*.')) this.#suffixes.push(name.slice(1))
        else this.#names.add(name)
      }
    })
  }

  /** True when `address` (an IP literal) may be sent to. */
  allowsAddress(address: string): boolean {
    const ip = normalizeIp(address)
    if (isLoopback(ip)) return true
    const type = net.isIPv4(ip) ? 'ipv4' : net.isIPv6(ip) ? 'ipv6' : null
    return type !== null && this.#blocks.check(ip, type)
  }

  #listsName(host: string): boolean {
    const name = host.toLowerCase().replace(/\.$/, '')
    return this.#names.has(name) || this.#suffixes.some((s) => name.endsWith(s))
  }

  /**
   * Resolves `host` and checks it (see the module docs). `family` prefers addresses of that
   * family (the socket's). Throws `DestinationRefusedError` (403) for a destination outside the
   * list, `HttpRequestError` (400) for a host that does not resolve.
   */
  async check(host: string, family?: 4 | 6): Promise<AllowedDestination> {
    const literal = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
    let addresses: AllowedDestination[]
    if (net.isIP(literal)) {
      const ip = normalizeIp(literal)
      addresses = [{ address: ip, family: net.isIPv4(ip) ? 4 : 6 }]
    } else {
      try {
        addresses = (await dns.lookup(literal, { all: true })).map((a) => ({ address: normalizeIp(a.address), family: a.family === 6 ? 6 : 4 }))
      } catch (error) {
        throw new HttpRequestError(400, 'HTTP_BAD_REQUEST', `host ${host} does not resolve: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
      }
      if (addresses.length === 0) throw new HttpRequestError(400, 'HTTP_BAD_REQUEST', `host ${host} does not resolve`)
    }
    if (!net.isIP(literal) && this.#listsName(literal)) return pick(addresses, family)
    const refused = addresses.find((a) => !this.allowsAddress(a.address))
    if (refused) {
      throw new DestinationRefusedError(`destination ${host}${refused.address === literal ? '' : ` (${refused.address})`} is not allowed: only loopback and rtp.allowedDestinations`)
    }
    return pick(addresses, family)
  }
}

function pick(addresses: AllowedDestination[], family?: 4 | 6): AllowedDestination {
  return addresses.find((a) => a.family === family) ?? addresses[0]!
}

const ANYWHERE = new DestinationPolicy(['0.0.0.0/0', '::/0'])

/**
 * Resolves `host` without the allow-list: for destinations that are not a client's choice (nodes
 * found in the cluster registry, the operator's own). Throws `HttpRequestError` (400) for a host
 * that does not resolve.
 */
export function resolveDestination(host: string, family?: 4 | 6): Promise<AllowedDestination> {
  return ANYWHERE.check(host, family)
}
