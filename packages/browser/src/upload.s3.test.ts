/**
 * The browser client against the real S3 server (Ceph RGW), through the
 * server helper of `@stowage/http` and a loopback proxy that counts every
 * request and fails the ones a test picks. The client runs on `fetch` here
 * (Node has no XMLHttpRequest); the XHR path runs in Chromium in test/e2e.
 */
import { createHash } from 'node:crypto'
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { allowedTypes, fileField, InvalidArgumentError, maxSize, samplePng, ValidationError } from '@stowage/core'
import { randomPrefix } from '@stowage/core/testing'
import { directUploads, type SignedUpload } from '@stowage/http'
import { S3Storage } from '@stowage/s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFaultProxy, type FaultProxy } from '../../../test/fault-proxy.js'
import { s3TestEnv, s3TestOptions } from '../../../test/s3.js'
import { confirmUpload } from '../../s3/src/direct-upload.js'
import { upload, UploadError, type UploadOptions, type UploadProgress } from './upload.js'

const MIB = 1024 * 1024
let proxy: FaultProxy
const clients: S3Client[] = []
beforeAll(async () => {
  proxy = await startFaultProxy(s3TestEnv().endpoint)
})
afterAll(async () => {
  await proxy?.close()
  clients.forEach((c) => c.destroy())
})

function setup(validators = [maxSize(100 * MIB, { min: 1 })]) {
  const storage = new S3Storage(s3TestOptions({ location: randomPrefix('browser') }))
  clients.push(storage.client)
  const field = fileField({ storage, uploadTo: 'docs/', validators })
  const helper = directUploads(field, { basePath: '/uploads', multipartThreshold: 5 * MIB, partSize: 5 * MIB })
  const via = <T extends { url: string }>(p: T): T => ({ ...p, url: proxy.via(p.url) })
  // The application's endpoints, called in-process; every byte still goes over HTTP to the bucket, through the proxy.
  const endpoints: Pick<UploadOptions, 'sign' | 'parts' | 'complete' | 'abort' | 'confirm'> = {
    sign: async (b) => {
      const s: SignedUpload = await helper.sign({ filename: String(b.filename), size: Number(b.size) })
      return 'multipart' in s ? { ...s, multipart: { ...s.multipart, parts: s.multipart.parts.map(via) } } : via(s)
    },
    parts: async (b) => {
      const r = await helper.parts(String(b.upload), String(b.uploadId), { size: Number(b.size) })
      return { ...r, urls: r.urls.map(via) }
    },
    complete: (b) => helper.complete(String(b.upload), String(b.uploadId), { partCount: Number(b.partCount), size: Number(b.size) }),
    abort: (b) => helper.abort(String(b.upload), b.uploadId === undefined ? undefined : String(b.uploadId)),
    confirm: (b) => helper.confirm(String(b.upload)),
  }
  return { storage, field, helper, endpoints }
}

async function raw(storage: S3Storage) {
  const prefix = `${storage.options.location}/`
  const Bucket = storage.options.bucket
  const [objects, uploads] = await Promise.all([
    storage.client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix })),
    storage.client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: prefix })),
  ])
  return {
    keys: (objects.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).filter((k) => !k.endsWith('.done')),
    multipart: (uploads.Uploads ?? []).map((u) => u.Key!.slice(prefix.length)),
  }
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex')
const partOf = (line: string) => Number(/[?&]partNumber=(\d+)/.exec(line)?.[1] ?? 0)
/** Bytes that are no known type: a validator-free upload. */
function bytes(size: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(size)
  for (let i = 0; i < size; i += 4096) b[i] = (i / 4096) % 251
  b.set([0x00, 0x01, 0x02, 0x03], 0)
  return b
}

describe('upload() to S3 in parts', () => {
  it('64 MiB in 5 MiB parts, one part failing once and retried; promoted whole', { timeout: 120_000 }, async () => {
    const { storage, endpoints } = setup()
    const data = bytes(64 * MIB)
    const seen = new Map<number, number>()
    proxy.requests.length = 0
    proxy.fault = (req) => {
      const part = partOf(req.url ?? '')
      if (req.method !== 'PUT' || !part) return undefined
      seen.set(part, (seen.get(part) ?? 0) + 1)
      return part === 3 && seen.get(part) === 1 ? { status: 503 } : undefined
    }
    const events: UploadProgress[] = []
    const result = await upload<{ name: string; size: number }>(new File([data], 'big.bin'), { ...endpoints, retryDelay: 1, onProgress: (p) => events.push(p) })
    proxy.fault = () => undefined
    expect(result.partsSent).toBe(13)
    expect(result.confirmed).toMatchObject({ name: 'docs/big.bin', size: 64 * MIB })
    // Every part once, part 3 twice: the failure cost one retry, not a restart.
    expect([...seen.entries()].sort((a, b) => a[0] - b[0])).toEqual(Array.from({ length: 13 }, (_, i) => [i + 1, i === 2 ? 2 : 1]))
    expect(events.at(-1)).toMatchObject({ loaded: 64 * MIB, total: 64 * MIB })
    expect(events.every((e) => e.total === 64 * MIB && e.loaded <= e.total && e.rate >= 0)).toBe(true)
    expect(events.some((e) => e.rate > 0)).toBe(true)
    const stored = await storage.client.send(new GetObjectCommand({ Bucket: storage.options.bucket, Key: storage.key('docs/big.bin') }))
    expect(md5(await stored.Body!.transformToByteArray())).toBe(md5(data))
    expect(await raw(storage)).toEqual({ keys: ['docs/big.bin'], multipart: [] })
  })

  it('goes on when the session store throws (a full or refused localStorage): keeping a session is best effort', { timeout: 60_000 }, async () => {
    const { storage, endpoints } = setup()
    const data = bytes(6 * MIB)
    const calls: string[] = []
    const refuse = (method: string) => () => {
      calls.push(method)
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
    }
    const store = { getItem: refuse('getItem'), setItem: refuse('setItem'), removeItem: refuse('removeItem') }
    const result = await upload<{ name: string }>(new File([data], 'quota.bin'), { ...endpoints, store })
    expect(result.confirmed).toMatchObject({ name: 'docs/quota.bin' })
    expect(calls).toEqual(['getItem', 'setItem', 'removeItem'])
    expect(await raw(storage)).toEqual({ keys: ['docs/quota.bin'], multipart: [] })
  })

  it('resumes after a disconnect by sending only the missing parts', { timeout: 60_000 }, async () => {
    const { storage, endpoints } = setup()
    const data = bytes(18 * MIB) // 4 parts: 5, 5, 5, 3 MiB
    const file = new File([data], 'resumed.bin')
    // The network goes away at part 3: parts 1 and 2 are on the server.
    proxy.fault = (req) => (partOf(req.url ?? '') >= 3 ? 'drop' : undefined)
    const err = await upload(file, { ...endpoints, retries: 0, concurrency: 1 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UploadError)
    const session = (err as UploadError).session!
    expect(session).toMatchObject({ partCount: 4, partSize: 5 * MIB })
    proxy.fault = () => undefined
    proxy.requests.length = 0
    const result = await upload<{ name: string }>(file, { ...endpoints, resume: session })
    // Counted at the proxy: the two missing parts, nothing else went to the bucket.
    expect(
      proxy.requests
        .filter((r) => r.startsWith('PUT'))
        .map(partOf)
        .sort(),
    ).toEqual([3, 4])
    expect(result.partsSent).toBe(2)
    expect(result.confirmed?.name).toBe('docs/resumed.bin')
    expect(md5(await storage.read('docs/resumed.bin'))).toBe(md5(data))
    expect(await raw(storage)).toEqual({ keys: ['docs/resumed.bin'], multipart: [] })
  })

  it('a cancelled upload leaves no object and no incomplete multipart upload', { timeout: 60_000 }, async () => {
    const { storage, endpoints } = setup()
    const controller = new AbortController()
    const file = new File([bytes(16 * MIB)], 'cancelled.bin')
    const err = await upload(file, {
      ...endpoints,
      concurrency: 1,
      signal: controller.signal,
      // Cancel once the first part is on the server.
      onProgress: (p) => p.loaded >= 5 * MIB && controller.abort(),
    }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'AbortError' })
    expect(await raw(storage)).toEqual({ keys: [], multipart: [] })
  })

  it('sizes and types are still enforced on confirm', { timeout: 60_000 }, async () => {
    const { storage, endpoints } = setup([maxSize(100 * MIB), allowedTypes(['image/png'])])
    const err = await upload(new File([bytes(6 * MIB)], 'fake.png'), endpoints).catch((e: unknown) => e)
    // In-process endpoints throw the server's own error; over HTTP it is a 415 (see the http tests).
    expect(err).toMatchObject({ code: 'EVALIDATION', failures: [{ rule: 'allowedTypes' }] })
    expect(await raw(storage)).toEqual({ keys: [], multipart: [] })
    // A declared size over the field's limit is refused before a byte is sent.
    const small = setup([maxSize(1000)])
    proxy.requests.length = 0
    await expect(upload(new File([new Uint8Array(samplePng(2, 2))], 'a.png'), small.endpoints)).resolves.toMatchObject({ confirmed: { name: 'docs/a.png' } })
    await expect(upload(new File([bytes(2000)], 'b.png'), small.endpoints)).rejects.toThrow(/larger than the limit/)
  })
})

describe('S3Storage: multipart pending uploads', () => {
  it('cleanupPendingUploads aborts multipart uploads abandoned before the cutoff', async () => {
    let clock = Date.now()
    const storage = new S3Storage(s3TestOptions({ location: randomPrefix('browser'), now: () => new Date(clock) }))
    clients.push(storage.client)
    const started = await storage.createMultipartUpload('gone.bin', { size: 12 * MIB, partSize: 5 * MIB })
    expect(started).toMatchObject({ name: 'gone.bin', partCount: 3, partSize: 5 * MIB })
    expect((await raw(storage)).multipart).toEqual([started.upload])
    expect(await storage.cleanupPendingUploads({ olderThan: 3600 })).toBe(0)
    clock += 2 * 3600 * 1000
    expect(await storage.cleanupPendingUploads({ olderThan: 3600 })).toBe(1)
    expect(await raw(storage)).toEqual({ keys: [], multipart: [] })
  })

  it('refuses to complete with parts missing (EINCOMPLETE), and the upload stays open to finish', async () => {
    const storage = new S3Storage(s3TestOptions({ location: randomPrefix('browser') }))
    clients.push(storage.client)
    const data = bytes(6 * MIB)
    const started = await storage.createMultipartUpload('two.bin', { size: data.length, partSize: 5 * MIB })
    expect((await fetch(started.parts[0]!.url, { method: 'PUT', body: data.subarray(0, 5 * MIB) })).status).toBe(200)
    await expect(storage.completeMultipartUpload(started.upload, started.uploadId, { partCount: 2 })).rejects.toMatchObject({ code: 'EINCOMPLETE' })
    expect((await storage.listUploadedParts(started.upload, started.uploadId)).map((p) => [p.partNumber, p.size])).toEqual([[1, 5 * MIB]])
    const [fresh] = await storage.presignUploadParts(started.upload, started.uploadId, [2], { size: data.length, partSize: started.partSize })
    expect((await fetch(fresh!.url, { method: 'PUT', body: data.subarray(5 * MIB) })).status).toBe(200)
    expect(await storage.completeMultipartUpload(started.upload, started.uploadId, { partCount: 2, size: data.length })).toEqual({ size: data.length })
    // Still quarantined: only confirmUpload makes it a file.
    expect(await storage.exists('two.bin')).toBe(false)
    expect(await storage.confirmUpload(started.upload)).toMatchObject({ name: 'two.bin', size: data.length })
    expect(md5(await storage.read('two.bin'))).toBe(md5(data))
    // The part URLs died with the upload id: nothing can write the pending key again.
    expect((await fetch(started.parts[0]!.url, { method: 'PUT', body: data.subarray(0, 5 * MIB) })).status).toBe(404)
    await expect(storage.abortUpload(`${started.upload}`, started.uploadId)).resolves.toBeUndefined()
  })

  it("signs each part URL with its part's length: another length is refused, and nothing is signed past the last part", async () => {
    const storage = new S3Storage(s3TestOptions({ location: randomPrefix('browser') }))
    clients.push(storage.client)
    const data = bytes(6 * MIB)
    const started = await storage.createMultipartUpload('pinned.bin', { size: data.length, partSize: 5 * MIB })
    const [first, last] = started.parts
    // A URL holder cannot send more, or less, than the part: its length is signed.
    expect((await fetch(first!.url, { method: 'PUT', body: bytes(5 * MIB + 1) })).status).toBe(403)
    expect((await fetch(last!.url, { method: 'PUT', body: bytes(5 * MIB) })).status).toBe(403)
    expect(await storage.listUploadedParts(started.upload, started.uploadId)).toEqual([])
    // Fresh URLs sign the same lengths, and only for the file's parts.
    const layout = { size: data.length, partSize: 5 * MIB }
    await expect(storage.presignUploadParts(started.upload, started.uploadId, [3], layout)).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(storage.presignUploadParts(started.upload, started.uploadId, [9999], layout)).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(storage.presignUploadParts(started.upload, started.uploadId, [2], {} as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(storage.presignUploadParts(started.upload, started.uploadId, [2], { ...layout, partSize: 1024 })).rejects.toBeInstanceOf(InvalidArgumentError)
    const [fresh] = await storage.presignUploadParts(started.upload, started.uploadId, [2], layout)
    expect((await fetch(fresh!.url, { method: 'PUT', body: bytes(5 * MIB) })).status).toBe(403)
    expect((await fetch(fresh!.url, { method: 'PUT', body: data.subarray(5 * MIB) })).status).toBe(200)
    expect((await fetch(first!.url, { method: 'PUT', body: data.subarray(0, 5 * MIB) })).status).toBe(200)
    expect(await storage.completeMultipartUpload(started.upload, started.uploadId, { partCount: 2, size: data.length })).toEqual({ size: data.length })
    expect(await storage.confirmUpload(started.upload)).toMatchObject({ name: 'pinned.bin', size: data.length })
    expect(md5(await storage.read('pinned.bin'))).toBe(md5(data))
  })

  it("the helper's parts endpoint holds the resumed size to the field's rules, and signs the part size the upload began with", async () => {
    const { storage, field, helper } = setup([maxSize(12 * MIB)])
    const data = bytes(12 * MIB)
    const signed = await helper.sign({ filename: 'big.bin', size: data.length })
    if (!('multipart' in signed)) throw new Error('expected a multipart upload')
    const { uploadId, parts } = signed.multipart
    // A resuming client claiming a bigger file than the field allows, or none, gets no URL.
    await expect(helper.parts(signed.upload, uploadId, { size: 1024 * MIB })).rejects.toBeInstanceOf(ValidationError)
    await expect(helper.parts(signed.upload, uploadId, {} as never)).rejects.toBeInstanceOf(ValidationError)
    // Part 1 arrives; then the helper's part size changes (a deploy) before the client resumes.
    expect((await fetch(parts[0]!.url, { method: 'PUT', body: data.subarray(0, 5 * MIB) })).status).toBe(200)
    const redeployed = directUploads(field, { basePath: '/uploads', multipartThreshold: 5 * MIB, partSize: 6 * MIB })
    const resumed = await redeployed.parts(signed.upload, uploadId, { size: data.length })
    expect([resumed.partSize, resumed.partCount, resumed.urls.map((u) => u.partNumber)]).toEqual([5 * MIB, 3, [2, 3]])
    // Each URL takes its part's length in the upload's layout, and nothing else.
    const [second, third] = resumed.urls
    expect((await fetch(second!.url, { method: 'PUT', body: data.subarray(5 * MIB, 11 * MIB) })).status).toBe(403)
    expect((await fetch(second!.url, { method: 'PUT', body: data.subarray(5 * MIB, 10 * MIB) })).status).toBe(200)
    expect((await fetch(third!.url, { method: 'PUT', body: data.subarray(10 * MIB) })).status).toBe(200)
    expect(await redeployed.complete(signed.upload, uploadId, { partCount: 3, size: data.length })).toEqual({ size: data.length })
    expect(await redeployed.confirm(signed.upload)).toMatchObject({ name: 'docs/big.bin', size: data.length })
    expect(md5(await storage.read('docs/big.bin'))).toBe(md5(data))
  })

  it('promotes an object past the single-copy limit with UploadPartCopy (limit lowered for the test)', async () => {
    const storage = new S3Storage(s3TestOptions({ location: randomPrefix('browser') }))
    clients.push(storage.client)
    const data = bytes(11 * MIB)
    const started = await storage.createMultipartUpload('copied.bin', { size: data.length, partSize: 5 * MIB })
    await Promise.all(started.parts.map((p) => fetch(p.url, { method: 'PUT', body: data.subarray((p.partNumber - 1) * 5 * MIB, p.partNumber * 5 * MIB) })))
    await storage.completeMultipartUpload(started.upload, started.uploadId)
    const target = (storage as unknown as { target(): object }).target()
    const done = await confirmUpload({ ...target, maxCopySize: 6 * MIB, copyPartSize: 5 * MIB } as never, started.upload)
    expect(done).toMatchObject({ name: 'copied.bin', size: data.length })
    expect(md5(await storage.read('copied.bin'))).toBe(md5(data))
    expect(await raw(storage)).toEqual({ keys: ['copied.bin'], multipart: [] })
  })
})
