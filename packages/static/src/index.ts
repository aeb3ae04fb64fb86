/**
 * `@stowage/static`: finders, `collectstatic`, `ManifestStaticStorage`,
 * `static()`, the Nunjucks tag and the dev-serving middleware.
 */
export { DirectoriesFinder, PackagesFinder, Finders, createFinders, findersFromConfig } from './finders.js'
export type { Finder, StaticSource, DuplicateSource, FinderListing, StaticDir, FindersOptions } from './finders.js'
export { fnmatch, matchesPatterns, DEFAULT_IGNORE_PATTERNS } from './fnmatch.js'
export { HASH_LENGTH, md5Hex, md5File, hashFile, integrityOf, hashedName, splitExt, looksHashed } from './hashing.js'
export {
  MANIFEST_NAME,
  MANIFEST_VERSION,
  createManifest,
  manifestHash,
  parseManifest,
  serializeManifest,
  pythonJson,
  type Manifest,
  type ManifestVersion,
} from './manifest.js'
export { adjustableKind, findReferences, resolveReference, rewriteReferences, type Reference, type Resolution } from './references.js'
export {
  postProcess,
  type PostProcessInput,
  type PostProcessOptions,
  type PostProcessedFile,
  type PostProcessPlan,
  type ReferenceProblem,
} from './post-process.js'
export { manifestWrapper } from './manifest-wrapper.js'
export { ManifestStaticStorage, isManifestStorage, isDirectoryPath, splitSuffix, type ManifestStaticStorageOptions } from './manifest-static-storage.js'
export {
  collectstatic,
  CollectStaticError,
  COLLECT_STATE_NAME,
  REPLACING_NAME,
  RECORD_CHANGES_NAME,
  DEFAULT_CONCURRENCY,
  STREAM_THRESHOLD,
  type CollectStaticOptions,
  type CollectStaticSummary,
  type CollectProgress,
  type CollectError,
} from './collectstatic.js'
export { PRIVATE_PREFIX } from './collect-record.js'
export { DEPLOYS_DIR, listDeploys, readDeploy } from './deploy-history.js'
export { cleanStatic, DEFAULT_KEEP_DEPLOYS, DEFAULT_CLEAN_MIN_AGE, type CleanStaticOptions, type CleanStaticSummary } from './clean-static.js'
export { contentTypeFor, isCompressible } from './content-types.js'
export {
  compressVariants,
  acceptedEncodings,
  variantName,
  variantOf,
  ENCODINGS,
  DEFAULT_BROTLI_QUALITY,
  type Encoding,
  type CompressOptions,
  type Variant,
} from './precompress.js'
export { SHORT_CACHE_CONTROL, type CacheControlOptions, type StaticSaveOptions } from './save-hints.js'
export {
  StaticUrls,
  loadStaticUrls,
  configureStatic,
  currentStatic,
  staticUrl,
  staticUrl as static,
  staticIntegrity,
  type StaticUrlsOptions,
  type TagAttributes,
} from './static-urls.js'
export { StaticExtension, addStaticToNunjucks, type NunjucksEnvironmentLike } from './nunjucks.js'
export { serveStatic, IMMUTABLE_CACHE_CONTROL, REVALIDATE_CACHE_CONTROL, type ServeStaticOptions, type StaticMiddleware } from './serve-static.js'
