#!/usr/bin/env node
/**
 * Stowage benchmark suite: measures Stowage beside the systems users would
 * pick instead, on the same work in the same run, and prints a Markdown table
 * of medians and ratios (also written to bench/results/latest.json and .md).
 *
 *   node bench/run.mjs [--quick] [--only a,b] [--repeats N] [--keep-s3]
 *
 * Scenarios: collectstatic-local, collectstatic-s3, media-local, media-s3,
 * stream, stream-s3, presign, images. Run through `npm run bench`, which builds first: this file
 * imports the built packages (`@stowage/*` → dist).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { cpus, totalmem, tmpdir, type as osType, release } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureNodePeers, ensurePythonPeers, ensureS3, peerVersions } from './lib/peers.mjs'
import { summarise, checkTargets, markdown } from './lib/report.mjs'

const BENCH = dirname(fileURLToPath(import.meta.url))
const ROOT = dirname(BENCH)
const SCENARIOS = ['collectstatic-local', 'compress', 'collectstatic-s3', 'media-local', 'media-s3', 'stream', 'stream-s3', 'presign', 'images']
const NEEDS_S3 = new Set(['collectstatic-s3', 'media-s3', 'stream', 'stream-s3', 'presign'])

function parseArgs(argv) {
  const opts = { quick: false, only: SCENARIOS, repeats: undefined, out: join(BENCH, 'results') }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      if (a.includes('=')) return a.slice(a.indexOf('=') + 1)
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--quick') opts.quick = true
    else if (a.startsWith('--only'))
      opts.only = value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    else if (a.startsWith('--repeats')) opts.repeats = Number(value())
    else if (a.startsWith('--out')) opts.out = value()
    else if (a === '--help' || a === '-h') {
      console.log(`usage: node bench/run.mjs [--quick] [--only ${SCENARIOS.join(',')}] [--repeats N] [--out DIR]`)
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  for (const s of opts.only) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}; choose from ${SCENARIOS.join(', ')}`)
  return opts
}

const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const repeats = opts.repeats ?? (opts.quick ? 1 : 3)
  const started = Date.now()

  ensureNodePeers(BENCH)
  ensurePythonPeers()
  let s3 = { env: undefined, stop: () => {} }
  if (opts.only.some((s) => NEEDS_S3.has(s))) s3 = ensureS3(ROOT)
  const runId = `bench-${new Date().toISOString().replace(/[:.]/g, '-')}-${Math.random().toString(36).slice(2, 6)}`
  const s3env = s3.env && { ...s3.env, prefix: runId }
  const workDir = join(tmpdir(), 'stowage-bench')
  await mkdir(workDir, { recursive: true })
  await mkdir(opts.out, { recursive: true })

  const ctx = { quick: opts.quick, repeats, s3env, workDir, log, treesDir: join(workDir, 'trees') }
  const rows = []
  for (const name of opts.only) {
    const t0 = Date.now()
    log(`scenario ${name}`)
    try {
      const mod = await import(`./scenarios/${name}.mjs`)
      rows.push(...(await mod.run(ctx)))
    } catch (err) {
      log(`scenario ${name} failed: ${err.stack ?? err}`)
      rows.push({ scenario: name, case: 'all', caseId: name, error: String(err.message ?? err), peers: {} })
    }
    log(`scenario ${name} took ${((Date.now() - t0) / 1000).toFixed(0)} s`)
    // Keep what is done so far: a long run cut short still leaves its numbers.
    await mkdir(opts.out, { recursive: true })
    await writeFile(join(opts.out, 'partial.json'), JSON.stringify({ rows: summarise(structuredClone(rows)) }, null, 2) + '\n')
  }
  s3.stop()

  summarise(rows)
  const targets = checkTargets(rows)
  const c = cpus()
  const meta = {
    date: new Date().toISOString(),
    quick: opts.quick,
    repeats,
    seconds: (Date.now() - started) / 1000,
    machine: {
      cpu: c[0]?.model ?? 'unknown',
      cores: c.length,
      memGiB: Math.round(totalmem() / 2 ** 30),
      os: `${osType()} ${release()}`,
      node: process.versions.node,
    },
    versions: peerVersions(BENCH),
    s3: s3env ? `${s3env.S3_ENDPOINT} (scripts/s3-server.sh: Ceph RGW, in-memory OSD, same machine)` : undefined,
  }
  const md = markdown(rows, targets, meta)
  console.log(md)
  await mkdir(opts.out, { recursive: true })
  const base = opts.quick ? 'latest-quick' : 'latest'
  await writeFile(join(opts.out, `${base}.json`), JSON.stringify({ meta, rows, targets }, null, 2) + '\n')
  await writeFile(join(opts.out, `${base}.md`), md + '\n')
  log(`wrote ${join(opts.out, base)}.json and .md in ${meta.seconds.toFixed(0)} s`)
  if (rows.some((r) => r.error)) process.exitCode = 1
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
