import { describe, expect, it } from 'vitest'
import { ValidationError } from '../errors.js'
import { MemoryStorage } from '../memory-storage.js'
import { allowedTypes } from './allowed-types.js'
import { hostileUploads } from './hostile-uploads.js'
import { imageDimensions } from './image-dimensions.js'
import { maxSize } from './max-size.js'
import { sampleGif, sampleJpeg, samplePng } from './sample-images.js'
import { validate, validateContent } from './validating-stream.js'
import { countingSource } from '../testing/counting-source.js'
import { rejection } from '../testing/rejection.js'

const imagePolicy = () => [maxSize(1024 * 1024), allowedTypes(['image/png', 'image/jpeg', 'image/gif']), imageDimensions({ maxWidth: 5000, maxHeight: 5000 })]

async function refusal(p: Promise<unknown>): Promise<ValidationError> {
  const err = await rejection(p, ValidationError)
  expect(err.code).toBe('EVALIDATION')
  return err
}

describe('validate', () => {
  it('accepts a good image and reports its facts', async () => {
    const png = samplePng(40, 30)
    const facts = await validate(png, imagePolicy(), { filename: 'a.png', contentType: 'image/png' })
    expect(facts).toEqual({ size: png.length, type: { ext: 'png', mime: 'image/png' }, width: 40, height: 30 })
  })

  it('accepts a JPEG whose frame header sits after a large EXIF block', async () => {
    const facts = await validate(sampleJpeg(800, 600, 60_000), imagePolicy(), { filename: 'p.jpeg' })
    expect(facts).toMatchObject({ width: 800, height: 600, type: { mime: 'image/jpeg' } })
  })

  it('lists every failed rule in one error', async () => {
    const err = await refusal(validate(samplePng(6000, 10), [...imagePolicy(), maxSize(10)], { filename: 'a.gif', contentType: 'image/gif' }))
    const reasons = err.failures.map((f) => `${f.rule}:${(f.params?.reason as string | undefined) ?? ''}`)
    expect(reasons).toEqual(
      expect.arrayContaining(['allowedTypes:extensionMismatch', 'allowedTypes:contentTypeMismatch', 'imageDimensions:maxWidth', 'maxSize:']),
    )
  })

  it.each(hostileUploads().map((h) => [h.title, h] as const))('refuses hostile upload: %s', async (_t, h) => {
    const err = await refusal(validate(h.bytes, imagePolicy(), h))
    expect(err.failures.length).toBeGreaterThan(0)
  })

  it('refuses a GIF/JS polyglot only if it carries markup; as JS it is harmless once served as image/gif with nosniff', async () => {
    const facts = await validate(sampleGif(2, 2, '*/=alert(1);/*'), imagePolicy(), { filename: 'x.gif' })
    expect(facts.type?.mime).toBe('image/gif')
    const err = await refusal(validate(sampleGif(2, 2, '*/=alert(1);/*<script>alert(1)</script>'), imagePolicy(), { filename: 'x.gif' }))
    expect(err.failures.map((f) => f.rule)).toEqual(['allowedTypes'])
  })

  it('refuses unknown content unless allowed, then only with an allowed extension', async () => {
    const csv = Buffer.from('a,b\n1,2\n')
    await refusal(validate(csv, [allowedTypes(['.csv'])], { filename: 'x.csv' }))
    await expect(validate(csv, [allowedTypes(['.csv'], { allowUnknown: true })], { filename: 'x.csv' })).resolves.toMatchObject({ size: 8 })
    await refusal(validate(csv, [allowedTypes(['.csv'], { allowUnknown: true })], { filename: 'x.html' }))
    await refusal(validate(Buffer.from('hi <script>alert(1)</script>'), [allowedTypes(['.csv'], { allowUnknown: true })], { filename: 'x.csv' }))
  })

  it('cuts an oversized stream off at the limit instead of reading it all', async () => {
    const source = countingSource(50 * 1024 * 1024)
    const err = await refusal(validate(source.stream, [maxSize(1024 * 1024)]))
    expect(err.failures).toEqual([expect.objectContaining({ rule: 'maxSize' })])
    // Pulled at most the limit plus the read-ahead of a few chunks, never the 50 MB.
    expect(source.produced()).toBeLessThan(2 * 1024 * 1024)
  })
})

describe('validateContent into a storage', () => {
  it('stores the bytes of an accepted file unchanged', async () => {
    const storage = new MemoryStorage()
    const jpeg = sampleJpeg(10, 10, 70_000)
    const checker = validateContent(jpeg, imagePolicy(), { filename: 'a.jpg' })
    const name = await storage.save('a.jpg', checker)
    expect(Buffer.from(await storage.read(name)).equals(jpeg)).toBe(true)
    expect(checker.facts).toMatchObject({ width: 10, height: 10, size: jpeg.length })
  })

  it.each(hostileUploads().map((h) => [h.title, h] as const))('leaves nothing stored for: %s', async (_t, h) => {
    const storage = new MemoryStorage()
    const checker = validateContent(h.bytes, imagePolicy(), h)
    await refusal(storage.save(h.filename, checker))
    expect(checker.validationError).toBeInstanceOf(ValidationError)
    expect(storage.names()).toEqual([])
  })

  it('leaves nothing stored when the source is truncated (fails mid-stream)', async () => {
    const storage = new MemoryStorage()
    const { stream } = countingSource(3 * 64 * 1024, { fail: new Error('client went away') })
    const checker = validateContent(stream, [maxSize(10 * 1024 * 1024)], { filename: 'a.bin' })
    await expect(storage.save('a.bin', checker)).rejects.toThrow(/client went away/)
    expect(storage.names()).toEqual([])
  })
})
