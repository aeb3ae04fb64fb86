/**
 * Image dimensions from the header alone, without decoding a pixel: PNG,
 * GIF, JPEG, WebP and BMP. This is what lets `imageDimensions` refuse a
 * decompression bomb (a few kilobytes that claim 100000 × 100000 pixels)
 * before anything else reads it.
 */

/** Dimensions read from an image header. */
export interface ImageSize {
  /** Format the header belongs to: `png`, `gif`, `jpg`, `webp`, `bmp`. */
  type: string
  width: number
  height: number
}

/** Sanity cap on how far into a JPEG we look for its frame header. */
export const MAX_JPEG_SCAN_BYTES = 1024 * 1024

const ascii = (b: Uint8Array, at: number, s: string) => b.length >= at + s.length && Buffer.from(b.buffer, b.byteOffset + at, s.length).toString('latin1') === s

/**
 * Reads the dimensions from the first bytes of an image.
 * @returns the size; `'more'` when `head` is a recognised format cut before its size field;
 *   `undefined` when the bytes are not a supported image or the header is corrupt. Never throws.
 */
export function readImageSize(head: Uint8Array): ImageSize | 'more' | undefined {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength)
  const need = (n: number) => b.length < n
  if (b.length < 2) return b.length === 0 ? 'more' : undefined
  if (b[0] === 0x89 && (b.length < 8 || ascii(b, 1, 'PNG\r\n\x1a\n'))) {
    if (need(24)) return 'more'
    if (!ascii(b, 12, 'IHDR')) return undefined
    return { type: 'png', width: b.readUInt32BE(16), height: b.readUInt32BE(20) }
  }
  if (ascii(b, 0, 'GIF8') || (b.length < 4 && ascii(b, 0, 'GIF'.slice(0, b.length)))) return gifSize(b)
  if (b[0] === 0xff && b[1] === 0xd8) return jpegSize(b)
  if (ascii(b, 0, 'RIFF') || (b.length < 4 && ascii(b, 0, 'RIFF'.slice(0, b.length)))) return webpSize(b)
  if (ascii(b, 0, 'BM')) {
    if (need(26)) return 'more'
    return { type: 'bmp', width: Math.abs(b.readInt32LE(18)), height: Math.abs(b.readInt32LE(22)) }
  }
  return undefined
}

/**
 * A GIF's logical screen may be smaller than its first frame: libvips,
 * Pillow and browsers then grow the canvas to hold the frame, so a 40-byte
 * file whose screen says 1 × 1 decodes as 65535 × 65535. The size is the
 * screen joined with the first frame's rectangle. Later frames are clipped
 * to that canvas by decoders, so they need not be read.
 */
function gifSize(b: Buffer): ImageSize | 'more' | undefined {
  if (b.length < 13) return 'more'
  let width = b.readUInt16LE(6)
  let height = b.readUInt16LE(8)
  const flags = b[10]!
  // Global colour table: 2^(n+1) RGB entries.
  let i = 13 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0)
  for (;;) {
    if (i >= b.length) return 'more'
    const block = b[i]!
    if (block === 0x2c) {
      // Image descriptor: left, top, width, height (16-bit little-endian each).
      if (i + 9 > b.length) return 'more'
      width = Math.max(width, b.readUInt16LE(i + 1) + b.readUInt16LE(i + 5))
      height = Math.max(height, b.readUInt16LE(i + 3) + b.readUInt16LE(i + 7))
      return { type: 'gif', width, height }
    }
    if (block !== 0x21) {
      // The trailer, or bytes that are no block (a GIF/JS polyglot): libvips and
      // browsers stop there, so no frame grows the screen.
      return { type: 'gif', width, height }
    }
    // Extension: introducer, label, then data sub-blocks (a length byte each) up to an empty one.
    i += 2
    for (;;) {
      if (i >= b.length) return 'more'
      const length = b[i]!
      i += 1 + length
      if (length === 0) break
    }
  }
}

function webpSize(b: Buffer): ImageSize | 'more' | undefined {
  if (b.length < 16) return 'more'
  if (!ascii(b, 8, 'WEBP')) return undefined
  if (ascii(b, 12, 'VP8 ')) {
    if (b.length < 30) return 'more'
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return undefined
    return { type: 'webp', width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff }
  }
  if (ascii(b, 12, 'VP8L')) {
    if (b.length < 25) return 'more'
    if (b[20] !== 0x2f) return undefined
    const bits = b.readUInt32LE(21)
    return { type: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 }
  }
  if (ascii(b, 12, 'VP8X')) {
    if (b.length < 30) return 'more'
    return { type: 'webp', width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 }
  }
  return undefined
}

// Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) do not.
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf])

function jpegSize(b: Buffer): ImageSize | 'more' | undefined {
  let i = 2
  for (;;) {
    if (i >= MAX_JPEG_SCAN_BYTES) return undefined
    if (i + 4 > b.length) return 'more'
    if (b[i] !== 0xff) return undefined
    const marker = b[i + 1]!
    if (marker === 0xff) {
      i++ // fill byte
      continue
    }
    if (marker === 0xd9 || marker === 0xda) return undefined // end of image or scan data before any frame header
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2
      continue
    }
    const length = b.readUInt16BE(i + 2)
    if (length < 2) return undefined
    if (SOF.has(marker)) {
      if (i + 9 > b.length) return 'more'
      return { type: 'jpg', height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) }
    }
    i += 2 + length
  }
}
