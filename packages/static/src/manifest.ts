/**
 * `staticfiles.json` in Django's format (`ManifestFilesMixin`, version 1.1),
 * byte for byte what Python's `json.dumps` writes, so Django's
 * `ManifestStaticFilesStorage` can read a manifest we wrote and vice versa.
 */
import { StorageError } from '@stowage/core'
import { HASH_LENGTH, md5Hex } from './hashing.js'

/** Django's manifest format version (Django 4.2 and later; they also read 1.0). */
export const MANIFEST_VERSION = '1.1'

/**
 * Manifest versions we write: `1.1` (Django 4.2+, with `hash`) or `1.0`
 * (what Django 3.2 to 4.1 write, and the only one they read).
 */
export type ManifestVersion = '1.0' | '1.1'
/** Django's manifest file name. */
export const MANIFEST_NAME = 'staticfiles.json'

/** A parsed manifest: original name → hashed name, plus Django's digest of the mapping. */
export interface Manifest {
  paths: Record<string, string>
  version: string
  hash: string
}

/**
 * Python's `json.dumps` with its defaults (`ensure_ascii=True`,
 * separators `', '` and `': '`), for strings, arrays and plain objects.
 */
export function pythonJson(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  }
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`
  if (value && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`)
      .join(', ')}}`
  }
  return JSON.stringify(value)
}

/** Compares as Python compares `str`: by code point, not UTF-16 unit. */
function byCodePoint(a: string, b: string): number {
  const x = [...a]
  const y = [...b]
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!
    if (d !== 0) return d
  }
  return x.length - y.length
}

/** @returns Django's manifest hash: 12 hex of MD5 over `json.dumps(sorted(paths.items()))`. */
export function manifestHash(paths: Record<string, string>): string {
  const items = Object.entries(paths).sort((a, b) => byCodePoint(a[0], b[0]) || byCodePoint(a[1], b[1]))
  return md5Hex(pythonJson(items)).slice(0, HASH_LENGTH)
}

/** @returns a manifest for `paths`, with its hash. */
export function createManifest(paths: Record<string, string>, version: ManifestVersion = MANIFEST_VERSION): Manifest {
  return { paths, version, hash: manifestHash(paths) }
}

/**
 * @returns the manifest serialised exactly as Django's `save_manifest()`
 * does: version 1.0 has no `hash` (Django before 4.2 writes none).
 */
export function serializeManifest(manifest: Manifest): string {
  if (manifest.version === '1.0') return pythonJson({ paths: manifest.paths, version: manifest.version })
  return pythonJson({ paths: manifest.paths, version: manifest.version, hash: manifest.hash })
}

/**
 * Parses a manifest as Django's `load_manifest()` does: versions 1.0 and 1.1.
 * @throws StorageError (`EMANIFEST`) for invalid JSON or an unknown version.
 */
export function parseManifest(text: string, name = MANIFEST_NAME): Manifest {
  let stored: unknown
  try {
    stored = JSON.parse(text)
  } catch (err) {
    throw new StorageError(`Couldn't load manifest '${name}': invalid JSON`, { code: 'EMANIFEST', cause: err, context: { name } })
  }
  const s = stored as Partial<Manifest> | null
  if (!s || typeof s !== 'object' || (s.version !== '1.0' && s.version !== '1.1')) {
    throw new StorageError(`Couldn't load manifest '${name}' (version ${String(s?.version)})`, { code: 'EMANIFEST', context: { name } })
  }
  const paths = s.paths && typeof s.paths === 'object' ? s.paths : {}
  return { paths: { ...paths }, version: s.version, hash: typeof s.hash === 'string' ? s.hash : '' }
}
