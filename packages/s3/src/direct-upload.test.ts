import { randomPrefix } from '@stowage/core/testing'
import { ValidationError } from '@stowage/core'
import { afterAll, describe, expect, it } from 'vitest'
import { s3TestOptions } from '../../../test/s3.js'
import { S3Storage } from './s3-storage.js'

// A real 1×1 PNG, so the magic-byte check has something true to find.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64')

const made: S3Storage[] = []
afterAll(() => made.forEach((s) => s.client.destroy()))
function storageWith(): S3Storage {
  const s = new S3Storage(s3TestOptions({ location: randomPrefix('s3-direct') }))
  made.push(s)
  return s
}

/** Posts a browser-style multipart form: the policy fields, then the file. */
async function postForm(url: string, fields: Record<string, string>, body: Uint8Array, extra: Record<string, string> = {}): Promise<Response> {
  const form = new FormData()
  for (const [k, v] of Object.entries({ ...fields, ...extra })) form.append(k, v)
  form.append('file', new Blob([new Uint8Array(body)]), 'upload.bin')
  return fetch(url, { method: 'POST', body: form })
}

describe('S3Storage: presigned POST', () => {
  it('accepts a body within the policy and confirmUpload recognises it by its magic bytes', async () => {
    const storage = storageWith()
    const post = await storage.presignPost('avatars/me.png', { maxSize: 1000, contentType: 'image/png', expiresIn: 300 })
    expect(post.name).toBe('avatars/me.png')
    expect(post.fields['Content-Type']).toBe('image/png')
    const res = await postForm(post.url, post.fields, PNG)
    expect(res.status).toBeLessThan(300)
    const confirmed = await storage.confirmUpload(post.name, { maxSize: 1000, allowedTypes: ['image/png'] })
    expect(confirmed).toMatchObject({ size: PNG.length, contentType: 'image/png', detectedType: 'image/png' })
  })

  it('the server refuses a body over maxSize (EntityTooLarge) and nothing is stored', async () => {
    const storage = storageWith()
    const post = await storage.presignPost('big.png', { maxSize: 100, contentType: 'image/png' })
    const res = await postForm(post.url, post.fields, Buffer.alloc(101, 7))
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('EntityTooLarge')
    expect(await storage.exists(post.name)).toBe(false)
  })

  it('the server refuses a content type outside the allowed prefix', async () => {
    const storage = storageWith()
    const post = await storage.presignPost('img.bin', { maxSize: 1000, contentTypePrefix: 'image/' })
    const refused = await postForm(post.url, post.fields, PNG, { 'Content-Type': 'text/html' })
    expect(refused.status).toBe(403)
    expect(await storage.exists(post.name)).toBe(false)
    const accepted = await postForm(post.url, post.fields, PNG, { 'Content-Type': 'image/png' })
    expect(accepted.status).toBeLessThan(300)
  })

  it('reserves a free name when the asked one is taken, and refuses bad limits', async () => {
    const storage = storageWith()
    await storage.save('doc.pdf', 'x')
    const post = await storage.presignPost('doc.pdf', { maxSize: 10 })
    expect(post.name).toMatch(/^doc_[A-Za-z0-9]{7}\.pdf$/)
    await expect(storage.presignPost('a.txt', { maxSize: 5, minSize: 6 })).rejects.toMatchObject({ code: 'EINVAL' })
    await expect(storage.presignPost('../a.txt', { maxSize: 5 })).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
  })
})

describe('S3Storage: presigned PUT', () => {
  it('uploads once with the signed headers; the same URL cannot replace the object (412)', async () => {
    const storage = storageWith()
    const put = await storage.presignPut('photos/ü p.png', { expiresIn: 300 })
    expect(put.name).toBe('photos/ü_p.png')
    expect(put.headers).toEqual({ 'Content-Type': 'image/png', 'If-None-Match': '*' })
    const first = await fetch(put.url, { method: 'PUT', headers: put.headers, body: PNG })
    expect(first.status).toBe(200)
    const again = await fetch(put.url, { method: 'PUT', headers: put.headers, body: Buffer.from('replaced') })
    expect(again.status).toBe(412)
    expect(Buffer.from(await storage.read(put.name)).equals(PNG)).toBe(true)
  })

  it('a different Content-Type than the signed one is refused (403)', async () => {
    const storage = storageWith()
    const put = await storage.presignPut('x.png')
    const res = await fetch(put.url, { method: 'PUT', headers: { ...put.headers, 'Content-Type': 'text/html' }, body: PNG })
    expect(res.status).toBe(403)
    expect(await storage.exists(put.name)).toBe(false)
  })
})

describe('S3Storage: confirmUpload', () => {
  it('deletes an upload whose bytes are not what it claims, and says why', async () => {
    const storage = storageWith()
    const put = await storage.presignPut('fake.png')
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: Buffer.from('<script>alert(1)</script>') })).status).toBe(200)
    // An unnormalised spelling of the name must still delete the checked object.
    const err = await storage.confirmUpload(`./${put.name}`, { allowedTypes: ['image/png', 'image/jpeg'] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).code).toBe('EVALIDATION')
    expect((err as ValidationError).failures.map((f) => f.rule)).toEqual(['allowedTypes'])
    expect(await storage.exists(put.name)).toBe(false)
  })

  it('deletes an upload over maxSize or refused by a custom check', async () => {
    const storage = storageWith()
    const big = await storage.save('big.png', Buffer.concat([PNG, Buffer.alloc(500)]))
    await expect(storage.confirmUpload(big, { maxSize: 100 })).rejects.toMatchObject({ code: 'EVALIDATION' })
    expect(await storage.exists(big)).toBe(false)
    const odd = await storage.save('odd.png', PNG)
    const seen: unknown[] = []
    const err = await storage
      .confirmUpload(odd, {
        validate: (u) => {
          seen.push(u.detectedType, u.size)
          return 'not on a weekday'
        },
      })
      .catch((e: unknown) => e)
    expect((err as ValidationError).failures).toEqual([{ rule: 'validate', message: 'not on a weekday' }])
    expect(seen).toEqual(['image/png', PNG.length])
    expect(await storage.exists(odd)).toBe(false)
  })

  it('a name that was never uploaded is ENOENT', async () => {
    const storage = storageWith()
    await expect(storage.confirmUpload('never.png')).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
