/**
 * A direct upload to S3 (S3Storage on the real gateway) into an image field
 * with a processor: the client's bytes (GPS in EXIF, lying on their side)
 * never stay; confirm stores them as a server upload would be stored.
 */
import sharp from 'sharp'
import { afterAll, describe, expect, it } from 'vitest'
import { imageField } from '@stowage/core'
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
})
