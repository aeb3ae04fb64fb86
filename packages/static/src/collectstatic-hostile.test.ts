import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll } from 'vitest'
import { MemoryStorage } from '@stowage/core'
import { FileSystemStorage } from '@stowage/local'
import { runHostileSourcesSuite } from './testing/hostile-sources-suite.js'

const roots: string[] = []
afterAll(() => Promise.all(roots.splice(0).map((r) => rm(r, { recursive: true, force: true }))))

runHostileSourcesSuite({ name: 'MemoryStorage', create: () => new MemoryStorage({ baseUrl: '/static/' }) })
runHostileSourcesSuite({
  name: 'FileSystemStorage',
  create: async () => {
    const location = await mkdtemp(path.join(tmpdir(), 'stowage-hostile-root-'))
    roots.push(location)
    return new FileSystemStorage({ location, baseUrl: '/static/' })
  },
})
