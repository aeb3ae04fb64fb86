import { randomBytes } from 'node:crypto'
import { PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3'
import { ConfigurationError, PermissionDeniedError, readAll, StorageError } from '@stowage/core'
import { randomPrefix, rejection, runStorageConformance } from '@stowage/core/testing'
import { describe, expect, it } from 'vitest'
import { s3Storages, s3TestEnv, s3TestOptions } from '../../../test/s3.js'
import type { S3StorageOptions } from './options.js'
import { S3Storage } from './s3-storage.js'

// One random prefix per run: the shared bucket is never wiped, and runs never meet.
runStorageConformance({
  name: 'S3Storage',
  create: (options) => new S3Storage(s3TestOptions({ location: randomPrefix('s3-conformance'), ...options })),
  destroy: (storage) => (storage as S3Storage).client.destroy(),
})

/** A storage under its own random key prefix on the test server. */
const storageWith = s3Storages('s3')
const errorOf = (promise: Promise<unknown>) => rejection(promise, StorageError)

describe('S3Storage: URLs', () => {
  // Expired, tampered and replayed URLs are refused: test/reliability/s3-reliability.test.ts.
  it('presigned URLs carry the lifetime asked for and serve the object', async () => {
    const storage = storageWith()
    const name = await storage.save('private/report.txt', 'secret')
    const fresh = await storage.url(name, { expiresIn: 60 })
    expect(fresh).toContain('X-Amz-Expires=60')
    const ok = await fetch(fresh)
    expect(ok.status).toBe(200)
    expect(await ok.text()).toBe('secret')
  })

  it('objects are private by default: the unsigned URL is refused', async () => {
    const storage = storageWith({ querystringAuth: false })
    const name = await storage.save('p.txt', 'private')
    const plain = await storage.url(name)
    expect(plain).not.toContain('X-Amz-Signature')
    expect(plain).toBe(`${storage.options.endpoint}/${storage.options.bucket}/${storage.options.location}/p.txt`)
    expect((await fetch(plain)).status).toBe(403)
  })

  const noAcls = ['minio', 'r2'].includes(s3TestEnv().provider)
  it.skipIf(noAcls)(
    `a public-read object is served at its plain URL${noAcls ? ' (skipped: this server ignores object ACLs; public access is a bucket policy there)' : ''}`,
    async () => {
      const pub = storageWith({ querystringAuth: false, defaultAcl: 'public-read' })
      const res = await fetch(await pub.url(await pub.save('pub.txt', 'public')))
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('public')
    },
  )

  it('forces a download with a unicode file name, and serves unicode keys', async () => {
    const storage = storageWith()
    const name = await storage.save('ünï/日本 ß.txt', 'unicode body')
    const res = await fetch(await storage.url(name, { download: 'Bericht ü "2024".txt' }))
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('unicode body')
    const disposition = res.headers.get('content-disposition') ?? ''
    expect(disposition).toMatch(/^attachment; filename="Bericht _ _2024_.txt"/)
    expect(disposition).toContain("filename*=UTF-8''Bericht%20%C3%BC%20%222024%22.txt")
  })

  it('customDomain gives plain CDN URLs, percent-encoded', async () => {
    const storage = storageWith({ customDomain: 'https://cdn.example.com/' })
    expect(await storage.url('a b/ü.png')).toBe(`https://cdn.example.com/${storage.options.location}/a%20b/%C3%BC.png`)
  })

  it('customDomain with download still presigns, on the bucket, and the download works', async () => {
    const storage = storageWith({ customDomain: 'cdn.example.com' })
    const name = await storage.save('report.pdf', '%PDF-1.4 body')
    const url = new URL(await storage.url(name, { download: 'Report 2024.pdf' }))
    // A CDN URL cannot carry the signed response-header override: the download goes to the bucket itself.
    expect(url.origin).toBe(new URL(s3TestEnv().endpoint).origin)
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/)
    const res = await fetch(url)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="Report 2024.pdf"/)
    expect(await res.text()).toBe('%PDF-1.4 body')
  })

  it('refuses an expiry beyond the 7 days SigV4 allows', async () => {
    const storage = storageWith()
    expect((await errorOf(storage.url('x.txt', { expiresIn: 8 * 24 * 3600 }))).code).toBe('EINVAL')
  })
})

describe('S3Storage: metadata', () => {
  it('round-trips content type, object parameters and user metadata', async () => {
    const storage = storageWith({
      objectParameters: (name) => ({
        CacheControl: 'public, max-age=31536000, immutable',
        ContentDisposition: 'inline',
        Metadata: { origin: 'stowage-test', source: name.replace(/[^a-z]/g, '') },
      }),
    })
    const name = await storage.save('docs/page.css', 'body{}')
    const st = await storage.stat(name)
    expect(st.contentType).toMatch(/^text\/css/) // guessed from the extension
    const res = await fetch(await storage.url(name))
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(res.headers.get('content-disposition')).toBe('inline')
    expect(res.headers.get('x-amz-meta-origin')).toBe('stowage-test')
    expect(res.headers.get('x-amz-meta-source')).toBe('docspagecss')
    expect(st.etag).toMatch(/^[0-9a-f]{32}$/)
  })

  it('an explicit content type wins over the guess', async () => {
    const storage = storageWith()
    const name = await storage.save('data.css', '{}', { contentType: 'application/json' })
    expect((await storage.stat(name)).contentType).toBe('application/json')
  })
})

describe('S3Storage: errors', () => {
  it('wrong credentials give PermissionDeniedError (EACCES), with the SDK error as cause', async () => {
    const good = storageWith()
    const name = await good.save('c.txt', 'x')
    const env = s3TestOptions()
    const creds = env.credentials as { accessKeyId: string; secretAccessKey: string }
    for (const credentials of [
      { accessKeyId: creds.accessKeyId, secretAccessKey: 'wrong-secret' },
      { accessKeyId: 'NOSUCHACCESSKEY', secretAccessKey: creds.secretAccessKey },
    ]) {
      const bad = storageWith({ location: good.options.location, credentials })
      for (const call of [() => bad.read(name), () => bad.stat(name), () => bad.save('new.txt', 'y'), () => bad.listdir(''), () => bad.delete(name)]) {
        const err = await errorOf(call())
        expect(err).toBeInstanceOf(PermissionDeniedError)
        expect(err.code).toBe('EACCES')
        // The SDK's own error, as the server answered: a 403 (named when the response had a body).
        expect(err.cause).toBeInstanceOf(S3ServiceException)
        expect((err.cause as S3ServiceException).$metadata.httpStatusCode).toBe(403)
      }
    }
    expect(Buffer.from(await good.read(name)).toString()).toBe('x')
  })

  it('a missing bucket is a ConfigurationError naming the bucket key on every operation, exists() included', async () => {
    const bucket = `stowage-missing-${randomPrefix('b').toLowerCase()}`
    const storage = storageWith({ bucket })
    const calls = [
      () => storage.read('x.txt'),
      () => storage.save('x.txt', 'x'),
      () => storage.listdir(''),
      () => storage.delete('x.txt'),
      () => storage.open('x.txt'),
      // HEAD answers a bare 404 for a missing bucket as for a missing key.
      () => storage.exists('x.txt'),
      () => storage.size('x.txt'),
      () => storage.stat('x.txt'),
    ]
    for (const call of calls) {
      const err = await errorOf(call())
      expect(err, String(call)).toBeInstanceOf(ConfigurationError)
      expect((err as ConfigurationError).key).toBe('bucket')
      expect(err.message).toBe(`bucket: '${bucket}' does not exist`)
    }
  })

  it('on an existing bucket a missing key is still ENOENT / false', async () => {
    const storage = storageWith()
    expect(await storage.exists('nope.txt')).toBe(false)
    expect((await errorOf(storage.stat('nope.txt'))).code).toBe('ENOENT')
    expect((await errorOf(storage.size('nope.txt'))).code).toBe('ENOENT')
  })

  it('bad options fail at construction, naming the key', () => {
    const bad: [Partial<S3StorageOptions>, string][] = [
      [{ bucket: '' }, 'bucket'],
      [{ bucket: '   ' }, 'bucket'],
      [{ bucket: 'media/avatars' }, 'bucket'],
      [{ bucket: 'media ' }, 'bucket'],
      [{ endpoint: 'ftp://x' }, 'endpoint'],
      [{ multipartThreshold: 1024 }, 'multipartThreshold'],
      [{ partSize: 6 * 1024 ** 3 }, 'partSize'],
      [{ expiresIn: 0 }, 'expiresIn'],
      [{ location: '../up' }, 'location'],
      [{ provider: 'azure' as never }, 'provider'],
      [{ requestChecksumCalculation: 'ALWAYS' as never }, 'requestChecksumCalculation'],
      [{ bucketName: 'x' } as never, 'bucketName'],
    ]
    for (const [opts, key] of bad) {
      expect(() => new S3Storage({ bucket: 'b', ...opts } as S3StorageOptions), key).toThrow(expect.objectContaining({ code: 'ECONFIG', key }))
    }
    expect(() => new S3Storage({ bucket: 'b', endPoint: 'http://x' } as never)).toThrow("did you mean 'endpoint'?")
  })
})

describe('S3Storage: listing and reading', () => {
  it('listdir follows pagination across directories and files', async () => {
    const storage = storageWith({ listPageSize: 7 })
    const files = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(2, '0')}.txt`)
    const dirs = ['d1', 'd2', 'd3']
    await Promise.all([...files.map((f) => storage.save(`list/${f}`, f)), ...dirs.map((d) => storage.save(`list/${d}/inner.txt`, d))])
    expect(await storage.listdir('list')).toEqual({ dirs, files })
    expect((await storage.listdir('')).dirs).toEqual(['list'])
  })

  it('reads byte ranges of a binary object, including past the end', async () => {
    const storage = storageWith()
    const data = randomBytes(4096)
    const name = await storage.save('r.bin', data)
    expect(Buffer.from(await readAll(await storage.open(name, { start: 1000, end: 1999 })))).toEqual(data.subarray(1000, 2000))
    expect(Buffer.from(await readAll(await storage.open(name, { start: 4000 })))).toEqual(data.subarray(4000))
    expect((await readAll(await storage.open(name, { start: 5000 }))).length).toBe(0)
  })
})

describe('S3Storage: claiming names', () => {
  it('detects that the server honours If-None-Match (the claim every save relies on)', async () => {
    expect(await storageWith().supportsConditionalWrites()).toBe(true)
  })

  it('without conditional writes, sequential saves still never overwrite (check-then-write fallback)', async () => {
    const storage = storageWith({ conditionalWrites: false })
    const a = await storage.save('same.txt', 'one')
    const b = await storage.save('same.txt', 'two')
    expect(b).not.toBe(a)
    expect(Buffer.from(await storage.read(a)).toString()).toBe('one')
    expect(Buffer.from(await storage.read(b)).toString()).toBe('two')
  })
})

describe('S3Storage: checksums', () => {
  it('defaults to WHEN_REQUIRED for S3-compatible servers and WHEN_SUPPORTED on AWS', () => {
    const generic = new S3Storage({ bucket: 'b', endpoint: 'http://127.0.0.1:1' })
    const aws = new S3Storage({ bucket: 'b', region: 'eu-west-1' })
    const pinned = new S3Storage({ bucket: 'b', provider: 'aws', requestChecksumCalculation: 'WHEN_REQUIRED' })
    expect(generic.options.requestChecksumCalculation).toBe('WHEN_REQUIRED')
    expect(generic.options.forcePathStyle).toBe(true)
    expect(aws.options.requestChecksumCalculation).toBe('WHEN_SUPPORTED')
    expect(aws.options.forcePathStyle).toBe(false)
    expect(pinned.options.requestChecksumCalculation).toBe('WHEN_REQUIRED')
    for (const s of [generic, aws, pinned]) s.client.destroy()
  })

  it('uploads also work with the SDK flexible checksums, since every body is sent with a known length', async () => {
    const storage = storageWith({ requestChecksumCalculation: 'WHEN_SUPPORTED', responseChecksumValidation: 'WHEN_SUPPORTED' })
    const { Readable } = await import('node:stream')
    const name = await storage.save('crc.txt', Readable.from([Buffer.from('c'), Buffer.from('rc')]))
    expect(Buffer.from(await storage.read(name)).toString()).toBe('crc')
  })

  // The SDK's flexible checksums get a second client for presigning (see the
  // constructor); it must sign for the region the main client uses, which
  // with `endpoint` and no `region` is the provider's, not the SDK's chain
  // (none here) nor `clientConfig.region` (ignored with `endpoint`).
  const regionOf = (url: string) => new URL(url).searchParams.get('X-Amz-Credential')!.split('/')[2]
  it.each([
    ['no region at all', {}],
    ['clientConfig.region, which endpoint overrides', { clientConfig: { region: 'eu-west-3' } }],
  ])('presigned URLs name the main client region with flexible checksums and %s', async (_, extra: Partial<S3StorageOptions>) => {
    const storage = storageWith({ region: undefined, requestChecksumCalculation: 'WHEN_SUPPORTED', ...extra })
    const region = await storage.client.config.region()
    expect(region).toBe('us-east-1')
    const name = await storage.save('r.txt', 'regional')
    const get = await storage.url(name, { expiresIn: 60 })
    expect(regionOf(get)).toBe(region)
    const res = await fetch(get)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('regional')
    const put = await storage.presignPut('up.txt', { expiresIn: 60 })
    expect(regionOf(put.url)).toBe(region)
    const upload = await fetch(put.url, { method: 'PUT', headers: put.headers, body: 'uploaded' })
    expect(upload.status).toBe(200)
  })

  it('streams of unknown length upload with the default profile (no aws-chunked trailers)', async () => {
    const storage = storageWith({ provider: 'ceph' })
    const { Readable } = await import('node:stream')
    const name = await storage.save('stream.txt', Readable.from([Buffer.from('a'), Buffer.from('b')]))
    expect(Buffer.from(await storage.read(name)).toString()).toBe('ab')
  })
})

describe('S3Storage: cleanupPlaceholders', () => {
  // A large save or a confirmation killed between claiming its name and
  // writing it left the empty placeholder there for good.
  it('deletes only old, empty placeholders: not a file saved empty, not a finished save, not a fresh claim', async () => {
    let clock = Date.now()
    const storage = storageWith({ now: () => new Date(clock) })
    const put = (name: string, body: string) =>
      storage.client.send(
        new PutObjectCommand({
          Bucket: storage.options.bucket,
          Key: storage.key(name),
          Body: Buffer.from(body),
          ContentLength: Buffer.byteLength(body),
          Metadata: { 'stowage-upload': 'pending' },
        }),
      )
    await put('big/killed.bin', '') // what a killed save leaves
    await put('big/finished.bin', 'a body over its placeholder')
    await storage.save('empty.txt', '')
    await storage.save('doc.txt', 'kept')
    expect(await storage.cleanupPlaceholders()).toEqual([]) // a claim a day old at most may still be filled
    clock += 2 * 86_400_000
    expect(await storage.cleanupPlaceholders()).toEqual(['big/killed.bin'])
    expect(await storage.exists('big/killed.bin')).toBe(false)
    for (const name of ['big/finished.bin', 'empty.txt', 'doc.txt']) expect(await storage.exists(name)).toBe(true)
    expect(await storage.cleanupPlaceholders({ olderThan: 0 })).toEqual([])
    await expect(storage.cleanupPlaceholders({ olderThan: -1 })).rejects.toMatchObject({ code: 'EINVAL' })
  })
})
