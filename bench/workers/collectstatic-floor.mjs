/**
 * The floor for a local collectstatic: the unavoidable work and nothing else,
 * with no Stowage code. Synchronous fs calls, no reference rewriting, no
 * temporary files. Timed inside the process after start-up, as the other workers.
 *
 * - `fresh`: walks the source tree, reads each file once, MD5s it, writes the
 *   copy and (manifest mode) hard-links the hashed name to it; then writes
 *   what a re-run needs: an index (name → size, mtime, hashed name) and, in
 *   manifest mode, the manifest (name → hashed name).
 * - `noop` and `changed` (a re-run into the same destination): reads the
 *   index, walks and stats the tree, and does the fresh work for the files
 *   whose size or mtime changed; when any did, writes the index and the
 *   manifest again. That is the least a re-run can do: it cannot know which
 *   file changed without a stat of each.
 *
 * Usage: node collectstatic-floor.mjs '{"source": DIR, "dest": DIR, "storage": "plain"|"manifest", "runs": ["fresh"|"noop"|"changed"]}'
 * Prints one JSON line: {"times": {"<run>": s}, "files": n, "usage": {"cpuSeconds": s, "maxRssMB": n}}
 * ("files": those copied; "usage": this whole process, start-up included, from `process.resourceUsage()`).
 */
import { createHash } from 'node:crypto'
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const { source, dest, storage, runs = ['fresh'] } = JSON.parse(process.argv[2])
const [run] = runs
const INDEX = join(dest, '.floor-index.json')
const t0 = process.hrtime.bigint()
/** name → [size, mtimeMs, hashed name] */
const index = run === 'fresh' ? {} : JSON.parse(readFileSync(INDEX, 'latin1'))
let files = 0
const copy = (name, size, mtimeMs) => {
  const bytes = readFileSync(join(source, name))
  const md5 = createHash('md5').update(bytes).digest('hex').slice(0, 12)
  const target = join(dest, name)
  // A new file, as a collect makes: writing through a re-run's old copy would rewrite its hashed name too (a hard link).
  if (run !== 'fresh') rmSync(target, { force: true })
  writeFileSync(target, bytes)
  let hashed = name
  if (storage !== 'plain') {
    const slash = name.lastIndexOf('/')
    const dot = name.lastIndexOf('.')
    hashed = dot > slash ? `${name.slice(0, dot)}.${md5}${name.slice(dot)}` : `${name}.${md5}`
    if (run !== 'fresh') rmSync(join(dest, hashed), { force: true })
    linkSync(target, join(dest, hashed))
  }
  index[name] = [size, mtimeMs, hashed]
  files++
}
const walk = (rel) => {
  if (run === 'fresh') mkdirSync(join(dest, rel), { recursive: true })
  for (const e of readdirSync(join(source, rel), { withFileTypes: true })) {
    const name = rel ? `${rel}/${e.name}` : e.name
    if (e.isDirectory()) {
      walk(name)
      continue
    }
    const { size, mtimeMs } = statSync(join(source, name))
    const known = index[name]
    if (!known || known[0] !== size || known[1] !== mtimeMs) copy(name, size, mtimeMs)
  }
}
walk('')
if (files) {
  writeFileSync(INDEX, JSON.stringify(index))
  if (storage !== 'plain') {
    const paths = {}
    for (const name of Object.keys(index).sort()) paths[name] = index[name][2]
    writeFileSync(join(dest, 'staticfiles.json'), JSON.stringify({ paths, version: '1.1' }))
  }
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
const u = process.resourceUsage()
const usage = { cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMB: u.maxRSS / 1024 }
console.log(JSON.stringify({ times: { [run]: seconds }, files, usage }))
