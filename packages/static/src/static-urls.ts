/**
 * `static('css/app.css')` → `/static/css/app.55e7cbb9ba48.css`: the URL of a
 * static file, hashed through the manifest in production, plain in
 * development (as Django's `{% static %}` does with `DEBUG`). Synchronous,
 * so templates can call it: the manifest is loaded once, up front.
 */
import { ConfigurationError, FileNotFoundError, encodeUrlPath, safeName, withTrailingSlash, type Storage } from '@stowage/core'
import type { Manifest } from './manifest.js'
import { isManifestStorage, splitSuffix } from './manifest-static-storage.js'

/** Options for `StaticUrls`. */
export interface StaticUrlsOptions {
  /** Public prefix of static files (`/static/`, `https://cdn.example/static/`). Default `/static/`. */
  baseUrl?: string
  /** The manifest; without one, URLs are not hashed (development). */
  manifest?: Manifest | null
  /** Throw for paths missing from the manifest (Django's `manifest_strict`). Default true. */
  strict?: boolean
}

/** Builds static URLs from a manifest. */
export class StaticUrls {
  readonly baseUrl: string
  readonly manifest: Manifest | null
  readonly strict: boolean

  constructor(options: StaticUrlsOptions = {}) {
    this.baseUrl = withTrailingSlash(options.baseUrl ?? '/static/')
    this.manifest = options.manifest ?? null
    this.strict = options.strict ?? true
  }

  /**
   * @returns the URL of `path` (hashed when a manifest is loaded); a `?query` or `#fragment` is kept.
   * @throws FileNotFoundError (`ENOENT`) when strict and `path` is not in the manifest;
   *   SuspiciousFileOperationError for a path that could escape the static root.
   */
  url(path: string): string {
    const { path: name, suffix } = splitSuffix(path)
    const clean = safeName(name)
    let stored = clean
    if (this.manifest) {
      const hit = this.manifest.paths[clean]
      if (hit !== undefined) stored = hit
      else if (this.strict) {
        throw new FileNotFoundError(clean, { context: { reason: `Missing staticfiles manifest entry for '${clean}'` } })
      }
    }
    return this.baseUrl + encodeUrlPath(stored) + suffix
  }
}

/**
 * Loads the manifest of a `ManifestStaticStorage` (or none, for a plain
 * storage or in development) and returns a `StaticUrls` for it.
 * @param options.debug serve unhashed names, as Django does with `DEBUG = True`.
 * @throws StorageError (`EMANIFEST`) when the manifest cannot be read.
 */
export async function loadStaticUrls(
  storage: Storage | undefined,
  options: { baseUrl?: string; debug?: boolean; strict?: boolean } = {},
): Promise<StaticUrls> {
  const manifestStorage = storage && isManifestStorage(storage) ? storage : undefined
  const manifest = !options.debug && manifestStorage ? await manifestStorage.loadManifest() : null
  // The storage says where its files are public (a bucket's URL, a CDN, `/static/`): asked through the contract.
  const fromStorage = (await storage?.describe?.())?.baseUrl
  return new StaticUrls({ baseUrl: options.baseUrl ?? fromStorage, manifest, strict: options.strict ?? manifestStorage?.strict })
}

let current = new StaticUrls()
let configured = false
let warned = false

/**
 * Before `configureStatic`, URLs are plain `/static/<path>`: right in
 * development, a silent cache-busting bug in production (unhashed names
 * served with long cache lifetimes, or from the wrong place).
 * @throws ConfigurationError when `NODE_ENV` is `production`; otherwise warns once.
 */
function requireConfigured(): void {
  if (configured) return
  const advice = 'call configureStatic(await loadStaticUrls(storages.get(\'staticfiles\'))) at start-up'
  if (process.env.NODE_ENV === 'production') {
    throw new ConfigurationError(`staticUrl() was called before configureStatic(): in production its URLs would not be hashed; ${advice}`)
  }
  if (warned) return
  warned = true
  process.emitWarning(`staticUrl() was called before configureStatic(): URLs are plain /static/<path> until then (fine in development; in production ${advice})`, 'StowageStaticWarning')
}

/** Sets what `staticUrl()` uses (call at start-up, e.g. with `await loadStaticUrls(...)`). @returns it. */
export function configureStatic(urls: StaticUrls | StaticUrlsOptions): StaticUrls {
  current = urls instanceof StaticUrls ? urls : new StaticUrls(urls)
  configured = true
  return current
}

/**
 * The URL of a static file, through the `StaticUrls` set by `configureStatic`.
 * Also exported as `static`. Before `configureStatic`, it gives plain
 * `/static/<path>` and warns once in development, and throws in production.
 * @throws FileNotFoundError when strict and the path is not in the manifest;
 *   ConfigurationError before `configureStatic` when `NODE_ENV` is `production`.
 */
export function staticUrl(path: string): string {
  requireConfigured()
  return current.url(path)
}
