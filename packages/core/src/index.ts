/**
 * `@stowage/core`: the storage contract, Django's naming rules, the error
 * family, `MemoryStorage` and configuration.
 */
export * from './errors.js'
export { BaseStorage, MAX_CLAIM_ATTEMPTS } from './storage.js'
export type { Storage, SaveOptions, ByteRange, FileStat, UrlOptions, DirectoryListing, BaseStorageOptions, WriteRequest } from './storage.js'
export { toSource, readAll, type Content, type ContentSource } from './content.js'
export { safeName, safeDir, splitName, joinName, fullExtension, encodeUrlPath, MAX_NAME_BYTES, MAX_SEGMENT_BYTES } from './paths.js'
export { getValidFilename, candidateNames, overwriteName, alternativeName, randomSuffix, SUFFIX_LENGTH, type RandomSuffix } from './naming.js'
export { MemoryStorage, withTrailingSlash, type MemoryStorageOptions } from './memory-storage.js'
export { signUrl, verifySignedUrl, MIN_SECRET_LENGTH, type UrlSigningOptions, type SignedUrlCheck, type SignedUrlFailure } from './signing.js'
export {
  defineConfig,
  loadConfig,
  loadStorages,
  applyEnvOverrides,
  registerBackend,
  storages,
  StorageRegistry,
  CONFIG_FILES,
  type StowageConfig,
  type StorageConfig,
  type StaticFilesConfig,
  type BackendFactory,
} from './config.js'
export { isInlineSafe, contentDisposition } from './media.js'
export * from './validators/index.js'
export * from './fields/index.js'
