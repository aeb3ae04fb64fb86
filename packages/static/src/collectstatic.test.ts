import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { MemoryStorage } from '@stowage/core'
import { FileSystemStorage } from '@stowage/local'
import { runCollectstaticSuite } from './testing/collectstatic-suite.js'
import { runStaticExtrasSuite } from './testing/static-extras-suite.js'

const memory = { name: 'MemoryStorage', create: () => new MemoryStorage({ baseUrl: '/static/' }) }
const local = {
  name: 'FileSystemStorage',
  create: async () => new FileSystemStorage({ location: await mkdtemp(path.join(tmpdir(), 'stowage-static-root-')), baseUrl: '/static/' }),
}
runCollectstaticSuite(memory)
runCollectstaticSuite(local)
runStaticExtrasSuite(memory)
runStaticExtrasSuite(local)
