/**
 * Runs `FileSystemStorage` calls in a child process, so a test can give them
 * conditions it must not impose on the test runner itself: another user id
 * (permission denied, since root bypasses file modes) or a file size limit
 * (RLIMIT_FSIZE, set by the parent with `ulimit -f`).
 *
 * Input: one JSON `ChildJob` in argv[2]. Output: one JSON `ChildResult[]` line on stdout.
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { StorageError } from '@stowage/core'
import { FileSystemStorage } from '@stowage/local'

/** One storage call. `size` bytes of random content are saved, as one buffer or as a stream. */
export type ChildOp = { op: 'save'; name: string; size: number; stream?: boolean; overwrite?: boolean } | { op: 'read' | 'delete' | 'exists'; name: string }

/** What the child is asked to do. */
export interface ChildJob {
  location: string
  /** Switch to this user id (and group id) before touching the storage. */
  uid?: number
  ops: ChildOp[]
}

/** The outcome of one op: its value, or the error's class, code and the errno underneath. */
export type ChildResult = { ok: true; value: unknown } | { ok: false; error: { name: string; code: string; causeCode?: string; stowage: boolean } }

async function run(job: ChildJob): Promise<ChildResult[]> {
  if (job.uid !== undefined) {
    if (!process.setuid || !process.setgid) throw new Error('cannot switch users on this platform')
    process.setgid(job.uid)
    process.setuid(job.uid)
  }
  const storage = new FileSystemStorage({ location: job.location })
  const results: ChildResult[] = []
  for (const op of job.ops) {
    try {
      let value: unknown
      if (op.op === 'save') {
        const data = randomBytes(op.size)
        const half = Math.floor(op.size / 2)
        const content = op.stream ? Readable.from([data.subarray(0, half), data.subarray(half)]) : data
        value = await storage.save(op.name, content, { overwrite: op.overwrite ?? false })
      } else if (op.op === 'read') value = (await storage.read(op.name)).byteLength
      else if (op.op === 'delete') value = await storage.delete(op.name)
      else value = await storage.exists(op.name)
      results.push({ ok: true, value: value ?? null })
    } catch (err) {
      const e = err as StorageError
      results.push({
        ok: false,
        error: { name: e.name, code: e.code, causeCode: (e.cause as NodeJS.ErrnoException | undefined)?.code, stowage: err instanceof StorageError },
      })
    }
  }
  return results
}

const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob
process.stdout.write(`${JSON.stringify(await run(job))}\n`)
