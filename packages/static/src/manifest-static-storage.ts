/**
 * `ManifestStaticStorage` wraps any storage (local disk, S3, memory) and
 * serves content-hashed names from a `staticfiles.json` manifest in
 * Django's format, as Django's `ManifestStaticFilesStorage` does.
 * `collectstatic` fills it; `url()` and `static()` read it.
 */
import type { Readable } from 'node:stream'
import {
  ConfigurationError,
  FileNotFoundError,
  isStorageError,
  readAll,
  type ByteRange,
  type Content,
  type DirectoryListing,
  type FileStat,
  type SaveOptions,
  type Storage,
  type StorageDescription,
  type UrlOptions,
} from '@stowage/core'
import { hashedName, md5Hex } from './hashing.js'
import { MANIFEST_NAME, MANIFEST_VERSION, parseManifest, serializeManifest, type Manifest, type ManifestVersion } from './manifest.js'

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
}

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
  private manifest: Manifest | null | undefined
  private loading: Promise<Manifest | null> | undefined

  /** @throws ConfigurationError (key `storage`) when `storage` is missing. */
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
      return Buffer.from(await this.manifestStorage.read(this.manifestName)).toString('utf8')
    } catch (err) {
      if (isStorageError(err, 'ENOENT')) return null
      throw err
    }
  }

  private async readManifest(): Promise<Manifest | null> {
    const text = await this.readManifestText()
    return text === null ? null : parseManifest(text, this.manifestName)
  }

  /** Writes `manifest` (Django's byte format) and uses it from now on. */
  async saveManifest(manifest: Manifest): Promise<void> {
    await this.manifestStorage.save(this.manifestName, serializeManifest(manifest), {
      overwrite: true,
      contentType: 'application/json; charset=utf-8',
    })
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
    const hit = manifest?.paths[path]
    if (hit !== undefined) return hit + suffix
    if (this.strict) {
      throw new FileNotFoundError(path, { context: { reason: `Missing staticfiles manifest entry for '${path}'` } })
    }
    return hashedName(path, md5Hex(await readAll(await this.storage.open(path)))) + suffix
  }

  /** @returns the URL of the hashed file. @throws FileNotFoundError as `storedName` does. */
  async url(name: string, options?: UrlOptions): Promise<string> {
    const { suffix } = splitSuffix(name)
    const stored = await this.storedName(name)
    return appendSuffix(await this.storage.url(stored.slice(0, stored.length - suffix.length), options), suffix)
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
