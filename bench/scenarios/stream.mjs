/**
 * Scenario 4: one large stream (1 GiB; 128 MiB with --quick) saved and read
 * back on local disk and S3, each operation in its own process: throughput
 * and peak RSS, and the RSS of that process before its first byte (Node with
 * the system loaded), so what the transfer itself holds is visible.
 * `stream` runs both backends, `stream-s3` only S3.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { rotate, runJson } from '../lib/measure.mjs'
import { deletePrefix } from '../lib/adapters.mjs'

const WORKER = new URL('../workers/stream.mjs', import.meta.url).pathname

export const run = (ctx) => streamScenario({ ...ctx, backends: ['local', 's3'] })

/** @returns rows for the save and the read on each of `backends`. */
export async function streamScenario({ quick, repeats, s3env, workDir, log, backends }) {
  const size = (quick ? 128 : 1024) * 1024 * 1024
  const rows = []
  for (const backend of backends) {
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
          ;(res[peer] ??= []).push({
            save: saved.seconds,
            read: read.seconds,
            saveRss: saved.peakRssMB,
            readRss: read.peakRssMB,
            saveReady: saved.readyRssMB,
            readReady: read.readyRssMB,
          })
        } catch (err) {
          // One peer failing (a bug or limit of that library) must not hide the others' numbers.
          log(`stream ${backend} ${peer} failed: ${err.message}`)
          failed.add(
            `${peer} failed: ${
              String(err.message)
                .split('\n')
                .find((l) => /Error|error:/.test(l))
                ?.trim()
                .slice(0, 120) ?? 'see log'
            }`,
          )
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
        notes: [
          ...failed,
          `RSS before the first byte (Node with the system loaded), peak minus it: ${Object.entries(res)
            .map(([p, runs]) => {
              const ready = Math.max(...runs.map((o) => o[`${op}Ready`]))
              const peak = Math.max(...runs.map((o) => o[`${op}Rss`]))
              return `${p} ${ready.toFixed(0)} MB, +${(peak - ready).toFixed(0)} MB`
            })
            .join('; ')}`,
        ],
      })
    }
  }
  return rows
}
