/**
 * Per-save object headers. `collectstatic` sends them so hashed assets get a
 * long cache lifetime, precompressed variants their `Content-Encoding`, and
 * its run record stays private, without the application writing
 * `objectParameters`. They are fields of the contract's `SaveOptions`
 * (`cacheControl`, `contentEncoding`, `private`), checked by `BaseStorage`
 * before any request and handed to the backend on each `WriteRequest` and
 * `CopyRequest`; this module turns them into S3 parameters.
 */
import type { SaveOptions, WriteRequest } from '@stowage/core'
import type { UploadParams } from './direct-upload.js'

/**
 * What `S3Storage.save` accepts: the contract's `SaveOptions`, which now
 * carry `cacheControl`, `contentEncoding` and `private` themselves.
 * @deprecated use `SaveOptions` from `@stowage/core`; kept so existing imports compile.
 */
export type S3SaveOptions = SaveOptions

/** The header hints of one save or copy, as the request carries them. */
export type ObjectHints = Pick<WriteRequest, 'cacheControl' | 'contentEncoding' | 'private'>

/**
 * Adds one object's hints to its upload parameters: the storage's own
 * `objectParameters` (already in `params`) win over them.
 * @returns whether the storage's `defaultAcl` applies to this object (not when `private`).
 */
export function applyHints(params: UploadParams, hints: ObjectHints | undefined): boolean {
  if (!hints) return true
  if (hints.cacheControl !== undefined && params.CacheControl === undefined) params.CacheControl = hints.cacheControl
  if (hints.contentEncoding !== undefined && params.ContentEncoding === undefined) params.ContentEncoding = hints.contentEncoding
  return !hints.private
}
