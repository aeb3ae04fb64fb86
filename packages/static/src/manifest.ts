/**
 * `staticfiles.json` in Django's format (`ManifestFilesMixin`, version 1.1),
 * byte for byte what Python's `json.dumps` writes, so Django's
 * `ManifestStaticFilesStorage` can read a manifest we wrote and vice versa.
 *
 * One addition: an `integrity` object (original name → `sha384-…`
 * Subresource Integrity of the hashed file), as Propshaft records it. Django
 * reads only `paths`, `version` and `hash` (3.2 to 5.x alike), so the extra
 * key costs it nothing; a manifest Django writes simply has none.
 */
import { StorageError, safeName } from '@stowage/core'
import { createHash } from 'node:crypto'
import { HASH_LENGTH, md5Hex } from './hashing.js'

/** The bytes as UTF-8 text, decoded in place: `Buffer.from(bytes)` would copy them first (megabytes for a large tree's manifest or run record). */
export function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
}

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
  /** Original name → Subresource Integrity (`sha384-…`) of its hashed file; absent in manifests Django wrote. */
  integrity?: Record<string, string>
}

const NON_ASCII = /[\u007f-\uffff]/
const NON_ASCII_ALL = /[\u007f-\uffff]/g

/**
 * Python's `json.dumps` with its defaults (`ensure_ascii=True`,
 * separators `', '` and `': '`), for strings, arrays and plain objects.
 */
export function pythonJson(value: unknown): string {
  if (typeof value === 'string') {
    const json = JSON.stringify(value)
    // Nearly every name is ASCII: test once instead of running the replacement.
    return NON_ASCII.test(json) ? json.replace(NON_ASCII_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json
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
  // UTF-16 code units, fixed up where they disagree with code points: a
  // surrogate (U+D800-DFFF, half of a character past U+FFFF) sorts after
  // U+E000-FFFF by code point but before it by code unit. No arrays per
  // comparison: a 20,000-file manifest sorts in milliseconds.
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000
    }
    return x - y
  }
  return a.length - b.length
}

/**
 * Keys an object may order before all others, whatever the order they were
 * inserted in: array indices (integers below 2^32 - 1, written canonically).
 * It also takes the larger ten-digit integers, which only sends a record down
 * the slower, sorting path. Shared with the run record (collect-record.ts).
 */
export const INDEX_LIKE = /^(?:0|[1-9]\d{0,9})$/

/**
 * Whether `record`'s keys are already in Python's order and none looks like
 * an array index: then `JSON.stringify` writes its entries in that order (a
 * run inserts them so), and native JSON is the text Python writes but for
 * its separators. Otherwise entries are sorted and written one by one.
 */
function inPythonOrder(record: Record<string, string>): boolean {
  let previous: string | undefined
  for (const k in record) {
    if (INDEX_LIKE.test(k) || (previous !== undefined && byCodePoint(previous, k) > 0)) return false
    previous = k
  }
  return true
}

/** @returns Django's manifest hash: 12 hex of MD5 over `json.dumps(sorted(paths.items()))`. */
export function manifestHash(paths: Record<string, string>): string {
  if (inPythonOrder(paths)) {
    // Native JSON, then Python's list-of-pairs shape and separators. A quote
    // inside a JSON string is always escaped, so '":"' and '","' occur only
    // between strings: each is a structural separator.
    const json = JSON.stringify(paths)
    if (!NON_ASCII.test(json)) {
      const items = json === '{}' ? '[]' : `[[${json.slice(1, -1).replaceAll('":"', '", "').replaceAll('","', '"], ["')}]]`
      return md5Hex(items).slice(0, HASH_LENGTH)
    }
  }
  const items = Object.entries(paths).sort((a, b) => byCodePoint(a[0], b[0]) || byCodePoint(a[1], b[1]))
  // The MD5 of `pythonJson(items)`, fed an item at a time: the whole text of a
  // 20,000-file mapping would be a megabyte string made only to be hashed.
  const hash = createHash('md5').update('[')
  items.forEach(([k, v], i) => hash.update(`${i ? ', ' : ''}[${pythonJson(k)}, ${pythonJson(v)}]`))
  return hash.update(']').digest('hex').slice(0, HASH_LENGTH)
}

/** @returns a manifest for `paths`, with its hash (and `integrity` when given). */
export function createManifest(paths: Record<string, string>, version: ManifestVersion = MANIFEST_VERSION, integrity?: Record<string, string>): Manifest {
  return integrity ? { paths, version, hash: manifestHash(paths), integrity } : { paths, version, hash: manifestHash(paths) }
}

/** A JSON object of string values, keys sorted as Python's `sorted()` sorts them (objects would put integer-like keys first). */
function sortedObject(record: Record<string, string>): string {
  if (inPythonOrder(record)) {
    // Native JSON with a one-space indent has Python's ': ' already; its line
    // breaks (never inside a string: JSON escapes them) become ', '.
    const json = JSON.stringify(record, null, 1)
    if (json === '{}') return json
    if (!NON_ASCII.test(json)) return `{${json.slice(3, -2).replaceAll(',\n ', ', ')}}`
  }
  const items = Object.entries(record).sort((a, b) => byCodePoint(a[0], b[0]))
  return `{${items.map(([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`).join(', ')}}`
}

/**
 * @returns the manifest serialised as Django's `save_manifest()` does
 * (Python's `json.dumps`; version 1.0 has no `hash`, as Django before 4.2
 * writes none), with the paths sorted: the same manifest gives the same
 * bytes whatever order its paths were added in. `integrity` comes last, when present.
 */
export function serializeManifest(manifest: Manifest): string {
  const parts = [`"paths": ${sortedObject(manifest.paths)}`, `"version": ${pythonJson(manifest.version)}`]
  if (manifest.version !== '1.0') parts.push(`"hash": ${pythonJson(manifest.hash)}`)
  if (manifest.integrity) parts.push(`"integrity": ${sortedObject(manifest.integrity)}`)
  return `{${parts.join(', ')}}`
}

/**
 * Parses a manifest as Django's `load_manifest()` does: versions 1.0 and 1.1.
 * @returns the manifest (`paths` and `integrity` hold own entries only).
 * @throws StorageError (`EMANIFEST`) for invalid JSON, an unknown version,
 *   `paths` or `integrity` that is not an object of strings, or a hashed name
 *   that is not a name inside the storage (`../x`, `/x`: `safeName` refuses it).
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
  // Django reads `stored.get("paths", {})`. What the entries say is held to
  // what a manifest can mean: hashed names are stored names, used as they are
  // in URLs (`static()`), in `serveStatic`'s caching and by `cleanStatic`, so
  // one naming `../../x`, `/x`, or a number instead of a name is not a
  // manifest of these files, and loading it must fail rather than send pages
  // outside the static prefix.
  const paths = stringRecord(s.paths ?? {}, name, 'paths', true)
  const manifest: Manifest = { paths, version: s.version, hash: typeof s.hash === 'string' ? s.hash : '' }
  if (s.integrity !== undefined) manifest.integrity = stringRecord(s.integrity, name, 'integrity', false)
  return manifest
}

/**
 * @returns `value` as an object of strings (own entries only, made with
 *   `Object.fromEntries`, so a `__proto__` key stays a plain entry).
 * @throws StorageError (`EMANIFEST`) when it is not an object of strings, or
 *   (`storedNames`) when a value is not a name `safeName` accepts.
 */
function stringRecord(value: unknown, name: string, key: string, storedNames: boolean): Record<string, string> {
  const bad = (why: string) => new StorageError(`Couldn't load manifest '${name}': ${why}`, { code: 'EMANIFEST', context: { name, key } })
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw bad(`"${key}" is not an object`)
  const entries = Object.entries(value)
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw bad(`"${key}" maps ${JSON.stringify(k)} to ${JSON.stringify(v)}, not a string`)
    if (storedNames) {
      try {
        safeName(v)
      } catch (err) {
        throw new StorageError(`Couldn't load manifest '${name}': "${key}" maps ${JSON.stringify(k)} to ${JSON.stringify(v)}, not a name in the storage`, {
          code: 'EMANIFEST',
          cause: err,
          context: { name, key },
        })
      }
    }
  }
  return Object.fromEntries(entries) as Record<string, string>
}
