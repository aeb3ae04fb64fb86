/** `@stowage/local`: `FileSystemStorage`, Stowage's local-disk backend. */
export { FileSystemStorage, type FileSystemStorageOptions } from './file-system-storage.js'
