/**
 * Types that check a configuration against its backends' option types and
 * type the registry from it. Backends add themselves to `StowageBackends`
 * by declaration merging, so core names none of them.
 */
import type { BackendDefinition } from './backend.js'
import type { StaticFilesConfig } from './config.js'
import type { MemoryStorage, MemoryStorageOptions } from './memory-storage.js'
import type { BackendFactory } from './resolve-backend.js'
import type { Storage } from './storage.js'

/** Alias → storage type, as the registry's `get()` returns it. */
export type StorageMap = Record<string, Storage>

/**
 * Backends by name, for typing `backend: '<name>'` and its options. Each
 * backend package adds its entry:
 *
 * ```ts
 * declare module '@stowage/core' {
 *   interface StowageBackends { local: { options: FileSystemStorageOptions; storage: FileSystemStorage } }
 * }
 * ```
 * so the entry is known once the package's types are loaded (an import of it,
 * or `import type {} from '@stowage/local'` in the config file).
 */
export interface StowageBackends {
  memory: { options: MemoryStorageOptions; storage: MemoryStorage }
}

/** What `manifest: true` wraps a storage in: `@stowage/static` adds `{ options; storage }`. */
export interface StowageManifest {}

/**
 * The storages of the process-wide `storages` registry, alias by alias.
 * Augment it from the application's configuration to type `storages.get()`:
 *
 * ```ts
 * import type config from './stowage.config.js'
 * declare module '@stowage/core' { interface ConfiguredStorages extends StoragesOf<typeof config> {} }
 * ```
 */
export interface ConfiguredStorages extends StorageMap {}

type ManifestOptions = StowageManifest extends { options: infer O } ? Partial<O> : Record<string, unknown>
type ManifestStorage = StowageManifest extends { storage: infer S } ? S : Storage

/** `manifest:` in a storage entry. */
export type ManifestSetting = boolean | ManifestOptions

/** A storage entry whose backend is a name from `StowageBackends`, its options checked against that backend's. */
export type NamedStorageConfig = {
  [B in keyof StowageBackends]: { backend: B; options?: Partial<StowageBackends[B]['options']>; manifest?: ManifestSetting }
}[keyof StowageBackends]

/** A storage entry whose backend is a class, a factory or a definition. */
export interface CodeStorageConfig {
  backend: BackendFactory | BackendDefinition
  options?: Record<string, unknown>
  manifest?: ManifestSetting
}

/** A storage entry as `defineConfig` checks it. */
export type TypedStorageConfig = NamedStorageConfig | CodeStorageConfig

/** The configuration as `defineConfig` checks it. */
export interface TypedStowageConfig {
  storages: Record<string, TypedStorageConfig>
  staticfiles?: StaticFilesConfig
  root?: string
}

type StorageOfEntry<E> = E extends { manifest: true | Record<string, unknown> }
  ? ManifestStorage
  : E extends { backend: infer B }
    ? B extends keyof StowageBackends
      ? StowageBackends[B]['storage']
      : B extends BackendDefinition<any, infer S>
        ? S
        : B extends new (options: any) => infer S
          ? S
          : B extends (options: any) => infer S
            ? S
            : Storage
    : Storage

/** The storage type of each alias of a configuration: `StoragesOf<typeof config>['private']` is `S3Storage` for `backend: 's3'`. */
export type StoragesOf<C extends { storages: Record<string, unknown> }> = {
  [A in keyof C['storages'] as string extends A ? never : A]: StorageOfEntry<C['storages'][A]>
}

/** What a name the backend does not take must be, so tsc's message says why. */
interface NotAnOption<Name extends string, Backend extends string> {
  error: `'${Name}' is not an option of backend '${Backend}'`
}

/** Options `O` given to backend `B`, checked: a name `B` does not take must be a `NotAnOption`, which no value is. */
type OnlyKnown<O, B extends keyof StowageBackends> = Partial<StowageBackends[B]['options']> & {
  [K in Exclude<keyof O, keyof StowageBackends[B]['options']>]: NotAnOption<K & string, B & string>
}

/** An entry as written, checked: a named backend's options may only use that backend's option names, with its types. */
export type CheckedStorageConfig<E> = E extends { backend: infer B extends keyof StowageBackends }
  ? { backend: B; options?: OnlyKnown<E extends { options: infer O } ? O : {}, B>; manifest?: ManifestSetting }
  : E
