/**
 * The `cleanMedia` tests, run against each backend (memory, local disk, S3)
 * through the public API.
 */
import { describe, expect, it } from 'vitest'
import { variantsDir, type Storage } from '@stowage/core'
import { cleanMedia } from '../clean-media.js'

/** How the suite gets a fresh, empty storage for one test (e.g. under a random prefix). */
export interface CleanMediaSuiteOptions {
  name: string
  create: () => Promise<Storage> | Storage
}

const HOUR = 3600 * 1000
/** A clock two hours ahead: every file just written is old enough to delete. */
const later = () => new Date(Date.now() + 2 * HOUR)

/** Registers the tests (vitest). Call at the top level of a test file. */
export function runCleanMediaSuite({ name, create }: CleanMediaSuiteOptions): void {
  describe(`cleanMedia on ${name}`, () => {
    const seed = async () => {
      const storage = await create()
      for (const n of ['avatars/a.png', 'avatars/b.png', 'avatars/2026/c.png', 'docs/d.pdf', 'docs/e.pdf', '.stowage-pending/upload.bin']) {
        await storage.save(n, `bytes of ${n}`, { overwrite: true })
      }
      return storage
    }
    const exists = async (s: Storage, names: string[]) => Object.fromEntries(await Promise.all(names.map(async (n) => [n, await s.exists(n)] as const)))

    it("keeps a referenced image's variants (made by @stowage/images beside it, named by no record) and deletes an orphan's", async () => {
      const storage = await create()
      const long = `avatars/${'n'.repeat(250)}.jpg`
      const names = [
        'avatars/me.jpg',
        'avatars/me.jpg.variants/thumb.webp',
        'avatars/me.jpg.variants/w800-3f2a1b.jpg',
        long,
        `${variantsDir(long)}/thumb.webp`,
        'avatars/gone.jpg.variants/thumb.webp',
        'avatars/me.jpg.variantsX/not-a-variant.webp',
      ]
      for (const n of names) await storage.save(n, `bytes of ${n}`, { overwrite: true })
      const summary = await cleanMedia({ storage, references: () => ['avatars/me.jpg', long], now: later, delete: true })
      expect(summary).toMatchObject({ scanned: 7, referenced: 5, errors: [] })
      expect(summary.deleted).toEqual(['avatars/gone.jpg.variants/thumb.webp', 'avatars/me.jpg.variantsX/not-a-variant.webp'])
      expect(await exists(storage, names.slice(0, 5))).toEqual(Object.fromEntries(names.slice(0, 5).map((n) => [n, true])))
    })

    it('lists what no record references and deletes nothing unless asked; with delete, removes only those', async () => {
      const storage = await seed()
      // What a query over file columns returns: empty fields, and names written loosely.
      const references = async function* () {
        yield 'avatars/a.png'
        yield null
        yield ''
        yield 'docs//d.pdf'
        yield '../outside.txt'
      }
      const dry = await cleanMedia({ storage, references, now: later })
      expect(dry).toMatchObject({
        scanned: 5,
        referenced: 2,
        orphans: ['avatars/2026/c.png', 'avatars/b.png', 'docs/e.pdf'],
        deleted: [],
        recent: [],
        errors: [],
        dryRun: true,
      })
      expect(Object.values(await exists(storage, dry.orphans)).every(Boolean)).toBe(true)

      const done = await cleanMedia({ storage, references, now: later, delete: true })
      expect(done.deleted).toEqual(dry.orphans)
      expect(
        await exists(storage, ['avatars/a.png', 'docs/d.pdf', 'avatars/b.png', 'avatars/2026/c.png', 'docs/e.pdf', '.stowage-pending/upload.bin']),
      ).toEqual({
        'avatars/a.png': true,
        'docs/d.pdf': true,
        'avatars/b.png': false,
        'avatars/2026/c.png': false,
        'docs/e.pdf': false,
        // Pending direct uploads (a hidden prefix) are not media records point to: never scanned by default.
        '.stowage-pending/upload.bin': true,
      })
    })

    it('keeps unreferenced files younger than minAge (their record may not be committed yet), and scans only under prefix', async () => {
      const storage = await seed()
      const references = () => ['avatars/a.png']
      const now = await cleanMedia({ storage, references, delete: true })
      expect(now.recent).toEqual(['avatars/2026/c.png', 'avatars/b.png', 'docs/d.pdf', 'docs/e.pdf'])
      expect(now.deleted).toEqual([])
      const scoped = await cleanMedia({ storage, references, prefix: 'avatars/', minAge: 0, now: later, delete: true })
      expect(scoped).toMatchObject({ scanned: 3, deleted: ['avatars/2026/c.png', 'avatars/b.png'] })
      expect(await exists(storage, ['docs/d.pdf', 'docs/e.pdf'])).toEqual({ 'docs/d.pdf': true, 'docs/e.pdf': true })
      const hidden = await cleanMedia({ storage, references, includeHidden: true, now: later })
      expect(hidden.orphans).toContain('.stowage-pending/upload.bin')
    })

    it('deletes nothing when the resolver fails, and refuses bad arguments before any I/O', async () => {
      const storage = await seed()
      await expect(cleanMedia({ storage, references: () => Promise.reject(new Error('database down')), delete: true, now: later })).rejects.toThrow(
        'database down',
      )
      expect(await storage.exists('avatars/b.png')).toBe(true)
      await expect(cleanMedia({ storage, references: ['a'] as never })).rejects.toMatchObject({ code: 'EINVAL' })
      await expect(cleanMedia({ storage, references: () => [], minAge: -1 })).rejects.toMatchObject({ code: 'EINVAL' })
      await expect(cleanMedia({ storage, references: () => [], prefix: '../x' })).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
    })
  })
}
