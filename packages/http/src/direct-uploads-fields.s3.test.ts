/**
 * Direct uploads to S3 (S3Storage on the real gateway) for two fields: a
 * token is confirmed where the confirming field's `uploadTo` puts it, never
 * in the folder of the field whose endpoint signed it.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { allowedTypes, fileField, samplePng } from '@stowage/core'
import { randomPrefix } from '@stowage/core/testing'
import { S3Storage } from '@stowage/s3'
import { s3TestOptions } from '../../../test/s3.js'
import { directUploads } from './direct-uploads.js'

describe('directUploads to S3 for two fields', () => {
  const storage = new S3Storage(s3TestOptions({ location: randomPrefix('direct-fields') }))
  afterAll(() => storage.client.destroy())

  it("a token signed through one field's endpoint and confirmed through another's lands under the confirming field's uploadTo, checked by its rules", async () => {
    const avatars = directUploads(fileField({ storage, uploadTo: 'avatars/', column: 'avatar', validators: [allowedTypes(['image/png'])] }), {
      basePath: '/uploads/avatar',
    })
    const documents = directUploads(fileField({ storage, uploadTo: 'private-docs/', column: 'doc' }), { basePath: '/uploads/doc' })
    const png = samplePng(4, 4)
    const signed = await documents.sign({ filename: 'x.png', size: png.length, type: 'image/png' })
    if (!('url' in signed)) throw new Error('expected a single PUT')
    expect(signed.name).toBe('private-docs/x.png')
    expect((await fetch(signed.url, { method: 'PUT', body: new Uint8Array(png), headers: signed.headers })).status).toBeLessThan(300)

    // An unsafe final name is refused before any request, and the token stays usable.
    await expect(storage.confirmUpload(signed.upload, { name: '../x.png' })).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
    const file = await avatars.confirm(signed.upload, {})
    expect(file.name).toBe('avatars/x.png')
    expect(await storage.exists('private-docs/x.png')).toBe(false)
    expect(Buffer.from(await storage.read('avatars/x.png')).equals(png)).toBe(true)
  })
})
