/**
 * `@stowage/s3`: `S3Storage` for AWS S3 and S3-compatible stores (MinIO,
 * Ceph RGW, Cloudflare R2), with presigned URLs and direct browser uploads.
 */
export { S3Storage } from './s3-storage.js'
export type { S3SaveOptions } from './save-hints.js'
export { storageBackend } from './storage-backend.js'
export {
  resolveS3Options,
  S3_STORAGE_OPTIONS,
  MIN_PART_SIZE,
  MAX_PART_SIZE,
  MAX_PARTS,
  MAX_EXPIRES_IN,
  type S3StorageOptions,
  type ResolvedS3Options,
  type S3Provider,
  type ChecksumMode,
  type ObjectParameters,
} from './options.js'
export { MAX_DIRECT_UPLOAD_SIZE, DEFAULT_UPLOAD_EXPIRES_IN } from './direct-upload.js'
export type {
  CleanupPendingOptions,
  PresignedPost,
  PresignedPostOptions,
  PresignedPut,
  PresignedPutOptions,
  ConfirmUploadOptions,
  ConfirmedUpload,
  UploadedObject,
} from './direct-upload.js'
export { MAX_MULTIPART_UPLOAD_SIZE, DEFAULT_UPLOAD_PART_SIZE, uploadPartSize } from './multipart-upload.js'
export type {
  MultipartUploadOptions,
  PresignedMultipartUpload,
  PresignedPart,
  PresignUploadPartsOptions,
  ResumedMultipartUpload,
  UploadedPart,
  CompleteMultipartOptions,
} from './multipart-upload.js'
export { mapS3Error } from './s3-errors.js'
export { guessContentType, contentDisposition } from './content-types.js'
export { ensureBucket } from './ensure-bucket.js'
