/**
 * The seam between `imageField` and an image library. Core decodes nothing:
 * it reads image headers only, so it stays free of native code. A package
 * such as `@stowage/images` (on sharp) implements `ImageProcessor` and is
 * handed to `imageField({ processor })`; the field then lets it store the
 * upload (metadata stripped, orientation applied, variants derived) and
 * delete everything derived from a stored image along with it.
 * `@stowage/http` serves lazily generated variants through `VariantResolver`.
 */
import type { Readable } from 'node:stream'
import type { Storage, UrlOptions } from '../storage.js'
import type { UploadFacts } from '../validators/validator.js'

/** What `ImageProcessor.store` is given. */
export interface ImageStoreRequest {
  storage: Storage
  /** The name the field built (`uploadTo` + file name); the storage may still pick a free variant of it. */
  name: string
  /**
   * The upload, flowing through the field's validators: a size rule may still
   * fail it (the stream then errors with the `ValidationError`).
   */
  content: Readable
  /** Facts from the header rules (type, dimensions); `size` is final once `content` has ended. */
  facts: UploadFacts
  /** The field's `maxLength` for the stored name. */
  maxLength: number
  signal?: AbortSignal
}

/** What `ImageProcessor.store` returns. */
export interface ImageStoreResult {
  /** The name actually stored. */
  name: string
  /** Facts about the stored file (its size, type and dimensions after processing). */
  facts: UploadFacts
}

/**
 * Stores images for an `imageField` and keeps what it derives from them.
 * Implementations must leave nothing behind when `store` fails.
 */
export interface ImageProcessor {
  /**
   * The most bytes `store` reads from an upload (it refuses a longer one).
   * Optional. A caller that must hold a whole stored file before handing it
   * over (the confirmation of a direct upload) checks the file's size
   * against it first, so the limit holds there as it holds for a stream.
   */
  readonly maxBytes?: number
  /**
   * Stores the upload and anything derived from it eagerly.
   * @returns the stored name and facts.
   * @throws ValidationError for images it cannot or will not process; AbortedError; StorageError.
   */
  store(request: ImageStoreRequest): Promise<ImageStoreResult>
  /**
   * Deletes every file derived from the stored image `name` (not `name` itself). Missing files are not an error.
   * Resolves once they are gone. @throws StorageError from the backend.
   */
  deleteDerived(storage: Storage, name: string): Promise<void>
  /**
   * @returns the URL of variant `variant` of the stored image `name`. `options`
   *   (`expiresIn`, `download`) are honoured or refused, never ignored: an
   *   `expiresIn` asked for must give a URL that expires.
   * @throws ConfigurationError for a variant the processor does not declare;
   *   InvalidArgumentError (naming the option) for options it cannot honour.
   */
  variantUrl(storage: Storage, name: string, variant: string, options?: UrlOptions): Promise<string>
}

/** A verified request for a lazily generated variant. */
export interface ResolvedVariant {
  /** The stored image the variant is derived from. */
  source: string
  /** Where the variant is (or will be) stored. */
  name: string
  /**
   * Makes sure the variant is stored, generating it from `source` if it is
   * not; concurrent calls for one variant generate it once. Takes no abort
   * signal: one client leaving must not cancel what others wait for.
   * @throws FileNotFoundError (`ENOENT`) when `source` is missing; ValidationError when it cannot be decoded.
   */
  ensure(storage: Storage): Promise<void>
  /**
   * Seconds the request's URL has left (more than 0, by the resolver's clock)
   * when it was made with `expiresIn`; absent for a URL that does not expire.
   * `serveVariants` caches its answer for no longer, and redirects to a URL
   * that lives no longer.
   */
  expiresIn?: number
}

/**
 * Why a variant request was refused: no signature, parameters that do not
 * match it, or a signed expiry that has passed (`serveVariants` answers each
 * with a 403, `'expired'` as `serveMedia` answers an expired link).
 */
export type VariantRefusal = 'missing' | 'invalid' | 'expired'

/** Checks variant requests; implemented by processors that have lazy variants. */
export interface VariantResolver {
  /**
   * @param name the source image's stored name, decoded from the request path.
   * @param query the request's query parameters (variant parameters and signature).
   * @returns the variant, or why it is refused. Should not throw; `serveVariants` answers a throw as `serveMedia` answers a server error (`sendError`'s 500, or `next(err)` under Express).
   */
  resolveVariant(name: string, query: URLSearchParams): ResolvedVariant | { refused: VariantRefusal }
}
