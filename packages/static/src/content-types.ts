/**
 * Content types for the files a site ships, by extension, from core's shared
 * table (text types carry a charset so a browser never guesses), and which
 * of them are worth compressing.
 */
import { typeForName } from '@stowage/core'

/** @returns the content type for a file name by its extension (core's shared table, with a charset for text), `application/octet-stream` when unknown. Never throws. */
export function contentTypeFor(name: string): string {
  return typeForName(name) ?? 'application/octet-stream'
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
