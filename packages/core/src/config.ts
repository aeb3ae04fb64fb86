/**
 * Configuration as data (Django's `STORAGES`): aliases map to a backend and
 * its options; instances are built on first use and cached; bad
 * configuration fails with a `ConfigurationError` that names the key.
 */
import { access } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ConfigurationError, StorageError } from './errors.js'
import { MemoryStorage } from './memory-storage.js'
import type { Storage } from './storage.js'

/** A backend given directly: a class taking one options object, or a factory. */
export type BackendFactory = (new (options: any) => Storage) | ((options: any) => Storage)

/** One alias in `storages`. */
export interface StorageConfig {
  /** `'local'`, `'s3'`, `'memory'`, a name given to `registerBackend`, or a class/factory. */
  backend: string | BackendFactory
  /** Passed to the backend's constructor. */
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
 * Declares a configuration with type checking; returns it unchanged.
 * Validation happens when it is loaded (`configureStorages`).
 */
export function defineConfig(config: StowageConfig): StowageConfig {
  return config
}

// Backends by name: where each lives and what it exports. Imported only when
// configured, so an application using local disk never loads the AWS SDK.
const BUILTIN_BACKENDS: Record<string, { module: string; export: string }> = {
  local: { module: '@stowage/local', export: 'FileSystemStorage' },
  filesystem: { module: '@stowage/local', export: 'FileSystemStorage' },
  s3: { module: '@stowage/s3', export: 'S3Storage' },
}
const MANIFEST_WRAPPER = { module: '@stowage/static', export: 'ManifestStaticStorage' }

const registered = new Map<string, BackendFactory>([['memory', MemoryStorage]])

/** Makes `backend: name` available in configuration. Replaces an earlier registration of that name. */
export function registerBackend(name: string, factory: BackendFactory): void {
  registered.set(name, factory)
}

function construct(factory: BackendFactory, options: unknown): Storage {
  // Classes (and plain functions) have a prototype and are called with `new`;
  // arrow-function factories have none and are called directly.
  return factory.prototype ? new (factory as new (o: unknown) => Storage)(options) : (factory as (o: unknown) => Storage)(options)
}

async function importExport(spec: { module: string; export: string }, key: string): Promise<BackendFactory> {
  let mod: Record<string, unknown>
  try {
    mod = (await import(spec.module)) as Record<string, unknown>
  } catch (err) {
    throw new ConfigurationError(`needs the package ${spec.module}; install it with "npm install ${spec.module}"`, { key, cause: err })
  }
  const factory = mod[spec.export]
  if (typeof factory !== 'function') throw new ConfigurationError(`${spec.module} does not export ${spec.export}`, { key })
  return factory as BackendFactory
}

interface Resolved {
  factory: BackendFactory
  options: Record<string, unknown>
  manifest?: { factory: BackendFactory; options: Record<string, unknown> }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The storages of an application by alias (Django's `django.core.files.storage.storages`).
 * Configure once at start-up with `configure()`; `get()` then builds each
 * storage on first use and returns the same instance afterwards.
 */
export class StorageRegistry {
  private resolved = new Map<string, Resolved>()
  private instances = new Map<string, Storage>()
  private current: StowageConfig | undefined

  /** The configuration last given to `configure()`, after environment overrides. */
  get config(): StowageConfig | undefined {
    return this.current
  }

  /**
   * Validates `config` and loads the backend packages it names. Replaces any
   * earlier configuration and forgets built instances.
   * @throws ConfigurationError naming the key (e.g. `storages.default.backend`) when the configuration is wrong.
   */
  async configure(config: StowageConfig): Promise<void> {
    if (!isObject(config)) throw new ConfigurationError('must be an object', { key: 'config' })
    if (!isObject(config.storages)) throw new ConfigurationError('must be an object of aliases', { key: 'storages' })
    const resolved = new Map<string, Resolved>()
    for (const [alias, entry] of Object.entries(config.storages)) {
      const key = `storages.${alias}`
      if (!isObject(entry)) throw new ConfigurationError('must be an object with a backend', { key })
      if (entry.options !== undefined && !isObject(entry.options)) throw new ConfigurationError('must be an object', { key: `${key}.options` })
      const options = { ...(entry.options ?? {}) }
      // Relative directories are relative to the config file, not to the cwd of whoever runs the app.
      if (config.root && typeof options.location === 'string' && (entry.backend === 'local' || entry.backend === 'filesystem')) {
        options.location = path.resolve(config.root, options.location)
      }
      const item: Resolved = { factory: await this.backend(entry.backend, `${key}.backend`), options }
      if (entry.manifest) {
        item.manifest = { factory: await importExport(MANIFEST_WRAPPER, `${key}.manifest`), options: isObject(entry.manifest) ? entry.manifest : {} }
      }
      resolved.set(alias, item)
    }
    this.resolved = resolved
    this.instances.clear()
    this.current = config
  }

  private async backend(backend: unknown, key: string): Promise<BackendFactory> {
    if (typeof backend === 'function') return backend as BackendFactory
    if (typeof backend !== 'string' || backend === '') throw new ConfigurationError('is required: a backend name or class', { key })
    const known = registered.get(backend)
    if (known) return known
    const builtin = BUILTIN_BACKENDS[backend]
    if (builtin) return importExport(builtin, key)
    const names = [...registered.keys(), ...Object.keys(BUILTIN_BACKENDS)].sort()
    throw new ConfigurationError(`unknown backend '${backend}' (known: ${names.join(', ')})`, { key })
  }

  /**
   * @returns the storage configured under `alias`, built on first call and cached.
   * @throws ConfigurationError when the alias is not configured or its options are invalid (the key is named).
   */
  get(alias: string): Storage {
    const cached = this.instances.get(alias)
    if (cached) return cached
    const item = this.resolved.get(alias)
    if (!item) {
      const known = [...this.resolved.keys()]
      throw new ConfigurationError(
        known.length ? `no storage configured under this alias (configured: ${known.join(', ')})` : 'no storages configured; call storages.configure() or loadStorages() first',
        { key: `storages.${alias}` },
      )
    }
    let storage: Storage
    try {
      storage = construct(item.factory, item.options)
      if (item.manifest) storage = construct(item.manifest.factory, { ...item.manifest.options, storage })
    } catch (err) {
      if (err instanceof ConfigurationError) {
        throw new ConfigurationError(err.detail, { key: `storages.${alias}.options${err.key ? `.${err.key}` : ''}`, cause: err })
      }
      if (err instanceof StorageError) throw err
      throw new ConfigurationError(`could not be built: ${err instanceof Error ? err.message : String(err)}`, { key: `storages.${alias}`, cause: err })
    }
    this.instances.set(alias, storage)
    return storage
  }

  /** @returns whether `alias` is configured (or set). */
  has(alias: string): boolean {
    return this.instances.has(alias) || this.resolved.has(alias)
  }

  /** Uses `storage` for `alias` (tests, or instances built by hand). */
  set(alias: string, storage: Storage): void {
    this.instances.set(alias, storage)
  }

  /**
   * Builds every configured storage now, so bad options fail at start-up
   * rather than on the first request.
   * @throws ConfigurationError naming the first bad key.
   */
  check(): void {
    for (const alias of this.resolved.keys()) this.get(alias)
  }

  /** Forgets configuration and instances. */
  reset(): void {
    this.resolved.clear()
    this.instances.clear()
    this.current = undefined
  }
}

/** The application's storages (a process-wide registry). */
export const storages = new StorageRegistry()

/** Config file names looked for, in order. */
export const CONFIG_FILES = ['stowage.config.ts', 'stowage.config.mts', 'stowage.config.js', 'stowage.config.mjs', 'stowage.config.json']

function parseEnvValue(value: string): unknown {
  // JSON literals (true, 42, {"a":1}) become values; anything else stays a string.
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}

const camel = (snake: string) => snake.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())

/**
 * Applies environment overrides, so a deploy can move an alias to another
 * backend with no code change:
 * - `STOWAGE_<ALIAS>_BACKEND=s3` sets (or creates) an alias's backend,
 * - `STOWAGE_<ALIAS>_<OPTION>=value` sets one option (`FORCE_PATH_STYLE` → `forcePathStyle`;
 *   JSON literals such as `true` or `3600` are parsed, anything else is a string),
 * - `STOWAGE_<ALIAS>_OPTIONS={"bucket":"media"}` merges a JSON object of options.
 * Changing the backend drops the file's options for that alias (they belonged to the old backend).
 * @returns a new configuration; the input is not modified.
 * @throws ConfigurationError for an `_OPTIONS` value that is not a JSON object.
 */
export function applyEnvOverrides(config: StowageConfig, env: NodeJS.ProcessEnv = process.env): StowageConfig {
  const storagesCfg: Record<string, StorageConfig> = {}
  for (const [alias, entry] of Object.entries(config.storages ?? {})) storagesCfg[alias] = { ...entry, options: { ...(entry.options ?? {}) } }
  const vars = Object.entries(env).filter(([k, v]) => k.startsWith('STOWAGE_') && v !== undefined) as [string, string][]
  for (const [k, v] of vars) {
    const m = /^STOWAGE_([A-Z0-9_]+?)_BACKEND$/.exec(k)
    if (!m?.[1]) continue
    const alias = Object.keys(storagesCfg).find((a) => a.toUpperCase() === m[1]) ?? m[1].toLowerCase()
    const existing = storagesCfg[alias]
    storagesCfg[alias] = existing && existing.backend === v ? existing : { backend: v, options: {}, ...(existing?.manifest !== undefined && { manifest: existing.manifest }) }
  }
  // Longest alias first, so STOWAGE_STATIC_FILES_X is not read as alias STATIC.
  const aliases = Object.keys(storagesCfg).sort((a, b) => b.length - a.length)
  for (const [k, v] of vars) {
    const alias = aliases.find((a) => k.startsWith(`STOWAGE_${a.toUpperCase()}_`))
    if (!alias) continue
    const rest = k.slice(`STOWAGE_${alias.toUpperCase()}_`.length)
    const entry = storagesCfg[alias]!
    if (rest === 'BACKEND') continue
    if (rest === 'OPTIONS') {
      const parsed = parseEnvValue(v)
      if (!isObject(parsed)) throw new ConfigurationError('must be a JSON object', { key: k })
      Object.assign(entry.options!, parsed)
    } else {
      entry.options![camel(rest)] = parseEnvValue(v)
    }
  }
  return { ...config, storages: storagesCfg }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  )
}

async function importConfigFile(file: string): Promise<unknown> {
  if (file.endsWith('.json')) {
    const { readFile } = await import('node:fs/promises')
    try {
      return JSON.parse(await readFile(file, 'utf8'))
    } catch (err) {
      throw new ConfigurationError(`is not valid JSON: ${(err as Error).message}`, { key: path.basename(file), cause: err })
    }
  }
  const url = pathToFileURL(file).href
  if (/\.m?ts$/.test(file)) {
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

/**
 * Finds and reads the configuration: `$STOWAGE_CONFIG` if set, else the first
 * of `CONFIG_FILES` in `cwd`; then applies environment overrides.
 * @returns the configuration, with `root` set to the config file's directory.
 * @throws ConfigurationError when no file is found, it cannot be read, or it exports no configuration.
 */
export async function loadConfig(options: { cwd?: string; file?: string; env?: NodeJS.ProcessEnv } = {}): Promise<StowageConfig> {
  const env = options.env ?? process.env
  const cwd = path.resolve(options.cwd ?? process.cwd())
  let file = options.file ?? env.STOWAGE_CONFIG
  if (file) {
    file = path.resolve(cwd, file)
    if (!(await exists(file))) throw new ConfigurationError(`config file not found: ${file}`, { key: 'STOWAGE_CONFIG' })
  } else {
    for (const name of CONFIG_FILES) {
      if (await exists(path.join(cwd, name))) {
        file = path.join(cwd, name)
        break
      }
    }
  }
  if (!file) throw new ConfigurationError(`no ${CONFIG_FILES.join(' / ')} in ${cwd}`, { key: 'stowage.config' })
  let config = (await importConfigFile(file)) as StowageConfig
  // A TypeScript or CommonJS file can come back wrapped in one or two `default`s.
  for (let i = 0; i < 2 && isObject(config) && !('storages' in config) && 'default' in config; i++) {
    config = (config as unknown as { default: StowageConfig }).default
  }
  if (!isObject(config) || !isObject(config.storages)) {
    throw new ConfigurationError('must export (default) an object with "storages"', { key: path.basename(file) })
  }
  return applyEnvOverrides({ ...config, root: config.root ? path.resolve(path.dirname(file), config.root) : path.dirname(file) }, env)
}

/**
 * Loads the configuration (`loadConfig`), configures the process-wide
 * `storages` with it and builds every storage once to fail fast.
 * @returns the loaded configuration.
 * @throws ConfigurationError naming the bad key.
 */
export async function loadStorages(options: Parameters<typeof loadConfig>[0] = {}): Promise<StowageConfig> {
  const config = await loadConfig(options)
  await storages.configure(config)
  storages.check()
  return config
}
