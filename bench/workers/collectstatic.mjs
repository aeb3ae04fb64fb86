/**
 * Times Stowage's collectstatic in its own process, as the Django script does
 * for Django, so neither side profits from the other's warm caches or heap.
 *
 * Usage: node collectstatic.mjs JSON_ARGS
 *   {"source": DIR, "dest": DIR, "storage": "plain"|"manifest", "runs": ["fresh","noop"], "s3": {...}}
 * Prints one JSON line: {"times": {"fresh": s, "noop": s}, "summaries": {...}}.
 */
import { collectstatic, ManifestStaticStorage } from '@stowage/static'

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
  return args.storage === 'plain' ? inner : new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' })
}

const times = {}
const summaries = {}
for (const run of args.runs ?? ['fresh']) {
  // A new storage object per run, as a new deploy process would have: no manifest cached in memory.
  const storage = await makeStorage()
  const t0 = process.hrtime.bigint()
  const summary = await collectstatic({ storage, dirs: [args.source], root: args.source, packages: false })
  times[run] = Number(process.hrtime.bigint() - t0) / 1e9
  if (summary.errors.length) throw new Error(`collectstatic reported ${summary.errors.length} errors, first: ${summary.errors[0].message}`)
  summaries[run] = { copied: summary.copied, unmodified: summary.unmodified, postProcessed: summary.postProcessed }
  storage.storage?.client?.destroy?.()
  storage.client?.destroy?.()
}
console.log(JSON.stringify({ times, summaries }))
