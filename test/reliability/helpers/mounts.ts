/**
 * Real file system conditions for the local backend: a tiny tmpfs (disk
 * full) and a read-only bind mount. Mounting needs root and a sandbox that
 * allows it; `canMount()` says whether this machine does, so tests can skip
 * with a reason instead of failing for the wrong cause.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

function run(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 })
    return true
  } catch {
    return false
  }
}

/** Mounts a tmpfs of `bytes` on `dir`. @returns false when mounting is not permitted here. */
export function mountTmpfs(dir: string, bytes: number): boolean {
  return run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir])
}

/** Makes `dir` a read-only view of itself. @returns false when not permitted. */
export function mountReadOnly(dir: string): boolean {
  if (!run('mount', ['--bind', dir, dir])) return false
  if (run('mount', ['-o', 'remount,bind,ro', dir])) return true
  unmount(dir)
  return false
}

/** Unmounts `dir` (lazily, so a straggling handle cannot wedge the test run). */
export function unmount(dir: string): void {
  run('umount', ['-l', dir])
}

/** Whether this process may mount file systems, found by trying once. */
export async function canMount(): Promise<boolean> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stowage-mount-probe-'))
  try {
    if (!mountTmpfs(dir, 64 * 1024)) return false
    unmount(dir)
    return true
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
