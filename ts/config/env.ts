/**
 * `SLUICE_*` environment variables, mapped generically onto the config schema.
 *
 * Mapping: `SLUICE_` + the key path, each key in SCREAMING_SNAKE_CASE (`relaySecret` →
 * `RELAY_SECRET`), nested keys joined by `_`: `rtmp.port` → `SLUICE_RTMP_PORT`,
 * `http.cors.origins` → `SLUICE_HTTP_CORS_ORIGINS`, `access.token.secret` →
 * `SLUICE_ACCESS_TOKEN_SECRET`, `hub.gopLimits.maxBytes` → `SLUICE_HUB_GOP_LIMITS_MAX_BYTES`.
 * Only leaves (numbers, booleans, strings, lists) have a variable; a section has none.
 *
 * Values are text, coerced by the type the schema gives the key:
 * - numbers: a decimal literal (`1935`, `0.5`); anything else is an error naming the variable;
 * - booleans: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case);
 * - lists: a JSON array (`["a","b"]`) or a comma list (`a, b`; empty: `[]`);
 * - strings: as given; for a key that may be null (`admin.token`), an empty value means null.
 *
 * Aliases kept from before the config file: `SLUICE_RELAY_SECRET` (= `SLUICE_RTP_RELAY_SECRET`,
 * which wins when both are set). `SLUICE_CONFIG` names the config file when `--config` is absent.
 * Any other `SLUICE_*` variable is reported as a warning (not an error: the environment is shared
 * with other tools, e.g. `SLUICE_BINDING` of the benches), with the nearest known name.
 */
import type { ZodType } from 'zod'
import { configSchema } from './schema'

/** The type of a setting's value, as far as coercing text goes. */
export type SettingKind = 'number' | 'boolean' | 'string' | 'array'

/** One leaf of the schema: a key that takes a value. */
export interface Setting {
  /** Key path, e.g. `['rtmp', 'port']`. */
  path: string[]
  /** Its environment variable, e.g. `SLUICE_RTMP_PORT`. */
  env: string
  kind: SettingKind
  /** For `array`: the kind of its elements. */
  element?: SettingKind
  /** Whether `null` is a value (an empty environment value then means null). */
  nullable: boolean
}

/** Environment variables that are not settings but are understood. */
export const ENV_ALIASES: Record<string, string[]> = { SLUICE_RELAY_SECRET: ['rtp', 'relaySecret'] }
/** The config file's path when `--config` is not given. */
export const ENV_CONFIG_FILE = 'SLUICE_CONFIG'

interface ZodInternals {
  _zod: { def: { type: string; innerType?: ZodType; in?: ZodType; element?: ZodType; shape?: Record<string, ZodType> } }
}

/** Strips wrappers (default, optional, nullable...) off a schema node. */
export function unwrap(schema: ZodType): { node: ZodType; nullable: boolean } {
  let node = schema as unknown as ZodInternals
  let nullable = false
  for (;;) {
    const def = node._zod.def
    if (def.type === 'nullable') nullable = true
    if (def.innerType) node = def.innerType as unknown as ZodInternals
    else if (def.type === 'pipe' && def.in) node = def.in as unknown as ZodInternals
    else break
  }
  return { node: node as unknown as ZodType, nullable }
}

/** The keys of an object schema node, or null when `schema` (unwrapped) is not an object. */
export function objectShape(schema: ZodType): Record<string, ZodType> | null {
  const { node } = unwrap(schema)
  const def = (node as unknown as ZodInternals)._zod.def
  return def.type === 'object' ? (def.shape ?? null) : null
}

function kindOf(schema: ZodType): SettingKind {
  const type = (unwrap(schema).node as unknown as ZodInternals)._zod.def.type
  if (type === 'number' || type === 'int' || type === 'bigint') return 'number'
  if (type === 'boolean') return 'boolean'
  if (type === 'array') return 'array'
  return 'string'
}

/** `relaySecret` → `RELAY_SECRET`. */
export function screamingSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2').toUpperCase()
}

/** The environment variable of a key path: `['http', 'cors', 'origins']` → `SLUICE_HTTP_CORS_ORIGINS`. */
export function envName(path: readonly string[]): string {
  return ['SLUICE', ...path.map(screamingSnake)].join('_')
}

let cache: Setting[] | null = null

/** Every leaf of the config schema, in schema order. Throws if two keys map to one variable. */
export function settings(): Setting[] {
  if (cache) return cache
  const out: Setting[] = []
  const walk = (schema: ZodType, path: string[]) => {
    const shape = objectShape(schema)
    if (shape) {
      for (const [key, child] of Object.entries(shape)) walk(child, [...path, key])
      return
    }
    const { node, nullable } = unwrap(schema)
    const kind = kindOf(node)
    const element = kind === 'array' ? kindOf((node as unknown as ZodInternals)._zod.def.element!) : undefined
    out.push({ path, env: envName(path), kind, element, nullable })
  }
  walk(configSchema, [])
  const seen = new Map<string, string>()
  for (const s of out) {
    const other = seen.get(s.env)
    if (other) throw new Error(`config keys ${other} and ${s.path.join('.')} map to one variable ${s.env}`)
    seen.set(s.env, s.path.join('.'))
  }
  cache = out
  return out
}

/** The setting at a key path, if that path is a leaf. */
export function settingAt(path: readonly string[]): Setting | undefined {
  const key = path.join('.')
  return settings().find((s) => s.path.join('.') === key)
}

function coerceScalar(kind: SettingKind, raw: string): { value: unknown } | { error: string } {
  const text = raw.trim()
  if (kind === 'number') {
    const n = Number(text)
    if (text === '' || !Number.isFinite(n) || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return { error: `expected a number, got ${JSON.stringify(raw)}` }
    return { value: n }
  }
  if (kind === 'boolean') {
    const t = text.toLowerCase()
    if (['true', '1', 'yes', 'on'].includes(t)) return { value: true }
    if (['false', '0', 'no', 'off'].includes(t)) return { value: false }
    return { error: `expected true or false, got ${JSON.stringify(raw)}` }
  }
  return { value: raw }
}

/**
 * The value of a setting from text (an environment variable or a flag), or why it can't be one.
 * A list may also be given as several texts (a repeated flag). The schema still validates the
 * result (ranges, formats); this only turns text into the key's type.
 */
export function coerce(setting: Setting, raw: string | string[]): { value: unknown } | { error: string } {
  if (setting.kind === 'array') {
    let items: unknown[]
    if (Array.isArray(raw)) items = raw
    else if (raw.trim().startsWith('[')) {
      try {
        items = JSON.parse(raw) as unknown[]
      } catch (error) {
        return { error: `not a JSON array: ${(error as Error).message}` }
      }
      if (!Array.isArray(items)) return { error: 'expected a JSON array or a comma list' }
      return { value: items }
    } else items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
    const values: unknown[] = []
    for (const item of items) {
      const one = coerceScalar(setting.element ?? 'string', String(item))
      if ('error' in one) return one
      values.push(one.value)
    }
    return { value: values }
  }
  if (Array.isArray(raw)) raw = raw[raw.length - 1] ?? ''
  if (setting.nullable && raw.trim() === '') return { value: null }
  return coerceScalar(setting.kind, raw)
}

/** A setting read from the environment. */
export interface EnvSetting {
  /** The variable it came from. */
  name: string
  path: string[]
  value: unknown
}

/** What the environment holds for the config. */
export interface EnvConfig {
  settings: EnvSetting[]
  /** Variables whose value could not be coerced: `{ source: name, path, message }`. */
  issues: { source: string; path: string; message: string }[]
  /** `SLUICE_*` variables that name no setting, each with a hint. */
  warnings: string[]
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = row[j]!
      row[j] = next
    }
  }
  return row[b.length]!
}

/** The known variable nearest to `name` (a typo's likely meaning), if one is close. */
export function nearestEnvName(name: string): string | undefined {
  let best: string | undefined
  let bestDistance = 4
  for (const s of settings()) {
    const d = distance(name, s.env)
    if (d < bestDistance) {
      best = s.env
      bestDistance = d
    }
  }
  return best
}

/** Reads every `SLUICE_*` variable of `env` (see the module comment for the mapping). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const byName = new Map(settings().map((s) => [s.env, s]))
  const result: EnvConfig = { settings: [], issues: [], warnings: [] }
  const names = Object.keys(env)
    .filter((n) => n.startsWith('SLUICE_') && env[n] !== undefined)
    .sort()
  // Aliases first, so the generic name (read after) wins.
  names.sort((a, b) => Number(b in ENV_ALIASES) - Number(a in ENV_ALIASES))
  for (const name of names) {
    if (name === ENV_CONFIG_FILE) continue
    const aliasPath = ENV_ALIASES[name]
    const setting = aliasPath ? settingAt(aliasPath) : byName.get(name)
    if (!setting) {
      const near = nearestEnvName(name)
      result.warnings.push(`${name}: unknown setting, ignored${near ? ` (did you mean ${near}?)` : ''}`)
      continue
    }
    const coerced = coerce(setting, env[name]!)
    if ('error' in coerced) result.issues.push({ source: name, path: setting.path.join('.'), message: coerced.error })
    else result.settings.push({ name, path: setting.path, value: coerced.value })
  }
  return result
}
