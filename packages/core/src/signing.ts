/**
 * HMAC-signed, expiring URLs for backends that have no signing of their own
 * (local disk, memory). The signature covers the path, the expiry and the
 * download name, so none of them can be changed without invalidating it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { ConfigurationError, InvalidArgumentError } from './errors.js'

/** Minimum secret length: shorter HMAC keys are guessable. */
export const MIN_SECRET_LENGTH = 16

/** Options shared by `signUrl` and `verifySignedUrl`. */
export interface UrlSigningOptions {
  /** The HMAC key; keep it out of the repository. At least 16 characters. */
  secret: string
  /** Clock, injectable for tests. */
  now?: () => number
}

function checkSecret(secret: string): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigurationError(`must be a string of at least ${MIN_SECRET_LENGTH} characters`, { key: 'secret' })
  }
}

function mac(secret: string, path: string, expires: string, download: string): string {
  return createHmac('sha256', secret).update(`${path}\n${expires}\n${download}`).digest('base64url')
}

/**
 * The unix second `expiresIn` seconds after `nowMs`: the `expires` of a signed URL (here, and in lazy image variant URLs).
 * @returns it.
 * @throws InvalidArgumentError (`expiresIn`) when `expiresIn` is not a positive number of seconds or puts the
 *   expiry past safe integers: `expires=NaN`, a past one or `1e+21` (read as expired) would sign a URL that can never be used.
 */
export function expiryAt(expiresIn: number, nowMs: number): number {
  const at = Math.floor(nowMs / 1000) + Math.ceil(expiresIn)
  if (typeof expiresIn !== 'number' || !(expiresIn > 0) || !Number.isSafeInteger(at)) {
    throw new InvalidArgumentError(`expiresIn must be a positive number of seconds with an expiry below 2^53, got ${String(expiresIn)}`, {
      argument: 'expiresIn',
    })
  }
  return at
}

/**
 * Signs `url` (a path such as `/media/a%20b.pdf`, or an absolute URL).
 * @returns the URL with `expires`, optional `download` and `signature` query parameters
 *   (any query `url` had is dropped).
 * @throws ConfigurationError (`ECONFIG`, key `secret`) when the secret is missing or too short;
 *   InvalidArgumentError (`EINVAL`) when `expiresIn` is not a positive number of seconds (or puts the expiry past safe integers),
 *   or `url` cannot be parsed as a URL (`new URL` refuses it), holds a `#` (a fragment, which the signature
 *   could not cover: the name in it must be percent-encoded, as `encodeUrlPath` does), or has a path a URL
 *   parser reads as other names (`.` or `..` segments, `%2e` ones included, a backslash, a tab or newline,
 *   a malformed `%` escape): the signature would cover a file other than the one written.
 */
export function signUrl(url: string, options: UrlSigningOptions & { expiresIn: number; download?: string }): string {
  checkSecret(options.secret)
  const expires = String(expiryAt(options.expiresIn, (options.now ?? Date.now)()))
  // A '#' starts the fragment, which the signature cannot cover: `/media/a#b.pdf`
  // would sign the file `a`, and put the query where no server sees it. A name
  // holding one is `a%23b.pdf` in its URL (`encodeUrlPath`).
  if (url.includes('#')) {
    throw new InvalidArgumentError(`Cannot sign '${url}': a '#' starts a fragment; percent-encode names in URLs (encodeUrlPath)`, { argument: 'url' })
  }
  const path = url.split('?')[0] ?? url
  const download = options.download ?? ''
  const query = new URLSearchParams({ expires })
  if (download) query.set('download', download)
  let pathname: string
  try {
    pathname = new URL(path, 'http://x').pathname
  } catch (err) {
    throw new InvalidArgumentError(`Cannot sign '${url}': not a URL`, { argument: 'url', cause: err })
  }
  // The signature covers the path as a URL parser reads it, which resolves dot
  // segments (`%2e` ones too), takes `\` for `/` and drops tabs and newlines:
  // `/media/u1/../u2/x.pdf`, checked as a name under `u1/`, would sign
  // `/media/u2/x.pdf`. Only a path that reads as the same names is signed.
  if (!sameNames(writtenPath(path), pathname)) {
    throw new InvalidArgumentError(
      `Cannot sign ${JSON.stringify(url)}: a URL parser reads its path as '${pathname}'; build it from a safeName with encodeUrlPath`,
      { argument: 'url' },
    )
  }
  query.set('signature', mac(options.secret, pathname, expires, download))
  return `${path}?${query}`
}

/**
 * The path of `url` (no query) as written: after the scheme and authority of
 * an absolute or scheme-relative URL, else all of it, rooted as a parser
 * resolves it against `/` (`media/x` is `/media/x`). Never throws.
 */
function writtenPath(url: string): string {
  let authority: number
  if (url.startsWith('//')) {
    authority = 2
  } else if (URL.canParse(url)) {
    const scheme = url.indexOf('://')
    // An opaque URL (`mailto:x`) has no '://': no path a server could serve.
    if (scheme < 0) return ''
    authority = scheme + 3
  } else {
    return url.startsWith('/') ? url : `/${url}`
  }
  const start = url.indexOf('/', authority)
  return start < 0 ? '/' : url.slice(start)
}

/** @returns whether paths `a` and `b` hold the same segments once each is percent-decoded (false for a malformed escape). Never throws. */
function sameNames(a: string, b: string): boolean {
  const x = a.split('/')
  const y = b.split('/')
  if (x.length !== y.length) return false
  try {
    return x.every((segment, i) => decodeURIComponent(segment) === decodeURIComponent(y[i]!))
  } catch {
    return false
  }
}

/** Why a signed URL was refused. */
export type SignedUrlFailure = 'missing' | 'expired' | 'invalid'

/** The outcome of `verifySignedUrl`. */
export type SignedUrlCheck = { ok: true; download?: string } | { ok: false; reason: SignedUrlFailure }

/**
 * Checks a signed URL (path plus query, as a server receives it).
 * @returns `{ ok: true, download? }`, or `{ ok: false, reason }` for a missing, tampered or expired
 *   signature, or a URL that cannot be parsed (`invalid`: a request path such as `//[x` carries no signature).
 * @throws ConfigurationError (`ECONFIG`, key `secret`) when the secret is missing or too short.
 */
export function verifySignedUrl(url: string, options: UrlSigningOptions): SignedUrlCheck {
  checkSecret(options.secret)
  const now = options.now ?? Date.now
  let parsed: URL
  try {
    parsed = new URL(url, 'http://x')
  } catch {
    return { ok: false, reason: 'invalid' }
  }
  const expires = parsed.searchParams.get('expires')
  const signature = parsed.searchParams.get('signature')
  if (!expires || !signature) return { ok: false, reason: 'missing' }
  const download = parsed.searchParams.get('download') ?? ''
  const expected = Buffer.from(mac(options.secret, parsed.pathname, expires, download))
  const given = Buffer.from(signature)
  // Check the signature before the expiry so a tampered URL never learns whether it expired.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' }
  if (!/^\d+$/.test(expires) || Number(expires) * 1000 <= now()) return { ok: false, reason: 'expired' }
  return download ? { ok: true, download } : { ok: true }
}
