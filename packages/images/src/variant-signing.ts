/**
 * Signatures for lazy variant URLs. The HMAC covers the source image's name
 * and the variant's canonical parameters, so nobody can ask for a size that
 * was not declared or for a variant of another file. By default the URLs do
 * not expire: like Active Storage's, they are stable so browsers and CDNs can
 * cache them. One made with `expiresIn` carries `expires` in the signed query,
 * so its expiry can be neither removed nor moved.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { ConfigurationError, MIN_SECRET_LENGTH } from '@stowage/core'

/**
 * @throws ConfigurationError (`key`) when the secret is not a string of at least `MIN_SECRET_LENGTH` characters.
 */
export function checkVariantSecret(secret: unknown, key: string): asserts secret is string {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigurationError(`must be a string of at least ${MIN_SECRET_LENGTH} characters`, { key })
  }
}

/** @returns the base64url HMAC-SHA256 of `source` and the canonical `query` under `secret`. */
export function signVariant(secret: string, source: string, query: string): string {
  // A fixed label keeps these signatures from ever matching another use of the same secret.
  return createHmac('sha256', secret).update(`stowage-variant\n${source}\n${query}`).digest('base64url')
}

/** @returns whether `signature` is the one `signVariant` gives, compared in constant time. */
export function verifyVariant(secret: string, source: string, query: string, signature: string): boolean {
  const expected = Buffer.from(signVariant(secret, source, query))
  const given = Buffer.from(signature)
  return given.length === expected.length && timingSafeEqual(given, expected)
}
