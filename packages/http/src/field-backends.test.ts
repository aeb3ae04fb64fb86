/**
 * Core's fields and validators against every real backend (memory, local
 * disk, S3 via @stowage/s3): they live here because this package's tests may
 * depend on all backends, while core may not.
 */
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allowedTypes, fileField, hostileUploads, imageField, maxSize, samplePng, ValidationError, type Storage } from '@stowage/core'
import { countingSource, rejection } from '@stowage/core/testing'
import { backends, type TestBackend } from './test-support/backends.js'

const MB = 1024 * 1024
type Row = { id: number; title: string; file: string | null; width: number | null; height: number | null }

describe.each(Object.keys(backends))('fields on %s', (backendName) => {
  let backend: TestBackend
  let saves = 0
  let storage: Storage

  beforeAll(async () => {
    backend = await backends[backendName]!()
    // The real storage, counting save() calls: a header refusal must never reach it.
    storage = new Proxy(backend.storage, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver)
        if (prop === 'save') return (...args: Parameters<Storage['save']>) => (saves++, target.save(...args))
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  })
  afterAll(() => backend?.destroy())

  it('round-trips through a better-sqlite3 row: save, url, size, open, range, replace, delete', async () => {
    const db = new Database(':memory:')
    db.exec('CREATE TABLE doc (id INTEGER PRIMARY KEY, title TEXT, file VARCHAR(100), width INTEGER, height INTEGER)')
    db.prepare("INSERT INTO doc (title) VALUES ('x')").run()
    const field = imageField<Row>({ storage, uploadTo: 'img/%Y/', widthColumn: 'width', heightColumn: 'height', now: () => new Date(Date.UTC(2030, 0, 1)) })
    const load = () => db.prepare('SELECT * FROM doc WHERE id = 1').get() as Row
    const persist = (r: Row) => db.prepare('UPDATE doc SET file = ?, width = ?, height = ?').run(r.file, r.width, r.height)

    const row = load()
    const png = samplePng(20, 10)
    await field.bind(row, 'file').save('photo.png', png)
    persist(row)

    const file = field.bind(load(), 'file')
    expect(file.name).toBe('img/2030/photo.png')
    expect([file.width, file.height]).toEqual([20, 10])
    expect(await file.size()).toBe(png.length)
    expect(await file.url()).toContain('img/2030/photo.png')
    const chunks: Buffer[] = []
    for await (const c of await file.open({ start: 1, end: 3 })) chunks.push(c as Buffer)
    expect(Buffer.concat(chunks).toString('latin1')).toBe('PNG')
    expect((await file.stat()).contentType).toBe(backend.keepsContentType ? 'image/png' : undefined)

    const old = file.name!
    const replaced = await file.save('photo.png', samplePng(2, 2), { deleteOld: true })
    expect(replaced).not.toBe(old)
    expect(await storage.exists(old)).toBe(false)
    await file.delete()
    expect(file.name).toBeNull()
    expect(await backend.everything()).toEqual([])
    db.close()
  })

  it.each(hostileUploads().map((h) => [h.title, h] as const))('refuses %s before the storage is touched', async (_t, h) => {
    const field = imageField({ storage, validators: [maxSize(MB), allowedTypes(['image/png', 'image/gif', 'image/jpeg'])] })
    const record: Record<string, unknown> = {}
    saves = 0
    await rejection(field.bind(record, 'f').save(h.filename, h.bytes, { contentType: h.contentType }), ValidationError)
    expect(saves).toBe(0)
    expect(record.f).toBeUndefined()
    expect(await backend.everything()).toEqual([])
  })

  it('cuts an oversized stream off mid-save and leaves nothing, not even a partial object', async () => {
    const field = fileField({ storage, validators: [maxSize(MB)] })
    const source = countingSource(256 * MB, { fill: 0x20 })
    const err = await rejection(field.bind({}, 'f').save('big.txt', source.stream), ValidationError)
    expect(err.failures.map((f) => f.rule)).toEqual(['maxSize'])
    expect(source.produced()).toBeLessThan(8 * MB)
    expect(await backend.everything()).toEqual([])
  })

  it('cuts off a stream past a multi-part-sized limit (S3 multipart upload aborted) and leaves nothing', async () => {
    const field = fileField({ storage, validators: [maxSize(12 * MB)] })
    const source = countingSource(1024 * MB, { fill: 0x20 })
    const err = await rejection(field.bind({}, 'f').save('huge.bin', source.stream), ValidationError)
    expect(err.failures.map((f) => f.rule)).toEqual(['maxSize'])
    expect(source.produced()).toBeLessThan(24 * MB)
    expect(await backend.everything()).toEqual([])
  })

  it('leaves nothing when the source is truncated mid-save', async () => {
    const field = fileField({ storage })
    const { stream } = countingSource(2 * MB, { fill: 0x20, fail: new Error('connection reset') })
    await expect(field.bind({}, 'f').save('half.txt', stream)).rejects.toThrow(/connection reset/)
    expect(await backend.everything()).toEqual([])
  })
})
