/**
 * `S3Storage.copy` against the real gateway: a server-side copy (the bytes
 * never pass through the process), stored as `save()` stores a file, never
 * replacing someone else's object. Every request the storage's client sends
 * is recorded by a middleware, so the tests see exactly what went over the wire.
 */
import { randomBytes } from 'node:crypto'
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { FileNotFoundError } from '@stowage/core'
import { randomPrefix, rejection } from '@stowage/core/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { s3TestEnv, s3TestOptions } from '../../../test/s3.js'
import type { S3StorageOptions } from './options.js'
import { S3Storage } from './s3-storage.js'

/** One request as the storage's client sent it: the command, and the byte length of any body it carried. */
interface Sent {
  command: string
  bodyBytes?: number
}

/** An S3Storage whose copies switch to UploadPartCopy past 5 MiB (S3's smallest part), to reach that path without 5 GiB. */
class SmallCopyLimit extends S3Storage {
  protected override copyLimits = { maxCopySize: 5 * 1024 * 1024, copyPartSize: 5 * 1024 * 1024 }
}

const made: S3Storage[] = []
afterAll(() => {
  for (const s of made) s.client.destroy()
})

/** A storage under its own prefix, and the log of every request its client sends. */
function recorded(extra: Partial<S3StorageOptions> = {}, Kind: typeof S3Storage = S3Storage): { storage: S3Storage; sent: Sent[] } {
  const storage = new Kind(s3TestOptions({ location: randomPrefix('copy'), ...extra }))
  made.push(storage)
  const sent: Sent[] = []
  const record =
    (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: { commandName?: string }) => (args: { input: Record<string, unknown> }) => {
      const body = args.input.Body
      sent.push({ command: context.commandName ?? '?', ...(body !== undefined && { bodyBytes: Buffer.byteLength(body as Buffer) }) })
      return next(args)
    }
  storage.client.middlewareStack.add(record as never, { step: 'initialize', name: 'recordRequests' })
  return { storage, sent }
}

const head = (s: S3Storage, name: string) => s.client.send(new HeadObjectCommand({ Bucket: s.options.bucket, Key: s.key(name) }))
const commands = (sent: Sent[]) => sent.map((s) => s.command)

describe('S3Storage.copy: server-side', () => {
  it('overwrite: one HeadObject of the source and one CopyObject; the copy carries the source type, the attachment rule and the hints', async () => {
    const { storage, sent } = recorded()
    const body = randomBytes(70 * 1024)
    await storage.save('page.html', body, { contentType: 'text/html; charset=utf-8' })
    sent.length = 0
    const stored = await storage.copy('page.html', 'copies/page.html', { overwrite: true, cacheControl: 'public, max-age=60', contentEncoding: 'identity' })
    expect(stored).toBe('copies/page.html')
    expect(commands(sent)).toEqual(['HeadObjectCommand', 'CopyObjectCommand'])
    const h = await head(storage, stored)
    expect(h).toMatchObject({
      ContentType: 'text/html; charset=utf-8',
      ContentDisposition: 'attachment',
      CacheControl: 'public, max-age=60',
      ContentEncoding: 'identity',
      ContentLength: body.length,
    })
    expect(Buffer.from(await storage.read(stored)).equals(body)).toBe(true)
  })

  it("overwrite with a content type given (collectstatic's hashed copies): one CopyObject and nothing else; a missing source is still FileNotFoundError naming it", async () => {
    const { storage, sent } = recorded()
    await storage.save('app.css', 'body{}', { contentType: 'text/css' })
    sent.length = 0
    expect(
      await storage.copy('app.css', 'app.0123456789ab.css', { overwrite: true, contentType: 'text/css', cacheControl: 'public, max-age=31536000, immutable' }),
    ).toBe('app.0123456789ab.css')
    expect(commands(sent)).toEqual(['CopyObjectCommand'])
    expect(await head(storage, 'app.0123456789ab.css')).toMatchObject({ ContentType: 'text/css', CacheControl: 'public, max-age=31536000, immutable' })
    const err = await rejection(storage.copy('gone.css', 'x.css', { overwrite: true, contentType: 'text/css' }), FileNotFoundError)
    expect(err.context?.name).toBe('gone.css')
    expect(await storage.exists('x.css')).toBe(false)
  })

  it('no overwrite: claims the name with an empty placeholder, then copies over it; no body is sent or read', async () => {
    const { storage, sent } = recorded()
    await storage.save('a.txt', randomBytes(100 * 1024), { contentType: 'text/plain' })
    sent.length = 0
    const stored = await storage.copy('a.txt', 'b.txt')
    expect(stored).toBe('b.txt')
    expect(commands(sent)).toEqual(['HeadObjectCommand', 'PutObjectCommand', 'CopyObjectCommand'])
    expect(sent[1]!.bodyBytes).toBe(0)
    const h = await head(storage, stored)
    expect(h.ContentType).toBe('text/plain')
    expect(h.ContentDisposition).toBeUndefined() // a passive type is shown inline, as save() stores it
    expect(h.Metadata?.['stowage-upload']).toBeUndefined() // the placeholder's metadata was replaced
    expect(await storage.size(stored)).toBe(100 * 1024)
  })

  it("the request's content type wins over the source's; inlineTypes and objectParameters apply as in save()", async () => {
    const { storage } = recorded({ inlineTypes: ['text/html'], objectParameters: { CacheControl: 'max-age=5' } })
    await storage.save('doc.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>', { contentType: 'image/svg+xml' })
    const asHtml = await storage.copy('doc.svg', 'doc.html', { contentType: 'text/html', cacheControl: 'no-store' })
    expect(await head(storage, asHtml)).toMatchObject({ ContentType: 'text/html', CacheControl: 'max-age=5' })
    expect((await head(storage, asHtml)).ContentDisposition).toBeUndefined() // text/html opted in by inlineTypes
    const svg = await storage.copy('doc.svg', 'again.svg')
    expect(await head(storage, svg)).toMatchObject({ ContentType: 'image/svg+xml', ContentDisposition: 'attachment' })
  })

  const noAcls = ['minio', 'r2'].includes(s3TestEnv().provider)
  it.skipIf(noAcls)('defaultAcl applies to the copy, and private: true leaves it out', async () => {
    const { storage } = recorded({ defaultAcl: 'public-read', querystringAuth: false })
    await storage.save('src.txt', 'public bytes', { private: true })
    const pub = await storage.copy('src.txt', 'pub.txt')
    const priv = await storage.copy('src.txt', 'priv.txt', { private: true })
    expect((await fetch(await storage.url('src.txt'))).status).toBe(403)
    expect((await fetch(await storage.url(pub))).status).toBe(200)
    expect((await fetch(await storage.url(priv))).status).toBe(403)
  })

  it('past the single-copy limit: UploadPartCopy, still without the bytes passing through', async () => {
    const { storage, sent } = recorded({}, SmallCopyLimit)
    const body = randomBytes(6 * 1024 * 1024 + 17)
    await storage.save('big.bin', body, { contentType: 'application/octet-stream' })
    sent.length = 0
    const stored = await storage.copy('big.bin', 'big-copy.bin', { cacheControl: 'max-age=1' })
    const used = commands(sent)
    expect(used.filter((c) => c === 'UploadPartCopyCommand')).toHaveLength(2)
    expect(used).toContain('CompleteMultipartUploadCommand')
    expect(used).not.toContain('GetObjectCommand')
    expect(used).not.toContain('UploadPartCommand')
    expect(sent.every((s) => !s.bodyBytes)).toBe(true)
    expect(await head(storage, stored)).toMatchObject({ ContentType: 'application/octet-stream', CacheControl: 'max-age=1', ContentLength: body.length })
    expect(Buffer.from(await storage.read(stored)).equals(body)).toBe(true)
  })
})

describe('S3Storage.copy: aborted in parts', () => {
  it('an abort while the parts are copied stops the copy: EABORTED, no object under the name, no multipart upload left', async () => {
    const { storage } = recorded({}, SmallCopyLimit)
    await storage.save('big.bin', randomBytes(6 * 1024 * 1024 + 17), { contentType: 'application/octet-stream' })
    const controller = new AbortController()
    const abortOnFirstPart = (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => {
      if (context.commandName === 'UploadPartCopyCommand') controller.abort(new Error('user cancelled'))
      return next(args)
    }
    storage.client.middlewareStack.add(abortOnFirstPart as never, { step: 'initialize', name: 'abortOnFirstPart' })
    try {
      await expect(storage.copy('big.bin', 'big-copy.bin', { overwrite: true, signal: controller.signal })).rejects.toMatchObject({ code: 'EABORTED' })
    } finally {
      storage.client.middlewareStack.remove('abortOnFirstPart')
    }
    expect(await storage.exists('big-copy.bin')).toBe(false)
    const uploads = await storage.client.send(new ListMultipartUploadsCommand({ Bucket: storage.options.bucket, Prefix: storage.key('big-copy.bin') }))
    expect(uploads.Uploads ?? []).toEqual([])
  })
})

describe('S3Storage.copy: names', () => {
  it('never replaces another object without being asked: the taken name keeps its object, ETag and all', async () => {
    const { storage } = recorded()
    await storage.save('a.txt', 'source')
    await storage.save('b.txt', 'taken')
    const before = (await head(storage, 'b.txt')).ETag
    const stored = await storage.copy('a.txt', 'b.txt')
    expect(stored).not.toBe('b.txt')
    expect((await head(storage, 'b.txt')).ETag).toBe(before)
    expect(Buffer.from(await storage.read(stored)).toString()).toBe('source')
  })

  it('concurrent copies to one name give distinct objects, each a whole copy', async () => {
    const { storage } = recorded()
    const body = randomBytes(64 * 1024)
    await storage.save('a.bin', body)
    const names = await Promise.all(Array.from({ length: 8 }, () => storage.copy('a.bin', 'same.bin')))
    expect(new Set(names).size).toBe(8)
    const listed = await storage.client.send(new ListObjectsV2Command({ Bucket: storage.options.bucket, Prefix: `${storage.options.location}/` }))
    expect(listed.KeyCount).toBe(9)
    for (const n of names) expect(Buffer.from(await storage.read(n)).equals(body)).toBe(true)
  })

  it('a missing source is FileNotFoundError naming the source, and no placeholder is left', async () => {
    const { storage, sent } = recorded()
    const err = await rejection(storage.copy('nope.txt', 'b.txt'), FileNotFoundError)
    expect(err.context?.name).toBe('nope.txt')
    expect(commands(sent)).not.toContain('PutObjectCommand')
    expect(await storage.exists('b.txt')).toBe(false)
  })
})
