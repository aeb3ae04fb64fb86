/**
 * Per-save object headers: what `S3Storage.save` accepts beyond the storage
 * contract's options. `collectstatic` sends them so hashed assets get a long
 * cache lifetime, precompressed variants their `Content-Encoding`, and its
 * run record stays private, without the application writing
 * `objectParameters`. The contract's `save()` hands the backend primitive
 * only the name, body and type, so the hints travel beside the call in an
 * `AsyncLocalStorage` scoped to that one save.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { InvalidArgumentError, type SaveOptions } from '@stowage/core'
import type { UploadParams } from './direct-upload.js'

/** `SaveOptions` plus headers stored with this one object. */
export interface S3SaveOptions extends SaveOptions {
  /** `Cache-Control` for this object, unless the storage's `objectParameters` set one (which wins). */
  cacheControl?: string
  /** `Content-Encoding` for this object (its body is already encoded), unless `objectParameters` set one. */
  contentEncoding?: string
  /** Leave out the storage's `defaultAcl`: the object stays private in a bucket whose uploads are public-read. */
  private?: boolean
}

type Hints = Pick<S3SaveOptions, 'cacheControl' | 'contentEncoding' | 'private'>

const current = new AsyncLocalStorage<Hints>()

/**
 * Runs `save` with the hints in `options` visible to `applyHints`.
 * @throws InvalidArgumentError (`EINVAL`) for a header value that is not one line of text, before any request.
 */
export function withHints<T>(options: S3SaveOptions | undefined, save: () => Promise<T>): Promise<T> {
  const { cacheControl, contentEncoding } = options ?? {}
  if (cacheControl === undefined && contentEncoding === undefined && !options?.private) return save()
  for (const [argument, value] of [['cacheControl', cacheControl], ['contentEncoding', contentEncoding]] as const) {
    if (value !== undefined && (typeof value !== 'string' || value.trim() === '' || /[\r\n]/.test(value))) {
      return Promise.reject(new InvalidArgumentError(`${argument} must be one line of header text, got ${JSON.stringify(value)}`, { argument }))
    }
  }
  return current.run({ cacheControl, contentEncoding, private: options?.private }, save)
}

/**
 * Adds the current save's hints to an upload's headers: the storage's own
 * `objectParameters` (already in `params`) win over them.
 * @returns whether the storage's `defaultAcl` applies to this object.
 */
export function applyHints(params: UploadParams): boolean {
  const hints = current.getStore()
  if (!hints) return true
  if (hints.cacheControl !== undefined && params.CacheControl === undefined) params.CacheControl = hints.cacheControl
  if (hints.contentEncoding !== undefined && params.ContentEncoding === undefined) params.ContentEncoding = hints.contentEncoding
  return !hints.private
}
