/**
 * Runs collectstatic into a `FileSystemStorage` in a child process and kills
 * the process with SIGKILL once `killAfter` files have been written: a crash,
 * not a polite abort (no finally blocks, no clean-up).
 *
 * argv: JSON `{ root, location, killAfter }`.
 */
import { FileSystemStorage } from '@stowage/local'
import { ManifestStaticStorage, collectstatic, createFinders } from '@stowage/static'
import { ASSET_TREE_DIRS } from '../../../packages/static/src/testing/asset-tree.js'

const { root, location, killAfter } = JSON.parse(process.argv[2] ?? '{}') as { root: string; location: string; killAfter: number }
const storage = new ManifestStaticStorage({ storage: new FileSystemStorage({ location, baseUrl: '/static/' }), staticUrl: '/static/' })
await collectstatic({
  storage,
  finders: createFinders({ root, dirs: ASSET_TREE_DIRS }),
  concurrency: 4,
  onProgress: (e) => {
    if (e.phase === 'write' && e.done >= killAfter) process.kill(process.pid, 'SIGKILL')
  },
})
process.stdout.write('finished without being killed\n')
