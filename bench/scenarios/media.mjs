/**
 * Scenario 3: media saves and reads, many small files, fewer large ones, and
 * many saves of one name (collision handling), on local disk and S3. Every
 * peer runs the same cases at the same concurrency; the order of peers
 * rotates between repeats.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { localPeers, s3Peers, deletePrefix, s3Config } from '../lib/adapters.mjs'
import { collectGarbage, cpuSeconds, filler, pool, rotate, runJson } from '../lib/measure.mjs'
import { PYTHON } from '../lib/peers.mjs'

export function mediaCases(quick) {
  const k = quick ? 10 : 1
  return [
    { id: 'save-10k', op: 'save', count: 5000 / k, size: 10 * 1024, label: `save ${5000 / k} × 10 KB` },
    { id: 'read-10k', op: 'read', from: 'save-10k', count: 5000 / k, size: 10 * 1024, label: `read ${5000 / k} × 10 KB` },
    { id: 'save-1m', op: 'save', count: 200 / (quick ? 4 : 1), size: 1024 * 1024, label: `save ${200 / (quick ? 4 : 1)} × 1 MB` },
    { id: 'read-1m', op: 'read', from: 'save-1m', count: 200 / (quick ? 4 : 1), size: 1024 * 1024, label: `read ${200 / (quick ? 4 : 1)} × 1 MB` },
    { id: 'collide', op: 'collide', count: 5000 / k, size: 1024, label: `save same name × ${5000 / k}` },
  ]
}

/** @returns `{ [case id]: seconds, [case id + ':cpu']: CPU seconds of this process, thread pool included }`. */
async function runNodePeer(peer, cases, concurrency) {
  const out = {}
  const saved = {}
  const time = async (id, fn) => {
    // Collect the garbage of the cases before, so it is not billed to this one.
    collectGarbage()
    const t = await cpuSeconds(fn)
    out[id] = t.seconds
    out[`${id}:cpu`] = t.cpu
  }
  for (const c of cases) {
    if (c.op === 'save') {
      const data = filler(c.size, c.count)
      const names = []
      await time(c.id, () =>
        pool(c.count, concurrency, async (i) => {
          names[i] = await peer.save(`${c.id}-f-${i}.bin`, data)
        }),
      )
      saved[c.id] = names
    } else if (c.op === 'read') {
      let total = 0
      const names = saved[c.from]
      await time(c.id, () =>
        pool(names.length, concurrency, async (i) => {
          const b = await peer.read(names[i])
          total += b.length
        }),
      )
      if (total !== c.count * c.size) throw new Error(`read back ${total} bytes, expected ${c.count * c.size}`)
    } else if (c.op === 'collide') {
      if (!peer.collides) continue
      const data = filler(c.size, 3)
      const names = new Set()
      await time(c.id, () =>
        pool(c.count, concurrency, async () => {
          names.add(await peer.save(`${c.id}-upload.txt`, data))
        }),
      )
      if (names.size !== c.count) throw new Error(`collision case kept ${names.size} distinct names of ${c.count}`)
    }
  }
  return out
}

/**
 * @returns rows `{ scenario, case, peer, runs, work }` for one backend.
 */
export async function mediaScenario({ backend, quick, repeats, s3env, workDir, log, concurrency = 8 }) {
  const cases = mediaCases(quick)
  const peers = backend === 'local' ? localPeers : s3Peers
  const names = ['stowage', 'raw', 'flydrive', 'flystorage', 'django']
  const runs = {}
  const cpu = {}
  const failed = new Set()
  // One small untimed pass per Node peer first, so module loading and JIT
  // warm-up are not billed to whichever peer happens to run first.
  const warm = cases.map((c) => ({ ...c, count: Math.max(1, Math.ceil(c.count / 50)) }))
  for (const name of names.filter((n) => n !== 'django')) {
    const where = backend === 'local' ? await mkdtemp(join(workDir, `warm-${name}-`)) : `${s3env.prefix}/warm-${name}`
    const peer = backend === 'local' ? await peers[name](where) : await peers[name](s3env, where)
    peer.collides = name === 'stowage'
    await runNodePeer(peer, warm, concurrency)
    peer.close?.()
    if (backend === 'local') await rm(where, { recursive: true, force: true })
    else await deletePrefix(s3env, where)
  }
  // On S3 every case is bound by the server's request rate and one repeat of all
  // five systems takes minutes: two repeats keep the full run near 15 minutes.
  const reps = backend === 's3' ? Math.min(repeats, 2) : repeats
  for (let r = 0; r < reps; r++) {
    for (const name of rotate(names, r)) {
      const tag = `m${r}-${name}-${Math.random().toString(36).slice(2, 8)}`
      log(`media/${backend} repeat ${r + 1}/${reps}: ${name}`)
      const where = backend === 'local' ? await mkdtemp(join(workDir, `${tag}-`)) : `${s3env.prefix}/${tag}`
      try {
        let result
        if (name === 'django') {
          const s3 =
            backend === 's3'
              ? { ...s3Config(s3env), accessKeyId: s3env.S3_ACCESS_KEY_ID, secretAccessKey: s3env.S3_SECRET_ACCESS_KEY, prefix: where }
              : undefined
          result = await runJson(PYTHON, [
            new URL('../django/media.py', import.meta.url).pathname,
            JSON.stringify({ backend, location: where, s3, concurrency, cases }),
          ])
        } else {
          const peer = backend === 'local' ? await peers[name](where) : await peers[name](s3env, where)
          // Only Stowage and Django promise never to overwrite; the others replace the file.
          peer.collides = name === 'stowage'
          result = await runNodePeer(peer, cases, concurrency)
          peer.close?.()
        }
        for (const c of cases) {
          if (result[c.id] !== undefined) ((runs[c.id] ??= {})[name] ??= []).push(result[c.id])
          if (result[`${c.id}:cpu`] !== undefined) ((cpu[c.id] ??= {})[name] ??= []).push(result[`${c.id}:cpu`])
        }
      } catch (err) {
        // One peer failing (a bug or limit of that library) must not hide the others' numbers.
        log(`media/${backend} ${name} failed: ${err.stack ?? err}`)
        failed.add(
          `${name} failed: ${String(err.message ?? err)
            .split('\n')[0]
            .slice(0, 120)}`,
        )
      } finally {
        if (backend === 'local') await rm(where, { recursive: true, force: true })
        else await deletePrefix(s3env, where)
      }
    }
  }
  return cases.map((c) => ({
    scenario: `media (${backend})`,
    case: c.label,
    caseId: `media-${backend}-${c.id}`,
    work: { ops: c.count, bytes: c.count * c.size },
    peers: runs[c.id] ?? {},
    cpu: cpu[c.id] ?? {},
    notes: [...failed],
  }))
}
