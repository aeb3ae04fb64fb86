/**
 * Scenarios 1 and 2: collectstatic of a generated asset tree, Stowage against
 * Django (locally, StaticFilesStorage and ManifestStaticFilesStorage) and
 * django-storages (S3ManifestStaticStorage). Each repeat runs a fresh
 * collect into an empty destination, then the no-op re-run, each side in its
 * own process, timed inside that process after start-up.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { generateTree } from '../lib/generate-tree.mjs'
import { rotate, runJson } from '../lib/measure.mjs'
import { PYTHON } from '../lib/peers.mjs'
import { deletePrefix, s3Config } from '../lib/adapters.mjs'

const WORKER = new URL('../workers/collectstatic.mjs', import.meta.url).pathname
const DJANGO = new URL('../django/collectstatic.py', import.meta.url).pathname

export const TREES = {
  quick: [{ files: 2000, totalBytes: 50e6 }],
  s3quick: [{ files: 300, totalBytes: 7.5e6 }],
  full: [{ files: 2000, totalBytes: 50e6 }, { files: 20000, totalBytes: 200e6 }],
}

/** @returns rows for every tree × storage mode × (fresh, noop). */
export async function collectScenario({ target, quick, repeats, s3env, workDir, treesDir, log }) {
  // django-storages needs minutes for the 2,000-file tree on S3; --quick uses a small tree there.
  const trees = target === 's3' ? (quick ? TREES.s3quick : TREES.quick) : quick ? TREES.quick : TREES.full
  const modes = target === 's3' ? ['manifest'] : ['plain', 'manifest']
  const peerName = target === 's3' ? 'django-storages' : 'django'
  const rows = []
  for (const spec of trees) {
    log(`generating tree ${spec.files} files / ${spec.totalBytes / 1e6} MB`)
    const tree = await generateTree(join(treesDir, `tree-${spec.files}-${spec.totalBytes}`), spec)
    // Fewer repeats on the big tree keeps the full run near 15 minutes on 2 cores.
    const reps = spec.files > 5000 ? Math.min(repeats, 1) : repeats
    for (const mode of modes) {
      const runs = { fresh: {}, noop: {} }
      const failed = new Set()
      for (let r = 0; r < reps; r++) {
        // django-storages makes several requests per file and takes minutes per
        // run; one run of it is plenty against that scale of difference.
        const peers = target === 's3' && r > 0 ? ['stowage'] : rotate(['stowage', peerName], r)
        for (const peer of peers) {
          log(`collectstatic ${target} ${spec.files} ${mode} repeat ${r + 1}/${reps}: ${peer}`)
          const tag = `cs-${spec.files}-${mode}-${peer}-${r}-${Math.random().toString(36).slice(2, 6)}`
          const dest = target === 'local' ? await mkdtemp(join(workDir, `${tag}-`)) : undefined
          const prefix = target === 's3' ? `${s3env.prefix}/${tag}` : undefined
          const s3 = target === 's3' ? { ...s3Config(s3env), prefix } : undefined
          try {
            let res
            if (peer === 'stowage') {
              res = await runJson(process.execPath, [WORKER, JSON.stringify({ source: tree.dir, dest, storage: mode, runs: ['fresh', 'noop'], s3 })])
            } else {
              const py = s3 && { ...s3, accessKeyId: s3.credentials.accessKeyId, secretAccessKey: s3.credentials.secretAccessKey }
              res = await runJson(PYTHON, [DJANGO, JSON.stringify({ source: tree.dir, dest, storage: target === 's3' ? 's3-manifest' : mode, runs: ['fresh', 'noop'], s3: py })])
            }
            for (const run of ['fresh', 'noop']) (runs[run][peer] ??= []).push(res.times[run])
            log(`  fresh ${res.times.fresh.toFixed(2)} s, no-op ${res.times.noop.toFixed(2)} s`)
          } catch (err) {
            // One side failing must not hide the other's numbers.
            log(`collectstatic ${target} ${spec.files} ${mode} ${peer} failed: ${err.message}`)
            failed.add(`${peer} failed: ${String(err.message).trim().split('\n').pop().slice(0, 120)}`)
          } finally {
            if (dest) await rm(dest, { recursive: true, force: true })
            if (prefix) await deletePrefix(s3env, prefix)
          }
        }
      }
      for (const run of ['fresh', 'noop']) {
        rows.push({
          scenario: `collectstatic (${target === 's3' ? 'S3' : 'local'}, ${mode})`,
          case: `${spec.files.toLocaleString('en-US')} files / ${Math.round(tree.bytes / 1e6)} MB, ${run === 'fresh' ? 'fresh' : 'no-op re-run'}`,
          caseId: `collectstatic-${target}-${spec.files}-${mode}-${run}`,
          work: { ops: spec.files, bytes: tree.bytes, unit: 'files' },
          peers: runs[run],
          notes: [...failed],
        })
      }
    }
  }
  return rows
}
