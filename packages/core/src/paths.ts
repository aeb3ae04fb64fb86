/**
 * Path safety in one place. Every name that reaches a backend has passed
 * through `safeName` (files) or `safeDir` (directories), so a backend can
 * join it to its root or key prefix without further checks.
 *
 * Names are POSIX-style and relative. We refuse rather than repair anything
 * that could mean a different file on some layer below us: Windows treating
 * `\` and `C:` specially, C APIs stopping at NUL.
 *
 * A percent escape (`%2F`, `%2e%2e`, `%00`) is *not* refused: in a name it is
 * three literal characters, on disk and in an S3 key alike (Django's own
 * fixture `test/%2F.txt` is such a file). It only becomes a separator or a dot
 * if something URL-decodes the name, and Stowage never does: every URL it
 * builds encodes `%` as `%25` (`encodeUrlPath`, the S3 presigner and copy
 * sources), and every request path it serves is decoded exactly once and then
 * held to these rules again, so `/static/test/%252F.txt` is the file
 * `test/%2F.txt` and `/static/..%252Fx` is the literal name `..%2Fx`, inside
 * the root. Earlier versions refused these escapes as defence in depth; see
 * docs/threat-model.md ("Percent escapes in names") for why that was dropped.
 */
import { SuspiciousFileOperationError } from './errors.js'

/** Longest name we accept, in UTF-8 bytes: S3's key limit, so a name valid on one backend is valid on all. */
export const MAX_NAME_BYTES = 1024
/** Longest single path segment, in UTF-8 bytes: the common file system limit (ext4, APFS, NTFS). */
export const MAX_SEGMENT_BYTES = 255

// C0 controls and DEL: NUL truncates in C, CR/LF split HTTP headers and logs.
const CONTROL = /[\u0000-\u001f\u007f]/
const DRIVE = /^[a-zA-Z]:/
// Invalid UTF-16 cannot be encoded as a file name or an S3 key.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function refuse(reason: string, name: string): never {
  throw new SuspiciousFileOperationError(`${reason} in '${printable(name)}'`, { context: { name } })
}

/** The name with control characters escaped, safe to put in a message or a log line. */
function printable(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

function checkRaw(name: unknown, what: string): string {
  if (typeof name !== 'string') throw new SuspiciousFileOperationError(`${what} must be a string, got ${typeof name}`)
  if (CONTROL.test(name)) refuse('Control character or NUL byte', name)
  if (name.includes('\\')) refuse('Backslash', name)
  if (name.startsWith('/')) refuse('Absolute path', name)
  if (DRIVE.test(name)) refuse('Drive letter', name)
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) refuse(`Name longer than ${MAX_NAME_BYTES} bytes`, name)
  if (LONE_SURROGATE.test(name)) refuse('Lone surrogate', name)
  return name
}

function segments(name: string): string[] {
  const parts: string[] = []
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') refuse('Path traversal', name)
    // `./C:/x` normalises to `C:/x`: check the first segment that survives, not just the raw start.
    if (parts.length === 0 && DRIVE.test(part)) refuse('Drive letter', name)
    if (Buffer.byteLength(part) > MAX_SEGMENT_BYTES) refuse(`Path segment longer than ${MAX_SEGMENT_BYTES} bytes`, name)
    parts.push(part)
  }
  return parts
}

/**
 * Validates and normalises a file name: `a//b/./c.txt` → `a/b/c.txt`.
 * @returns the normalised relative POSIX name.
 * @throws SuspiciousFileOperationError for `..`, absolute paths, drive letters,
 *   backslashes, NUL/control characters, lone surrogates, over-long names, or
 *   a name with no file part (`''`, `'.'`, `'dir/'`). Percent escapes are kept
 *   as literal characters (`test/%2F.txt` is a file named `%2F.txt`): build
 *   its URL with `encodeUrlPath`, never by pasting the name into a URL.
 */
export function safeName(name: string): string {
  if (plainName(name)) return name
  checkRaw(name, 'File name')
  if (name.endsWith('/')) refuse('No file name', name)
  const parts = segments(name)
  if (parts.length === 0) refuse('No file name', name)
  return parts.join('/')
}

/**
 * @returns whether `name` is one `safeName` accepts unchanged, judged in one
 *   pass: printable ASCII but a backslash, at most 255 characters (so within
 *   every byte limit), no empty, `.` or `..` segment, no drive letter. A
 *   strict subset of what `safeName` accepts, for speed only: most names are
 *   like this, and the general checks (regular expressions, a split, byte
 *   lengths) cost about three times `JSON.parse` on a 20,000-name manifest.
 *   Other names take the general path, which decides.
 */
function plainName(name: string): boolean {
  if (typeof name !== 'string') return false
  const n = name.length
  if (n === 0 || n > MAX_SEGMENT_BYTES || (name.charCodeAt(1) === 0x3a /* : */ && isLetter(name.charCodeAt(0)))) return false
  let start = 0
  for (let i = 0; i <= n; i++) {
    const c = i < n ? name.charCodeAt(i) : 0x2f
    if (c === 0x2f /* / */) {
      const len = i - start
      if (len === 0 || (len <= 2 && name.charCodeAt(start) === 0x2e && (len === 1 || name.charCodeAt(start + 1) === 0x2e))) return false
      start = i + 1
    } else if (c < 0x20 || c > 0x7e || c === 0x5c /* backslash */) return false
  }
  return true
}

const isLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)

/**
 * Validates and normalises a directory path; `''`, `'.'` and `'/'`-free
 * equivalents mean the storage root and give `''`.
 * @returns the normalised directory without leading or trailing slash.
 * @throws SuspiciousFileOperationError as `safeName` does.
 */
export function safeDir(path: string): string {
  checkRaw(path, 'Directory')
  return segments(path).join('/')
}

/** @returns `a/b/c.txt` split into `['a/b', 'c.txt']` (`''` for no directory). Never throws. */
export function splitName(name: string): [dir: string, base: string] {
  const i = name.lastIndexOf('/')
  return i < 0 ? ['', name] : [name.slice(0, i), name.slice(i + 1)]
}

/** @returns the POSIX path parts joined with `/`, skipping empty ones; not checked (see `safeName`). Never throws. */
export function joinName(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/')
}

/**
 * The full extension as Python's `PurePath.suffixes` gives it, joined:
 * `a.tar.gz` → `.tar.gz`, `.bashrc` → `''`, `name.` → `''`. Never throws.
 */
export function fullExtension(base: string): string {
  if (base.endsWith('.')) return ''
  const stem = base.replace(/^\.+/, '')
  const i = stem.indexOf('.')
  return i < 0 ? '' : stem.slice(i)
}

/**
 * Python's `os.path.splitext` of a file name: the last extension, with
 * leading dots not counting (`a.tar.gz` → `['a.tar', '.gz']`,
 * `.bashrc` → `['.bashrc', '']`, `a.` → `['a', '.']`).
 * @returns `[root, ext]`, whose concatenation is `base`.
 */
export function splitExtension(base: string): [root: string, ext: string] {
  const dot = base.lastIndexOf('.')
  if (dot > 0 && /[^.]/.test(base.slice(0, dot))) return [base.slice(0, dot), base.slice(dot)]
  return [base, '']
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff

/**
 * The first `units` UTF-16 code units of `s` (`String#slice`), one fewer when
 * the cut would split a surrogate pair: half a pair is invalid UTF-16, which
 * `safeName` refuses and no backend can store.
 * @returns a prefix of `s`, `''` for `units <= 0`.
 */
export function truncateUnits(s: string, units: number): string {
  if (units >= s.length) return s
  if (units <= 0) return ''
  return s.slice(0, isHighSurrogate(s.charCodeAt(units - 1)) ? units - 1 : units)
}

/**
 * The longest prefix of `s` whose UTF-8 encoding fits in `maxBytes`, cut
 * between code points (never inside a character's bytes or a surrogate pair).
 * @returns a prefix of `s`, `''` for `maxBytes <= 0`.
 */
export function truncateBytes(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s
  let bytes = 0
  let end = 0
  for (const ch of s) {
    bytes += Buffer.byteLength(ch)
    if (bytes > maxBytes) break
    end += ch.length
  }
  return s.slice(0, end)
}

/**
 * Percent-encodes a name for use in a URL path. Keeps `/` and, as Django's
 * `filepath_to_uri` does, `~!*()'` (which `encodeURIComponent` leaves alone).
 * `%` becomes `%25`, so a name holding an escape (`test/%2F.txt`) gives a URL
 * (`test/%252F.txt`) that decodes once back to the name, never to `test//.txt`.
 * @returns the encoded path; `decodeURIComponent` of it is `name`.
 * @throws URIError for a lone surrogate (which `safeName` refuses, so never for a stored name).
 */
export function encodeUrlPath(name: string): string {
  return name
    .split('/')
    .map((seg) => encodeURIComponent(seg))
    .join('/')
}

/**
 * The first characters of every name Stowage keeps for its own
 * bookkeeping (direct uploads awaiting validation, run records, deploy
 * history, probes): never the application's content, never served.
 */
export const STOWAGE_PREFIX = '.stowage'

/**
 * @returns whether `name` is one of Stowage's own (see `STOWAGE_PREFIX`),
 *   judged on its normalised form, so `./.stowage-x` and `a/../.stowage-x`
 *   count too. A name `safeName` refuses is not one (the caller refuses it anyway). Never throws.
 */
export function isStowageName(name: string): boolean {
  try {
    return safeName(name).startsWith(STOWAGE_PREFIX)
  } catch {
    return false
  }
}
