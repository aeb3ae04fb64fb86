/**
 * Scenarios 1 and 2: collectstatic of a generated asset tree.
 *
 * Local: Stowage against Django (StaticFilesStorage and
 * ManifestStaticFilesStorage), the copy floor (workers/collectstatic-floor.mjs:
 * read, MD5, write, link; no Stowage code) and, in plain mode, `cp -r`.
 * S3 (manifest only): Stowage against django-storages (S3ManifestStaticStorage)
 * and the raw SDK PUTting the same objects (workers/collectstatic-s3-raw.mjs).
 *
 * Every run of every system is a process of its own, so each row gets that
 * process's in-process time (after start-up), its whole-process wall time
 * (measured here, around the spawn), its CPU seconds and its peak RSS. Stowage
 * Django and the floor run, into one destination: a fresh collect, the no-op
 * re-run and (local) the re-run after one CSS file of the tree changed.
 * `cp -r` and the raw SDK run fresh only.
 *
 * Creating files is the noisy part on a shared machine: the same 4,000
 * creates take several times longer while the previous run's dirty pages
 * are being written back. So the previous destination is deleted and the
 * file system synced before every timed run.
 */
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateTree } from '../lib/generate-tree.mjs'
import { rotate, runJsonTimed, syncFs } from '../lib/measure.mjs'
import { PYTHON } from '../lib/peers.mjs'
import { deletePrefix, s3Config } from '../lib/adapters.mjs'

const WORKER = new URL('../workers/collectstatic.mjs', import.meta.url).pathname
const FLOOR = new URL('../workers/collectstatic-floor.mjs', import.meta.url).pathname
const RAW_S3 = new URL('../workers/collectstatic-s3-raw.mjs', import.meta.url).pathname
const DJANGO = new URL('../django/collectstatic.py', import.meta.url).pathname

export const TREES = {
  quick: [{ files: 2000, totalBytes: 50e6 }],
  s3quick: [{ files: 300, totalBytes: 7.5e6 }],
  full: [
    { files: 2000, totalBytes: 50e6 },
    { files: 20000, totalBytes: 200e6 },
  ],
}

const CASE_TEXT = { fresh: 'fresh', noop: 'no-op re-run', changed: 'one file changed' }

/** The rule appended to one CSS file for the "one file changed" case. */
const CHANGE = '\n.stowage-bench-one-file-changed { color: #123456; }\n'

/** @returns the first `.css` file of the tree (sorted walk, so the same one every run), relative to `root`. */
async function firstCss(root, rel = '') {
  const entries = (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))
  for (const e of entries) {
    const name = rel ? `${rel}/${e.name}` : e.name
    if (e.isFile() && e.name.endsWith('.css')) return name
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue
    const found = await firstCss(root, rel ? `${rel}/${e.name}` : e.name)
    if (found) return found
  }
  return undefined
}

/**
 * Appends a rule to one CSS file of the tree.
 * @returns a function that puts the file's bytes and times back, so the
 *   cached tree stays byte-identical for later runs.
 */
async function changeOneCss(root) {
  const name = await firstCss(root)
  if (!name) throw new Error(`no .css file under ${root}`)
  const path = join(root, name)
  let original = await readFile(path, 'utf8')
  // A run killed between the edit and its restore left the rule behind: drop it.
  if (original.endsWith(CHANGE)) original = original.slice(0, -CHANGE.length)
  const { atime, mtime } = await stat(path)
  await writeFile(path, original + CHANGE)
  return async () => {
    await writeFile(path, original)
    await utimes(path, atime, mtime)
  }
}

/** `cp -r` under `/usr/bin/time`, which reports its CPU seconds and peak RSS. */
async function copyTree(source, dest) {
  const { wallSeconds, stderr } = await runJsonTimed('/usr/bin/time', ['-f', 'bench-usage %U %S %M', 'cp', '-r', `${source}/.`, dest], { json: false })
  const line = stderr.trim().split('\n').pop() ?? ''
  const [tag, user, system, maxKiB] = line.split(' ')
  if (tag !== 'bench-usage') throw new Error(`/usr/bin/time printed no usage line: ${stderr.slice(-500)}`)
  return { wallSeconds, usage: { cpuSeconds: Number(user) + Number(system), maxRssMB: Number(maxKiB) / 1024 } }
}

/** @returns rows for every tree × storage mode × case (fresh, no-op, and locally one file changed). */
export async function collectScenario({ target, quick, repeats, s3env, workDir, treesDir, log }) {
  const local = target === 'local'
  // django-storages needs minutes for the 2,000-file tree on S3; --quick uses a small tree there.
  const trees = !local ? (quick ? TREES.s3quick : TREES.quick) : quick ? TREES.quick : TREES.full
  const modes = local ? ['plain', 'manifest'] : ['manifest']
  const cases = local ? ['fresh', 'noop', 'changed'] : ['fresh', 'noop']
  const django = local ? 'django' : 'django-storages'
  const rows = []
  for (const spec of trees) {
    log(`generating tree ${spec.files} files / ${spec.totalBytes / 1e6} MB`)
    const tree = await generateTree(join(treesDir, `tree-${spec.files}-${spec.totalBytes}`), spec)
    // One repeat on the big tree keeps the full run's time reasonable on 2 cores.
    const reps = spec.files > 5000 ? Math.min(repeats, 1) : repeats
    for (const mode of modes) {
      const systems = local ? ['stowage', django, 'floor', ...(mode === 'plain' ? ['cp'] : [])] : ['stowage', django, 'raw-sdk']
      // Per case: in-process seconds, whole-process seconds, CPU seconds, peak RSS (MB), per system.
      const data = Object.fromEntries(cases.map((c) => [c, { peers: {}, wall: {}, cpu: {}, rss: {} }]))
      const failed = new Set()
      for (let r = 0; r < reps; r++) {
        // django-storages makes several requests per file and takes minutes per
        // run; one run of it is plenty against that scale of difference.
        const order = rotate(systems, r).filter((p) => local || r === 0 || p !== django)
        for (const peer of order) {
          const tag = `cs-${spec.files}-${mode}-${peer}-${r}-${Math.random().toString(36).slice(2, 6)}`
          const dest = local ? await mkdtemp(join(workDir, `${tag}-`)) : undefined
          const prefix = local ? undefined : `${s3env.prefix}/${tag}`
          const s3 = local ? undefined : { ...s3Config(s3env), prefix }
          const own = peer === 'stowage' || peer === django || peer === 'floor' ? cases : ['fresh']
          try {
            for (const kase of own) {
              const restore = kase === 'changed' ? await changeOneCss(tree.dir) : undefined
              try {
                log(`collectstatic ${target} ${spec.files} ${mode} ${kase} repeat ${r + 1}/${reps}: ${peer}`)
                // The previous destination is gone by now; flush what it and this
                // destination's earlier runs left dirty, outside the timing.
                await syncFs()
                let res
                if (peer === 'cp') res = await copyTree(tree.dir, dest)
                else {
                  let cmd = process.execPath
                  let args
                  const job = { source: tree.dir, dest, storage: mode, runs: [kase] }
                  if (peer === 'stowage') args = [WORKER, JSON.stringify({ ...job, s3 })]
                  else if (peer === 'floor') args = [FLOOR, JSON.stringify(job)]
                  else if (peer === 'raw-sdk') args = [RAW_S3, JSON.stringify({ source: tree.dir, s3, concurrency: 32 })]
                  else {
                    cmd = PYTHON
                    const py = s3 && { ...s3, accessKeyId: s3.credentials.accessKeyId, secretAccessKey: s3.credentials.secretAccessKey }
                    args = [DJANGO, JSON.stringify({ ...job, storage: local ? mode : 's3-manifest', s3: py })]
                  }
                  const { result, wallSeconds } = await runJsonTimed(cmd, args)
                  res = { wallSeconds, usage: result.usage, seconds: result.times[kase], summary: result.summaries?.[kase] }
                }
                const d = data[kase]
                if (res.seconds !== undefined) (d.peers[peer] ??= []).push(res.seconds)
                ;(d.wall[peer] ??= []).push(res.wallSeconds)
                ;(d.cpu[peer] ??= []).push(res.usage.cpuSeconds)
                ;(d.rss[peer] ??= []).push(res.usage.maxRssMB)
                const copied = res.summary ? `, copied ${res.summary.copied}` : ''
                log(
                  `  ${res.seconds !== undefined ? `${res.seconds.toFixed(2)} s in process, ` : ''}${res.wallSeconds.toFixed(2)} s whole process, ${res.usage.cpuSeconds.toFixed(2)} CPU-s, ${res.usage.maxRssMB.toFixed(0)} MB peak RSS${copied}`,
                )
              } finally {
                await restore?.()
              }
            }
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
      for (const kase of cases) {
        const d = data[kase]
        rows.push({
          scenario: `collectstatic (${local ? 'local' : 'S3'}, ${mode})`,
          case: `${spec.files.toLocaleString('en-US')} files / ${Math.round(tree.bytes / 1e6)} MB, ${CASE_TEXT[kase]}`,
          caseId: `collectstatic-${target}-${spec.files}-${mode}-${kase}`,
          work: { ops: spec.files, bytes: tree.bytes, unit: 'files' },
          peers: d.peers,
          wall: d.wall,
          cpu: d.cpu,
          // The highest peak of the system's runs: the memory a deploy must have.
          rss: Object.fromEntries(Object.entries(d.rss).map(([p, v]) => [p, Math.max(...v)])),
          notes: [...failed],
        })
      }
    }
  }
  return rows
}
