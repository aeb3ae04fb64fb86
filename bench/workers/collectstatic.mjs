/**
 * Times Stowage's collectstatic in its own process, as the Django script does
 * for Django, so neither side profits from the other's warm caches or heap.
 *
 * Usage: node collectstatic.mjs JSON_ARGS
 *   {"source": DIR, "dest": DIR, "storage": "plain"|"manifest"|"manifest-compress", "runs": ["fresh","noop"], "s3": {...}}
 * Prints one JSON line: {"times": {"fresh": s, "noop": s}, "summaries": {...}, "bytes": {...}, "usage": {...}}
 * ("bytes", for manifest-compress: hashed files with variants, and the variants' sizes;
 * "usage": this whole process's CPU seconds, user + system of every thread, and
 * its peak RSS in MB, from `process.resourceUsage()`, start-up included).
 */
import { collectstatic, createFinders, ManifestStaticStorage } from '@stowage/static'

const args = JSON.parse(process.argv[2])

async function makeStorage() {
  let inner
  if (args.s3) {
    const { S3Storage } = await import('@stowage/s3')
    const { prefix, ...c } = args.s3
    inner = new S3Storage({ ...c, location: prefix, querystringAuth: false })
  } else {
    const { FileSystemStorage } = await import('@stowage/local')
    inner = new FileSystemStorage({ location: args.dest, baseUrl: '/static/' })
  }
  if (args.storage === 'plain') return inner
  return new ManifestStaticStorage({ storage: inner, staticUrl: '/static/', compress: args.storage === 'manifest-compress' })
}

/** Bytes of the hashed files that got compressed variants, and of those variants (local destinations only). */
async function variantBytes(dir) {
  const { readdir, stat } = await import('node:fs/promises')
  const { join } = await import('node:path')
  const bytes = { compressible: 0, br: 0, gzip: 0, variants: 0 }
  const sizes = new Map()
  const walk = async (d) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else sizes.set(p, (await stat(p)).size)
    }
  }
  await walk(dir)
  const counted = new Set()
  for (const [p, size] of sizes) {
    const m = /^(.*)\.(br|gz)$/.exec(p)
    if (!m || !sizes.has(m[1])) continue
    bytes[m[2] === 'br' ? 'br' : 'gzip'] += size
    bytes.variants++
    if (!counted.has(m[1])) {
      counted.add(m[1])
      bytes.compressible += sizes.get(m[1])
    }
  }
  return bytes
}

const times = {}
const summaries = {}
for (const run of args.runs ?? ['fresh']) {
  // A new storage object per run, as a new deploy process would have: no manifest cached in memory.
  const storage = await makeStorage()
  const t0 = process.hrtime.bigint()
  const summary = await collectstatic({ storage, finders: createFinders({ root: args.source, dirs: [args.source], packages: false }) })
  times[run] = Number(process.hrtime.bigint() - t0) / 1e9
  if (summary.errors.length) throw new Error(`collectstatic reported ${summary.errors.length} errors, first: ${summary.errors[0].message}`)
  summaries[run] = { copied: summary.copied, unmodified: summary.unmodified, postProcessed: summary.postProcessed, compressed: summary.compressed }
  storage.storage?.client?.destroy?.()
  storage.client?.destroy?.()
}
const bytes = args.storage === 'manifest-compress' && args.dest ? await variantBytes(args.dest) : undefined
const u = process.resourceUsage()
const usage = { cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMB: u.maxRSS / 1024 }
console.log(JSON.stringify({ times, summaries, bytes, usage }))
