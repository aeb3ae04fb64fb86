/**
 * `@stowage/http`: uploads streamed straight into fields, and safe serving
 * of media, for `node:http`, Express and Fastify.
 */
export {
  receiveUpload,
  DEFAULT_TOTAL_SIZE,
  DEFAULT_FIELD_SIZE,
  DEFAULT_MAX_FIELDS,
  type ReceiveUploadOptions,
  type UploadLimits,
  type UploadResult,
  type ReceivedFile,
  type UploadTarget,
  type FilePartInfo,
} from './receive-upload.js'
export { serveMedia, MEDIA_CSP, type ServeMediaOptions, type MediaHandler } from './serve-media.js'
export { EXPIRING_VARIANT_CACHE_CONTROL, serveVariants, VARIANT_CACHE_CONTROL, type ServeVariantsOptions } from './serve-variants.js'
export { errorStatus, errorBody, sendError, type ErrorBody } from './http-errors.js'
export { mediaType, isExecutableType, contentDisposition } from './media-types.js'
// Moved to @stowage/core (serveStatic answers ranges too); still exported here.
export { parseRange, type ResolvedRange } from '@stowage/core'
export { uploadErrorHandler } from './express.js'
export { stowageFastify } from './fastify.js'
export { directUploads, type DirectUploads, type DirectUploadsOptions, type ConfirmedFile, type SignedUpload } from './direct-uploads.js'
export { directUploadsFastify } from './direct-uploads-fastify.js'
