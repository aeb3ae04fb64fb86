/**
 * `stowage collectstatic`: parses options, loads the project's
 * configuration, asks for confirmation, shows progress and prints the
 * summary. The work is `collectstatic()` from `@stowage/static`.
 */
import { isStorageError, type Storage } from '@stowage/core'
import { collectstatic, CollectStaticError, findersFromConfig, isManifestStorage, type CollectStaticSummary } from '@stowage/static'
import { CONFIG_OPTION, JSON_OPTION, POSITIVE_INTEGER, defineCommand, openConfigured, parseCommand } from './command-helpers.js'
import type { Io } from './io.js'
import { ProgressBar } from './progress.js'
import { checkStaticOverlap } from './static-overlap.js'

/** `stowage collectstatic`: its options, and the help made from them. */
export const COLLECTSTATIC_COMMAND = defineCommand({
  name: 'collectstatic',
  usage: '[options]',
  about: `Collects static files from the configured directories and each workspace
package's static/ folder into the "staticfiles" storage.`,
  options: {
    'dry-run': { type: 'boolean', short: 'n', help: 'Do everything except modify the storage' },
    clear: { type: 'boolean', short: 'c', help: 'Delete every file in the storage before collecting' },
    ignore: { type: 'string', short: 'i', multiple: true, arg: 'PATTERN', help: 'Leave out files and directories matching PATTERN (repeatable)' },
    'no-default-ignore': { type: 'boolean', help: 'Do not ignore CVS, .* and *~' },
    'no-post-process': { type: 'boolean', help: 'Do not hash names or write the manifest' },
    lenient: { type: 'boolean', help: 'Warn about references to missing files instead of failing' },
    'strict-sourcemaps': { type: 'boolean', help: 'Fail on a sourceMappingURL to a missing map (default: warn,\nand drop the comment from the hashed copy)' },
    'no-input': { type: 'boolean', help: 'Never prompt' },
    ...JSON_OPTION,
    verbose: { type: 'boolean', short: 'v', help: 'List every file copied, post-processed or deleted' },
    ...CONFIG_OPTION,
    concurrency: { type: 'string', arg: 'N', help: 'Parallel reads and writes (default 32)', check: POSITIVE_INTEGER },
  },
})

/** The `stowage collectstatic --help` text. */
export const COLLECTSTATIC_HELP = COLLECTSTATIC_COMMAND.help

/** Runs `stowage collectstatic`. @returns the exit code: 0 done, 1 failed, 2 usage error. Failures are written to `io`, not thrown. */
export async function collectstaticCommand(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(argv, io, COLLECTSTATIC_COMMAND)
  if (typeof parsed === 'number') return parsed
  const { values } = parsed
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency)
  const json = values.json ?? false
  const dryRun = values['dry-run'] ?? false

  try {
    const { config, storage } = await openConfigured(
      io,
      'staticfiles',
      values.config,
      'is not configured: add a "staticfiles" storage to collect static files into',
    )
    // Before the prompt: a run into (or over) its own sources is refused, not confirmed.
    await checkStaticOverlap(config, storage)
    const where = describe(storage)

    if (!dryRun && !values['no-input']) {
      const what = values.clear ? 'This will DELETE ALL FILES in this location!' : 'This will overwrite existing files!'
      if (io.prompt) {
        const answer = await io.prompt(
          `You have requested to collect static files at the destination location as specified in your settings:\n\n    ${where}\n\n${what}\nAre you sure you want to do this?\n\nType 'yes' to continue, or 'no' to cancel: `,
        )
        if (answer.trim() !== 'yes') {
          io.stderr.write('Collecting static files cancelled.\n')
          return 1
        }
      } else if (values.clear) {
        io.stderr.write('Refusing to --clear without confirmation: no terminal to ask on. Pass --no-input to go ahead.\n')
        return 1
      }
    }

    const bar = !json && io.stderr.isTTY ? new ProgressBar(io.stderr, { now: io.now }) : undefined
    const sf = config.staticfiles ?? {}
    let summary: CollectStaticSummary
    try {
      summary = await collectstatic({
        storage,
        finders: findersFromConfig(config),
        ignorePatterns: [...(sf.ignore ?? []), ...(values.ignore ?? [])],
        useDefaultIgnorePatterns: !values['no-default-ignore'],
        dryRun,
        clear: values.clear ?? false,
        postProcess: !values['no-post-process'],
        strict: !values.lenient,
        // Unset: the config's `manifest: { strictSourcemaps }` decides.
        strictSourcemaps: values['strict-sourcemaps'] || undefined,
        concurrency,
        onProgress: bar && ((p) => bar.update(p.phase, p.done, p.total)),
      })
    } finally {
      bar?.clear()
    }

    if (json) {
      io.stdout.write(`${JSON.stringify({ ok: summary.errors.length === 0, destination: where, ...summary })}\n`)
      return summary.errors.length ? 1 : 0
    }
    // Django reports these at its default verbosity: a shadowed file is usually a mistake.
    for (const d of summary.duplicates) {
      io.stderr.write(
        `Found another file with the destination path '${d.path}'. It will be ignored since only the first encountered file is collected (${d.ignored.map((i) => i.origin).join(', ')}).\n`,
      )
    }
    for (const w of summary.warnings) io.stderr.write(`Warning: ${w.message}\n`)
    for (const e of summary.errors) io.stderr.write(`Error: ${e.path}: ${e.message}\n`)
    if (values.verbose) {
      for (const f of summary.files.deleted) io.stdout.write(`Deleting '${f}'\n`)
      for (const f of summary.files.copied) io.stdout.write(`Copying '${f}'\n`)
      for (const f of summary.files.postProcessed) io.stdout.write(`Post-processed as '${f}'\n`)
      for (const f of summary.files.compressed) io.stdout.write(`Compressed as '${f}'\n`)
    }
    io.stdout.write(`${summaryLine(summary, where)}\n`)
    return summary.errors.length ? 1 : 0
  } catch (err) {
    if (json) {
      const error = isStorageError(err) ? { code: err.code, message: err.message } : { code: 'ERROR', message: String(err) }
      const problems = err instanceof CollectStaticError ? err.problems : undefined
      io.stdout.write(`${JSON.stringify({ ok: false, error: { ...error, problems } })}\n`)
    } else {
      io.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    }
    return 1
  }
}

/** @returns Django's closing line: "12 static files copied to '/srv/static', 3 unmodified, 15 post-processed." Never throws. */
export function summaryLine(s: CollectStaticSummary, where: string): string {
  const files = (n: number) => `${n} static file${n === 1 ? '' : 's'}`
  const parts = [`${s.dryRun ? 'Pretending: ' : ''}${files(s.copied)} ${s.dryRun ? 'would be ' : ''}copied to ${where}`]
  if (s.unmodified) parts.push(`${s.unmodified} unmodified`)
  if (s.postProcessed) parts.push(`${s.postProcessed} post-processed`)
  if (s.compressed) parts.push(`${s.compressed} compressed`)
  if (s.deleted) parts.push(`${s.deleted} deleted`)
  if (s.errors.length) parts.push(`${s.errors.length} failed`)
  return `${parts.join(', ')} (${(s.durationMs / 1000).toFixed(2)}s).`
}

/** @returns where the files go, for the prompt and the summary: a directory or a bucket and prefix, quoted. Never throws. */
export function describe(storage: Storage): string {
  const inner = (isManifestStorage(storage) ? storage.storage : storage) as {
    location?: unknown
    bucket?: unknown
    options?: { bucket?: unknown; location?: unknown }
  }
  const bucket = inner.bucket ?? inner.options?.bucket
  const location = inner.location ?? inner.options?.location
  if (typeof bucket === 'string') return `'s3://${bucket}/${typeof location === 'string' && location ? `${location}/` : ''}'`
  if (typeof location === 'string') return `'${location}'`
  return `the "staticfiles" storage (${inner.constructor?.name ?? 'storage'})`
}
