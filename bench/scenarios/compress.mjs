/**
 * Precompression: collectstatic of the 2,000-file tree into a local
 * directory with a `ManifestStaticStorage` that writes `.br`/`.gz` beside
 * each compressible hashed file, against the same run without compression,
 * each in its own process (fresh, then the no-op re-run). Reports the time
 * compression adds and the bytes it saves.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { generateTree } from '../lib/generate-tree.mjs'
import { rotate, runJson } from '../lib/measure.mjs'
import { TREES } from './collectstatic.mjs'

const WORKER = new URL('../workers/collectstatic.mjs', import.meta.url).pathname
const WITHOUT = 'same, without compression'
const MB = (n) => `${(n / 1e6).toFixed(1)} MB`
const pct = (part, whole) => `${Math.round((1 - part / whole) * 100)} % smaller`

/** @returns rows for (fresh, noop) with compression, and the same without as the peer. */
export async function run({ repeats, workDir, treesDir, log }) {
  const spec = TREES.quick[0]
  const tree = await generateTree(join(treesDir, `tree-${spec.files}-${spec.totalBytes}`), spec)
  const runs = { fresh: { stowage: [], [WITHOUT]: [] }, noop: { stowage: [], [WITHOUT]: [] } }
  let bytes
  for (let r = 0; r < repeats; r++) {
    for (const mode of rotate(['manifest-compress', 'manifest'], r)) {
      const dest = await mkdtemp(join(workDir, `compress-${mode}-`))
      try {
        log(`compress ${spec.files} ${mode} repeat ${r + 1}/${repeats}`)
        const res = await runJson(process.execPath, [WORKER, JSON.stringify({ source: tree.dir, dest, storage: mode, runs: ['fresh', 'noop'] })])
        const peer = mode === 'manifest' ? WITHOUT : 'stowage'
        for (const k of ['fresh', 'noop']) runs[k][peer].push(res.times[k])
        bytes ??= res.bytes
      } finally {
        await rm(dest, { recursive: true, force: true })
      }
    }
  }
  const notes = bytes
    ? [
        `${bytes.variants} variants: ${MB(bytes.compressible)} of compressible hashed files → br ${MB(bytes.br)} (${pct(bytes.br, bytes.compressible)}), gzip ${MB(bytes.gzip)} (${pct(bytes.gzip, bytes.compressible)})`,
      ]
    : []
  return ['fresh', 'noop'].map((k) => ({
    scenario: 'collectstatic (local, manifest + compress)',
    case: `${spec.files.toLocaleString('en-US')} files / ${Math.round(tree.bytes / 1e6)} MB, ${k === 'fresh' ? 'fresh' : 'no-op re-run'}`,
    caseId: `compress-local-${spec.files}-${k}`,
    work: { ops: spec.files, bytes: tree.bytes, unit: 'files' },
    peers: runs[k],
    bytes,
    notes: k === 'fresh' ? notes : [],
  }))
}
