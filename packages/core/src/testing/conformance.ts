/**
 * The conformance suite: one set of tests that every backend (ours and
 * third-party ones) runs through the public `Storage` API only. Each test
 * works under its own random prefix, so backends sharing a bucket or
 * directory never need wiping and tests never see each other's files.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readAll } from '../content.js'
import { FileNotFoundError, StorageError } from '../errors.js'
import type { RandomSuffix } from '../naming.js'
import { splitName } from '../paths.js'
import type { CopyOptions, Storage } from '../storage.js'
import { hostileNames } from './hostile-names.js'
import { rejection } from './rejection.js'

/** Cases a backend may skip, each with the reason it declares. */
export type ConformanceCase = 'contentType' | 'modifiedTime' | 'etag' | 'largeFile' | 'urlEncodesName'

/** Options the suite passes to `create` for the cases that need a storage configured differently. */
export interface ConformanceStorageOptions {
  /** The backend's `randomSuffix` option (`BaseStorageOptions`). */
  randomSuffix?: RandomSuffix
}

/** How `runStorageConformance` is called. */
export interface ConformanceOptions {
  /** Shown in the test names, e.g. `FileSystemStorage`. */
  name: string
  /**
   * Builds a storage under test: once for the suite without options, and once
   * more for each case that needs `options`, which must reach the backend's
   * constructor (a factory that drops them has those cases skipped, saying so).
   */
  create: (options?: ConformanceStorageOptions) => Storage | Promise<Storage>
  /** Releases what `create` made (temporary directories, clients); called for every storage it made. */
  destroy?: (storage: Storage) => void | Promise<void>
  capabilities?: {
    /** How many saves of one name run at once in the race test. Default 200. */
    concurrentSaves?: number
    /** Cases this backend cannot satisfy, with the reason, shown as the skip message. */
    skip?: Partial<Record<ConformanceCase, string>>
  }
}

/** @returns a fresh random directory name for one test: `label` and 12 hex digits. Never throws. */
export function randomPrefix(label = 'conf'): string {
  return `${label}-${randomUUID().slice(0, 12)}`
}

async function text(storage: Storage, name: string): Promise<string> {
  return Buffer.from(await storage.read(name)).toString('utf8')
}

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex')
}

/** A stream that yields `chunks`, then fails with `error` if given. */
function streamOf(chunks: Uint8Array[], error?: Error): Readable {
  return new Readable({
    read() {
      const next = chunks.shift()
      if (next) this.push(next)
      else if (error) this.destroy(error)
      else this.push(null)
    },
  })
}

/**
 * `storage` with its own `getAvailableName`, as a subclass would have: the
 * suite cannot name a backend's class to extend it, and an object whose
 * prototype is the instance is what a subclass instance looks like to `save()`.
 */
function overriding(storage: Storage, getAvailableName: (this: Storage, name: string, options?: { maxLength?: number }) => Promise<string>): Storage {
  return Object.create(storage, { getAvailableName: { value: getAvailableName } }) as Storage
}

/** Content types a browser would read as another (a list, a header break) or no backend can send (non-ASCII). */
const BAD_CONTENT_TYPES = ['text/plain\r\nContent-Disposition: inline', 'video/mp4,text/html', 'text/plain; name=\u00e9']

async function expectCode(promise: Promise<unknown>, code: string): Promise<StorageError> {
  const err = await rejection(promise, StorageError)
  expect(err.code, `expected a StorageError with code ${code}`).toBe(code)
  return err
}

/**
 * Registers the conformance tests (vitest `describe`/`it`) for one backend.
 * Call it at the top level of a test file. Returns nothing; failures are
 * reported by vitest as failed tests, and vitest's own errors (called outside
 * a test file) are passed through.
 */
export function runStorageConformance(options: ConformanceOptions): void {
  const caps = options.capabilities ?? {}
  const racers = caps.concurrentSaves ?? 200
  const skipped = (c: ConformanceCase) => caps.skip?.[c]
  const cases = (c: ConformanceCase, title: string) => {
    const reason = skipped(c)
    return [reason ? `${title} (skipped: ${reason})` : title, !!reason] as const
  }
  let storage: Storage
  /** Runs `fn` on a storage built with `storageOptions`, releasing it after. */
  const withStorage = async (storageOptions: ConformanceStorageOptions, fn: (s: Storage) => Promise<void>) => {
    const s = await options.create(storageOptions)
    try {
      await fn(s)
    } finally {
      await options.destroy?.(s)
    }
  }

  describe(`Storage conformance: ${options.name}`, () => {
    beforeAll(async () => {
      storage = await options.create()
    })
    afterAll(async () => {
      if (storage) await options.destroy?.(storage)
    })

    describe('save and read', () => {
      const kinds: [string, (s: string) => unknown][] = [
        ['string', (s) => s],
        ['Uint8Array', (s) => new Uint8Array(Buffer.from(s))],
        ['Buffer', (s) => Buffer.from(s)],
        ['Node Readable', (s) => Readable.from([Buffer.from(s.slice(0, 3)), Buffer.from(s.slice(3))])],
        ['web ReadableStream', (s) => new Blob([s]).stream()],
        ['Blob', (s) => new Blob([s])],
      ]
      for (const [kind, make] of kinds) {
        it(`round-trips content given as ${kind}`, async () => {
          const p = randomPrefix()
          const body = `hello ${kind} ✓`
          const name = await storage.save(`${p}/hello.txt`, make(body) as never)
          expect(name).toBe(`${p}/hello.txt`)
          expect(await text(storage, name)).toBe(body)
          expect(await storage.exists(name)).toBe(true)
          expect(await storage.size(name)).toBe(Buffer.byteLength(body))
        })
      }

      it('keeps every byte value of binary content', async () => {
        const p = randomPrefix()
        const data = new Uint8Array(256 * 4).map((_, i) => i % 256)
        const name = await storage.save(`${p}/bytes.bin`, data)
        expect(Buffer.from(await storage.read(name)).equals(Buffer.from(data))).toBe(true)
      })

      it('saves an empty file', async () => {
        const p = randomPrefix()
        const name = await storage.save(`${p}/empty.txt`, '')
        expect(await storage.exists(name)).toBe(true)
        expect(await storage.size(name)).toBe(0)
        expect((await storage.read(name)).byteLength).toBe(0)
      })

      it('creates nested directories as needed and normalises the name', async () => {
        const p = randomPrefix()
        const name = await storage.save(`${p}//a/./b/c.txt`, 'deep')
        expect(name).toBe(`${p}/a/b/c.txt`)
        expect(await text(storage, `${p}/a/b/c.txt`)).toBe('deep')
      })

      it('round-trips unicode names', async () => {
        const p = randomPrefix()
        const name = await storage.save(`${p}/ünïcødé/日本語 file.txt`, 'u')
        expect(name).toBe(`${p}/ünïcødé/日本語 file.txt`)
        expect(await text(storage, name)).toBe('u')
        expect((await storage.listdir(`${p}/ünïcødé`)).files).toEqual(['日本語 file.txt'])
      })

      const [largeTitle, largeSkip] = cases('largeFile', 'streams a 6 MB body of unknown length intact')
      it.skipIf(largeSkip)(largeTitle, async () => {
        const p = randomPrefix()
        const chunks = Array.from({ length: 96 }, () => randomBytes(64 * 1024))
        const expected = md5(Buffer.concat(chunks))
        const name = await storage.save(`${p}/large.bin`, streamOf([...chunks]))
        expect(await storage.size(name)).toBe(96 * 64 * 1024)
        expect(md5(await readAll(await storage.open(name)))).toBe(expected)
      })
    })

    describe('naming', () => {
      it('never overwrites: a taken name gets a 7-character random suffix before the extension', async () => {
        const p = randomPrefix()
        const first = await storage.save(`${p}/report.txt`, 'one')
        const second = await storage.save(`${p}/report.txt`, 'two')
        expect(first).toBe(`${p}/report.txt`)
        expect(second).toMatch(new RegExp(`^${p}/report_[A-Za-z0-9]{7}\\.txt$`))
        expect(await text(storage, first)).toBe('one')
        expect(await text(storage, second)).toBe('two')
      })

      it('keeps a multi-part extension whole (a.tar.gz → a_XXXXXXX.tar.gz)', async () => {
        const p = randomPrefix()
        await storage.save(`${p}/a.tar.gz`, '1')
        expect(await storage.save(`${p}/a.tar.gz`, '2')).toMatch(new RegExp(`^${p}/a_[A-Za-z0-9]{7}\\.tar\\.gz$`))
      })

      it('overwrites in place when the call asks for it', async () => {
        const p = randomPrefix()
        await storage.save(`${p}/o.txt`, 'old')
        expect(await storage.save(`${p}/o.txt`, 'new', { overwrite: true })).toBe(`${p}/o.txt`)
        expect(await text(storage, `${p}/o.txt`)).toBe('new')
        expect((await storage.listdir(p)).files).toEqual(['o.txt'])
      })

      it('truncates the root to honour maxLength, and refuses when nothing fits', async () => {
        const p = randomPrefix()
        const long = `${p}/${'x'.repeat(40)}.txt`
        const maxLength = p.length + 20
        const first = await storage.save(long, '1', { maxLength })
        expect(first.length).toBeLessThanOrEqual(maxLength)
        expect(first).toMatch(new RegExp(`^${p}/x+_[A-Za-z0-9]{7}\\.txt$`))
        const again = await storage.getAvailableName(first, { maxLength })
        expect(again).not.toBe(first)
        expect(again.length).toBeLessThanOrEqual(maxLength)
        await expectCode(storage.save(`${p}/abc.txt`, '1', { maxLength: p.length + 5 }), 'ESUSPICIOUS')
        expect((await storage.listdir(p)).files).toEqual([first.slice(p.length + 1)])
      })

      it('refuses a contentType that is not one ASCII MIME type (a line break, a list, non-ASCII) with InvalidArgumentError, and stores nothing', async () => {
        const p = randomPrefix()
        for (const contentType of BAD_CONTENT_TYPES) await expectCode(storage.save(`${p}/b.txt`, 'x', { contentType }), 'EINVAL')
        expect(await storage.listdir(p)).toEqual({ dirs: [], files: [] })
      })

      it('refuses an overwrite whose maxLength truncation would leave no file name, and stores nothing', async () => {
        const p = randomPrefix()
        // The roots '...txt' and '..txt' cut to '..' and '.': names of directories, not files.
        await expectCode(storage.save(`${p}/...txt`, 'x', { overwrite: true, maxLength: p.length + 3 }), 'ESUSPICIOUS')
        await expectCode(storage.save(`${p}/..txt`, 'x', { overwrite: true, maxLength: p.length + 2 }), 'ESUSPICIOUS')
        expect(await storage.listdir(p)).toEqual({ dirs: [], files: [] })
        const root = await storage.listdir('')
        expect([...root.dirs, ...root.files]).not.toContain(p)
      })

      it('refuses a name made with a random suffix holding path characters, and writes nothing', async (ctx) => {
        const p = randomPrefix()
        const token = randomPrefix('escape')
        let suffix = 'Probe01'
        await withStorage({ randomSuffix: () => suffix }, async (s) => {
          expect(await s.save(`${p}/taken.txt`, 'one')).toBe(`${p}/taken.txt`)
          const probe = await s.save(`${p}/taken.txt`, 'two')
          if (probe !== `${p}/taken_Probe01.txt` && /_[A-Za-z0-9]{7}\.txt$/.test(probe)) {
            await s.delete(probe)
            ctx.skip('create() dropped the randomSuffix option it was given: pass its options to the constructor')
          }
          expect(probe).toBe(`${p}/taken_Probe01.txt`)
          for (const hostile of [`/../../../${token}`, `/${token}`, `x/../${token}`, `\\..\\${token}`, `\u0000${token}`]) {
            suffix = hostile
            await expectCode(s.save(`${p}/taken.txt`, 'x'), 'ESUSPICIOUS')
            await expectCode(s.getAvailableName(`${p}/taken.txt`), 'ESUSPICIOUS')
          }
          expect(await s.listdir(p)).toEqual({ dirs: [], files: ['taken.txt', 'taken_Probe01.txt'] })
          const root = await s.listdir('')
          expect([...root.files, ...root.dirs].filter((n) => n.includes(token))).toEqual([])
        })
      })

      it('save() asks an overriding getAvailableName for each name (Django recipe: a uuid per file)', async () => {
        const p = randomPrefix()
        const asked: unknown[] = []
        const custom = overriding(storage, async (name, opts) => {
          asked.push([name, opts])
          const [dir, base] = splitName(name)
          return `${dir}/${randomUUID()}-${base}`
        })
        const a = await custom.save(`${p}//photo.jpg`, 'a', { maxLength: 200 })
        const b = await custom.save(`${p}/photo.jpg`, 'b', { maxLength: 200 })
        const shape = new RegExp(`^${p}/[0-9a-f-]{36}-photo\\.jpg$`)
        expect(a).toMatch(shape)
        expect(b).toMatch(shape)
        expect(a).not.toBe(b)
        expect(asked).toEqual([
          [`${p}/photo.jpg`, { maxLength: 200 }],
          [`${p}/photo.jpg`, { maxLength: 200 }],
        ])
        expect([await text(storage, a), await text(storage, b)]).toEqual(['a', 'b'])
      })

      it('save() honours an overriding getAvailableName that deletes the old file and keeps the name (Django recipe)', async () => {
        const p = randomPrefix()
        const custom = overriding(storage, async function (this: Storage, name) {
          await this.delete(name)
          return name
        })
        expect(await custom.save(`${p}/o.txt`, 'old')).toBe(`${p}/o.txt`)
        expect(await custom.save(`${p}/o.txt`, 'new')).toBe(`${p}/o.txt`)
        expect(await text(storage, `${p}/o.txt`)).toBe('new')
        expect((await storage.listdir(p)).files).toEqual(['o.txt'])
      })

      it("refuses an overriding getAvailableName's unsafe answer before writing anything", async () => {
        const p = randomPrefix()
        const token = randomPrefix('escape')
        for (const answer of [`${p}/../../${token}.txt`, `/${token}.txt`, `${p}/`, `${p}/a\\..\\${token}`, 42]) {
          const custom = overriding(storage, async () => answer as string)
          await expectCode(custom.save(`${p}/x.txt`, 'x'), 'ESUSPICIOUS')
        }
        expect(await storage.listdir(p)).toEqual({ dirs: [], files: [] })
        const root = await storage.listdir('')
        expect([...root.files, ...root.dirs].filter((n) => n.includes(token))).toEqual([])
      })

      it('cuts a client file name over 255 bytes in generateFilename, and suffixes keep segments within 255 bytes', async () => {
        const p = randomPrefix()
        // 300 and 304 bytes; 'é' takes two UTF-8 bytes, '𠮷' (a letter beyond the BMP) four, and two UTF-16 units.
        for (const [long, cut, shape] of [
          [`${'é'.repeat(148)}.pdf`, `${'é'.repeat(125)}.pdf`, /^é+_[A-Za-z0-9]{7}\.pdf$/u],
          [`${'𠮷'.repeat(75)}.png`, `${'𠮷'.repeat(62)}.png`, /^(𠮷)+_[A-Za-z0-9]{7}\.png$/u],
        ] as const) {
          expect(storage.generateFilename(`${p}/${long}`)).toBe(`${p}/${cut}`)
          // save() takes a name as given: only generateFilename, for client names, cuts.
          await expectCode(storage.save(`${p}/${long}`, 'x'), 'ESUSPICIOUS')
          expect(await storage.save(`${p}/${cut}`, 'one')).toBe(`${p}/${cut}`)
          const second = await storage.save(`${p}/${cut}`, 'two')
          const file = second.slice(p.length + 1)
          expect(file).toMatch(shape)
          expect(Buffer.byteLength(file)).toBeLessThanOrEqual(255)
          expect([await text(storage, `${p}/${cut}`), await text(storage, second)]).toEqual(['one', 'two'])
        }
        expect((await storage.listdir(p)).files).toHaveLength(4)
      })

      it(`gives ${racers} concurrent saves of one name ${racers} distinct names with every content intact`, async () => {
        const p = randomPrefix()
        const bodies = Array.from({ length: racers }, (_, i) => `body ${i} ${randomUUID()}`)
        // Bytes and chunked streams alternate, so both write paths race each other.
        const content = (b: string, i: number) => (i % 2 === 0 ? b : Readable.from([Buffer.from(b.slice(0, 5)), Buffer.from(b.slice(5))]))
        const names = await Promise.all(bodies.map((b, i) => storage.save(`${p}/same.tar.gz`, content(b, i))))
        expect(new Set(names).size).toBe(racers)
        expect(names).toContain(`${p}/same.tar.gz`)
        for (const n of names) expect(n).toMatch(new RegExp(`^${p}/same(_[A-Za-z0-9]{7})?\\.tar\\.gz$`))
        const contents = await Promise.all(names.map((n) => text(storage, n)))
        expect(contents).toEqual(bodies)
        expect(await storage.listdir(p)).toEqual({ dirs: [], files: names.map((n) => n.slice(p.length + 1)).sort() })
      }, 120_000)

      it('getValidName follows Django', () => {
        expect(storage.getValidName("john's portrait in 2004.jpg")).toBe('johns_portrait_in_2004.jpg')
        expect(storage.getValidName('  spaced out.txt ')).toBe('spaced_out.txt')
        expect(storage.getValidName('naïve café.txt')).toBe('naïve_café.txt')
        expect(storage.getValidName('<script>.html')).toBe('script.html')
        for (const bad of ['', '.', '..', '$%^']) expect(() => storage.getValidName(bad)).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
      })

      it('getAvailableName returns a free name unchanged and varies a taken one', async () => {
        const p = randomPrefix()
        expect(await storage.getAvailableName(`${p}/free.txt`)).toBe(`${p}/free.txt`)
        await storage.save(`${p}/taken.txt`, 't')
        expect(await storage.getAvailableName(`${p}/taken.txt`)).toMatch(new RegExp(`^${p}/taken_[A-Za-z0-9]{7}\\.txt$`))
      })

      it('generateFilename cleans the file part and refuses traversal', () => {
        expect(storage.generateFilename('docs/my file (1).pdf')).toBe('docs/my_file_1.pdf')
        expect(storage.generateFilename('uploads\\photo one.jpg')).toBe('uploads/photo_one.jpg')
        expect(() => storage.generateFilename('C:\\Users\\photo.jpg')).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
        expect(() => storage.generateFilename('../x/evil.txt')).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
      })
    })

    describe('copy', () => {
      const copy = (s: Storage, from: string, to: string, o?: CopyOptions) => {
        if (!s.copy) throw new Error(`${options.name} has no copy()`)
        return s.copy(from, to, o)
      }
      for (const link of [false, true]) {
        it(`copies the bytes to a new name${link ? ' (link: true)' : ''}, leaving the source as it was`, async () => {
          const p = randomPrefix()
          const data = randomBytes(70 * 1024) // past the small-file size of any backend's fast path
          await storage.save(`${p}/a.bin`, data)
          expect(await copy(storage, `${p}/a.bin`, `${p}/sub/b.bin`, { link })).toBe(`${p}/sub/b.bin`)
          expect(Buffer.from(await storage.read(`${p}/sub/b.bin`)).equals(data)).toBe(true)
          expect(Buffer.from(await storage.read(`${p}/a.bin`)).equals(data)).toBe(true)
        })

        it(`a later save to either name leaves the other as it was${link ? ' (link: true)' : ''}`, async () => {
          const p = randomPrefix()
          await storage.save(`${p}/a.txt`, 'first')
          await copy(storage, `${p}/a.txt`, `${p}/b.txt`, { link })
          await storage.save(`${p}/a.txt`, 'second', { overwrite: true })
          expect(await text(storage, `${p}/b.txt`)).toBe('first')
          await storage.save(`${p}/b.txt`, 'third', { overwrite: true })
          expect(await text(storage, `${p}/a.txt`)).toBe('second')
        })
      }

      it('never replaces an existing file unless asked: it takes a free name, as save() does', async () => {
        const p = randomPrefix()
        await storage.save(`${p}/a.txt`, 'source')
        await storage.save(`${p}/b.txt`, 'taken')
        const stored = await copy(storage, `${p}/a.txt`, `${p}/b.txt`)
        expect(stored).not.toBe(`${p}/b.txt`)
        expect(stored.startsWith(`${p}/b_`) && stored.endsWith('.txt')).toBe(true)
        expect(await text(storage, `${p}/b.txt`)).toBe('taken')
        expect(await text(storage, stored)).toBe('source')
        expect(await copy(storage, `${p}/a.txt`, `${p}/b.txt`, { overwrite: true })).toBe(`${p}/b.txt`)
        expect(await text(storage, `${p}/b.txt`)).toBe('source')
      })

      for (const link of [false, true]) {
        it(`concurrent copies to one name all land, under distinct names${link ? ' (link: true)' : ''}`, async () => {
          const p = randomPrefix()
          await storage.save(`${p}/a.txt`, 'x')
          const names = await Promise.all(Array.from({ length: 10 }, () => copy(storage, `${p}/a.txt`, `${p}/c.txt`, { link })))
          expect(new Set(names).size).toBe(10)
          for (const n of names) expect(await text(storage, n)).toBe('x')
          expect((await storage.listdir(p)).files.length).toBe(11)
        })
      }

      it('a missing source is FileNotFoundError naming it, and nothing is stored', async () => {
        const p = randomPrefix()
        const err = await rejection(copy(storage, `${p}/missing.txt`, `${p}/b.txt`), FileNotFoundError)
        expect(err.context?.name).toBe(`${p}/missing.txt`)
        expect(await storage.exists(`${p}/b.txt`)).toBe(false)
        expect(await storage.listdir(p)).toEqual({ dirs: [], files: [] })
      })

      it('refuses hostile names on either side before any I/O, and an aborted signal stores nothing', async () => {
        const p = randomPrefix()
        await storage.save(`${p}/a.txt`, 'x')
        for (const name of hostileNames(randomPrefix('escape')).slice(0, 8)) {
          await expectCode(copy(storage, name, `${p}/b.txt`), 'ESUSPICIOUS')
          await expectCode(copy(storage, `${p}/a.txt`, name), 'ESUSPICIOUS')
        }
        await expectCode(copy(storage, `${p}/a.txt`, `${p}/b.txt`, { signal: AbortSignal.abort() }), 'EABORTED')
        expect((await storage.listdir(p)).files).toEqual(['a.txt'])
      })

      it('refuses a contentType that is not one ASCII MIME type with InvalidArgumentError, and copies nothing', async () => {
        const p = randomPrefix()
        await storage.save(`${p}/a.txt`, 'x')
        for (const contentType of BAD_CONTENT_TYPES) await expectCode(copy(storage, `${p}/a.txt`, `${p}/c.txt`, { contentType }), 'EINVAL')
        expect((await storage.listdir(p)).files).toEqual(['a.txt'])
      })
    })

    describe('ownership of bytes', () => {
      it("keeps no reference to the caller's bytes: changing them after save() resolves changes nothing stored", async () => {
        // Callers reuse one read buffer for file after file (collectstatic does).
        const p = randomPrefix()
        const buffer = Buffer.from('original bytes')
        await storage.save(`${p}/a.bin`, buffer)
        await storage.save(`${p}/b.bin`, new Uint8Array(buffer.buffer, buffer.byteOffset, 8))
        buffer.fill(0x2a)
        expect(await text(storage, `${p}/a.bin`)).toBe('original bytes')
        expect(await text(storage, `${p}/b.bin`)).toBe('original')
      })
    })

    describe('stage (optional)', () => {
      // Run on a fresh storage of its own: a storage holding files is not staged.
      it('stage(), where the backend has one: nothing is seen before publish(), everything after; discard() leaves the storage as it was; a storage holding files is not staged', async (ctx) => {
        await withStorage({}, async (s) => {
          if (!s.stage) return ctx.skip('no stage(): the backend writes in place (it is optional)')
          const p = randomPrefix()
          const dropped = await s.stage()
          if (!dropped) return ctx.skip('stage() declined a fresh storage: it stages only where it can publish in one step')
          await dropped.storage.save(`${p}/dropped.txt`, 'x', { overwrite: true })
          await dropped.discard()
          expect(await s.exists(`${p}/dropped.txt`)).toBe(false)

          const stage = (await s.stage())!
          expect(stage, 'a discarded stage leaves the storage empty, so it can be staged again').toBeDefined()
          await stage.storage.save(`${p}/a.txt`, 'a', { overwrite: true })
          await stage.storage.save(`${p}/sub/b.bin`, randomBytes(70 * 1024), { overwrite: true })
          expect(await s.exists(`${p}/a.txt`)).toBe(false)
          expect(await s.listdir(p)).toEqual({ dirs: [], files: [] })
          await stage.publish()
          expect(await text(s, `${p}/a.txt`)).toBe('a')
          expect(await s.size(`${p}/sub/b.bin`)).toBe(70 * 1024)
          expect(await s.stage()).toBeUndefined()
        })
      })

      it("stage({ replace: true }), where the backend has one: the files held stay until publish(), then only the stage's are there; discard() keeps them; a replace that is not a boolean is InvalidArgumentError", async (ctx) => {
        await withStorage({}, async (s) => {
          if (!s.stage) return ctx.skip('no stage(): the backend writes in place (it is optional)')
          const p = randomPrefix()
          await expectCode(s.stage({ replace: 'yes' as unknown as boolean }), 'EINVAL')
          await s.save(`${p}/old.txt`, 'old')
          const dropped = await s.stage({ replace: true })
          if (!dropped) return ctx.skip('stage() declined a storage holding files: it stages only where it can publish in one step')
          await dropped.storage.save(`${p}/dropped.txt`, 'x', { overwrite: true })
          await dropped.discard()
          expect(await s.listdir(p)).toEqual({ dirs: [], files: ['old.txt'] })

          const stage = (await s.stage({ replace: true }))!
          await stage.storage.save(`${p}/new.txt`, 'new', { overwrite: true })
          expect(await text(s, `${p}/old.txt`)).toBe('old')
          expect(await s.exists(`${p}/new.txt`)).toBe(false)
          await stage.publish()
          expect(await s.listdir(p)).toEqual({ dirs: [], files: ['new.txt'] })
          expect(await text(s, `${p}/new.txt`)).toBe('new')
        })
      })
    })

    describe('hostile names', () => {
      it('refuses every hostile name in every method with SuspiciousFileOperationError and writes nothing', async () => {
        const token = randomPrefix('escape')
        for (const name of hostileNames(token)) {
          await expectCode(storage.save(name, 'x'), 'ESUSPICIOUS')
          await expectCode(storage.open(name), 'ESUSPICIOUS')
          await expectCode(storage.read(name), 'ESUSPICIOUS')
          await expectCode(storage.exists(name), 'ESUSPICIOUS')
          await expectCode(storage.delete(name), 'ESUSPICIOUS')
          await expectCode(storage.stat(name), 'ESUSPICIOUS')
          await expectCode(storage.url(name), 'ESUSPICIOUS')
          await expectCode(storage.getAvailableName(name), 'ESUSPICIOUS')
        }
        for (const dir of ['..', '../..', '/etc', 'a/../..', 'C:\\']) await expectCode(storage.listdir(dir), 'ESUSPICIOUS')
        const root = await storage.listdir('')
        expect([...root.files, ...root.dirs].filter((n) => n.includes(token))).toEqual([])
      })
    })

    describe('failures leave nothing behind', () => {
      it('a stream that fails part-way rejects and stores nothing', async () => {
        const p = randomPrefix()
        await rejection(storage.save(`${p}/broken.bin`, streamOf([randomBytes(1024), randomBytes(1024)], new Error('socket hang up'))), StorageError)
        expect(await storage.exists(`${p}/broken.bin`)).toBe(false)
        expect(await storage.listdir(p)).toEqual({ dirs: [], files: [] })
      })

      it('an aborted save rejects with EABORTED and stores nothing', async () => {
        const p = randomPrefix()
        const controller = new AbortController()
        let sent = 0
        const body = new Readable({
          read() {
            sent++
            if (sent === 3) controller.abort(new Error('user cancelled'))
            if (sent < 1000) this.push(randomBytes(16 * 1024))
          },
        })
        await expectCode(storage.save(`${p}/aborted.bin`, body, { signal: controller.signal }), 'EABORTED')
        expect(await storage.exists(`${p}/aborted.bin`)).toBe(false)
        expect(await storage.listdir(p)).toEqual({ dirs: [], files: [] })
      })

      it('an already-aborted signal stores nothing', async () => {
        const p = randomPrefix()
        await expectCode(storage.save(`${p}/never.txt`, 'x', { signal: AbortSignal.abort() }), 'EABORTED')
        expect(await storage.exists(`${p}/never.txt`)).toBe(false)
      })
    })

    describe('reading', () => {
      it('open() streams byte ranges (end inclusive)', async () => {
        const p = randomPrefix()
        const name = await storage.save(`${p}/r.txt`, '0123456789')
        const range = async (r: { start?: number; end?: number }) => (await readAll(await storage.open(name, r))).toString()
        expect(await range({})).toBe('0123456789')
        expect(await range({ start: 2, end: 5 })).toBe('2345')
        expect(await range({ start: 7 })).toBe('789')
        expect(await range({ end: 2 })).toBe('012')
        expect(await range({ start: 8, end: 100 })).toBe('89')
        await expectCode(storage.open(name, { start: 5, end: 2 }), 'EINVAL')
      })

      it('missing files raise FileNotFoundError (ENOENT) from open, read, stat and size', async () => {
        const missing = `${randomPrefix()}/missing.txt`
        await expectCode(storage.open(missing), 'ENOENT')
        await expectCode(storage.read(missing), 'ENOENT')
        await expectCode(storage.stat(missing), 'ENOENT')
        await expectCode(storage.size(missing), 'ENOENT')
        expect(await storage.exists(missing)).toBe(false)
      })

      it('stat() reports the size and a valid modification date', async () => {
        const p = randomPrefix()
        const name = await storage.save(`${p}/s.txt`, 'abc')
        const st = await storage.stat(name)
        expect(st.size).toBe(3)
        expect(st.modified).toBeInstanceOf(Date)
        expect(st.modified.getTime()).not.toBeNaN()
      })

      const [mtimeTitle, mtimeSkip] = cases('modifiedTime', 'stat() dates a file from when it was saved')
      it.skipIf(mtimeSkip)(mtimeTitle, async () => {
        const p = randomPrefix()
        // The backend's clock may be another machine's (an S3 server): five minutes either side.
        const slack = 5 * 60_000
        const before = Date.now()
        const name = await storage.save(`${p}/s.txt`, 'abc')
        const modified = (await storage.stat(name)).modified.getTime()
        expect(modified).toBeGreaterThanOrEqual(before - slack)
        expect(modified).toBeLessThanOrEqual(Date.now() + slack)
      })

      const [ctTitle, ctSkip] = cases('contentType', 'records the content type given to save()')
      it.skipIf(ctSkip)(ctTitle, async () => {
        const p = randomPrefix()
        const name = await storage.save(`${p}/data.bin`, '{"a":1}', { contentType: 'application/json' })
        expect((await storage.stat(name)).contentType).toMatch(/^application\/json/)
      })

      const [etagTitle, etagSkip] = cases('etag', 'gives different etags to different content')
      it.skipIf(etagSkip)(etagTitle, async () => {
        const p = randomPrefix()
        const a = await storage.stat(await storage.save(`${p}/a.txt`, 'aaa'))
        const b = await storage.stat(await storage.save(`${p}/b.txt`, 'bbb'))
        expect(a.etag).toBeTruthy()
        expect(a.etag).not.toBe(b.etag)
      })
    })

    describe('delete and listdir', () => {
      it('deletes a file, and deleting a missing file is not an error', async () => {
        const p = randomPrefix()
        const name = await storage.save(`${p}/d.txt`, 'x')
        await storage.delete(name)
        expect(await storage.exists(name)).toBe(false)
        await expect(storage.delete(name)).resolves.toBeUndefined()
        await expect(storage.delete(`${p}/never/was.txt`)).resolves.toBeUndefined()
      })

      it('lists immediate directories and files, sorted; a missing directory lists empty', async () => {
        const p = randomPrefix()
        await Promise.all([`${p}/b.txt`, `${p}/a.txt`, `${p}/sub/c.txt`, `${p}/sub/deeper/d.txt`, `${p}/other/e.txt`].map((n) => storage.save(n, n)))
        expect(await storage.listdir(p)).toEqual({ dirs: ['other', 'sub'], files: ['a.txt', 'b.txt'] })
        expect(await storage.listdir(`${p}/sub/`)).toEqual({ dirs: ['deeper'], files: ['c.txt'] })
        expect(await storage.listdir(`${p}/nope`)).toEqual({ dirs: [], files: [] })
      })
    })

    describe('url', () => {
      const [urlTitle, urlSkip] = cases('urlEncodesName', 'percent-encodes the name')
      it.skipIf(urlSkip)(urlTitle, async () => {
        const p = randomPrefix()
        const name = await storage.save(`${p}/hello world ü#?.txt`, 'x')
        const url = await storage.url(name)
        expect(url).toContain(`${p}/hello%20world%20%C3%BC%23%3F.txt`)
        expect(url).not.toContain(' ')
      })

      it('refuses a non-positive expiresIn', async () => {
        await expectCode(storage.url(`${randomPrefix()}/x.txt`, { expiresIn: -1 }), 'EINVAL')
      })
    })
  })
}
