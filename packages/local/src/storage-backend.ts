/**
 * `backend: 'local'` in configuration: what `@stowage/core` imports from
 * this package to check the options and build the storage.
 */
import path from 'node:path'
import { defineBackend } from '@stowage/core'
import { FILE_SYSTEM_OPTION_HINTS, FILE_SYSTEM_STORAGE_OPTIONS, FileSystemStorage, type FileSystemStorageOptions } from './file-system-storage.js'

/**
 * The `local` backend. A relative `location` is relative to the config
 * file's directory, not to the directory the application was started from.
 * `create` returns a `FileSystemStorage` and throws what its constructor
 * throws (ConfigurationError naming the option).
 */
export const storageBackend = defineBackend<FileSystemStorageOptions, FileSystemStorage>({
  storage: 'FileSystemStorage',
  options: FILE_SYSTEM_STORAGE_OPTIONS,
  hints: FILE_SYSTEM_OPTION_HINTS,
  create(options, { root }) {
    const location = typeof options.location === 'string' && options.location !== '' ? path.resolve(root, options.location) : options.location
    return new FileSystemStorage({ ...options, location })
  },
})

declare module '@stowage/core' {
  /** Types `backend: 'local'` in `defineConfig` once this package is imported. */
  interface StowageBackends {
    local: { options: FileSystemStorageOptions; storage: FileSystemStorage }
  }
}
