/**
 * Everything that touches sharp: reading an upload whole (libvips needs the
 * encoded image in one piece), checking it can and may be decoded, and the
 * one pipeline every output goes through — orientation applied to the
 * pixels, metadata left behind, then resized and encoded.
 */
import type { Readable } from 'node:stream'
import sharp, { type Metadata, type Sharp } from 'sharp'
import { ValidationError, type ValidationFailure } from '@stowage/core'
import type { VariantFit, VariantFormat } from './variant-spec.js'

/** What to do with animated GIF and WebP uploads. */
export type AnimatedPolicy = 'firstFrame' | 'keep' | 'refuse'

/** The limits every decode honours. */
export interface DecodeLimits {
  maxPixels: number
  maxBytes: number
  animated: AnimatedPolicy
}

/** What `inspect` learnt about an image, from its header. */
export interface ImageInfo {
  /** sharp's format name (`jpeg`, `png`, `webp`, `gif`, `heif`, ...). */
  format: string
  /** Displayed size, orientation applied (one frame). */
  width: number
  height: number
  /** Frames; 1 for still images. */
  pages: number
}

/** One output: the original re-encoded, or a variant. */
export interface OutputSpec {
  width?: number
  height?: number
  fit?: VariantFit
  format?: VariantFormat
  quality?: number
}

const ANIMATABLE = new Set(['gif', 'webp'])

function failure(reason: string, message: string, params: Record<string, unknown> = {}): ValidationFailure {
  return { rule: 'image', message, params: { reason, ...params } }
}

/** @returns the `ValidationError` for bytes sharp refused to decode, keeping its error as `cause`. */
export function undecodable(err: unknown): ValidationError {
  const detail = err instanceof Error ? err.message : String(err)
  return new ValidationError([failure('undecodable', `File is not an image that can be decoded (${detail.split('\n')[0]})`)], { cause: err })
}

/**
 * Reads `stream` into one buffer, refusing past `maxBytes`.
 * @returns the bytes.
 * @throws ValidationError (rule `maxSize`) past the limit; the stream's own error (e.g. a validator's refusal).
 */
export async function readInput(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    size += (chunk as Buffer).length
    if (size > maxBytes) {
      stream.destroy()
      throw new ValidationError([
        { rule: 'maxSize', message: `Image is larger than ${maxBytes} bytes, the most the image processor reads`, params: { limit: maxBytes } },
      ])
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/**
 * Reads the header of `input` (no pixels) and applies the limits.
 * @returns format, displayed size and frame count.
 * @throws ValidationError: undecodable header, too many pixels, or an animation the policy refuses.
 */
export async function inspect(input: Buffer, limits: DecodeLimits): Promise<ImageInfo> {
  let meta: Metadata
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata()
  } catch (err) {
    throw undecodable(err)
  }
  if (!meta.format || !meta.width || !meta.height) throw undecodable(new Error('no image dimensions'))
  const pages = meta.pages ?? 1
  // Frames are decoded one under the other: an animation costs all of them.
  const frames = limits.animated === 'keep' ? pages : 1
  const height = meta.pageHeight ?? meta.height
  const pixels = meta.width * height * frames
  if (pixels > limits.maxPixels) {
    throw new ValidationError([
      {
        rule: 'imageDimensions',
        message: `Image has ${pixels} pixels to decode, more than ${limits.maxPixels} (possible decompression bomb)`,
        params: { reason: 'maxPixels', width: meta.width, height, frames, limit: limits.maxPixels },
      },
    ])
  }
  if (pages > 1 && limits.animated === 'refuse')
    throw new ValidationError([failure('animated', `Animated images are not accepted (${pages} frames)`, { frames: pages })])
  const turned = (meta.orientation ?? 1) >= 5
  return { format: meta.format, width: turned ? height : meta.width, height: turned ? meta.width : height, pages }
}

/** @returns the format an output of `info` is encoded in: the spec's, else the original's when sharp can write it, else PNG. */
export function outputFormat(info: ImageInfo, spec: OutputSpec): VariantFormat {
  if (spec.format) return spec.format
  if (info.format === 'heif') return 'avif'
  return (['jpeg', 'png', 'webp', 'avif', 'gif'] as const).find((f) => f === info.format) ?? 'png'
}

/** MIME type of each output format. */
export const MIME: Record<VariantFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif' }

/**
 * Builds the pipeline for one output: orientation applied, no metadata kept
 * (sharp writes none unless asked), resized within the box, encoded.
 * @returns a sharp stream to read the encoded bytes from; it errors if the pixels cannot be decoded.
 */
export function encoder(input: Buffer, info: ImageInfo, spec: OutputSpec, limits: DecodeLimits): Sharp {
  const format = outputFormat(info, spec)
  // Frames are kept only where the output can hold them; elsewhere the first one stands for the image.
  const animated = limits.animated === 'keep' && info.pages > 1 && ANIMATABLE.has(format)
  const img = sharp(input, { limitInputPixels: limits.maxPixels, animated, autoOrient: true })
  const fit = spec.fit ?? 'inside'
  if (spec.width !== undefined && spec.height !== undefined && fit !== 'inside' && fit !== 'outside') {
    // A box larger than the image shrinks, keeping its shape: a small upload
    // still gives a square thumbnail, just not an enlarged one.
    const f = Math.min(1, info.width / spec.width, info.height / spec.height)
    img.resize({ width: Math.max(1, Math.round(spec.width * f)), height: Math.max(1, Math.round(spec.height * f)), fit })
  } else if (spec.width !== undefined || spec.height !== undefined) {
    img.resize({ width: spec.width, height: spec.height, fit, withoutEnlargement: true })
  }
  return img.toFormat(format, spec.quality !== undefined ? { quality: spec.quality } : {})
}

/**
 * Decodes every pixel of `input` without keeping any, for uploads stored as
 * sent: a header that parses does not prove the rest does.
 * @throws ValidationError when the pixels cannot be decoded.
 */
export async function checkDecodes(input: Buffer, limits: DecodeLimits): Promise<void> {
  try {
    // stats() reads every pixel but keeps only sums.
    await sharp(input, { limitInputPixels: limits.maxPixels, animated: limits.animated === 'keep' }).stats()
  } catch (err) {
    throw undecodable(err)
  }
}
