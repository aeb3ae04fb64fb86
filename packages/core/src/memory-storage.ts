import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { readAll } from './content.js'
import { checkOptionValues, type OptionKind } from './backend.js'
import { checkOptionNames } from './check-options.js'
import { FileNotFoundError } from './errors.js'
import { encodeUrlPath } from './paths.js'
import { checkSigningSettings, signedStorageUrl, type SignedUrlSettings } from './signed-urls.js'
import {
  BaseStorage,
  type BaseStorageOptions,
  type ByteRange,
  type DirectoryListing,
  type CopyRequest,
  type FileStat,
  type UrlOptions,
  type WriteRequest,
} from './storage.js'
import type { StorageDescription } from './storage-description.js'

/** Options for `MemoryStorage`. */
export interface MemoryStorageOptions extends BaseStorageOptions {
  /** URL prefix for `url()`, e.g. `/media/`. Default `/`. */
  baseUrl?: string
  /** Clock for modification times and signed URLs' expiry; inject one in tests. */
  now?: () => Date
  /**
   * Secret for HMAC-signed, expiring URLs (`url(name, { expiresIn })`), as
   * `FileSystemStorage` makes them: `serveMedia({ private: true, signingSecret })`
   * verifies them. Without it, signed URLs are refused (`UnsupportedOperationError`).
   */
  signingSecret?: string
  /** Default lifetime in seconds of signed URLs when `url()` is given `download` but no `expiresIn`. Default 3600. */
  expiresIn?: number
}

/** Every option `MemoryStorage` takes, with its kind; anything else is refused. */
export const MEMORY_STORAGE_OPTIONS: { readonly [K in keyof MemoryStorageOptions]-?: OptionKind } = {
  baseUrl: 'string',
  now: 'code',
  signingSecret: 'secret',
  expiresIn: 'integer',
  overwrite: 'boolean',
  randomSuffix: 'code',
}

interface Entry {
  data: Buffer
  modified: Date
  contentType?: string
  etag: string
}

/**
 * A storage kept in a `Map`: for your application's tests, and a reference
 * for backend authors. It follows the full contract (naming, collisions,
 * aborts leave nothing) and adds `assertExists` / `assertMissing` helpers.
 */
export class MemoryStorage extends BaseStorage {
  protected override readonly atomicClaims: boolean = true
  private readonly files = new Map<string, Entry>()
  private readonly baseUrl: string
  private readonly now: () => Date
  private readonly signing: SignedUrlSettings

  /**
   * @throws ConfigurationError naming an unknown option (a subclass checks its own) or one of the wrong type,
   *   a `signingSecret` shorter than `MIN_SECRET_LENGTH`, or an `expiresIn` that is not a positive number of seconds.
   */
  constructor(options: MemoryStorageOptions = {}) {
    if (new.target === MemoryStorage) checkOptionNames(options, Object.keys(MEMORY_STORAGE_OPTIONS), 'MemoryStorage')
    checkOptionValues(options, MEMORY_STORAGE_OPTIONS)
    checkSigningSettings(options)
    super(options)
    this.baseUrl = withTrailingSlash(options.baseUrl ?? '/')
    this.now = options.now ?? (() => new Date())
    this.signing = { signingSecret: options.signingSecret, expiresIn: options.expiresIn }
  }

  protected async _write(req: WriteRequest): Promise<string> {
    // Read everything first: an aborted or failed stream throws here and
    // nothing is stored.
    const data = req.source.bytes ? Buffer.from(req.source.bytes) : await readAll(req.source.stream)
    let name = req.name
    // No await between the check and the set, so this claim is atomic.
    while (!req.overwrite && this.files.has(name)) name = await req.nextName()
    this.files.set(name, {
      data,
      modified: this.now(),
      contentType: req.contentType,
      etag: createHash('md5').update(data).digest('hex'),
    })
    return name
  }

  /** Shares the source's bytes (they are never changed in place). */
  protected override async _copy(from: string, req: CopyRequest): Promise<string> {
    const source = this.entry(from)
    req.signal?.throwIfAborted()
    let name = req.name
    while (!req.overwrite && this.files.has(name)) name = await req.nextName()
    // Written out, not spread: a spread entry would get a hidden class of its own, kept as long as the file.
    this.files.set(name, { data: source.data, modified: this.now(), contentType: req.contentType ?? source.contentType, etag: source.etag })
    return name
  }

  protected async _open(name: string, range: ByteRange): Promise<Readable> {
    const { data } = this.entry(name)
    const end = range.end === undefined ? data.length : Math.min(range.end + 1, data.length)
    return Readable.from([data.subarray(range.start ?? 0, end)])
  }

  protected override async _read(name: string): Promise<Uint8Array> {
    return Buffer.from(this.entry(name).data) // a copy: callers may write into it
  }

  protected async _delete(name: string): Promise<void> {
    this.files.delete(name)
  }

  protected override async _exists(name: string): Promise<boolean> {
    return this.files.has(name)
  }

  protected async _stat(name: string): Promise<FileStat> {
    const e = this.entry(name)
    return { size: e.data.length, modified: e.modified, contentType: e.contentType, etag: e.etag }
  }

  protected async _listdir(dir: string): Promise<DirectoryListing> {
    const prefix = dir ? `${dir}/` : ''
    const dirs = new Set<string>()
    const files: string[] = []
    for (const key of this.files.keys()) {
      if (!key.startsWith(prefix)) continue
      const rest = key.slice(prefix.length)
      const slash = rest.indexOf('/')
      if (slash < 0) files.push(rest)
      else dirs.add(rest.slice(0, slash))
    }
    return { dirs: [...dirs].sort(), files: files.sort() }
  }

  /** A signed URL for `expiresIn` or `download`, as `FileSystemStorage` makes it; refused without a `signingSecret`. */
  protected async _url(name: string, options: UrlOptions): Promise<string> {
    return signedStorageUrl(this.baseUrl + encodeUrlPath(name), name, options, {
      backend: 'MemoryStorage',
      ...this.signing,
      now: () => this.now().getTime(),
    })
  }

  /** @returns `memory`, with the `baseUrl` its URLs start with, and `hmac` signing when a `signingSecret` is set. Never throws. */
  override async describe(): Promise<StorageDescription> {
    return { backend: this.constructor.name, location: 'memory', baseUrl: this.baseUrl, signing: this.signing.signingSecret ? 'hmac' : 'none' }
  }

  private entry(name: string): Entry {
    const e = this.files.get(name)
    if (!e) throw new FileNotFoundError(name)
    return e
  }

  /** @returns every stored name, sorted: handy in assertions. Never throws. */
  names(): string[] {
    return [...this.files.keys()].sort()
  }

  /** Removes every file. Never throws. */
  clear(): void {
    this.files.clear()
  }

  /** @throws Error (an assertion failure) unless `name` is stored. */
  assertExists(name: string): void {
    if (!this.files.has(name)) throw new Error(`Expected '${name}' to exist; stored: ${this.names().join(', ') || '(nothing)'}`)
  }

  /** @throws Error (an assertion failure) if `name` is stored. */
  assertMissing(name: string): void {
    if (this.files.has(name)) throw new Error(`Expected '${name}' to be missing`)
  }
}

/** @returns `url` ending in one slash (`'/media'` → `'/media/'`), so names append cleanly. Never throws. */
export function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`
}
