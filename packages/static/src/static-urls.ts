/**
 * `static('css/app.css')` → `/static/css/app.55e7cbb9ba48.css`: the URL of a
 * static file, hashed through the manifest in production, plain in
 * development (as Django's `{% static %}` does with `DEBUG`). Synchronous,
 * so templates can call it: the manifest is loaded once, up front.
 */
import { ConfigurationError, FileNotFoundError, InvalidArgumentError, encodeUrlPath, safeDir, safeName, withTrailingSlash, type Storage } from '@stowage/core'
import type { Manifest } from './manifest.js'
import { isDirectoryPath, isManifestStorage, ownEntry, splitSuffix } from './manifest-static-storage.js'

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
   *   A directory (`'path/'`, `'path/?query'`) is not hashed, as in Django: `/static/path/?query`.
   * @throws FileNotFoundError (`ENOENT`) when strict and `path` is not in the manifest;
   *   SuspiciousFileOperationError for a path that could escape the static root.
   */
  url(path: string): string {
    const { path: name, suffix } = splitSuffix(path)
    if (isDirectoryPath(name)) {
      const dir = safeDir(name)
      return this.baseUrl + (dir ? `${encodeUrlPath(dir)}/` : '') + suffix
    }
    return this.baseUrl + encodeUrlPath(this.lookup(name)) + suffix
  }

  /**
   * The Subresource Integrity (`sha384-…`) of the file `url(path)` points to.
   * @returns it, or `undefined` without a manifest (development), for a
   *   directory, or when the manifest records none (written by Django).
   * @throws FileNotFoundError (`ENOENT`) when strict and `path` is not in the manifest;
   *   SuspiciousFileOperationError for a path that could escape the static root.
   */
  integrity(path: string): string | undefined {
    const { path: name } = splitSuffix(path)
    if (isDirectoryPath(name) || !this.manifest) return undefined
    const clean = safeName(name)
    this.lookup(clean)
    return this.manifest.integrity && ownEntry(this.manifest.integrity, clean)
  }

  /**
   * A `<script>` tag for `path`, with `integrity` and `crossorigin` when the
   * manifest records the file's integrity (a tampered or truncated copy, on a
   * CDN or anywhere else, is then refused by the browser).
   * @param attributes more attributes: `{ type: 'module', defer: true, nonce }`; `true` writes a bare attribute, `false`/`undefined` none.
   * @returns the HTML. @throws as `url()` does; InvalidArgumentError for an attribute name that is not one.
   */
  scriptTag(path: string, attributes: TagAttributes = {}): string {
    return `<script${attrs({ src: this.url(path), ...this.sri(path, attributes), ...attributes })}></script>`
  }

  /**
   * A `<link rel="stylesheet">` tag for `path`, with `integrity` and `crossorigin` as `scriptTag` adds them.
   * @param attributes more attributes: `{ media: 'print' }`.
   * @returns the HTML. @throws as `url()` does.
   */
  stylesheetTag(path: string, attributes: TagAttributes = {}): string {
    return `<link${attrs({ rel: 'stylesheet', href: this.url(path), ...this.sri(path, attributes), ...attributes })}>`
  }

  private sri(path: string, attributes: TagAttributes): TagAttributes {
    const integrity = this.integrity(path)
    // Integrity is checked only on CORS requests: `anonymous` sends no cookies to a CDN.
    return integrity ? { integrity, crossorigin: attributes.crossorigin ?? 'anonymous' } : {}
  }

  /** @returns the stored name of the file `path` (hashed through the manifest when there is one). */
  private lookup(path: string): string {
    const name = safeName(path)
    if (!this.manifest) return name
    // Own entries only: `constructor` or `toString` is not in a manifest because every object has one.
    const hit = ownEntry(this.manifest.paths, name)
    if (hit !== undefined) return hit
    if (this.strict) throw new FileNotFoundError(name, { context: { reason: `Missing staticfiles manifest entry for '${name}'` } })
    return name
  }
}

/** Attributes of a generated tag: strings are escaped, `true` is a bare attribute, `false`/`undefined` are left out. */
export type TagAttributes = Record<string, string | boolean | undefined>

const ESCAPES: Record<string, string> = { '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;', "'": '&#39;' }

function attrs(attributes: TagAttributes): string {
  let out = ''
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    if (!/^[a-z][a-z0-9-]*$/i.test(name)) throw new InvalidArgumentError(`'${name}' is not an HTML attribute name`, { argument: 'attributes' })
    out += value === true ? ` ${name}` : ` ${name}="${String(value).replace(/[&"<>']/g, (c) => ESCAPES[c]!)}"`
  }
  return out
}

/**
 * Loads the manifest of a `ManifestStaticStorage` (or none, for a plain
 * storage or in development) and returns a `StaticUrls` for it.
 * @param options.debug serve unhashed names, as Django does with `DEBUG = True`.
 * @throws StorageError (`EMANIFEST`) when the manifest cannot be read.
 */
export async function loadStaticUrls(storage: Storage | undefined, options: { baseUrl?: string; debug?: boolean; strict?: boolean } = {}): Promise<StaticUrls> {
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
  const advice = "call configureStatic(await loadStaticUrls(storages.get('staticfiles'))) at start-up"
  if (process.env.NODE_ENV === 'production') {
    throw new ConfigurationError(`staticUrl() was called before configureStatic(): in production its URLs would not be hashed; ${advice}`)
  }
  if (warned) return
  warned = true
  process.emitWarning(
    `staticUrl() was called before configureStatic(): URLs are plain /static/<path> until then (fine in development; in production ${advice})`,
    'StowageStaticWarning',
  )
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

/**
 * The Subresource Integrity (`sha384-…`) of a static file, through the
 * `StaticUrls` set by `configureStatic`.
 * @returns it, or `undefined` in development (no manifest) or when the manifest records none.
 * @throws FileNotFoundError when strict and the path is not in the manifest.
 */
export function staticIntegrity(path: string): string | undefined {
  requireConfigured()
  return current.integrity(path)
}

/** @returns the `StaticUrls` that `staticUrl()` uses now. */
export function currentStatic(): StaticUrls {
  requireConfigured()
  return current
}
