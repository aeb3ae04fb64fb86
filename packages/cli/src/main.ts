/**
 * The `stowage` command: dispatches to subcommands. Every command returns
 * an exit code instead of exiting, so it can run in-process (tests, tools).
 */
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline/promises'
import { loadConfig, isStorageError } from '@stowage/core'
import { findersFromConfig } from '@stowage/static'
import { cleanMediaCommand } from './clean-media-command.js'
import { cleanStaticCommand } from './clean-static-command.js'
import { checkCommand } from './check-command.js'
import { defineCommand, parseCommand, usage } from './command-helpers.js'
import { collectstaticCommand, COLLECTSTATIC_HELP } from './collectstatic-command.js'
import type { Io } from './io.js'

/** The `stowage --help` text. */
export const HELP = `Usage: stowage <command> [options]

Commands:
  collectstatic   Collect static files into the "staticfiles" storage
  findstatic      Show where static files are found: stowage findstatic css/app.css
  check           Validate the configuration and probe every storage (--write, --json)
  clean-static    List (--delete: delete) hashed static files no recent deploy uses
  clean-media     List (--delete: delete) media files no record references

Run "stowage <command> --help" for a command's options.
`

/**
 * Runs `stowage` with `argv` (without the node and script paths).
 * @returns the exit code: 0 done, 1 failed, 2 usage error (no or unknown command included).
 *   `collectstatic`, `findstatic`, `clean-static` and `clean-media` write their failures to `io` (1)
 *   rather than throw; `check` puts the problems it finds in its report.
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'collectstatic':
      return collectstaticCommand(rest, io)
    case 'findstatic':
      return findstatic(rest, io)
    case 'check':
      return checkCommand(rest, io)
    case 'clean-static':
      return cleanStaticCommand(rest, io)
    case 'clean-media':
      return cleanMediaCommand(rest, io)
    case '--version':
    case '-V': {
      const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
      io.stdout.write(`${pkg.version}\n`)
      return 0
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout.write(HELP)
      return command === undefined ? 2 : 0
    default:
      io.stderr.write(`Unknown command '${command}'.\n\n${HELP}`)
      return 2
  }
}

/** `stowage findstatic`: no options but `--help`; the paths to look up. */
export const FINDSTATIC_COMMAND = defineCommand({
  name: 'findstatic',
  usage: 'PATH [PATH...]',
  about: `Shows every location providing each PATH, first the one used: where
collectstatic and serveStatic take it from.`,
  options: {},
  positionals: 'PATH',
})

/** `stowage findstatic PATH...`: every location providing each path, the one used first (Django's findstatic). */
async function findstatic(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(argv, io, FINDSTATIC_COMMAND)
  if (typeof parsed === 'number') return parsed
  if (parsed.positionals.length === 0) return usage(io, 'stowage findstatic: give at least one PATH to look up', FINDSTATIC_COMMAND.help)
  try {
    const config = await loadConfig({ cwd: io.cwd, env: io.env })
    const finders = findersFromConfig(config)
    let missing = 0
    for (const p of parsed.positionals) {
      const hits = await finders.findAll(p)
      if (hits.length === 0) {
        io.stderr.write(`No matching file found for '${p}'.\n`)
        missing++
      } else {
        io.stdout.write(`Found '${p}' here:\n${hits.map((h) => `  ${h.file}`).join('\n')}\n`)
      }
    }
    return missing ? 1 : 0
  } catch (err) {
    io.stderr.write(`${isStorageError(err) || err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
}

/** @returns the real process's streams, environment and, when stdin and stderr are terminals, a prompt. Never throws. */
export function processIo(): Io {
  const interactive = !!process.stdin.isTTY && !!process.stderr.isTTY
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    env: process.env,
    prompt: interactive
      ? async (question) => {
          const rl = createInterface({ input: process.stdin, output: process.stderr })
          try {
            return await rl.question(question)
          } finally {
            rl.close()
          }
        }
      : undefined,
  }
}

export { COLLECTSTATIC_HELP }
