/**
 * A middleware (Node `http`, Connect, Express) serving static files:
 * - in development, straight from the finders: no collectstatic needed, an
 *   edit shows on the next request (Django's `runserver` static view);
 * - in production, from the collected static storage, with
 *   `Cache-Control: immutable` for content-hashed names, which can never
 *   change, and revalidation for everything else; the precompressed `.br`
 *   or `.gz` variant of a hashed file to clients that accept it
 *   (`Content-Encoding`, `Vary: Accept-Encoding`), as WhiteNoise does.
 * Both answer `If-None-Match` and `If-Modified-Since` with 304s, and single
 * byte ranges (`Range`, `If-Range`) with 206 or 416.
 * Stowage's own records (`.stowage-collectstatic.json`, `.stowage-deploys/`)
 * are never served.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { ConfigurationError, isStorageError, isStowageName, notModified, requestedRange, safeName, withTrailingSlash, type Storage } from '@stowage/core'
import { contentTypeFor, isCompressible } from './content-types.js'
import type { Finders } from './finders.js'
import { looksHashed } from './hashing.js'
import { isManifestStorage } from './manifest-static-storage.js'
import { acceptedEncodings, ENCODINGS, variantName, type Encoding } from './precompress.js'
import { IMMUTABLE_CACHE_CONTROL, REVALIDATE_CACHE_CONTROL } from './save-hints.js'

export { IMMUTABLE_CACHE_CONTROL, REVALIDATE_CACHE_CONTROL }

/** How many hashed names' variant lookups are remembered (they cannot change: the name is the content). */
const VARIANT_CACHE_SIZE = 10_000

/** What every response of ours carries, and what is taken back when a request is handed on. */
const SAFETY_HEADERS = new Set(['x-content-type-options', 'content-security-policy'])

/** Options for `serveStatic`. */
export interface ServeStaticOptions {
  /** URL path prefix. Default `/static/`. */
  prefix?: string
  /** Development: serve from these finders. */
  finders?: Finders
  /** Production: serve from this (collected) storage; with a `ManifestStaticStorage`, its manifest tells which names are hashed. */
  storage?: Storage
  /** Pass unknown files to the next handler instead of answering 404. Default false. */
  fallthrough?: boolean
  /**
   * A Content-Security-Policy for every response. Default none: browsers
   * ignore a policy on stylesheets, scripts, images and fonts, but enforce
   * it on the documents and workers a static folder may also hold (an
   * `index.html`, a service worker), which MEDIA_CSP-style `default-src
   * 'none'; sandbox` would break. Your own assets run under your pages'
   * policy; set this only if the folder holds documents you want confined.
   */
  contentSecurityPolicy?: string
}

type Next = (err?: unknown) => void
/** A Connect/Express-style handler. */
export type StaticMiddleware = (req: IncomingMessage, res: ServerResponse, next?: Next) => Promise<void>

interface Found {
  size: number
  modified: Date
  etag: string
  immutable: boolean
  /** The bytes, or those from `start` to `end` (inclusive). */
  body: (range?: { start: number; end: number }) => Promise<Readable>
}

/**
 * @returns a middleware serving GET/HEAD requests under `prefix`.
 * @throws ConfigurationError unless exactly one of `finders` and `storage` is given.
 */
export function serveStatic(options: ServeStaticOptions): StaticMiddleware {
  const { finders, storage } = options
  if (!finders === !storage) {
    throw new ConfigurationError('give exactly one of finders (development) or storage (production)', { key: 'serveStatic' })
  }
  const prefix = withTrailingSlash(options.prefix ?? '/static/')
  let hashedNames: Promise<Set<string> | null> | undefined
  const isHashed = async (name: string): Promise<boolean> => {
    if (!storage || !isManifestStorage(storage)) return false
    // A failed load is not remembered (as a failed variant lookup is not): kept,
    // one storage hiccup would answer 500 for every file until a restart.
    hashedNames ??= storage.loadManifest().then(
      (m) => (m ? new Set(Object.values(m.paths)) : null),
      (err: unknown) => {
        hashedNames = undefined
        throw err
      },
    )
    const names = await hashedNames
    return names ? names.has(name) : looksHashed(name)
  }

  const lookup = async (name: string): Promise<Found | null> => {
    if (finders) {
      const file = await finders.find(name)
      if (!file) return null
      const s = await stat(file)
      return {
        size: s.size,
        modified: s.mtime,
        etag: `W/"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`,
        immutable: false,
        body: async (range) => createReadStream(file, range ?? {}),
      }
    }
    return fromStorage(name, await isHashed(name))
  }

  const fromStorage = async (name: string, immutable: boolean): Promise<Found | null> => {
    try {
      const s = await storage!.stat(name)
      return {
        size: s.size,
        modified: s.modified,
        etag: s.etag ? `"${s.etag.replace(/"/g, '')}"` : `W/"${s.size.toString(16)}-${s.modified.getTime().toString(16)}"`,
        immutable,
        body: (range) => storage!.open(name, range ?? {}),
      }
    } catch (err) {
      if (isStorageError(err, 'ENOENT')) return null
      throw err
    }
  }

  // Which precompressed variants a hashed file has: asked once per name,
  // since a hashed name's content (and so its variants) never changes.
  const variantCache = new Map<string, Promise<Map<Encoding, Found>>>()
  const variantsOf = (name: string): Promise<Map<Encoding, Found>> => {
    let hit = variantCache.get(name)
    if (!hit) {
      if (variantCache.size >= VARIANT_CACHE_SIZE) variantCache.clear()
      hit = (async () => {
        const out = new Map<Encoding, Found>()
        for (const encoding of ENCODINGS) {
          const found = await fromStorage(variantName(name, encoding), true)
          if (found) out.set(encoding, found)
        }
        return out
      })()
      variantCache.set(name, hit)
      // A failed lookup is not remembered: the next request asks again.
      hit.catch(() => variantCache.delete(name))
    }
    return hit
  }

  const csp = options.contentSecurityPolicy

  return async (req, res, next) => {
    const notFound = () => {
      if (options.fallthrough && next) {
        // The next handler answers with its own policy, not ours.
        for (const h of SAFETY_HEADERS) res.removeHeader(h)
        return next()
      }
      res.statusCode = 404
      res.setHeader('Content-Type', 'text/plain; charset=utf-8')
      res.end('Not Found')
    }
    const pathname = (req.url ?? '/').split('?')[0]!
    const ours = (req.method === 'GET' || req.method === 'HEAD') && pathname.startsWith(prefix)
    // Decided before any header is set: a request that is not ours goes on untouched.
    if (!ours && next) return next()
    // Set once, before any branch can answer, so 304s and errors carry them too.
    // nosniff matters even for our own assets: a browser then runs as script, or
    // applies as a stylesheet, only what is served with a script or CSS type.
    res.setHeader('X-Content-Type-Options', 'nosniff')
    if (csp !== undefined) res.setHeader('Content-Security-Policy', csp)
    try {
      if (!ours) return notFound()
      let name: string
      try {
        // Decoded exactly once, then held to safeName: `%252F` is the literal
        // `%2F` of a name such as Django's `test/%2F.txt` (whose URLs encode
        // `%` as `%25`), `%2F` a separator. A second decode would let
        // `..%252F` become `../`; safeName would still refuse that, but the
        // file served would no longer be the one the URL names.
        name = safeName(decodeURIComponent(pathname.slice(prefix.length)))
      } catch {
        return notFound()
      }
      // The run record and deploy history: bookkeeping, not assets.
      if (isStowageName(name)) return notFound()
      let found = await lookup(name)
      if (!found) return notFound()
      res.setHeader('Content-Type', contentTypeFor(name))
      res.setHeader('Cache-Control', found.immutable ? IMMUTABLE_CACHE_CONTROL : REVALIDATE_CACHE_CONTROL)
      if (storage && found.immutable && isCompressible(name)) {
        const variants = await variantsOf(name)
        if (variants.size) {
          // Caches must keep one response per coding, even when this one is not encoded.
          res.setHeader('Vary', 'Accept-Encoding')
          const [encoding] = acceptedEncodings(req.headers['accept-encoding'], [...variants.keys()])
          if (encoding) {
            found = variants.get(encoding)!
            res.setHeader('Content-Encoding', encoding)
          }
        }
      }
      res.setHeader('ETag', found.etag)
      res.setHeader('Last-Modified', found.modified.toUTCString())
      if (notModified(req.headers, found)) {
        res.statusCode = 304
        return void res.end()
      }
      // Ranges of what is sent (the encoded variant, when one was chosen: its ETag is its own),
      // so a video or audio file plays and seeks (Safari asks for ranges before it plays).
      res.setHeader('Accept-Ranges', 'bytes')
      const range = requestedRange(req.headers, found)
      if (range === 'unsatisfiable') {
        // Not the file: no Cache-Control (an immutable 416 would be kept by a shared cache, whose
        // key has no Range, and served for the URL for a year), and its empty body is not encoded.
        res.removeHeader('Cache-Control')
        res.removeHeader('Content-Encoding')
        res.statusCode = 416
        res.setHeader('Content-Range', `bytes */${found.size}`)
        return void res.end()
      }
      if (range) {
        res.statusCode = 206
        res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${found.size}`)
      }
      res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : found.size))
      if (req.method === 'HEAD') return void res.end()
      const body = await found.body(range)
      body.on('error', (err) => res.destroy(err))
      body.pipe(res)
    } catch (err) {
      if (res.headersSent) return next ? next(err) : void res.destroy()
      // The file's Content-Length, validators and Cache-Control may already be
      // set, and an error answer must not claim them, ours or the next
      // handler's: a page cut to the file's length, or a 500 a shared cache
      // keeps as the hashed file for a year (`immutable`).
      for (const h of res.getHeaderNames()) if (!SAFETY_HEADERS.has(h)) res.removeHeader(h)
      if (next) return next(err)
      res.statusCode = 500
      res.end()
    }
  }
}
