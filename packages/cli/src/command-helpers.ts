/**
 * What the maintenance commands share: option parsing with the common flags
 * (`--delete`, `--json`, `--config`, `--help`), opening a configured storage,
 * and printing a failure as text or JSON.
 */
import { parseArgs } from 'node:util'
import { ConfigurationError, StorageRegistry, isStorageError, loadConfig, type Storage } from '@stowage/core'
import type { Io } from './io.js'

/** Parsed options: strings and flags by name. */
export interface Values {
  str(name: string): string | undefined
  flag(name: string): boolean
}

/**
 * Parses `argv` with `strings` and `flags` plus `--delete`, `--json`, `--config FILE`, `-h/--help`.
 * @returns the values, or the exit code when the command is done (help: 0, usage error: 2).
 */
export function parseCommand(argv: string[], io: Io, help: string, strings: string[], flags: string[] = []): Values | number {
  let values: Record<string, string | boolean | undefined>
  try {
    const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { delete: { type: 'boolean' }, json: { type: 'boolean' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }
    for (const s of strings) options[s] = { type: 'string' }
    for (const f of flags) options[f] = { type: 'boolean' }
    ;({ values } = parseArgs({ args: argv, allowPositionals: false, options }))
  } catch (err) {
    return usage(io, (err as Error).message, help)
  }
  if (values.help) {
    io.stdout.write(help)
    return 0
  }
  return {
    str: (name) => (typeof values[name] === 'string' ? (values[name] as string) : undefined),
    flag: (name) => values[name] === true,
  }
}

/** Prints `message` and the help. @returns 2, the usage-error exit code. */
export function usage(io: Io, message: string, help: string): number {
  io.stderr.write(`${message}\n\n${help}`)
  return 2
}

/** Runs a command body, printing a failure as text or as `{ ok: false, error }`. @returns its exit code, 1 on failure. */
export async function runCommand(io: Io, json: boolean, body: () => Promise<number>): Promise<number> {
  try {
    return await body()
  } catch (err) {
    if (json) {
      const error = isStorageError(err) ? { code: err.code, message: err.message } : { code: 'ERROR', message: err instanceof Error ? err.message : String(err) }
      io.stdout.write(`${JSON.stringify({ ok: false, error })}\n`)
    } else {
      io.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    }
    return 1
  }
}

/** @returns the configured storage `alias`. @throws ConfigurationError naming the key when it is not configured. */
export async function openStorage(io: Io, alias: string, file: string | undefined): Promise<Storage> {
  const config = await loadConfig({ cwd: io.cwd, file, env: io.env })
  const registry = new StorageRegistry()
  await registry.configure(config)
  if (!registry.has(alias)) throw new ConfigurationError('is not configured', { key: `storages.${alias}` })
  return registry.get(alias)
}
