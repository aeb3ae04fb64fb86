/**
 * Test support for `stowage check` (check.test.ts, check.s3.test.ts): a
 * project directory with a config file, and the command run in-process on it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { CheckReport } from '../check.js'
import type { Io } from '../io.js'
import { main } from '../main.js'

const dirs: string[] = []

/** Removes every project made so far; call it from `afterEach`. */
export async function removeProjects(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
}

/** @returns a new temporary directory holding `stowage.config.json` with `config`. */
export async function project(config: object): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stowage-check-'))
  dirs.push(dir)
  await writeFile(path.join(dir, 'stowage.config.json'), JSON.stringify(config))
  return dir
}

/** Runs `stowage check ARGS` in `cwd` with `env` and a clock that advances 2 ms per reading. @returns its exit code and output. */
export async function run(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  let clock = 0
  const io: Io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, cwd, env, now: () => (clock += 2) }
  const code = await main(['check', ...args], io)
  return { code, out, err }
}

/** Runs `stowage check --json ARGS`. @returns its exit code and parsed report. */
export async function report(cwd: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; report: CheckReport }> {
  const { code, out } = await run(cwd, ['--json', ...args], env)
  return { code, report: JSON.parse(out) as CheckReport }
}
