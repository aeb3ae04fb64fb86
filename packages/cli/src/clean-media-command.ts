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
import { openStorage, parseCommand, runCommand, usage } from './command-helpers.js'
import type { Io } from './io.js'

/** The `stowage clean-media --help` text. */
export const CLEAN_MEDIA_HELP = `Usage: stowage clean-media --references MODULE [options]

Lists the files in a storage that no record references (orphans left by
deleted records, cleared fields, failed transactions). Lists only, unless
--delete is given.

MODULE's default export is a function returning the stored names your records
reference, e.g. with better-sqlite3:
  export default () => db.prepare('SELECT avatar FROM profiles').pluck().all()

Options:
      --references MODULE  The resolver module (.js, .mjs, or .ts with tsx installed); required
      --storage ALIAS      Storage to scan (default: "default")
      --prefix DIR         Only files under this directory, e.g. avatars/
      --min-age SECONDS    Keep files modified less than this long ago (default ${DEFAULT_MIN_AGE})
      --include-hidden     Also scan names with a segment starting with "."
      --delete             Delete the orphans
      --json               Print one JSON summary on stdout, nothing else
      --config FILE        Configuration file (default: stowage.config.* in the current directory)
  -h, --help               Show this help
`

/** Runs `stowage clean-media`. @returns the exit code: 0 done, 1 failed, 2 usage error. */
export async function cleanMediaCommand(argv: string[], io: Io): Promise<number> {
  const values = parseCommand(argv, io, CLEAN_MEDIA_HELP, ['references', 'storage', 'prefix', 'min-age'], ['include-hidden'])
  if (typeof values === 'number') return values
  const references = values.str('references')
  if (!references) return usage(io, '--references MODULE is required: a module returning the names your records reference', CLEAN_MEDIA_HELP)
  const minAgeText = values.str('min-age')
  const minAge = minAgeText === undefined ? undefined : Number(minAgeText)
  if (minAge !== undefined && !(Number.isFinite(minAge) && minAge >= 0)) return usage(io, `--min-age must be a number of seconds, got '${minAgeText}'`, CLEAN_MEDIA_HELP)
  const json = values.flag('json')
  const prefix = values.str('prefix')
  return runCommand(io, json, async () => {
    const alias = values.str('storage') ?? 'default'
    const storage = await openStorage(io, alias, values.str('config'))
    const summary = await cleanMedia({
      storage,
      references: await loadResolver(path.resolve(io.cwd, references)),
      prefix,
      minAge,
      includeHidden: values.flag('include-hidden'),
      delete: values.flag('delete'),
    })
    if (json) {
      io.stdout.write(`${JSON.stringify({ ok: summary.errors.length === 0, storage: alias, ...summary })}\n`)
      return summary.errors.length ? 1 : 0
    }
    for (const name of summary.dryRun ? summary.orphans : summary.deleted) io.stdout.write(`${summary.dryRun ? 'Orphan' : 'Deleted'}: ${name}\n`)
    for (const e of summary.errors) io.stderr.write(`Error: ${e.path}: ${e.message}\n`)
    const recent = summary.recent.length ? `, ${summary.recent.length} unreferenced but too recent to delete` : ''
    const action = summary.dryRun ? `${summary.orphans.length} orphaned (run with --delete to delete them)` : `${summary.deleted.length} deleted`
    io.stdout.write(`${summary.scanned} files in ${describe(storage)}${prefix ? ` under ${prefix}` : ''}: ${summary.referenced} referenced, ${action}${recent}.\n`)
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
    if (/\.[mc]?ts$/.test(file)) {
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
