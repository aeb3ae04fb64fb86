/**
 * `images()`: the image processor `imageField({ processor })` stores uploads
 * through. By default every stored image is re-encoded from its pixels with
 * orientation applied, so EXIF (GPS, camera serials), XMP and IPTC stay
 * behind; variants are written beside it in the same save (eager) or on
 * first request through a signed URL (lazy, as Active Storage does).
 */
import { availableParallelism } from 'node:os'
import { Transform, pipeline } from 'node:stream'
import {
  ConfigurationError,
  DEFAULT_MAX_PIXELS,
  FileNotFoundError,
  InvalidArgumentError,
  encodeUrlPath,
  expiryAt,
  type ImageProcessor,
  type ImageStoreRequest,
  type ImageStoreResult,
  type ResolvedVariant,
  type Storage,
  type UploadFacts,
  type UrlOptions,
  type VariantRefusal,
  type VariantResolver,
} from '@stowage/core'
import {
  checkDecodes,
  encoder,
  inspect,
  MIME,
  outputFormat,
  readInput,
  undecodable,
  type AnimatedPolicy,
  type DecodeLimits,
  type ImageInfo,
  type OutputSpec,
} from './encode.js'
import { checkVariantSecret, signVariant, verifyVariant } from './variant-signing.js'
import { checkVariant, parseVariantQuery, variantName, variantQuery, variantsDir, type NamedVariant, type VariantSpec } from './variant-spec.js'

/** Most bytes of one image the processor reads into memory (libvips decodes from one buffer): 64 MiB. */
export const DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024

/** Quality the original is re-encoded at (JPEG, WebP, AVIF), above sharp's 80: it is the copy every variant comes from. */
export const DEFAULT_ORIGINAL_QUALITY = 90

const LOSSY = new Set(['jpeg', 'webp', 'avif'])

/** Where lazy variants are served, and the key their URLs are signed with. */
export interface LazyVariantOptions {
  /** URL prefix `serveVariants` is mounted at, e.g. `/variants/` (or an absolute URL). */
  baseUrl: string
  /** HMAC key, at least 16 characters; keep it out of the repository. */
  secret: string
  /**
   * Most lazy variants made at once by this processor; more requests wait
   * their turn. Each decode holds a whole image in memory (about 50 MB for
   * 12 megapixels), so a burst of first views, or of requests for every
   * variant a page links, would otherwise exhaust memory. Default: the
   * number of CPUs (`os.availableParallelism()`).
   */
  concurrency?: number
  /** Clock (milliseconds, as `Date.now`) that expiring URLs are signed and checked against; inject in tests. Default `Date.now`. */
  now?: () => number
}

/** Options for `images()`. */
export interface ImagesOptions {
  /** Derived sizes, by name (letters, digits, `_`, `-`). */
  variants?: Record<string, VariantSpec>
  /**
   * Store the upload byte for byte, EXIF and all (variants are still
   * re-encoded without metadata). Default false: the original is re-encoded
   * from its pixels, orientation applied, with no metadata.
   */
  keepMetadata?: boolean
  /** Quality the original is re-encoded at (JPEG, WebP, AVIF; PNG and GIF stay lossless). Default `DEFAULT_ORIGINAL_QUALITY`. */
  quality?: number
  /** Most pixels decoded (all frames of a kept animation count). Default `DEFAULT_MAX_PIXELS`, Pillow's bomb threshold. */
  maxPixels?: number
  /** Most bytes of one image read into memory. Default `DEFAULT_MAX_IMAGE_BYTES`. */
  maxBytes?: number
  /**
   * Animated GIF and WebP: `'firstFrame'` (default) stores a still of the
   * first frame, `'keep'` keeps every frame in GIF and WebP outputs (other
   * formats get the first), `'refuse'` fails the save with a ValidationError.
   */
  animated?: AnimatedPolicy
  /** Needed when a variant is `lazy`. */
  lazy?: LazyVariantOptions
}

function positiveInt(v: unknown): boolean {
  return Number.isSafeInteger(v) && (v as number) > 0
}

/** @throws ConfigurationError naming (under `prefix`) the first key of `options` not in `known`. */
function refuseUnknown(options: object, known: readonly string[], prefix = ''): void {
  const unknown = Object.keys(options).find((k) => !known.includes(k))
  if (unknown !== undefined) throw new ConfigurationError(`unknown option (expected ${known.join(', ')})`, { key: `${prefix}${unknown}` })
}

/** The processor; `images()` builds one. */
export class Images implements ImageProcessor, VariantResolver {
  /** The declared variants, by name. */
  readonly variants: ReadonlyMap<string, NamedVariant>
  readonly keepMetadata: boolean
  readonly quality: number
  private readonly limits: DecodeLimits
  private readonly lazy: LazyVariantOptions | undefined
  /** Lazy generations in flight, per storage and variant name: one per variant however many ask. */
  private readonly inFlight = new WeakMap<Storage, Map<string, Promise<void>>>()
  /** Lazy generations running, and those waiting for one of `lazy.concurrency` turns. */
  private running = 0
  private readonly waiting: (() => void)[] = []
  /** `lazy.concurrency`, or the number of CPUs. */
  private readonly concurrency: number
  /** `lazy.now`, or `Date.now`. */
  private readonly now: () => number

  /** @throws ConfigurationError naming the bad key. */
  constructor(options: ImagesOptions = {}) {
    refuseUnknown(options, ['variants', 'keepMetadata', 'quality', 'maxPixels', 'maxBytes', 'animated', 'lazy'])
    this.variants = new Map(Object.entries(options.variants ?? {}).map(([name, spec]) => [name, checkVariant(name, spec)]))
    this.keepMetadata = options.keepMetadata ?? false
    this.quality = options.quality ?? DEFAULT_ORIGINAL_QUALITY
    this.limits = {
      maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
      maxBytes: options.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES,
      animated: options.animated ?? 'firstFrame',
    }
    if (typeof this.keepMetadata !== 'boolean') throw new ConfigurationError('must be a boolean', { key: 'keepMetadata' })
    if (!positiveInt(this.quality) || this.quality > 100)
      throw new ConfigurationError(`must be an integer from 1 to 100, got ${options.quality}`, { key: 'quality' })
    if (!positiveInt(this.limits.maxPixels)) throw new ConfigurationError(`must be a positive integer, got ${options.maxPixels}`, { key: 'maxPixels' })
    if (!positiveInt(this.limits.maxBytes)) throw new ConfigurationError(`must be a positive integer, got ${options.maxBytes}`, { key: 'maxBytes' })
    if (!['firstFrame', 'keep', 'refuse'].includes(this.limits.animated))
      throw new ConfigurationError(`must be 'firstFrame', 'keep' or 'refuse', got ${String(options.animated)}`, { key: 'animated' })
    if (options.lazy !== undefined) {
      checkVariantSecret(options.lazy?.secret, 'lazy.secret')
      if (typeof options.lazy.baseUrl !== 'string' || !options.lazy.baseUrl.endsWith('/'))
        throw new ConfigurationError('must be a URL prefix ending in /', { key: 'lazy.baseUrl' })
      if (options.lazy.concurrency !== undefined && !positiveInt(options.lazy.concurrency))
        throw new ConfigurationError(`must be a positive integer, got ${JSON.stringify(options.lazy.concurrency)}`, { key: 'lazy.concurrency' })
      if (options.lazy.now !== undefined && typeof options.lazy.now !== 'function')
        throw new ConfigurationError(`must be a function returning milliseconds, got ${typeof options.lazy.now}`, { key: 'lazy.now' })
      refuseUnknown(options.lazy, ['baseUrl', 'secret', 'concurrency', 'now'], 'lazy.')
    }
    const lazyOne = [...this.variants.values()].find((v) => v.lazy)
    if (lazyOne && !options.lazy) throw new ConfigurationError(`is needed (baseUrl and secret) for the lazy variant '${lazyOne.name}'`, { key: 'lazy' })
    this.lazy = options.lazy
    this.concurrency = options.lazy?.concurrency ?? availableParallelism()
    this.now = options.lazy?.now ?? Date.now
  }

  /** The most bytes `store` reads from an upload (`maxBytes`, default 64 MiB). Never throws. */
  get maxBytes(): number {
    return this.limits.maxBytes
  }

  /**
   * Stores an upload: the original (re-encoded without metadata unless
   * `keepMetadata`), then every eager variant beside it. When any step
   * fails, whatever was stored is deleted before the error is thrown.
   * @returns the stored name and facts about the stored original (its size, and its size in pixels once oriented).
   * @throws ValidationError for images that cannot be decoded, are too large or animated against the policy;
   *   AbortedError; StorageError from the backend.
   */
  async store(request: ImageStoreRequest): Promise<ImageStoreResult> {
    const { storage, signal } = request
    const input = await readInput(request.content, this.limits.maxBytes)
    const info = await inspect(input, this.limits)
    const eager = [...this.variants.values()].filter((v) => !v.lazy)
    // Variants are encoded while the original is written, each decoded from
    // the same buffer; their encoded bytes (the declared sizes, small) wait in
    // memory only until the original's stored name, which names them, is known.
    const encoded = eager.map((v) => this.encode(input, info, v))
    for (const e of encoded) e.catch(() => {}) // settled below, whatever happens
    let stored: { name: string; facts: UploadFacts }
    try {
      stored = await this.storeOriginal(request, input, info, eager.length > 0)
    } catch (err) {
      await Promise.allSettled(encoded)
      throw err
    }
    // The first failure stops the others, and cleanup waits for all of them:
    // a save still running after the cleanup would leave an orphan.
    const stop = new AbortController()
    const abortAll = () => stop.abort(signal?.reason)
    if (signal?.aborted) abortAll()
    signal?.addEventListener('abort', abortAll, { once: true })
    let failure: { reason: unknown } | undefined
    await Promise.allSettled(
      eager.map(async (v, i) => {
        try {
          const bytes = await encoded[i]!
          await storage.save(variantName(stored.name, v), bytes, { overwrite: true, contentType: MIME[outputFormat(info, v)], signal: stop.signal })
        } catch (err) {
          // The first failure is the cause; the others are the aborts it set off.
          failure ??= { reason: err }
          stop.abort(err)
        }
      }),
    )
    signal?.removeEventListener('abort', abortAll)
    if (failure) {
      await Promise.allSettled([this.deleteDerived(storage, stored.name), storage.delete(stored.name)])
      throw failure.reason
    }
    return stored
  }

  /**
   * Stores the original: byte for byte with `keepMetadata`, else re-encoded
   * upright without metadata, streamed into the storage.
   * @returns the stored name and its facts.
   * @throws ValidationError when the pixels cannot be decoded; AbortedError; StorageError.
   */
  private async storeOriginal(
    request: ImageStoreRequest,
    input: Buffer,
    info: ImageInfo,
    variantsDecode: boolean,
  ): Promise<{ name: string; facts: UploadFacts }> {
    const { storage, maxLength, signal } = request
    if (this.keepMetadata) {
      // Unless a variant decodes the pixels, prove they decode before storing.
      if (!variantsDecode) await checkDecodes(input, this.limits)
      const contentType = request.facts.type?.mime
      const name = await storage.save(request.name, input, { maxLength, ...(contentType && { contentType }), ...(signal && { signal }) })
      return { name, facts: { ...request.facts, size: input.length } }
    }
    const format = outputFormat(info, {})
    const out = await this.writeOutput(
      storage,
      request.name,
      input,
      info,
      { ...(LOSSY.has(format) && { quality: this.quality }) },
      { maxLength, ...(signal && { signal }) },
    )
    const type = format === info.format ? request.facts.type : undefined
    return {
      name: out.name,
      facts: { size: out.size, type: type ?? { ext: format === 'jpeg' ? 'jpg' : format, mime: MIME[format] }, width: info.width, height: info.height },
    }
  }

  /** @returns one output of `input`, encoded. @throws ValidationError when the pixels cannot be decoded. */
  private async encode(input: Buffer, info: ImageInfo, spec: OutputSpec): Promise<Buffer> {
    try {
      return await encoder(input, info, spec, this.limits).toBuffer()
    } catch (err) {
      throw undecodable(err)
    }
  }

  /**
   * Encodes one output of `input` and streams it into `storage`.
   * @returns the stored name and byte count.
   * @throws ValidationError when the pixels cannot be decoded; StorageError from the backend.
   */
  private async writeOutput(
    storage: Storage,
    name: string,
    input: Buffer,
    info: ImageInfo,
    spec: OutputSpec,
    options: { maxLength?: number; overwrite?: boolean; signal?: AbortSignal },
  ): Promise<{ name: string; size: number }> {
    const img = encoder(input, info, spec, this.limits)
    let decodeError: unknown
    img.once('error', (err) => (decodeError = err))
    let size = 0
    const body = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length
        done(null, chunk)
      },
    })
    pipeline(img, body, () => {})
    try {
      const stored = await storage.save(name, body, { ...options, contentType: MIME[outputFormat(info, spec)] })
      return { name: stored, size }
    } catch (err) {
      if (decodeError !== undefined && !options.signal?.aborted) throw undecodable(decodeError)
      throw err
    }
  }

  /**
   * Deletes every variant stored beside `name`, eager and lazy, current and from older declarations.
   * Resolves once they are gone. @throws StorageError from the backend.
   */
  async deleteDerived(storage: Storage, name: string): Promise<void> {
    const dir = variantsDir(name)
    const { files } = await storage.listdir(dir)
    await Promise.all(files.map((f) => storage.delete(`${dir}/${f}`)))
  }

  private variant(name: string): NamedVariant {
    const v = this.variants.get(name)
    if (!v) throw new ConfigurationError(`no variant '${name}' is declared (have: ${[...this.variants.keys()].join(', ') || 'none'})`, { key: 'variant' })
    return v
  }

  /**
   * @returns for an eager variant, its stored file's URL (`options` go to
   *   `storage.url`); for a lazy one, a signed URL under `lazy.baseUrl`. Without
   *   `expiresIn` that URL does not expire (stable, so browsers and CDNs cache
   *   it); with it, the signature covers an `expires` parameter (unix seconds)
   *   and `resolveVariant` refuses the URL once that has passed (by `lazy.now`).
   * @throws ConfigurationError for an undeclared variant; for a lazy one,
   *   InvalidArgumentError (`expiresIn`) when `expiresIn` is not a positive
   *   number of seconds with an expiry below 2^53 (as `signUrl`), and
   *   (`download`) for any `download`: serveVariants sends variants inline.
   *   For an eager one, whatever `storage.url` throws.
   */
  async variantUrl(storage: Storage, name: string, variant: string, options?: UrlOptions): Promise<string> {
    const v = this.variant(variant)
    if (!v.lazy) return storage.url(variantName(name, v), options)
    const lazy = this.lazy!
    // Refused, not dropped: a URL handed out without the attachment the caller asked for would be
    // shown inline. Variants are pictures made for display; ask for the original with download instead.
    if (options?.download !== undefined) {
      throw new InvalidArgumentError(`a lazy variant ('${variant}') is served inline: download is not supported; use url(name, { download }) on the original`, {
        argument: 'download',
      })
    }
    let query = variantQuery(v)
    // A permanent URL keeps its canonical query, so its signature (and every URL already handed out) stays as it was.
    if (options?.expiresIn !== undefined) query = withExpiry(query, expiryAt(options.expiresIn, this.now()))
    return `${lazy.baseUrl}${encodeUrlPath(name)}?${query}&sig=${signVariant(lazy.secret, name, query)}`
  }

  /**
   * Checks a lazy variant request: the signature must match the source name
   * and the parameters exactly as signed (`expires` included, when the URL
   * has one); any other parameter is refused. The signature is checked before
   * the expiry, so a tampered URL never learns whether it expired.
   * @returns the variant to `ensure` and serve (with `expiresIn`, the seconds
   *   an expiring URL has left), or why it is refused: `'expired'` once its
   *   `expires` has passed by `lazy.now`. Never throws.
   */
  resolveVariant(source: string, query: URLSearchParams): ResolvedVariant | { refused: VariantRefusal } {
    const signature = query.get('sig')
    if (!signature || !this.lazy) return { refused: 'missing' }
    const expires = query.getAll('expires')
    const params = new URLSearchParams(query)
    params.delete('expires')
    const parsed = parseVariantQuery(params)
    if (!parsed || query.getAll('sig').length !== 1 || expires.length > 1) return { refused: 'invalid' }
    const canonical = expires.length === 1 ? withExpiry(variantQuery(parsed), expires[0]!) : variantQuery(parsed)
    if (!verifyVariant(this.lazy.secret, source, canonical, signature)) return { refused: 'invalid' }
    let expiresIn: number | undefined
    if (expires.length === 1) {
      // Signed, so it is the decimal variantUrl wrote; compared as signUrl's are (expired at the second itself).
      expiresIn = Number(expires[0]) - this.now() / 1000
      if (!(expiresIn > 0)) return { refused: 'expired' }
    }
    const v: NamedVariant = { ...parsed, lazy: true }
    const name = variantName(source, v)
    return { source, name, ensure: (storage) => this.ensure(storage, source, name, v), ...(expiresIn !== undefined && { expiresIn }) }
  }

  private ensure(storage: Storage, source: string, name: string, v: NamedVariant): Promise<void> {
    let pending = this.inFlight.get(storage)
    if (!pending) this.inFlight.set(storage, (pending = new Map()))
    const running = pending.get(name)
    if (running) return running
    const job = this.inTurn(() => this.generate(storage, source, name, v)).finally(() => pending.delete(name))
    pending.set(name, job)
    return job
  }

  /** Runs `work` once fewer than `lazy.concurrency` generations are running. */
  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve))
    else this.running++
    try {
      return await work()
    } finally {
      // The turn passes straight to the next one waiting (running stays the same), or is given back.
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }

  private async generate(storage: Storage, source: string, name: string, v: NamedVariant): Promise<void> {
    if (await storage.exists(name)) return
    const input = await readInput(await storage.open(source), this.limits.maxBytes)
    const info = await inspect(input, this.limits)
    const stored = await this.writeOutput(storage, name, input, info, v, { overwrite: false })
    // Another process stored it between our check and our write: keep theirs, drop ours.
    if (stored.name !== name) await storage.delete(stored.name)
    // The image may have been deleted while we decoded it: its deletion removed
    // the variants it found, not this one, and a variant URL made without
    // expiresIn never expires, so the deleted image would be served from it for good.
    if (!(await storage.exists(source))) {
      await storage.delete(name)
      throw new FileNotFoundError(source)
    }
  }
}

/**
 * @returns the canonical query of an expiring lazy URL: the variant's, then
 *   `expires`, as `variantUrl` signs it and `resolveVariant` rebuilds it.
 *   Never throws.
 */
function withExpiry(query: string, expires: number | string): string {
  return `${query}&${new URLSearchParams({ expires: String(expires) })}`
}

/**
 * Declares how an `imageField` processes its images.
 * @example imageField({ uploadTo: 'avatars/', processor: images({ variants: { thumb: { width: 160, height: 160, fit: 'cover', format: 'webp' } } }) })
 * @returns the processor, to pass as `imageField({ processor })` (and, with lazy variants, to `serveVariants({ resolver })`).
 * @throws ConfigurationError naming the bad key.
 */
export function images(options: ImagesOptions = {}): Images {
  return new Images(options)
}
