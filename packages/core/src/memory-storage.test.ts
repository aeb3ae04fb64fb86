import { runStorageConformance } from './testing/index.js'
import { MemoryStorage } from './memory-storage.js'

runStorageConformance({ name: 'MemoryStorage', create: () => new MemoryStorage({ baseUrl: '/media/' }) })
