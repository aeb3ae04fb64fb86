/**
 * Headers `collectstatic` asks a backend to store with each object, for
 * backends that serve objects with stored headers (S3 and its CDNs):
 * cache lifetimes, the coding of precompressed variants, and keeping the
 * run record out of a public-read bucket, through `SaveOptions`' header
 * fields. Backends that do not keep headers (local disk, memory) ignore
 * them; `serveStatic` sets its own.
 */
import { ConfigurationError, type SaveOptions } from '@stowage/core'

/**
 * The options `collectstatic` saves with: the contract's `SaveOptions`, which
 * now carry `cacheControl`, `contentEncoding` and `private` themselves.
 * @deprecated use `SaveOptions` from `@stowage/core`; kept so existing imports compile.
 */
export type StaticSaveOptions = SaveOptions

/** One year, and never revalidated: for content-hashed names, which can never change. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable'
/** For names without a content hash, served by `serveStatic`: caches must ask again. */
export const REVALIDATE_CACHE_CONTROL = 'no-cache'
/**
 * For names without a content hash uploaded to a bucket: a minute, as
 * WhiteNoise gives them. A CDN may keep a changed original that long.
 */
export const SHORT_CACHE_CONTROL = 'public, max-age=60'

/** `Cache-Control` for what `collectstatic` uploads (`ManifestStaticStorage`'s `cacheControl`); `false` sends none. */
export interface CacheControlOptions {
  /** Content-hashed copies and their compressed variants. Default `IMMUTABLE_CACHE_CONTROL`. */
  hashed?: string | false
  /** Originals under their own names. Default `SHORT_CACHE_CONTROL`. */
  unhashed?: string | false
}

/** Resolved `CacheControlOptions`: `undefined` sends no header. */
export interface ResolvedCacheControl {
  hashed: string | undefined
  unhashed: string | undefined
}

/**
 * Applies defaults to a `cacheControl` option.
 * @throws ConfigurationError (key `cacheControl.*`) for a value that is not a one-line string or `false`.
 */
export function resolveCacheControl(option: CacheControlOptions | undefined): ResolvedCacheControl {
  const pick = (key: 'hashed' | 'unhashed', fallback: string): string | undefined => {
    const v = option?.[key]
    if (v === undefined) return fallback
    if (v === false) return undefined
    if (typeof v !== 'string' || v.trim() === '' || /[\r\n]/.test(v)) {
      throw new ConfigurationError(`must be a Cache-Control value or false, got ${JSON.stringify(v)}`, { key: `cacheControl.${key}` })
    }
    return v
  }
  return { hashed: pick('hashed', IMMUTABLE_CACHE_CONTROL), unhashed: pick('unhashed', SHORT_CACHE_CONTROL) }
}

/** How the run record and deploy history are saved: never cached, never public. */
export const PRIVATE_RECORD: StaticSaveOptions = {
  overwrite: true,
  contentType: 'application/json; charset=utf-8',
  cacheControl: 'no-store',
  private: true,
}
