import type { Storage } from '@stowage/core'

/**
 * Every file name in `store`, walking directories concurrently through `limit`.
 * @returns the names, sorted. @throws StorageError when a directory cannot be listed.
 */
export async function listFiles(store: Storage, limit: <T>(fn: () => Promise<T>) => Promise<T>, dir = ''): Promise<string[]> {
  const names: string[] = []
  const walk = async (at: string): Promise<void> => {
    const { dirs, files } = await limit(() => store.listdir(at))
    for (const f of files) names.push(at ? `${at}/${f}` : f)
    await Promise.all(dirs.map((d) => walk(at ? `${at}/${d}` : d)))
  }
  await walk(dir)
  return names.sort()
}
