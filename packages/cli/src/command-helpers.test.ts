import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHECK_COMMAND } from './check-command.js'
import { CLEAN_MEDIA_COMMAND } from './clean-media-command.js'
import { CLEAN_STATIC_COMMAND } from './clean-static-command.js'
import { COLLECTSTATIC_COMMAND } from './collectstatic-command.js'
import { CONFIG_OPTION, defineCommand, parseCommand, type CommandOptions } from './command-helpers.js'
import type { Io } from './io.js'
import { FINDSTATIC_COMMAND, main } from './main.js'

let project: string
beforeAll(async () => {
  project = await mkdtemp(path.join(tmpdir(), 'stowage-cli-args-'))
  // A project collectstatic could run in: a refused option must stop it before it writes.
  await writeFile(
    path.join(project, 'stowage.config.json'),
    JSON.stringify({
      storages: { staticfiles: { backend: 'local', options: { location: './staticfiles' } } },
      staticfiles: { dirs: ['static'], packages: false },
    }),
  )
})
afterAll(() => rm(project, { recursive: true, force: true }))

function io(): Io & { out: () => string; err: () => string } {
  let out = ''
  let err = ''
  return { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, cwd: project, env: {}, out: () => out, err: () => err }
}

const COMMANDS = [COLLECTSTATIC_COMMAND, CHECK_COMMAND, CLEAN_STATIC_COMMAND, CLEAN_MEDIA_COMMAND, FINDSTATIC_COMMAND]
const ALL_OPTIONS = new Set(COMMANDS.flatMap((c) => Object.keys(c.options)))

describe('stowage <command> option parsing', () => {
  it('refuses an unknown option by name, with the nearest one the command takes, and does nothing', async () => {
    const run = io()
    expect(await main(['collectstatic', '--no-input', '--dryrun'], run)).toBe(2)
    expect(run.err()).toMatch(/^stowage collectstatic: unknown option '--dryrun' \(did you mean '--dry-run'\?\)\n\nUsage: stowage collectstatic/)
    expect(run.out()).toBe('')
    await expect(access(path.join(project, 'staticfiles'))).rejects.toMatchObject({ code: 'ENOENT' })

    const keep = io()
    expect(await main(['clean-static', '--kep', '3'], keep)).toBe(2)
    expect(keep.err()).toContain("stowage clean-static: unknown option '--kep' (did you mean '--keep'?)")
    const failLevel = io()
    expect(await main(['check', '--faillevel', 'warning'], failLevel)).toBe(2)
    expect(failLevel.err()).toContain("stowage check: unknown option '--faillevel' (did you mean '--fail-level'?)")
  })

  it.each([
    ['collectstatic', '--no-input', '--concurrency', '0', "--concurrency must be a positive integer, got '0'"],
    ['clean-static', '--keep', '1.5', "--keep must be a positive integer, got '1.5'"],
    ['clean-media', '--references', 'x.mjs', '--min-age=-1', "--min-age must be a number of seconds, got '-1'"],
    ['clean-media', '--references', 'x.mjs', '--min-age', '', "--min-age must be a number of seconds, got ''"],
    ['check', '--fail-level', 'fatal', "--fail-level must be 'error' or 'warning', got 'fatal'"],
  ])('refuses a bad value the same way in every command: stowage %s %s …', async (...args) => {
    const message = args.pop()!
    const run = io()
    expect(await main(args, run)).toBe(2)
    expect(run.err().split('\n')[0]).toBe(`stowage ${args[0]}: ${message}`)
    expect(run.err()).toContain(`Usage: stowage ${args[0]}`)
    expect(run.out()).toBe('')
    await expect(access(path.join(project, 'staticfiles'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('suggests nothing when no option is near, or for an unknown short option', async () => {
    const far = io()
    expect(await main(['check', '--bogus'], far)).toBe(2)
    expect(far.err().split('\n')[0]).toBe("stowage check: unknown option '--bogus'")
    const short = io()
    expect(await main(['collectstatic', '-x'], short)).toBe(2)
    expect(short.err().split('\n')[0]).toBe("stowage collectstatic: unknown option '-x'")
  })

  it.each([
    ['collectstatic', ['--no-input']],
    ['check', []],
    ['findstatic', ['css/app.css']],
  ])('refuses --delete on %s, which deletes nothing, before doing anything', async (command, rest) => {
    const run = io()
    expect(await main([command, ...rest, '--delete'], run)).toBe(2)
    expect(run.err().split('\n')[0]).toBe(`stowage ${command}: unknown option '--delete'`)
    expect(run.out()).toBe('')
    // Nothing was collected.
    await expect(access(path.join(project, 'staticfiles'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s --help lists exactly the options it takes', async (name, command) => {
    const help = io()
    expect(await main([name, '--help'], help)).toBe(0)
    expect(help.out()).toBe(command.help)
    const declared = Object.keys(command.options)
    for (const option of ALL_OPTIONS) expect(help.out().includes(`--${option}`), `--${option} in the help of ${name}`).toBe(declared.includes(option))
    expect(help.out()).toContain('-h, --help')
    // Every option listed is accepted (help still wins, so nothing runs).
    for (const [option, spec] of Object.entries(command.options as CommandOptions)) {
      const argv = spec.type === 'string' ? [`--${option}`, 'x'] : [`--${option}`]
      expect(await main([name, ...argv, '--help'], io()), `${name} --${option}`).toBe(0)
    }
  })

  it('takes --delete where it means something', async () => {
    expect(Object.keys(CLEAN_STATIC_COMMAND.options)).toContain('delete')
    expect(Object.keys(CLEAN_MEDIA_COMMAND.options)).toContain('delete')
    const run = io()
    expect(await main(['clean-static', '--delete', '--json'], run)).toBe(1)
    // Parsed and run: the failure is cleanStatic's (no manifest storage configured), not the option's.
    expect(JSON.parse(run.out())).toMatchObject({ ok: false, error: { code: 'EINVAL', message: expect.stringContaining('ManifestStaticStorage') } })
    expect(run.err()).toBe('')
  })
})

describe('parseCommand', () => {
  const command = defineCommand({
    name: 'demo',
    usage: '[options] NAME...',
    about: 'A command for the test.',
    options: {
      tag: { type: 'string', short: 't', multiple: true, arg: 'TAG', help: 'A tag (repeatable)' },
      force: { type: 'boolean', help: 'Force it,\nreally' },
      ...CONFIG_OPTION,
    } satisfies CommandOptions,
    positionals: 'NAME',
    footer: 'Exit codes: 0 or 2.',
  })

  it('returns typed values and positionals', () => {
    const parsed = parseCommand(['-t', 'a', '--tag=b', '--force', 'one', '--config', 'c.json', 'two'], io(), command)
    expect(parsed).toEqual({ values: { tag: ['a', 'b'], force: true, config: 'c.json' }, positionals: ['one', 'two'] })
  })

  it('makes the help from the options, aligned, continuation lines indented', () => {
    expect(command.help).toBe(
      [
        'Usage: stowage demo [options] NAME...',
        '',
        'A command for the test.',
        '',
        'Options:',
        '  -t, --tag TAG      A tag (repeatable)',
        '      --force        Force it,',
        '                     really',
        '      --config FILE  Configuration file (default: stowage.config.* in the current directory)',
        '  -h, --help         Show this help',
        '',
        'Exit codes: 0 or 2.',
        '',
      ].join('\n'),
    )
  })

  it('answers a missing value, a value given to a flag and a stray argument with 2, naming the command', () => {
    for (const [argv, message] of [
      [['--config'], "stowage demo: Option '--config <value>' argument missing"],
      [['--force=yes'], "stowage demo: Option '--force' does not take an argument"],
    ] as const) {
      const run = io()
      expect(parseCommand([...argv], run, command)).toBe(2)
      expect(run.err().split('\n')[0]).toBe(message)
    }
    const noPositionals = defineCommand({ name: 'plain', usage: '', about: 'x', options: {} })
    const run = io()
    expect(parseCommand(['stray'], run, noPositionals)).toBe(2)
    expect(run.err()).toMatch(/^stowage plain: Unexpected argument 'stray'/)
  })
})
