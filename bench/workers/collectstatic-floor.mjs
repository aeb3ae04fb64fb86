/**
 * The floor for a fresh local collectstatic: the unavoidable work and nothing
 * else, with no Stowage code. Walks the source tree, reads each file once,
 * MD5s it, writes the copy, and (manifest mode) hard-links the hashed name
 * to it. Synchronous fs calls, no reference rewriting, no temporary files,
 * no manifest. Timed inside the process after start-up, as the other workers.
 *
 * Usage: node collectstatic-floor.mjs '{"source": DIR, "dest": DIR, "storage": "plain"|"manifest"}'
 * Prints one JSON line: {"times": {"fresh": s}, "files": n, "usage": {"cpuSeconds": s, "maxRssMB": n}}
 * ("usage": this whole process, start-up included, from `process.resourceUsage()`).
 */
import { createHash } from 'node:crypto'
import { linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const { source, dest, storage } = JSON.parse(process.argv[2])
const t0 = process.hrtime.bigint()
let files = 0
const walk = (rel) => {
  mkdirSync(join(dest, rel), { recursive: true })
  for (const e of readdirSync(join(source, rel), { withFileTypes: true })) {
    const name = rel ? `${rel}/${e.name}` : e.name
    if (e.isDirectory()) {
      walk(name)
      continue
    }
    const bytes = readFileSync(join(source, name))
    const md5 = createHash('md5').update(bytes).digest('hex').slice(0, 12)
    const target = join(dest, name)
    writeFileSync(target, bytes)
    if (storage !== 'plain') {
      const dot = target.lastIndexOf('.')
      linkSync(target, dot > target.lastIndexOf('/') ? `${target.slice(0, dot)}.${md5}${target.slice(dot)}` : `${target}.${md5}`)
    }
    files++
  }
}
walk('')
const fresh = Number(process.hrtime.bigint() - t0) / 1e9
const u = process.resourceUsage()
const usage = { cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMB: u.maxRSS / 1024 }
console.log(JSON.stringify({ times: { fresh }, files, usage }))
