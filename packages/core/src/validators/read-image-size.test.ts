import { describe, expect, it } from 'vitest'
import { readImageSize } from './read-image-size.js'
import { sampleGif, sampleJpeg, samplePng } from './sample-images.js'

function webpVp8x(w: number, h: number): Buffer {
  const b = Buffer.alloc(30)
  b.write('RIFF', 0, 'latin1')
  b.write('WEBPVP8X', 8, 'latin1')
  b.writeUIntLE(w - 1, 24, 3)
  b.writeUIntLE(h - 1, 27, 3)
  return b
}

describe('readImageSize', () => {
  it.each([
    ['png', samplePng(3, 7), 3, 7],
    ['gif', sampleGif(640, 480), 640, 480],
    ['jpg', sampleJpeg(1024, 768), 1024, 768],
    ['jpg after a 60 KB EXIF block', sampleJpeg(5, 9, 60_000), 5, 9],
    ['webp', webpVp8x(4000, 3000), 4000, 3000],
  ])('reads %s dimensions from the header', (_t, bytes, width, height) => {
    expect(readImageSize(bytes)).toMatchObject({ width, height })
  })

  it('asks for more bytes when a known header is cut before its size field', () => {
    expect(readImageSize(samplePng(3, 7).subarray(0, 12))).toBe('more')
    expect(readImageSize(sampleJpeg(5, 9, 60_000).subarray(0, 1000))).toBe('more')
  })

  it('returns undefined for non-images and corrupt headers', () => {
    expect(readImageSize(Buffer.from('<html>hello</html>'))).toBeUndefined()
    const bad = samplePng(1, 1)
    bad.write('XXXX', 12, 'latin1')
    expect(readImageSize(bad)).toBeUndefined()
  })

  it('reads a bomb header without touching the pixels', () => {
    expect(readImageSize(samplePng(100_000, 100_000, { pixels: false }))).toEqual({ type: 'png', width: 100_000, height: 100_000 })
  })
})
