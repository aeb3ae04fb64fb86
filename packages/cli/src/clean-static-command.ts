/**
 * `stowage clean-static`: parses options, opens the "staticfiles" storage,
 * prints what `cleanStatic()` found or did. Lists only by default;
 * `--delete` acts.
 */
import { cleanStatic, DEFAULT_CLEAN_MIN_AGE, DEFAULT_KEEP_DEPLOYS } from '@stowage/static'
import { describe } from './collectstatic-command.js'
import { CONFIG_OPTION, JSON_OPTION, POSITIVE_INTEGER, SECONDS, defineCommand, openStorage, parseCommand, runCommand } from './command-helpers.js'
import type { Io } from './io.js'

/** `stowage clean-static`: its options, and the help made from them. */
export const CLEAN_STATIC_COMMAND = defineCommand({
  name: 'clean-static',
  usage: '[options]',
  about: `Lists the hashed static files (and their .br/.gz variants) that no manifest
of the last N deploys names: collectstatic keeps old hashed files so cached
pages keep working, and they pile up. Lists only, unless --delete is given.
Originals, the manifest and the deploy history's newest entries are kept.`,
  options: {
    keep: {
      type: 'string',
      arg: 'N',
      help: `Deploys whose files to keep, the current one included (default ${DEFAULT_KEEP_DEPLOYS})`,
      check: POSITIVE_INTEGER,
    },
    'min-age': {
      type: 'string',
      arg: 'SECONDS',
      help: `Keep files modified less than this long ago (default ${DEFAULT_CLEAN_MIN_AGE}): a collectstatic running meanwhile writes hashed files before its manifest`,
      check: SECONDS,
    },
    delete: { type: 'boolean', help: 'Delete them (and history entries older than the kept ones)' },
    ...JSON_OPTION,
    ...CONFIG_OPTION,
  },
})

/** The `stowage clean-static --help` text. */
export const CLEAN_STATIC_HELP = CLEAN_STATIC_COMMAND.help

/** Runs `stowage clean-static`. @returns the exit code: 0 done, 1 failed, 2 usage error. Failures are written to `io`, not thrown. */
export async function cleanStaticCommand(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(argv, io, CLEAN_STATIC_COMMAND)
  if (typeof parsed === 'number') return parsed
  const { values } = parsed
  const keep = values.keep === undefined ? undefined : Number(values.keep)
  const minAge = values['min-age'] === undefined ? undefined : Number(values['min-age'])
  const json = values.json ?? false
  return runCommand(io, json, async () => {
    const storage = await openStorage(io, 'staticfiles', values.config)
    const summary = await cleanStatic({ storage, keep, minAge, dryRun: !values.delete })
    if (json) {
      io.stdout.write(`${JSON.stringify({ ok: summary.errors.length === 0, destination: describe(storage), ...summary })}\n`)
      return summary.errors.length ? 1 : 0
    }
    for (const name of summary.deleted) io.stdout.write(`${summary.dryRun ? 'Unused' : 'Deleted'}: ${name}\n`)
    for (const e of summary.errors) io.stderr.write(`Error: ${e.path}: ${e.message}\n`)
    if (summary.incomplete) io.stderr.write(`Nothing to do: ${summary.incomplete}.\n`)
    if (summary.recent.length)
      io.stdout.write(`Kept ${summary.recent.length} unnamed hashed file${summary.recent.length === 1 ? '' : 's'} younger than --min-age.\n`)
    const n = summary.deleted.length
    const files = `${n} hashed file${n === 1 ? '' : 's'}`
    const deploys = `${summary.kept.length} deploy${summary.kept.length === 1 ? '' : 's'}`
    io.stdout.write(
      `${summary.dryRun ? `${files} no kept deploy names (run with --delete to delete them)` : `${files} deleted`}; kept the files of ${deploys} in ${describe(storage)}.\n`,
    )
    return summary.errors.length ? 1 : 0
  })
}
