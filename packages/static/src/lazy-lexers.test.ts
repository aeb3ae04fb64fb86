import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const INDEX = fileURLToPath(new URL('./index.ts', import.meta.url))
// What a process has loaded is only visible from a fresh one: the test
// workers share their module cache between files. The lexers are required
// (CommonJS), so the require cache shows them once loaded; `after` proves
// the check would see them.
const SCRIPT = `
  import { createRequire } from 'node:module'
  const { findReferences } = await import(${JSON.stringify(INDEX)})
  const cache = createRequire(import.meta.url).cache
  const loaded = () => ['/acorn/', '/css-tree/', '/es-module-lexer/'].filter((lib) => Object.keys(cache).some((f) => f.includes(lib)))
  const atStart = loaded()
  findReferences('css', '.a { background: url(a.png) }')
  findReferences('js', "import 'b.js'; const u = new URL('c.png', import.meta.url)")
  console.log(JSON.stringify({ atStart, after: loaded() }))
`

describe('@stowage/static module loading', () => {
  it('loads the CSS and JS lexers on the first stylesheet or script, not at import (about 30 ms of start-up)', async () => {
    const { stdout } = await run(process.execPath, ['--conditions=stowage-source', '--import', 'tsx', '--input-type=module', '-e', SCRIPT])
    expect(JSON.parse(stdout)).toEqual({ atStart: [], after: ['/acorn/', '/css-tree/', '/es-module-lexer/'] })
  })
})
