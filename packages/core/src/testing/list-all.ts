import type { Storage } from '../storage.js'

/**
 * Every file name under `dir` in `storage`, recursively, through `listdir`
 * only (so it works on any backend, and shows what the API shows: a local
 * backend's hidden temporary files are not in it).
 * @returns the names relative to the storage root, sorted.
 * @throws whatever `listdir` throws (e.g. SuspiciousFileOperationError for an unsafe `dir`).
 */
export async function listAll(storage: Storage, dir = ''): Promise<string[]> {
  const { dirs, files } = await storage.listdir(dir)
  const join = (n: string) => (dir ? `${dir.replace(/\/+$/, '')}/${n}` : n)
  const below = await Promise.all(dirs.map((d) => listAll(storage, join(d))))
  return [...files.map(join), ...below.flat()].sort()
}
