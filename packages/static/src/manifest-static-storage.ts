/**
 * `ManifestStaticStorage` wraps any storage (local disk, S3, memory) and
 * serves content-hashed names from a `staticfiles.json` manifest in
 * Django's format, as Django's `ManifestStaticFilesStorage` does.
 * `collectstatic` fills it; `url()` and `static()` read it.
 */
import type { Readable } from 'node:stream'
import {
  UnsupportedOperationError,
  ConfigurationError,
  encodeUrlPath,
  FileNotFoundError,
  InvalidArgumentError,
  isStorageError,
  readAll,
  safeDir,
  withTrailingSlash,
  type ByteRange,
  type Content,
  type CopyOptions,
  type DirectoryListing,
  type FileStat,
  type SaveOptions,
  type Storage,
  type StorageDescription,
  type UrlOptions,
} from '@stowage/core'
import { hashedName, md5Hex } from './hashing.js'
import { MANIFEST_NAME, MANIFEST_VERSION, parseManifest, serializeManifest, utf8, type Manifest, type ManifestVersion } from './manifest.js'
import { resolveCompressOptions, type CompressOptions, type ResolvedCompressOptions } from './precompress.js'
import { resolveCacheControl, type CacheControlOptions, type ResolvedCacheControl, type StaticSaveOptions } from './save-hints.js'

/** Options for `ManifestStaticStorage`. */
export interface ManifestStaticStorageOptions {
  /** The storage holding the collected files. */
  storage: Storage
  /**
   * Throw for names missing from the manifest (Django's `manifest_strict`).
   * When false, the name is hashed from the stored file instead. Default true.
   */
  strict?: boolean
  /** Name of the manifest file. Default `staticfiles.json`. */
  manifestName?: string
  /** Where the manifest lives, when not beside the files (Django's `manifest_storage`). */
  manifestStorage?: Storage
  /**
   * Public URL prefix of the files (`/static/` or `https://cdn.example/static/`), so
   * root-absolute references such as `url(/static/img/a.png)` resolve. Defaults to
   * the wrapped storage's `baseUrl` when it has one.
   */
  staticUrl?: string
  /** Also store each file under its original name, as Django does. Default true. */
  keepOriginals?: boolean
  /**
   * Manifest format to write: `'1.1'` (default; Django 4.2+) or `'1.0'` for
   * applications that share the manifest with Django 3.2 to 4.1, which read only 1.0.
   */
  manifestVersion?: ManifestVersion
  /**
   * Write `.br` and `.gz` beside each compressible hashed file (CSS, JS,
   * SVG, JSON, source maps, WASM, text), as WhiteNoise's
   * `CompressedManifestStaticFilesStorage` does; `serveStatic` then sends
   * them to clients that accept them. `true` or `CompressOptions`. Default false.
   */
  compress?: boolean | CompressOptions
  /**
   * `Cache-Control` stored with what `collectstatic` uploads, on backends that
   * keep headers (S3): hashed copies `public, max-age=31536000, immutable`,
   * originals `public, max-age=60` by default. The backend's own setting
   * (S3 `objectParameters.CacheControl`) wins over these.
   */
  cacheControl?: CacheControlOptions
  /**
   * A `sourceMappingURL` to a missing map fails `collectstatic` like any other
   * broken reference (`--strict-sourcemaps`). Default false: a warning, and the
   * comment is dropped from the hashed copy.
   */
  strictSourcemaps?: boolean
}

/** How a manifest is saved. It changes with every deploy: a cache must not keep an old one. */
export const MANIFEST_SAVE_OPTIONS: Readonly<StaticSaveOptions> = { overwrite: true, contentType: 'application/json; charset=utf-8', cacheControl: 'no-cache' }

/**
 * A storage whose `url()` gives content-hashed names from a manifest.
 * Every other method acts on the wrapped storage unchanged.
 */
export class ManifestStaticStorage implements Storage {
  readonly storage: Storage
  readonly manifestStorage: Storage
  readonly manifestName: string
  readonly strict: boolean
  readonly staticUrl: string | undefined
  readonly keepOriginals: boolean
  readonly manifestVersion: ManifestVersion
  /** Precompression settings, `undefined` when off. */
  readonly compress: ResolvedCompressOptions | undefined
  readonly cacheControl: ResolvedCacheControl
  readonly strictSourcemaps: boolean
  private manifest: Manifest | null | undefined
  private loading: Promise<Manifest | null> | undefined

  /** @throws ConfigurationError (naming the key) when `storage` is missing or an option is invalid. */
  constructor(options: ManifestStaticStorageOptions) {
    if (!options?.storage) throw new ConfigurationError('is required: the storage to wrap', { key: 'storage' })
    this.storage = options.storage
    this.manifestStorage = options.manifestStorage ?? options.storage
    this.manifestName = options.manifestName ?? MANIFEST_NAME
    this.strict = options.strict ?? true
    const inner = (options.storage as { baseUrl?: unknown }).baseUrl
    this.staticUrl = options.staticUrl ?? (typeof inner === 'string' ? inner : undefined)
    this.keepOriginals = options.keepOriginals ?? true
    this.manifestVersion = options.manifestVersion ?? MANIFEST_VERSION
    if (this.manifestVersion !== '1.0' && this.manifestVersion !== '1.1') {
      throw new ConfigurationError(`must be '1.0' or '1.1', got ${JSON.stringify(this.manifestVersion)}`, { key: 'manifestVersion' })
    }
    this.compress = resolveCompressOptions(options.compress)
    this.cacheControl = resolveCacheControl(options.cacheControl)
    if (options.strictSourcemaps !== undefined && typeof options.strictSourcemaps !== 'boolean') {
      throw new ConfigurationError(`must be true or false, got ${JSON.stringify(options.strictSourcemaps)}`, { key: 'strictSourcemaps' })
    }
    this.strictSourcemaps = options.strictSourcemaps ?? false
  }

  /**
   * Reads the manifest from storage (cached after the first call).
   * @returns the manifest, or `null` when none was written yet.
   * @throws StorageError (`EMANIFEST`) for an unreadable manifest.
   */
  async loadManifest(options: { reload?: boolean } = {}): Promise<Manifest | null> {
    if (this.manifest !== undefined && !options.reload) return this.manifest
    this.loading ??= this.readManifest().finally(() => {
      this.loading = undefined
    })
    this.manifest = await this.loading
    return this.manifest
  }

  /** @returns the manifest's text as stored, or `null` when there is none. */
  async readManifestText(): Promise<string | null> {
    try {
      return utf8(await this.manifestStorage.read(this.manifestName))
    } catch (err) {
      if (isStorageError(err, 'ENOENT')) return null
      throw err
    }
  }

  private async readManifest(): Promise<Manifest | null> {
    const text = await this.readManifestText()
    return text === null ? null : parseManifest(text, this.manifestName)
  }

  /**
   * Writes `manifest` (Django's format, paths sorted, so the same manifest
   * always gives the same bytes) and uses it from now on.
   */
  async saveManifest(manifest: Manifest): Promise<void> {
    await this.manifestStorage.save(this.manifestName, serializeManifest(manifest), MANIFEST_SAVE_OPTIONS)
    this.manifest = manifest
  }

  /** Uses `manifest` without reading or writing storage (after a dry run, or in tests). */
  setManifest(manifest: Manifest | null): void {
    this.manifest = manifest
  }

  /**
   * The hashed name for `name` (Django's `stored_name`); a query or fragment is kept.
   * @throws FileNotFoundError (`ENOENT`) when strict and `name` is not in the manifest,
   *   or when not strict and the file does not exist either.
   */
  async storedName(name: string): Promise<string> {
    const { path, suffix } = splitSuffix(name)
    const manifest = await this.loadManifest()
    const hit = manifest ? ownEntry(manifest.paths, path) : undefined
    if (hit !== undefined) return hit + suffix
    if (this.strict) {
      throw new FileNotFoundError(path, { context: { reason: `Missing staticfiles manifest entry for '${path}'` } })
    }
    return hashedName(path, md5Hex(await readAll(await this.storage.open(path)))) + suffix
  }

  /**
   * The URL of the hashed file. A directory (`'path/'`, `'path/?query'`) is
   * not hashed: its URL under the static prefix is returned, as Django's
   * `{% static 'path/' %}` renders it.
   * @throws FileNotFoundError as `storedName` does; InvalidArgumentError for a
   *   directory when no `staticUrl` is known and the storage has no plain URL for it.
   */
  async url(name: string, options?: UrlOptions): Promise<string> {
    const { path, suffix } = splitSuffix(name)
    if (isDirectoryPath(path)) return this.directoryUrl(path, suffix, options)
    const stored = await this.storedName(name)
    return appendSuffix(await this.storage.url(stored.slice(0, stored.length - suffix.length), options), suffix)
  }

  private async directoryUrl(path: string, suffix: string, options: UrlOptions | undefined): Promise<string> {
    const dir = safeDir(path)
    const rel = dir ? `${encodeUrlPath(dir)}/` : ''
    if (this.staticUrl !== undefined) return withTrailingSlash(this.staticUrl) + rel + suffix
    if (dir) {
      const url = await this.storage.url(dir, options)
      // A presigned URL signs one object; a directory has none to sign.
      if (!url.includes('?')) return `${url}/${suffix}`
    }
    throw new InvalidArgumentError(`No URL for the directory '${path}': set staticUrl on the ManifestStaticStorage`, { context: { name: path } })
  }

  /**
   * The Subresource Integrity (`sha384-…`) of the hashed file, for a
   * `<script integrity>` or `<link integrity>`.
   * @returns it, or `undefined` when the manifest records none (written by Django or an older Stowage).
   * @throws FileNotFoundError (`ENOENT`) when strict and `name` is not in the manifest.
   */
  async integrity(name: string): Promise<string | undefined> {
    const { path } = splitSuffix(name)
    const manifest = await this.loadManifest()
    if (manifest && ownEntry(manifest.paths, path) === undefined && this.strict) {
      throw new FileNotFoundError(path, { context: { reason: `Missing staticfiles manifest entry for '${path}'` } })
    }
    return manifest?.integrity && ownEntry(manifest.integrity, path)
  }

  /**
   * @returns the wrapped storage's description under this class's name, with
   *   `staticUrl` (when set) as the base URL: where hashed files are public.
   */
  async describe(): Promise<StorageDescription> {
    const inner = await this.storage.describe?.()
    const baseUrl = this.staticUrl ?? inner?.baseUrl
    return {
      backend: `ManifestStaticStorage(${inner?.backend ?? this.storage.constructor.name})`,
      location: inner?.location ?? '',
      ...(baseUrl !== undefined && { baseUrl }),
      signing: inner?.signing ?? 'none',
    }
  }

  save(name: string, content: Content, options?: SaveOptions): Promise<string> {
    return this.storage.save(name, content, options)
  }
  /** The wrapped storage's `copy()`. @throws UnsupportedOperationError when it has none. */
  copy(from: string, to: string, options?: CopyOptions): Promise<string> {
    if (!this.storage.copy)
      return Promise.reject(
        new UnsupportedOperationError(`${this.storage.constructor.name} has no copy()`, { context: { backend: this.storage.constructor.name } }),
      )
    return this.storage.copy(from, to, options)
  }
  open(name: string, options?: ByteRange): Promise<Readable> {
    return this.storage.open(name, options)
  }
  read(name: string): Promise<Uint8Array> {
    return this.storage.read(name)
  }
  delete(name: string): Promise<void> {
    return this.storage.delete(name)
  }
  exists(name: string): Promise<boolean> {
    return this.storage.exists(name)
  }
  size(name: string): Promise<number> {
    return this.storage.size(name)
  }
  stat(name: string): Promise<FileStat> {
    return this.storage.stat(name)
  }
  listdir(path: string): Promise<DirectoryListing> {
    return this.storage.listdir(path)
  }
  getValidName(name: string): string {
    return this.storage.getValidName(name)
  }
  getAvailableName(name: string, options?: { maxLength?: number }): Promise<string> {
    return this.storage.getAvailableName(name, options)
  }
  generateFilename(filename: string): string {
    return this.storage.generateFilename(filename)
  }
}

/**
 * @returns `record[key]` when `record` has that entry of its own, else
 *   `undefined`: a manifest is a plain object, and `paths['constructor']`
 *   would otherwise be `Object`, made into a URL or a TypeError.
 */
export function ownEntry(record: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined
}

/** @returns whether a static path names a directory (`''`, `'path/'`), which Django's `{% static %}` does not hash. */
export function isDirectoryPath(path: string): boolean {
  return path === '' || path.endsWith('/')
}

/** `css/a.css?v=1#x` → `{ path: 'css/a.css', suffix: '?v=1#x' }`. */
export function splitSuffix(name: string): { path: string; suffix: string } {
  const i = name.search(/[?#]/)
  return i < 0 ? { path: name.trim(), suffix: '' } : { path: name.slice(0, i).trim(), suffix: name.slice(i) }
}

/**
 * Appends a `?query#fragment` suffix to a URL that may already have a query
 * (a presigned S3 URL): the queries are joined with `&`.
 */
export function appendSuffix(url: string, suffix: string): string {
  if (!suffix) return url
  const hash = suffix.indexOf('#')
  const query = (hash < 0 ? suffix : suffix.slice(0, hash)).replace(/^\?/, '')
  const fragment = hash < 0 ? '' : suffix.slice(hash)
  let out = url
  if (query) out += (url.includes('?') ? '&' : '?') + query
  else if (suffix.startsWith('?') && !url.includes('?')) out += '?' // keep the `?#iefix` font hack
  return out + fragment
}

/** @returns whether `storage` is a `ManifestStaticStorage` (also across duplicate package copies). */
export function isManifestStorage(storage: Storage): storage is ManifestStaticStorage {
  return storage instanceof ManifestStaticStorage || typeof (storage as Partial<ManifestStaticStorage>).loadManifest === 'function'
}
