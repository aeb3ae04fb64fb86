/**
 * Serves user files from any storage, carefully: user content is hostile
 * until proven otherwise. Every response says `nosniff` and carries a
 * sandboxing Content-Security-Policy; anything a browser would execute
 * (HTML, SVG, XML, JS) is sent as an attachment. Supports Range, ETag,
 * Last-Modified and 304s, and checks HMAC-signed, expiring URLs for
 * private media. Stowage's own names (first segment starting with
 * `.stowage`: direct uploads awaiting validation, probes) are never served.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream'
import {
  ConfigurationError,
  isStowageName,
  MIN_SECRET_LENGTH,
  notModified,
  requestedRange,
  safeName,
  StorageError,
  verifySignedUrl,
  withTrailingSlash,
  type FileStat,
  type Storage,
} from '@stowage/core'
import { sendError } from './http-errors.js'
import { contentDisposition, isExecutableType, mediaType } from './media-types.js'

/** A restrictive policy for user content: no script, no plugins, no forms, sandboxed as a unique origin. */
export const MEDIA_CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'"

/** Options for `serveMedia`. */
export interface ServeMediaOptions {
  /** Where the files are; a function is called on every request (e.g. `() => storages.get('default')`). */
  storage: Storage | (() => Storage)
  /**
   * URL path prefix to strip, e.g. `/media/`, for `node:http` servers (read
   * with a leading and a trailing slash: `media` is `/media/`). Under
   * Express, mount the middleware instead (`app.use('/media', serveMedia(...))`).
   */
  prefix?: string
  /** Secret for signed URLs: the storage's `signingSecret`. Needed for `private`. */
  signingSecret?: string
  /**
   * Require a valid signed URL: for every file (`true`) or those the function
   * picks, given the normalised stored name. Default false. A function that
   * throws fails the request as a server error (a 500, or `next(err)`), serving nothing.
   */
  private?: boolean | ((name: string) => boolean)
  /** `Cache-Control` for public files. Default `no-cache` (always revalidate, cheap thanks to ETags). */
  cacheControl?: string
  /** Content-Security-Policy for every response. Default `MEDIA_CSP`. */
  contentSecurityPolicy?: string
  /** Clock for signature expiry; inject in tests. */
  now?: () => number
}

type Next = (err?: unknown) => void
/** A `node:http` handler that is also Express middleware. */
export type MediaHandler = (req: IncomingMessage, res: ServerResponse, next?: Next) => void

function etagOf(stat: FileStat): string {
  if (stat.etag) return `"${stat.etag.replace(/^W\//, '').replace(/"/g, '')}"`
  return `W/"${stat.size.toString(16)}-${stat.modified.getTime().toString(16)}"`
}

function nameFrom(url: string, prefix: string): string | undefined {
  const path = url.split('?')[0] ?? ''
  if (!path.startsWith(prefix)) return undefined
  try {
    // Exactly once, as url() encodes once (`%` as `%25`): `/media/a%252F.txt`
    // is the stored name `a%2F.txt`, `/media/a%2F.txt` is `a/.txt`. The storage
    // then holds the result to safeName, so no decoding reaches outside it.
    return decodeURIComponent(path.slice(prefix.length))
  } catch {
    return undefined
  }
}

/** @returns `name` as the storage would hold it (`safeName`), or undefined for a name it refuses. */
function normalised(name: string): string | undefined {
  try {
    return safeName(name)
  } catch {
    return undefined
  }
}

/**
 * Builds the media handler.
 * @returns a handler for `node:http` (`(req, res)`) and Express (`(req, res, next)`): unknown,
 *   unsafe or missing names get 404, bad or expired signatures 403, other methods 405. Without
 *   `next`, server errors are answered with a JSON 500; with it, they are passed on.
 * @throws ConfigurationError (key `signingSecret`) when `private` is set without a `signingSecret`, or one is
 *   given shorter than 16 characters (`MIN_SECRET_LENGTH`).
 */
export function serveMedia(options: ServeMediaOptions): MediaHandler {
  // Always `/…/`: `/media` would make `/media/a.txt` the name `/a.txt` (refused) and `/mediaX` the name `X`.
  const given = options.prefix ?? '/'
  const prefix = withTrailingSlash(given.startsWith('/') ? given : `/${given}`)
  const csp = options.contentSecurityPolicy ?? MEDIA_CSP
  const isPrivate = typeof options.private === 'function' ? options.private : () => options.private === true
  // Fail at start-up, not on the first request that carries `signature=`: a
  // bad secret checked there would throw out of the handler on every such request.
  const secret = options.signingSecret
  if ((options.private || secret !== undefined) && (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH)) {
    throw new ConfigurationError(`must be a string of at least ${MIN_SECRET_LENGTH} characters${options.private ? ' (private files need it)' : ''}`, {
      key: 'signingSecret',
    })
  }

  return (req, res, next) => {
    const fail = (err: unknown) => (next && !(err instanceof StorageError) ? next(err) : sendError(res, err))
    const plain = (status: number, message: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers })
      res.end(req.method === 'HEAD' ? undefined : message)
    }
    const isRead = req.method === 'GET' || req.method === 'HEAD'
    const url = req.url ?? '/'
    const requested = nameFrom(url, prefix)
    // The stored name the request means (`./private/x` and `%2e/private/x` are
    // `private/x`), so the `private` predicate judges what would be served,
    // not one of its spellings. A name the storage would refuse is a 404 anyway.
    const name = requested && normalised(requested)
    // Decided before any header is set: a request handed on is answered by someone else, with their own policy.
    if (!requested && isRead && next) return next()
    // Set once, before any branch can answer: writeHead() merges these into every response, 304 and errors included.
    res.setHeader('x-content-type-options', 'nosniff')
    res.setHeader('content-security-policy', csp)
    if (!isRead) return plain(405, 'Method Not Allowed', { allow: 'GET, HEAD' })
    if (!name) return plain(404, 'Not Found')
    // Stowage's own names (direct uploads waiting for validation under
    // `.stowage-pending/`, probes): never content of the application's.
    // Served, a pending upload would be unvalidated bytes under the
    // application's origin, at a URL its uploader knows.
    if (isStowageName(name)) return plain(404, 'Not Found')

    let download: string | undefined
    let signed = false
    const fullUrl = (req as { originalUrl?: string }).originalUrl ?? url
    if (options.signingSecret && hasSignature(fullUrl)) {
      // A signature that is present must be valid, even on a public file: it may carry `download`.
      const check = verifySignedUrl(fullUrl, { secret: options.signingSecret, ...(options.now && { now: options.now }) })
      if (!check.ok) return plain(403, check.reason === 'expired' ? 'Link expired' : 'Forbidden')
      download = check.download
      signed = true
    }
    // The application's predicate sees names of every shape a client can send;
    // one that throws is a server error, answered (or handed to `next`) like any
    // other, never an exception out of a node:http 'request' listener, which
    // ends the process. Nothing is served either way.
    let isPrivateName: boolean
    try {
      isPrivateName = isPrivate(name)
    } catch (err) {
      return fail(err)
    }
    if (isPrivateName && !signed) return plain(403, 'Forbidden')
    const priv = isPrivateName || download !== undefined

    void (async () => {
      const storage = typeof options.storage === 'function' ? options.storage() : options.storage
      let stat: FileStat
      try {
        stat = await storage.stat(name)
      } catch (err) {
        if (err instanceof StorageError && (err.code === 'ENOENT' || err.code === 'ESUSPICIOUS')) return plain(404, 'Not Found')
        return fail(err)
      }
      const type = mediaType(name, stat.contentType)
      const etag = etagOf(stat)
      // Unknown bytes are downloaded too: no browser should guess what they are.
      const attachment = download !== undefined || isExecutableType(type) || type === 'application/octet-stream'
      const base = name.split('/').pop()
      const headers: Record<string, string> = {
        'content-type': type,
        'content-disposition': contentDisposition(attachment ? 'attachment' : 'inline', download ?? (attachment ? base : undefined)),
        'cache-control': priv ? 'private, no-store' : (options.cacheControl ?? 'no-cache'),
        'accept-ranges': 'bytes',
        etag,
        'last-modified': stat.modified.toUTCString(),
      }
      if (notModified(req.headers, { modified: stat.modified, etag })) {
        res.writeHead(304, { etag, 'last-modified': headers['last-modified']!, 'cache-control': headers['cache-control']! })
        return res.end()
      }
      const range = requestedRange(req.headers, { size: stat.size, modified: stat.modified, etag })
      if (range === 'unsatisfiable') return plain(416, 'Range Not Satisfiable', { 'content-range': `bytes */${stat.size}` })
      const length = range ? range.end - range.start + 1 : stat.size
      if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${stat.size}`
      headers['content-length'] = String(length)
      if (req.method === 'HEAD' || length === 0) {
        res.writeHead(range ? 206 : 200, headers)
        return res.end()
      }
      let body
      try {
        body = await storage.open(name, range ? { start: range.start, end: range.end } : {})
      } catch (err) {
        if (err instanceof StorageError && err.code === 'ENOENT') return plain(404, 'Not Found')
        return fail(err)
      }
      res.writeHead(range ? 206 : 200, headers)
      // A broken read mid-body can only be signalled by cutting the connection.
      pipeline(body, res, () => {})
    })().catch(fail)
  }
}

/**
 * @returns whether the request URL's query names a `signature` parameter, as
 * `verifySignedUrl` reads it (URLSearchParams: `%73ignature` is one too). Never throws.
 */
function hasSignature(url: string): boolean {
  const query = url.indexOf('?')
  return query >= 0 && new URLSearchParams(url.slice(query + 1)).has('signature')
}
