import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { MemoryStorage } from '@stowage/core'
import { FileSystemStorage } from '@stowage/local'
import { runCleanMediaSuite } from './testing/clean-media-suite.js'

runCleanMediaSuite({ name: 'MemoryStorage', create: () => new MemoryStorage() })
runCleanMediaSuite({
  name: 'FileSystemStorage',
  create: async () => new FileSystemStorage({ location: await mkdtemp(path.join(tmpdir(), 'stowage-clean-media-')) }),
})
