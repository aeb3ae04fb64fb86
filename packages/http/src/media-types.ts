/**
 * Content types for serving user files, from core's one media module: the
 * type of a name whose storage recorded none, and whether a type must be
 * sent as an attachment (anything not known to be passive).
 */
import { contentDisposition, isInlineSafe, typeForName } from '@stowage/core'

const VAGUE = new Set(['', 'application/octet-stream', 'binary/octet-stream'])

/** @returns a Content-Type's type/subtype, lower-cased, without parameters ('' when absent). Never throws. */
export function essence(type: string | undefined): string {
  return (type ?? '').split(';')[0]!.trim().toLowerCase()
}

/**
 * @returns the type to serve `name` with (no parameters): the recorded type
 *   if meaningful, else one from the extension, else `application/octet-stream`. Never throws.
 */
export function mediaType(name: string, recorded: string | undefined): string {
  const kept = essence(recorded)
  if (!VAGUE.has(kept)) return kept
  return essence(typeForName(name)) || 'application/octet-stream'
}

/**
 * @returns whether a browser could render or run `type` if shown inline:
 *   HTML, SVG, XML, JS, CSS and every type not known to be passive (core's
 *   `isInlineSafe` allowlist). Such files are always sent as attachments. Never throws.
 */
export function isExecutableType(type: string): boolean {
  return !isInlineSafe(type)
}

export { contentDisposition }
