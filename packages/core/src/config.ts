/**
 * Configuration as data (Django's `STORAGES`): aliases map to a backend and
 * its options; instances are built on first use and cached. Everything is
 * checked when the configuration is loaded, and a mistake fails with a
 * `ConfigurationError` naming the key and the environment variable that
 * sets it. Core names no backend: `backend: 'local'` imports
 * `@stowage/local` from the application's root, whose `storageBackend`
 * says which options it takes and how to build it.
 */
import { access, readFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { checkOptionValue, envName, type BackendContext, type BackendDefinition, type OptionKind, type WrapperDefinition } from './backend.js'
import { didYouMean } from './check-options.js'
import type { CheckedStorageConfig, ConfiguredStorages, StorageMap, TypedStorageConfig } from './config-types.js'
import { applyEnvOverrides, type EnvOverrideOptions } from './env-overrides.js'
import { ConfigurationError, StorageError } from './errors.js'
import { resolveBackend, resolveManifest, type Backend, type BackendFactory } from './resolve-backend.js'
import type { Storage } from './storage.js'

export type { BackendFactory } from './resolve-backend.js'

/** One alias in `storages`. */
export interface StorageConfig {
  /**
   * `'memory'`, the name of a Stowage backend package (`'local'` →
   * `@stowage/local`, `'s3'` → `@stowage/s3`), a module specifier exporting
   * `storageBackend` (`'@acme/stowage-ftp'`, `'./ftp-backend.js'`), a name
   * given to `registerBackend`, or a class, factory or backend definition.
   */
  backend: string | BackendFactory | BackendDefinition
  /** Passed to the backend; names it does not know are refused. */
  options?: Record<string, unknown>
  /**
   * Wrap the storage in `ManifestStaticStorage` (from `@stowage/static`):
   * content-hashed names and a `staticfiles.json` manifest. `true` or its options.
   */
  manifest?: boolean | Record<string, unknown>
}

/** Where collectstatic finds static files. */
export interface StaticFilesConfig {
  /** Source directories, or `[prefix, directory]` pairs as Django's `STATICFILES_DIRS`. */
  dirs?: (string | [prefix: string, dir: string])[]
  /** Glob patterns to leave out (Django's `--ignore`). */
  ignore?: string[]
  /** Also look in each workspace package's own `static/` folder. Default true. */
  packages?: boolean
}

/** The whole configuration, as written in `stowage.config.{ts,js,mjs,json}`. */
export interface StowageConfig {
  storages: Record<string, StorageConfig>
  staticfiles?: StaticFilesConfig
  /** Directory relative paths in this file are resolved against; set by `loadConfig`. */
  root?: string
}

/**
 * Declares a configuration with type checking: a named backend's options are
 * checked against its options type (`backend: 'local'` takes
 * `FileSystemStorageOptions` once `@stowage/local`'s types are loaded), so
 * a misspelt option or backend fails `tsc`. Everything is checked again when
 * the configuration is loaded, for JavaScript and JSON files.
 * @returns `config` unchanged, typed so `StoragesOf<typeof config>` gives each alias's storage type. Never throws.
 */
export function defineConfig<const S extends Record<string, TypedStorageConfig>>(config: {
  storages: S & { [A in keyof S]: CheckedStorageConfig<S[A]> }
  staticfiles?: StaticFilesConfig
  root?: string
}): StowageConfig & { storages: S } {
  return config as StowageConfig & { storages: S }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Checks option names and values against what the backend declared.
 * @throws ConfigurationError naming `storages.<alias>.<where>.<option>` and its environment variable.
 */
function checkAgainst(
  kinds: Readonly<Record<string, OptionKind>>,
  options: Record<string, unknown>,
  owner: string,
  alias: string,
  where: 'options' | 'manifest',
  hints: Readonly<Record<string, string>> = {},
): void {
  const names = Object.keys(kinds)
  for (const [name, value] of Object.entries(options)) {
    const key = `storages.${alias}.${where}.${name}`
    const env = where === 'options' ? envName(alias, name) : envName(alias, 'manifest')
    const kind = kinds[name]
    if (kind === undefined) {
      const hint = Object.hasOwn(hints, name) ? `: ${hints[name]}` : didYouMean(name, names)
      throw new ConfigurationError(`is not a ${owner} option${hint}`, { key, env })
    }
    try {
      checkOptionValue(kind, value)
    } catch (err) {
      throw new ConfigurationError((err as ConfigurationError).detail, { key, env: kind === 'code' ? undefined : env })
    }
  }
}

const TOP_KEYS = ['storages', 'staticfiles', 'root']
const ENTRY_KEYS = ['backend', 'options', 'manifest']
const STATIC_KEYS = ['dirs', 'ignore', 'packages']

function refuseUnknown(object: Record<string, unknown>, known: string[], prefix: string, what: string): void {
  for (const name of Object.keys(object)) {
    if (!known.includes(name)) throw new ConfigurationError(`is not ${what}${didYouMean(name, known)} (known: ${known.join(', ')})`, { key: prefix + name })
  }
}

/**
 * Checks the configuration's structure: known keys at every level, an
 * object per alias with a backend, well-formed `staticfiles`. Returns
 * nothing: it asserts `config` is a `StowageConfig`.
 * @throws ConfigurationError naming the first bad key.
 */
export function checkConfigShape(config: unknown): asserts config is StowageConfig {
  if (!isObject(config)) throw new ConfigurationError('must be an object', { key: 'config' })
  refuseUnknown(config, TOP_KEYS, '', 'a configuration key')
  if (!isObject(config.storages)) throw new ConfigurationError('must be an object of aliases', { key: 'storages' })
  for (const [alias, entry] of Object.entries(config.storages)) {
    const key = `storages.${alias}`
    if (!isObject(entry)) throw new ConfigurationError('must be an object with a backend', { key })
    refuseUnknown(entry, ENTRY_KEYS, `${key}.`, 'a storage setting')
    if (entry.backend === undefined || entry.backend === '') {
      throw new ConfigurationError('is required: a backend name or class', { key: `${key}.backend`, env: envName(alias, 'backend') })
    }
    if (entry.options !== undefined && !isObject(entry.options)) {
      throw new ConfigurationError('must be an object', { key: `${key}.options`, env: envName(alias, 'options') })
    }
    if (entry.manifest !== undefined && typeof entry.manifest !== 'boolean' && !isObject(entry.manifest)) {
      throw new ConfigurationError('must be true, false or an object of ManifestStaticStorage options', {
        key: `${key}.manifest`,
        env: envName(alias, 'manifest'),
      })
    }
  }
  if (config.root !== undefined && typeof config.root !== 'string') throw new ConfigurationError('must be a directory', { key: 'root' })
  const s = config.staticfiles
  if (s === undefined) return
  if (!isObject(s)) throw new ConfigurationError('must be an object', { key: 'staticfiles' })
  refuseUnknown(s, STATIC_KEYS, 'staticfiles.', 'a staticfiles setting')
  const pair = (d: unknown) => Array.isArray(d) && d.length === 2 && d.every((x) => typeof x === 'string')
  if (s.dirs !== undefined && !(Array.isArray(s.dirs) && s.dirs.every((d) => typeof d === 'string' || pair(d)))) {
    throw new ConfigurationError("must be a list of directories or [prefix, directory] pairs, e.g. ['./static', ['vendor', './vendor']]", {
      key: 'staticfiles.dirs',
    })
  }
  if (Array.isArray(s.dirs)) {
    s.dirs.forEach((d, i) => {
      const dir: unknown = Array.isArray(d) ? d[1] : d
      // An empty directory resolves to the project root: .env, node_modules and the
      // config itself would be collected into a storage that may be public.
      if (typeof dir === 'string' && dir.trim() === '') {
        throw new ConfigurationError("must name a directory: '' is the whole project root (write '.' if that is what you mean)", {
          key: `staticfiles.dirs[${i}]`,
        })
      }
    })
  }
  if (s.ignore !== undefined && !(Array.isArray(s.ignore) && s.ignore.every((p) => typeof p === 'string'))) {
    throw new ConfigurationError('must be a list of glob patterns', { key: 'staticfiles.ignore' })
  }
  if (s.packages !== undefined && typeof s.packages !== 'boolean') throw new ConfigurationError('must be true or false', { key: 'staticfiles.packages' })
}

interface Resolved {
  backend: Backend
  options: Record<string, unknown>
  manifest?: { wrapper: WrapperDefinition; options: Record<string, unknown> }
  context: BackendContext
}

/** Re-raises a backend's ConfigurationError under the alias's key and environment variable. */
function scoped(err: unknown, alias: string, where: 'options' | 'manifest'): unknown {
  if (!(err instanceof ConfigurationError)) {
    if (err instanceof StorageError) return err
    return new ConfigurationError(`could not be built: ${err instanceof Error ? err.message : String(err)}`, { key: `storages.${alias}`, cause: err })
  }
  if (err.key?.startsWith('storages.')) return err
  const option = err.key?.split('.')[0]
  const env = where === 'manifest' ? envName(alias, 'manifest') : option ? envName(alias, option) : undefined
  return new ConfigurationError(err.detail, { key: `storages.${alias}.${where}${err.key ? `.${err.key}` : ''}`, env: err.env ?? env, cause: err })
}

/**
 * The storages of an application by alias (Django's `django.core.files.storage.storages`).
 * Configure once at start-up with `configure()`; `get()` then builds each
 * storage on first use and returns the same instance afterwards.
 *
 * `S` types `get()`: `new StorageRegistry<StoragesOf<typeof config>>()`, or
 * augment `ConfiguredStorages` for the process-wide `storages`.
 */
export class StorageRegistry<S extends StorageMap = StorageMap> {
  private resolved = new Map<string, Resolved>()
  private instances = new Map<string, Storage>()
  private current: StowageConfig | undefined

  /** The configuration last given to `configure()`. */
  get config(): StowageConfig | undefined {
    return this.current
  }

  /**
   * Validates `config` completely and loads the backend packages it names.
   * Replaces any earlier configuration and forgets built instances.
   * Environment variables are not read here (`loadConfig` applies them).
   * Resolves once every alias is checked; on failure the earlier configuration stays.
   * @throws ConfigurationError naming the key (e.g. `storages.default.options.location`) and its environment variable.
   */
  async configure(config: StowageConfig): Promise<void> {
    checkConfigShape(config)
    const root = config.root ?? process.cwd()
    const resolved = new Map<string, Resolved>()
    for (const [alias, entry] of Object.entries(config.storages)) {
      const backend = await resolveBackend(entry.backend, root, alias)
      const options = { ...(entry.options ?? {}) }
      if (backend.options) checkAgainst(backend.options, options, backend.storage, alias, 'options', backend.hints)
      const item: Resolved = { backend, options, context: { root, alias } }
      if (entry.manifest) {
        const wrapper = await resolveManifest(root, alias)
        const manifestOptions = isObject(entry.manifest) ? { ...entry.manifest } : {}
        checkAgainst(wrapper.options, manifestOptions, wrapper.storage, alias, 'manifest')
        item.manifest = { wrapper, options: manifestOptions }
      }
      resolved.set(alias, item)
    }
    this.resolved = resolved
    this.instances.clear()
    this.current = config
  }

  /**
   * @returns the storage configured under `alias`, built on first call and cached.
   * @throws ConfigurationError when the alias is not configured or its options are invalid (key and environment variable named),
   *   or the backend failed to build with an error that is not a StorageError; a StorageError the backend throws is passed through.
   */
  get<A extends keyof S & string>(alias: A): S[A] {
    const cached = this.instances.get(alias)
    if (cached) return cached as S[A]
    const item = this.resolved.get(alias)
    if (!item) {
      const known = [...this.resolved.keys()]
      throw new ConfigurationError(
        known.length
          ? `no storage configured under this alias${didYouMean(alias, known)} (configured: ${known.join(', ')})`
          : 'no storages configured; call storages.configure() or loadStorages() first',
        { key: `storages.${alias}`, env: envName(alias, 'backend') },
      )
    }
    let storage: Storage
    try {
      storage = item.backend.create({ ...item.options }, item.context)
    } catch (err) {
      throw scoped(err, alias, 'options')
    }
    if (item.manifest) {
      try {
        storage = item.manifest.wrapper.wrap(storage, { ...item.manifest.options }, item.context)
      } catch (err) {
        throw scoped(err, alias, 'manifest')
      }
    }
    this.instances.set(alias, storage)
    return storage as S[A]
  }

  /** @returns whether `alias` is configured (or set). Never throws. */
  has(alias: string): boolean {
    return this.instances.has(alias) || this.resolved.has(alias)
  }

  /** @returns every configured (or set) alias, in configuration order. Never throws. */
  aliases(): string[] {
    return [...new Set([...this.resolved.keys(), ...this.instances.keys()])]
  }

  /** Uses `storage` for `alias` (tests, or instances built by hand); it is not checked. Never throws. */
  set<A extends keyof S & string>(alias: A, storage: S[A]): void {
    this.instances.set(alias, storage)
  }

  /**
   * Builds every configured storage now, so bad options fail at start-up
   * rather than on the first request. Returns nothing; the instances are cached.
   * @throws ConfigurationError naming the first bad key (or what `get()` passes through).
   */
  check(): void {
    for (const alias of this.resolved.keys()) this.get(alias as keyof S & string)
  }

  /** Forgets configuration and instances. Never throws. */
  reset(): void {
    this.resolved.clear()
    this.instances.clear()
    this.current = undefined
  }
}

/**
 * The application's storages (a process-wide registry). `get()` is typed by
 * `ConfiguredStorages`, which an application may augment from its config
 * (see `StoragesOf`); otherwise every alias gives a `Storage`.
 */
export const storages = new StorageRegistry<ConfiguredStorages>()

/** Config file names looked for, in order. */
export const CONFIG_FILES = ['stowage.config.ts', 'stowage.config.mts', 'stowage.config.js', 'stowage.config.mjs', 'stowage.config.json']

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  )
}

async function importConfigFile(file: string): Promise<unknown> {
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(await readFile(file, 'utf8'))
    } catch (err) {
      throw new ConfigurationError(`is not valid JSON: ${(err as Error).message}`, { key: path.basename(file), cause: err })
    }
  }
  const url = pathToFileURL(file).href
  if (['.ts', '.mts'].includes(path.extname(file))) {
    // Node 20 cannot import TypeScript; tsx can, when the application has it.
    let tsx: { tsImport: (specifier: string, parent: string) => Promise<unknown> }
    try {
      tsx = (await import('tsx/esm/api')) as typeof tsx
    } catch (err) {
      throw new ConfigurationError('is TypeScript: install tsx ("npm install -D tsx") or use stowage.config.js', { key: path.basename(file), cause: err })
    }
    return tsx.tsImport(url, import.meta.url)
  }
  return import(url)
}

/** Options for `loadConfig` and `loadStorages`. */
export interface LoadConfigOptions extends EnvOverrideOptions {
  /** Directory to look for the config file in. Default: the process's. */
  cwd?: string
  /** The config file, instead of looking for one (`$STOWAGE_CONFIG` does the same). */
  file?: string
  /** Environment to read `STOWAGE_*` variables from. Default `process.env`. */
  env?: NodeJS.ProcessEnv
}

/**
 * Finds and reads the configuration: `$STOWAGE_CONFIG` if set, else the first
 * of `CONFIG_FILES` in `cwd`; checks it completely and applies environment
 * overrides (see `applyEnvOverrides`).
 * @returns the configuration, with `root` set to the config file's directory.
 * @throws ConfigurationError when no file is found, a JSON file cannot be read or parsed, a
 *   TypeScript file is found without tsx installed, it exports no configuration, a key or
 *   `STOWAGE_*` variable is unknown, or a value is malformed. What importing a JavaScript
 *   or TypeScript file throws (a syntax error in it) is passed through unchanged.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<StowageConfig> {
  const env = options.env ?? process.env
  const cwd = path.resolve(options.cwd ?? process.cwd())
  let file = options.file ?? env.STOWAGE_CONFIG
  if (file) {
    file = path.resolve(cwd, file)
    if (!(await exists(file))) throw new ConfigurationError(`config file not found: ${file}`, { key: 'stowage.config', env: 'STOWAGE_CONFIG' })
  } else {
    for (const name of CONFIG_FILES) {
      if (await exists(path.join(cwd, name))) {
        file = path.join(cwd, name)
        break
      }
    }
  }
  if (!file) throw new ConfigurationError(`no ${CONFIG_FILES.join(' / ')} in ${cwd}`, { key: 'stowage.config', env: 'STOWAGE_CONFIG' })
  let config = (await importConfigFile(file)) as StowageConfig
  // A TypeScript or CommonJS file can come back wrapped in one or two `default`s.
  for (let i = 0; i < 2 && isObject(config) && !('storages' in config) && 'default' in config; i++) {
    config = (config as unknown as { default: StowageConfig }).default
  }
  if (!isObject(config) || !isObject(config.storages)) {
    throw new ConfigurationError('must export (default) an object with "storages"', { key: path.basename(file) })
  }
  checkConfigShape(config)
  const root = config.root ? path.resolve(path.dirname(file), config.root) : path.dirname(file)
  return applyEnvOverrides({ ...config, root }, env, options)
}

/** Options for `loadStorages`. */
export interface LoadStoragesOptions extends LoadConfigOptions {
  /**
   * Also ask each storage whether a (random, absent) file exists, so a bucket
   * that does not exist, refused or missing credentials, or an unreachable
   * server stop start-up too. One request per storage; default false.
   */
  probe?: boolean
}

/**
 * Loads the configuration (`loadConfig`), configures the process-wide
 * `storages` with it and builds every storage once to fail fast; with
 * `probe`, also reaches each one.
 * @returns the loaded configuration.
 * @throws what `loadConfig` and `StorageRegistry.configure()` / `check()` throw (ConfigurationError
 *   naming the bad key and its environment variable); with `probe`, the first storage's error (a
 *   missing bucket is a ConfigurationError naming `storages.<alias>.options.bucket`, refused
 *   credentials a PermissionDeniedError).
 */
export async function loadStorages(options: LoadStoragesOptions = {}): Promise<StowageConfig> {
  const config = await loadConfig(options)
  await storages.configure(config)
  storages.check()
  if (options.probe) {
    const probe = `.stowage-probe-${Math.random().toString(36).slice(2)}`
    for (const alias of storages.aliases()) await storages.get(alias).exists(probe)
  }
  return config
}
