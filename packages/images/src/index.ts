/**
 * `@stowage/images`: image processing for `imageField` on sharp. Metadata
 * stripped and orientation applied by default, eager and lazy (signed)
 * variants, decoding limits.
 */
export { images, Images, DEFAULT_MAX_IMAGE_BYTES, DEFAULT_ORIGINAL_QUALITY, type ImagesOptions, type LazyVariantOptions } from './images.js'
export type { AnimatedPolicy } from './encode.js'
export {
  variantName,
  variantsDir,
  VARIANT_FORMATS,
  VARIANT_FITS,
  MAX_VARIANT_SIDE,
  type VariantSpec,
  type VariantFormat,
  type VariantFit,
  type NamedVariant,
} from './variant-spec.js'
