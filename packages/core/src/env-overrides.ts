/**
 * `STOWAGE_*` environment variables over the config file, so a deploy can
 * move an alias to another backend with no code change. Every variable is
 * accounted for: one Stowage does not know is refused with the nearest one
 * it does (a misspelt `STOWAGE_DEFAULT_LOCATON` would otherwise be ignored
 * and files would land somewhere else), and each value is parsed strictly by
 * the kind of option it sets.
 */
import { envName, envSuffix, parseOptionValue, type OptionKind } from './backend.js'
import { closest } from './check-options.js'
import type { StorageConfig, StowageConfig } from './config.js'
import { ConfigurationError } from './errors.js'
import { resolveBackend } from './resolve-backend.js'

/**
 * Variables that start with `STOWAGE_` but are not storage settings: the
 * config file's path and the switches of Stowage's own test and CI scripts.
 */
export const RESERVED_ENV: ReadonlySet<string> = new Set([
  'STOWAGE_CONFIG',
  'STOWAGE_KEEP_S3',
  'STOWAGE_S3_PORT',
  'STOWAGE_S3_TIMEOUT',
  'STOWAGE_S3_MEM_MB',
  'STOWAGE_CACHE',
  'STOWAGE_NODE24_VERSION',
])

/** Options for `applyEnvOverrides`. */
export interface EnvOverrideOptions {
  /**
   * Told what a backend switch left out (options of the old backend the new
   * one does not take). Default: `process.emitWarning`, printed at start-up.
   */
  warn?: (message: string) => void
}

const defaultWarn = (message: string) => process.emitWarning(message, 'StowageConfigWarning')

/** JSON literals (`true`, `42`) for a backend that declared no option kinds; anything else stays a string. */
function looseValue(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const camel = (snake: string) => snake.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())

/**
 * Applies `STOWAGE_*` variables to a configuration:
 * - `STOWAGE_<ALIAS>_BACKEND=s3` sets (or creates) an alias's backend. The
 *   file's options that the new backend also takes are kept (`location`);
 *   the others are dropped and `warn` says which (at start-up, by default);
 * - `STOWAGE_<ALIAS>_<OPTION>=value` sets one option (`baseUrl` →
 *   `STOWAGE_DEFAULT_BASE_URL`), parsed by its kind: `true`/`false`,
 *   integers, JSON objects, comma-separated lists;
 * - `STOWAGE_<ALIAS>_OPTIONS={"bucket":"media"}` merges a JSON object of
 *   options (single-option variables win over it);
 * - `STOWAGE_<ALIAS>_MANIFEST=true|false` turns the manifest wrapper on or off.
 * `<ALIAS>` is the alias in upper snake case (`staticFiles` → `STATIC_FILES`).
 * @returns a new configuration; the input is not modified.
 * @throws ConfigurationError naming the variable and the key it sets, for an unknown
 *   variable (with the nearest known one), one spelt in lower or mixed case
 *   (`stowage_default_backend`), a malformed value, or an unknown backend.
 */
export async function applyEnvOverrides(config: StowageConfig, env: NodeJS.ProcessEnv = process.env, options: EnvOverrideOptions = {}): Promise<StowageConfig> {
  const warn = options.warn ?? defaultWarn
  const root = config.root ?? process.cwd()
  const out: Record<string, StorageConfig> = {}
  for (const [alias, entry] of Object.entries(config.storages ?? {})) out[alias] = { ...entry, options: { ...(entry.options ?? {}) } }
  // Names are case-sensitive on Linux: `stowage_default_backend=s3` would
  // otherwise be ignored, and the application run on its default storage.
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && !k.startsWith('STOWAGE_') && k.toUpperCase().startsWith('STOWAGE_')) {
      throw new ConfigurationError(`Stowage reads its variables in upper case (did you mean ${k.toUpperCase()}?)`, { env: k })
    }
  }
  const vars = (Object.entries(env).filter(([k, v]) => k.startsWith('STOWAGE_') && v !== undefined && !RESERVED_ENV.has(k)) as [string, string][]).sort(
    // OPTIONS first, so a single-option variable overrides the same key in it.
    ([a], [b]) => Number(!a.endsWith('_OPTIONS')) - Number(!b.endsWith('_OPTIONS')),
  )
  const aliasNamed = (upper: string) => Object.keys(out).find((a) => envSuffix(a) === upper)

  // Backends first: the new backend decides which options the other variables may set.
  const switched = new Map<string, { from: StorageConfig['backend']; variable: string }>()
  for (const [k, v] of vars) {
    const upper = k.startsWith('STOWAGE_') && k.endsWith('_BACKEND') ? k.slice('STOWAGE_'.length, -'_BACKEND'.length) : ''
    if (!upper) continue
    const alias = aliasNamed(upper) ?? upper.toLowerCase()
    const existing = out[alias]
    if (existing?.backend === v) continue
    out[alias] = { ...existing, backend: v, options: existing?.options ?? {} }
    if (existing) switched.set(alias, { from: existing.backend, variable: k })
  }

  const kinds = new Map<string, { storage: string; options: Readonly<Record<string, OptionKind>> | undefined }>()
  for (const [alias, entry] of Object.entries(out)) {
    const { storage, options: declared } = await resolveBackend(entry.backend, root, alias)
    kinds.set(alias, { storage, options: declared })
  }

  for (const [alias, { from, variable }] of switched) {
    const declared = kinds.get(alias)!
    const entry = out[alias]!
    if (!declared.options) continue
    const kept: string[] = []
    const dropped: string[] = []
    for (const name of Object.keys(entry.options!)) {
      if (Object.hasOwn(declared.options, name)) kept.push(name)
      else {
        dropped.push(name)
        delete entry.options![name]
      }
    }
    if (!dropped.length) continue
    const was = typeof from === 'string' ? `'${from}'` : 'the configured backend'
    warn(
      `${variable}=${entry.backend as string} replaces ${was} of storages.${alias}: ` +
        `${kept.length ? `kept ${kept.join(', ')}; ` : ''}dropped ${dropped.join(', ')} (not ${declared.storage} options).`,
    )
  }

  // Longest alias first, so STOWAGE_STATIC_FILES_X is not read as alias STATIC.
  const aliases = Object.keys(out).sort((a, b) => envSuffix(b).length - envSuffix(a).length)
  for (const [k, v] of vars) {
    const alias = aliases.find((a) => k.startsWith(`STOWAGE_${envSuffix(a)}_`))
    if (alias === undefined) throw unknownVariable(k, out, kinds)
    const rest = k.slice(`STOWAGE_${envSuffix(alias)}_`.length)
    const entry = out[alias]!
    const declared = kinds.get(alias)!.options
    if (rest === 'BACKEND') continue
    if (rest === 'MANIFEST') {
      entry.manifest = parse('boolean', v, `storages.${alias}.manifest`, k) as boolean
    } else if (rest === 'OPTIONS') {
      const parsed = parse('object', v, `storages.${alias}.options`, k) as Record<string, unknown>
      for (const [name, value] of Object.entries(parsed)) {
        if (declared && !Object.hasOwn(declared, name)) {
          const near = closest(name, Object.keys(declared))
          throw new ConfigurationError(`'${name}' is not a ${kinds.get(alias)!.storage} option${near ? ` (did you mean '${near}'?)` : ''}`, {
            key: `storages.${alias}.options.${name}`,
            env: k,
          })
        }
        entry.options![name] = value
      }
    } else if (declared) {
      const name = Object.keys(declared).find((o) => envSuffix(o) === rest && declared[o] !== 'code')
      if (name === undefined) throw unknownVariable(k, out, kinds)
      entry.options![name] = parse(declared[name]!, v, `storages.${alias}.options.${name}`, k)
    } else {
      entry.options![camel(rest)] = looseValue(v)
    }
  }
  return { ...config, storages: out }
}

function parse(kind: OptionKind, text: string, key: string, env: string): unknown {
  try {
    return parseOptionValue(kind, text)
  } catch (err) {
    throw new ConfigurationError((err as ConfigurationError).detail, { key, env, cause: err })
  }
}

/** The error for a variable nothing reads, with the closest one something does. */
function unknownVariable(
  variable: string,
  storagesCfg: Record<string, StorageConfig>,
  kinds: Map<string, { options: Readonly<Record<string, OptionKind>> | undefined }>,
): ConfigurationError {
  const known = new Map<string, string>()
  for (const alias of Object.keys(storagesCfg)) {
    known.set(envName(alias, 'backend'), `storages.${alias}.backend`)
    known.set(envName(alias, 'options'), `storages.${alias}.options`)
    known.set(envName(alias, 'manifest'), `storages.${alias}.manifest`)
    for (const [name, kind] of Object.entries(kinds.get(alias)?.options ?? {})) {
      if (kind !== 'code') known.set(envName(alias, name), `storages.${alias}.options.${name}`)
    }
  }
  for (const reserved of RESERVED_ENV) known.set(reserved, '')
  const near = closest(variable, known.keys())
  const configured = Object.keys(storagesCfg)
  const why = configured.some((a) => variable.startsWith(`STOWAGE_${envSuffix(a)}_`))
    ? 'is not a setting of that storage'
    : `names no configured storage (configured: ${configured.join(', ') || 'none'})`
  const hint = near ? ` (did you mean ${near}${known.get(near) ? `, which sets ${known.get(near)}` : ''}?)` : ''
  return new ConfigurationError(`${why}${hint}`, { env: variable })
}
