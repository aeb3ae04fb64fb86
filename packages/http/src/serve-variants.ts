/**
 * Serves lazily generated image variants, as Active Storage's representation
 * routes do. A request names the source image and carries the variant's
 * parameters with their signature; the resolver (`images()` from
 * `@stowage/images`) checks it, the variant is generated on first request
 * and stored, and from then on it is served from storage: a redirect to the
 * stored file's URL where that URL is absolute (a presigned S3 URL), else
 * the bytes themselves through `serveMedia`. Nothing here decodes an image.
 */
import type { IncomingMessage } from 'node:http'
import { encodeUrlPath, StorageError, type Storage, type VariantResolver } from '@stowage/core'
import { sendError } from './http-errors.js'
import { MEDIA_CSP, serveMedia, type MediaHandler } from './serve-media.js'

/** `Cache-Control` for variant bytes: a variant URL always names the same bytes. */
export const VARIANT_CACHE_CONTROL = 'public, max-age=31536000, immutable'

/**
 * `Cache-Control` for the bytes of a variant whose URL expires (made with
 * `expiresIn`): what `serveMedia` sends for private files, so no shared cache
 * keeps them and no browser serves them past the link's life.
 */
export const EXPIRING_VARIANT_CACHE_CONTROL = 'private, no-store'

/** Options for `serveVariants`. */
export interface ServeVariantsOptions {
  /** Where the source images and their variants are; a function is called on every request. */
  storage: Storage | (() => Storage)
  /** Checks requests and generates variants: the processor given to `imageField`, e.g. `images({...})`. */
  resolver: VariantResolver
  /** URL path prefix to strip for `node:http` servers, e.g. `/variants/` (the processor's `lazy.baseUrl`). Under Express, mount instead. */
  prefix?: string
  /**
   * Redirect to the stored variant's URL instead of sending its bytes.
   * Default `'auto'`: redirect when `storage.url()` is absolute (S3, a CDN), send the bytes when it is a path.
   */
  redirect?: boolean | 'auto'
  /**
   * Seconds a redirect's target URL stays valid (presigned URLs). Default: the
   * storage's own (an unsigned `url()` where the storage signs nothing, e.g. public local files).
   * When set, a request on an expiring variant URL gets a target that lives no longer than that URL.
   */
  urlExpiresIn?: number
  /** `Cache-Control` for variant bytes. Default `VARIANT_CACHE_CONTROL`. Not used for expiring URLs: those get `EXPIRING_VARIANT_CACHE_CONTROL`. */
  cacheControl?: string
  /** Content-Security-Policy for every response. Default `MEDIA_CSP`. */
  contentSecurityPolicy?: string
}

function split(url: string, prefix: string): { name: string; query: URLSearchParams } | undefined {
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  if (!path.startsWith(prefix)) return undefined
  try {
    const name = decodeURIComponent(path.slice(prefix.length))
    return name ? { name, query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)) } : undefined
  } catch {
    return undefined
  }
}

/**
 * Builds the variant handler.
 * @returns a handler for `node:http` and Express: 403 for a missing or
 *   tampered signature, and `Link expired` 403 (as `serveMedia` answers) for
 *   an expired one, 404 when the source image is missing, 302 to the
 *   stored variant (cacheable for a fraction of the target's lifetime, and
 *   never past an expiring variant URL's) or its bytes (`cacheControl`, or
 *   `EXPIRING_VARIANT_CACHE_CONTROL` for an expiring URL, with ETag and
 *   Range support), 405 for methods other than GET and HEAD. Concurrent
 *   first requests generate the variant once.
 *   Errors are answered as `serveMedia` answers them, from whichever step they come (the resolver,
 *   generation, `url()`, the bytes): a missing or unsafe name (`ENOENT`, `ESUSPICIOUS`) is a plain
 *   404; another `StorageError` is answered by `sendError` (JSON); anything else (a source that no
 *   longer decodes, a resolver that throws or rejects) goes to Express's `next(err)` when there is
 *   one, else `sendError`'s 500 without detail.
 */
export function serveVariants(options: ServeVariantsOptions): MediaHandler {
  const prefix = options.prefix ?? '/'
  const rooted = prefix.startsWith('/') ? prefix : `/${prefix}`
  const csp = options.contentSecurityPolicy ?? MEDIA_CSP
  const expiresIn = options.urlExpiresIn
  // Cached for less than the target lives, so no cache hands out a dead link.
  const redirectMaxAge = Math.max(0, Math.min(300, Math.floor((expiresIn ?? 600) / 2)))
  const storageOf = () => (typeof options.storage === 'function' ? options.storage() : options.storage)
  // Bytes go through serveMedia: one place owns ETags, ranges and the safe headers.
  const media = serveMedia({ storage: storageOf, prefix: '/', cacheControl: options.cacheControl ?? VARIANT_CACHE_CONTROL, contentSecurityPolicy: csp })
  // An expiring URL (a private image's variant) must not be kept where its link's expiry no longer applies.
  const expiringMedia = serveMedia({ storage: storageOf, prefix: '/', cacheControl: EXPIRING_VARIANT_CACHE_CONTROL, contentSecurityPolicy: csp })

  return (req, res, next) => {
    const plain = (status: number, message: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers })
      res.end(req.method === 'HEAD' ? undefined : message)
    }
    // The same answers as serveMedia's, whichever step failed: a variant URL is a media URL to its
    // client, and an Express app's error middleware sees this handler's bugs as it sees serveMedia's.
    const fail = (err: unknown) => {
      if (err instanceof StorageError && (err.code === 'ENOENT' || err.code === 'ESUSPICIOUS')) return plain(404, 'Not Found')
      return next && !(err instanceof StorageError) ? next(err) : sendError(res, err)
    }
    const isRead = req.method === 'GET' || req.method === 'HEAD'
    const request = split(req.url ?? '/', rooted)
    if (!request && isRead && next) return next()
    res.setHeader('x-content-type-options', 'nosniff')
    res.setHeader('content-security-policy', csp)
    if (!isRead) return plain(405, 'Method Not Allowed', { allow: 'GET, HEAD' })
    if (!request) return plain(404, 'Not Found')
    void (async () => {
      // Inside the catch below, like every storage failure: a resolver of
      // someone else's that throws (or, untyped, returns a promise that
      // rejects) is a server error, not an exception out of the server's
      // 'request' event or an unhandled rejection, either of which ends the process.
      const variant = await Promise.resolve(options.resolver.resolveVariant(request.name, request.query))
      if ('refused' in variant) return plain(403, variant.refused === 'expired' ? 'Link expired' : 'Forbidden')
      // Seconds an expiring variant URL has left (undefined: it does not expire). A resolver of
      // someone else's that gives no positive number gets answers that cache nothing.
      const life = variant.expiresIn === undefined ? undefined : Number.isFinite(variant.expiresIn) && variant.expiresIn > 0 ? variant.expiresIn : 0
      const storage = storageOf()
      await variant.ensure(storage)
      // The target outlives neither urlExpiresIn nor an expiring variant URL (at least a second: url() takes no 0).
      const targetExpiresIn = expiresIn === undefined ? undefined : life === undefined ? expiresIn : Math.min(expiresIn, Math.max(1, Math.ceil(life)))
      const url = await storage.url(variant.name, targetExpiresIn === undefined ? {} : { expiresIn: targetExpiresIn })
      const redirect = options.redirect === undefined || options.redirect === 'auto' ? isAbsoluteHttpUrl(url) : options.redirect
      if (redirect) {
        const maxAge = life === undefined ? redirectMaxAge : Math.min(redirectMaxAge, Math.floor(life / 2))
        res.writeHead(302, { location: url, 'cache-control': `private, max-age=${maxAge}` })
        return res.end()
      }
      const path = `/${encodeUrlPath(variant.name)}`
      // serveMedia reads the URL from the request: hand it one that names the stored variant.
      const inner = Object.create(req, { url: { value: path }, originalUrl: { value: path } }) as IncomingMessage
      ;(life === undefined ? media : expiringMedia)(inner, res, next)
    })().catch(fail)
  }
}

/** @returns whether `url` is an absolute http(s) URL (a bucket's or a CDN's), read by the WHATWG URL parser. Never throws. */
function isAbsoluteHttpUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url)
    return protocol === 'http:' || protocol === 'https:'
  } catch {
    return false
  }
}
