/**
 * `@stowage/core`: the storage contract, Django's naming rules, the error
 * family, `MemoryStorage` and configuration.
 */
export * from './errors.js'
export { BaseStorage, MAX_CLAIM_ATTEMPTS } from './storage.js'
export type {
  Storage,
  SaveOptions,
  ByteRange,
  FileStat,
  UrlOptions,
  DirectoryListing,
  BaseStorageOptions,
  WriteRequest,
  CopyOptions,
  CopyRequest,
  Stage,
  StageOptions,
} from './storage.js'
export type { StorageDescription, UrlSigning } from './storage-description.js'
export { toSource, readAll, type Content, type ContentSource } from './content.js'
export {
  safeName,
  safeDir,
  splitName,
  joinName,
  fullExtension,
  encodeUrlPath,
  isStowageName,
  STOWAGE_PREFIX,
  MAX_NAME_BYTES,
  MAX_SEGMENT_BYTES,
} from './paths.js'
export { getValidFilename, candidateNames, overwriteName, alternativeName, randomSuffix, SUFFIX_LENGTH, type RandomSuffix } from './naming.js'
export { MemoryStorage, withTrailingSlash, type MemoryStorageOptions } from './memory-storage.js'
export { expiryAt, signUrl, verifySignedUrl, MIN_SECRET_LENGTH, type UrlSigningOptions, type SignedUrlCheck, type SignedUrlFailure } from './signing.js'
export { checkSigningSettings, signedStorageUrl, type SignedUrlSettings } from './signed-urls.js'
export {
  defineConfig,
  loadConfig,
  loadStorages,
  checkConfigShape,
  storages,
  StorageRegistry,
  CONFIG_FILES,
  type StowageConfig,
  type StorageConfig,
  type StaticFilesConfig,
  type BackendFactory,
  type LoadConfigOptions,
  type LoadStoragesOptions,
} from './config.js'
export { applyEnvOverrides, RESERVED_ENV, type EnvOverrideOptions } from './env-overrides.js'
export { registerBackend, backendModule } from './resolve-backend.js'
export {
  defineBackend,
  isBackendDefinition,
  checkOptionValue,
  checkOptionValues,
  parseOptionValue,
  envName,
  envSuffix,
  type OptionKind,
  type BackendContext,
  type BackendDefinition,
  type WrapperDefinition,
} from './backend.js'
export { checkOptionNames, closest, didYouMean } from './check-options.js'
export type {
  StowageBackends,
  StowageManifest,
  ConfiguredStorages,
  StoragesOf,
  StorageMap,
  TypedStorageConfig,
  TypedStowageConfig,
  NamedStorageConfig,
  CodeStorageConfig,
  CheckedStorageConfig,
  ManifestSetting,
} from './config-types.js'
export { PENDING_PREFIX, isPendingId, newPendingUpload, parsePendingUpload, pendingMarker, type PendingUpload } from './pending-uploads.js'
export { isInlineSafe, contentDisposition, typeForName, etagMatches } from './media.js'
export { notModified, parseRange, requestedRange, type ResolvedRange } from './ranges.js'
export { parseHttpDate } from './http-date.js'
export { variantsDir } from './variants-dir.js'
export * from './validators/index.js'
export * from './fields/index.js'
