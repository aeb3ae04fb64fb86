/**
 * Django's file naming rules (`django/utils/text.py:get_valid_filename`,
 * `django/core/files/storage/base.py`), as pure functions so every backend
 * and the fields share one implementation.
 */
import { randomInt } from 'node:crypto'
import { SuspiciousFileOperationError } from './errors.js'
import { fullExtension, joinName, splitName } from './paths.js'

/** A source of random suffixes; injectable so tests can be deterministic. */
export type RandomSuffix = () => string

const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
/** Length of the random suffix Django adds to a taken name. */
export const SUFFIX_LENGTH = 7

/** 7 cryptographically random alphanumerics, as Django's `get_random_string(7)`. */
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

/** `root_XXXXXXX.ext`: Django's `get_alternative_name`. */
export function alternativeName(root: string, ext: string, random: RandomSuffix = randomSuffix): string {
  return `${root}_${random()}${ext}`
}

/**
 * Proposes names for `name` in Django's order: the name itself (if it fits in
 * `maxLength`), then `root_XXXXXXX.ext` variants whose root is truncated so
 * the whole name fits. The caller checks each candidate for availability.
 * @throws SuspiciousFileOperationError when even a one-character root cannot fit.
 */
export function* candidateNames(
  name: string,
  options: { maxLength?: number; random?: RandomSuffix; skipOriginal?: boolean } = {},
): Generator<string, never, undefined> {
  const { maxLength, random = randomSuffix } = options
  const [dir, base] = splitName(name)
  const ext = fullExtension(base)
  let root = base.slice(0, base.length - ext.length)
  const fits = (n: string) => !maxLength || n.length <= maxLength
  if (!options.skipOriginal && fits(name)) yield name
  for (;;) {
    let candidate = joinName(dir, alternativeName(root, ext, random))
    const truncation = maxLength ? candidate.length - maxLength : 0
    if (truncation > 0) {
      root = root.slice(0, Math.max(0, root.length - truncation))
      if (!root) {
        throw new SuspiciousFileOperationError(
          `Storage can not find an available filename for '${candidate}'. ` +
            'Please make sure that the corresponding file field allows sufficient "maxLength".',
          { context: { name, maxLength } },
        )
      }
      candidate = joinName(dir, alternativeName(root, ext, random))
    }
    yield candidate
  }
}

/**
 * The name to use when overwriting is allowed: the name itself, with its root
 * truncated to fit `maxLength` (Django's `get_available_overwrite_name`).
 * @throws SuspiciousFileOperationError when the extension and directory alone exceed `maxLength`.
 */
export function overwriteName(name: string, maxLength?: number): string {
  if (!maxLength || name.length <= maxLength) return name
  const [dir, base] = splitName(name)
  const ext = fullExtension(base)
  const root = base.slice(0, base.length - ext.length)
  const truncation = name.length - maxLength
  const kept = root.slice(0, Math.max(0, root.length - truncation))
  if (!kept) {
    throw new SuspiciousFileOperationError(
      `Storage tried to truncate away entire filename '${name}'. ` +
        'Please make sure that the corresponding file field allows sufficient "maxLength".',
      { context: { name, maxLength } },
    )
  }
  return joinName(dir, kept + ext)
}
