/**
 * Django's file naming rules (`django/utils/text.py:get_valid_filename`,
 * `django/core/files/storage/base.py`), as pure functions so every backend
 * and the fields share one implementation.
 */
import { randomInt } from 'node:crypto'
import { SuspiciousFileOperationError } from './errors.js'
import { fullExtension, joinName, MAX_SEGMENT_BYTES, safeName, splitExtension, splitName, truncateBytes, truncateUnits } from './paths.js'

/** A source of random suffixes; injectable so tests can be deterministic. */
export type RandomSuffix = () => string

const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
/** Length of the random suffix Django adds to a taken name. */
export const SUFFIX_LENGTH = 7

/** @returns 7 cryptographically random alphanumerics, as Django's `get_random_string(7)`. Never throws. */
export const randomSuffix: RandomSuffix = () => {
  let s = ''
  for (let i = 0; i < SUFFIX_LENGTH; i++) s += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]
  return s
}

// Python's `\w` in a unicode pattern: letters, numbers and underscore.
const INVALID_CHARS = /[^-\p{L}\p{N}_.]/gu

/**
 * Django's `get_valid_filename`: strip, spaces → `_`, drop everything outside
 * `[-\w.]`. `"john's portrait in 2004.jpg"` → `"johns_portrait_in_2004.jpg"`.
 * @returns the cleaned file name (no directory part is expected).
 * @throws SuspiciousFileOperationError when nothing usable is left (`''`, `'.'`, `'..'`).
 */
export function getValidFilename(name: string): string {
  const s = String(name).trim().replace(/ /g, '_').replace(INVALID_CHARS, '')
  if (s === '' || s === '.' || s === '..') {
    throw new SuspiciousFileOperationError(`Could not derive file name from '${name}'`, { context: { name } })
  }
  return s
}

/** @returns `root_XXXXXXX.ext` (Django's `get_alternative_name`), unchecked. Throws only what `random` throws. */
export function alternativeName(root: string, ext: string, random: RandomSuffix = randomSuffix): string {
  return `${root}_${random()}${ext}`
}

/**
 * Proposes names for `name` in Django's order: the name itself (if it fits in
 * `maxLength`), then `root_XXXXXXX.ext` variants whose root is truncated so
 * the whole name fits `maxLength` and the file part stays within
 * `MAX_SEGMENT_BYTES` (cut between characters). Every name yielded has passed
 * `safeName` and lies in `name`'s directory. The caller checks each candidate
 * for availability.
 * @returns an endless generator of candidates (`skipOriginal` leaves out `name` itself).
 * @throws SuspiciousFileOperationError (when the generator is advanced) for an
 *   unsafe `name`; when even a one-character root cannot fit; when a random
 *   suffix would make a name that is unsafe or in another directory.
 */
export function* candidateNames(
  name: string,
  options: { maxLength?: number; random?: RandomSuffix; skipOriginal?: boolean } = {},
): Generator<string, never, undefined> {
  const { maxLength, random = randomSuffix } = options
  const clean = safeName(name)
  const [dir, base] = splitName(clean)
  const ext = fullExtension(base)
  let root = base.slice(0, base.length - ext.length)
  if (!options.skipOriginal && (!maxLength || clean.length <= maxLength)) yield clean
  for (;;) {
    // One draw per candidate, so an injected sequence of suffixes maps one to one onto candidates.
    const suffix = random()
    const alternative = () => alternativeName(root, ext, () => suffix)
    const overLength = maxLength ? joinName(dir, alternative()).length - maxLength : 0
    if (overLength > 0) root = truncateUnits(root, root.length - overLength)
    const overBytes = Buffer.byteLength(alternative()) - MAX_SEGMENT_BYTES
    if (overBytes > 0) root = truncateBytes(root, Buffer.byteLength(root) - overBytes)
    if (!root) {
      const limit = overBytes > 0 ? `${MAX_SEGMENT_BYTES} bytes per path segment` : `maxLength ${maxLength}`
      throw new SuspiciousFileOperationError(
        `Storage can not find an available filename for '${clean}' within ${limit}. ` +
          'Please make sure that the corresponding file field allows sufficient "maxLength".',
        { context: { name: clean, maxLength } },
      )
    }
    yield derivedName(joinName(dir, alternative()), dir, clean)
  }
}

/**
 * The name to use when overwriting is allowed: the name itself, with its root
 * truncated to fit `maxLength` (Django's `get_available_overwrite_name`).
 * @returns a name that has passed `safeName`, in `name`'s directory.
 * @throws SuspiciousFileOperationError for an unsafe `name`, or when truncation
 *   would leave no file name (`''`, `'.'`, `'..'`): the extension and directory
 *   alone exceed `maxLength`.
 */
export function overwriteName(name: string, maxLength?: number): string {
  const clean = safeName(name)
  if (!maxLength || clean.length <= maxLength) return clean
  const [dir, base] = splitName(clean)
  const ext = fullExtension(base)
  const root = base.slice(0, base.length - ext.length)
  const kept = truncateUnits(root, root.length - (clean.length - maxLength)) + ext
  // A root of dots cut short ('...txt' → '..') would name the parent directory.
  if (kept === ext || kept === '.' || kept === '..') {
    throw new SuspiciousFileOperationError(
      `Storage tried to truncate away entire filename '${clean}'. ` + 'Please make sure that the corresponding file field allows sufficient "maxLength".',
      { context: { name: clean, maxLength } },
    )
  }
  return derivedName(joinName(dir, kept), dir, clean)
}

/**
 * Django's `UploadedFile` name rule, counted in UTF-8 bytes: a file name
 * longer than `maxBytes` keeps its last extension (itself cut to `maxBytes`)
 * and loses the end of its root, cut between characters.
 * @returns `base` when it fits, else the cut name (at most `maxBytes` bytes).
 */
export function truncateFilename(base: string, maxBytes: number = MAX_SEGMENT_BYTES): string {
  if (Buffer.byteLength(base) <= maxBytes) return base
  const [root, ext] = splitExtension(base)
  const keptExt = truncateBytes(ext, maxBytes)
  return truncateBytes(root, maxBytes - Buffer.byteLength(keptExt)) + keptExt
}

/**
 * Holds a name made from `original` by truncation or a suffix to the rules
 * `original` passed: safe, already normal, and in the same directory. A
 * suffix with a `/` in it could otherwise put the file in another directory
 * while every segment still looks harmless.
 */
function derivedName(candidate: string, dir: string, original: string): string {
  const clean = safeName(candidate)
  if (clean !== candidate || splitName(clean)[0] !== dir) {
    throw new SuspiciousFileOperationError(`Storage derived '${candidate}' from '${original}': not a file name in the same directory`, {
      context: { name: original, candidate },
    })
  }
  return clean
}
