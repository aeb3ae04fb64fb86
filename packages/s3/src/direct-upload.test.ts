/**
 * Direct uploads against the real S3 server, checked with an independent
 * client (the raw SDK, no Stowage code) for what is really in the bucket.
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { readFile } from 'node:fs/promises'
import * as core from '@stowage/core'
import { allowedTypes, FileExistsError, imageField, sampleJpeg, samplePng, SuspiciousFileOperationError, ValidationError } from '@stowage/core'
import { randomPrefix } from '@stowage/core/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { s3TestEnv, s3TestOptions } from '../../../test/s3.js'
import type { S3StorageOptions } from './options.js'
import { S3Storage } from './s3-storage.js'

const PNG = Buffer.from(samplePng(1, 1))
const OTHER_PNG = Buffer.from(samplePng(2, 1))
const JPEG = Buffer.from(sampleJpeg(3, 2))
const HTML = Buffer.from('<!DOCTYPE html><html><body><script>document.title="pwned"</script></body></html>')

const made: { destroy(): void }[] = []
afterAll(() => made.forEach((s) => s.destroy()))
function storageWith(extra: Partial<S3StorageOptions> = {}): S3Storage {
  const s = new S3Storage(s3TestOptions({ location: randomPrefix('s3-direct'), ...extra }))
  made.push(s.client)
  return s
}

/** A client that shares no code with Stowage, to see what the bucket really holds. */
function rawClient(): S3Client {
  const env = s3TestEnv()
  const c = new S3Client({
    endpoint: env.endpoint,
    region: env.region,
    forcePathStyle: true,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  made.push(c)
  return c
}
const raw = rawClient()

async function rawKeys(storage: S3Storage): Promise<string[]> {
  const prefix = `${storage.options.location}/`
  const res = await raw.send(new ListObjectsV2Command({ Bucket: storage.options.bucket, Prefix: prefix }))
  return (res.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort()
}

async function rawRead(storage: S3Storage, name: string): Promise<{ bytes: Buffer; type?: string; disposition?: string }> {
  const res = await raw.send(new GetObjectCommand({ Bucket: storage.options.bucket, Key: storage.key(name) }))
  return { bytes: Buffer.from(await res.Body!.transformToByteArray()), type: res.ContentType, disposition: res.ContentDisposition }
}

/** Posts a browser-style multipart form: the policy fields, then the file. */
async function postForm(url: string, fields: Record<string, string>, body: Uint8Array, extra: Record<string, string> = {}): Promise<Response> {
  const form = new FormData()
  for (const [k, v] of Object.entries({ ...fields, ...extra })) form.append(k, v)
  form.append('file', new Blob([new Uint8Array(body)]), 'upload.bin')
  return fetch(url, { method: 'POST', body: form })
}

const PENDING = /^\.stowage-pending\/[0-9a-f]{32}\//

describe('S3Storage: presigned POST into quarantine', () => {
  it('uploads to a pending key of its own; confirmUpload promotes it under the name asked, typed by its bytes', async () => {
    const storage = storageWith()
    const post = await storage.presignPost('avatars/me.png', { maxSize: 1000, contentTypePrefix: 'image/', expiresIn: 300 })
    expect(post.name).toBe('avatars/me.png')
    expect(post.upload).toMatch(PENDING)
    expect(post.upload.endsWith('/avatars/me.png')).toBe(true)
    expect(post.fields['Content-Disposition']).toBe('attachment')
    // Declared as GIF; the bytes are PNG, and no type rule is given: the stored type is the real one.
    expect((await postForm(post.url, post.fields, PNG, { 'Content-Type': 'image/gif' })).status).toBeLessThan(300)
    expect(await storage.exists('avatars/me.png')).toBe(false)
    const confirmed = await storage.confirmUpload(post.upload, { maxSize: 1000 })
    expect(confirmed).toMatchObject({ name: 'avatars/me.png', size: PNG.length, contentType: 'image/png', detectedType: 'image/png' })
    const stored = await rawRead(storage, 'avatars/me.png')
    expect(stored.bytes.equals(PNG)).toBe(true)
    expect(stored.type).toBe('image/png')
    expect(stored.disposition).toBeUndefined()
    // Only the confirmation marker is left under the pending prefix.
    expect(await rawKeys(storage)).toEqual([expect.stringMatching(/^\.stowage-pending\/[0-9a-f]{32}\.done$/), 'avatars/me.png'])
  })

  it('two forms for the same name end as two objects, each with its own bytes', async () => {
    const storage = storageWith()
    const [a, b] = await Promise.all([
      storage.presignPost('avatars/image.jpg', { maxSize: 1000, contentTypePrefix: 'image/' }),
      storage.presignPost('avatars/image.jpg', { maxSize: 1000, contentTypePrefix: 'image/' }),
    ])
    expect(a.upload).not.toBe(b.upload)
    await Promise.all([postForm(a.url, a.fields, PNG, { 'Content-Type': 'image/png' }), postForm(b.url, b.fields, OTHER_PNG, { 'Content-Type': 'image/png' })])
    const [ca, cb] = await Promise.all([storage.confirmUpload(a.upload, { maxSize: 1000 }), storage.confirmUpload(b.upload, { maxSize: 1000 })])
    expect(ca.name).not.toBe(cb.name)
    expect([ca.name, cb.name].sort()[0]).toBe('avatars/image.jpg')
    expect((await rawRead(storage, ca.name)).bytes.equals(PNG)).toBe(true)
    expect((await rawRead(storage, cb.name)).bytes.equals(OTHER_PNG)).toBe(true)
  })

  it('a form replayed after confirmUpload cannot touch the confirmed file nor be confirmed again; cleanup removes it', async () => {
    let clock = Date.now()
    const storage = storageWith({ now: () => new Date(clock) })
    const post = await storage.presignPost('docs/a.png', { maxSize: 1000, contentTypePrefix: 'image/' })
    await postForm(post.url, post.fields, PNG, { 'Content-Type': 'image/png' })
    const confirmed = await storage.confirmUpload(post.upload, { allowedTypes: ['image/png'] })
    const replay = await postForm(post.url, post.fields, HTML, { 'Content-Type': 'image/png' })
    expect(replay.status).toBeLessThan(300) // the policy cannot tell; quarantine makes it harmless
    const again = await storage.confirmUpload(post.upload, { allowedTypes: ['image/png'] }).catch((e: unknown) => e)
    expect(again).toBeInstanceOf(FileExistsError)
    expect((await rawRead(storage, confirmed.name)).bytes.equals(PNG)).toBe(true)
    // A refused confirmation leaves the replayed bytes (the first one may still be reading them): cleanup removes them.
    expect((await rawKeys(storage)).filter((k) => !k.endsWith('.done') && PENDING.test(k))).toEqual([post.upload])
    await postForm(post.url, post.fields, HTML, { 'Content-Type': 'image/png' })
    expect(await storage.cleanupPendingUploads({ olderThan: 3600 })).toBe(0)
    clock += 2 * 3600 * 1000
    expect(await storage.cleanupPendingUploads({ olderThan: 3600 })).toBe(2) // the replay and the marker
    expect(await rawKeys(storage)).toEqual(['docs/a.png'])
  })

  it("cleanup keeps a confirmation marker while the storage's forms live: a form replayed after cleanup is still not confirmed twice", async () => {
    let clock = Date.now()
    const day = 86_400
    const storage = storageWith({ now: () => new Date(clock), uploadExpiresIn: 2 * day })
    const post = await storage.presignPost('once.png', { maxSize: 1000, contentTypePrefix: 'image/' })
    await postForm(post.url, post.fields, PNG, { 'Content-Type': 'image/png' })
    await storage.confirmUpload(post.upload, { allowedTypes: ['image/png'] })
    clock += 1.5 * day * 1000 // the daily clean-up runs; the form is valid for another half day
    await storage.cleanupPendingUploads()
    expect((await postForm(post.url, post.fields, OTHER_PNG, { 'Content-Type': 'image/png' })).status).toBeLessThan(300)
    await expect(storage.confirmUpload(post.upload, { allowedTypes: ['image/png'] })).rejects.toBeInstanceOf(FileExistsError)
    expect((await rawKeys(storage)).filter((k) => !k.startsWith('.stowage-pending/'))).toEqual(['once.png'])
    clock += day * 1000 // every form of the storage has expired: the marker goes too
    expect(await storage.cleanupPendingUploads()).toBe(2)
    expect(await rawKeys(storage)).toEqual(['once.png'])
  })

  it('the server refuses a body over maxSize or a type outside the prefix, and nothing is stored', async () => {
    const storage = storageWith()
    const post = await storage.presignPost('big.png', { maxSize: 100, contentTypePrefix: 'image/' })
    const big = await postForm(post.url, post.fields, Buffer.alloc(101, 7), { 'Content-Type': 'image/png' })
    expect(big.status).toBe(400)
    expect(await big.text()).toContain('EntityTooLarge')
    const html = await postForm(post.url, post.fields, PNG, { 'Content-Type': 'text/html' })
    expect(html.status).toBe(403)
    // The Content-Disposition field is part of the policy: dropping it is refused.
    const inline = await postForm(post.url, { ...post.fields, 'Content-Disposition': 'inline' }, PNG, { 'Content-Type': 'image/png' })
    expect(inline.status).toBe(403)
    expect(await rawKeys(storage)).toEqual([])
    await expect(storage.confirmUpload(post.upload)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('refuses bad limits and expiries with InvalidArgumentError (EINVAL)', async () => {
    const storage = storageWith()
    await expect(storage.presignPost('a.txt', { maxSize: 5, minSize: 6 })).rejects.toMatchObject({ name: 'InvalidArgumentError', code: 'EINVAL' })
    await expect(storage.presignPost('a.txt', { maxSize: 6 * 1024 ** 3 })).rejects.toMatchObject({ code: 'EINVAL' })
    await expect(storage.presignPut('a.txt', { expiresIn: 8 * 24 * 3600 })).rejects.toMatchObject({ name: 'InvalidArgumentError', code: 'EINVAL' })
    await expect(storage.cleanupPendingUploads({ olderThan: -1 })).rejects.toMatchObject({ code: 'EINVAL' })
  })

  it('forms and URLs live 10 minutes by default', async () => {
    const now = new Date('2026-11-29T12:00:00Z')
    const storage = storageWith({ now: () => now })
    const put = await storage.presignPut('a.png')
    expect(put.expiresAt.getTime() - now.getTime()).toBe(600_000)
    expect(new URL(put.url).searchParams.get('X-Amz-Expires')).toBe('600')
    const post = await storage.presignPost('a.png', { maxSize: 10 })
    expect(post.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(600_000)
    expect(post.expiresAt.getTime() - Date.now()).toBeGreaterThan(590_000)
  })
})

describe('S3Storage: names of direct uploads go through the save() gate', () => {
  // An endpoint nobody answers: any request would fail with a network error, not ESUSPICIOUS.
  const offline = new S3Storage({ bucket: 'b', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'k', secretAccessKey: 's' }, maxAttempts: 1 })
  made.push(offline.client)

  it.each(['a\\b.png', 'a\0b.png', 'a\nb.png', 'a/../../x.png', '../x.png', '/abs.png', 'C:/x.png', 'dir/'])('refuses %j before any request', async (name) => {
    await expect(offline.presignPost(name, { maxSize: 10 })).rejects.toBeInstanceOf(SuspiciousFileOperationError)
    await expect(offline.presignPut(name)).rejects.toBeInstanceOf(SuspiciousFileOperationError)
  })

  it.each(['${filename}', 'avatars/${filename}', 'a${filename}b.png'])(
    'a POST form refuses %j, which S3 would replace with a name the uploader picks',
    async (name) => {
      // With '${filename}' at the end the key condition becomes starts-with: the form's holder could
      // write '<id>/x/evil.html' and confirm that token, choosing the final name.
      await expect(offline.presignPost(name, { maxSize: 10 })).rejects.toBeInstanceOf(SuspiciousFileOperationError)
    },
  )

  it('keeps an ordinary name as save() does', async () => {
    const put = await offline.presignPut('my photo (1).png')
    expect(put.name).toBe('my photo (1).png')
    expect(put.upload.endsWith('/my photo (1).png')).toBe(true)
  })

  it('presignUploadParts called as before size was required (no options) is InvalidArgumentError naming size', async () => {
    const { upload } = await offline.presignPut('big.bin')
    const err = await offline.presignUploadParts(upload, 'an-upload-id', [1], undefined as never).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(core.InvalidArgumentError)
    expect((err as core.InvalidArgumentError).context.argument).toBe('size')
  })

  it('resumeMultipartUpload refuses a bad expiresIn before any request (port 9 answers nothing)', async () => {
    const { upload } = await offline.presignPut('big.bin')
    const err = await offline.resumeMultipartUpload(upload, 'an-upload-id', { size: 10, expiresIn: 0 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(core.InvalidArgumentError)
    expect((err as core.InvalidArgumentError).context.argument).toBe('expiresIn')
  })

  it('confirmUpload refuses anything but a pending-upload token, and touches nothing', async () => {
    const storage = storageWith()
    const name = await storage.save('private/report.png', PNG)
    for (const token of [name, '.stowage-pending/report.png', '.stowage-pending/xyz/report.png', `.stowage-pending/${'0'.repeat(32)}`]) {
      await expect(storage.confirmUpload(token)).rejects.toBeInstanceOf(SuspiciousFileOperationError)
    }
    expect(await rawKeys(storage)).toEqual(['private/report.png'])
  })
})

describe('S3Storage: presigned PUT into quarantine', () => {
  it('two PUTs for the same name get different keys; the URL cannot replace its pending object (412)', async () => {
    const storage = storageWith()
    const [a, b] = await Promise.all([storage.presignPut('photos/ü p.png', { expiresIn: 300 }), storage.presignPut('photos/ü p.png', { expiresIn: 300 })])
    expect(a.name).toBe('photos/ü p.png')
    expect(a.upload).not.toBe(b.upload)
    expect(a.headers).toEqual({
      'Content-Type': 'image/png',
      'Content-Disposition': 'attachment',
      'If-None-Match': '*',
      // Ceph signs these too: a URL holder cannot publish the pending object or make it a copy of another.
      ...(storage.options.provider === 'ceph' && { 'x-amz-acl': 'private', 'x-amz-metadata-directive': 'COPY' }),
    })
    expect((await fetch(a.url, { method: 'PUT', headers: a.headers, body: PNG })).status).toBe(200)
    expect((await fetch(b.url, { method: 'PUT', headers: b.headers, body: OTHER_PNG })).status).toBe(200)
    expect((await fetch(a.url, { method: 'PUT', headers: a.headers, body: HTML })).status).toBe(412)
    const ca = await storage.confirmUpload(a.upload, { allowedTypes: ['image/png'] })
    const cb = await storage.confirmUpload(b.upload, { allowedTypes: ['image/png'] })
    expect(ca.name).toBe('photos/ü p.png')
    expect(cb.name).toMatch(/^photos\/ü p_[A-Za-z0-9]{7}\.png$/)
    expect((await rawRead(storage, ca.name)).bytes.equals(PNG)).toBe(true)
    expect((await rawRead(storage, cb.name)).bytes.equals(OTHER_PNG)).toBe(true)
  })

  it('with size, a body of any other length is refused and nothing is stored', async () => {
    const storage = storageWith()
    const put = await storage.presignPut('x.png', { size: PNG.length })
    expect(new URL(put.url).searchParams.get('X-Amz-SignedHeaders')?.split(';')).toContain('content-length')
    expect(put.headers['Content-Length']).toBeUndefined() // the browser sets it, and may not be told
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: Buffer.concat([PNG, Buffer.alloc(1 << 20)]) })).status).toBe(403)
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: PNG.subarray(1) })).status).toBe(403)
    expect(await rawKeys(storage)).toEqual([])
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: PNG })).status).toBe(200)
    expect((await storage.confirmUpload(put.upload)).size).toBe(PNG.length)
    await expect(storage.presignPut('x.png', { size: -1 })).rejects.toMatchObject({ code: 'EINVAL' })
  })

  it('on Ceph, an ACL or grant header added to the URL cannot make the pending object public', async () => {
    // Ceph applies x-amz-* headers a presigned URL did not sign (AWS refuses them).
    const storage = storageWith({ provider: 'ceph' })
    const allUsers = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'
    const added: Record<string, string>[] = [{ 'x-amz-acl': 'public-read' }, { 'x-amz-grant-read': allUsers }, { 'x-amz-grant-full-control': allUsers }]
    for (const extra of added) {
      const put = await storage.presignPut('x.png')
      const res = await fetch(put.url, { method: 'PUT', headers: { ...put.headers, ...extra }, body: PNG })
      expect(res.status, JSON.stringify(extra)).toBeGreaterThanOrEqual(400)
      const anonymous = await fetch(`${s3TestEnv().endpoint}/${storage.options.bucket}/${storage.key(put.upload).split('/').map(encodeURIComponent).join('/')}`)
      expect(anonymous.status).not.toBe(200)
    }
    expect(await rawKeys(storage)).toEqual([])
    const put = await storage.presignPut('x.png')
    expect(put.headers['x-amz-acl']).toBe('private') // the bucket's CORS rules must allow it
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: PNG })).status).toBe(200)
    expect((await storage.confirmUpload(put.upload)).name).toBe('x.png')
  })

  it('on Ceph, an x-amz-copy-source header added to the URL cannot make the upload a copy of another object in the bucket', async () => {
    // Ceph turns a PUT carrying x-amz-copy-source into a CopyObject, signed or not: the URL's
    // holder could copy any object the application's keys can read, then confirm it as theirs.
    const storage = storageWith({ provider: 'ceph' })
    const secret = await storage.save('users/someone-else/private.png', OTHER_PNG)
    const source = `${storage.options.bucket}/${storage.key(secret)}`
    for (const directive of [undefined, 'COPY', 'REPLACE']) {
      const put = await storage.presignPut('mine.png', { size: PNG.length })
      const headers: Record<string, string> = { ...put.headers, 'x-amz-copy-source': source }
      if (directive) headers['x-amz-metadata-directive'] = directive
      const res = await fetch(put.url, { method: 'PUT', headers, body: PNG })
      const confirmed = await storage.confirmUpload(put.upload, { allowedTypes: ['image/png'] }).catch((e: unknown) => e)
      if (res.status < 300) expect(confirmed, String(directive)).toBeInstanceOf(SuspiciousFileOperationError)
      expect(
        (await rawKeys(storage)).filter((k) => !k.endsWith('.done')),
        String(directive),
      ).toEqual([secret])
    }
    // What the URL, a form or a multipart upload writes itself is confirmed as before.
    const put = await storage.presignPut('mine.png', { size: PNG.length })
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: PNG })).status).toBe(200)
    const mine = await storage.confirmUpload(put.upload, { allowedTypes: ['image/png'] })
    expect((await rawRead(storage, mine.name)).bytes.equals(PNG)).toBe(true)
    const post = await storage.presignPost('form.png', { maxSize: 1000 })
    expect((await postForm(post.url, post.fields, PNG)).status).toBeLessThan(300)
    expect((await storage.confirmUpload(post.upload, { allowedTypes: ['image/png'] })).name).toBe('form.png')
    const parts = await storage.createMultipartUpload('parts.png', { size: PNG.length })
    expect((await fetch(parts.parts[0]!.url, { method: 'PUT', body: PNG })).status).toBe(200)
    await storage.completeMultipartUpload(parts.upload, parts.uploadId)
    expect((await storage.confirmUpload(parts.upload, { allowedTypes: ['image/png'] })).name).toBe('parts.png')
  })

  it('abortUpload spends the token: a PUT landing after it (a retry still in flight, a replay) cannot be confirmed', async () => {
    let clock = Date.now()
    const storage = storageWith({ now: () => new Date(clock) })
    const put = await storage.presignPut('gone.png', { size: PNG.length })
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: PNG })).status).toBe(200)
    await storage.abortUpload(put.upload)
    expect((await rawKeys(storage)).filter((k) => !k.endsWith('.done'))).toEqual([])
    // The URL is still valid: the bytes land again, as a pending object nobody may confirm.
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: PNG })).status).toBe(200)
    await expect(storage.confirmUpload(put.upload)).rejects.toBeInstanceOf(FileExistsError)
    expect((await rawKeys(storage)).filter((k) => !k.endsWith('.done') && !PENDING.test(k))).toEqual([])
    // Aborting twice (a double click on cancel) is not an error, and deletes the replay.
    await storage.abortUpload(put.upload)
    clock += 3600 * 1000 // past the URL's expiry: the marker goes
    expect(await storage.cleanupPendingUploads({ olderThan: 60 })).toBe(1)
    expect(await rawKeys(storage)).toEqual([])
  })

  it('a different Content-Type or Content-Disposition than the signed ones is refused (403)', async () => {
    const storage = storageWith()
    const put = await storage.presignPut('x.png')
    expect((await fetch(put.url, { method: 'PUT', headers: { ...put.headers, 'Content-Type': 'text/html' }, body: PNG })).status).toBe(403)
    expect((await fetch(put.url, { method: 'PUT', headers: { ...put.headers, 'Content-Disposition': 'inline' }, body: PNG })).status).toBe(403)
    expect(await rawKeys(storage)).toEqual([])
  })
})

describe('S3Storage: confirmUpload checks with the field rules', () => {
  it('refuses HTML declared as PNG, deletes it, stores nothing, and says why', async () => {
    const storage = storageWith()
    const put = await storage.presignPut('fake.png')
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: HTML })).status).toBe(200)
    const err = await storage.confirmUpload(put.upload, { allowedTypes: ['image/png', 'image/jpeg'] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).failures.map((f) => f.rule)).toContain('allowedTypes')
    expect((await rawKeys(storage)).filter((k) => !k.endsWith('.done'))).toEqual([])
  })

  it("runs a field's own validators (dimensions), and the custom check last", async () => {
    const storage = storageWith()
    const avatar = imageField({ storage, validators: [allowedTypes(['image/png'])], dimensions: { maxWidth: 1 } })
    const wide = await storage.presignPut('wide.png')
    await fetch(wide.url, { method: 'PUT', headers: wide.headers, body: OTHER_PNG })
    const err = await storage.confirmUpload(wide.upload, { validators: avatar.validators }).catch((e: unknown) => e)
    expect((err as ValidationError).failures.map((f) => f.rule)).toEqual(['imageDimensions'])
    const ok = await storage.presignPut('ok.png')
    await fetch(ok.url, { method: 'PUT', headers: ok.headers, body: PNG })
    const seen: unknown[] = []
    const refused = await storage
      .confirmUpload(ok.upload, {
        validators: avatar.validators,
        validate: (u) => {
          seen.push(u.name, u.detectedType, u.size)
          return 'not on a weekday'
        },
      })
      .catch((e: unknown) => e)
    expect((refused as ValidationError).failures).toEqual([{ rule: 'validate', message: 'not on a weekday' }])
    expect(seen).toEqual(['ok.png', 'image/png', PNG.length])
    expect((await rawKeys(storage)).filter((k) => !k.endsWith('.done'))).toEqual([])
  })

  it('an empty upload fails by default; maxLength truncates the final name', async () => {
    const storage = storageWith()
    const empty = await storage.presignPut('e.png')
    await fetch(empty.url, { method: 'PUT', headers: empty.headers, body: new Uint8Array(0) })
    await expect(storage.confirmUpload(empty.upload)).rejects.toMatchObject({ code: 'EVALIDATION' })
    const long = await storage.presignPut('a-very-long-name.png')
    await fetch(long.url, { method: 'PUT', headers: long.headers, body: PNG })
    // As save(): a name too long gets a random suffix on a root cut to fit.
    expect((await storage.confirmUpload(long.upload, { maxLength: 16 })).name).toMatch(/^a-ve_[A-Za-z0-9]{7}\.png$/)
  })

  it('confirmations of one upload at once (a double click) promote it exactly once; the others are EEXIST', async () => {
    const storage = storageWith()
    const put = await storage.presignPut('twice.png', { size: PNG.length })
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: PNG })).status).toBe(200)
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => storage.confirmUpload(put.upload, { allowedTypes: ['image/png'] })))
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'OK' : (r.reason as { code: string }).code))
    // Before: the refused ones deleted the pending object under the first, which then failed (ENOENT) and nothing was kept.
    expect(codes.filter((c) => c === 'OK')).toHaveLength(1)
    expect(codes.filter((c) => c !== 'OK').every((c) => c === 'EEXIST')).toBe(true)
    expect((await rawKeys(storage)).filter((k) => !k.endsWith('.done'))).toEqual(['twice.png'])
    expect((await rawRead(storage, 'twice.png')).bytes.equals(PNG)).toBe(true)
  })

  it('on an overwrite storage, a promotion that fails leaves the file it was to replace as it was', async () => {
    // The failed confirmation deleted whatever was at the final name: on an
    // overwrite storage, the user's previous file, which nothing had replaced.
    const storage = storageWith({ overwrite: true })
    await storage.save('keep.png', OTHER_PNG)
    const put = await storage.presignPut('keep.png', { size: PNG.length })
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: PNG })).status).toBe(200)
    const err = await storage
      .confirmUpload(put.upload, {
        allowedTypes: ['image/png'],
        // The pending object goes (a clean-up, an abort) between the check and the copy.
        validate: async () => {
          await raw.send(new DeleteObjectCommand({ Bucket: storage.options.bucket, Key: storage.key(put.upload) }))
        },
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect((await rawRead(storage, 'keep.png')).bytes.equals(OTHER_PNG)).toBe(true)
  })

  it('an object replaced while it is being checked is not promoted (ECHANGED)', async () => {
    const storage = storageWith()
    const post = await storage.presignPost('race.png', { maxSize: 1000, contentTypePrefix: 'image/' })
    await postForm(post.url, post.fields, PNG, { 'Content-Type': 'image/png' })
    const err = await storage
      .confirmUpload(post.upload, {
        allowedTypes: ['image/png'],
        // The attacker re-posts the form between the check and the promotion.
        validate: async () => {
          expect((await postForm(post.url, post.fields, HTML, { 'Content-Type': 'image/png' })).status).toBeLessThan(300)
        },
      })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ECHANGED' })
    expect((await rawKeys(storage)).filter((k) => !k.endsWith('.done'))).toEqual([])
  })
})

describe('README: direct browser uploads', () => {
  it('the snippet runs as written, with a browser posting the form where it says "2."', async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('### Direct browser uploads'))
    const code = section.slice(section.indexOf('```ts\n') + 6, section.indexOf('\n```', section.indexOf('```ts\n')))
    expect(code).toContain('confirmUpload(post.upload')
    // The imports become reads of the modules this test has; the browser acts between steps 1 and 2.
    const body = code
      .replace(/^import \{([^}]+)\} from '@stowage\/core'$/m, 'const {$1} = core')
      .replace(/^\/\/ 2\. /m, 'await browser(post)\n// 2. ')
      .concat('\nreturn { post, put, file }')
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<unknown>
    const media = storageWith()
    const browser = async (post: { url: string; fields: Record<string, string> }) => {
      expect((await postForm(post.url, post.fields, JPEG, { 'Content-Type': 'image/jpeg' })).status).toBeLessThan(300)
    }
    const { file } = (await new AsyncFunction('media', 'core', 'browser', body)(media, core, browser)) as { file: { name: string } }
    expect(file).toMatchObject({ name: 'avatars/image.jpg', contentType: 'image/jpeg', width: 3, height: 2 })
    expect((await rawRead(media, file.name)).bytes.equals(JPEG)).toBe(true)
  })
})
