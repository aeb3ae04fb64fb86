/**
 * Content type from the bytes: `file-type`'s magic numbers first, then a
 * markup sniff for the text formats it leaves alone (HTML, SVG, XML) — the
 * very formats a browser would execute, so they must never go unrecognised.
 */
import type { DetectedType } from './validator.js'

// Loaded on the first detection, not with @stowage/core: file-type and its
// parsers add about 10 MB to every process, most of which never validates a type.
let fileType: Promise<typeof import('file-type')> | undefined

/** How many leading bytes type detection looks at (file-type's own recommendation). */
export const SNIFF_BYTES = 4100

// Browsers sniff HTML from tags like these near the start (WHATWG MIME Sniffing §7.1).
const HTML_TAGS = /<(!doctype\s+html|html|head|body|script|iframe|object|embed|style|title|meta|a|b|br|div|font|h1|p|table|!--)[\s>/]/i
const SVG = /<svg[\s>]/i
// For polyglot hunting inside binary files: only long, distinctive tags, so
// random bytes in compressed image data (a stray "<a ") never match.
const ACTIVE_TAGS = /<(!doctype\s+html|html|head|body|script|iframe|object|embed|style|meta|svg|img|link|form)[\s>/]/i
const XML = /^\s*<\?xml[\s?]/i

function text(head: Uint8Array, bytes = SNIFF_BYTES): string {
  const b = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, bytes))
  // Skip a UTF-8 BOM and read UTF-16 as well, since browsers honour both.
  if (b[0] === 0xfe && b[1] === 0xff) return Buffer.from(b.subarray(2)).swap16().toString('utf16le')
  if (b[0] === 0xff && b[1] === 0xfe) return b.subarray(2).toString('utf16le')
  return b
    .toString('latin1')
    .replace(/^\xef\xbb\xbf/, '')
    .replace(/\0/g, '')
}

/**
 * Finds markup a browser could render or run (an HTML tag, an SVG root)
 * anywhere in the first bytes: in an image it marks a polyglot file.
 * @returns a short description of what was found, or `undefined`. Never throws.
 */
export function findActiveContent(head: Uint8Array): string | undefined {
  const t = text(head, 1024)
  const m = ACTIVE_TAGS.exec(t)
  return m ? `markup '${m[0].trim()}'` : undefined
}

/**
 * Detects the type of a file from its first bytes.
 * @returns the detected type, or `undefined` when the bytes match no known format. Never throws on any input.
 */
export async function detectType(head: Uint8Array): Promise<DetectedType | undefined> {
  let found: DetectedType | undefined
  const { fileTypeFromBuffer } = await (fileType ??= import('file-type'))
  try {
    const r = await fileTypeFromBuffer(head.subarray(0, SNIFF_BYTES))
    if (r) found = { ext: r.ext, mime: r.mime }
  } catch {
    // A truncated or malformed container makes some detectors throw: treat as unknown.
  }
  if (found && found.mime !== 'application/xml') return found
  const t = text(head).trimStart()
  if (SVG.test(t) && (found || XML.test(t) || /^<svg[\s>]/i.test(t) || /^<!doctype\s+svg/i.test(t))) return { ext: 'svg', mime: 'image/svg+xml' }
  if (found) return found
  if (/^<!doctype\s+html[\s>]/i.test(t) || (t.startsWith('<') && HTML_TAGS.test(t.slice(0, 1024)))) return { ext: 'html', mime: 'text/html' }
  if (XML.test(t)) return { ext: 'xml', mime: 'application/xml' }
  return undefined
}
