/**
 * Real file system conditions for the local backend: a tiny tmpfs (disk
 * full) and a read-only bind mount. Mounting needs root and a sandbox that
 * allows it; `mountSupport()` says whether this machine does and, if not,
 * why, so tests skip saying so instead of failing for the wrong cause (and
 * `.ci/run` fails when they were skipped there).
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** Runs `cmd`. @returns undefined when it succeeded, else why not (its stderr, or the error). */
function run(cmd: string, args: string[]): string | undefined {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 })
    return undefined
  } catch (err) {
    const { stderr, message } = err as { stderr?: Buffer; message: string }
    return stderr?.toString().trim() || message
  }
}

/** Mounts a tmpfs of `bytes` on `dir`. @returns false when mounting is not permitted here. */
export function mountTmpfs(dir: string, bytes: number): boolean {
  return run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir]) === undefined
}

/** Makes `dir` a read-only view of itself. @returns false when not permitted. */
export function mountReadOnly(dir: string): boolean {
  if (run('mount', ['--bind', dir, dir]) !== undefined) return false
  if (run('mount', ['-o', 'remount,bind,ro', dir]) === undefined) return true
  unmount(dir)
  return false
}

/** Unmounts `dir` (lazily, so a straggling handle cannot wedge the test run). */
export function unmount(dir: string): void {
  run('umount', ['-l', dir])
}

/**
 * Whether this process may mount file systems, found by mounting a small
 * tmpfs once.
 * @returns `{ ok: true }`, or `{ ok: false, reason }` with what `mount` said
 *   (not root, a sandbox without CAP_SYS_ADMIN, no mount command...).
 */
export async function mountSupport(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stowage-mount-probe-'))
  try {
    const refused = run('mount', ['-t', 'tmpfs', '-o', 'size=65536,mode=0755', 'tmpfs', dir])
    if (refused !== undefined) return { ok: false, reason: refused.split('\n')[0]! }
    unmount(dir)
    return { ok: true }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
