/**
 * The effective configuration of the `sluice` command: a YAML file, then `SLUICE_*` environment
 * variables (ts/config/env.ts), then flags, each overriding the one before, merged key by key
 * (a list is replaced, not appended to) and validated once by `checkedConfigSchema`.
 *
 * Every problem is reported with where its value came from (`ConfigIssue.source`): the file
 * and line (`sluice.yaml:12`), the variable (`SLUICE_RTMP_PORT`) or the flag (`--rtmp-port`).
 */
import { readFileSync } from 'node:fs'
import { Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml'
import { ConfigError, type ConfigIssue } from '../errors'
import { checkedConfigSchema, configSchema, type SluiceConfig } from './schema'
import { coerce, configFromEnv, ENV_CONFIG_FILE, objectShape, settingAt, unwrap } from './env'
import type { ZodType } from 'zod'

/** A setting given by a flag: `{ flag: '--rtmp-port', path: ['rtmp', 'port'], value: '1936' }`. */
export interface FlagSetting {
  /** The flag as typed, for messages. */
  flag: string
  /** The key path it sets (a leaf of the schema). */
  path: string[]
  /** Text, coerced by the key's type as environment values are; a list for a repeated flag. */
  value: string | string[]
}

export interface LoadConfigOptions {
  /** Path of the YAML file. Default: `SLUICE_CONFIG` of `env`, else no file (defaults). */
  file?: string | null
  /** Where `SLUICE_*` variables are read. Default `process.env`. */
  env?: NodeJS.ProcessEnv
  /** Flags, applied last, in order. */
  flags?: FlagSetting[]
  /** Called with each warning as it is found, before validation (so even when it then throws). */
  onWarning?: (message: string) => void
}

export interface LoadedConfig {
  /** The effective settings, defaults filled in. */
  config: SluiceConfig
  /** The file read, if any. */
  file: string | null
  /** Things worth saying that are not errors (unknown `SLUICE_*` variables). */
  warnings: string[]
}

type Plain = Record<string, unknown>

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Sets `value` at `path`, creating missing (or null) sections on the way. A section the file
 * gave as something else (`rtmp: 5`) is left for the schema to report.
 */
function setIn(target: Plain, path: readonly string[], value: unknown): void {
  let node = target
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined || node[key] === null) node[key] = {}
    if (!isPlain(node[key])) return
    node = node[key] as Plain
  }
  node[path[path.length - 1]!] = value
}

/** An empty section (`admin:` with every key commented out, i.e. null) means its defaults. */
function emptySectionsToObjects(value: Plain, schema: ZodType): void {
  const shape = objectShape(schema)
  if (!shape) return
  for (const [key, child] of Object.entries(value)) {
    const childSchema = shape[key]
    if (!childSchema || !objectShape(childSchema)) continue
    if (child === null && !unwrap(childSchema).nullable) value[key] = {}
    else if (isPlain(child)) emptySectionsToObjects(child, childSchema)
  }
}

interface YamlFile {
  value: Plain
  /** `file:line` of the key at `path` (or of its nearest ancestor in the file), else `file`. */
  locate(path: readonly string[]): string
  /** Whether the file has a key at `path`. */
  has(path: readonly string[]): boolean
}

/** Reads and parses a YAML config file; throws `ConfigError` naming file, line and column. */
function readYaml(file: string): YamlFile {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigError([{ source: file, path: '', message: `cannot read the config file: ${(error as Error).message}` }])
  }
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true })
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const at = e.linePos?.[0]
        const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
        return { source: at ? `${file}:${at.line}:${at.col}` : file, path: '', message: `YAML syntax error: ${message}` }
      }),
    )
  }
  let value: unknown
  try {
    value = doc.toJS() ?? {}
  } catch (error) {
    throw new ConfigError([{ source: file, path: '', message: (error as Error).message }])
  }
  if (!isPlain(value)) throw new ConfigError([{ source: file, path: '', message: 'the top level must be a mapping of sections (rtmp:, http:, ...)' }])
  /** Where the key at `path` is written (its key, not its value, which may be lines below). */
  const rangeOf = (path: readonly string[]): readonly number[] | undefined => {
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true)
    const last = path[path.length - 1]
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === last)
      return isNode(pair?.key) ? pair.key.range ?? undefined : undefined
    }
    if (isSeq(parent)) {
      const item = parent.items[Number(last)]
      return isNode(item) ? item.range ?? undefined : undefined
    }
    return undefined
  }
  return {
    value,
    locate(path) {
      for (let n = path.length; n > 0; n--) {
        const range = rangeOf(path.slice(0, n))
        if (range) return `${file}:${lineCounter.linePos(range[0]).line}`
      }
      return file
    },
    has: (path) => path.length > 0 && rangeOf(path) !== undefined,
  }
}

/**
 * Reads the file, the environment and the flags into one validated configuration.
 *
 * Throws `ConfigError` (code `CONFIG_INVALID`) with every issue found, each with its key path
 * (`rtmp.port`, `http.prot` for an unknown key; empty for a syntax error), the reason and its
 * source. An unknown `SLUICE_*` variable is a warning, not an error.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env
  const file = options.file ?? env[ENV_CONFIG_FILE] ?? null
  const yaml = file ? readYaml(file) : null
  const merged: Plain = yaml ? structuredClone(yaml.value) : {}
  emptySectionsToObjects(merged, configSchema)

  const issues: ConfigIssue[] = []
  /** Key path → the variable or flag that set it (later layers overwrite earlier ones). */
  const origin = new Map<string, string>()
  const fromEnv = configFromEnv(env)
  issues.push(...fromEnv.issues)
  for (const warning of fromEnv.warnings) options.onWarning?.(warning)
  for (const s of fromEnv.settings) {
    setIn(merged, s.path, s.value)
    origin.set(s.path.join('.'), s.name)
  }
  for (const f of options.flags ?? []) {
    const setting = settingAt(f.path)
    if (!setting) throw new Error(`flag ${f.flag} names ${f.path.join('.')}, which is not a setting`)
    const coerced = coerce(setting, f.value)
    if ('error' in coerced) {
      issues.push({ source: f.flag, path: f.path.join('.'), message: coerced.error })
      continue
    }
    setIn(merged, f.path, coerced.value)
    origin.set(f.path.join('.'), f.flag)
  }

  /**
   * Where the value at `path` came from: the variable or flag that set it (or an ancestor), the
   * file's line of it; for a check spanning keys (`access.token` for `access.policy: token`), a
   * variable or flag of the same section, else the file's nearest line; `config` for defaults.
   */
  const sourceOf = (path: string): string => {
    const parts = path ? path.split('.') : []
    for (let n = parts.length; n > 0; n--) {
      const s = origin.get(parts.slice(0, n).join('.'))
      if (s) return s
    }
    if (yaml?.has(parts)) return yaml.locate(parts)
    for (const prefix of [path, parts[0]]) {
      if (!prefix) continue
      for (const [key, s] of origin) if (key.startsWith(`${prefix}.`)) return s
    }
    return yaml ? yaml.locate(parts) : 'config'
  }
  const parsed = checkedConfigSchema.safeParse(merged)
  if (!parsed.success) {
    const failed = new Set(issues.map((i) => i.path))
    for (const i of ConfigError.fromZod(parsed.error).issues) {
      // A value that could not be coerced was left out; the schema may then miss it too.
      if (!failed.has(i.path)) issues.push({ ...i, source: sourceOf(i.path) })
    }
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues)
  return { config: parsed.data, file, warnings: fromEnv.warnings }
}

/** What `--print-config` shows instead of a secret. */
export const REDACTED = '<redacted>'

/** Keys whose string values are secrets. */
const SECRET_KEY = /secret|token|password|passphrase|privatekey|credential/i
/** `scheme:user:password@` and `scheme://user:password@` in URLs (TURN servers, webhooks). */
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:(?:\/\/)?[^:@/\s]*):([^@/\s]*)@/i

/**
 * A copy of `config` fit to show: the string value of every key named like a secret (`secret`,
 * `token`, `password`...) becomes `"<redacted>"` (null stays null: unset), and so does the
 * password part of any URL (`turn:user:<redacted>@host:3478`).
 */
export function redactConfig(config: SluiceConfig): Plain {
  const walk = (value: unknown, key: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => walk(v, key))
    if (isPlain(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]))
    if (typeof value !== 'string') return value
    if (SECRET_KEY.test(key)) return REDACTED
    return value.replace(URL_PASSWORD, `$1:${REDACTED}@`)
  }
  return walk(config, '') as Plain
}

/** The effective configuration as YAML (`sluice --print-config`), secrets redacted. */
export function configToYaml(config: SluiceConfig): string {
  const doc = new Document(redactConfig(config))
  doc.commentBefore = ' Sluice: effective configuration (defaults < file < SLUICE_* environment < flags).\n Secrets are shown as "<redacted>".'
  return doc.toString()
}
