/**
 * Content-Type by extension for uploads that do not name one (core's shared
 * table). S3 serves the type stored with the object, so a stylesheet stored
 * as `application/octet-stream` breaks a page served from a bucket or a CDN.
 * Also the Content-Disposition that forces a download under a given name.
 */
import { contentDisposition as coreDisposition, typeForName } from '@stowage/core'

/** @returns the MIME type for `name`'s last extension (with a charset for text), or undefined when unknown. Never throws. */
export function guessContentType(name: string): string | undefined {
  return typeForName(name)
}

/**
 * A `Content-Disposition: attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266).
 * @returns the header value. Never throws (a lone surrogate is sent as U+FFFD, as core's `contentDisposition` does).
 */
export function contentDisposition(filename: string): string {
  return coreDisposition('attachment', filename)
}
