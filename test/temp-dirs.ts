/**
 * Temporary directories for one test file: `tempDirs(prefix)` registers an
 * `afterEach` that removes every directory made since, and returns the
 * function that makes one.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach } from 'vitest'

/** @returns a function making a fresh directory under the system's temporary directory, removed after each test. */
export function tempDirs(prefix: string): () => Promise<string> {
  const made: string[] = []
  afterEach(async () => {
    await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  })
  return async () => {
    const dir = await mkdtemp(path.join(tmpdir(), prefix))
    made.push(dir)
    return dir
  }
}
