import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll } from 'vitest'
import { MemoryStorage } from '@stowage/core'
import { FileSystemStorage } from '@stowage/local'
import { runCollectstaticSuite } from './testing/collectstatic-suite.js'
import { runStaticExtrasSuite } from './testing/static-extras-suite.js'

const memory = { name: 'MemoryStorage', create: () => new MemoryStorage({ baseUrl: '/static/' }) }
// Every storage root the suites asked for, removed when they are done.
const roots: string[] = []
afterAll(() => Promise.all(roots.splice(0).map((r) => rm(r, { recursive: true, force: true }))))
const local = {
  name: 'FileSystemStorage',
  create: async () => {
    const location = await mkdtemp(path.join(tmpdir(), 'stowage-static-root-'))
    roots.push(location)
    return new FileSystemStorage({ location, baseUrl: '/static/' })
  },
}
runCollectstaticSuite(memory)
runCollectstaticSuite(local)
runStaticExtrasSuite(memory)
runStaticExtrasSuite(local)
