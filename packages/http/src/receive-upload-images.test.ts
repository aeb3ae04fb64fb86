/**
 * receiveUpload into an image field with a processor (`@stowage/images`):
 * the form's rollback and `deleteOnReplace` take the variants with the
 * original, and the response reports the stored (upright) image.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fileField, imageField, maxSize, MemoryStorage } from '@stowage/core'
import { images } from '@stowage/images'
import { phonePhoto } from '../../images/src/test-support/fixtures.js'
import { sendError } from './http-errors.js'
import { receiveUpload, type ReceiveUploadOptions } from './receive-upload.js'
import { multipart, serve } from './test-support/backends.js'

describe('receiveUpload with an image processor', () => {
  const storage = new MemoryStorage()
  const avatar = imageField({
    storage,
    uploadTo: 'avatars/',
    deleteOnReplace: true,
    processor: images({ variants: { thumb: { width: 8, height: 8, fit: 'cover', format: 'webp' } } }),
  })
  const notes = fileField({ storage, uploadTo: 'notes/', validators: [maxSize(4)] })
  let server: Awaited<ReturnType<typeof serve>>
  let options: ReceiveUploadOptions
  beforeAll(async () => {
    server = await serve((req: IncomingMessage, res: ServerResponse) => {
      receiveUpload(req, options).then(
        (r) => {
          res.writeHead(201, { 'content-type': 'application/json' })
          res.end(JSON.stringify(r))
        },
        (err: unknown) => sendError(res, err),
      )
    })
  })
  afterAll(() => server?.close())

  const post = async (parts: Parameters<typeof multipart>[0]) => {
    const { body, contentType } = multipart(parts)
    const res = await fetch(server.url, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': contentType } })
    return { status: res.status, json: (await res.json()) as Record<string, any> }
  }

  it('rolls back the original and its variants when another file of the form is refused', async () => {
    const record = { avatar: null, notes: null }
    options = { files: { avatar: avatar.bind(record, 'avatar'), notes: notes.bind(record, 'notes') } }
    const { status } = await post([
      { name: 'avatar', filename: 'me.jpg', type: 'image/jpeg', data: await phonePhoto() },
      { name: 'notes', filename: 'n.txt', type: 'text/plain', data: 'far too long' },
    ])
    expect(status).toBe(413)
    expect(storage.names()).toEqual([])
    expect(record).toEqual({ avatar: null, notes: null })
  })

  it('reports the upright size, and a replacement retires the old image with its variants', async () => {
    const record = { avatar: null as string | null }
    options = { files: { avatar: avatar.bind(record, 'avatar') } }
    const first = await post([{ name: 'avatar', filename: 'a.jpg', type: 'image/jpeg', data: await phonePhoto() }])
    expect(first.status).toBe(201)
    expect(first.json.files.avatar).toMatchObject({ name: 'avatars/a.jpg', width: 20, height: 40, type: 'image/jpeg' })
    expect(storage.names().sort()).toEqual(['avatars/a.jpg', 'avatars/a.jpg.variants/thumb.webp'])
    const second = await post([{ name: 'avatar', filename: 'b.jpg', type: 'image/jpeg', data: await phonePhoto() }])
    expect(second.status).toBe(201)
    expect(storage.names().sort()).toEqual(['avatars/b.jpg', 'avatars/b.jpg.variants/thumb.webp'])
  })
})
