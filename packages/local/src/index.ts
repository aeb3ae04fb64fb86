/** `@stowage/local`: `FileSystemStorage`, Stowage's local-disk backend. */
export { FileSystemStorage, FILE_SYSTEM_STORAGE_OPTIONS, type FileSystemStorageOptions } from './file-system-storage.js'
export { storageBackend } from './storage-backend.js'
