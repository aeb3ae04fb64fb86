/**
 * Races on the local backends (the S3 tests run the same suite against the
 * gateway), and a directory removed behind the local storage's back.
 */
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { LOCAL_BACKENDS, createLocalBackend } from './helpers/backends.js'
import { raceSuite, sha } from './helpers/race-suite.js'

for (const factory of LOCAL_BACKENDS) raceSuite(factory)

describe('FileSystemStorage: a directory removed behind the storage', () => {
  it('a streamed save into a directory that was deleted externally still stores the whole file', async () => {
    // A cron job pruning empty media directories does exactly this.
    const backend = await createLocalBackend()
    try {
      const { storage } = backend
      await storage.save('d/first.txt', 'x') // the storage now knows d/ exists
      await rm(path.join(storage.location, 'd'), { recursive: true })
      const body = randomBytes(300_000)
      const name = await storage.save('d/second.bin', Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]))
      expect(sha(await storage.read(name))).toBe(sha(body))
      expect(await backend.rawNames()).toEqual([name])
    } finally {
      await backend.destroy()
    }
  })
})
