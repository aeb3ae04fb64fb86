import { InvalidArgumentError } from '../errors.js'
import type { Validator } from './validator.js'

/** Options for `maxSize`. */
export interface MaxSizeOptions {
  /** Smallest size allowed in bytes (e.g. 1 to refuse empty files). Default 0. */
  min?: number
}

/**
 * Refuses files larger than `bytes`. Checked on every chunk, so an upload is
 * cut off as soon as it passes the limit rather than after it has been read.
 * @returns a validator with rule `maxSize` (and `minSize` for `options.min`).
 * @throws InvalidArgumentError (`EINVAL`) when a limit is not a non-negative integer.
 */
export function maxSize(bytes: number, options: MaxSizeOptions = {}): Validator {
  const min = options.min ?? 0
  for (const [key, v] of [
    ['maxSize', bytes],
    ['min', min],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`${key} must be a non-negative integer, got ${v}`, { argument: key })
  }
  return {
    rule: 'maxSize',
    checkSize(size, final) {
      if (size > bytes) {
        return [{ rule: 'maxSize', message: `File is larger than the limit of ${bytes} bytes`, params: { limit: bytes, received: size } }]
      }
      if (final && size < min) {
        return [{ rule: 'minSize', message: `File is smaller than the minimum of ${min} bytes`, params: { limit: min, size } }]
      }
      return undefined
    },
  }
}
