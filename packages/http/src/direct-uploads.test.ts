/**
 * Local-disk parity: the browser client against `FileSystemStorage` through
 * HMAC-signed, expiring, single-use upload URLs served by `directUploads`,
 * on node:http, Express and Fastify, with the same quarantine and one-shot
 * confirmation as S3.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import express from 'express'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allowedTypes, fileField, imageField, maxSize, samplePng, ValidationError } from '@stowage/core'
import { FileSystemStorage } from '@stowage/local'
import { upload, UploadError } from '../../browser/src/upload.js'
import { directUploads } from './direct-uploads.js'
import { directUploadsFastify } from './direct-uploads-fastify.js'

const SECRET = 'direct-uploads-test-secret-0123456789'
const PNG = new Uint8Array(samplePng(20, 10))
const HTML = new TextEncoder().encode('<!DOCTYPE html><html><script>alert(1)</script></html>')

let dir: string
const servers: Server[] = []
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'stowage-direct-'))
})
afterAll(async () => {
  servers.forEach((s) => s.close())
  await rm(dir, { recursive: true, force: true })
})

/** Every file under the storage's root, `.done` markers left out. */
async function files(storage: FileSystemStorage): Promise<string[]> {
  const list = await readdir(storage.location, { recursive: true, withFileTypes: true }).catch(() => [])
  return list
    .filter((e) => e.isFile() && !e.name.endsWith('.done'))
    .map((e) => path.relative(storage.location, path.join(e.parentPath, e.name)))
    .sort()
}

async function setup(options: { now?: () => number; expiresIn?: number } = {}, storageOptions: { overwrite?: boolean } = {}) {
  const storage = new FileSystemStorage({ location: await mkdtemp(path.join(dir, 'media-')), baseUrl: '/media/', ...storageOptions })
  const avatar = imageField({
    storage,
    uploadTo: 'avatars/',
    column: 'avatar',
    widthColumn: 'w',
    heightColumn: 'h',
    validators: [maxSize(10_000, { min: 1 }), allowedTypes(['image/png'])],
  })
  const records: Record<string, unknown>[] = []
  const uploads = directUploads(avatar, {
    basePath: '/uploads/avatar',
    secret: SECRET,
    record: () => {
      const r = {}
      records.push(r)
      return r
    },
    ...options,
  })
  const server = createServer((req, res) => uploads.handler(req, res))
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/uploads/avatar`
  return { storage, uploads, endpoint, records }
}

const signRaw = (endpoint: string, body: object) =>
  fetch(`${endpoint}/sign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
    (r) => r.json() as Promise<{ upload: string; url: string; headers: Record<string, string> }>,
  )
const put = (endpoint: string, url: string, body: Uint8Array<ArrayBuffer>) => fetch(new URL(url, endpoint), { method: 'PUT', body })

describe('directUploads on local disk (node:http)', () => {
  it('the same client uploads through a signed URL; confirm validates, stores under uploadTo and fills the record', async () => {
    const { storage, endpoint, records } = await setup()
    const seen: number[] = []
    const result = await upload<{ name: string; width: number }>(new File([PNG], 'me.png', { type: 'image/png' }), {
      endpoint,
      onProgress: (p) => seen.push(p.loaded),
    })
    expect(result.confirmed).toMatchObject({ name: 'avatars/me.png', size: PNG.length, contentType: 'image/png', width: 20, height: 10 })
    expect(seen.at(-1)).toBe(PNG.length)
    expect(Buffer.from(await storage.read('avatars/me.png')).equals(Buffer.from(PNG))).toBe(true)
    expect(records.at(-1)).toMatchObject({ avatar: 'avatars/me.png', w: 20, h: 10 })
    // The pending copy is gone: only the confirmed file is left (and the one-shot marker).
    expect(await files(storage)).toEqual(['avatars/me.png'])
  })

  it('an upload URL fills its pending file once; a tampered or expired one is refused; a confirmed upload cannot be confirmed again', async () => {
    let clock = Date.now()
    const { storage, endpoint, uploads } = await setup({ now: () => clock })
    const signed = await signRaw(endpoint, { filename: 'a.png', size: PNG.length, type: 'image/png' })
    const tampered = signed.url.replace(/signature=(.)/, (_m, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`)
    expect((await put(endpoint, tampered, PNG)).status).toBe(403)
    expect((await put(endpoint, signed.url, PNG)).status).toBe(200)
    expect((await put(endpoint, signed.url, HTML)).status).toBe(409)
    expect(await uploads.confirm(signed.upload)).toMatchObject({ name: 'avatars/a.png' })
    // After the confirmation the pending name is free again, but the upload is spent.
    expect((await put(endpoint, signed.url, HTML)).status).toBe(409)
    await expect(uploads.confirm(signed.upload)).rejects.toMatchObject({ code: 'EEXIST' })
    const late = await signRaw(endpoint, { filename: 'b.png', size: PNG.length })
    clock += 601_000
    expect((await put(endpoint, late.url, PNG)).status).toBe(403)
    expect(await files(storage)).toEqual(['avatars/a.png'])
  })

  it('stays one body per URL and one confirmation per upload on a storage that overwrites (overwrite: true)', async () => {
    // The URL's single use and the one-shot confirmation were claims by save(),
    // which on such a storage replaced the file instead: a second PUT swapped
    // the pending bytes (HTML for the PNG), and concurrent confirms all passed.
    const { storage, endpoint, uploads } = await setup({}, { overwrite: true })
    const signed = await signRaw(endpoint, { filename: 'a.png', size: Math.max(PNG.length, HTML.length) })
    expect((await put(endpoint, signed.url, PNG)).status).toBe(200)
    expect((await put(endpoint, signed.url, HTML)).status).toBe(409)
    expect(Buffer.from(await storage.read(signed.upload)).equals(Buffer.from(PNG))).toBe(true)
    const outcomes = await Promise.allSettled([0, 1, 2, 3].map(() => uploads.confirm(signed.upload)))
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
    expect(outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as { code: string }).code] : []))).toEqual(['EEXIST', 'EEXIST', 'EEXIST'])
    await expect(uploads.confirm(signed.upload)).rejects.toMatchObject({ code: 'EEXIST' })
    expect(await files(storage)).toEqual(['avatars/a.png'])
  })

  it('refuses a body over the signed size (413), a declared size over the field limit, and HTML posing as PNG (415); nothing is kept', async () => {
    const { storage, endpoint } = await setup()
    const signed = await signRaw(endpoint, { filename: 'a.png', size: 10 })
    expect((await put(endpoint, signed.url, PNG)).status).toBe(413)
    const tooBig = await fetch(`${endpoint}/sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'a.png', size: 20_000 }),
    })
    expect(tooBig.status).toBe(413)
    const err = await upload(new File([HTML], 'x.png'), { endpoint }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UploadError)
    expect(err).toMatchObject({
      status: 415,
      body: { error: 'EVALIDATION', failures: expect.arrayContaining([expect.objectContaining({ rule: 'allowedTypes' })]) },
    })
    expect(await files(storage)).toEqual([])
  })

  it('confirming before anything arrived is ENOENT and keeps the token usable; abort leaves nothing and spends the URL', async () => {
    const { storage, endpoint, uploads } = await setup()
    const signed = await signRaw(endpoint, { filename: 'a.png', size: PNG.length })
    await expect(uploads.confirm(signed.upload)).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await put(endpoint, signed.url, PNG)).status).toBe(200)
    await uploads.abort(signed.upload)
    expect(await files(storage)).toEqual([])
    expect((await put(endpoint, signed.url, PNG)).status).toBe(409)
    await expect(uploads.confirm(`.stowage-pending/../avatars/x.png`)).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
  })

  it('takes JSON only: a cross-site text/plain or form POST (no preflight, with cookies) cannot confirm, sign or abort', async () => {
    const { storage, endpoint, uploads } = await setup()
    const signed = await signRaw(endpoint, { filename: 'a.png', size: PNG.length })
    expect((await put(endpoint, signed.url, PNG)).status).toBe(200)
    const simple: [string, string][] = [
      ['text/plain', JSON.stringify({ upload: signed.upload })],
      ['application/x-www-form-urlencoded', new URLSearchParams({ upload: signed.upload }).toString()],
      ['', JSON.stringify({ upload: signed.upload })],
    ]
    for (const [type, body] of simple) {
      for (const action of ['confirm', 'abort', 'sign']) {
        const res = await fetch(`${endpoint}/${action}`, { method: 'POST', headers: type ? { 'content-type': type } : {}, body })
        expect(res.status, `${action} as ${type || 'no type'}`).toBe(415)
        expect(await res.json()).toMatchObject({ error: 'EVALIDATION' })
      }
    }
    // Nothing happened: the upload is still there, unconfirmed, and its owner can confirm it.
    expect(await files(storage)).toEqual([signed.upload])
    const ok = await fetch(`${endpoint}/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'Application/JSON; charset=utf-8' },
      body: JSON.stringify({ upload: signed.upload }),
    })
    expect(ok.status).toBe(200)
    expect(await uploads.confirm(signed.upload).catch((e: { code: string }) => e.code)).toBe('EEXIST')
  })

  it('cleanup deletes pending files older than the cutoff', async () => {
    let clock = Date.now()
    const { storage, endpoint, uploads } = await setup({ now: () => clock })
    const signed = await signRaw(endpoint, { filename: 'left.png', size: PNG.length })
    expect((await put(endpoint, signed.url, PNG)).status).toBe(200)
    expect(await uploads.cleanup({ olderThan: 3600 })).toBe(0)
    clock += 2 * 3600 * 1000
    expect(await uploads.cleanup({ olderThan: 3600 })).toBe(1)
    expect(await files(storage)).toEqual([])
  })

  it('cleanup keeps a confirmation marker while its upload URL lives: a URL replayed after the clean-up is still refused', async () => {
    let clock = Date.now()
    const day = 86_400
    const { storage, endpoint, uploads } = await setup({ now: () => clock, expiresIn: 2 * day })
    const signed = await signRaw(endpoint, { filename: 'once.png', size: PNG.length })
    expect((await put(endpoint, signed.url, PNG)).status).toBe(200)
    expect((await uploads.confirm(signed.upload)).name).toBe('avatars/once.png')
    clock += 1.5 * day * 1000 // the daily clean-up runs; the URL is valid for another half day
    await uploads.cleanup()
    expect((await put(endpoint, signed.url, PNG)).status).toBe(409)
    await expect(uploads.confirm(signed.upload)).rejects.toMatchObject({ code: 'EEXIST' })
    expect(await files(storage)).toEqual(['avatars/once.png'])
    clock += day * 1000 // the URL has expired: the marker goes too
    expect(await uploads.cleanup()).toBe(1)
  })
})

describe('directUploads with a custom size rule that throws', () => {
  it('refuses the declared size as a stream does (a ValidationError, 400), not with a 500', async () => {
    const storage = new FileSystemStorage({ location: await mkdtemp(path.join(dir, 'media-')), baseUrl: '/media/' })
    const checkSize = () => {
      throw new Error('custom broke')
    }
    const field = fileField({ storage, column: 'f', validators: [{ rule: 'custom', checkSize }] })
    const uploads = directUploads(field, { basePath: '/uploads/f', secret: SECRET })
    const err = await uploads.sign({ filename: 'a.txt', size: 5 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).failures).toEqual([{ rule: 'custom', message: 'Could not check: custom broke' }])
    const server = createServer((req, res) => uploads.handler(req, res))
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/uploads/f`
    const res = await fetch(`${endpoint}/sign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"filename":"a.txt","size":5}' })
    expect(res.status).toBe(400)
  })
})

describe('directUploads under Express and Fastify', () => {
  it('Express: mounted with app.use, behind express.json()', async () => {
    const storage = new FileSystemStorage({ location: await mkdtemp(path.join(dir, 'express-')) })
    const avatar = imageField({ storage, uploadTo: 'avatars/', validators: [allowedTypes(['image/png'])] })
    const app = express()
    app.use(express.json())
    app.use('/uploads/avatar', directUploads(avatar, { basePath: '/uploads/avatar', secret: SECRET }).handler)
    const server = app.listen(0, '127.0.0.1')
    servers.push(server)
    await new Promise((resolve) => server.once('listening', resolve))
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/uploads/avatar`
    const result = await upload<{ name: string }>(new File([PNG], 'e.png'), { endpoint })
    expect(result.confirmed?.name).toBe('avatars/e.png')
    expect(await storage.exists('avatars/e.png')).toBe(true)
  })

  it('Fastify: as a plugin', async () => {
    const storage = new FileSystemStorage({ location: await mkdtemp(path.join(dir, 'fastify-')) })
    const avatar = imageField({ storage, uploadTo: 'avatars/', validators: [allowedTypes(['image/png'])] })
    const app = Fastify()
    await app.register(directUploadsFastify(directUploads(avatar, { basePath: '/uploads/avatar', secret: SECRET }), '/uploads/avatar'))
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const result = await upload<{ name: string }>(new File([PNG], 'f.png', { type: 'image/png' }), { endpoint: `${base}/uploads/avatar` })
      expect(result.confirmed?.name).toBe('avatars/f.png')
      expect(await storage.exists('avatars/f.png')).toBe(true)
    } finally {
      await app.close()
    }
  })
})
