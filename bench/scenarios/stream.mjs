/**
 * Scenario 4: one large stream (1 GiB; 128 MiB with --quick) saved and read
 * back on local disk and S3, each operation in its own process: throughput and peak RSS.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { rotate, runJson } from '../lib/measure.mjs'
import { deletePrefix } from '../lib/adapters.mjs'

const WORKER = new URL('../workers/stream.mjs', import.meta.url).pathname

export async function run({ quick, repeats, s3env, workDir, log }) {
  const size = (quick ? 128 : 1024) * 1024 * 1024
  const rows = []
  for (const backend of ['local', 's3']) {
    // A 1 GiB upload to the local S3 server takes tens of seconds per peer: one run there.
    const reps = Math.min(repeats, quick || backend === 's3' ? 1 : 2)
    const peers = ['stowage', 'raw', 'flydrive', 'flystorage']
    const res = {}
    const failed = new Set()
    for (let r = 0; r < reps; r++) {
      for (const peer of rotate(peers, r)) {
        log(`stream ${backend} ${size / 1048576} MiB repeat ${r + 1}/${reps}: ${peer}`)
        const tag = `st-${peer}-${r}-${Math.random().toString(36).slice(2, 6)}`
        const dir = backend === 'local' ? await mkdtemp(join(workDir, `${tag}-`)) : undefined
        const s3 = backend === 's3' ? { ...s3env, prefix: `${s3env.prefix}/${tag}` } : undefined
        try {
          const common = { peer, backend, size, dir, s3 }
          const saved = await runJson(process.execPath, [WORKER, JSON.stringify({ ...common, op: 'save' })])
          const read = await runJson(process.execPath, [WORKER, JSON.stringify({ ...common, op: 'read', name: saved.name })])
          ;(res[peer] ??= []).push({ save: saved.seconds, read: read.seconds, saveRss: saved.peakRssMB, readRss: read.peakRssMB })
        } catch (err) {
          // One peer failing (a bug or limit of that library) must not hide the others' numbers.
          log(`stream ${backend} ${peer} failed: ${err.message}`)
          failed.add(`${peer} failed: ${String(err.message).split('\n').find((l) => /Error|error:/.test(l))?.trim().slice(0, 120) ?? 'see log'}`)
        } finally {
          if (dir) await rm(dir, { recursive: true, force: true })
          if (s3) await deletePrefix(s3env, s3.prefix)
        }
      }
    }
    for (const op of ['save', 'read']) {
      rows.push({
        scenario: `stream (${backend === 's3' ? 'S3' : 'local'})`,
        case: `${op} ${size / 1048576} MiB`,
        caseId: `stream-${backend}-${op}`,
        work: { ops: 1, bytes: size },
        peers: Object.fromEntries(Object.entries(res).map(([p, runs]) => [p, runs.map((o) => o[op])])),
        // Each operation runs in its own process: this is its own peak.
        rss: Object.fromEntries(Object.entries(res).map(([p, runs]) => [p, Math.max(...runs.map((o) => o[`${op}Rss`]))])),
        notes: [...failed],
      })
    }
  }
  return rows
}
