/**
 * Tiny, well-formed images built in code, for tests (ours and yours): no
 * binary fixtures in the repository, and any dimensions on demand.
 */
import { deflateSync } from 'node:zlib'

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(b: Buffer): number {
  let c = 0xffffffff
  for (const byte of b) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const out = Buffer.alloc(body.length + 8)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(crc32(body), body.length + 4)
  return out
}

/**
 * @returns a PNG of `width` × `height` grey pixels, or pixels of one `rgb`
 * colour (a decodable image a browser shows). `text` adds a comment chunk
 * (also a way to make the file as large as a test needs). For huge
 * dimensions (a decompression bomb) pass `pixels: false`: the header claims
 * the size but the image data is a stub, as in a real attack.
 * @throws RangeError when a dimension does not fit PNG's 32-bit field (or the pixels do not fit in memory).
 */
export function samplePng(width: number, height: number, options: { text?: string; pixels?: boolean; rgb?: [number, number, number] } = {}): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  const { rgb } = options
  ihdr.set([8, rgb ? 2 : 0, 0, 0, 0], 8) // 8-bit truecolour or greyscale
  const row = rgb ? Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => rgb).flat())]) : Buffer.alloc(width + 1, 0x80)
  if (!rgb) row[0] = 0 // filter byte
  const rows = options.pixels === false ? Buffer.alloc(1) : Buffer.concat(Array.from({ length: height }, () => row))
  return Buffer.concat([
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
    pngChunk('IHDR', ihdr),
    ...(options.text ? [pngChunk('tEXt', Buffer.from(`Comment\0${options.text}`, 'latin1'))] : []),
    pngChunk('IDAT', deflateSync(rows)),
    pngChunk('IEND', Buffer.alloc(0)),
  ])
}

/**
 * @returns a GIF header of `width` × `height` followed by `trailer` (e.g. script for a GIF/JS polyglot).
 * @throws RangeError when a dimension does not fit GIF's 16-bit field.
 */
export function sampleGif(width: number, height: number, trailer = ''): Buffer {
  const head = Buffer.alloc(13)
  head.write('GIF89a', 0, 'latin1')
  head.writeUInt16LE(width, 6)
  head.writeUInt16LE(height, 8)
  return Buffer.concat([head, Buffer.from(trailer, 'latin1'), Buffer.from([0x3b])])
}

/**
 * @returns a baseline JPEG header of `width` × `height` after an APP1 block of `exifBytes` filler.
 * @throws RangeError when a dimension does not fit JPEG's 16-bit field.
 */
export function sampleJpeg(width: number, height: number, exifBytes = 16): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00])
  // A segment holds at most 65533 bytes, so large filler takes several (as real EXIF + XMP do).
  const app1: Buffer[] = []
  for (let left = exifBytes; left > 0; left -= 65_000) {
    const seg = Buffer.alloc(4 + Math.min(left, 65_000))
    seg.set([0xff, 0xe1])
    seg.writeUInt16BE(seg.length - 2, 2)
    app1.push(seg)
  }
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01])
  sof.writeUInt16BE(height, 5)
  sof.writeUInt16BE(width, 7)
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, ...app1, sof, Buffer.from([0xff, 0xd9])])
}
