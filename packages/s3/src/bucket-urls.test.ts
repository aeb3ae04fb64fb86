/**
 * A bucket serves whatever it stores, with the headers stored beside it:
 * active content (HTML, SVG, XML, JavaScript, unknown types) must reach a
 * browser as a download, never as a page on the bucket's origin.
 */
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { s3Storages } from '../../../test/s3.js'
import { S3Storage } from './s3-storage.js'

const storageWith = s3Storages('s3-urls')

const SVG = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'

describe('S3Storage: bucket URLs of active content', () => {
  it.each([
    ['page.html', '<script>alert(1)</script>'],
    ['logo.svg', SVG],
    ['feed.xml', '<?xml version="1.0"?><x/>'],
    ['app.js', 'alert(1)'],
    ['styles.css', 'body{}'],
    ['mystery.weird', '<script>alert(1)</script>'],
    ['no-extension', '<script>alert(1)</script>'],
  ])('%s is stored as an attachment and its presigned URL forces one', async (file, body) => {
    const storage = storageWith()
    const name = await storage.save(`u/${file}`, body)
    // What the bucket stored, seen without any URL override.
    const head = await storage.client.send(new HeadObjectCommand({ Bucket: storage.options.bucket, Key: storage.key(name) }))
    expect(head.ContentDisposition).toBe('attachment')
    const url = await storage.url(name)
    expect(new URL(url).searchParams.get('response-content-disposition')).toMatch(/^attachment; filename="/)
    const res = await fetch(url)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="/)
  })

  it.each([
    ['photo.png', 'image/png'],
    ['clip.mp4', 'video/mp4'],
    ['report.pdf', 'application/pdf'],
    ['notes.txt', 'text/plain; charset=utf-8'],
  ])('%s stays inline', async (file, type) => {
    const storage = storageWith()
    const name = await storage.save(file, 'bytes')
    const res = await fetch(await storage.url(name))
    expect(res.headers.get('content-type')).toBe(type)
    expect(res.headers.get('content-disposition')).toBeNull()
    expect(new URL(await storage.url(name)).searchParams.has('response-content-disposition')).toBe(false)
  })

  // A browser reads a comma-separated Content-Type as a list and takes its
  // last member, and sniffs a malformed one (a bucket sends no nosniff):
  // neither may pass as the passive type it starts with.
  it('a caller-given type a browser reads as a page is stored as an attachment, copies included', async () => {
    const storage = storageWith()
    const type = 'image/png; x=a,text/html' // one MIME type to save(), two to a browser
    const name = await storage.save('pic.png', '<script>alert(1)</script>', { contentType: type })
    const head = await storage.client.send(new HeadObjectCommand({ Bucket: storage.options.bucket, Key: storage.key(name) }))
    expect(head.ContentType).toBe(type)
    expect(head.ContentDisposition).toBe('attachment')
    // The name looks passive, so the URL adds no override: the stored header is what protects it.
    expect((await fetch(await storage.url(name))).headers.get('content-disposition')).toBe('attachment')
  })

  it.each(['video/mp4,text/html', 'video/', 'font/'])('an object stored elsewhere as %j is copied as an attachment', async (type) => {
    const storage = storageWith()
    // Written by another client: save() refuses such a type (InvalidArgumentError), a copy keeps the source's.
    await storage.client.send(
      new PutObjectCommand({ Bucket: storage.options.bucket, Key: storage.key('outside.mp4'), Body: '<script>alert(1)</script>', ContentType: type }),
    )
    await expect(storage.save('clip.mp4', 'x', { contentType: type })).rejects.toMatchObject({ code: 'EINVAL', context: { argument: 'contentType' } })
    expect(await storage.exists('clip.mp4')).toBe(false)
    const copy = await storage.copy('outside.mp4', 'copy.mp4')
    const copied = await storage.client.send(new HeadObjectCommand({ Bucket: storage.options.bucket, Key: storage.key(copy) }))
    expect(copied.ContentType).toBe(type)
    expect(copied.ContentDisposition).toBe('attachment')
    expect((await fetch(await storage.url(copy))).headers.get('content-disposition')).toBe('attachment')
  })

  it('inlineTypes opts a type into inline delivery; objectParameters still win', async () => {
    const site = storageWith({ inlineTypes: ['text/html'] })
    const page = await site.save('index.html', '<h1>hi</h1>')
    const res = await fetch(await site.url(page))
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(res.headers.get('content-disposition')).toBeNull()
    const svg = await site.save('logo.svg', SVG)
    expect((await fetch(await site.url(svg))).headers.get('content-disposition')).toMatch(/^attachment/)

    const explicit = storageWith({ objectParameters: { ContentDisposition: 'inline; filename="x.html"' } })
    const x = await explicit.save('x.html', '<h1>x</h1>')
    const head = await explicit.client.send(new HeadObjectCommand({ Bucket: explicit.options.bucket, Key: explicit.key(x) }))
    expect(head.ContentDisposition).toBe('inline; filename="x.html"')
  })

  // inlineTypes names one type; a browser reads `application/x-custom; x=a,text/html` as a list and takes
  // its last member, so its first one being listed makes it no less a page.
  it.each(['application/x-custom; x=a,text/html', 'Application/X-Custom ; x=a,image/svg+xml'])(
    'inlineTypes does not deliver %j inline, nor a copy of it',
    async (type) => {
      // Public objects at plain URLs: the bucket serves the stored headers, and nothing else protects them.
      const storage = storageWith({ inlineTypes: ['application/x-custom'], querystringAuth: false, defaultAcl: 'public-read' })
      const listed = await storage.save('listed.custom', 'bytes', { contentType: 'application/x-custom; charset=utf-8' })
      expect((await fetch(await storage.url(listed))).headers.get('content-disposition')).toBeNull()
      const name = await storage.save('page.custom', '<script>alert(1)</script>', { contentType: type })
      const res = await fetch(await storage.url(name))
      expect([res.status, res.headers.get('content-type'), res.headers.get('content-disposition')]).toEqual([200, type, 'attachment'])
      const copy = await storage.copy(name, 'copy.custom')
      const copied = await storage.client.send(new HeadObjectCommand({ Bucket: storage.options.bucket, Key: storage.key(copy) }))
      expect(copied.ContentDisposition).toBe('attachment')
    },
  )

  it('an explicit download name wins over the forced attachment', async () => {
    const storage = storageWith()
    const name = await storage.save('a.html', '<p>')
    const res = await fetch(await storage.url(name, { download: 'é.html' }))
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="_.html"; filename*=UTF-8''%C3%A9.html`)
  })

  it('refuses a badly formed inlineTypes list at construction, naming the key', () => {
    expect(() => new S3Storage({ bucket: 'b', inlineTypes: ['html'] })).toThrow(expect.objectContaining({ code: 'ECONFIG', key: 'inlineTypes' }))
    expect(() => new S3Storage({ bucket: 'b', pendingPrefix: '../x' })).toThrow(expect.objectContaining({ code: 'ECONFIG', key: 'pendingPrefix' }))
    expect(() => new S3Storage({ bucket: 'b', uploadExpiresIn: 0 })).toThrow(expect.objectContaining({ code: 'ECONFIG', key: 'uploadExpiresIn' }))
  })
})
