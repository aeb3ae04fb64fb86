import { HeadObjectCommand } from '@aws-sdk/client-s3'
import { randomPrefix } from '@stowage/core/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { s3TestOptions } from '../../../test/s3.js'
import { S3Storage } from './s3-storage.js'
import type { S3StorageOptions } from './options.js'

const made: S3Storage[] = []
const storage = (extra: Partial<S3StorageOptions> = {}) => {
  const s = new S3Storage(s3TestOptions({ location: randomPrefix('save-hints'), ...extra }))
  made.push(s)
  return s
}
afterAll(() => {
  for (const s of made) s.client.destroy()
})

const head = (s: S3Storage, name: string) => s.client.send(new HeadObjectCommand({ Bucket: s.options.bucket, Key: s.key(name) }))

describe('S3Storage.save hints (S3SaveOptions)', () => {
  it('stores Cache-Control and Content-Encoding for that object only; objectParameters win over them', async () => {
    const s = storage()
    await s.save('a.css.br', 'x', { overwrite: true, contentType: 'text/css', cacheControl: 'public, max-age=31536000, immutable', contentEncoding: 'br' })
    await s.save('plain.txt', 'y')
    expect(await head(s, 'a.css.br')).toMatchObject({ CacheControl: 'public, max-age=31536000, immutable', ContentEncoding: 'br', ContentType: 'text/css' })
    const plain = await head(s, 'plain.txt')
    expect(plain.CacheControl).toBeUndefined()
    expect(plain.ContentEncoding).toBeUndefined()

    const configured = storage({ objectParameters: { CacheControl: 'max-age=5' } })
    await configured.save('b.css', 'z', { cacheControl: 'public, max-age=31536000, immutable' })
    expect((await head(configured, 'b.css')).CacheControl).toBe('max-age=5')
  })

  it('private: true leaves out a public defaultAcl, so the object is not readable anonymously', async () => {
    const s = storage({ defaultAcl: 'public-read', querystringAuth: false })
    await s.save('public.txt', 'p')
    await s.save('record.json', 'r', { private: true })
    expect((await fetch(await s.url('public.txt'))).status).toBe(200)
    expect((await fetch(await s.url('record.json'))).status).toBe(403)
  })

  it('refuses a header value with a line break before any request, storing nothing', async () => {
    const s = storage()
    await expect(s.save('x.txt', 'x', { cacheControl: 'max-age=1\r\nX-Evil: 1' })).rejects.toMatchObject({ code: 'EINVAL' })
    await expect(s.save('x.txt', 'x', { contentEncoding: '' })).rejects.toMatchObject({ code: 'EINVAL' })
    expect(await s.exists('x.txt')).toBe(false)
  })
})
