import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runStorageConformance } from '@stowage/core/testing'
import { FileSystemStorage } from './file-system-storage.js'

runStorageConformance({
  name: 'FileSystemStorage',
  create: async (options) => new FileSystemStorage({ location: await mkdtemp(path.join(tmpdir(), 'stowage-conf-')), baseUrl: '/media/', ...options }),
  destroy: async (storage) => {
    const { location } = storage as FileSystemStorage
    // Nothing half-written may remain anywhere under the root.
    const leftovers = (await readdir(location, { recursive: true })).filter((n) => path.basename(String(n)).startsWith('.~stowage-'))
    if (leftovers.length) throw new Error(`temporary files left behind: ${leftovers.join(', ')}`)
    await rm(location, { recursive: true, force: true })
  },
  capabilities: {
    skip: {
      contentType: 'a plain file system records no content type',
      etag: 'a plain file system records no etag',
    },
  },
})
