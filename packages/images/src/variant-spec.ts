/**
 * Variant declarations: checking them, their canonical query form (what a
 * lazy URL carries and its signature covers), and the names variants are
 * stored under, beside their original.
 */
import { createHash } from 'node:crypto'
import { ConfigurationError, variantsDir } from '@stowage/core'

/** Output formats a variant may be encoded in. */
export const VARIANT_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'gif'] as const
/** One of `VARIANT_FORMATS`. */
export type VariantFormat = (typeof VARIANT_FORMATS)[number]

/** How a variant fits its box (sharp's `fit`, CSS `object-fit`). */
export const VARIANT_FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const
/** One of `VARIANT_FITS`. */
export type VariantFit = (typeof VARIANT_FITS)[number]

/** Longest side a variant may ask for: larger boxes are almost certainly a typo. */
export const MAX_VARIANT_SIDE = 16_384

/** One derived size of an image. */
export interface VariantSpec {
  /** Box width in pixels. At least one of `width` and `height`. */
  width?: number
  /** Box height in pixels. */
  height?: number
  /** How the image fills the box. Default `inside`: scaled down to fit, never cropped. */
  fit?: VariantFit
  /** Output format. Default: the original's. */
  format?: VariantFormat
  /** Encoder quality, 1–100. Default: sharp's for the format. */
  quality?: number
  /**
   * Generate on first request (`variantUrl` gives a signed URL that
   * `@stowage/http`'s `serveVariants` answers) instead of in the same save.
   * Default false: eager.
   */
  lazy?: boolean
}

/** A checked spec, with its name. */
export interface NamedVariant extends VariantSpec {
  name: string
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/

function positiveInt(v: unknown, max: number): boolean {
  return Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= max
}

/**
 * Checks one declaration.
 * @returns the variant with its name.
 * @throws ConfigurationError naming the bad key (`variants.thumb.width`).
 */
export function checkVariant(name: string, spec: VariantSpec, keyPrefix = 'variants'): NamedVariant {
  const key = `${keyPrefix}.${name}`
  if (!NAME.test(name)) throw new ConfigurationError('variant names are 1-64 letters, digits, _ or -', { key })
  if (typeof spec !== 'object' || spec === null) throw new ConfigurationError('must be an object', { key })
  const known = new Set(['width', 'height', 'fit', 'format', 'quality', 'lazy'])
  for (const k of Object.keys(spec))
    if (!known.has(k)) throw new ConfigurationError(`unknown option (expected ${[...known].join(', ')})`, { key: `${key}.${k}` })
  if (spec.width === undefined && spec.height === undefined) throw new ConfigurationError('needs a width, a height or both', { key })
  for (const side of ['width', 'height'] as const) {
    if (spec[side] !== undefined && !positiveInt(spec[side], MAX_VARIANT_SIDE)) {
      throw new ConfigurationError(`must be an integer from 1 to ${MAX_VARIANT_SIDE}, got ${spec[side]}`, { key: `${key}.${side}` })
    }
  }
  if (spec.fit !== undefined && !VARIANT_FITS.includes(spec.fit))
    throw new ConfigurationError(`must be one of ${VARIANT_FITS.join(', ')}`, { key: `${key}.fit` })
  if (spec.format !== undefined && !VARIANT_FORMATS.includes(spec.format))
    throw new ConfigurationError(`must be one of ${VARIANT_FORMATS.join(', ')}`, { key: `${key}.format` })
  if (spec.quality !== undefined && !positiveInt(spec.quality, 100))
    throw new ConfigurationError(`must be an integer from 1 to 100, got ${spec.quality}`, { key: `${key}.quality` })
  if (spec.lazy !== undefined && typeof spec.lazy !== 'boolean') throw new ConfigurationError('must be a boolean', { key: `${key}.lazy` })
  return { ...spec, name }
}

/** Query keys of a lazy variant URL, in their canonical order (`sig` is added last). */
const KEYS = { v: 'name', w: 'width', h: 'height', fit: 'fit', f: 'format', q: 'quality' } as const

/** @returns the variant's parameters as a canonical query string (fixed order, defaults omitted). */
export function variantQuery(v: NamedVariant): string {
  const q = new URLSearchParams()
  for (const [k, prop] of Object.entries(KEYS)) {
    const value = v[prop]
    if (value !== undefined) q.set(k, String(value))
  }
  return q.toString()
}

/**
 * Reads variant parameters back from a query (the `sig` key excepted).
 * @returns the variant, or undefined when a key is unknown, repeated or malformed.
 */
export function parseVariantQuery(query: URLSearchParams): NamedVariant | undefined {
  const spec: Record<string, unknown> = {}
  const seen = new Set<string>()
  for (const [k, value] of query) {
    if (k === 'sig') continue
    if (!Object.hasOwn(KEYS, k) || seen.has(k)) return undefined
    seen.add(k)
    const prop = KEYS[k as keyof typeof KEYS]
    spec[prop] = ['width', 'height', 'quality'].includes(prop) ? (/^\d{1,6}$/.test(value) ? Number(value) : NaN) : value
  }
  const { name, ...rest } = spec
  try {
    return checkVariant(String(name ?? ''), rest as VariantSpec)
  } catch {
    return undefined
  }
}

const EXT: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif' }

// Where variants live is core's (`variantsDir`): `cleanMedia` must know it too.
export { variantsDir }

function extensionFor(source: string, format: VariantFormat | undefined): string {
  if (format) return EXT[format]!
  const dot = source.lastIndexOf('.')
  const slash = source.lastIndexOf('/')
  return dot > slash + 1 ? source.slice(dot + 1).toLowerCase() : 'img'
}

/**
 * Where a variant of `source` is stored. An eager one is named after the
 * variant (`avatars/me.jpg.variants/thumb.webp`); a lazy one also carries a
 * digest of its parameters, so a URL signed for other parameters (before the
 * declaration changed) never reads a file made for these.
 * @returns the stored name of the variant. Never throws.
 */
export function variantName(source: string, v: NamedVariant): string {
  const ext = extensionFor(source, v.format)
  if (!v.lazy) return `${variantsDir(source)}/${v.name}.${ext}`
  const digest = createHash('sha256')
    .update(`${source}\n${variantQuery(v)}`)
    .digest('hex')
    .slice(0, 12)
  return `${variantsDir(source)}/${v.name}-${digest}.${ext}`
}
