/**
 * `manifest: true` in configuration: what `@stowage/core` imports from this
 * package to wrap a configured storage in `ManifestStaticStorage`, so core
 * holds no static-files code.
 */
import type { OptionKind, Storage, WrapperDefinition } from '@stowage/core'
import { ManifestStaticStorage, type ManifestStaticStorageOptions } from './manifest-static-storage.js'

/** The options `manifest: { ... }` takes, with their kinds; anything else is refused at load. */
const MANIFEST_OPTIONS: Readonly<Record<string, OptionKind>> = {
  strict: 'boolean',
  manifestName: 'string',
  manifestStorage: 'code',
  staticUrl: 'string',
  keepOriginals: 'boolean',
  manifestVersion: ['1.0', '1.1'],
  compress: 'code',
  cacheControl: 'object',
  strictSourcemaps: 'boolean',
}

/** Wraps the configured storage: `manifest: true` or `manifest: { strict: false, ... }`. */
export const manifestWrapper: WrapperDefinition<Omit<ManifestStaticStorageOptions, 'storage'>, ManifestStaticStorage> = {
  storage: 'ManifestStaticStorage',
  options: MANIFEST_OPTIONS as WrapperDefinition<Omit<ManifestStaticStorageOptions, 'storage'>>['options'],
  wrap: (storage: Storage, options) => new ManifestStaticStorage({ ...options, storage }),
}

declare module '@stowage/core' {
  interface StowageManifest {
    options: Omit<ManifestStaticStorageOptions, 'storage'>
    storage: ManifestStaticStorage
  }
}
