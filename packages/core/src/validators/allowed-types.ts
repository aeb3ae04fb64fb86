import { InvalidArgumentError, type ValidationFailure } from '../errors.js'
import { SNIFF_BYTES, findActiveContent } from './detect-type.js'
import { inspectSvg } from './svg.js'
import { MAX_HEAD_BYTES } from './validating-stream.js'
import type { DetectedType, Validator } from './validator.js'

/** Options for `allowedTypes`. */
export interface AllowedTypesOptions {
  /**
   * Accept content whose type cannot be detected from its bytes (plain text,
   * CSV). Its declared extension must then be in the list, and markup a
   * browser could run is still refused. Default false: unknown is refused.
   */
  allowUnknown?: boolean
}

// Extensions that name the same format as file-type's canonical one.
const EXT_ALIASES: Record<string, string[]> = {
  jpg: ['jpg', 'jpeg', 'jpe', 'jfif'],
  tif: ['tif', 'tiff'],
  html: ['html', 'htm'],
  mpg: ['mpg', 'mpeg'],
  mp4: ['mp4', 'm4v'],
  gz: ['gz', 'tgz'],
}
const MIME_ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/x-png': 'image/png',
  'text/xml': 'application/xml',
}
// Declarations that say nothing, so they cannot lie.
const VAGUE_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'application/unknown'])
// Formats a browser runs when served inline: never accepted as "unknown".
const ACTIVE_EXTS = new Set(['html', 'htm', 'xhtml', 'shtml', 'svg', 'svgz', 'xml', 'xsl', 'xslt', 'js', 'mjs', 'cjs'])
const MARKUP_MIMES = new Set(['text/html', 'image/svg+xml', 'application/xml', 'application/xhtml+xml'])
const SVG_MIME = 'image/svg+xml'

/** @returns the type's essence, lower-cased, with common aliases resolved: `'image/JPG; charset=x'` → `'image/jpeg'`. Never throws for a string. */
export function mimeEssence(type: string): string {
  const essence = (type.split(';')[0] ?? '').trim().toLowerCase()
  return MIME_ALIASES[essence] ?? essence
}

/** @returns the last extension of a file name, lower-cased, without the dot; `''` when there is none (or only a leading dot). Never throws. */
export function extensionOf(filename: string | undefined): string {
  const base = (filename ?? '').split(/[\\/]/).pop() ?? ''
  const dot = base.lastIndexOf('.')
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : ''
}

function extMatches(ext: string, type: DetectedType): boolean {
  return ext === type.ext || (EXT_ALIASES[type.ext]?.includes(ext) ?? false)
}

/**
 * Accepts only files whose bytes are one of `types`: MIME types
 * (`'image/png'`), wildcards (`'image/*'`) or extensions (`'.pdf'`). The type
 * comes from magic bytes (`file-type`), never from the client; a declared
 * extension or content type that disagrees with the bytes is refused, so is
 * content nobody can recognise (unless `allowUnknown`), and so are images
 * carrying HTML (polyglots). An SVG is parsed whole and refused unless
 * `inspectSvg` finds nothing active in it, so one larger than
 * `MAX_HEAD_BYTES` (which the stream holds back at most) is refused.
 * @returns a validator with rule `allowedTypes`.
 * @throws InvalidArgumentError (`EINVAL`, argument `types`) when `types` is not a non-empty array;
 *   TypeError for an entry that is not a string.
 */
export function allowedTypes(types: readonly string[], options: AllowedTypesOptions = {}): Validator {
  if (!Array.isArray(types) || types.length === 0) throw new InvalidArgumentError('allowedTypes needs at least one type', { argument: 'types' })
  const mimes = new Set<string>()
  const wildcards: string[] = []
  const exts = new Set<string>()
  for (const t of types) {
    const v = t.trim().toLowerCase()
    if (v.endsWith('/*')) wildcards.push(v.slice(0, -1))
    else if (v.includes('/')) mimes.add(mimeEssence(v))
    else exts.add(v.replace(/^\./, ''))
  }
  const allowed = (type: DetectedType) => mimes.has(type.mime) || wildcards.some((w) => type.mime.startsWith(w)) || [...exts].some((e) => extMatches(e, type))
  const fail = (reason: string, message: string, params: Record<string, unknown> = {}): ValidationFailure => ({
    rule: 'allowedTypes',
    message,
    params: { reason, allowed: [...types], ...params },
  })

  return {
    rule: 'allowedTypes',
    headBytes: SNIFF_BYTES,
    async checkHead(ctx) {
      if (!ctx.final && !ctx.truncated && ctx.head.byteLength < SNIFF_BYTES) return 'more'
      const failures: ValidationFailure[] = []
      const detected = await ctx.detect()
      if (detected?.mime === SVG_MIME && !ctx.complete && !ctx.final) return 'more'
      const ext = extensionOf(ctx.filename)
      const declared = mimeEssence(ctx.contentType ?? '')
      if (!detected) {
        if (!options.allowUnknown) {
          failures.push(fail('unknown', 'File content is not a recognised type'))
        } else if (!ext || ACTIVE_EXTS.has(ext) || !exts.has(ext)) {
          failures.push(fail('extension', `Extension '${ext ? `.${ext}` : '(none)'}' is not allowed for content of unknown type`, { extension: ext }))
        }
        const active = findActiveContent(ctx.head)
        if (active) failures.push(fail('activeContent', `File contains ${active}`))
        return { failures }
      }
      if (!allowed(detected)) {
        failures.push(fail('type', `File type '${detected.mime}' is not allowed`, { detected: detected.mime }))
      }
      if (ext && !extMatches(ext, detected)) {
        failures.push(
          fail('extensionMismatch', `Extension '.${ext}' does not match the content ('${detected.mime}')`, { extension: ext, detected: detected.mime }),
        )
      }
      if (!VAGUE_TYPES.has(declared) && declared !== detected.mime) {
        failures.push(
          fail('contentTypeMismatch', `Declared type '${declared}' does not match the content ('${detected.mime}')`, { declared, detected: detected.mime }),
        )
      }
      if (!MARKUP_MIMES.has(detected.mime)) {
        const active = findActiveContent(ctx.head)
        if (active) failures.push(fail('polyglot', `'${detected.mime}' file also contains ${active}`, { detected: detected.mime }))
      } else if (detected.mime === SVG_MIME) {
        if (!ctx.complete) {
          failures.push(
            fail('uncheckable', `SVG larger than ${MAX_HEAD_BYTES / 1024 / 1024} MiB cannot be checked`, { detected: detected.mime, limit: MAX_HEAD_BYTES }),
          )
        } else {
          const problems = inspectSvg(ctx.head).map((p) => p.message)
          if (problems.length)
            failures.push(fail('activeContent', `SVG file is not safe to serve: ${problems.join('; ')}`, { detected: detected.mime, problems }))
        }
      }
      return { failures, facts: { type: detected } }
    },
  }
}
