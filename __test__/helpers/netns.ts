/**
 * A network namespace joined to this one by a veth pair, for tests that need a client that is
 * not on loopback, or a path with loss or a bandwidth limit (nftables, `tc`) that loopback
 * cannot have. Private test addresses only (`10.<second>.<n>.1` on the root side, `.2` inside,
 * a /30); the namespace and the pair go away with `remove()`. Needs root and `ip`.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface VethNamespace {
  /** The namespace's name. */
  ns: string
  /** The root side's device and address. */
  hostSide: string
  hostIp: string
  /** The namespace side's device and address. */
  nsSide: string
  nsIp: string
  /** Runs a command in the root namespace; its stdout. Throws on a non-zero exit. */
  sh(cmd: string, args: string[]): string
  /** Runs a command inside the namespace; its stdout. */
  inNs(cmd: string, args: string[]): string
  /** Deletes the pair and the namespace (idempotent). */
  remove(): void
}

/**
 * Creates the namespace `sluice-<tag>-<pid>` and the pair `<tag><n>a`/`<tag><n>b` (device names
 * at most 15 bytes: keep `tag` to 3–5 characters) on `10.<second>.<n>.0/30`, n random in 1–250.
 */
export function createVethNamespace(tag: string, second: number): VethNamespace {
  const n = 1 + Math.floor(Math.random() * 250)
  const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString()
  const v: VethNamespace = {
    ns: `sluice-${tag}-${process.pid}`,
    hostSide: `${tag}${n}a`,
    nsSide: `${tag}${n}b`,
    hostIp: `10.${second}.${n}.1`,
    nsIp: `10.${second}.${n}.2`,
    sh,
    inNs: (cmd, args) => sh('ip', ['netns', 'exec', v.ns, cmd, ...args]),
    remove: () => {
      try {
        sh('ip', ['link', 'del', v.hostSide])
      } catch {
        // gone already, or with the namespace
      }
      try {
        sh('ip', ['netns', 'del', v.ns])
      } catch {
        // never made
      }
    },
  }
  // a pair left by a test run that was killed before its cleanup may hold the name
  try {
    sh('ip', ['link', 'del', v.hostSide])
  } catch {
    // none: the usual case
  }
  sh('ip', ['netns', 'add', v.ns])
  sh('ip', ['link', 'add', v.hostSide, 'type', 'veth', 'peer', 'name', v.nsSide])
  sh('ip', ['link', 'set', v.nsSide, 'netns', v.ns])
  sh('ip', ['addr', 'add', `${v.hostIp}/30`, 'dev', v.hostSide])
  sh('ip', ['link', 'set', v.hostSide, 'up'])
  v.inNs('ip', ['addr', 'add', `${v.nsIp}/30`, 'dev', v.nsSide])
  v.inNs('ip', ['link', 'set', v.nsSide, 'up'])
  v.inNs('ip', ['link', 'set', 'lo', 'up'])
  return v
}

export interface BridgedNamespaces {
  /** The bridge's address in the root namespace (Redis, ffmpeg and Chromium reach the nodes from it). */
  rootIp: string
  /** One per namespace: its name and address (all on one /24 behind the bridge). */
  nodes: { ns: string; ip: string }[]
  /** Runs `cmd` inside namespace `i` as a child process (see `spawn`). */
  prefix(i: number): string[]
  /** Deletes the bridge, the pairs and the namespaces (idempotent). */
  remove(): void
}

/**
 * `count` network namespaces `sluice-<tag><i>-<pid>`, each on a veth pair whose root side is a
 * port of one bridge: they reach each other and the root namespace (the bridge has
 * `10.<second>.<n>.1`, namespace i `10.<second>.<n>.<10 + i>`, a /24, n random in 1–250) with no
 * forwarding in the root namespace. Needs root and `ip`.
 */
export function createBridgedNamespaces(tag: string, second: number, count: number): BridgedNamespaces {
  const n = 1 + Math.floor(Math.random() * 250)
  const sh = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString()
  const quiet = (args: string[]) => {
    try {
      sh(args)
    } catch {
      // absent: nothing to remove
    }
  }
  const bridge = `${tag}br${n}`
  const nodes = Array.from({ length: count }, (_, i) => ({ ns: `sluice-${tag}${i}-${process.pid}`, ip: `10.${second}.${n}.${10 + i}`, host: `${tag}${n}h${i}`, inside: `${tag}${n}n${i}` }))
  const remove = () => {
    for (const node of nodes) {
      quiet(['link', 'del', node.host])
      quiet(['netns', 'del', node.ns])
    }
    quiet(['link', 'del', bridge])
  }
  remove()
  sh(['link', 'add', bridge, 'type', 'bridge'])
  sh(['addr', 'add', `10.${second}.${n}.1/24`, 'dev', bridge])
  sh(['link', 'set', bridge, 'up'])
  for (const node of nodes) {
    sh(['netns', 'add', node.ns])
    sh(['link', 'add', node.host, 'type', 'veth', 'peer', 'name', node.inside])
    sh(['link', 'set', node.inside, 'netns', node.ns])
    sh(['link', 'set', node.host, 'master', bridge])
    sh(['link', 'set', node.host, 'up'])
    sh(['netns', 'exec', node.ns, 'ip', 'addr', 'add', `${node.ip}/24`, 'dev', node.inside])
    sh(['netns', 'exec', node.ns, 'ip', 'link', 'set', node.inside, 'up'])
    sh(['netns', 'exec', node.ns, 'ip', 'link', 'set', 'lo', 'up'])
  }
  return {
    rootIp: `10.${second}.${n}.1`,
    nodes: nodes.map(({ ns, ip }) => ({ ns, ip })),
    prefix: (i) => ['ip', 'netns', 'exec', nodes[i]!.ns],
    remove,
  }
}

/**
 * An executable that starts Debian's Chromium (or `CHROMIUM_PATH`) inside `net`'s namespace: a
 * shell wrapper written to `dir`, for `launchChromium(args, executablePath)`.
 */
export function chromiumInNamespace(net: VethNamespace, dir: string): string {
  const wrapper = join(dir, `chromium-in-${net.ns}.sh`)
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${net.ns} ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} "$@"\n`)
  chmodSync(wrapper, 0o755)
  return wrapper
}
