/**
 * A direct upload to S3 (S3Storage on the real gateway) into an image field
 * with a processor: the client's bytes (GPS in EXIF, lying on their side)
 * never stay; confirm stores them as a server upload would be stored.
 */
import sharp from 'sharp'
import { afterAll, describe, expect, it } from 'vitest'
import { imageField, samplePng, ValidationError } from '@stowage/core'
import { randomPrefix } from '@stowage/core/testing'
import { images } from '@stowage/images'
import { S3Storage } from '@stowage/s3'
import { exifHasGps, phonePhoto } from '../../images/src/test-support/fixtures.js'
import { s3TestOptions } from '../../../test/s3.js'
import { directUploads } from './direct-uploads.js'

describe('directUploads to S3 into an image field with a processor', () => {
  const storage = new S3Storage(s3TestOptions({ location: randomPrefix('direct-images') }))
  afterAll(() => storage.client.destroy())

  async function listAll(dir = ''): Promise<string[]> {
    const { dirs, files } = await storage.listdir(dir)
    const nested = await Promise.all(dirs.map((d) => listAll(dir ? `${dir}/${d}` : d)))
    return [...files.map((f) => (dir ? `${dir}/${f}` : f)), ...nested.flat()].filter((n) => !n.endsWith('.done')).sort()
  }

  it('confirm strips the metadata, applies orientation and writes the eager variants; the client copy is gone', async () => {
    const avatar = imageField({
      storage,
      uploadTo: 'avatars/',
      column: 'avatar',
      widthColumn: 'w',
      heightColumn: 'h',
      processor: images({ variants: { thumb: { width: 8, height: 8, fit: 'cover', format: 'webp' } } }),
    })
    const uploads = directUploads(avatar, { basePath: '/uploads/avatar' })
    const photo = await phonePhoto()
    expect(exifHasGps((await sharp(photo).metadata()).exif)).toBe(true)
    const signed = await uploads.sign({ filename: 'me.jpg', size: photo.length, type: 'image/jpeg' })
    if (!('url' in signed)) throw new Error('expected a single PUT')
    const put = await fetch(signed.url, { method: 'PUT', body: new Uint8Array(photo), headers: signed.headers })
    expect(put.status).toBeLessThan(300)

    const record: Record<string, unknown> = {}
    const file = await uploads.confirm(signed.upload, record)
    expect(file).toMatchObject({ name: 'avatars/me.jpg', contentType: 'image/jpeg', width: 20, height: 40 })
    expect(record).toEqual({ avatar: 'avatars/me.jpg', w: 20, h: 40 })
    const stored = await sharp(Buffer.from(await storage.read(file.name))).metadata()
    expect([stored.width, stored.height, stored.exif]).toEqual([20, 40, undefined])
    expect(file.size).toBe((await storage.stat(file.name)).size)
    expect(await listAll()).toEqual(['avatars/me.jpg', 'avatars/me.jpg.variants/thumb.webp'])
  })

  it("holds a direct upload to the processor's maxBytes, as a server upload is held: refused at sign, and at confirm before the server reads it", async () => {
    // The field has no maxSize: the processor's limit is the only one. The confirmation used to read
    // the promoted object whole into memory before the processor refused it, whatever its size.
    const limit = 64 * 1024
    const banner = imageField({ storage, uploadTo: 'banners/', processor: images({ maxBytes: limit }) })
    const uploads = directUploads(banner, { basePath: '/uploads/banner' })
    const err = await uploads.sign({ filename: 'big.png', size: limit + 1 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).failures).toEqual([expect.objectContaining({ rule: 'maxSize', params: { limit } })])
    await expect(uploads.sign({ filename: 'ok.png', size: limit })).resolves.toMatchObject({ name: 'banners/ok.png' })
    // A URL signed around the endpoint: confirm refuses by the stored size, and keeps nothing.
    const big = Buffer.concat([Buffer.from(samplePng(4, 4)), Buffer.alloc(limit)])
    const put = await storage.presignPut('banners/big.png', { size: big.length })
    expect((await fetch(put.url, { method: 'PUT', body: new Uint8Array(big), headers: put.headers })).status).toBeLessThan(300)
    const refused = await uploads.confirm(put.upload).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ValidationError)
    expect((refused as ValidationError).failures).toEqual([expect.objectContaining({ rule: 'maxSize', params: { limit } })])
    expect((await listAll()).filter((n) => n.startsWith('banners/'))).toEqual([])
  })
})
