/**
 * `stowage clean-media`: parses options, opens the configured storage and
 * the application's resolver module, prints what `cleanMedia()` found or
 * did. Lists only by default; `--delete` acts.
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ConfigurationError } from '@stowage/core'
import { cleanMedia, DEFAULT_MIN_AGE, type ReferencesResolver } from './clean-media.js'
import { describe } from './collectstatic-command.js'
import { CONFIG_OPTION, JSON_OPTION, SECONDS, defineCommand, openStorage, parseCommand, runCommand, usage } from './command-helpers.js'
import type { Io } from './io.js'

/** `stowage clean-media`: its options, and the help made from them. */
export const CLEAN_MEDIA_COMMAND = defineCommand({
  name: 'clean-media',
  usage: '--references MODULE [options]',
  about: `Lists the files in a storage that no record references (orphans left by
deleted records, cleared fields, failed transactions). Lists only, unless
--delete is given.

MODULE's default export is a function returning the stored names your records
reference, e.g. with better-sqlite3:
  export default () => db.prepare('SELECT avatar FROM profiles').pluck().all()`,
  options: {
    references: { type: 'string', arg: 'MODULE', help: 'The resolver module (.js, .mjs, or .ts with tsx installed); required' },
    storage: { type: 'string', arg: 'ALIAS', help: 'Storage to scan (default: "default")' },
    prefix: { type: 'string', arg: 'DIR', help: 'Only files under this directory, e.g. avatars/' },
    'min-age': { type: 'string', arg: 'SECONDS', help: `Keep files modified less than this long ago (default ${DEFAULT_MIN_AGE})`, check: SECONDS },
    'include-hidden': { type: 'boolean', help: 'Also scan names with a segment starting with "."' },
    delete: { type: 'boolean', help: 'Delete the orphans' },
    ...JSON_OPTION,
    ...CONFIG_OPTION,
  },
})

/** The `stowage clean-media --help` text. */
export const CLEAN_MEDIA_HELP = CLEAN_MEDIA_COMMAND.help

/** Runs `stowage clean-media`. @returns the exit code: 0 done, 1 failed, 2 usage error. Failures are written to `io`, not thrown. */
export async function cleanMediaCommand(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(argv, io, CLEAN_MEDIA_COMMAND)
  if (typeof parsed === 'number') return parsed
  const { values } = parsed
  const references = values.references
  if (!references) return usage(io, '--references MODULE is required: a module returning the names your records reference', CLEAN_MEDIA_HELP)
  const minAge = values['min-age'] === undefined ? undefined : Number(values['min-age'])
  const json = values.json ?? false
  const prefix = values.prefix
  return runCommand(io, json, async () => {
    const alias = values.storage ?? 'default'
    const storage = await openStorage(io, alias, values.config)
    const summary = await cleanMedia({
      storage,
      references: await loadResolver(path.resolve(io.cwd, references)),
      prefix,
      minAge,
      includeHidden: values['include-hidden'] ?? false,
      delete: values.delete ?? false,
    })
    if (json) {
      io.stdout.write(`${JSON.stringify({ ok: summary.errors.length === 0, storage: alias, ...summary })}\n`)
      return summary.errors.length ? 1 : 0
    }
    for (const name of summary.dryRun ? summary.orphans : summary.deleted) io.stdout.write(`${summary.dryRun ? 'Orphan' : 'Deleted'}: ${name}\n`)
    for (const e of summary.errors) io.stderr.write(`Error: ${e.path}: ${e.message}\n`)
    const recent = summary.recent.length ? `, ${summary.recent.length} unreferenced but too recent to delete` : ''
    const action = summary.dryRun ? `${summary.orphans.length} orphaned (run with --delete to delete them)` : `${summary.deleted.length} deleted`
    io.stdout.write(
      `${summary.scanned} files in ${describe(storage)}${prefix ? ` under ${prefix}` : ''}: ${summary.referenced} referenced, ${action}${recent}.\n`,
    )
    return summary.errors.length ? 1 : 0
  })
}

/**
 * Imports the resolver module (TypeScript through tsx, as config files are).
 * @returns its default export. @throws ConfigurationError when it cannot be imported or exports no function.
 */
async function loadResolver(file: string): Promise<ReferencesResolver> {
  let mod: { default?: unknown }
  try {
    if (['.ts', '.mts', '.cts'].includes(path.extname(file))) {
      const { tsImport } = (await import('tsx/esm/api')) as { tsImport: (specifier: string, parent: string) => Promise<{ default?: unknown }> }
      mod = await tsImport(pathToFileURL(file).href, import.meta.url)
    } else {
      mod = (await import(pathToFileURL(file).href)) as { default?: unknown }
    }
  } catch (err) {
    throw new ConfigurationError(`could not be imported: ${err instanceof Error ? err.message : String(err)}`, { key: '--references', cause: err })
  }
  // tsx may wrap a module's default export in another `default`.
  let fn = mod.default
  if (fn && typeof fn === 'object' && 'default' in fn) fn = (fn as { default: unknown }).default
  if (typeof fn !== 'function') throw new ConfigurationError(`${file} must export a default function returning the referenced names`, { key: '--references' })
  return fn as ReferencesResolver
}
