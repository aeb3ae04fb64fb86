/**
 * `backend: 's3'` in configuration: what `@stowage/core` imports from this
 * package to check the options and build the storage.
 */
import { defineBackend } from '@stowage/core'
import { S3_STORAGE_OPTIONS, type S3StorageOptions } from './options.js'
import { S3Storage } from './s3-storage.js'

/**
 * The `s3` backend. The storage is told its alias, so a missing bucket or
 * missing credentials found later name `storages.<alias>.options.bucket`
 * and `STOWAGE_<ALIAS>_BUCKET`. `create` returns an `S3Storage` and throws
 * what its constructor throws (ConfigurationError naming the option).
 */
export const storageBackend = defineBackend<Omit<S3StorageOptions, 'alias'>, S3Storage>({
  storage: 'S3Storage',
  options: S3_STORAGE_OPTIONS,
  create: (options, { alias }) => new S3Storage({ ...(options as S3StorageOptions), alias }),
})

declare module '@stowage/core' {
  /** Types `backend: 's3'` in `defineConfig` once this package is imported. */
  interface StowageBackends {
    s3: { options: Omit<S3StorageOptions, 'alias'>; storage: S3Storage }
  }
}
