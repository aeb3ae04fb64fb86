/**
 * Content types for serving user files: a small table for names whose
 * storage recorded no type, and the list of types a browser would execute
 * if shown inline (those are always sent as attachments).
 */

const BY_EXTENSION: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', avif: 'image/avif',
  bmp: 'image/bmp', ico: 'image/x-icon', svg: 'image/svg+xml', tif: 'image/tiff', tiff: 'image/tiff',
  pdf: 'application/pdf', txt: 'text/plain', csv: 'text/csv', json: 'application/json', md: 'text/markdown',
  html: 'text/html', htm: 'text/html', xhtml: 'application/xhtml+xml', xml: 'application/xml', js: 'text/javascript', mjs: 'text/javascript', css: 'text/css',
  mp3: 'audio/mpeg', wav: 'audio/wav', ogg: 'audio/ogg', mp4: 'video/mp4', webm: 'video/webm', mov: 'video/quicktime',
  zip: 'application/zip', gz: 'application/gzip', tar: 'application/x-tar',
  doc: 'application/msword', docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
}

const VAGUE = new Set(['', 'application/octet-stream', 'binary/octet-stream'])

/** @returns the type to serve `name` with: the recorded type if meaningful, else one from the extension, else `application/octet-stream`. */
export function mediaType(name: string, recorded: string | undefined): string {
  const essence = (recorded ?? '').split(';')[0]!.trim().toLowerCase()
  if (!VAGUE.has(essence)) return essence
  const dot = name.lastIndexOf('.')
  return (dot >= 0 && BY_EXTENSION[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream'
}

const EXECUTABLE = new Set([
  'text/html', 'application/xhtml+xml', 'image/svg+xml', 'application/xml', 'text/xml', 'text/xsl', 'application/xslt+xml',
  'text/javascript', 'application/javascript', 'application/x-javascript', 'text/ecmascript', 'application/ecmascript',
  'application/x-shockwave-flash', 'text/cache-manifest', 'application/wasm', 'text/css',
])

/** @returns whether a browser would render or run `type` (HTML, SVG, XML, JS, ...): such files must be downloaded, never shown inline. */
export function isExecutableType(type: string): boolean {
  const t = type.split(';')[0]!.trim().toLowerCase()
  return EXECUTABLE.has(t) || t.endsWith('+xml') || t.includes('javascript')
}

/** @returns a `Content-Disposition` value with an ASCII fallback and an RFC 5987 UTF-8 file name. */
export function contentDisposition(kind: 'attachment' | 'inline', filename: string | undefined): string {
  if (!filename) return kind
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `${kind}; filename="${fallback}"; filename*=UTF-8''${encoded}`
}
