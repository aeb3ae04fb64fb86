/**
 * Content-Type by extension for uploads that do not name one. S3 serves the
 * type stored with the object, so a stylesheet stored as
 * `application/octet-stream` breaks a page served from a bucket or a CDN.
 * The table covers what web apps store; anything else is left to S3's default.
 * Also the Content-Disposition that forces a download under a given name.
 */
import { contentDisposition as coreDisposition } from '@stowage/core'
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.xml': 'application/xml',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/vnd.microsoft.icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.wasm': 'application/wasm',
}

/** @returns the MIME type for `name`'s last extension, or undefined when unknown. */
export function guessContentType(name: string): string | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1)
  const dot = base.lastIndexOf('.')
  if (dot <= 0) return undefined
  return TYPES[base.slice(dot).toLowerCase()]
}

/**
 * A `Content-Disposition: attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266).
 * @returns the header value. Never throws.
 */
export function contentDisposition(filename: string): string {
  return coreDisposition('attachment', filename)
}
