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

/** A GIF with a 2-colour global table and one image descriptor, after `extensions` (comment blocks of these lengths). */
function gifWithFrame(screen: [number, number], frame: { left?: number; top?: number; width: number; height: number }, extensions: number[] = []): Buffer {
  const head = Buffer.alloc(13)
  head.write('GIF89a', 0, 'latin1')
  head.writeUInt16LE(screen[0], 6)
  head.writeUInt16LE(screen[1], 8)
  head[10] = 0x80 // global colour table of 2 entries
  const ext = extensions.map((n) => Buffer.concat([Buffer.from([0x21, 0xfe]), ...(n ? [Buffer.from([n]), Buffer.alloc(n, 0x41)] : []), Buffer.from([0])]))
  const desc = Buffer.alloc(10)
  desc[0] = 0x2c
  desc.writeUInt16LE(frame.left ?? 0, 1)
  desc.writeUInt16LE(frame.top ?? 0, 3)
  desc.writeUInt16LE(frame.width, 5)
  desc.writeUInt16LE(frame.height, 7)
  // LZW minimum code size 2; one sub-block holding clear and end codes.
  return Buffer.concat([head, Buffer.from([0, 0, 0, 255, 255, 255]), ...ext, desc, Buffer.from([2, 1, 0x2c, 0, 0x3b])])
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

  // Decoders (libvips, Pillow, browsers) grow the canvas to the first frame:
  // this 40-byte file decodes as 65535 × 65535, so its size is not the screen's.
  it.each([
    ['a first frame larger than the screen', gifWithFrame([1, 1], { width: 65_535, height: 65_535 }), 65_535, 65_535],
    ['a 1 × 1 first frame placed far outside the screen', gifWithFrame([1, 1], { left: 60_000, top: 50_000, width: 1, height: 1 }), 60_001, 50_001],
    ['a frame behind comment extensions', gifWithFrame([1, 1], { width: 30_000, height: 20_000 }, [255, 3, 0]), 30_000, 20_000],
    ['a frame inside the screen', gifWithFrame([640, 480], { left: 10, top: 10, width: 20, height: 20 }), 640, 480],
  ])('reads a GIF as decoders size it: %s', (_t, bytes, width, height) => {
    expect(readImageSize(bytes)).toEqual({ type: 'gif', width, height })
  })

  it('asks for more bytes until the first GIF frame is in, wherever the head is cut', () => {
    const gif = gifWithFrame([1, 1], { width: 30_000, height: 20_000 }, [255, 7])
    const descriptor = gif.length - 15
    for (let cut = 2; cut < descriptor + 9; cut++) expect(readImageSize(gif.subarray(0, cut)), `cut at ${cut}`).toBe('more')
    expect(readImageSize(gif.subarray(0, descriptor + 9))).toEqual({ type: 'gif', width: 30_000, height: 20_000 })
  })

  it('reads a bomb header without touching the pixels', () => {
    expect(readImageSize(samplePng(100_000, 100_000, { pixels: false }))).toEqual({ type: 'png', width: 100_000, height: 100_000 })
  })
})
