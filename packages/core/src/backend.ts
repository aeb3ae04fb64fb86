/**
 * What a backend package tells configuration about itself, so core never
 * names a backend: the options it accepts (and how each is written in an
 * environment variable) and how to build it. `@stowage/local` and
 * `@stowage/s3` export theirs as `storageBackend`; configuration imports the
 * package an alias names, from the application's root, only when it is used.
 */
import { ConfigurationError } from './errors.js'
import type { Storage } from './storage.js'

/**
 * How an option is checked, and parsed from an environment variable:
 * - `string`, `secret` (a string never echoed back in messages),
 * - `boolean` (`true`/`false`, or `1`/`0` in the environment),
 * - `integer` (`3600`, `0o644`, `0x1f`), `number`,
 * - `object` (an object or a function in code, a JSON object in the environment),
 * - `list` (strings; a JSON array or `a,b,c` in the environment),
 * - `code` (a function or client only code can give; no environment variable),
 * - a list of allowed strings.
 */
export type OptionKind = 'string' | 'secret' | 'boolean' | 'integer' | 'number' | 'object' | 'list' | 'code' | readonly string[]

/** What a backend's `create` is told about where it is configured. */
export interface BackendContext {
  /** Directory that relative paths in the configuration are relative to (the config file's). */
  root: string
  /** The alias being built, e.g. `default`. */
  alias: string
}

/** A backend as configuration sees it. `O` is its options type, `S` the storage it builds. */
export interface BackendDefinition<O extends object = any, S extends Storage = Storage> {
  /** The storage class, for messages: `FileSystemStorage`. */
  storage: string
  /** Every option the backend accepts, with its kind. Anything else is refused. */
  options: { readonly [K in keyof O]-?: OptionKind }
  /** Advice for option names people try that the backend does not take (`private` → how privacy works here). */
  hints?: Readonly<Record<string, string>>
  /**
   * Builds the storage.
   * @throws ConfigurationError whose `key` is the option at fault (configuration adds the alias and env variable).
   */
  create(options: O, context: BackendContext): S
}

/** A storage wrapped around a configured one (`manifest: true` → `ManifestStaticStorage`). */
export interface WrapperDefinition<O extends object = any, S extends Storage = Storage> {
  /** The wrapping class, for messages. */
  storage: string
  options: { readonly [K in keyof O]-?: OptionKind }
  /**
   * @returns `storage` wrapped.
   * @throws ConfigurationError whose `key` is the option at fault (configuration adds the alias and env variable).
   */
  wrap(storage: Storage, options: O, context: BackendContext): S
}

/** Declares a backend with its option kinds checked against its options type (by `tsc` only). @returns `definition`. Never throws. */
export function defineBackend<O extends object, S extends Storage>(definition: BackendDefinition<O, S>): BackendDefinition<O, S> {
  return definition
}

/** @returns whether `value` is a backend definition (rather than a class or factory): an object with `create` and `options`. Never throws. */
export function isBackendDefinition(value: unknown): value is BackendDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as BackendDefinition).create === 'function' &&
    typeof (value as BackendDefinition).options === 'object'
  )
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function describeKind(kind: OptionKind): string {
  if (typeof kind !== 'string') return `one of ${kind.map((k) => `'${k}'`).join(', ')}`
  return {
    string: 'a string',
    secret: 'a string',
    boolean: 'true or false',
    integer: 'an integer',
    number: 'a number',
    object: 'an object',
    list: 'a list of strings',
    code: 'a value given in code',
  }[kind]
}

// Secrets and objects (credentials are one) are never echoed back: messages end up in logs.
const hidden = (kind: OptionKind) => kind === 'secret' || kind === 'object'
const shown = (kind: OptionKind, value: unknown) =>
  hidden(kind) ? '(hidden)' : typeof value === 'string' ? `'${value}'` : typeof value === 'function' ? 'a function' : JSON.stringify(value)

/**
 * Checks every option of a backend against its kind: the one loop each
 * backend's constructor runs.
 * @throws ConfigurationError naming the first option (`key`) whose value does not fit.
 */
export function checkOptionValues(options: object, kinds: Record<string, OptionKind>): void {
  for (const [key, kind] of Object.entries(kinds)) {
    try {
      checkOptionValue(kind, (options as Record<string, unknown>)[key])
    } catch (err) {
      throw new ConfigurationError((err as ConfigurationError).detail, { key })
    }
  }
}

/**
 * Checks a value given in code or a config file against its kind; `undefined` always fits. Returns nothing.
 * @throws ConfigurationError (without key; the caller adds it) when it does not fit.
 */
export function checkOptionValue(kind: OptionKind, value: unknown): void {
  if (value === undefined) return
  let ok: boolean
  if (typeof kind !== 'string') ok = typeof value === 'string' && kind.includes(value)
  else {
    switch (kind) {
      case 'string':
      case 'secret':
        ok = typeof value === 'string'
        break
      case 'boolean':
        ok = typeof value === 'boolean'
        break
      case 'integer':
        ok = Number.isSafeInteger(value)
        break
      case 'number':
        ok = typeof value === 'number' && Number.isFinite(value)
        break
      case 'object':
        ok = isPlainObject(value) || typeof value === 'function'
        break
      case 'list':
        ok = Array.isArray(value) && value.every((v) => typeof v === 'string')
        break
      case 'code':
        ok = true
        break
    }
  }
  if (!ok) throw new ConfigurationError(`must be ${describeKind(kind)}, got ${shown(kind, value)}`)
}

/**
 * Parses an environment variable's text strictly by kind: `nope` is not a
 * boolean and `08` is not an integer; either is refused rather than guessed.
 * @returns the value.
 * @throws ConfigurationError (without key) when the text does not fit.
 */
export function parseOptionValue(kind: OptionKind, text: string): unknown {
  const fail = (why = `must be ${describeKind(kind)}`): never => {
    throw new ConfigurationError(`${why}, got ${hidden(kind) ? '(hidden)' : `'${text}'`}`)
  }
  if (typeof kind !== 'string') return kind.includes(text) ? text : fail()
  const t = text.trim()
  switch (kind) {
    case 'string':
    case 'secret':
      return text
    case 'boolean':
      if (t === 'true' || t === '1') return true
      if (t === 'false' || t === '0') return false
      return fail()
    case 'integer': {
      if (/^0\d/.test(t)) return fail('must be an integer (write octal as 0o644)')
      const n = /^[+-]?\d+$/.test(t) || /^0[ox][0-9a-f]+$/i.test(t) ? Number(t) : NaN
      return Number.isSafeInteger(n) ? n : fail()
    }
    case 'number': {
      const n = t === '' ? NaN : Number(t)
      return Number.isFinite(n) ? n : fail()
    }
    case 'object': {
      let parsed: unknown
      try {
        parsed = JSON.parse(t)
      } catch {
        return fail('must be a JSON object')
      }
      return isPlainObject(parsed) ? parsed : fail('must be a JSON object')
    }
    case 'list': {
      if (!t.startsWith('['))
        return t
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      let parsed: unknown
      try {
        parsed = JSON.parse(t)
      } catch {
        return fail('must be a JSON array of strings or a comma-separated list')
      }
      return Array.isArray(parsed) && parsed.every((v) => typeof v === 'string') ? parsed : fail('must be a JSON array of strings or a comma-separated list')
    }
    case 'code':
      return fail('can only be given in code, not in an environment variable')
  }
}

/** @returns an option or alias name as an environment variable part: `forcePathStyle` → `FORCE_PATH_STYLE`. Never throws. */
export function envSuffix(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase()
}

/** @returns the environment variable that sets `option` of `alias`: (`default`, `baseUrl`) → `STOWAGE_DEFAULT_BASE_URL`. Never throws. */
export function envName(alias: string, option: string): string {
  return `STOWAGE_${envSuffix(alias)}_${envSuffix(option)}`
}
