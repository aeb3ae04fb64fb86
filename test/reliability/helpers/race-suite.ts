/**
 * Race tests for any backend: saves racing deletes, overwrites racing each
 * other. Content is checked by hash, and what the backend really holds is
 * compared with what the API reported. (Many saves of one name at once is a
 * case of the conformance suite, which every backend runs.)
 */
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Content, Storage } from '@stowage/core'
import { randomPrefix } from '@stowage/core/testing'
import type { BackendFactory, BackendUnderTest } from './backends.js'

/** SHA-256 of `data`, hex. */
export const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

/** Alternates in-memory bytes and chunked streams, so both write paths race. */
function asContent(data: Buffer, i: number): Content {
  return i % 2 === 0 ? data : Readable.from([data.subarray(0, 1000), data.subarray(1000)])
}

/** Registers the race tests for one backend. */
export function raceSuite(factory: BackendFactory): void {
  // Bounded but generous: on a loaded CI machine 200 S3 round trips at once take a while.
  describe(`${factory.name}: races`, { timeout: 120_000 }, () => {
    let backend: BackendUnderTest
    let storage: Storage
    beforeAll(async () => {
      backend = await factory.create()
      storage = backend.storage
    })
    afterAll(async () => backend?.destroy())

    it('saves racing deletes of the same name: every save succeeds, survivors are intact, nothing half-written remains', async () => {
      const p = randomPrefix('race')
      const base = `${p}/doc.bin`
      const bodies = Array.from({ length: 100 }, () => randomBytes(3000))
      const byHash = new Map(bodies.map((b) => [sha(b), b]))
      const deletes: Promise<void>[] = []
      const saves = bodies.map((b, i) => {
        // Interleave: every save is followed by a delete of the plain name.
        const saved = storage.save(base, asContent(b, i))
        deletes.push(storage.delete(base))
        return saved
      })
      const names = await Promise.all(saves)
      await Promise.all(deletes)
      // The plain name may be claimed, deleted and claimed again; every other name is unique.
      const suffixed = names.filter((n) => n !== base)
      expect(new Set(suffixed).size).toBe(suffixed.length)
      const raw = (await backend.rawNames()).filter((n) => n.startsWith(`${p}/`))
      // Every suffixed name is stored (no delete aimed at it), the plain name at most once, and nothing else: no temporary files.
      expect(raw.filter((n) => n !== base)).toEqual([...suffixed].sort())
      expect(raw.length - suffixed.length).toBeLessThanOrEqual(1)
      for (const [i, n] of names.entries()) {
        if (n !== base) {
          expect(sha(await storage.read(n))).toBe(sha(bodies[i]!))
        } else if (raw.includes(base)) {
          // Whole content of one of the saves that got the plain name, never a mixture.
          const h = sha(await storage.read(base))
          expect(byHash.has(h)).toBe(true)
          expect(names.filter((m, j) => m === base && sha(bodies[j]!) === h).length).toBeGreaterThan(0)
        }
      }
    })

    it('concurrent overwrites and deletes of one name leave it missing or whole, never mixed', async () => {
      const ow = await factory.create({ overwrite: true })
      try {
        const p = randomPrefix('race')
        const name = `${p}/config.json`
        const bodies = Array.from({ length: 60 }, () => randomBytes(5000))
        const ops = bodies.flatMap((b, i) => [ow.storage.save(name, asContent(b, i)), ...(i % 3 === 0 ? [ow.storage.delete(name)] : [])])
        const results = await Promise.all(ops)
        for (const r of results) if (r !== undefined) expect(r).toBe(name)
        const raw = (await ow.rawNames()).filter((n) => n.startsWith(`${p}/`))
        expect(raw.length).toBeLessThanOrEqual(1)
        if (raw.length) expect(bodies.map(sha)).toContain(sha(await ow.storage.read(name)))
        // A last, uncontended overwrite wins outright.
        const last = randomBytes(100)
        await ow.storage.save(name, last)
        expect(sha(await ow.storage.read(name))).toBe(sha(last))
      } finally {
        await ow.destroy()
      }
    })
  })
}
