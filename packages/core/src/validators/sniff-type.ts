import { SNIFF_BYTES } from './detect-type.js'
import type { Validator } from './validator.js'

/**
 * Refuses nothing: records the type detected from the bytes as a fact, so a
 * field can store the real content type even without `allowedTypes`.
 * @returns a validator with rule `sniffType`. Never throws.
 */
export function sniffType(): Validator {
  return {
    rule: 'sniffType',
    headBytes: SNIFF_BYTES,
    async checkHead(ctx) {
      if (!ctx.final && !ctx.truncated && ctx.head.byteLength < SNIFF_BYTES) return 'more'
      const type = await ctx.detect()
      return type ? { facts: { type } } : {}
    },
  }
}
