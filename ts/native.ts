/**
 * The native addon (crates/binding), loaded through napi-rs's generated `binding.js`, which
 * picks the prebuilt binary for this platform: `sluice.<platform>.node` beside the package (a
 * build from source), else the platform package (`sluice-linux-x64-gnu`, ...). Only `ts/`
 * imports it. When neither loads, importing this module throws `NativeBindingError` naming the
 * platform package to install.
 */
import { NativeBindingError } from './errors'

type Binding = typeof import('../binding.js')

/**
 * The npm package that carries this machine's binary, as napi-rs names them:
 * `sluice-<platform>-<arch>[-<abi>]` (`-gnu`/`-musl` on Linux, `-gnueabihf` on 32-bit ARM Linux,
 * `-msvc` on Windows, none on macOS).
 */
export function platformPackageName(platform: string = process.platform, arch: string = process.arch, musl: boolean = isMusl()): string {
  let abi = ''
  if (platform === 'linux') abi = arch === 'arm' ? (musl ? '-musleabihf' : '-gnueabihf') : musl ? '-musl' : '-gnu'
  else if (platform === 'win32') abi = '-msvc'
  return `sluice-${platform}-${arch}${abi}`
}

/** Whether this Linux process runs on musl libc (Alpine): no glibc version in the process report. */
function isMusl(): boolean {
  if (process.platform !== 'linux') return false
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  return !report?.header?.glibcVersionRuntime
}

/** Every message of an error's `cause` chain, one per line (binding.js chains one per attempt). */
function causes(error: unknown): string[] {
  const lines: string[] = []
  for (let e = error as { message?: unknown; cause?: unknown } | undefined; e && lines.length < 10; e = e.cause as typeof e) {
    lines.push(String(e.message ?? e).split('\n')[0])
  }
  return lines
}

function load(): Binding {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../binding.js') as Binding
  } catch (error) {
    const name = platformPackageName()
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const version = (require('../package.json') as { version: string }).version
    const target = `${process.platform}-${process.arch}`
    throw new NativeBindingError(
      name,
      `Sluice's native binary for ${target} could not be loaded. It comes in the package ${name}, an optional ` +
        `dependency of sluice: install it with \`npm install ${name}@${version}\` (npm leaves optional dependencies ` +
        `out with --omit=optional, and sometimes when the lockfile was made on another platform), or build ` +
        `Sluice from source (README, "Build from source").\n` +
        causes((error as { cause?: unknown }).cause ?? error)
          .map((line) => `  tried: ${line}`)
          .join('\n'),
      error,
    )
  }
}

export const native: Binding = load()
export type { RtmpSession as NativeRtmpSession, RtmpFeedDetails, RtmpEvent, CodecInfo } from '../binding.js'

/**
 * Slots per media message in `RtmpSession.mediaIndex`: typeId, messageStreamId, timestamp (ms),
 * slab slot (in `RtmpSession.slabs`; 0 = the `feedInPlace()` input), offset, length (bytes),
 * flags, composition time (ms, signed).
 */
export const MEDIA_INDEX_STRIDE = 8
/** Media flag bits in `mediaIndex`. */
export const MEDIA_FLAG_KEYFRAME = 1
export const MEDIA_FLAG_SEQUENCE_HEADER = 2
