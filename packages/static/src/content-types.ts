/**
 * Content types for the files a site ships, by extension: enough for static
 * assets without a MIME database dependency. Text types carry a charset so a
 * browser never guesses.
 */
const TYPES: Record<string, string> = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  cjs: 'text/javascript; charset=utf-8',
  map: 'application/json; charset=utf-8',
  json: 'application/json; charset=utf-8',
  webmanifest: 'application/manifest+json; charset=utf-8',
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  xml: 'application/xml; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/vnd.microsoft.icon',
  bmp: 'image/bmp',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  eot: 'application/vnd.ms-fontobject',
  wasm: 'application/wasm',
  pdf: 'application/pdf',
  zip: 'application/zip',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
}

/** @returns the content type for a file name by its extension, `application/octet-stream` when unknown. */
export function contentTypeFor(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1)
  const dot = base.lastIndexOf('.')
  return (dot > 0 && TYPES[base.slice(dot + 1).toLowerCase()]) || 'application/octet-stream'
}

// Text, SVG, JSON, source maps and WebAssembly: formats that compress well
// and that every browser accepts with a Content-Encoding. Images, fonts
// (WOFF/WOFF2 are compressed already), audio, video and archives are left
// alone: compressing them again saves nothing.
const COMPRESSIBLE = new Set(['css', 'js', 'mjs', 'cjs', 'map', 'json', 'webmanifest', 'html', 'htm', 'txt', 'md', 'csv', 'xml', 'svg', 'wasm'])

/** @returns whether `name`'s type is worth storing precompressed (`.br`, `.gz`) beside it. */
export function isCompressible(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1)
  const dot = base.lastIndexOf('.')
  return dot > 0 && COMPRESSIBLE.has(base.slice(dot + 1).toLowerCase())
}
