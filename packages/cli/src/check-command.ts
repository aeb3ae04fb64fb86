/**
 * `stowage check`: parses options, runs `checkProject()` and prints its
 * report, as text or one JSON object. Exit codes for CI: 0 nothing wrong
 * (warnings allowed unless `--fail-level warning`), 1 problems, 2 usage.
 */
import { parseArgs } from 'node:util'
import { checkProject, type CheckReport, type StorageReport } from './check.js'
import type { Io } from './io.js'

/** The `stowage check --help` text. */
export const CHECK_HELP = `Usage: stowage check [options]

Loads and validates the configuration (stowage.config.* and STOWAGE_* variables),
builds every storage and probes it: the bucket or directory answers and the
credentials are accepted. Then lists deploy warnings (unhashed static URLs,
signed URLs that cannot be signed, public objects behind presigned URLs, ...).

Options:
      --write              Also save, read back and delete a small file in each storage
                           (named .stowage-check-*), proving write access
      --json               Print one JSON report on stdout, nothing else
      --fail-level LEVEL   error (default) or warning: the lowest level that exits 1
      --config FILE        Configuration file (default: stowage.config.* in the current directory)
  -h, --help               Show this help

Exit codes: 0 no problem at the fail level, 1 problems found, 2 usage error.
`

function storageLine(r: StorageReport): string {
  const d = r.description
  const head = d ? `${d.backend}  ${d.location}${d.baseUrl ? `  (URLs ${d.baseUrl})` : ''}  signing: ${d.signing}` : 'not built'
  const probes = r.probes.map((p) => `${p.name} ${p.ok ? 'ok' : 'FAILED'} (${p.ms} ms)`).join(', ')
  return `  ${r.alias.padEnd(12)} ${head}${probes ? `\n  ${''.padEnd(12)} ${probes}` : ''}\n`
}

/** The text report. */
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
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        write: { type: 'boolean' },
        json: { type: 'boolean' },
        'fail-level': { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n\n${CHECK_HELP}`)
    return 2
  }
  if (values.help) {
    io.stdout.write(CHECK_HELP)
    return 0
  }
  const failLevel = values['fail-level'] ?? 'error'
  if (failLevel !== 'error' && failLevel !== 'warning') {
    io.stderr.write(`--fail-level must be 'error' or 'warning', got '${failLevel}'\n`)
    return 2
  }
  const report = await checkProject({ cwd: io.cwd, env: io.env, file: values.config, write: values.write ?? false, ...(io.now && { now: io.now }) })
  if (values.json) io.stdout.write(`${JSON.stringify(report)}\n`)
  else (report.ok ? io.stdout : io.stderr).write(formatReport(report))
  return report.errors > 0 || (failLevel === 'warning' && report.warnings > 0) ? 1 : 0
}
