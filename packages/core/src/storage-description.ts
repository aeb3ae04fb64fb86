/**
 * What a storage says about itself through the contract (`describe()`), so
 * callers — static URLs, `stowage check`, an app's status page — never read
 * a backend's options or private fields.
 */

/** How `url(name, { expiresIn })` makes a link that expires. */
export type UrlSigning =
  /** S3-style presigned URLs: every `url()` is signed unless the storage serves plain URLs. */
  | 'presigned'
  /** Stowage's HMAC signature (`signingSecret`), checked by `serveMedia`. */
  | 'hmac'
  /** Not at all: `url(name, { expiresIn })` is refused. */
  | 'none'

/** A storage's own account of where its files live and how they are reached. */
export interface StorageDescription {
  /** The backend, for people: `FileSystemStorage`, `S3Storage`, `ManifestStaticStorage(S3Storage)`. */
  backend: string
  /** Where the files are, for people: `/srv/app/media`, `s3://bucket/media`, `memory`. */
  location: string
  /**
   * The prefix of the plain URLs `url(name)` returns (the percent-encoded
   * name is appended), e.g. `/media/` or `https://bucket.s3.eu-west-1.amazonaws.com/static/`;
   * undefined when `url()` signs each URL, so no prefix can stand for them.
   */
  baseUrl?: string
  /** How signed, expiring URLs are made. */
  signing: UrlSigning
}
