/**
 * Every code block of the READMEs, run as a reader would run it: each `##`
 * section gets a fresh project directory where its `// name.ext` blocks are
 * written as files and its other blocks run in order in one bash session
 * (`ts`/`js` blocks with node, `sh` blocks as they are); `json` blocks are
 * parsed; every TypeScript block is type-checked in strict mode. A block
 * that is not run says why in the README (see `code-blocks.ts`), and this
 * test fails for any block that neither runs nor says so.
 *
 * The project sees the workspace's packages as an application sees installed
 * ones (`node_modules` is the repository's), on their TypeScript sources
 * (`--conditions=stowage-source` and tsx preloaded through NODE_OPTIONS), so
 * no build is needed. `npx` runs the project's installed binaries, as npx
 * does for installed packages, without npm's start-up or any network. Each
 * section runs in a network namespace of its own where the machine allows
 * it, so `app.listen(3000)` never meets another process's port 3000.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { extractBlocks, type CodeBlock } from './code-blocks.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const README_FILES = [
  'README.md',
  ...(await readdir(path.join(ROOT, 'packages'))).map((p) => `packages/${p}/README.md`).filter((f) => existsSync(path.join(ROOT, f))),
  'examples/profiles/README.md',
]
const RUNNABLE = new Set(['ts', 'js', 'mjs', 'sh', 'bash', 'json'])
/** What a section's output must show, beyond running without error. */
const EXPECTED: Record<string, RegExp[]> = {
  'README.md#Quick start': [
    /^\/media\/notes\/hello\.txt$/m,
    /^\/media\/notes\/hello\.txt\?expires=\d+&signature=[\w-]+$/m,
    /^Hello$/m,
    /write ok .*read ok .*delete ok/,
    /stowage\.W004: no staticfiles\.json/,
  ],
  'README.md#Configuration': [/^docs\/report\.pdf$/m],
  'README.md#Media uploads': [/"errors":\{"avatar":\["Choose an image to upload"\]\}/, /"url":"\/media\/avatars\/\d{4}\/\d{2}\/photo\.png"/],
  'README.md#Static files': [/href="\/static\/css\/app\.[0-9a-f]{12}\.css"/],
  'packages/static/README.md#': [/^\/static\/css\/app\.[0-9a-f]{12}\.css$/m],
}

const blocksByFile = new Map<string, CodeBlock[]>()
for (const file of README_FILES) blocksByFile.set(file, extractBlocks(await readFile(path.join(ROOT, file), 'utf8'), file))

const TSX = pathToFileURL(createRequire(path.join(ROOT, 'package.json')).resolve('tsx')).href
const NETNS = process.platform === 'linux' && spawnSync('unshare', ['--net', 'true']).status === 0
let work: string

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'stowage-doctest-'))
  // Bare imports from every section's directory end in the repository's node_modules.
  await symlink(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'), 'dir')
  await mkdir(path.join(work, 'bin'))
  await writeFile(
    path.join(work, 'bin', 'npx'),
    '#!/bin/sh\n# npx for the doc tests: runs what the project has installed, as npx does, with no network.\n' +
      'bin="./node_modules/.bin/$1"\n[ -x "$bin" ] || { echo "npx: $1 is not installed in $(pwd)" >&2; exit 127; }\nshift\nexec "$bin" "$@"\n',
  )
  await chmod(path.join(work, 'bin', 'npx'), 0o755)
})
afterAll(async () => {
  if (work && !process.env.DOCTEST_KEEP) await rm(work, { recursive: true, force: true })
})

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '') || 'top'

/** A fresh project directory for one section: package.json and the installed binaries, `stowage` included. */
async function projectDir(readme: string, section: string): Promise<string> {
  const dir = path.join(work, slug(readme), slug(section))
  const bin = path.join(dir, 'node_modules', '.bin')
  await mkdir(bin, { recursive: true })
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }))
  for (const name of await readdir(path.join(ROOT, 'node_modules', '.bin'))) await symlink(path.join(ROOT, 'node_modules', '.bin', name), path.join(bin, name))
  await writeFile(path.join(bin, 'stowage'), `#!/bin/sh\nexec node ${JSON.stringify(path.join(ROOT, 'packages/cli/src/bin.ts'))} "$@"\n`)
  await chmod(path.join(bin, 'stowage'), 0o755)
  return dir
}

/** The environment a reader's terminal would have: none of the test run's own variables. */
function readerEnv(dir: string): NodeJS.ProcessEnv {
  return {
    PATH: `${path.join(work, 'bin')}:${path.join(dir, 'node_modules', '.bin')}:${process.env.PATH}`,
    HOME: process.env.HOME,
    TMPDIR: tmpdir(),
    LANG: 'C.UTF-8',
    NODE_OPTIONS: `--conditions=stowage-source --import=${TSX}`,
  }
}

/**
 * Writes a section's files and runs its blocks in one bash session.
 * @returns the exit code and everything printed, with a `::: file:line` line before each block.
 */
async function runSection(readme: string, section: string, blocks: CodeBlock[]): Promise<{ code: number | null; output: string }> {
  const dir = await projectDir(readme, section)
  // On exit, stop what a block left running in the background (a server started with `&`), keeping the status.
  const script = ['set -eo pipefail', "trap 'status=$?; set +e; kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; exit $status' EXIT"]
  for (const b of blocks) {
    if (b.name) {
      await writeFile(path.join(dir, b.name), `${b.code}\n`)
      continue
    }
    script.push(`echo '::: ${b.file}:${b.line}'`)
    if (b.lang === 'sh' || b.lang === 'bash') script.push(b.code)
    else {
      const file = `snippet-${b.line}.${b.lang === 'ts' ? 'ts' : 'mjs'}`
      await writeFile(path.join(dir, file), `${b.code}\n`)
      script.push(`node ${file}`)
    }
  }
  await writeFile(path.join(dir, 'run.sh'), `${script.join('\n')}\n`)
  const [cmd, args] = NETNS ? ['unshare', ['--net', 'bash', '-c', 'ip link set lo up && exec bash run.sh']] : ['bash', ['run.sh']]
  const child = spawn(cmd, args as string[], { cwd: dir, env: readerEnv(dir), detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 100_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  try {
    process.kill(-child.pid!, 'SIGKILL') // anything a block left running
  } catch {
    // the group is gone already
  }
  return { code, output }
}

const isConfig = (name: string) => /^stowage\.config\.[cm]?[jt]s$/.test(name)

for (const [readme, blocks] of blocksByFile) {
  describe(readme, () => {
    it('every block runs here, is run by a named test, or says why not', async () => {
      const problems: string[] = []
      for (const b of blocks) {
        const at = `${b.file}:${b.line}`
        if (b.marker?.kind === 'elsewhere') {
          const test = path.join(ROOT, b.marker.path!)
          if (!existsSync(test)) problems.push(`${at}: ${b.marker.path} does not exist`)
          else if (!(await readFile(test, 'utf8')).includes(path.basename(readme))) problems.push(`${at}: ${b.marker.path} never reads ${readme}`)
        }
        if (b.marker) {
          if (b.marker.reason.trim().length < 10) problems.push(`${at}: say why the block is not run`)
          continue
        }
        if (!RUNNABLE.has(b.lang))
          problems.push(`${at}: a '${b.lang || 'plain'}' block cannot run: make it ts/js/sh/json, or mark it with *Not run by the doc tests: why.*`)
        if (b.name && !isConfig(b.name) && /\.[cm]?[jt]s$/.test(b.name)) {
          const runs = blocks.some(
            (o) => o.section === b.section && o.line > b.line && !o.marker && (o.lang === 'sh' || o.lang === 'bash') && o.code.includes(b.name!),
          )
          if (!runs) problems.push(`${at}: ${b.name} is written but no later sh block of "${b.section}" runs it`)
        }
      }
      expect(problems).toEqual([])
    })

    const json = blocks.filter((b) => b.lang === 'json' && !b.marker)
    if (json.length) {
      it('JSON blocks parse', () => {
        for (const b of json) expect(() => JSON.parse(b.code), `${b.file}:${b.line}`).not.toThrow()
      })
    }

    const sections = new Map<string, CodeBlock[]>()
    for (const b of blocks) if (!b.marker && b.lang !== 'json' && RUNNABLE.has(b.lang)) sections.set(b.section, [...(sections.get(b.section) ?? []), b])
    for (const [section, own] of sections) {
      if (own.every((b) => b.name)) continue // only files, used by nothing here: reported above
      it.concurrent(`"${section || '(top)'}" runs as written`, { timeout: 120_000 }, async () => {
        const { code, output } = await runSection(readme, section, own)
        expect(code, output).toBe(0)
        for (const pattern of EXPECTED[`${readme}#${section}`] ?? []) expect(output).toMatch(pattern)
      })
    }
  })
}

it('the Install section names every package of this repository, and nothing else', async () => {
  const install = blocksByFile.get('README.md')!.find((b) => b.section === 'Install' && b.lang === 'sh')
  expect(install?.marker?.kind).toBe('not-run')
  const named = new Set([...install!.code.matchAll(/@stowage\/[\w-]+/g)].map((m) => m[0]))
  const ours = new Set<string>()
  for (const dir of await readdir(path.join(ROOT, 'packages'))) {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as { name: string; private?: boolean }
    if (!pkg.private) ours.add(pkg.name)
  }
  expect([...named].sort()).toEqual([...ours].sort())
})

it('every TypeScript block type-checks in strict mode', { timeout: 120_000 }, async () => {
  const dir = path.join(work, 'typecheck')
  const files: string[] = []
  for (const blocks of blocksByFile.values()) {
    for (const b of blocks) {
      if (b.lang !== 'ts' || b.marker) continue
      // One directory per section, as the reader's project: its blocks import each other by name.
      const file = path.join(dir, slug(b.file), slug(b.section), b.name ?? `snippet-${b.line}.ts`)
      await mkdir(path.dirname(file), { recursive: true })
      await writeFile(file, `${b.code}\n`)
      files.push(path.relative(dir, file))
    }
  }
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(ROOT, 'tsconfig.base.json'),
      compilerOptions: { noEmit: true, declaration: false, declarationMap: false, sourceMap: false },
      files,
    }),
  )
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }))
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8' })
  // Report README lines, not temporary paths.
  const report = `${tsc.stdout}${tsc.stderr}`
  expect(report).toBe('')
  expect(tsc.status).toBe(0)
})
