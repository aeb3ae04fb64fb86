/**
 * Which content a browser may be shown inline. A file served from our
 * origin (or a bucket's) with an active type runs with that origin's
 * privileges: HTML and SVG run script, XML can pull in XSLT, and a type the
 * browser does not recognise may be sniffed into HTML. So the rule is an
 * allowlist of passive types; everything else is delivered as an attachment.
 *
 * Also the one extension → MIME table (the `mime` package's, from the IANA
 * and Apache registries) that storages, serving and collectstatic share.
 */
import { MIMEType } from 'node:util'
import mime from 'mime'

// Where the registry's answer is not what a browser needs.
const OVERRIDES: Record<string, string> = { cjs: 'text/javascript' }
// Types that are text without saying so in their family.
const TEXTUAL = new Set(['application/json', 'application/manifest+json', 'application/xml', 'application/javascript', 'application/ld+json'])

/**
 * The content type of a file name, by its last extension, with
 * `charset=utf-8` on text types so a browser never guesses the encoding.
 * @returns e.g. `'text/css; charset=utf-8'`, `'image/png'`; `undefined` for
 *   an unknown or missing extension. Never throws.
 */
export function typeForName(name: string): string | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1)
  const dot = base.lastIndexOf('.')
  if (dot <= 0) return undefined
  const ext = base.slice(dot + 1).toLowerCase()
  const type = OVERRIDES[ext] ?? mime.getType(ext)
  if (!type) return undefined
  return type.startsWith('text/') || TEXTUAL.has(type) ? `${type}; charset=utf-8` : type
}

// Types a browser renders without running anything the file says.
const PASSIVE = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
  'image/tiff',
  'image/x-icon',
  'image/vnd.microsoft.icon',
  'image/heic',
  'image/heif',
  'image/apng',
  'image/jxl',
  'application/pdf',
  'text/plain',
  'text/csv',
  'application/json',
  'application/zip',
  'application/gzip',
  'application/x-tar',
])
// Families that are passive as a whole (no script-capable member).
const PASSIVE_FAMILIES = ['audio/', 'video/', 'font/']

/**
 * `'Image/PNG; charset=x'` → `'image/png'`, by the WHATWG MIME type parser
 * browsers use, or undefined for a value a browser would not read as one
 * type. A comma anywhere makes it a list to a browser, which takes the last
 * valid member (Fetch's "extract a MIME type"): `video/mp4,text/html` is a
 * page, and so is `image/png; x=a,text/html`, whose parameter the MIME parser
 * alone would accept. An unparsable type (`font/`) gets sniffed where no
 * `nosniff` is sent, as from a bucket.
 */
function essence(type: string): string | undefined {
  if (type.includes(',')) return undefined
  try {
    return new MIMEType(type.trim()).essence
  } catch {
    return undefined
  }
}

/**
 * @returns true when `type` is one well-formed MIME type known to be passive
 *   (raster images, audio, video, fonts, PDF, plain text, CSV, JSON,
 *   archives): safe to show inline. False for HTML, SVG, XML, JavaScript,
 *   CSS, anything unrecognised or missing, and any value a browser could read
 *   as another type (a comma-separated list, a malformed type it would
 *   sniff), which must be sent as attachments. Never throws.
 */
export function isInlineSafe(type: string | undefined): boolean {
  if (!type) return false
  const t = essence(type)
  if (t === undefined) return false
  return PASSIVE.has(t) || PASSIVE_FAMILIES.some((f) => t.startsWith(f))
}

/**
 * Builds a `Content-Disposition` header value (RFC 6266) with an ASCII
 * fallback and the exact UTF-8 file name (RFC 5987), so no file name can
 * break out of the header (a lone surrogate, which has no UTF-8 form, is sent as U+FFFD).
 * @returns `kind` alone without a file name, else `kind; filename="..."; filename*=UTF-8''...`. Never throws.
 */
export function contentDisposition(kind: 'attachment' | 'inline', filename?: string): string {
  if (!filename) return kind
  // A lone surrogate has no UTF-8 form (encodeURIComponent throws URIError): it becomes U+FFFD, as a browser would show it.
  filename = filename.toWellFormed()
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`
}

/**
 * Whether an `If-None-Match` header matches `etag`, by the weak comparison
 * RFC 9110 §13.1.2 requires for it (`W/"x"` matches `"x"`; `*` matches any).
 * @returns true when the client's copy is current (answer 304). Never throws.
 */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch.trim() === '*') return true
  const bare = etag.replace(/^W\//, '')
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === bare)
}
