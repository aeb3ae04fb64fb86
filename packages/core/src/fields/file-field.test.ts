import { getEventListeners } from 'node:events'
import { Readable } from 'node:stream'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { storages } from '../config.js'
import { AbortedError, ConfigurationError, StorageError, SuspiciousFileOperationError, ValidationError } from '../errors.js'
import { MemoryStorage } from '../memory-storage.js'
import type { WriteRequest } from '../storage.js'
import { allowedTypes } from '../validators/allowed-types.js'
import { maxSize } from '../validators/max-size.js'
import { samplePng } from '../validators/sample-images.js'
import type { Validator } from '../validators/validator.js'
import { fileField } from './file-field.js'
import { imageField } from './image-field.js'
import { strftime } from './strftime.js'

const when = new Date(Date.UTC(2024, 1, 29, 13, 5, 9))
const now = () => when

describe('strftime', () => {
  it('formats the directives upload_to patterns use, in UTC', () => {
    expect(strftime('a/%Y/%m/%d/%H%M%S-%j-%y-%%', when)).toBe('a/2024/02/29/130509-060-24-%')
  })
  it('refuses unknown directives', () => {
    expect(() => strftime('%Q', when)).toThrow(StorageError)
  })
})

describe('fileField bound to a plain row from better-sqlite3', () => {
  it('saves under uploadTo, writes the stored name to the column, and reads back through the row', async () => {
    const storage = new MemoryStorage({ baseUrl: '/media/' })
    const db = new Database(':memory:')
    db.exec('CREATE TABLE doc (id INTEGER PRIMARY KEY, title TEXT, file VARCHAR(100))')
    db.prepare('INSERT INTO doc (title) VALUES (?)').run('report')
    const docFile = fileField<{ id: number; file: string | null }>({ uploadTo: 'docs/%Y/%m/', storage, now, column: 'file' })

    const row = db.prepare('SELECT * FROM doc WHERE id = 1').get() as { id: number; file: string | null }
    const name = await docFile.bind(row).save('My Report (final).txt', 'hello')
    expect(name).toBe('docs/2024/02/My_Report_final.txt')
    db.prepare('UPDATE doc SET file = ? WHERE id = ?').run(row.file, row.id)

    const again = db.prepare('SELECT * FROM doc WHERE id = 1').get() as { id: number; file: string | null }
    const file = docFile.bind(again)
    expect(file.name).toBe(name)
    expect(await file.url()).toBe('/media/docs/2024/02/My_Report_final.txt')
    expect(await file.size()).toBe(5)
    expect(Buffer.from(await file.read()).toString()).toBe('hello')
    db.close()
  })

  it('a callable uploadTo sees the record and only the last segment of the client name', async () => {
    const storage = new MemoryStorage()
    const f = fileField<{ id: number; f?: string }>({ storage, uploadTo: (r, filename) => `user_${r.id}/${filename}`, column: 'f' })
    const row = { id: 7 } as { id: number; f?: string }
    expect(await f.bind(row).save('..\\..\\etc/passwd', 'x')).toBe('user_7/passwd')
    expect(row.f).toBe('user_7/passwd')
  })

  it('refuses a callable uploadTo that escapes the storage', async () => {
    const storage = new MemoryStorage()
    const f = fileField({ storage, uploadTo: () => '../outside.txt', column: 'f' })
    await expect(f.bind({}).save('a.txt', 'x')).rejects.toBeInstanceOf(SuspiciousFileOperationError)
    expect(storage.names()).toEqual([])
  })

  it('truncates names to maxLength (the column length)', async () => {
    const storage = new MemoryStorage()
    const f = fileField({ storage, maxLength: 20, column: 'f' })
    const name = await f.bind({}).save(`${'x'.repeat(50)}.txt`, 'x')
    expect(name.length).toBeLessThanOrEqual(20)
    expect(name.endsWith('.txt')).toBe(true)
  })
})

describe('fileField bound to a class property', () => {
  const storage = new MemoryStorage()
  const avatarField = imageField<Profile>({
    storage,
    uploadTo: 'avatars/',
    widthColumn: 'avatarWidth',
    heightColumn: 'avatarHeight',
    validators: [maxSize(100_000)],
  })
  class Profile {
    avatarName: string | null = null
    avatarWidth: number | null = null
    avatarHeight: number | null = null
    readonly avatar = avatarField.bind(this, 'avatarName')
  }

  it('keeps the name and dimensions on the instance; replacing can delete the old file', async () => {
    const p = new Profile()
    expect(p.avatar.name).toBeNull()
    await expect(p.avatar.url()).rejects.toMatchObject({ code: 'ENOENT' })
    const first = await p.avatar.save('me.png', samplePng(12, 34))
    expect(p).toMatchObject({ avatarName: first, avatarWidth: 12, avatarHeight: 34 })
    expect(p.avatar.width).toBe(12)

    const second = await p.avatar.save('me.png', samplePng(5, 6))
    expect(second).not.toBe(first)
    expect(await storage.exists(first)).toBe(true) // Django keeps the old file unless asked

    const third = await p.avatar.save('me.png', samplePng(7, 8), { deleteOld: true })
    expect(await storage.exists(second)).toBe(false)
    expect(p.avatarName).toBe(third)
    expect(p.avatar.height).toBe(8)

    const loaded = Object.assign(new Profile(), { avatarName: third })
    expect(await avatarField.bind(loaded, 'avatarName').dimensions()).toEqual({ width: 7, height: 8 })

    await p.avatar.delete()
    expect(p).toMatchObject({ avatarName: null, avatarWidth: null, avatarHeight: null })
    expect(await storage.exists(third)).toBe(false)
  })

  it('refuses a non-image and leaves the record and storage unchanged', async () => {
    const p = new Profile()
    const before = storage.names()
    const err = await p.avatar.save('me.png', '<html><script>alert(1)</script></html>').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).failures.map((f) => f.rule)).toContain('imageDimensions')
    expect(p.avatarName).toBeNull()
    expect(storage.names()).toEqual(before)
  })
})

describe('storage references', () => {
  afterEach(() => storages.reset())

  it('resolves an alias through the storages registry, and a function on each use', async () => {
    const aliased = new MemoryStorage()
    storages.set('media', aliased)
    const byAlias = fileField({ storage: 'media', column: 'f' })
    await byAlias.bind({}).save('a.txt', 'a')
    expect(aliased.names()).toEqual(['a.txt'])

    let current = new MemoryStorage()
    const byFn = fileField({ storage: () => current, column: 'f' })
    expect(byFn.storage).toBe(current)
    current = new MemoryStorage()
    expect(byFn.storage).toBe(current)
  })

  it('names the missing alias in a ConfigurationError', () => {
    const f = fileField({ storage: 'nope', column: 'f' })
    expect(() => f.storage).toThrow(ConfigurationError)
  })

  it('stores the detected content type, not the declared one', async () => {
    const storage = new MemoryStorage()
    const f = fileField({ storage, column: 'f', validators: [allowedTypes(['image/*'])] })
    const rec = {}
    await f.bind(rec).save('a.png', samplePng(1, 1), { contentType: 'application/octet-stream' })
    expect((await f.bind(rec).stat()).contentType).toBe('image/png')
  })
})

describe('long client file names', () => {
  it('cuts a file name over 255 bytes keeping its extension (Django UploadedFile), instead of refusing the upload', async () => {
    const storage = new MemoryStorage()
    const long = `${'r'.repeat(296)}.txt` // 300 bytes
    const wide = fileField({ storage, uploadTo: 'docs/', maxLength: 300, column: 'f' })
    expect(await wide.bind({}).save(`C:\\Users\\me\\${long}`, 'x')).toBe(`docs/${'r'.repeat(251)}.txt`)
    // A column of Django's default 100 characters then truncates the root further.
    const narrow = fileField({ storage, uploadTo: 'docs/', column: 'f' })
    const name = await narrow.bind({}).save(long, 'y')
    expect(name).toMatch(/^docs\/r+_[A-Za-z0-9]{7}\.txt$/)
    expect(name.length).toBe(100)
    const photo = imageField({ storage, uploadTo: (_, filename) => `img/${filename}`, maxLength: 300, column: 'p' })
    expect(await photo.bind({}).save(`${'ü'.repeat(150)}.png`, samplePng(2, 3))).toBe(`img/${'ü'.repeat(125)}.png`)
  })
})

describe('fileField.descriptor', () => {
  it('gives Django-style access: instance.avatar is the FieldFile, assigning a name repoints it', async () => {
    const storage = new MemoryStorage()
    const docField = fileField<Doc>({ storage, uploadTo: 'docs/' })
    class Doc {
      fileName: string | null = null
      declare file: import('./field-file.js').FieldFile<Doc>
    }
    Object.defineProperty(Doc.prototype, 'file', docField.descriptor('fileName'))
    const d = new Doc()
    expect(d.file).toBe(d.file)
    await d.file.save('a.txt', 'A')
    expect(d.fileName).toBe('docs/a.txt')
    ;(d as unknown as { file: string | null }).file = 'docs/other.txt'
    expect(d.fileName).toBe('docs/other.txt')
    expect(d.file.name).toBe('docs/other.txt')
  })
})

describe('FieldFile.save cancellation', () => {
  it('aborts a streaming save through its signal and leaves nothing', async () => {
    const { Readable } = await import('node:stream')
    const storage = new MemoryStorage()
    const f = fileField({ storage, column: 'f' })
    const controller = new AbortController()
    let sent = 0
    const endless = new Readable({
      read() {
        sent += 1
        if (sent === 3) controller.abort()
        this.push(Buffer.alloc(8192, 0x61))
      },
    })
    const record: Record<string, unknown> = {}
    const err = await f
      .bind(record)
      .save('big.txt', endless, { signal: controller.signal })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'EABORTED' })
    expect(record.f).toBeUndefined()
    expect(storage.names()).toEqual([])
  })

  it('aborts while the header is still being judged, without waiting for more bytes', async () => {
    const { PassThrough } = await import('node:stream')
    const storage = new MemoryStorage()
    const f = fileField({ storage, column: 'f' })
    const controller = new AbortController()
    const stalled = new PassThrough()
    stalled.write(Buffer.from('GIF89a')) // then the client goes quiet
    const saving = f.bind({}).save('a.gif', stalled, { signal: controller.signal })
    controller.abort()
    await expect(saving).rejects.toMatchObject({ code: 'EABORTED' })
    expect(storage.names()).toEqual([])
  })
})

/** A memory storage that records what each write was handed: the size and bytes the backend learns up front. */
class SeeingStorage extends MemoryStorage {
  readonly seen: { size: number | undefined; bytes: Uint8Array | undefined }[] = []
  protected override _write(req: WriteRequest): Promise<string> {
    this.seen.push({ size: req.source.size, bytes: req.source.bytes })
    return super._write(req)
  }
}

describe('FieldFile.save hands the backend what it knows of the content', () => {
  it('a Buffer reaches the backend as its bytes with its size, after every rule has passed', async () => {
    const storage = new SeeingStorage()
    const f = fileField({ storage, column: 'f', validators: [maxSize(1024)] })
    const body = Buffer.from('hello, field')
    const record: Record<string, unknown> = {}
    const name = await f.bind(record).save('note.txt', body)
    expect(storage.seen).toEqual([{ size: body.length, bytes: body }])
    expect(Buffer.from(await storage.read(name)).toString()).toBe('hello, field')
  })

  it('text is stored as its UTF-8 bytes, with their size', async () => {
    const storage = new SeeingStorage()
    const name = await fileField({ storage, column: 'f' }).bind({}).save('a.txt', 'naïve')
    expect(storage.seen.map((s) => s.size)).toEqual([Buffer.byteLength('naïve')])
    expect(Buffer.from(await storage.read(name)).toString()).toBe('naïve')
  })

  it('a Blob keeps its size, though its bytes stream', async () => {
    const storage = new SeeingStorage()
    const name = await fileField({ storage, column: 'f' })
      .bind({})
      .save('b.bin', new Blob([Buffer.alloc(70_000, 7)]))
    expect(storage.seen).toEqual([{ size: 70_000, bytes: undefined }])
    expect((await storage.read(name)).byteLength).toBe(70_000)
  })

  it('a refused Buffer (a size rule) never reaches the backend', async () => {
    const storage = new SeeingStorage()
    const record: Record<string, unknown> = {}
    const err = await fileField({ storage, column: 'f', validators: [maxSize(4)] })
      .bind(record)
      .save('big.txt', Buffer.alloc(10, 1))
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect(storage.seen).toEqual([])
    expect(record.f).toBeUndefined()
  })

  it('an abort through a field gives AbortedError and stores nothing, for bytes as for streams', async () => {
    const storage = new SeeingStorage()
    const record: Record<string, unknown> = {}
    const err = await fileField({ storage, column: 'f' })
      .bind(record)
      .save('x.txt', Buffer.from('x'), { signal: AbortSignal.abort() })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AbortedError)
    expect(record.f).toBeUndefined()
    expect(storage.names()).toEqual([])
  })

  it('the signal is attached to the body once: one abort listener while the storage writes', async () => {
    const { PassThrough } = await import('node:stream')
    const controller = new AbortController()
    let listeners = -1
    class Peeking extends MemoryStorage {
      protected override _write(req: WriteRequest): Promise<string> {
        listeners = getEventListeners(controller.signal, 'abort').length
        return super._write(req)
      }
    }
    const body = new PassThrough()
    body.end(Buffer.from('plain text'))
    await fileField({ storage: new Peeking(), column: 'f' }).bind({}).save('p.txt', body, { signal: controller.signal })
    expect(listeners).toBe(1)
  })
})

describe('FieldFile.save with a custom rule that throws', () => {
  // A third-party rule's bug refuses the upload as checkHead's throw always
  // did ("Could not check: ..."), whether it throws on a chunk, at the end of
  // the stream, or on in-memory bytes: nothing is stored, the column is untouched.
  const boom = (rule: string) => () => {
    throw new Error(`${rule} broke`)
  }
  const throwingHead: Validator = { rule: 'custom', checkHead: boom('custom') }
  const throwingSize: Validator = { rule: 'custom', checkSize: boom('custom') }
  const throwingAtEnd: Validator = { rule: 'custom', checkSize: (_size, final) => (final ? boom('custom')() : undefined) }

  const bodies = {
    bytes: () => Buffer.from('hello'),
    stream: () => Readable.from([Buffer.from('hel'), Buffer.from('lo')]),
  }

  async function refusal(validator: Validator, body: () => Buffer | Readable) {
    const storage = new MemoryStorage()
    const record: Record<string, unknown> = {}
    const err = await fileField({ storage, column: 'f', validators: [validator] })
      .bind(record)
      .save('a.txt', body())
      .catch((e: unknown) => e)
    expect(storage.names()).toEqual([])
    expect(record.f).toBeUndefined()
    return err as ValidationError
  }

  it.each(Object.entries(bodies))('a throwing checkSize is a validation failure like a throwing checkHead (%s)', async (_, body) => {
    const head = await refusal(throwingHead, body)
    expect(head).toBeInstanceOf(ValidationError)
    expect(head.failures).toEqual([{ rule: 'custom', message: 'Could not check: custom broke' }])
    for (const validator of [throwingSize, throwingAtEnd]) {
      const size = await refusal(validator, body)
      expect(size).toBeInstanceOf(ValidationError)
      expect(size.failures).toEqual(head.failures)
      expect(size.message).toBe(head.message)
    }
  })
})

describe('FieldFile.save when the replaced file cannot be deleted', () => {
  // The new file is stored and the record names it: the save happened. A
  // rejection here made callers skip saving the record, leaving the new file
  // unreferenced; the failure is a warning naming the file left behind.
  class UndeletableStorage extends MemoryStorage {
    override async delete(name: string): Promise<void> {
      throw new StorageError(`delete of ${name} refused by the backend`)
    }
  }

  it('resolves with the new name, the record names it, both files are stored, and a StowageWarning names the old one', async () => {
    const storage = new UndeletableStorage()
    const record: Record<string, unknown> = {}
    const field = fileField({ storage, column: 'f', deleteOnReplace: true })
    const first = await field.bind(record).save('a.txt', 'one')
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      const second = await field.bind(record).save('a.txt', 'two')
      expect(record.f).toBe(second)
      expect(storage.names().sort()).toEqual([first, second].sort())
      await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on the next tick
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatchObject({ name: 'StowageWarning', code: 'STOWAGE_REPLACED_NOT_DELETED' })
      expect(warnings[0]!.message).toContain(`'${first}'`)
      expect(warnings[0]!.message).toContain('refused by the backend')
    } finally {
      process.off('warning', onWarning)
    }
  })
})
