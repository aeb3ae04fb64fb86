import { InvalidArgumentError, type ValidationFailure } from '../errors.js'
import { readImageSize } from './read-image-size.js'
import type { Validator } from './validator.js'

/** Pillow's decompression-bomb threshold (`Image.MAX_IMAGE_PIXELS`): about 89.5 megapixels. */
export const DEFAULT_MAX_PIXELS = 89_478_485

/** Limits for `imageDimensions`; every bound is inclusive. */
export interface ImageDimensionsOptions {
  minWidth?: number
  minHeight?: number
  maxWidth?: number
  maxHeight?: number
  /** Largest width × height; refuses decompression bombs. Default `DEFAULT_MAX_PIXELS`. */
  maxPixels?: number
}

/**
 * Accepts only images (PNG, GIF, JPEG, WebP, BMP) whose header declares
 * dimensions within bounds. Reads the header only, never the pixels, so a
 * tiny file claiming billions of pixels is refused before anything decodes it.
 * Content that is not a readable image is refused too.
 * @returns a validator with rule `imageDimensions`.
 * @throws InvalidArgumentError (`EINVAL`) when a bound is not a positive integer.
 */
export function imageDimensions(options: ImageDimensionsOptions = {}): Validator {
  const limits = { maxPixels: DEFAULT_MAX_PIXELS, ...options }
  for (const [key, v] of Object.entries(limits)) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0))
      throw new InvalidArgumentError(`imageDimensions ${key} must be a positive integer, got ${v}`, { argument: key })
  }
  const fail = (reason: string, message: string, params: Record<string, unknown> = {}): ValidationFailure => ({
    rule: 'imageDimensions',
    message,
    params: { reason, ...params },
  })
  return {
    rule: 'imageDimensions',
    headBytes: 32,
    checkHead(ctx) {
      const size = readImageSize(ctx.head)
      if (size === 'more' && !ctx.final) return 'more'
      if (size === undefined || size === 'more') return { failures: [fail('notImage', 'File is not an image whose dimensions can be read')] }
      const { width, height } = size
      const params = { width, height }
      const failures: ValidationFailure[] = []
      if (width === 0 || height === 0) failures.push(fail('empty', `Image has no pixels (${width}×${height})`, params))
      if (limits.minWidth !== undefined && width < limits.minWidth)
        failures.push(fail('minWidth', `Image is ${width} pixels wide, less than ${limits.minWidth}`, { ...params, limit: limits.minWidth }))
      if (limits.minHeight !== undefined && height < limits.minHeight)
        failures.push(fail('minHeight', `Image is ${height} pixels high, less than ${limits.minHeight}`, { ...params, limit: limits.minHeight }))
      if (limits.maxWidth !== undefined && width > limits.maxWidth)
        failures.push(fail('maxWidth', `Image is ${width} pixels wide, more than ${limits.maxWidth}`, { ...params, limit: limits.maxWidth }))
      if (limits.maxHeight !== undefined && height > limits.maxHeight)
        failures.push(fail('maxHeight', `Image is ${height} pixels high, more than ${limits.maxHeight}`, { ...params, limit: limits.maxHeight }))
      if (width * height > limits.maxPixels) {
        failures.push(
          fail('maxPixels', `Image has ${width * height} pixels, more than ${limits.maxPixels} (possible decompression bomb)`, {
            ...params,
            limit: limits.maxPixels,
          }),
        )
      }
      return { failures, facts: { width, height } }
    },
  }
}
