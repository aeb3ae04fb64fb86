/**
 * Signed URLs for backends that sign with Stowage's own HMAC scheme
 * (`signUrl`) instead of the store's: `FileSystemStorage` and
 * `MemoryStorage`. The one place their settings are checked and their URLs
 * made, so a test run on memory hands out the URLs production hands out.
 */
import { ConfigurationError, UnsupportedOperationError } from './errors.js'
import { MIN_SECRET_LENGTH, signUrl } from './signing.js'
import type { UrlOptions } from './storage.js'

/** The signing options both backends take. */
export interface SignedUrlSettings {
  /** The HMAC key; `serveMedia({ private: true, signingSecret })` must be given the same one. */
  signingSecret?: string
  /** Default lifetime in seconds when `url()` is given `download` but no `expiresIn`. Default 3600. */
  expiresIn?: number
}

/**
 * Checks the signing settings at construction: a short key is guessable, and
 * a start-up error names the setting where a first signed URL would not.
 * @throws ConfigurationError (`key: 'signingSecret'`) for a secret shorter than `MIN_SECRET_LENGTH`;
 *   (`key: 'expiresIn'`) for an `expiresIn` that is not a positive number of seconds.
 */
export function checkSigningSettings(settings: SignedUrlSettings): void {
  const secret = settings.signingSecret
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigurationError(
      `must be at least ${MIN_SECRET_LENGTH} characters (got ${secret.length}); generate one with: node -p "crypto.randomBytes(32).toString('hex')"`,
      { key: 'signingSecret' },
    )
  }
  if (settings.expiresIn !== undefined && !(settings.expiresIn > 0)) {
    throw new ConfigurationError(`must be a positive number of seconds, got ${settings.expiresIn}`, { key: 'expiresIn' })
  }
}

/**
 * `url` as `url(name, options)` answers it: unchanged when neither
 * `expiresIn` nor `download` is asked for, else signed (`signUrl`).
 * @returns the URL.
 * @throws UnsupportedOperationError when a signed URL is asked for and no `signingSecret` is set
 *   (an unsigned URL would be handed out as if it expired); InvalidArgumentError from `signUrl`.
 */
export function signedStorageUrl(
  url: string,
  name: string,
  options: UrlOptions,
  settings: SignedUrlSettings & { backend: string; now?: () => number },
): string {
  if (options.expiresIn === undefined && options.download === undefined) return url
  const secret = settings.signingSecret
  if (!secret) {
    throw new UnsupportedOperationError(
      `Signed URLs need the signingSecret option on ${settings.backend} (from configuration: STOWAGE_<ALIAS>_SIGNING_SECRET, at least ${MIN_SECRET_LENGTH} characters)`,
      { context: { name } },
    )
  }
  return signUrl(url, {
    secret,
    expiresIn: options.expiresIn ?? settings.expiresIn ?? 3600,
    ...(options.download !== undefined && { download: options.download }),
    ...(settings.now && { now: settings.now }),
  })
}
