/**
 * `stowage check`: parses options, runs `checkProject()` and prints its
 * report, as text or one JSON object. Exit codes for CI: 0 nothing wrong
 * (warnings allowed unless `--fail-level warning`), 1 problems, 2 usage.
 */
import { checkProject, type CheckReport, type StorageReport } from './check.js'
import { CONFIG_OPTION, defineCommand, oneOf, parseCommand } from './command-helpers.js'
import type { Io } from './io.js'

/** `stowage check`: its options, and the help made from them. */
export const CHECK_COMMAND = defineCommand({
  name: 'check',
  usage: '[options]',
  about: `Loads and validates the configuration (stowage.config.* and STOWAGE_* variables),
builds every storage and probes it: the bucket or directory answers and the
credentials are accepted. Then lists deploy warnings (unhashed static URLs,
signed URLs that cannot be signed, public objects behind presigned URLs, ...).`,
  options: {
    write: { type: 'boolean', help: 'Also save, read back and delete a small file in each storage\n(named .stowage-check-*), proving write access' },
    json: { type: 'boolean', help: 'Print one JSON report on stdout, nothing else' },
    'fail-level': { type: 'string', arg: 'LEVEL', help: 'error (default) or warning: the lowest level that exits 1', check: oneOf('error', 'warning') },
    ...CONFIG_OPTION,
  },
  footer: 'Exit codes: 0 no problem at the fail level, 1 problems found, 2 usage error.',
})

/** The `stowage check --help` text. */
export const CHECK_HELP = CHECK_COMMAND.help

function storageLine(r: StorageReport): string {
  const d = r.description
  const head = d ? `${d.backend}  ${d.location}${d.baseUrl ? `  (URLs ${d.baseUrl})` : ''}  signing: ${d.signing}` : 'not built'
  const probes = r.probes.map((p) => `${p.name} ${p.ok ? 'ok' : 'FAILED'} (${p.ms} ms)`).join(', ')
  return `  ${r.alias.padEnd(12)} ${head}${probes ? `\n  ${''.padEnd(12)} ${probes}` : ''}\n`
}

/** @returns the text report: storages, errors and warnings with their fixes, and Django's closing line. Never throws. */
export function formatReport(report: CheckReport): string {
  let out = report.root ? `Configuration in ${report.root}\n` : ''
  if (report.storages.length) out += `Storages:\n${report.storages.map(storageLine).join('')}`
  for (const level of ['error', 'warning'] as const) {
    const found = report.messages.filter((m) => m.level === level)
    if (!found.length) continue
    out += `${level === 'error' ? 'ERRORS' : 'WARNINGS'}:\n`
    for (const m of found) out += `  ${m.id}: ${m.message}${m.key && !m.message.includes(m.key) ? `\n      fix: ${m.key}${m.env ? ` (${m.env})` : ''}` : ''}\n`
  }
  const issues = report.errors + report.warnings
  out += `System check identified ${issues === 0 ? 'no issues' : `${issues} issue${issues === 1 ? '' : 's'}`} (${report.errors} error${report.errors === 1 ? '' : 's'}, ${report.warnings} warning${report.warnings === 1 ? '' : 's'}).\n`
  return out
}

/** Runs `stowage check`. @returns the exit code: 0 fine, 1 problems at the fail level, 2 usage error. */
export async function checkCommand(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(argv, io, CHECK_COMMAND)
  if (typeof parsed === 'number') return parsed
  const { values } = parsed
  const failLevel = (values['fail-level'] ?? 'error') as 'error' | 'warning'
  const report = await checkProject({ cwd: io.cwd, env: io.env, file: values.config, write: values.write ?? false, ...(io.now && { now: io.now }) })
  if (values.json) io.stdout.write(`${JSON.stringify(report)}\n`)
  else (report.ok ? io.stdout : io.stderr).write(formatReport(report))
  return report.errors > 0 || (failLevel === 'warning' && report.warnings > 0) ? 1 : 0
}
