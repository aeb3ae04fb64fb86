/**
 * Finding a configured backend without core naming any: a name stands for
 * a package (`local` → `@stowage/local`) imported from the application's
 * root, whose `storageBackend` export describes it; classes, factories and
 * definitions given in code are used as they are.
 */
import { readdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { envName, isBackendDefinition, type BackendContext, type BackendDefinition, type OptionKind, type WrapperDefinition } from './backend.js'
import { closest } from './check-options.js'
import { ConfigurationError } from './errors.js'
import { MEMORY_STORAGE_OPTIONS, MemoryStorage, type MemoryStorageOptions } from './memory-storage.js'
import type { Storage } from './storage.js'

/** A backend given directly: a class taking one options object, or a factory. */
export type BackendFactory = (new (options: any) => Storage) | ((options: any) => Storage)

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const memoryBackend: BackendDefinition<MemoryStorageOptions, MemoryStorage> = {
  storage: 'MemoryStorage',
  options: MEMORY_STORAGE_OPTIONS,
  create: (options) => new MemoryStorage(options),
}

const registered = new Map<string, BackendFactory | BackendDefinition>([['memory', memoryBackend]])

/** Makes `backend: name` available in configuration. Replaces an earlier registration of that name; nothing is checked. Never throws. */
export function registerBackend(name: string, backend: BackendFactory | BackendDefinition): void {
  registered.set(name, backend)
}

/** @returns the module a backend name stands for: `local` → `@stowage/local`; a specifier (`./x.js`, `@acme/y`) as is. Never throws. */
export function backendModule(name: string): string {
  return name.includes('/') || name.startsWith('.') ? name : `@stowage/${name}`
}

/** A backend as the registry uses it; `options` is absent for a bare class or factory, whose options are its own business. */
export interface Backend {
  storage: string
  options: Readonly<Record<string, OptionKind>> | undefined
  hints?: Readonly<Record<string, string>>
  create(options: Record<string, unknown>, context: BackendContext): Storage
}

function construct(factory: BackendFactory, options: unknown): Storage {
  // Classes (and plain functions) have a prototype and are called with `new`;
  // arrow-function factories have none and are called directly.
  return factory.prototype ? new (factory as new (o: unknown) => Storage)(options) : (factory as (o: unknown) => Storage)(options)
}

function fromSpec(spec: BackendFactory | BackendDefinition): Backend {
  if (isBackendDefinition(spec)) return spec as Backend
  return { storage: spec.name || 'the backend', options: undefined, create: (options) => construct(spec, options) }
}

const modules = new Map<string, Promise<Record<string, unknown>>>()

/**
 * Imports `specifier` as the application would: resolved from its root, so
 * the backend packages it installed are found whatever installed core.
 */
async function importFromRoot(specifier: string, root: string): Promise<Record<string, unknown>> {
  let target: string
  if (specifier.startsWith('.')) target = pathToFileURL(path.resolve(root, specifier)).href
  else {
    try {
      target = pathToFileURL(createRequire(path.join(root, 'package.json')).resolve(specifier)).href
    } catch {
      // Not resolvable from the root by require rules (an import-only
      // package, a global install): let import() find it from here.
      target = specifier
    }
  }
  let loading = modules.get(target)
  if (!loading) {
    loading = import(target) as Promise<Record<string, unknown>>
    modules.set(target, loading)
    loading.catch(() => modules.delete(target))
  }
  return loading
}

/** Names of the `@stowage/*` packages installed for `root`, to suggest from. */
async function installedNames(root: string): Promise<string[]> {
  const dirs = createRequire(path.join(root, 'package.json')).resolve.paths('@stowage/x') ?? []
  const names = new Set<string>()
  for (const dir of dirs) {
    for (const name of await readdir(path.join(dir, '@stowage')).catch(() => [] as string[])) names.add(name)
  }
  return [...names]
}

/** `" (did you mean 'local'?)"` when a registered or installed backend is a likely typo of `name`; installed packages count only if they are backends. */
async function suggestBackend(name: string, root: string): Promise<string> {
  const near = closest(name, [...registered.keys(), ...(await installedNames(root))])
  if (near === undefined) return ''
  if (!registered.has(near)) {
    const mod = await importFromRoot(backendModule(near), root).catch(() => undefined)
    if (!isBackendDefinition(mod?.storageBackend)) return ''
  }
  return ` (did you mean '${near}'?)`
}

async function loadExport(name: string, exportName: string, root: string, key: string, env?: string): Promise<unknown> {
  const specifier = backendModule(name)
  let mod: Record<string, unknown>
  try {
    mod = await importFromRoot(specifier, root)
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(specifier)
    if (!missing) throw new ConfigurationError(`${specifier} failed to load: ${(err as Error).message}`, { key, env, cause: err })
    const hint = specifier === name ? '' : await suggestBackend(name, root)
    throw new ConfigurationError(`unknown backend '${name}': the package ${specifier} is not installed${hint || ` (npm install ${specifier})`}`, {
      key,
      env,
      cause: err,
    })
  }
  const value = mod[exportName]
  if (value === undefined) throw new ConfigurationError(`${specifier} is not a Stowage backend: it exports no ${exportName}`, { key, env })
  return value
}

/**
 * @returns the backend `spec` names for `alias`.
 * @throws ConfigurationError (key `storages.<alias>.backend`) for an unknown or broken backend.
 */
export async function resolveBackend(spec: unknown, root: string, alias: string): Promise<Backend> {
  const key = `storages.${alias}.backend`
  const env = envName(alias, 'backend')
  if (typeof spec === 'function' || isBackendDefinition(spec)) return fromSpec(spec as BackendFactory)
  if (typeof spec !== 'string' || spec === '') throw new ConfigurationError('is required: a backend name or class', { key, env })
  const known = registered.get(spec)
  if (known) return fromSpec(known)
  const definition = await loadExport(spec, 'storageBackend', root, key, env)
  if (!isBackendDefinition(definition))
    throw new ConfigurationError(`${backendModule(spec)} exports a storageBackend that is not a backend definition`, { key, env })
  return definition as Backend
}

/**
 * @returns the definition of `manifest: true`, from `@stowage/static`: the one place a layer above is named, by convention.
 * @throws ConfigurationError when `@stowage/static` is not installed.
 */
export async function resolveManifest(root: string, alias: string): Promise<WrapperDefinition> {
  const key = `storages.${alias}.manifest`
  const wrapper = await loadExport('static', 'manifestWrapper', root, key, envName(alias, 'manifest'))
  if (!isObject(wrapper) || typeof wrapper.wrap !== 'function') throw new ConfigurationError('@stowage/static exports no usable manifestWrapper', { key })
  return wrapper as unknown as WrapperDefinition
}
