/**
 * What the commands share: one option parser (each command declares its own
 * options, and its `--help` is made from the same declaration, so the help
 * lists exactly what is accepted), opening a configured storage, and
 * printing a failure as text or JSON.
 */
import { parseArgs } from 'node:util'
import { ConfigurationError, StorageRegistry, closest, isStorageError, loadConfig, type Storage, type StowageConfig } from '@stowage/core'
import type { Io } from './io.js'

/** One option a command takes, and its line in the help. */
export interface CommandOption {
  type: 'string' | 'boolean'
  /** A one-letter alias: `n` for `-n`. */
  short?: string
  /** A string option given more than once collects every value (`--ignore A --ignore B`). */
  multiple?: boolean
  /** The value's placeholder in the help (`FILE`); string options only. */
  arg?: string
  /** The help text; a second line, if any, is indented under the first. */
  help: string
  /**
   * Checks each value given (string options): returns what the value must
   * be (`'a positive integer'`) when it is not, for `parseCommand` to report
   * as a usage error. See `POSITIVE_INTEGER`, `SECONDS`, `oneOf`.
   */
  check?: (value: string) => string | undefined
}

/** A `check` for counts: whole numbers above zero. */
export const POSITIVE_INTEGER = (value: string): string | undefined => (Number.isInteger(Number(value)) && Number(value) > 0 ? undefined : 'a positive integer')

/** A `check` for durations: a number of seconds, zero or more. */
export const SECONDS = (value: string): string | undefined =>
  value.trim() !== '' && Number.isFinite(Number(value)) && Number(value) >= 0 ? undefined : 'a number of seconds'

/** @returns a `check` accepting only `choices`. */
export function oneOf(...choices: string[]): (value: string) => string | undefined {
  return (value) => (choices.includes(value) ? undefined : choices.map((c) => `'${c}'`).join(' or '))
}

/** A command's options by long name (`dry-run` for `--dry-run`). */
export type CommandOptions = Record<string, CommandOption>

/** What a command is: what `parseCommand` accepts and what its `--help` prints. */
export interface CommandSpec<O extends CommandOptions = CommandOptions> {
  /** The subcommand, `collectstatic`: named in messages as `stowage collectstatic`. */
  name: string
  /** The usage line after `stowage <name>`, e.g. `[options]`. */
  usage: string
  /** What the command does, printed under the usage line. */
  about: string
  /** Its options, in help order; `-h, --help` is added to every command. */
  options: O
  /** Positional arguments' placeholder in messages (`PATH`); absent: the command takes none. */
  positionals?: string
  /** Printed after the options (exit codes). */
  footer?: string
}

/** The `--config FILE` option, which every command reading the configuration file takes. */
export const CONFIG_OPTION = {
  config: { type: 'string', arg: 'FILE', help: 'Configuration file (default: stowage.config.* in the current directory)' },
} as const satisfies CommandOptions

/** The `--json` option of the commands that print a summary. */
export const JSON_OPTION = { json: { type: 'boolean', help: 'Print one JSON summary on stdout, nothing else' } } as const satisfies CommandOptions

const HELP_OPTION = { help: { type: 'boolean', short: 'h', help: 'Show this help' } } as const satisfies CommandOptions

type ValueOf<T extends CommandOption> = T['type'] extends 'string' ? (T['multiple'] extends true ? string[] : string) : boolean

/** Parsed options, typed from the command's declaration; absent when not given. */
export type OptionValues<O extends CommandOptions> = { [K in keyof O]?: ValueOf<O[K]> }

/** What `parseCommand` returns for a run that goes on. */
export interface ParsedCommand<O extends CommandOptions> {
  values: OptionValues<O>
  /** Positional arguments (only for commands declaring `positionals`). */
  positionals: string[]
}

/** A command as declared, with its help text. */
export interface Command<O extends CommandOptions> extends CommandSpec<O> {
  /** The `--help` text: usage, about, every option the command takes and nothing else. */
  readonly help: string
}

/** @returns the command with its help text made from its options. */
export function defineCommand<const O extends CommandOptions>(spec: CommandSpec<O>): Command<O> {
  return { ...spec, help: helpText(spec) }
}

/** Usage, about, the options in two columns (the second aligned), footer. */
function helpText(spec: CommandSpec): string {
  const rows = Object.entries({ ...spec.options, ...HELP_OPTION }).map(([name, o]: [string, CommandOption]) => ({
    flag: `${o.short ? `-${o.short}, ` : '    '}--${name}${o.arg ? ` ${o.arg}` : ''}`,
    help: o.help.split('\n'),
  }))
  const width = Math.max(...rows.map((r) => r.flag.length)) + 2
  const lines = rows.flatMap((r) => [`  ${r.flag.padEnd(width)}${r.help[0]}`, ...r.help.slice(1).map((h) => `  ${''.padEnd(width)}${h}`)])
  return `Usage: stowage ${spec.name} ${spec.usage}\n\n${spec.about.trim()}\n\nOptions:\n${lines.join('\n')}\n${spec.footer ? `\n${spec.footer.trim()}\n` : ''}`
}

/**
 * Parses `argv` with exactly the command's options (and `-h/--help`). An
 * option the command does not take is refused by name, with the nearest one
 * it does take (`--dryrun` → `--dry-run`), so `--delete` given to a command
 * that never deletes fails instead of being ignored.
 * @returns the values, or the exit code when the command is done (help printed: 0, usage error printed: 2).
 */
export function parseCommand<O extends CommandOptions>(argv: string[], io: Io, command: Command<O>): ParsedCommand<O> | number {
  const options: CommandOptions = { ...command.options, ...HELP_OPTION }
  // First pass, lenient, to see every option given, known or not, as Node's parser reads it.
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true })
  for (const t of tokens) {
    if (t.kind !== 'option' || Object.hasOwn(options, t.name)) continue
    return usage(io, unknownOption(command, t.rawName, t.name), command.help)
  }
  let parsed
  try {
    // Second pass, strict: values missing or given to a flag, stray arguments.
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: command.positionals !== undefined })
  } catch (err) {
    return usage(io, `stowage ${command.name}: ${(err as Error).message}`, command.help)
  }
  if (parsed.values.help) {
    io.stdout.write(command.help)
    return 0
  }
  for (const [name, option] of Object.entries(command.options)) {
    const given = parsed.values[name]
    const values: unknown[] = Array.isArray(given) ? given : [given]
    for (const value of values.filter((v): v is string => typeof v === 'string')) {
      const expected = option.check?.(value)
      if (expected !== undefined) return usage(io, `stowage ${command.name}: --${name} must be ${expected}, got '${value}'`, command.help)
    }
  }
  return { values: parsed.values as OptionValues<O>, positionals: parsed.positionals }
}

/** `stowage check: unknown option '--dryrun' (did you mean '--dry-run'?)`. */
function unknownOption(command: CommandSpec, rawName: string, name: string): string {
  const message = `stowage ${command.name}: unknown option '${rawName}'`
  // A short option is one letter: any other letter is as near, so none is suggested.
  if (!rawName.startsWith('--')) return message
  const near = closest(name, Object.keys(command.options))
  return near === undefined ? message : `${message} (did you mean '--${near}'?)`
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
      const error = isStorageError(err)
        ? { code: err.code, message: err.message }
        : { code: 'ERROR', message: err instanceof Error ? err.message : String(err) }
      io.stdout.write(`${JSON.stringify({ ok: false, error })}\n`)
    } else {
      io.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    }
    return 1
  }
}

/** @returns the configured storage `alias`. @throws ConfigurationError naming the key when it is not configured. */
export async function openStorage(io: Io, alias: string, file: string | undefined): Promise<Storage> {
  return (await openConfigured(io, alias, file)).storage
}

/**
 * Loads the configuration and opens the storage `alias` from it.
 * @returns both (a command may need the rest of the configuration too).
 * @throws ConfigurationError naming the key (with `missing` as its message) when `alias` is not configured.
 */
export async function openConfigured(
  io: Io,
  alias: string,
  file: string | undefined,
  missing = 'is not configured',
): Promise<{ config: StowageConfig; storage: Storage }> {
  const config = await loadConfig({ cwd: io.cwd, file, env: io.env })
  const registry = new StorageRegistry()
  await registry.configure(config)
  if (!registry.has(alias)) throw new ConfigurationError(missing, { key: `storages.${alias}` })
  return { config, storage: registry.get(alias) }
}
